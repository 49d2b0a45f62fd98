//! `/networks/...`: bridge networks with doca's IPAM, as `doca network` manages them.

use super::Ctx;
use crate::http::{self, json, ApiError, ApiResult};
use doca_engine::networks::{ConnectNetwork, CreateNetwork, NetworkFilter};
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::json as j;
use std::collections::BTreeMap;

pub async fn list(ctx: Ctx) -> ApiResult {
    let filters = ctx.query.filters()?.iter().map(|f| NetworkFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
    let nets = ctx.state.engine(move |e| e.list_networks(&filters)).await?;
    let list: Vec<_> = nets.iter().map(|n| n.resource(BTreeMap::new())).collect();
    Ok(json(StatusCode::OK, &list))
}

pub async fn inspect(ctx: Ctx, id: String) -> ApiResult {
    let n = ctx.state.engine(move |e| e.inspect_network(&id)).await?;
    Ok(json(StatusCode::OK, &n))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct IpamConfigBody {
    subnet: String,
    #[serde(rename = "IPRange")]
    ip_range: String,
    gateway: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct IpamBody {
    driver: String,
    config: Vec<IpamConfigBody>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    internal: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM")]
    ipam: Option<IpamBody>,
    options: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
}

/// At most one subnet of each family: what doca's networks hold.
fn one<'a>(list: impl Iterator<Item = &'a str>, what: &str) -> ApiResult<Option<String>> {
    let v: Vec<&str> = list.filter(|s| !s.is_empty()).collect();
    match v.as_slice() {
        [] => Ok(None),
        [x] => Ok(Some((*x).to_string())),
        _ => Err(ApiError::bad_request(format!("{what}: doca's networks have one subnet of each family"))),
    }
}

pub async fn create(ctx: Ctx) -> ApiResult {
    let Ctx { state, req, .. } = ctx;
    let b: CreateBody = http::read_json(req.into_body()).await?;
    if b.name.is_empty() {
        return Err(ApiError::bad_request("network name is required"));
    }
    let ipam = b.ipam.unwrap_or_default();
    if !ipam.driver.is_empty() && ipam.driver != "default" {
        return Err(ApiError::bad_request(format!("IPAM driver {:?} is not supported: doca has its own (\"default\")", ipam.driver)));
    }
    let (v6, v4): (Vec<&IpamConfigBody>, Vec<&IpamConfigBody>) = ipam.config.iter().partition(|c| c.subnet.contains(':'));
    let req = CreateNetwork {
        name: b.name,
        driver: (!b.driver.is_empty()).then_some(b.driver),
        subnet: one(v4.iter().map(|c| c.subnet.as_str()), "IPAM.Config")?,
        gateway: one(v4.iter().map(|c| c.gateway.as_str()), "IPAM.Config")?,
        ip_range: one(v4.iter().map(|c| c.ip_range.as_str()), "IPAM.Config")?,
        internal: b.internal,
        labels: b.labels,
        options: b.options,
        ipv6: b.enable_ipv6.unwrap_or(false),
        subnet6: one(v6.iter().map(|c| c.subnet.as_str()), "IPAM.Config")?,
        gateway6: one(v6.iter().map(|c| c.gateway.as_str()), "IPAM.Config")?,
    };
    let n = state.engine(move |e| e.create_network(&req)).await?;
    Ok(json(StatusCode::CREATED, &j!({ "Id": n.id, "Warning": "" })))
}

pub async fn remove(ctx: Ctx, id: String) -> ApiResult {
    ctx.state.engine(move |e| e.remove_network(&id)).await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

pub async fn prune(ctx: Ctx) -> ApiResult {
    let filters = doca_engine::prune::PruneFilters::from_args(&ctx.query.filters()?)?;
    let names = ctx.state.engine(move |e| e.prune_networks(&filters)).await?;
    Ok(json(StatusCode::OK, &j!({ "NetworksDeleted": if names.is_empty() { serde_json::Value::Null } else { j!(names) } })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectBody {
    container: String,
    endpoint_config: Option<EndpointBody>,
    force: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct EndpointBody {
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<IpamAddress>,
    aliases: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IpamAddress {
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
}

pub async fn connect(ctx: Ctx, id: String) -> ApiResult {
    let Ctx { state, req, .. } = ctx;
    let b: ConnectBody = http::read_json(req.into_body()).await?;
    let ep = b.endpoint_config.unwrap_or_default();
    let ip = match ep.ipam_config.map(|i| i.ipv4_address).filter(|a| !a.is_empty()) {
        Some(a) => Some(a.parse().map_err(|_| ApiError::bad_request(format!("invalid IPv4 address: {a}")))?),
        None => None,
    };
    let req = ConnectNetwork { network: id, container: b.container, ip, aliases: ep.aliases };
    state.engine(move |e| e.connect_network(&req)).await?;
    Ok(http::empty(StatusCode::OK))
}

pub async fn disconnect(ctx: Ctx, id: String) -> ApiResult {
    let Ctx { state, req, .. } = ctx;
    let b: ConnectBody = http::read_json(req.into_body()).await?;
    state.engine(move |e| e.disconnect_network(&id, &b.container, b.force)).await?;
    Ok(http::empty(StatusCode::OK))
}

//! HEALTHCHECK: the image's, changed by `--health-*` or turned off by `--no-healthcheck`, run
//! by the container's monitor; its Health object is read back for `inspect` and `ps`.

use super::config::CreateContainer;
pub use super::config::HealthSpec;
use doca_image::config::ContainerConfig;
use std::time::Duration;

/// docker's defaults (api/types/container HealthConfig).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;

/// The check that runs: the argv in the container and the timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
}

fn ns(v: &serde_json::Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// The image's Healthcheck merged under the container's, as docker merges them at create.
pub fn effective(image: &ContainerConfig, req: &CreateContainer) -> Option<Check> {
    let img = image.healthcheck.clone().unwrap_or(serde_json::Value::Null);
    let own = req.healthcheck.clone().unwrap_or_default();
    let test: Vec<String> = own.test.clone().or_else(|| serde_json::from_value(img["Test"].clone()).ok()).unwrap_or_default();
    let argv = match test.first().map(String::as_str) {
        Some("CMD") => test[1..].to_vec(),
        Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
        _ => return None,
    };
    if argv.is_empty() {
        return None;
    }
    let pick = |mine: i64, theirs: i64, default: Duration| {
        let v = if mine > 0 { mine } else { theirs };
        if v > 0 {
            Duration::from_nanos(v as u64)
        } else {
            default
        }
    };
    Some(Check {
        argv,
        interval: pick(own.interval_ns, ns(&img["Interval"]), DEFAULT_INTERVAL),
        timeout: pick(own.timeout_ns, ns(&img["Timeout"]), DEFAULT_TIMEOUT),
        start_period: pick(own.start_period_ns, ns(&img["StartPeriod"]), Duration::ZERO),
        retries: if own.retries > 0 {
            own.retries
        } else {
            img["Retries"].as_u64().filter(|r| *r > 0).map(|r| r as u32).unwrap_or(DEFAULT_RETRIES)
        },
    })
}

/// Config.Healthcheck as docker keeps it (daemon/commit.go merge): the container's fields
/// over the image's, unset ones left out (HealthConfig's omitempty), not the defaults.
pub fn config_json(image: &ContainerConfig, req: &CreateContainer) -> Option<serde_json::Value> {
    let mut out = match &image.healthcheck {
        Some(serde_json::Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let own = req.healthcheck.as_ref();
    if own.is_none() && out.is_empty() {
        return None;
    }
    if let Some(own) = own {
        if let Some(t) = &own.test {
            out.insert("Test".into(), t.clone().into());
        }
        for (k, v) in [("Interval", own.interval_ns), ("Timeout", own.timeout_ns), ("StartPeriod", own.start_period_ns)] {
            if v > 0 {
                out.insert(k.into(), v.into());
            }
        }
        if own.retries > 0 {
            out.insert("Retries".into(), own.retries.into());
        }
    }
    Some(serde_json::Value::Object(out))
}

impl crate::Engine {
    /// The Health object the monitor keeps, if the container has a check that has started.
    pub fn container_health(&self, c: &super::Container) -> Option<doca_shim::health::Health> {
        serde_json::from_slice(&std::fs::read(self.container_paths(&c.id).health()).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_options_override_the_images() {
        let image = ContainerConfig {
            healthcheck: Some(serde_json::json!({"Test": ["CMD", "check", "--quick"], "Interval": 5_000_000_000i64, "Retries": 7})),
            ..Default::default()
        };
        let c = effective(&image, &CreateContainer::default()).unwrap();
        assert_eq!(c.argv, ["check", "--quick"]);
        assert_eq!((c.interval, c.timeout, c.retries), (Duration::from_secs(5), DEFAULT_TIMEOUT, 7));
        let req = CreateContainer {
            healthcheck: Some(HealthSpec {
                test: Some(vec!["CMD-SHELL".into(), "curl -f localhost".into()]),
                interval_ns: 1_000_000_000,
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = effective(&image, &req).unwrap();
        assert_eq!(c.argv, ["/bin/sh", "-c", "curl -f localhost"]);
        assert_eq!((c.interval, c.retries), (Duration::from_secs(1), 7));
        let off = CreateContainer {
            healthcheck: Some(HealthSpec { test: Some(vec!["NONE".into()]), ..Default::default() }),
            ..Default::default()
        };
        assert!(effective(&image, &off).is_none());
        assert!(effective(&ContainerConfig::default(), &CreateContainer::default()).is_none());
    }
}

//! doca's networks below the engine: address management, port specs, the nftables table,
//! rtnetlink links and network namespaces. The engine keeps the records; this crate turns them
//! into kernel state.

#![forbid(unsafe_code)]

pub mod dns;
pub mod ipam;
pub mod link;
pub mod netns;
pub mod nft;
pub mod ports;

pub use ipam::Subnet;
pub use ports::{Port, PortBinding, Proto};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{0}")]
    Invalid(String),
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("{}", .0.desc().to_lowercase())]
    Errno(nix::errno::Errno),
    #[error("network namespace: {0}")]
    Netns(String),
    #[error("firewall: {0}")]
    Firewall(String),
}

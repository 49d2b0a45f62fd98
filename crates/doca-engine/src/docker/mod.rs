//! Docker's JSON shapes (moby's api/types, Engine API v1.41), as types: what `inspect` prints,
//! what `--format` templates walk and what the API server sends, serialized in one place with
//! docker's field names, field order, omitted-when-empty fields and nulls. Engine code fills
//! them from its records; nothing else builds docker JSON by hand.

mod config;
mod container;
mod image;
mod network;
mod stats;
mod summary;
mod units;

pub use config::Config;
pub use container::{
    ContainerJson, ContainerState, DeviceMapping, EndpointSettings, GraphDriver, HostConfig, LogConfig, MountPoint, NetworkSettings,
    PortBinding, PortMap, RestartPolicy, Ulimit,
};
pub use image::{ImageInspect, ImageMetadata, RootFs};
pub use network::{ConfigReference, EndpointResource, Ipam, IpamConfig, NetworkResource, VolumeResource};
pub use stats::{BlkioStatEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, PidsStats, Stats, StorageStats, ThrottlingData};
pub use summary::{ContainerSummary, ImageSummary, SummaryHostConfig, SummaryNetworkSettings, SummaryPort};
pub use units::{bytes_size, human_duration, human_size, human_size_prec};

/// Go's `nil` slice and map: JSON null when empty, as docker prints unset lists.
pub(crate) fn nil_if_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// The same for a map.
pub(crate) fn nil_if_none<K, V>(m: std::collections::BTreeMap<K, V>) -> Option<std::collections::BTreeMap<K, V>> {
    (!m.is_empty()).then_some(m)
}

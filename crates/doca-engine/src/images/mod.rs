//! Image operations: one file per operation.

mod archive;
mod filter;
mod history;
mod inspect;
mod list;
mod login;
mod prune;
pub mod pull;
pub mod push;
mod remove;
mod resolve;
pub(crate) mod tag;

pub use crate::docker::ImageInspect;
pub use archive::{ImportImage, LoadImages, SaveImages};
pub use filter::ImageFilter;
pub use history::HistoryEntry;
pub use list::{ImageSummary, ListImages};
pub use login::RemoteManifest;
pub use prune::{PruneImages, PruneReport};
pub use pull::{PullImage, PullProgress, PullResult, RegistryAuth};
pub use push::{PushImage, PushProgress, PushResult};
pub use remove::{RemoveEvent, RemoveImage};
pub use resolve::Resolved;

//! The attack suite: every way out of a container that an attack on doca found, performed
//! for real as root against real containers, as a hostile container and a hostile local user
//! would. Each test does the attack and then checks that the host is untouched (the runtime
//! binary's digest, host files, sysctls, what a host service received), not merely that a
//! command failed. One module per class; ARCHITECTURE.md's threat model says which mechanism
//! each test holds in place.

mod common;
mod network;
mod paths;
mod runtime_overwrite;
mod store;
mod sysctls;
mod tty;
mod volumes;

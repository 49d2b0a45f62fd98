//! The devices every container gets (runtime spec config-linux.md "Default Devices"), shared
//! by the init (which makes the nodes) and the cgroup setup (which allows them).

pub struct Device {
    pub path: &'static str,
    pub major: u32,
    pub minor: u32,
}

/// The runtime spec's default devices (config-linux.md "Default Devices"), all character
/// devices, mode 0666.
pub const DEFAULT_DEVICES: [Device; 6] = [
    Device { path: "/dev/null", major: 1, minor: 3 },
    Device { path: "/dev/zero", major: 1, minor: 5 },
    Device { path: "/dev/full", major: 1, minor: 7 },
    Device { path: "/dev/random", major: 1, minor: 8 },
    Device { path: "/dev/urandom", major: 1, minor: 9 },
    Device { path: "/dev/tty", major: 5, minor: 0 },
];

/// The character devices a container may always use, as (major, minor; None for any): the
/// default devices, /dev/ptmx and the ptys of /dev/pts.
pub fn always_allowed() -> impl Iterator<Item = (u32, Option<u32>)> {
    DEFAULT_DEVICES.iter().map(|d| (d.major, Some(d.minor))).chain([(5, Some(2)), (136, None)])
}

//! `cgroups/devices` (upstream `DevicesSubsystemProcess`): a container may use only the
//! devices of upstream's default allow-list (null, zero, full, random, urandom, tty,
//! console, ptmx, pts, net/tun, and `mknod` of any device), through the v1 `devices`
//! controller of `<devices>/<root>/<id>`: `a` is denied, then each entry allowed.
//!
//! cgroups v2 controls devices with eBPF programs, which this isolator does not load yet:
//! it refuses to start there rather than isolate nothing.

use std::collections::HashMap;
use std::fmt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use mesos_core::v0::ContainerId;

use super::{Isolator, IsolatorError, LaunchInfo};
use crate::containerizer::cgroups::{Cgroup, CgroupsVersion, Hierarchies};
use crate::containerizer::container::{ContainerConfig, RecoverState};

/// Its `--isolation` name.
pub const NAME: &str = "cgroups/devices";

/// One line of `devices.allow` / `devices.deny` / `devices.list`: `c 1:3 rwm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceEntry {
    /// `a` (all), `c` (character) or `b` (block).
    pub kind: char,
    /// The major number; `None` is `*`.
    pub major: Option<u64>,
    /// The minor number; `None` is `*`.
    pub minor: Option<u64>,
    /// Some of `r`, `w`, `m`.
    pub access: &'static str,
}

impl DeviceEntry {
    /// A character device entry.
    pub const fn char(major: Option<u64>, minor: Option<u64>, access: &'static str) -> Self {
        DeviceEntry {
            kind: 'c',
            major,
            minor,
            access,
        }
    }

    /// The entry for the device file at `path` with `access`, or `None` if it is not a
    /// device.
    pub fn of_path(path: &Path, access: &'static str) -> Option<DeviceEntry> {
        let meta = std::fs::metadata(path).ok()?;
        let kind = if meta.file_type().is_char_device() {
            'c'
        } else if meta.file_type().is_block_device() {
            'b'
        } else {
            return None;
        };
        let rdev = meta.rdev();
        Some(DeviceEntry {
            kind,
            major: Some(nix::sys::stat::major(rdev)),
            minor: Some(nix::sys::stat::minor(rdev)),
            access,
        })
    }

    /// Parses a `devices.list` line.
    pub fn parse(line: &str) -> Option<(char, Option<u64>, Option<u64>)> {
        let mut parts = line.split_whitespace();
        let kind = parts.next()?.chars().next()?;
        let (major, minor) = parts.next()?.split_once(':')?;
        let number = |s: &str| {
            if s == "*" {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        Some((kind, number(major)?, number(minor)?))
    }
}

impl fmt::Display for DeviceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = |n: Option<u64>| n.map_or("*".to_owned(), |n| n.to_string());
        if self.kind == 'a' {
            return write!(f, "a");
        }
        write!(
            f,
            "{} {}:{} {}",
            self.kind,
            number(self.major),
            number(self.minor),
            self.access
        )
    }
}

/// Upstream's `DEFAULT_WHITELIST_ENTRIES`.
pub const DEFAULT_ALLOWED: &[DeviceEntry] = &[
    DeviceEntry::char(None, None, "m"),
    DeviceEntry {
        kind: 'b',
        major: None,
        minor: None,
        access: "m",
    },
    DeviceEntry::char(Some(5), Some(1), "rwm"), // /dev/console
    DeviceEntry::char(Some(4), Some(0), "rwm"), // /dev/tty0
    DeviceEntry::char(Some(4), Some(1), "rwm"), // /dev/tty1
    DeviceEntry::char(Some(136), None, "rwm"),  // /dev/pts/*
    DeviceEntry::char(Some(5), Some(2), "rwm"), // /dev/ptmx
    DeviceEntry::char(Some(10), Some(200), "rwm"), // /dev/net/tun
    DeviceEntry::char(Some(1), Some(3), "rwm"), // /dev/null
    DeviceEntry::char(Some(1), Some(5), "rwm"), // /dev/zero
    DeviceEntry::char(Some(1), Some(7), "rwm"), // /dev/full
    DeviceEntry::char(Some(5), Some(0), "rwm"), // /dev/tty
    DeviceEntry::char(Some(1), Some(9), "rwm"), // /dev/urandom
    DeviceEntry::char(Some(1), Some(8), "rwm"), // /dev/random
];

/// Checks that the v1 devices controller is there.
pub(crate) fn devices_hierarchy(
    hierarchies: &Hierarchies,
    isolator: &'static str,
) -> Result<(), IsolatorError> {
    if hierarchies.version() == CgroupsVersion::V2 {
        return Err(IsolatorError::Unavailable {
            isolator,
            reason: "device control on cgroups v2 (eBPF) is not supported yet".to_owned(),
        });
    }
    if !hierarchies.has("devices") {
        return Err(IsolatorError::Unavailable {
            isolator,
            reason: "the devices cgroup hierarchy is not mounted".to_owned(),
        });
    }
    Ok(())
}

/// Owns the devices cgroups of the containers.
#[derive(Debug)]
pub struct CgroupsDevicesIsolator {
    hierarchies: Hierarchies,
    root: String,
    containers: HashMap<ContainerId, Cgroup>,
}

impl CgroupsDevicesIsolator {
    /// Fails unless the v1 devices controller is mounted.
    pub fn new(
        hierarchies: Hierarchies,
        root: &str,
    ) -> Result<CgroupsDevicesIsolator, IsolatorError> {
        devices_hierarchy(&hierarchies, NAME)?;
        Ok(CgroupsDevicesIsolator {
            hierarchies,
            root: root.to_owned(),
            containers: HashMap::new(),
        })
    }

    fn cgroup(&self, id: &ContainerId) -> Cgroup {
        self.hierarchies
            .cgroup("devices", &self.root, id)
            .expect("checked at creation: devices is mounted")
    }
}

impl Isolator for CgroupsDevicesIsolator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn recover(
        &mut self,
        states: &[RecoverState],
        orphans: &[ContainerId],
    ) -> Result<(), IsolatorError> {
        for state in states {
            let cgroup = self.cgroup(&state.container_id);
            if cgroup.exists() {
                self.containers.insert(state.container_id.clone(), cgroup);
            }
        }
        let mut unknown: Vec<ContainerId> = orphans.to_vec();
        unknown.extend(
            self.hierarchies
                .containers("devices", &self.root)
                .into_iter()
                .filter(|id| !self.containers.contains_key(id)),
        );
        for id in unknown {
            self.cgroup(&id)
                .destroy()
                .map_err(|e| IsolatorError::cgroups(NAME, &id, e))?;
        }
        Ok(())
    }

    /// Configures the cgroup before any process is in it (so that isolators that allow
    /// more devices at `isolate`, like `gpu/nvidia`, come after the deny-all).
    fn prepare(
        &mut self,
        id: &ContainerId,
        _config: &ContainerConfig,
    ) -> Result<LaunchInfo, IsolatorError> {
        let cgroup = self.cgroup(id);
        let error = |e| IsolatorError::cgroups(NAME, id, e);
        cgroup.create().map_err(error)?;
        self.containers.insert(id.clone(), cgroup.clone());
        cgroup.write("devices.deny", "a").map_err(error)?;
        for entry in DEFAULT_ALLOWED {
            cgroup
                .write("devices.allow", &entry.to_string())
                .map_err(error)?;
        }
        Ok(LaunchInfo::default())
    }

    fn isolate(&mut self, id: &ContainerId, pid: i32) -> Result<(), IsolatorError> {
        let cgroup = self
            .containers
            .get(id)
            .ok_or_else(|| IsolatorError::unknown(NAME, id))?;
        cgroup
            .add_process(pid)
            .map_err(|e| IsolatorError::cgroups(NAME, id, e))
    }

    fn cleanup(&mut self, id: &ContainerId) -> Result<(), IsolatorError> {
        match self.containers.remove(id) {
            Some(cgroup) => cgroup
                .destroy()
                .map_err(|e| IsolatorError::cgroups(NAME, id, e)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_format_like_the_kernel() {
        assert_eq!(DEFAULT_ALLOWED[0].to_string(), "c *:* m");
        assert_eq!(DEFAULT_ALLOWED[5].to_string(), "c 136:* rwm");
        assert_eq!(
            DeviceEntry::parse("c 195:3 rwm"),
            Some(('c', Some(195), Some(3)))
        );
        assert_eq!(DeviceEntry::parse("a *:* rwm"), Some(('a', None, None)));
        let null = DeviceEntry::of_path(Path::new("/dev/null"), "rwm").unwrap();
        assert_eq!(null.to_string(), "c 1:3 rwm");
        assert!(DeviceEntry::of_path(Path::new("/etc/hostname"), "r").is_none());
    }
}

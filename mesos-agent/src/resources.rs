//! The agent's total resources: `--resources` merged with what the host has, as upstream
//! `Containerizer::resources` (`src/slave/containerizer/containerizer.cpp`).
//!
//! A resource named in `--resources` (even as `cpus:0`) is taken as given; the others are
//! detected:
//! - `cpus`: the online CPUs (1 if that fails);
//! - `mem`: total RAM minus 1 GB when there are at least 2 GB, else half of it (1 GB if
//!   it cannot be read), in whole MB;
//! - `disk`: the size of the work directory's filesystem minus 5 GB when it has at least
//!   10 GB, else half of it (10 GB if it cannot be read), in whole MB;
//! - `ports`: `[31000-32000]`;
//! - `gpus`: with `gpu/nvidia` isolation, the GPUs NVML reports (none, without failing,
//!   when there is no NVIDIA driver); `gpus` given in `--resources` are kept instead.
//!
//! The parsing of `--resources` (text or JSON) is mesos-core's
//! [`mesos_core::resources::parse`].

use std::path::{Path, PathBuf};

use mesos_core::resources::{ParseError, Resources};
use stout::Bytes;
use thiserror::Error;
use tracing::{debug, warn};

use crate::containerizer::isolators::gpu_nvidia;

/// Used when the number of CPUs cannot be read (upstream `DEFAULT_CPUS`).
pub const DEFAULT_CPUS: f64 = 1.0;
/// Used when the memory size cannot be read (upstream `DEFAULT_MEM`).
pub const DEFAULT_MEM: Bytes = Bytes::from_gigabytes(1);
/// Used when the disk size cannot be read (upstream `DEFAULT_DISK`).
pub const DEFAULT_DISK: Bytes = Bytes::from_gigabytes(10);
/// The port range offered when `--resources` names none (upstream `DEFAULT_PORTS`).
pub const DEFAULT_PORTS: &str = "[31000-32000]";

/// Why the agent's resources could not be worked out.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ResourcesError {
    /// `--resources` does not parse.
    #[error("invalid --resources")]
    Parse(#[from] ParseError),
    /// A detected value does not make a valid resource (a bug, or a strange host).
    #[error("detected resource {name} is invalid")]
    Detected {
        /// The resource name.
        name: &'static str,
        /// Why.
        #[source]
        source: ParseError,
    },
}

/// What host resource detection looks at.
#[derive(Clone, Debug)]
pub struct HostResources {
    resources: Option<String>,
    default_role: String,
    work_dir: PathBuf,
    detect_gpus: bool,
}

impl HostResources {
    /// Detection for an agent whose work directory is `work_dir`, with no `--resources`,
    /// the default role `*` and no GPU detection.
    pub fn new(work_dir: impl Into<PathBuf>) -> HostResources {
        HostResources {
            resources: None,
            default_role: mesos_core::roles::DEFAULT_ROLE.to_owned(),
            work_dir: work_dir.into(),
            detect_gpus: false,
        }
    }

    /// The `--resources` text (or JSON) to merge with what is detected.
    pub fn resources(mut self, text: impl Into<String>) -> HostResources {
        self.resources = Some(text.into());
        self
    }

    /// The role of resources given without one (`--default_role`).
    pub fn default_role(mut self, role: impl Into<String>) -> HostResources {
        self.default_role = role.into();
        self
    }

    /// Whether to ask NVML for GPUs: on when the isolation includes `gpu/nvidia`.
    pub fn detect_gpus(mut self, detect: bool) -> HostResources {
        self.detect_gpus = detect;
        self
    }

    /// Parses `--resources`, detects the rest and merges them.
    pub fn detect(&self) -> Result<Resources, ResourcesError> {
        let text = self.resources.as_deref().unwrap_or("");
        let mut resources = mesos_core::resources::parse::parse(text, &self.default_role)?;
        let given = mesos_core::resources::parse::from_string(text, &self.default_role)?;
        let named = |name: &str| given.iter().any(|r| r.name == name);
        let role = self.default_role.as_str();
        let add = |resources: &mut Resources, name: &'static str, value: String| {
            let parsed = mesos_core::resources::parse::parse(&format!("{name}:{value}"), role)
                .map_err(|source| ResourcesError::Detected { name, source })?;
            *resources += &parsed;
            Ok::<(), ResourcesError>(())
        };

        if !named("cpus") {
            let cpus = online_cpus().unwrap_or_else(|| {
                warn!(
                    default = DEFAULT_CPUS,
                    "cannot detect the number of cpus; using the default"
                );
                DEFAULT_CPUS
            });
            add(&mut resources, "cpus", cpus.to_string())?;
        }

        if self.detect_gpus && !named("gpus") {
            let gpus = gpu_nvidia::detect().map(|g| g.len()).unwrap_or(0);
            if gpus > 0 {
                add(&mut resources, "gpus", gpus.to_string())?;
            }
        }

        if !named("mem") {
            let mem = match total_memory() {
                Some(total) => usable_memory(total),
                None => {
                    warn!(default = %DEFAULT_MEM, "cannot detect the size of main memory; using the default");
                    DEFAULT_MEM
                }
            };
            add(&mut resources, "mem", mem.megabytes().to_string())?;
        }

        if !named("disk") {
            let disk = match filesystem_size(&self.work_dir) {
                Some(total) => usable_disk(total),
                None => {
                    warn!(work_dir = %self.work_dir.display(), default = %DEFAULT_DISK,
                        "cannot detect the disk space; using the default");
                    DEFAULT_DISK
                }
            };
            add(&mut resources, "disk", disk.megabytes().to_string())?;
        }

        if !named("ports") {
            add(&mut resources, "ports", DEFAULT_PORTS.to_owned())?;
        }

        debug!(%resources, "agent resources");
        Ok(resources)
    }
}

/// Mesos's memory rule: leave 1 GB when there are at least 2 GB, else use half.
pub fn usable_memory(total: Bytes) -> Bytes {
    if total >= Bytes::from_gigabytes(2) {
        total - Bytes::from_gigabytes(1)
    } else {
        Bytes::new(total.bytes() / 2)
    }
}

/// Mesos's disk rule: leave 5 GB when there are at least 10 GB, else use half.
pub fn usable_disk(total: Bytes) -> Bytes {
    if total >= Bytes::from_gigabytes(10) {
        total - Bytes::from_gigabytes(5)
    } else {
        Bytes::new(total.bytes() / 2)
    }
}

/// The online CPUs (`sysconf(_SC_NPROCESSORS_ONLN)`, as stout's `os::cpus`).
pub fn online_cpus() -> Option<f64> {
    nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
        .ok()
        .flatten()
        .filter(|n| *n > 0)
        .map(|n| n as f64)
}

/// Total RAM, from `/proc/meminfo`'s `MemTotal`.
pub fn total_memory() -> Option<Bytes> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo_value(&meminfo, "MemTotal")
}

/// A `kB` value of `/proc/meminfo`.
fn meminfo_value(meminfo: &str, key: &str) -> Option<Bytes> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
        Some(Bytes::from_kilobytes(kb))
    })
}

/// The size of the filesystem holding `path` (stout's `fs::size`: blocks × fragment size).
pub fn filesystem_size(path: &Path) -> Option<Bytes> {
    // The work directory may not exist yet: measure the nearest existing ancestor.
    let existing = path.ancestors().find(|p| p.exists())?;
    let stat = nix::sys::statvfs::statvfs(existing).ok()?;
    Some(Bytes::new(
        (stat.blocks() as u64).saturating_mul(stat.fragment_size() as u64),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_disk_rules() {
        assert_eq!(
            usable_memory(Bytes::from_gigabytes(16)),
            Bytes::from_gigabytes(15)
        );
        assert_eq!(
            usable_memory(Bytes::from_gigabytes(2)),
            Bytes::from_gigabytes(1)
        );
        assert_eq!(
            usable_memory(Bytes::from_megabytes(1024)),
            Bytes::from_megabytes(512)
        );
        assert_eq!(
            usable_disk(Bytes::from_gigabytes(100)),
            Bytes::from_gigabytes(95)
        );
        assert_eq!(
            usable_disk(Bytes::from_gigabytes(8)),
            Bytes::from_gigabytes(4)
        );
    }

    #[test]
    fn meminfo_parsing() {
        let text = "MemTotal:       24576000 kB\nMemFree:  100 kB\n";
        assert_eq!(
            meminfo_value(text, "MemTotal"),
            Some(Bytes::from_kilobytes(24_576_000))
        );
        assert_eq!(meminfo_value(text, "Swap"), None);
    }

    #[test]
    fn detects_what_is_not_given() {
        let detected = HostResources::new(std::env::temp_dir()).detect().unwrap();
        assert!(detected.cpus().unwrap() >= 1.0);
        assert!(detected.mem().unwrap() > 0.0);
        assert!(detected.disk().unwrap() > 0.0);
        assert_eq!(detected.ports().unwrap().len(), 1);
        assert!(detected.gpus().is_none());
    }

    #[test]
    fn given_resources_win_even_at_zero() {
        let detected = HostResources::new(std::env::temp_dir())
            .resources("cpus:0;mem:512;ports:[1-2]")
            .detect()
            .unwrap();
        assert_eq!(detected.cpus(), None);
        assert_eq!(detected.mem(), Some(512.0));
        let ports = detected.ports().unwrap();
        assert_eq!((ports[0].begin, ports[0].end), (1, 2));
        assert!(detected.disk().unwrap() > 0.0);
    }

    #[test]
    fn gpus_without_a_driver_are_none() {
        let detected = HostResources::new(std::env::temp_dir())
            .detect_gpus(true)
            .detect()
            .unwrap();
        if gpu_nvidia::detect().is_err() {
            assert!(detected.gpus().is_none());
        }
    }

    #[test]
    fn bad_resources_fail() {
        assert!(
            HostResources::new("/")
                .resources("cpus:abc")
                .detect()
                .is_err()
        );
    }
}

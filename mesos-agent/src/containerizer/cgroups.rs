//! Control groups for containers, on cgroups v1 and v2 (upstream `src/linux/cgroups.cpp`,
//! `src/linux/cgroups2.cpp`).
//!
//! [`Hierarchies::detect`] finds what is mounted, through cgroups-rs: a unified (v2)
//! hierarchy at `/sys/fs/cgroup`, or one v1 hierarchy per controller (`cpu`, `cpuacct`,
//! `memory`, `devices`, `freezer`, ... possibly co-mounted). A hybrid host (v1 controllers
//! plus an empty cgroup2 at `/sys/fs/cgroup/unified`) counts as v1.
//!
//! A container's cgroup is `<hierarchy>/<cgroups_root>/<container_id>`: on v1 one directory
//! per controller's hierarchy, on v2 one directory whose controllers are enabled from the
//! top down (`cgroup.subtree_control`). Nested containers nest their directories.
//!
//! [`Cgroup`] is a thin handle on one directory: read and write its files, move processes
//! in, list them, freeze, kill and remove it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cgroups_rs::Controllers;
use mesos_core::v0::ContainerId;
use thiserror::Error;
use tracing::{debug, warn};

use crate::containerizer::usage;

/// Which cgroups the host has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupsVersion {
    /// One hierarchy per controller (or per set of co-mounted controllers).
    V1,
    /// The unified hierarchy.
    V2,
}

/// A cgroups failure.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CgroupsError {
    /// The controller is not mounted (v1) or not available (v2).
    #[error("cgroups controller '{controller}' is not available on this host")]
    ControllerMissing {
        /// The controller.
        controller: &'static str,
    },
    /// No cgroups hierarchy is mounted.
    #[error("no cgroups hierarchy is mounted")]
    NotMounted,
    /// An operation on a cgroup file or directory failed.
    #[error("cgroup {path}: cannot {action}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The cgroup still has processes after being killed.
    #[error("cgroup {path} still has processes {pids:?}")]
    Busy {
        /// The cgroup.
        path: PathBuf,
        /// The processes left.
        pids: Vec<i32>,
    },
}

/// The cgroups hierarchies of the host.
#[derive(Clone, Debug)]
pub struct Hierarchies {
    version: CgroupsVersion,
    /// v1: controller name to mount point.
    v1: BTreeMap<&'static str, PathBuf>,
    /// v2: the unified mount point.
    v2: PathBuf,
}

const V1_CONTROLLERS: &[(&str, Controllers)] = &[
    ("cpu", Controllers::Cpu),
    ("cpuacct", Controllers::CpuAcct),
    ("memory", Controllers::Mem),
    ("devices", Controllers::Devices),
    ("freezer", Controllers::Freezer),
    ("pids", Controllers::Pids),
    ("cpuset", Controllers::CpuSet),
    ("blkio", Controllers::BlkIo),
];

impl Hierarchies {
    /// Finds the mounted hierarchies.
    pub fn detect() -> Result<Hierarchies, CgroupsError> {
        let unified = PathBuf::from(cgroups_rs::hierarchies::UNIFIED_MOUNTPOINT);
        if cgroups_rs::hierarchies::is_cgroup2_unified_mode() {
            return Ok(Hierarchies {
                version: CgroupsVersion::V2,
                v1: BTreeMap::new(),
                v2: unified,
            });
        }
        let mounts = cgroups_rs::hierarchies::V1::new();
        let v1: BTreeMap<&'static str, PathBuf> = V1_CONTROLLERS
            .iter()
            .filter_map(|(name, c)| mounts.get_mount_point(c.clone()).map(|p| (*name, p)))
            .collect();
        if v1.is_empty() {
            return Err(CgroupsError::NotMounted);
        }
        Ok(Hierarchies {
            version: CgroupsVersion::V1,
            v1,
            v2: unified,
        })
    }

    /// v1 or v2.
    pub fn version(&self) -> CgroupsVersion {
        self.version
    }

    /// Whether `controller` can be used: mounted (v1) or listed in the root's
    /// `cgroup.controllers` (v2).
    pub fn has(&self, controller: &str) -> bool {
        match self.version {
            CgroupsVersion::V1 => self.v1.contains_key(controller),
            CgroupsVersion::V2 => std::fs::read_to_string(self.v2.join("cgroup.controllers"))
                .map(|text| text.split_whitespace().any(|c| c == controller))
                .unwrap_or(false),
        }
    }

    /// The cgroup of `container_id` under `root` for `controller` (which on v2 only
    /// selects the unified hierarchy). `None` if the controller is not mounted.
    pub fn cgroup(&self, controller: &'static str, root: &str, id: &ContainerId) -> Option<Cgroup> {
        self.root_cgroup(controller, root)
            .map(|r| Cgroup::new(r.path.join(container_path(id)), self.version))
    }

    /// The `root` cgroup itself (`<hierarchy>/mesos`) for `controller`.
    pub fn root_cgroup(&self, controller: &'static str, root: &str) -> Option<Cgroup> {
        let mount = match self.version {
            CgroupsVersion::V1 => self.v1.get(controller)?.clone(),
            CgroupsVersion::V2 => self.v2.clone(),
        };
        Some(Cgroup::new(mount.join(root), self.version))
    }

    /// On v2, enables `controllers` in every `cgroup.subtree_control` from the hierarchy's
    /// root down to `root` so that the containers' cgroups under it get those controllers'
    /// files. Nothing to do on v1.
    pub fn enable_controllers(
        &self,
        root: &str,
        controllers: &[&'static str],
    ) -> Result<(), CgroupsError> {
        if self.version == CgroupsVersion::V1 {
            return Ok(());
        }
        for controller in controllers {
            if !self.has(controller) {
                return Err(CgroupsError::ControllerMissing { controller });
            }
        }
        let mut dir = self.v2.clone();
        let mut levels = vec![dir.clone()];
        for part in Path::new(root).iter() {
            dir.push(part);
            levels.push(dir.clone());
        }
        for level in levels {
            let cgroup = Cgroup::new(level, CgroupsVersion::V2);
            cgroup.create()?;
            let enabled = cgroup.read("cgroup.subtree_control").unwrap_or_default();
            for controller in controllers {
                if !enabled.split_whitespace().any(|c| c == *controller) {
                    cgroup.write("cgroup.subtree_control", &format!("+{controller}"))?;
                }
            }
        }
        Ok(())
    }

    /// The container IDs with a cgroup under `root` for `controller` (top-level ones).
    pub fn containers(&self, controller: &'static str, root: &str) -> Vec<ContainerId> {
        let Some(root) = self.root_cgroup(controller, root) else {
            return Vec::new();
        };
        root.children()
            .into_iter()
            .map(|value| ContainerId {
                value,
                parent: None,
            })
            .collect()
    }
}

/// The path of a container's cgroup under the root: `parent/child` for nested ones.
pub fn container_path(id: &ContainerId) -> PathBuf {
    match &id.parent {
        Some(parent) => container_path(parent).join(&id.value),
        None => PathBuf::from(&id.value),
    }
}

/// One cgroup directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    path: PathBuf,
    version: CgroupsVersion,
}

impl Cgroup {
    /// A handle on the cgroup at `path` (which may not exist yet).
    pub fn new(path: PathBuf, version: CgroupsVersion) -> Cgroup {
        Cgroup { path, version }
    }

    /// Its directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// v1 or v2.
    pub fn version(&self) -> CgroupsVersion {
        self.version
    }

    /// Whether the directory exists.
    pub fn exists(&self) -> bool {
        self.path.is_dir()
    }

    /// Creates the directory (and missing parents).
    pub fn create(&self) -> Result<(), CgroupsError> {
        std::fs::create_dir_all(&self.path).map_err(|source| CgroupsError::Io {
            path: self.path.clone(),
            action: "create",
            source,
        })
    }

    /// Reads one of its files.
    pub fn read(&self, file: &str) -> Result<String, CgroupsError> {
        let path = self.path.join(file);
        std::fs::read_to_string(&path).map_err(|source| CgroupsError::Io {
            path,
            action: "read",
            source,
        })
    }

    /// Reads one of its files as a number (`max` reads as `None`).
    pub fn read_u64(&self, file: &str) -> Result<Option<u64>, CgroupsError> {
        let text = self.read(file)?;
        let text = text.trim();
        if text == "max" {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| CgroupsError::Io {
            path: self.path.join(file),
            action: "parse",
            source: io::Error::new(io::ErrorKind::InvalidData, text.to_owned()),
        })
    }

    /// Reads a flat keyed file (`key value` lines: `memory.stat`, `cpu.stat`, ...).
    pub fn read_keyed(&self, file: &str) -> Result<BTreeMap<String, u64>, CgroupsError> {
        Ok(parse_keyed(&self.read(file)?))
    }

    /// Writes one of its files.
    pub fn write(&self, file: &str, value: &str) -> Result<(), CgroupsError> {
        let path = self.path.join(file);
        std::fs::write(&path, value).map_err(|source| CgroupsError::Io {
            path,
            action: "write",
            source,
        })
    }

    /// Moves process `pid` (all its threads) into this cgroup.
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupsError> {
        self.write("cgroup.procs", &pid.to_string())
    }

    /// The processes in this cgroup (not in its children); empty if it does not exist.
    pub fn processes(&self) -> Vec<i32> {
        self.read("cgroup.procs")
            .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// The processes in this cgroup and all its descendants.
    pub fn all_processes(&self) -> Vec<i32> {
        let mut pids = self.processes();
        for child in self.children() {
            pids.extend(Cgroup::new(self.path.join(child), self.version).all_processes());
        }
        pids
    }

    /// The names of its child cgroups.
    pub fn children(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    /// Freezes (`true`) or thaws (`false`) its processes: v1's `freezer.state` (in the
    /// freezer hierarchy), v2's `cgroup.freeze`. Waits (briefly, bounded) until the kernel
    /// reports the new state.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupsError> {
        let (file, value, done) = match (self.version, frozen) {
            (CgroupsVersion::V1, true) => ("freezer.state", "FROZEN", "FROZEN"),
            (CgroupsVersion::V1, false) => ("freezer.state", "THAWED", "THAWED"),
            (CgroupsVersion::V2, true) => ("cgroup.freeze", "1", "frozen 1"),
            (CgroupsVersion::V2, false) => ("cgroup.freeze", "0", "frozen 0"),
        };
        self.write(file, value)?;
        for _ in 0..100 {
            let state = match self.version {
                CgroupsVersion::V1 => self.read("freezer.state")?,
                CgroupsVersion::V2 => self.read("cgroup.events")?,
            };
            let reached = match self.version {
                CgroupsVersion::V1 => state.trim() == done,
                CgroupsVersion::V2 => state.lines().any(|l| l.trim() == done),
            };
            if reached {
                return Ok(());
            }
            if self.version == CgroupsVersion::V1 && frozen && state.trim() == "FREEZING" {
                // Ask again: v1 may need several writes to finish freezing.
                let _ = self.write(file, value);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        debug!(cgroup = %self.path.display(), frozen, "freezer state not reached; going on");
        Ok(())
    }

    /// Sends SIGKILL to every process in this cgroup and its descendants, repeatedly, until
    /// none is left alive (bounded: about a second). Zombies no longer count.
    pub fn kill_all(&self) -> Result<(), CgroupsError> {
        for attempt in 0..200 {
            let alive: Vec<i32> = self
                .all_processes()
                .into_iter()
                .filter(|pid| usage::is_alive(*pid))
                .collect();
            if alive.is_empty() {
                return Ok(());
            }
            for pid in &alive {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Err(CgroupsError::Busy {
            path: self.path.clone(),
            pids: self.all_processes(),
        })
    }

    /// Kills what is left in it and removes it, children first. Missing is fine.
    pub fn destroy(&self) -> Result<(), CgroupsError> {
        if !self.exists() {
            return Ok(());
        }
        self.kill_all()?;
        self.remove_tree()
    }

    fn remove_tree(&self) -> Result<(), CgroupsError> {
        for child in self.children() {
            Cgroup::new(self.path.join(child), self.version).remove_tree()?;
        }
        // rmdir can fail with EBUSY for a moment after the last process died.
        let mut last = None;
        for attempt in 0..50 {
            match std::fs::remove_dir(&self.path) {
                Ok(()) => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(error) => last = Some(error),
            }
            std::thread::sleep(Duration::from_millis(2 * (attempt + 1).min(10)));
        }
        let source = last.expect("an error after failed attempts");
        warn!(cgroup = %self.path.display(), %source, "cannot remove cgroup");
        Err(CgroupsError::Io {
            path: self.path.clone(),
            action: "remove",
            source,
        })
    }
}

/// Parses `key value` lines.
pub fn parse_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let key = parts.next()?;
            let value = parts.next()?.parse().ok()?;
            Some((key.to_owned(), value))
        })
        .collect()
}

/// Whether the running user may create cgroups under `controller`'s hierarchy: the test
/// suites use it to skip, with a reason, on hosts that do not allow it.
pub fn writable(hierarchies: &Hierarchies, controller: &'static str) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("not running as root".to_owned());
    }
    let Some(root) = hierarchies.root_cgroup(controller, "") else {
        return Err(format!("cgroups controller '{controller}' is not mounted"));
    };
    static PROBES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = Cgroup::new(
        root.path()
            .join(format!("mesos-probe-{}-{n}", std::process::id())),
        hierarchies.version(),
    );
    match std::fs::create_dir(probe.path()) {
        Ok(()) => {
            let _ = std::fs::remove_dir(probe.path());
            Ok(())
        }
        Err(error) => Err(format!(
            "cannot create a cgroup under {}: {error}",
            root.path().display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_container_paths() {
        let parent = ContainerId {
            value: "a".into(),
            parent: None,
        };
        let child = ContainerId {
            value: "b".into(),
            parent: Some(Box::new(parent)),
        };
        assert_eq!(container_path(&child), Path::new("a/b"));
    }

    #[test]
    fn keyed_files() {
        let stat = parse_keyed("user 10\nsystem 5\nbad\n");
        assert_eq!(stat.get("user"), Some(&10));
        assert_eq!(stat.get("system"), Some(&5));
        assert_eq!(stat.len(), 2);
    }
}

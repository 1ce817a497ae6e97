//! `disk/du` (upstream `PosixDiskIsolatorProcess` and its `DiskUsageCollector`): measures
//! each sandbox's disk usage every `--container_disk_watch_interval` (like `du -k -s -x`:
//! allocated blocks, one filesystem) and reports `disk_used_bytes`/`disk_limit_bytes`.
//! With `--enforce_container_disk_quota` a container over its `disk` resource gets a disk
//! limitation (`REASON_CONTAINER_LIMITATION_DISK`) and is destroyed.
//!
//! The measuring runs in its own process, [`DiskWatchProcess`], on a [`delay`] loop per
//! container (tests drive it with the paused clock); the isolator only dispatches to it.
//!
//! FIXME: the walk runs on the watch process's worker; a huge sandbox holds it for the
//! walk's duration (upstream runs `du` as a subprocess).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libprocess::{Future, Pid, Process, Promise, Timer, call, delay, dispatch, terminate};
use mesos_core::resources::Resources;
use mesos_core::v0::task_status::Reason;
use mesos_core::v0::{ContainerId, ResourceStatistics};
use stout::Bytes;
use tracing::{debug, info};

use super::{Isolator, IsolatorError, LaunchInfo, megabytes_to_bytes};
use crate::containerizer::container::{ContainerConfig, ContainerLimitation, RecoverState};
use crate::paths::container_id_string;

/// Its `--isolation` name.
pub const NAME: &str = "disk/du";

/// Upstream's `--container_disk_watch_interval` default.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_secs(15);

/// The disk space used by `path` and everything under it on the same filesystem, counted
/// in allocated blocks (hard links once), as `du -s -x`.
pub fn disk_usage(path: &Path) -> std::io::Result<u64> {
    let root = std::fs::symlink_metadata(path)?;
    let device = root.dev();
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![(path.to_path_buf(), root)];
    while let Some((path, meta)) = stack.pop() {
        if meta.dev() != device {
            continue;
        }
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        total += meta.blocks() * 512;
        if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            for entry in entries.flatten() {
                if let Ok(meta) = entry.metadata() {
                    stack.push((entry.path(), meta));
                }
            }
        }
    }
    Ok(total)
}

#[derive(Debug)]
struct Watched {
    sandbox: PathBuf,
    quota: Option<u64>,
    used: Option<u64>,
    limitation: Option<Promise<ContainerLimitation>>,
    timer: Option<Timer>,
}

/// Measures sandboxes on a timer.
#[derive(Debug)]
pub struct DiskWatchProcess {
    interval: Duration,
    enforce: bool,
    containers: HashMap<ContainerId, Watched>,
}

impl Process for DiskWatchProcess {}

impl DiskWatchProcess {
    fn add(
        &mut self,
        pid: Pid<Self>,
        id: ContainerId,
        sandbox: PathBuf,
        quota: Option<u64>,
    ) -> Future<ContainerLimitation> {
        let promise = Promise::new();
        let future = promise.future();
        self.containers.insert(
            id.clone(),
            Watched {
                sandbox,
                quota,
                used: None,
                limitation: Some(promise),
                timer: None,
            },
        );
        self.measure(pid, id);
        future
    }

    fn set_quota(&mut self, id: &ContainerId, quota: Option<u64>) {
        if let Some(watched) = self.containers.get_mut(id) {
            watched.quota = quota;
        }
    }

    fn measure(&mut self, pid: Pid<Self>, id: ContainerId) {
        let enforce = self.enforce;
        let Some(watched) = self.containers.get_mut(&id) else {
            return;
        };
        match disk_usage(&watched.sandbox) {
            Ok(used) => {
                watched.used = Some(used);
                debug!(container_id = %container_id_string(&id), used, "sandbox disk usage");
                if let Some(quota) = watched.quota.filter(|q| enforce && used > *q)
                    && let Some(promise) = watched.limitation.take()
                {
                    info!(container_id = %container_id_string(&id), used, quota, "disk quota exceeded");
                    let megabytes = used as f64 / (1024.0 * 1024.0);
                    promise.set(ContainerLimitation {
                        resources: mesos_core::resources::parse::parse(
                            &format!("disk:{megabytes:.3}"),
                            "*",
                        )
                        .unwrap_or_default(),
                        reason: Reason::ContainerLimitationDisk,
                        message: format!(
                            "Disk usage ({}) exceeds quota ({})",
                            Bytes::new(used),
                            Bytes::new(quota)
                        ),
                    });
                }
            }
            Err(error) => {
                debug!(container_id = %container_id_string(&id), %error, "cannot measure the sandbox");
            }
        }
        let next = id.clone();
        let me = pid.clone();
        watched.timer = Some(delay(
            self.interval,
            &pid,
            move |p: &mut DiskWatchProcess| p.measure(me, next),
        ));
    }

    fn usage(&self, id: &ContainerId) -> ResourceStatistics {
        let watched = self.containers.get(id);
        ResourceStatistics {
            disk_used_bytes: watched.and_then(|w| w.used),
            disk_limit_bytes: watched.and_then(|w| w.quota),
            ..Default::default()
        }
    }

    fn remove(&mut self, id: &ContainerId) {
        if let Some(watched) = self.containers.remove(id)
            && let Some(timer) = watched.timer
        {
            timer.cancel();
        }
    }
}

/// Dispatches to its [`DiskWatchProcess`].
#[derive(Debug)]
pub struct DiskDuIsolator {
    pid: Pid<DiskWatchProcess>,
    /// Sandbox and quota of prepared containers, until `isolate` starts watching them.
    prepared: HashMap<ContainerId, (PathBuf, Option<u64>)>,
    watches: HashMap<ContainerId, Future<ContainerLimitation>>,
}

fn quota(resources: &Resources) -> Option<u64> {
    resources.disk().map(megabytes_to_bytes)
}

impl DiskDuIsolator {
    /// Spawns the watch process on the current runtime.
    pub fn new(interval: Duration, enforce: bool) -> DiskDuIsolator {
        let pid = libprocess::spawn(DiskWatchProcess {
            interval,
            enforce,
            containers: HashMap::new(),
        });
        DiskDuIsolator {
            pid,
            prepared: HashMap::new(),
            watches: HashMap::new(),
        }
    }

    fn start(&mut self, id: &ContainerId, sandbox: PathBuf, quota: Option<u64>) {
        let me = self.pid.clone();
        let key = id.clone();
        let watch = call(&self.pid, move |p: &mut DiskWatchProcess| {
            p.add(me, key, sandbox, quota)
        })
        .flatten();
        self.watches.insert(id.clone(), watch);
    }
}

impl Drop for DiskDuIsolator {
    fn drop(&mut self) {
        terminate(&self.pid);
    }
}

impl Isolator for DiskDuIsolator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn recover(
        &mut self,
        states: &[RecoverState],
        _orphans: &[ContainerId],
    ) -> Result<(), IsolatorError> {
        for state in states {
            self.start(
                &state.container_id,
                state.sandbox.clone(),
                quota(&state.resources),
            );
        }
        Ok(())
    }

    fn prepare(
        &mut self,
        id: &ContainerId,
        config: &ContainerConfig,
    ) -> Result<LaunchInfo, IsolatorError> {
        self.prepared.insert(
            id.clone(),
            (config.sandbox.clone(), quota(&config.resources)),
        );
        Ok(LaunchInfo::default())
    }

    fn isolate(&mut self, id: &ContainerId, _pid: i32) -> Result<(), IsolatorError> {
        let (sandbox, quota) = self
            .prepared
            .remove(id)
            .ok_or_else(|| IsolatorError::unknown(NAME, id))?;
        self.start(id, sandbox, quota);
        Ok(())
    }

    fn watch(&mut self, id: &ContainerId) -> Option<Future<ContainerLimitation>> {
        self.watches.get(id).cloned()
    }

    fn update(&mut self, id: &ContainerId, resources: &Resources) -> Result<(), IsolatorError> {
        let id = id.clone();
        let quota = quota(resources);
        dispatch(&self.pid, move |p: &mut DiskWatchProcess| {
            p.set_quota(&id, quota)
        });
        Ok(())
    }

    fn usage(&mut self, id: &ContainerId) -> Future<ResourceStatistics> {
        let id = id.clone();
        call(&self.pid, move |p: &mut DiskWatchProcess| p.usage(&id))
    }

    fn cleanup(&mut self, id: &ContainerId) -> Result<(), IsolatorError> {
        self.prepared.remove(id);
        self.watches.remove(id);
        let id = id.clone();
        dispatch(&self.pid, move |p: &mut DiskWatchProcess| p.remove(&id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn du_counts_allocated_blocks() {
        let dir = std::env::temp_dir().join(format!("mesos-du-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/file"), vec![1u8; 256 * 1024]).unwrap();
        let used = disk_usage(&dir).unwrap();
        assert!(used >= 256 * 1024, "{used}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

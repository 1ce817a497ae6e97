//! `cgroups/mem` (upstream `MemorySubsystemProcess`): a hard memory limit of the `mem`
//! resource (at least 32 MB) in `<memory>/<root>/<id>`, and OOM detection.
//!
//! The kernel's OOM killer stays on: when the container goes over its limit the kernel
//! kills one of its processes, and the isolator reports a memory limitation
//! (`REASON_CONTAINER_LIMITATION_MEMORY`); the containerizer then destroys the container.
//! OOMs are seen by a watcher thread per container: on v1 an eventfd registered on
//! `memory.oom_control` (cgroups-rs), on v2 a poll of `memory.events`' `oom_kill`. Because
//! the OOM-killed process's exit can race that notice, the isolator also checks the
//! kill counter when the container is gone ([`Isolator::limitation_at_exit`]).
//!
//! As upstream, the hard limit is lowered only when usage is below the new limit (lowering
//! it under usage would OOM the container at once); the soft limit always follows.

use std::collections::HashMap;
use std::time::Duration;

use libprocess::{Future, Promise};
use mesos_core::resources::Resources;
use mesos_core::v0::task_status::Reason;
use mesos_core::v0::{ContainerId, ResourceStatistics};
use stout::Bytes;
use tracing::{debug, info, warn};

use super::{Isolator, IsolatorError, LaunchInfo, megabytes_to_bytes};
use crate::containerizer::cgroups::{Cgroup, CgroupsVersion, Hierarchies};
use crate::containerizer::container::{ContainerConfig, ContainerLimitation, RecoverState};
use crate::paths::container_id_string;

/// Its `--isolation` name.
pub const NAME: &str = "cgroups/mem";

/// The least memory limit a container gets (upstream `MIN_MEMORY`).
pub const MIN_MEMORY: Bytes = Bytes::from_megabytes(32);

/// How often the v2 watcher looks at `memory.events`.
const V2_OOM_POLL: Duration = Duration::from_millis(50);

/// The memory limit for `mem` megabytes.
pub fn memory_limit(mem_megabytes: f64) -> Bytes {
    Bytes::new(megabytes_to_bytes(mem_megabytes)).max(MIN_MEMORY)
}

/// The number of OOM kills the kernel did in `cgroup`.
fn oom_kills(cgroup: &Cgroup) -> u64 {
    let (file, key) = match cgroup.version() {
        CgroupsVersion::V1 => ("memory.oom_control", "oom_kill"),
        CgroupsVersion::V2 => ("memory.events", "oom_kill"),
    };
    cgroup
        .read_keyed(file)
        .ok()
        .and_then(|m| m.get(key).copied())
        .unwrap_or(0)
}

/// The limitation to report for an OOM in `cgroup`, as upstream words it.
fn oom_limitation(cgroup: &Cgroup) -> ContainerLimitation {
    let (peak_file, limit_file, stat_file) = match cgroup.version() {
        CgroupsVersion::V1 => (
            "memory.max_usage_in_bytes",
            "memory.limit_in_bytes",
            "memory.stat",
        ),
        CgroupsVersion::V2 => ("memory.peak", "memory.max", "memory.stat"),
    };
    let peak = cgroup.read_u64(peak_file).ok().flatten();
    let limit = cgroup.read_u64(limit_file).ok().flatten();
    let stat = cgroup.read(stat_file).unwrap_or_default();
    let mut message = String::from("Memory limit exceeded: ");
    if let Some(limit) = limit {
        message.push_str(&format!("Requested: {}", Bytes::new(limit)));
    }
    if let Some(peak) = peak {
        message.push_str(&format!(" Maximum Used: {}", Bytes::new(peak)));
    }
    message.push_str("\n\nMEMORY STATISTICS: \n");
    message.push_str(&stat);
    let used_megabytes = peak.or(limit).unwrap_or(0) as f64 / (1024.0 * 1024.0);
    let resources = mesos_core::resources::parse::parse(&format!("mem:{used_megabytes:.3}"), "*")
        .unwrap_or_default();
    ContainerLimitation {
        resources,
        reason: Reason::ContainerLimitationMemory,
        message,
    }
}

/// Starts the thread that completes `promise` on the container's first OOM.
fn watch_oom(cgroup: Cgroup, promise: Promise<ContainerLimitation>) -> Result<(), String> {
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(f)
            .map(drop)
            .map_err(|e| format!("cannot start the OOM watcher: {e}"))
    };
    match cgroup.version() {
        CgroupsVersion::V1 => {
            let key = cgroup.path().display().to_string();
            let events = cgroups_rs::events::notify_on_oom_v1(&key, cgroup.path())
                .map_err(|e| format!("cannot listen for OOMs on {key}: {e}"))?;
            spawn(
                "oom-watch",
                Box::new(move || {
                    // The sender goes away (recv fails) when the cgroup is removed.
                    if events.recv().is_ok() && !promise.has_discard() {
                        info!(cgroup = %cgroup.path().display(), "OOM");
                        promise.set(oom_limitation(&cgroup));
                    }
                }),
            )
        }
        CgroupsVersion::V2 => spawn(
            "oom-watch",
            Box::new(move || {
                let before = oom_kills(&cgroup);
                while cgroup.exists() && !promise.has_discard() {
                    if oom_kills(&cgroup) > before {
                        info!(cgroup = %cgroup.path().display(), "OOM");
                        promise.set(oom_limitation(&cgroup));
                        return;
                    }
                    std::thread::sleep(V2_OOM_POLL);
                }
            }),
        ),
    }
}

#[derive(Debug)]
struct Container {
    cgroup: Cgroup,
    /// Completed by the watcher; dropping it (cleanup) abandons the watch.
    limitation: Option<Future<ContainerLimitation>>,
    /// Set when the hard limit was first written.
    hard_limit_set: bool,
}

/// Owns the memory cgroups of the containers.
#[derive(Debug)]
pub struct CgroupsMemIsolator {
    hierarchies: Hierarchies,
    root: String,
    containers: HashMap<ContainerId, Container>,
}

impl CgroupsMemIsolator {
    /// Fails if the memory controller is not available.
    pub fn new(hierarchies: Hierarchies, root: &str) -> Result<CgroupsMemIsolator, IsolatorError> {
        if !hierarchies.has("memory") {
            return Err(IsolatorError::Unavailable {
                isolator: NAME,
                reason: "the memory cgroup controller is not available".to_owned(),
            });
        }
        hierarchies
            .enable_controllers(root, &["memory"])
            .map_err(|error| IsolatorError::Unavailable {
                isolator: NAME,
                reason: error.to_string(),
            })?;
        Ok(CgroupsMemIsolator {
            hierarchies,
            root: root.to_owned(),
            containers: HashMap::new(),
        })
    }

    fn cgroup(&self, id: &ContainerId) -> Cgroup {
        self.hierarchies
            .cgroup("memory", &self.root, id)
            .expect("checked at creation: memory is available")
    }

    fn apply(
        id: &ContainerId,
        container: &mut Container,
        resources: &Resources,
    ) -> Result<(), IsolatorError> {
        let Some(mem) = resources.mem() else {
            debug!(container_id = %container_id_string(id), "no mem resource; memory limit unchanged");
            return Ok(());
        };
        let limit = memory_limit(mem).bytes();
        let cgroup = &container.cgroup;
        let error = |e| IsolatorError::cgroups(NAME, id, e);
        let (hard, soft, usage) = match cgroup.version() {
            CgroupsVersion::V1 => (
                "memory.limit_in_bytes",
                "memory.soft_limit_in_bytes",
                "memory.usage_in_bytes",
            ),
            CgroupsVersion::V2 => ("memory.max", "memory.low", "memory.current"),
        };
        if cgroup.version() == CgroupsVersion::V1 {
            cgroup.write(soft, &limit.to_string()).map_err(error)?;
        }
        let current = cgroup.read_u64(hard).map_err(error)?;
        let raising = current.is_none_or(|current| limit >= current);
        let usage = cgroup.read_u64(usage).map_err(error)?.unwrap_or(0);
        if !container.hard_limit_set || raising || usage < limit {
            cgroup.write(hard, &limit.to_string()).map_err(error)?;
            container.hard_limit_set = true;
            debug!(container_id = %container_id_string(id), limit, "memory limit set");
        } else {
            warn!(container_id = %container_id_string(id), limit, usage,
                "not lowering the hard memory limit below usage");
        }
        Ok(())
    }
}

impl Isolator for CgroupsMemIsolator {
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
            if !cgroup.exists() {
                continue;
            }
            let promise = Promise::new();
            let future = promise.future();
            if let Err(error) = watch_oom(cgroup.clone(), promise) {
                warn!(container_id = %container_id_string(&state.container_id), %error, "no OOM watch");
            }
            self.containers.insert(
                state.container_id.clone(),
                Container {
                    cgroup,
                    limitation: Some(future),
                    hard_limit_set: true,
                },
            );
        }
        let mut unknown: Vec<ContainerId> = orphans.to_vec();
        unknown.extend(
            self.hierarchies
                .containers("memory", &self.root)
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

    fn prepare(
        &mut self,
        id: &ContainerId,
        config: &ContainerConfig,
    ) -> Result<LaunchInfo, IsolatorError> {
        let cgroup = self.cgroup(id);
        cgroup
            .create()
            .map_err(|e| IsolatorError::cgroups(NAME, id, e))?;
        let mut container = Container {
            cgroup,
            limitation: None,
            hard_limit_set: false,
        };
        let applied = Self::apply(id, &mut container, &config.resources);
        self.containers.insert(id.clone(), container);
        applied?;
        Ok(LaunchInfo::default())
    }

    fn isolate(&mut self, id: &ContainerId, pid: i32) -> Result<(), IsolatorError> {
        let container = self
            .containers
            .get_mut(id)
            .ok_or_else(|| IsolatorError::unknown(NAME, id))?;
        container
            .cgroup
            .add_process(pid)
            .map_err(|e| IsolatorError::cgroups(NAME, id, e))?;
        let promise = Promise::new();
        container.limitation = Some(promise.future());
        watch_oom(container.cgroup.clone(), promise).map_err(|reason| IsolatorError::Rejected {
            isolator: NAME,
            container_id: container_id_string(id),
            reason,
        })
    }

    fn watch(&mut self, id: &ContainerId) -> Option<Future<ContainerLimitation>> {
        self.containers.get(id).and_then(|c| c.limitation.clone())
    }

    fn update(&mut self, id: &ContainerId, resources: &Resources) -> Result<(), IsolatorError> {
        let container = self
            .containers
            .get_mut(id)
            .ok_or_else(|| IsolatorError::unknown(NAME, id))?;
        Self::apply(id, container, resources)
    }

    fn usage(&mut self, id: &ContainerId) -> Future<ResourceStatistics> {
        let Some(container) = self.containers.get(id) else {
            return Future::failed(IsolatorError::unknown(NAME, id).to_string());
        };
        let cgroup = &container.cgroup;
        let mut stats = ResourceStatistics::default();
        let stat = cgroup.read_keyed("memory.stat").unwrap_or_default();
        let get = |key: &str| stat.get(key).copied();
        match cgroup.version() {
            CgroupsVersion::V1 => {
                stats.mem_total_bytes = cgroup.read_u64("memory.usage_in_bytes").ok().flatten();
                stats.mem_limit_bytes = cgroup.read_u64("memory.limit_in_bytes").ok().flatten();
                stats.mem_soft_limit_bytes =
                    cgroup.read_u64("memory.soft_limit_in_bytes").ok().flatten();
                stats.mem_rss_bytes = get("total_rss");
                stats.mem_anon_bytes = get("total_rss");
                stats.mem_cache_bytes = get("total_cache");
                stats.mem_file_bytes = get("total_cache");
                stats.mem_mapped_file_bytes = get("total_mapped_file");
                stats.mem_swap_bytes = get("total_swap");
                stats.mem_unevictable_bytes = get("total_unevictable");
            }
            CgroupsVersion::V2 => {
                stats.mem_total_bytes = cgroup.read_u64("memory.current").ok().flatten();
                stats.mem_limit_bytes = cgroup.read_u64("memory.max").ok().flatten();
                stats.mem_rss_bytes = get("anon");
                stats.mem_anon_bytes = get("anon");
                stats.mem_cache_bytes = get("file");
                stats.mem_file_bytes = get("file");
                stats.mem_mapped_file_bytes = get("file_mapped");
                stats.mem_swap_bytes = cgroup.read_u64("memory.swap.current").ok().flatten();
                stats.mem_unevictable_bytes = get("unevictable");
            }
        }
        Future::ready(stats)
    }

    fn limitation_at_exit(&mut self, id: &ContainerId) -> Option<ContainerLimitation> {
        let container = self.containers.get(id)?;
        (oom_kills(&container.cgroup) > 0).then(|| oom_limitation(&container.cgroup))
    }

    fn cleanup(&mut self, id: &ContainerId) -> Result<(), IsolatorError> {
        let Some(container) = self.containers.remove(id) else {
            return Ok(());
        };
        if let Some(limitation) = &container.limitation {
            limitation.discard();
        }
        container
            .cgroup
            .destroy()
            .map_err(|e| IsolatorError::cgroups(NAME, id, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_has_a_floor() {
        assert_eq!(memory_limit(64.0), Bytes::from_megabytes(64));
        assert_eq!(memory_limit(1.0), MIN_MEMORY);
    }
}

//! `cgroups/cpu` (upstream `CpuSubsystemProcess` + `CpuacctSubsystemProcess`): cpu shares
//! of 1024 per cpu (at least 2), and with `--cgroups_enable_cfs` a CFS quota of `cpus` ×
//! 100 ms per 100 ms period (at least 1 ms), in `<cpu>/<root>/<id>`; cpu time from
//! `cpuacct.stat` and throttling from `cpu.stat`. On cgroups v2 the same limits are written
//! as `cpu.weight` (shares converted as the kernel and runc do) and `cpu.max`.

use std::collections::HashMap;

use libprocess::Future;
use mesos_core::resources::Resources;
use mesos_core::v0::{ContainerId, ResourceStatistics};
use tracing::debug;

use super::{Isolator, IsolatorError, LaunchInfo};
use crate::containerizer::cgroups::{Cgroup, CgroupsVersion, Hierarchies};
use crate::containerizer::container::{ContainerConfig, RecoverState};
use crate::containerizer::usage::clock_ticks;
use crate::paths::container_id_string;

/// Its `--isolation` name.
pub const NAME: &str = "cgroups/cpu";

/// cpu.shares per cpu.
pub const CPU_SHARES_PER_CPU: u64 = 1024;
/// The least cpu.shares a container gets.
pub const MIN_CPU_SHARES: u64 = 2;
/// The CFS period.
pub const CPU_CFS_PERIOD_US: u64 = 100_000;
/// The least CFS quota a container gets.
pub const MIN_CPU_CFS_QUOTA_US: u64 = 1_000;

/// cpu.shares for `cpus`.
pub fn cpu_shares(cpus: f64) -> u64 {
    ((CPU_SHARES_PER_CPU as f64 * cpus) as u64).max(MIN_CPU_SHARES)
}

/// The CFS quota for `cpus`, in microseconds per [`CPU_CFS_PERIOD_US`].
pub fn cfs_quota_us(cpus: f64) -> u64 {
    ((CPU_CFS_PERIOD_US as f64 * cpus) as u64).max(MIN_CPU_CFS_QUOTA_US)
}

/// cgroups v2's `cpu.weight` (1..=10000) for v1 `shares` (2..=262144).
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// The cgroups of one container: `cpu` and `cpuacct` (v1, possibly the same directory) or
/// the unified one (v2).
#[derive(Debug)]
struct Cgroups {
    cpu: Cgroup,
    cpuacct: Option<Cgroup>,
}

impl Cgroups {
    fn all(&self) -> impl Iterator<Item = &Cgroup> {
        std::iter::once(&self.cpu).chain(
            self.cpuacct
                .iter()
                .filter(move |c| c.path() != self.cpu.path()),
        )
    }
}

/// Owns the cpu cgroups of the containers.
#[derive(Debug)]
pub struct CgroupsCpuIsolator {
    hierarchies: Hierarchies,
    root: String,
    enable_cfs: bool,
    containers: HashMap<ContainerId, Cgroups>,
}

impl CgroupsCpuIsolator {
    /// Fails if the cpu controller is not available.
    pub fn new(
        hierarchies: Hierarchies,
        root: &str,
        enable_cfs: bool,
    ) -> Result<CgroupsCpuIsolator, IsolatorError> {
        if !hierarchies.has("cpu") {
            return Err(IsolatorError::Unavailable {
                isolator: NAME,
                reason: "the cpu cgroup controller is not available".to_owned(),
            });
        }
        hierarchies
            .enable_controllers(root, &["cpu"])
            .map_err(|error| IsolatorError::Unavailable {
                isolator: NAME,
                reason: error.to_string(),
            })?;
        Ok(CgroupsCpuIsolator {
            hierarchies,
            root: root.to_owned(),
            enable_cfs,
            containers: HashMap::new(),
        })
    }

    fn cgroups(&self, id: &ContainerId) -> Cgroups {
        let cpu = self
            .hierarchies
            .cgroup("cpu", &self.root, id)
            .expect("checked at creation: cpu is available");
        let cpuacct = match self.hierarchies.version() {
            CgroupsVersion::V1 => self.hierarchies.cgroup("cpuacct", &self.root, id),
            CgroupsVersion::V2 => None,
        };
        Cgroups { cpu, cpuacct }
    }

    fn apply(
        &self,
        id: &ContainerId,
        cgroups: &Cgroups,
        resources: &Resources,
    ) -> Result<(), IsolatorError> {
        let Some(cpus) = resources.cpus() else {
            debug!(container_id = %container_id_string(id), "no cpus resource; cpu limits unchanged");
            return Ok(());
        };
        let shares = cpu_shares(cpus);
        let error = |e| IsolatorError::cgroups(NAME, id, e);
        match cgroups.cpu.version() {
            CgroupsVersion::V1 => {
                cgroups
                    .cpu
                    .write("cpu.shares", &shares.to_string())
                    .map_err(error)?;
                if self.enable_cfs {
                    cgroups
                        .cpu
                        .write("cpu.cfs_period_us", &CPU_CFS_PERIOD_US.to_string())
                        .map_err(error)?;
                    cgroups
                        .cpu
                        .write("cpu.cfs_quota_us", &cfs_quota_us(cpus).to_string())
                        .map_err(error)?;
                }
            }
            CgroupsVersion::V2 => {
                cgroups
                    .cpu
                    .write("cpu.weight", &shares_to_weight(shares).to_string())
                    .map_err(error)?;
                let max = if self.enable_cfs {
                    format!("{} {CPU_CFS_PERIOD_US}", cfs_quota_us(cpus))
                } else {
                    format!("max {CPU_CFS_PERIOD_US}")
                };
                cgroups.cpu.write("cpu.max", &max).map_err(error)?;
            }
        }
        debug!(container_id = %container_id_string(id), cpus, shares, cfs = self.enable_cfs, "cpu limits set");
        Ok(())
    }
}

impl Isolator for CgroupsCpuIsolator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn recover(
        &mut self,
        states: &[RecoverState],
        orphans: &[ContainerId],
    ) -> Result<(), IsolatorError> {
        for state in states {
            let cgroups = self.cgroups(&state.container_id);
            if cgroups.cpu.exists() {
                self.containers.insert(state.container_id.clone(), cgroups);
            }
        }
        let mut unknown: Vec<ContainerId> = orphans.to_vec();
        unknown.extend(
            self.hierarchies
                .containers("cpu", &self.root)
                .into_iter()
                .filter(|id| !self.containers.contains_key(id)),
        );
        for id in unknown {
            for cgroup in self.cgroups(&id).all() {
                cgroup
                    .destroy()
                    .map_err(|e| IsolatorError::cgroups(NAME, &id, e))?;
            }
        }
        Ok(())
    }

    fn prepare(
        &mut self,
        id: &ContainerId,
        config: &ContainerConfig,
    ) -> Result<LaunchInfo, IsolatorError> {
        let cgroups = self.cgroups(id);
        for cgroup in cgroups.all() {
            cgroup
                .create()
                .map_err(|e| IsolatorError::cgroups(NAME, id, e))?;
        }
        let applied = self.apply(id, &cgroups, &config.resources);
        self.containers.insert(id.clone(), cgroups);
        applied?;
        Ok(LaunchInfo::default())
    }

    fn isolate(&mut self, id: &ContainerId, pid: i32) -> Result<(), IsolatorError> {
        let cgroups = self
            .containers
            .get(id)
            .ok_or_else(|| IsolatorError::unknown(NAME, id))?;
        for cgroup in cgroups.all() {
            cgroup
                .add_process(pid)
                .map_err(|e| IsolatorError::cgroups(NAME, id, e))?;
        }
        Ok(())
    }

    fn update(&mut self, id: &ContainerId, resources: &Resources) -> Result<(), IsolatorError> {
        let cgroups = self
            .containers
            .get(id)
            .ok_or_else(|| IsolatorError::unknown(NAME, id))?;
        self.apply(id, cgroups, resources)
    }

    fn usage(&mut self, id: &ContainerId) -> Future<ResourceStatistics> {
        let Some(cgroups) = self.containers.get(id) else {
            return Future::failed(IsolatorError::unknown(NAME, id).to_string());
        };
        let mut stats = ResourceStatistics::default();
        match cgroups.cpu.version() {
            CgroupsVersion::V1 => {
                if let Some(acct) = cgroups
                    .cpuacct
                    .as_ref()
                    .and_then(|c| c.read_keyed("cpuacct.stat").ok())
                {
                    let ticks = clock_ticks();
                    stats.cpus_user_time_secs = acct.get("user").map(|t| *t as f64 / ticks);
                    stats.cpus_system_time_secs = acct.get("system").map(|t| *t as f64 / ticks);
                }
                if let Ok(cpu) = cgroups.cpu.read_keyed("cpu.stat") {
                    stats.cpus_nr_periods = cpu.get("nr_periods").map(|v| *v as u32);
                    stats.cpus_nr_throttled = cpu.get("nr_throttled").map(|v| *v as u32);
                    stats.cpus_throttled_time_secs =
                        cpu.get("throttled_time").map(|ns| *ns as f64 / 1e9);
                }
            }
            CgroupsVersion::V2 => {
                if let Ok(cpu) = cgroups.cpu.read_keyed("cpu.stat") {
                    stats.cpus_user_time_secs = cpu.get("user_usec").map(|us| *us as f64 / 1e6);
                    stats.cpus_system_time_secs = cpu.get("system_usec").map(|us| *us as f64 / 1e6);
                    stats.cpus_nr_periods = cpu.get("nr_periods").map(|v| *v as u32);
                    stats.cpus_nr_throttled = cpu.get("nr_throttled").map(|v| *v as u32);
                    stats.cpus_throttled_time_secs =
                        cpu.get("throttled_usec").map(|us| *us as f64 / 1e6);
                }
            }
        }
        Future::ready(stats)
    }

    fn cleanup(&mut self, id: &ContainerId) -> Result<(), IsolatorError> {
        let Some(cgroups) = self.containers.remove(id) else {
            return Ok(());
        };
        for cgroup in cgroups.all() {
            cgroup
                .destroy()
                .map_err(|e| IsolatorError::cgroups(NAME, id, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_upstream() {
        assert_eq!(cpu_shares(1.0), 1024);
        assert_eq!(cpu_shares(0.5), 512);
        assert_eq!(cpu_shares(0.0001), MIN_CPU_SHARES);
        assert_eq!(cfs_quota_us(0.5), 50_000);
        assert_eq!(cfs_quota_us(2.0), 200_000);
        assert_eq!(cfs_quota_us(0.001), MIN_CPU_CFS_QUOTA_US);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1024), 39);
    }
}

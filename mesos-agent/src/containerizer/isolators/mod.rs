//! Isolators: per-resource enforcement and accounting around a container's life (upstream
//! `include/mesos/slave/isolator.hpp`), chosen by `--isolation` (`posix/cpu,posix/mem` by
//! default).
//!
//! The containerizer calls, in order: [`Isolator::prepare`] before the first process is
//! cloned (may add environment and namespaces), [`Isolator::isolate`] once its pid is
//! known and before it execs, [`Isolator::watch`] for limitations, then any number of
//! [`Isolator::update`] / [`Isolator::usage`], and at the end
//! [`Isolator::limitation_at_exit`] and [`Isolator::cleanup`] (in reverse order) after
//! every process is gone. After an agent restart [`Isolator::recover`] comes first.
//!
//! Isolators live inside the containerizer process and are called from its handlers:
//! their work is a few writes to cgroup files or reads of `/proc`, done synchronously. What
//! takes time runs elsewhere and answers with a [`Future`]: limitations (an OOM watcher
//! thread, the `disk/du` process's timer), and `usage` where it must ask another process.

pub mod cgroups_cpu;
pub mod cgroups_devices;
pub mod cgroups_mem;
pub mod disk_du;
pub mod filesystem_posix;
pub mod gpu_nvidia;
pub mod namespaces_pid;
pub mod posix_cpu;
pub mod posix_mem;

use std::collections::BTreeMap;
use std::time::Duration;

use libprocess::Future;
use mesos_core::resources::Resources;
use mesos_core::v0::{ContainerId, ResourceStatistics};
use nix::sched::CloneFlags;
use thiserror::Error;

use crate::containerizer::cgroups::{CgroupsError, Hierarchies};
use crate::containerizer::container::{ContainerConfig, ContainerLimitation, RecoverState};
use crate::containerizer::launcher::LauncherKind;
use crate::paths::container_id_string;

/// The default `--isolation`.
pub const DEFAULT_ISOLATION: &str = "posix/cpu,posix/mem";

/// What an isolator adds to the launch of a container's first process.
#[derive(Clone, Debug)]
pub struct LaunchInfo {
    /// Environment variables to add.
    pub environment: BTreeMap<String, String>,
    /// Namespaces to create.
    pub namespaces: CloneFlags,
    /// Mount a fresh `/proc` in the new mount namespace.
    pub mount_proc: bool,
}

impl Default for LaunchInfo {
    fn default() -> Self {
        LaunchInfo {
            environment: BTreeMap::new(),
            namespaces: CloneFlags::empty(),
            mount_proc: false,
        }
    }
}

impl LaunchInfo {
    /// Merges `other` into `self` (later isolators win on environment clashes).
    pub fn merge(&mut self, other: LaunchInfo) {
        self.environment.extend(other.environment);
        self.namespaces |= other.namespaces;
        self.mount_proc |= other.mount_proc;
    }
}

/// An isolator failure.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IsolatorError {
    /// `--isolation` names an isolator we do not have.
    #[error("unknown or unsupported isolator '{name}'")]
    Unknown {
        /// The name.
        name: String,
    },
    /// The isolator cannot work on this host or with these flags.
    #[error("isolator {isolator} is unavailable: {reason}")]
    Unavailable {
        /// The isolator.
        isolator: &'static str,
        /// Why.
        reason: String,
    },
    /// A cgroups operation failed.
    #[error("isolator {isolator}, container {container_id}")]
    Cgroups {
        /// The isolator.
        isolator: &'static str,
        /// The container.
        container_id: String,
        /// Why.
        #[source]
        source: CgroupsError,
    },
    /// The container's request cannot be met.
    #[error("isolator {isolator}, container {container_id}: {reason}")]
    Rejected {
        /// The isolator.
        isolator: &'static str,
        /// The container.
        container_id: String,
        /// Why.
        reason: String,
    },
    /// The isolator does not know the container.
    #[error("isolator {isolator}: unknown container {container_id}")]
    UnknownContainer {
        /// The isolator.
        isolator: &'static str,
        /// The container.
        container_id: String,
    },
}

impl IsolatorError {
    pub(crate) fn cgroups(isolator: &'static str, id: &ContainerId, source: CgroupsError) -> Self {
        IsolatorError::Cgroups {
            isolator,
            container_id: container_id_string(id),
            source,
        }
    }

    pub(crate) fn unknown(isolator: &'static str, id: &ContainerId) -> Self {
        IsolatorError::UnknownContainer {
            isolator,
            container_id: container_id_string(id),
        }
    }
}

/// One kind of isolation, as upstream's `Isolator`. Every method but `name` has a
/// do-nothing default.
pub trait Isolator: Send + 'static {
    /// Its `--isolation` name (`cgroups/mem`).
    fn name(&self) -> &'static str;

    /// Re-attaches to `states` (the containers the agent recovered) after a restart and
    /// cleans up after `orphans` (containers nobody knows any more, being destroyed).
    fn recover(
        &mut self,
        _states: &[RecoverState],
        _orphans: &[ContainerId],
    ) -> Result<(), IsolatorError> {
        Ok(())
    }

    /// Gets ready for a container about to be launched.
    fn prepare(
        &mut self,
        _id: &ContainerId,
        _config: &ContainerConfig,
    ) -> Result<LaunchInfo, IsolatorError> {
        Ok(LaunchInfo::default())
    }

    /// Isolates the container's first process, which waits to exec.
    fn isolate(&mut self, _id: &ContainerId, _pid: i32) -> Result<(), IsolatorError> {
        Ok(())
    }

    /// A future that is ready if the container hits a limit; `None` if this isolator
    /// reports no limitations.
    fn watch(&mut self, _id: &ContainerId) -> Option<Future<ContainerLimitation>> {
        None
    }

    /// Applies new resources.
    fn update(&mut self, _id: &ContainerId, _resources: &Resources) -> Result<(), IsolatorError> {
        Ok(())
    }

    /// The statistics this isolator knows (merged by the containerizer).
    fn usage(&mut self, _id: &ContainerId) -> Future<ResourceStatistics> {
        Future::ready(ResourceStatistics::default())
    }

    /// After the processes are gone: a limitation the container hit that the watch did not
    /// report in time (an OOM kill racing the exit).
    fn limitation_at_exit(&mut self, _id: &ContainerId) -> Option<ContainerLimitation> {
        None
    }

    /// Releases what the container held (cgroups, GPUs, watchers).
    fn cleanup(&mut self, _id: &ContainerId) -> Result<(), IsolatorError> {
        Ok(())
    }
}

/// What isolators are created with (the containerizer's flags that concern them).
#[derive(Clone, Debug)]
pub struct IsolatorOptions {
    /// `--cgroups_root`.
    pub cgroups_root: String,
    /// `--cgroups_enable_cfs`: also set a CFS quota (a hard cpu limit).
    pub cgroups_enable_cfs: bool,
    /// `--launcher`.
    pub launcher: LauncherKind,
    /// `--container_disk_watch_interval`.
    pub disk_watch_interval: Duration,
    /// `--enforce_container_disk_quota`: destroy containers over their disk quota.
    pub enforce_container_disk_quota: bool,
    /// The cgroups hierarchies, if any are mounted.
    pub hierarchies: Option<Hierarchies>,
}

/// The isolators `--isolation` names, in order, with `filesystem/posix` first when no
/// filesystem isolator is named (as upstream). Duplicates are ignored.
pub fn parse_isolation(isolation: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in isolation
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    if !names.iter().any(|n| n.starts_with("filesystem/")) {
        names.insert(0, filesystem_posix::NAME.to_owned());
    }
    names
}

fn hierarchies<'a>(
    options: &'a IsolatorOptions,
    isolator: &'static str,
) -> Result<&'a Hierarchies, IsolatorError> {
    options
        .hierarchies
        .as_ref()
        .ok_or_else(|| IsolatorError::Unavailable {
            isolator,
            reason: "no cgroups hierarchy is mounted".to_owned(),
        })
}

/// Creates the isolators `--isolation` names.
pub fn create(
    isolation: &str,
    options: &IsolatorOptions,
) -> Result<Vec<Box<dyn Isolator>>, IsolatorError> {
    let mut isolators: Vec<Box<dyn Isolator>> = Vec::new();
    for name in parse_isolation(isolation) {
        let isolator: Box<dyn Isolator> = match name.as_str() {
            posix_cpu::NAME => Box::new(posix_cpu::PosixCpuIsolator::new()),
            posix_mem::NAME => Box::new(posix_mem::PosixMemIsolator::new()),
            filesystem_posix::NAME => Box::new(filesystem_posix::PosixFilesystemIsolator::new()),
            cgroups_cpu::NAME => Box::new(cgroups_cpu::CgroupsCpuIsolator::new(
                hierarchies(options, cgroups_cpu::NAME)?.clone(),
                &options.cgroups_root,
                options.cgroups_enable_cfs,
            )?),
            cgroups_mem::NAME => Box::new(cgroups_mem::CgroupsMemIsolator::new(
                hierarchies(options, cgroups_mem::NAME)?.clone(),
                &options.cgroups_root,
            )?),
            cgroups_devices::NAME => Box::new(cgroups_devices::CgroupsDevicesIsolator::new(
                hierarchies(options, cgroups_devices::NAME)?.clone(),
                &options.cgroups_root,
            )?),
            gpu_nvidia::NAME => Box::new(gpu_nvidia::NvidiaGpuIsolator::new(
                options.hierarchies.clone(),
                &options.cgroups_root,
            )?),
            namespaces_pid::NAME => {
                Box::new(namespaces_pid::PidNamespaceIsolator::new(options.launcher)?)
            }
            disk_du::NAME => Box::new(disk_du::DiskDuIsolator::new(
                options.disk_watch_interval,
                options.enforce_container_disk_quota,
            )),
            _ => return Err(IsolatorError::Unknown { name }),
        };
        isolators.push(isolator);
    }
    Ok(isolators)
}

/// Megabytes of a `mem`/`disk` resource as bytes.
pub(crate) fn megabytes_to_bytes(megabytes: f64) -> u64 {
    (megabytes * 1024.0 * 1024.0).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_flag_parsing() {
        assert_eq!(
            parse_isolation("posix/cpu,posix/mem"),
            vec!["filesystem/posix", "posix/cpu", "posix/mem"]
        );
        assert_eq!(
            parse_isolation("filesystem/posix, cgroups/mem,cgroups/mem"),
            vec!["filesystem/posix", "cgroups/mem"]
        );
    }

    #[test]
    fn unknown_isolators_are_refused() {
        let options = IsolatorOptions {
            cgroups_root: "mesos".into(),
            cgroups_enable_cfs: false,
            launcher: LauncherKind::Posix,
            disk_watch_interval: Duration::from_secs(15),
            enforce_container_disk_quota: false,
            hierarchies: None,
        };
        assert!(matches!(
            create("posix/cpu,network/cni", &options),
            Err(IsolatorError::Unknown { name }) if name == "network/cni"
        ));
        assert!(matches!(
            create("namespaces/pid", &options),
            Err(IsolatorError::Unavailable { .. })
        ));
        assert_eq!(create(DEFAULT_ISOLATION, &options).unwrap().len(), 3);
    }
}

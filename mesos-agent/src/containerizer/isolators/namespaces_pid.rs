//! `namespaces/pid` (upstream `NamespacesPidIsolatorProcess`): the container's first
//! process is the init (pid 1) of a new pid namespace and sees only its own processes: it
//! also gets a private mount namespace with a fresh `/proc`. Needs the linux launcher,
//! which clones into the namespaces; when the init dies the kernel kills the rest.

use mesos_core::v0::ContainerId;
use nix::sched::CloneFlags;

use super::{Isolator, IsolatorError, LaunchInfo};
use crate::containerizer::container::ContainerConfig;
use crate::containerizer::launcher::LauncherKind;

/// Its `--isolation` name.
pub const NAME: &str = "namespaces/pid";

/// Stateless: it only asks for the namespaces.
#[derive(Debug)]
pub struct PidNamespaceIsolator;

impl PidNamespaceIsolator {
    /// Fails unless the launcher is `linux` and we are root.
    pub fn new(launcher: LauncherKind) -> Result<PidNamespaceIsolator, IsolatorError> {
        if launcher != LauncherKind::Linux {
            return Err(IsolatorError::Unavailable {
                isolator: NAME,
                reason: "it needs --launcher=linux".to_owned(),
            });
        }
        if !nix::unistd::geteuid().is_root() {
            return Err(IsolatorError::Unavailable {
                isolator: NAME,
                reason: "it needs root".to_owned(),
            });
        }
        Ok(PidNamespaceIsolator)
    }
}

impl Isolator for PidNamespaceIsolator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(
        &mut self,
        _id: &ContainerId,
        _config: &ContainerConfig,
    ) -> Result<LaunchInfo, IsolatorError> {
        Ok(LaunchInfo {
            namespaces: CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS,
            mount_proc: true,
            ..LaunchInfo::default()
        })
    }
}

//! Launchers: how a container's processes are started, tracked and killed (upstream
//! `src/slave/containerizer/mesos/launcher.hpp`).
//!
//! - [`posix`]: the first process leads a new session; the container is that session (and
//!   process group, and the first process's descendants). A process that starts a session
//!   of its own escapes it, as upstream.
//! - [`linux`]: the first process is put into a freezer cgroup (v1) or the container's
//!   unified cgroup (v2) before it execs, optionally as the init of a new pid namespace;
//!   the container is everything in that cgroup, which nothing escapes.
//!
//! A launcher is owned by the containerizer process and called from its handlers. Killing
//! can take a moment (processes die asynchronously), so [`Launcher::destroy`] hands the
//! bounded kill loop to a helper thread and returns a future.

pub mod linux;
pub mod posix;

use std::fmt;
use std::str::FromStr;

use libprocess::Future;
use mesos_core::v0::ContainerId;
use nix::sys::signal::Signal;
use thiserror::Error;

use crate::containerizer::cgroups::CgroupsError;
use crate::containerizer::spawn::{ChildSpec, SpawnError, Spawned};

pub use linux::LinuxLauncher;
pub use posix::PosixLauncher;

/// `--launcher`: which launcher to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LauncherKind {
    /// Sessions and process groups.
    #[default]
    Posix,
    /// cgroups (freezer on v1) and, with `namespaces/pid`, a pid namespace.
    Linux,
}

impl fmt::Display for LauncherKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LauncherKind::Posix => "posix",
            LauncherKind::Linux => "linux",
        })
    }
}

impl FromStr for LauncherKind {
    type Err = LauncherError;

    fn from_str(s: &str) -> Result<LauncherKind, LauncherError> {
        match s {
            "posix" => Ok(LauncherKind::Posix),
            "linux" => Ok(LauncherKind::Linux),
            other => Err(LauncherError::UnknownKind {
                name: other.to_owned(),
            }),
        }
    }
}

/// A launcher failure.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LauncherError {
    /// `--launcher` names no launcher.
    #[error("unknown launcher '{name}' (expected 'posix' or 'linux')")]
    UnknownKind {
        /// The name given.
        name: String,
    },
    /// The container was already forked.
    #[error("container {container_id} already has processes")]
    AlreadyForked {
        /// The container.
        container_id: String,
    },
    /// The launcher does not know the container.
    #[error("unknown container {container_id}")]
    UnknownContainer {
        /// The container.
        container_id: String,
    },
    /// The process could not be started.
    #[error("cannot start the first process of container {container_id}")]
    Spawn {
        /// The container.
        container_id: String,
        /// Why.
        #[source]
        source: SpawnError,
    },
    /// A cgroups operation failed.
    #[error("container {container_id}")]
    Cgroups {
        /// The container.
        container_id: String,
        /// Why.
        #[source]
        source: CgroupsError,
    },
    /// The launcher cannot work on this host.
    #[error("the {launcher} launcher is unavailable: {reason}")]
    Unavailable {
        /// Which launcher.
        launcher: &'static str,
        /// Why.
        reason: String,
    },
}

/// Starts, signals and kills the processes of containers.
pub trait Launcher: Send + 'static {
    /// Its `--launcher` name.
    fn kind(&self) -> LauncherKind;

    /// Re-attaches to the containers the agent knows (with the pid of their first process
    /// when it has one) and returns the IDs of containers the launcher finds that are not
    /// among them: orphans, to be destroyed.
    fn recover(
        &mut self,
        containers: &[(ContainerId, Option<i32>)],
    ) -> Result<Vec<ContainerId>, LauncherError>;

    /// Clones the container's first process for `spec`, parked until
    /// [`Spawned::release`], and starts tracking it.
    fn fork(&mut self, id: &ContainerId, spec: ChildSpec) -> Result<Spawned, LauncherError>;

    /// Sends `signal` to every process of the container.
    fn signal(&mut self, id: &ContainerId, signal: Signal) -> Result<(), LauncherError>;

    /// Kills every process of the container with SIGKILL; the future is ready once none
    /// is left alive (it fails if some survive the bounded kill loop). Unknown containers
    /// are ready at once.
    fn destroy(&mut self, id: &ContainerId) -> Future<()>;

    /// Forgets the container and removes what the launcher made for it (its cgroup).
    fn cleanup(&mut self, id: &ContainerId) -> Result<(), LauncherError>;
}

/// Runs `work` on a helper thread and turns its result into a future.
pub(crate) fn in_thread<F>(name: &str, work: F) -> Future<()>
where
    F: FnOnce() -> Result<(), String> + Send + 'static,
{
    let promise = libprocess::Promise::new();
    let future = promise.future();
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || match work() {
            Ok(()) => {
                promise.set(());
            }
            Err(message) => {
                promise.fail(message);
            }
        });
    match spawned {
        Ok(_) => future,
        Err(error) => Future::failed(format!("cannot start a thread: {error}")),
    }
}

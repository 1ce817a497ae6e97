//! The posix launcher (upstream `PosixLauncher`): a container is the session its first
//! process leads. Destroy SIGKILLs every member of the session and process group and every
//! descendant of the first process, again and again, until none is alive.

use std::collections::HashMap;
use std::time::Duration;

use libprocess::Future;
use mesos_core::v0::ContainerId;
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tracing::debug;

use super::{Launcher, LauncherError, LauncherKind, in_thread};
use crate::containerizer::spawn::{self, ChildSpec, Spawned};
use crate::containerizer::usage;
use crate::paths::container_id_string;

/// How many kill rounds before giving up on a process tree (5 ms apart).
const KILL_ROUNDS: u32 = 400;

/// Tracks containers by the pid (and session id) of their first process.
#[derive(Debug, Default)]
pub struct PosixLauncher {
    pids: HashMap<ContainerId, i32>,
}

impl PosixLauncher {
    /// A launcher tracking nothing yet.
    pub fn new() -> PosixLauncher {
        PosixLauncher::default()
    }
}

/// Sends `signal` to every living member of session `sid`; returns how many it found.
pub(crate) fn signal_session(sid: i32, signal: Signal) -> usize {
    let table = usage::processes();
    let members = usage::session_members(&table, sid);
    for pid in &members {
        let _ = kill(Pid::from_raw(*pid), signal);
    }
    members.len()
}

/// SIGKILLs the session until nothing of it is alive (bounded).
pub(crate) fn kill_session(sid: i32) -> Result<(), String> {
    for round in 0..KILL_ROUNDS {
        // Stop first so that nothing forks between the scan and the kill.
        if signal_session(sid, Signal::SIGSTOP) == 0 {
            return Ok(());
        }
        signal_session(sid, Signal::SIGKILL);
        if round > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let table = usage::processes();
    Err(format!(
        "processes {:?} of session {sid} survived SIGKILL",
        usage::session_members(&table, sid)
    ))
}

impl Launcher for PosixLauncher {
    fn kind(&self) -> LauncherKind {
        LauncherKind::Posix
    }

    fn recover(
        &mut self,
        containers: &[(ContainerId, Option<i32>)],
    ) -> Result<Vec<ContainerId>, LauncherError> {
        for (id, pid) in containers {
            if let Some(pid) = pid {
                self.pids.insert(id.clone(), *pid);
            }
        }
        // Sessions leave no trace to find orphans by: the containerizer's runtime
        // directory does that.
        Ok(Vec::new())
    }

    fn fork(&mut self, id: &ContainerId, spec: &ChildSpec) -> Result<Spawned, LauncherError> {
        if self.pids.contains_key(id) {
            return Err(LauncherError::AlreadyForked {
                container_id: container_id_string(id),
            });
        }
        if !spec.namespaces.is_empty() && spec.namespaces != CloneFlags::empty() {
            return Err(LauncherError::Unavailable {
                launcher: "posix",
                reason: "namespaces need the linux launcher".to_owned(),
            });
        }
        let spawned = spawn::spawn(spec).map_err(|source| LauncherError::Spawn {
            container_id: container_id_string(id),
            source,
        })?;
        debug!(container_id = %container_id_string(id), pid = spawned.pid().as_raw(), "forked");
        self.pids.insert(id.clone(), spawned.pid().as_raw());
        Ok(spawned)
    }

    fn signal(&mut self, id: &ContainerId, signal: Signal) -> Result<(), LauncherError> {
        let pid = self
            .pids
            .get(id)
            .ok_or_else(|| LauncherError::UnknownContainer {
                container_id: container_id_string(id),
            })?;
        signal_session(*pid, signal);
        Ok(())
    }

    fn destroy(&mut self, id: &ContainerId) -> Future<()> {
        match self.pids.get(id) {
            None => Future::ready(()),
            Some(&sid) => in_thread("posix-destroy", move || kill_session(sid)),
        }
    }

    fn cleanup(&mut self, id: &ContainerId) -> Result<(), LauncherError> {
        self.pids.remove(id);
        Ok(())
    }
}

//! The linux launcher (upstream `LinuxLauncher`): the first process enters the container's
//! cgroup before it execs — `freezer/<root>/<id>` on cgroups v1, `<root>/<id>` of the
//! unified hierarchy on v2 — so every descendant is tracked, whatever sessions it makes.
//! With `namespaces/pid` the first process is also the init of a new pid namespace (and
//! gets a private mount namespace with its own `/proc`).
//!
//! Destroy: v1 freezes the cgroup, SIGKILLs everything in it and thaws it; v2 writes
//! `cgroup.kill` where the kernel has it. Both then kill again until nothing is alive.
//! Recovery lists the cgroups under the root: those the agent does not know are orphans.

use std::collections::{HashMap, HashSet};

use libprocess::Future;
use mesos_core::v0::ContainerId;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tracing::{debug, warn};

use super::{Launcher, LauncherError, LauncherKind, in_thread};
use crate::containerizer::cgroups::{Cgroup, CgroupsVersion, Hierarchies};
use crate::containerizer::spawn::{self, ChildSpec, Spawned};
use crate::containerizer::usage::Session;
use crate::paths::container_id_string;

/// The controller whose hierarchy tracks processes on v1.
const FREEZER: &str = "freezer";

/// Tracks containers by cgroup.
#[derive(Debug)]
pub struct LinuxLauncher {
    hierarchies: Hierarchies,
    root: String,
    pids: HashMap<ContainerId, Option<Session>>,
    /// Containers this launcher forked: their first process entered the cgroup before it
    /// ran anything of its own, so the cgroup holds every descendant.
    forked: HashSet<ContainerId>,
}

impl LinuxLauncher {
    /// A launcher whose cgroups live under `root` (`--cgroups_root`).
    pub fn new(
        hierarchies: Hierarchies,
        root: impl Into<String>,
    ) -> Result<LinuxLauncher, LauncherError> {
        if !nix::unistd::geteuid().is_root() {
            return Err(LauncherError::Unavailable {
                launcher: "linux",
                reason: "the linux launcher needs root".to_owned(),
            });
        }
        if hierarchies.version() == CgroupsVersion::V1 && !hierarchies.has(FREEZER) {
            return Err(LauncherError::Unavailable {
                launcher: "linux",
                reason: "the freezer cgroup hierarchy is not mounted".to_owned(),
            });
        }
        Ok(LinuxLauncher {
            hierarchies,
            root: root.into(),
            pids: HashMap::new(),
            forked: HashSet::new(),
        })
    }

    fn cgroup(&self, id: &ContainerId) -> Cgroup {
        self.hierarchies
            .cgroup(FREEZER, &self.root, id)
            .expect("checked at creation: the freezer (or unified) hierarchy exists")
    }

    fn error(
        id: &ContainerId,
        source: crate::containerizer::cgroups::CgroupsError,
    ) -> LauncherError {
        LauncherError::Cgroups {
            container_id: container_id_string(id),
            source,
        }
    }
}

/// Kills everything in `cgroup` until nothing is alive.
fn kill_cgroup(cgroup: &Cgroup) -> Result<(), String> {
    if !cgroup.exists() {
        return Ok(());
    }
    match cgroup.version() {
        CgroupsVersion::V1 => {
            // Frozen processes cannot fork between our scan and our kill; SIGKILL is
            // delivered once they thaw.
            if let Err(error) = cgroup.set_frozen(true) {
                warn!(cgroup = %cgroup.path().display(), %error, "cannot freeze; killing anyway");
            }
            for pid in cgroup.all_processes() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = cgroup.set_frozen(false);
        }
        CgroupsVersion::V2 => {
            if cgroup.path().join("cgroup.kill").exists() {
                let _ = cgroup.write("cgroup.kill", "1");
            }
        }
    }
    cgroup.kill_all().map_err(|error| error.to_string())
}

impl Launcher for LinuxLauncher {
    fn kind(&self) -> LauncherKind {
        LauncherKind::Linux
    }

    fn recover(
        &mut self,
        containers: &[(ContainerId, Option<i32>)],
    ) -> Result<Vec<ContainerId>, LauncherError> {
        for (id, pid) in containers {
            self.pids.insert(id.clone(), pid.map(Session::recovered));
        }
        let orphans: Vec<ContainerId> = self
            .hierarchies
            .containers(FREEZER, &self.root)
            .into_iter()
            .filter(|id| !self.pids.contains_key(id))
            .collect();
        for id in &orphans {
            debug!(container_id = %container_id_string(id), "orphan cgroup found");
            self.pids.insert(id.clone(), None);
        }
        Ok(orphans)
    }

    fn fork(&mut self, id: &ContainerId, spec: ChildSpec) -> Result<Spawned, LauncherError> {
        if self.pids.contains_key(id) {
            return Err(LauncherError::AlreadyForked {
                container_id: container_id_string(id),
            });
        }
        let cgroup = self.cgroup(id);
        cgroup.create().map_err(|e| Self::error(id, e))?;
        let spawned = match spawn::spawn(spec) {
            Ok(spawned) => spawned,
            Err(source) => {
                let _ = cgroup.destroy();
                return Err(LauncherError::Spawn {
                    container_id: container_id_string(id),
                    source,
                });
            }
        };
        let pid = spawned.pid().as_raw();
        if let Err(error) = cgroup.add_process(pid) {
            spawned.abort();
            let _ = cgroup.destroy();
            return Err(Self::error(id, error));
        }
        debug!(container_id = %container_id_string(id), pid, cgroup = %cgroup.path().display(), "forked");
        self.pids.insert(id.clone(), Some(Session::started(pid)));
        self.forked.insert(id.clone());
        Ok(spawned)
    }

    fn signal(&mut self, id: &ContainerId, signal: Signal) -> Result<(), LauncherError> {
        if !self.pids.contains_key(id) {
            return Err(LauncherError::UnknownContainer {
                container_id: container_id_string(id),
            });
        }
        for pid in self.cgroup(id).all_processes() {
            let _ = kill(Pid::from_raw(pid), signal);
        }
        Ok(())
    }

    fn destroy(&mut self, id: &ContainerId) -> Future<()> {
        if !self.pids.contains_key(id) {
            return Future::ready(());
        }
        let cgroup = self.cgroup(id);
        // A recovered first process that was never moved into the cgroup (it should have
        // been) is killed by its session, like the posix launcher does. One we forked was in
        // the cgroup before it ran: killing the cgroup is enough, and spares a scan of every
        // process of the host per destroy.
        let pid = if self.forked.contains(id) {
            None
        } else {
            self.pids.get(id).copied().flatten()
        };
        in_thread("linux-destroy", move || {
            kill_cgroup(&cgroup)?;
            if let Some(pid) = pid {
                super::posix::kill_session(pid)?;
            }
            Ok(())
        })
    }

    fn cleanup(&mut self, id: &ContainerId) -> Result<(), LauncherError> {
        self.pids.remove(id);
        self.forked.remove(id);
        self.cgroup(id).destroy().map_err(|e| Self::error(id, e))
    }
}

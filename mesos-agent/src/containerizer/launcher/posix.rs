//! The posix launcher (upstream `PosixLauncher`): a container is the session its first
//! process leads. Destroy SIGKILLs every member of the session and every descendant of the
//! first process, again and again, until none is alive. A session is known by its id and its
//! leader's start time ([`usage::Session`]), so a reused pid never makes us kill someone
//! else's processes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use libprocess::Future;
use mesos_core::v0::ContainerId;
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tracing::debug;

use super::{Launcher, LauncherError, LauncherKind};
use crate::containerizer::spawn::{self, ChildSpec, Spawned};
use crate::containerizer::usage::{self, Session};
use crate::paths::container_id_string;

/// How many kill rounds before giving up on a process tree (5 ms apart).
const KILL_ROUNDS: u32 = 400;

/// Tracks containers by the session of their first process.
#[derive(Debug, Default)]
pub struct PosixLauncher {
    pids: HashMap<ContainerId, Session>,
}

impl PosixLauncher {
    /// A launcher tracking nothing yet.
    pub fn new() -> PosixLauncher {
        PosixLauncher::default()
    }
}

/// Sends `signal` to every living member of `session`; returns how many it found.
pub(crate) fn signal_session(session: Session, signal: Signal) -> usize {
    let table = usage::processes();
    let members = usage::session_members(&table, session);
    for pid in &members {
        let _ = kill(Pid::from_raw(*pid), signal);
    }
    members.len()
}

/// SIGKILLs the session until nothing of it is alive (bounded).
pub(crate) fn kill_session(session: Session) -> Result<(), String> {
    let sid = session.sid;
    for round in 0..KILL_ROUNDS {
        // Stop first so that nothing forks between the scan and the kill.
        if signal_session(session, Signal::SIGSTOP) == 0 {
            return Ok(());
        }
        signal_session(session, Signal::SIGKILL);
        if round > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let table = usage::processes();
    Err(format!(
        "processes {:?} of session {sid} survived SIGKILL",
        usage::session_members(&table, session)
    ))
}

/// Sessions waiting to be killed by the shared killer thread, and whether it runs.
#[derive(Default)]
struct KillQueue {
    pending: Vec<(Session, libprocess::Promise<()>)>,
    running: bool,
}

fn kill_queue() -> &'static Mutex<KillQueue> {
    static QUEUE: OnceLock<Mutex<KillQueue>> = OnceLock::new();
    QUEUE.get_or_init(Mutex::default)
}

/// As [`kill_session`], on one thread shared by every session being killed: each round
/// reads the process table once for all of them (not once per session), so destroying
/// many containers at once costs a few scans of `/proc` instead of a few per container.
pub(crate) fn kill_session_shared(session: Session) -> Future<()> {
    let promise = libprocess::Promise::new();
    let future = promise.future();
    let mut queue = kill_queue().lock().expect("kill queue lock");
    queue.pending.push((session, promise));
    if !queue.running {
        queue.running = true;
        let spawned = std::thread::Builder::new()
            .name("posix-destroy".to_owned())
            .spawn(killer);
        if let Err(error) = spawned {
            queue.running = false;
            for (_, promise) in queue.pending.drain(..) {
                promise.fail(format!("cannot start a thread: {error}"));
            }
        }
    }
    future
}

/// The shared killer: SIGSTOP then SIGKILL every live member of every pending session,
/// round after round (5 ms apart), until a scan finds none left of a session.
fn killer() {
    // Sessions being killed, with the rounds they have had.
    let mut active: Vec<(Session, libprocess::Promise<()>, u32)> = Vec::new();
    loop {
        {
            let mut queue = kill_queue().lock().expect("kill queue lock");
            active.extend(queue.pending.drain(..).map(|(s, p)| (s, p, 0)));
            if active.is_empty() {
                queue.running = false;
                return;
            }
        }
        let table = usage::processes();
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        let mut by_session: HashMap<i32, Vec<i32>> = HashMap::new();
        for p in table.values() {
            children.entry(p.ppid).or_default().push(p.pid);
            by_session.entry(p.sid).or_default().push(p.pid);
        }
        let mut still = Vec::with_capacity(active.len());
        for (session, promise, rounds) in active.drain(..) {
            let sid = session.sid;
            let members = live_members(&table, &children, &by_session, session);
            if members.is_empty() {
                promise.set(());
                continue;
            }
            if rounds >= KILL_ROUNDS {
                promise.fail(format!(
                    "processes {members:?} of session {sid} survived SIGKILL"
                ));
                continue;
            }
            for signal in [Signal::SIGSTOP, Signal::SIGKILL] {
                for pid in &members {
                    let _ = kill(Pid::from_raw(*pid), signal);
                }
            }
            still.push((session, promise, rounds + 1));
        }
        active = still;
        if !active.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// As [`usage::session_members`], from maps built once per round: the live (not zombie)
/// members of `session` and the descendants of its first process while that one is ours.
fn live_members(
    table: &BTreeMap<i32, usage::ProcessInfo>,
    children: &HashMap<i32, Vec<i32>>,
    by_session: &HashMap<i32, Vec<i32>>,
    session: Session,
) -> Vec<i32> {
    let sid = session.sid;
    let leader_is_ours = match session.leader_is_ours(table) {
        Some(false) => return Vec::new(),
        Some(true) => true,
        None => false,
    };
    let mut members: Vec<i32> = by_session
        .get(&sid)
        .into_iter()
        .flatten()
        .copied()
        .filter(|pid| table.get(pid).is_some_and(|p| session.may_own(p)))
        .collect();
    if leader_is_ours {
        let mut stack = vec![sid];
        while let Some(pid) = stack.pop() {
            if table.contains_key(&pid) && !members.contains(&pid) {
                members.push(pid);
            }
            if let Some(kids) = children.get(&pid) {
                stack.extend(kids.iter().copied().filter(|k| *k != pid));
            }
        }
    }
    members.sort_unstable();
    members.dedup();
    members.retain(|pid| table.get(pid).is_some_and(|p| !p.is_zombie()));
    members
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
                self.pids.insert(id.clone(), Session::recovered(*pid));
            }
        }
        // Sessions leave no trace to find orphans by: the containerizer's runtime
        // directory does that.
        Ok(Vec::new())
    }

    fn fork(&mut self, id: &ContainerId, spec: ChildSpec) -> Result<Spawned, LauncherError> {
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
        // The child is parked, unreaped, until released: its start time is surely its own.
        self.pids
            .insert(id.clone(), Session::started(spawned.pid().as_raw()));
        Ok(spawned)
    }

    fn signal(&mut self, id: &ContainerId, signal: Signal) -> Result<(), LauncherError> {
        let session = self
            .pids
            .get(id)
            .ok_or_else(|| LauncherError::UnknownContainer {
                container_id: container_id_string(id),
            })?;
        signal_session(*session, signal);
        Ok(())
    }

    fn destroy(&mut self, id: &ContainerId) -> Future<()> {
        match self.pids.get(id) {
            None => Future::ready(()),
            Some(&session) => kill_session_shared(session),
        }
    }

    fn cleanup(&mut self, id: &ContainerId) -> Result<(), LauncherError> {
        self.pids.remove(id);
        Ok(())
    }
}

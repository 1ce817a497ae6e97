//! The Mesos containerizer (upstream `src/slave/containerizer/mesos/containerizer.cpp`):
//! runs each container's first process in its sandbox through a [launcher] and
//! [isolators], and reports how it ended.
//!
//! [`Containerizer`] is the cheap-to-clone handle the agent holds; its methods only
//! dispatch to the [`ContainerizerProcess`], which owns the containers, the launcher and the
//! isolators.
//!
//! Protocol (all from the agent, each answering with a [`Future`]):
//! - `launch(id, config)`: isolators `prepare` → launcher `fork` (the child parks before
//!   exec) → the pid is checkpointed to `<runtime_dir>/containers/<id>/pid` → isolators
//!   `isolate(pid)` → the child execs → isolators `watch` for limitations. Ready once the
//!   command runs; failed (and the container destroyed) if any step fails.
//! - `wait(id)`: the [`ContainerTermination`] once the container is gone (`None` for an
//!   unknown container; the last [`TERMINATIONS_KEPT`] terminations are remembered, so a
//!   `wait` that comes after a quick exit still gets the answer).
//! - `destroy(id)`: optionally SIGTERM and a grace period (`kill_grace_period`), then the
//!   launcher SIGKILLs the whole process tree; once every process is gone and the first one
//!   has been reaped, isolators `cleanup` (in reverse order), the launcher forgets it and
//!   `wait` completes.
//! - `update(id, resources)`, `usage(id)` (statistics of every isolator merged, plus the
//!   limits of the container's resources and a timestamp), `containers()`.
//! - `recover(states)`: after an agent restart, re-attaches to the containers of the agent's
//!   checkpoint (by pid) and destroys orphans: containers the runtime directory or the
//!   launcher know but the agent does not.
//!
//! Events from elsewhere: a reaper thread per launched child (`waitpid`) dispatches
//! `reaped`; recovered containers (not our children) are polled with [`delay`]; isolators'
//! limitation futures dispatch `limited`. The first process ending, or a limitation,
//! destroys the container.
//!
//! Invariants: a container is in `containers` from `launch` (or `recover`) until its
//! termination is set; once `Destroying` it never goes back; isolator `cleanup` runs only
//! after the launcher reports every process dead and the first process has been reaped.

pub mod cgroups;
pub mod container;
pub mod isolators;
pub mod launcher;
pub mod spawn;
pub mod usage;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ffi::CString;
use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use libprocess::{
    Context, Future, Pid, Process, Promise, Timer, await_all, call, call_future, defer, delay,
    dispatch,
};
use mesos_core::resources::Resources;
use mesos_core::v0::environment::variable::Type as VariableType;
use mesos_core::v0::task_status::Reason;
use mesos_core::v0::{ContainerId, ResourceStatistics, TaskState};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use prost::Message;
use thiserror::Error;
use tracing::{debug, info, warn};

pub use container::{
    ContainerConfig, ContainerLimitation, ContainerTermination, ExitStatus, RecoverState,
};
pub use isolators::{DEFAULT_ISOLATION, Isolator, IsolatorError, IsolatorOptions, LaunchInfo};
pub use launcher::{Launcher, LauncherError, LauncherKind};

use crate::paths::{self, container_id_string};
use cgroups::Hierarchies;
use spawn::{ChildSpec, Credentials, ExecWait, SpawnError, cstring};

/// Upstream's `--runtime_dir` default.
pub const DEFAULT_RUNTIME_DIR: &str = "/var/run/mesos";
/// Upstream's `--cgroups_root` default.
pub const DEFAULT_CGROUPS_ROOT: &str = "mesos";
/// The `PATH` a command gets when neither the agent nor the command sets one (stout's
/// `os::host_default_path`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How many terminations of destroyed containers `wait` still answers for (oldest
/// forgotten first), so that a `wait` racing a quick exit does not find an unknown container.
pub const TERMINATIONS_KEPT: usize = 1024;
/// How often a recovered container's first process (not our child) is checked for exit.
pub const RECOVERED_REAP_INTERVAL: Duration = Duration::from_millis(100);
/// A reaper thread only waits: a small stack keeps thousands of them cheap.
const REAPER_STACK_SIZE: usize = 64 * 1024;

/// Why a containerizer could not be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ContainerizerError {
    /// `--launcher` cannot be used.
    #[error("cannot create the launcher")]
    Launcher(#[from] LauncherError),
    /// `--isolation` cannot be used.
    #[error("cannot create the isolators")]
    Isolator(#[from] IsolatorError),
    /// The runtime directory cannot be created.
    #[error("cannot create the runtime directory {path}")]
    RuntimeDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Configures and builds a [`Containerizer`] (the agent's containerizer flags).
#[derive(Clone, Debug)]
pub struct ContainerizerBuilder {
    isolation: String,
    launcher: LauncherKind,
    runtime_dir: PathBuf,
    cgroups_root: String,
    cgroups_enable_cfs: bool,
    disk_watch_interval: Duration,
    enforce_container_disk_quota: bool,
    kill_grace_period: Duration,
}

impl Default for ContainerizerBuilder {
    fn default() -> Self {
        ContainerizerBuilder {
            isolation: DEFAULT_ISOLATION.to_owned(),
            launcher: LauncherKind::Posix,
            runtime_dir: PathBuf::from(DEFAULT_RUNTIME_DIR),
            cgroups_root: DEFAULT_CGROUPS_ROOT.to_owned(),
            cgroups_enable_cfs: false,
            disk_watch_interval: isolators::disk_du::DEFAULT_WATCH_INTERVAL,
            enforce_container_disk_quota: false,
            kill_grace_period: Duration::ZERO,
        }
    }
}

impl ContainerizerBuilder {
    /// `--isolation` (default `posix/cpu,posix/mem`).
    pub fn isolation(mut self, isolation: impl Into<String>) -> Self {
        self.isolation = isolation.into();
        self
    }

    /// `--launcher` (default `posix`).
    pub fn launcher(mut self, launcher: LauncherKind) -> Self {
        self.launcher = launcher;
        self
    }

    /// `--runtime_dir` (default `/var/run/mesos`): where pids are checkpointed.
    pub fn runtime_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.runtime_dir = dir.into();
        self
    }

    /// `--cgroups_root` (default `mesos`).
    pub fn cgroups_root(mut self, root: impl Into<String>) -> Self {
        self.cgroups_root = root.into();
        self
    }

    /// `--cgroups_enable_cfs`: hard cpu limits (CFS quota) besides shares.
    pub fn cgroups_enable_cfs(mut self, enable: bool) -> Self {
        self.cgroups_enable_cfs = enable;
        self
    }

    /// `--container_disk_watch_interval` for `disk/du` (default 15 s).
    pub fn disk_watch_interval(mut self, interval: Duration) -> Self {
        self.disk_watch_interval = interval;
        self
    }

    /// `--enforce_container_disk_quota` for `disk/du` (default off: usage only).
    pub fn enforce_container_disk_quota(mut self, enforce: bool) -> Self {
        self.enforce_container_disk_quota = enforce;
        self
    }

    /// How long `destroy` waits after SIGTERM before SIGKILL (default 0: SIGKILL at once,
    /// as upstream's containerizer).
    pub fn kill_grace_period(mut self, grace: Duration) -> Self {
        self.kill_grace_period = grace;
        self
    }

    /// Creates the launcher and isolators and spawns the process on the current runtime.
    pub fn build(self) -> Result<Containerizer, ContainerizerError> {
        std::fs::create_dir_all(&self.runtime_dir).map_err(|source| {
            ContainerizerError::RuntimeDir {
                path: self.runtime_dir.clone(),
                source,
            }
        })?;
        let hierarchies = Hierarchies::detect().ok();
        let launcher: Box<dyn Launcher> = match self.launcher {
            LauncherKind::Posix => Box::new(launcher::PosixLauncher::new()),
            LauncherKind::Linux => {
                let h = hierarchies
                    .clone()
                    .ok_or_else(|| LauncherError::Unavailable {
                        launcher: "linux",
                        reason: "no cgroups hierarchy is mounted".to_owned(),
                    })?;
                Box::new(launcher::LinuxLauncher::new(h, &self.cgroups_root)?)
            }
        };
        let options = IsolatorOptions {
            cgroups_root: self.cgroups_root.clone(),
            cgroups_enable_cfs: self.cgroups_enable_cfs,
            launcher: self.launcher,
            disk_watch_interval: self.disk_watch_interval,
            enforce_container_disk_quota: self.enforce_container_disk_quota,
            hierarchies,
        };
        let isolators = isolators::create(&self.isolation, &options)?;
        info!(
            isolation = %isolators.iter().map(|i| i.name()).collect::<Vec<_>>().join(","),
            launcher = %self.launcher,
            "containerizer created"
        );
        let pid = libprocess::spawn(ContainerizerProcess {
            runtime_dir: self.runtime_dir,
            kill_grace_period: self.kill_grace_period,
            launcher,
            isolators,
            containers: HashMap::new(),
            terminated: HashMap::new(),
            terminated_order: VecDeque::new(),
            me: None,
        });
        Ok(Containerizer { pid })
    }
}

/// The handle: clone freely; every method dispatches to the [`ContainerizerProcess`].
#[derive(Clone, Debug)]
pub struct Containerizer {
    pid: Pid<ContainerizerProcess>,
}

impl Containerizer {
    /// A builder with upstream's defaults.
    pub fn builder() -> ContainerizerBuilder {
        ContainerizerBuilder::default()
    }

    /// Launches a container; ready once its command runs.
    pub fn launch(&self, container_id: ContainerId, config: ContainerConfig) -> Future<()> {
        call_future(&self.pid, move |p: &mut ContainerizerProcess| {
            p.launch(container_id, config)
        })
    }

    /// How the container ended, once it has; `None` for an unknown container.
    pub fn wait(&self, container_id: ContainerId) -> Future<Option<ContainerTermination>> {
        call_future(&self.pid, move |p: &mut ContainerizerProcess| {
            p.wait(&container_id)
        })
    }

    /// Kills the container's processes and cleans up; `None` for an unknown container.
    pub fn destroy(&self, container_id: ContainerId) -> Future<Option<ContainerTermination>> {
        call_future(&self.pid, move |p: &mut ContainerizerProcess| {
            p.destroy(container_id)
        })
    }

    /// Gives the container new resources (isolators apply them).
    pub fn update(&self, container_id: ContainerId, resources: Resources) -> Future<()> {
        call_future(&self.pid, move |p: &mut ContainerizerProcess| {
            p.update(&container_id, resources)
        })
    }

    /// The container's resource statistics.
    pub fn usage(&self, container_id: ContainerId) -> Future<ResourceStatistics> {
        call_future(&self.pid, move |p: &mut ContainerizerProcess| {
            p.usage(&container_id)
        })
    }

    /// The containers it knows (launched, running or being destroyed).
    pub fn containers(&self) -> Future<BTreeSet<ContainerId>> {
        call(&self.pid, |p: &mut ContainerizerProcess| {
            p.containers.keys().cloned().collect()
        })
    }

    /// The pid of the container's first process, if it has one.
    pub fn pid(&self, container_id: ContainerId) -> Future<Option<i32>> {
        call(&self.pid, move |p: &mut ContainerizerProcess| {
            p.containers.get(&container_id).and_then(|c| c.pid)
        })
    }

    /// Re-attaches to the agent's checkpointed containers and destroys orphans.
    pub fn recover(&self, states: Vec<RecoverState>) -> Future<()> {
        call_future(&self.pid, move |p: &mut ContainerizerProcess| {
            p.recover(states)
        })
    }

    /// Stops the process without touching the containers (as an agent exiting: they run on
    /// and a new containerizer can recover them).
    pub fn terminate(&self) -> Future<()> {
        libprocess::terminate(&self.pid);
        libprocess::wait(&self.pid)
    }
}

/// Where a container is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Isolators are preparing; no process yet.
    Preparing,
    /// The first process exists and waits to exec while isolators isolate it.
    Isolating,
    /// The command runs.
    Running,
    /// Being destroyed.
    Destroying,
}

struct Container {
    state: State,
    resources: Resources,
    pid: Option<i32>,
    /// `Some` once the first process has been reaped (with its status when known).
    exit: Option<Option<ExitStatus>>,
    /// The launcher reported every process dead.
    killed: bool,
    launch_failure: Option<String>,
    limitations: Vec<ContainerLimitation>,
    termination: Promise<ContainerTermination>,
    grace_timer: Option<Timer>,
}

impl Container {
    fn new(state: State, resources: Resources, pid: Option<i32>) -> Container {
        Container {
            state,
            resources,
            pid,
            exit: None,
            killed: false,
            launch_failure: None,
            limitations: Vec::new(),
            termination: Promise::new(),
            grace_timer: None,
        }
    }
}

/// The containerizer's state: the containers, the launcher and the isolators.
pub struct ContainerizerProcess {
    runtime_dir: PathBuf,
    kill_grace_period: Duration,
    launcher: Box<dyn Launcher>,
    isolators: Vec<Box<dyn Isolator>>,
    containers: HashMap<ContainerId, Container>,
    /// The terminations of the last [`TERMINATIONS_KEPT`] destroyed containers.
    terminated: HashMap<ContainerId, ContainerTermination>,
    terminated_order: VecDeque<ContainerId>,
    me: Option<Pid<ContainerizerProcess>>,
}

impl Process for ContainerizerProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
    }
}

impl ContainerizerProcess {
    fn me(&self) -> Pid<ContainerizerProcess> {
        self.me.clone().expect("initialize runs first")
    }

    fn launch(&mut self, id: ContainerId, config: ContainerConfig) -> Future<()> {
        if self.containers.contains_key(&id) {
            return Future::failed(format!(
                "container {} already started",
                container_id_string(&id)
            ));
        }
        info!(container_id = %container_id_string(&id), sandbox = %config.sandbox.display(), "launching container");
        self.terminated.remove(&id);
        self.containers.insert(
            id.clone(),
            Container::new(State::Preparing, config.resources.clone(), None),
        );

        let mut launch_info = LaunchInfo::default();
        for isolator in &mut self.isolators {
            match isolator.prepare(&id, &config) {
                Ok(info) => launch_info.merge(info),
                Err(error) => return self.fail_launch(&id, error_chain(&error)),
            }
        }

        let spec = match child_spec(&config, launch_info) {
            Ok(spec) => spec,
            Err(message) => return self.fail_launch(&id, message),
        };
        let spawned = match self.launcher.fork(&id, spec) {
            Ok(spawned) => spawned,
            Err(error) => return self.fail_launch(&id, error_chain(&error)),
        };
        let pid = spawned.pid().as_raw();
        if let Some(container) = self.containers.get_mut(&id) {
            container.pid = Some(pid);
            container.state = State::Isolating;
        }

        if let Err(error) = checkpoint_pid(&self.runtime_dir, &id, pid) {
            spawned.abort();
            reap_child(self.me(), id.clone(), pid, None);
            return self.fail_launch(&id, format!("cannot checkpoint the pid: {error}"));
        }
        for isolator in &mut self.isolators {
            if let Err(error) = isolator.isolate(&id, pid) {
                spawned.abort();
                reap_child(self.me(), id.clone(), pid, None);
                return self.fail_launch(&id, error_chain(&error));
            }
        }
        // The child's reaper thread waits for the exec and reports it (`exec_done`), so
        // that this process goes on with other launches meanwhile.
        let exec = match spawned.release_nowait() {
            Ok(exec) => exec,
            Err(error) => {
                reap_child(self.me(), id.clone(), pid, None);
                return self.fail_launch(&id, error_chain(&error));
            }
        };
        let launched = Promise::new();
        let future = launched.future();
        reap_child(self.me(), id, pid, Some((exec, launched)));
        future
    }

    /// The first process of a launching container has exec'd (or failed to).
    fn exec_done(&mut self, id: ContainerId, result: Result<(), String>, launched: Promise<()>) {
        if let Err(message) = result {
            let failed = self.fail_launch(&id, message);
            launched.associate(failed);
            return;
        }
        match self.containers.get_mut(&id) {
            Some(container) if container.state == State::Isolating => {
                container.state = State::Running;
                self.watch(&id);
                debug!(container_id = %container_id_string(&id), "container running");
                launched.set(());
            }
            Some(container) if container.state != State::Destroying => {
                launched.set(());
            }
            _ => {
                launched.fail(format!(
                    "container {} was destroyed while launching",
                    container_id_string(&id)
                ));
            }
        }
    }

    /// Destroys a container whose launch failed and fails the launch.
    fn fail_launch(&mut self, id: &ContainerId, message: String) -> Future<()> {
        warn!(container_id = %container_id_string(id), %message, "launch failed");
        if let Some(container) = self.containers.get_mut(id) {
            container.launch_failure = Some(message.clone());
        }
        self.start_destroy(id.clone());
        Future::failed(message)
    }

    /// Routes isolators' limitations to `limited`.
    fn watch(&mut self, id: &ContainerId) {
        let me = self.me();
        for isolator in &mut self.isolators {
            if let Some(limitation) = isolator.watch(id) {
                let me = me.clone();
                let id = id.clone();
                limitation.on_ready(move |limitation: &ContainerLimitation| {
                    let limitation = limitation.clone();
                    dispatch(&me, move |p: &mut ContainerizerProcess| {
                        p.limited(id, limitation)
                    });
                });
            }
        }
    }

    fn limited(&mut self, id: ContainerId, limitation: ContainerLimitation) {
        let Some(container) = self.containers.get_mut(&id) else {
            return;
        };
        if container.state == State::Destroying {
            return;
        }
        info!(container_id = %container_id_string(&id), reason = limitation.reason.as_str_name(),
            message = %limitation.message, "container hit a limitation");
        container.limitations.push(limitation);
        self.start_destroy(id);
    }

    fn wait(&self, id: &ContainerId) -> Future<Option<ContainerTermination>> {
        match self.containers.get(id) {
            Some(container) => container.termination.future().map(Some),
            None => Future::ready(self.terminated.get(id).cloned()),
        }
    }

    fn reaped(&mut self, id: ContainerId, status: Option<ExitStatus>) {
        let Some(container) = self.containers.get_mut(&id) else {
            return;
        };
        if container.exit.is_some() {
            return;
        }
        debug!(container_id = %container_id_string(&id), ?status, "first process reaped");
        container.exit = Some(status);
        if let Some(status) = status {
            let path = paths::container_runtime_path(&self.runtime_dir, &id)
                .join(paths::CONTAINER_STATUS_FILE);
            let _ = std::fs::write(path, status.wait_status().to_string());
        }
        if container.state != State::Destroying {
            self.start_destroy(id);
        } else if container.killed {
            self.finish_destroy(id);
        } else if let Some(timer) = container.grace_timer.take() {
            // The first process ended within the grace period: kill the rest now.
            timer.cancel();
            self.kill(id);
        }
    }

    /// Polls a recovered first process (not our child) until it is gone.
    fn poll_recovered(&mut self, id: ContainerId, pid: i32) {
        let Some(container) = self.containers.get(&id) else {
            return;
        };
        if container.exit.is_some() {
            return;
        }
        if usage::is_alive(pid) {
            delay(
                RECOVERED_REAP_INTERVAL,
                &self.me(),
                move |p: &mut ContainerizerProcess| p.poll_recovered(id, pid),
            );
        } else {
            self.reaped(id, None);
        }
    }

    fn destroy(&mut self, id: ContainerId) -> Future<Option<ContainerTermination>> {
        let Some(container) = self.containers.get(&id) else {
            return Future::ready(None);
        };
        let termination = container.termination.future().map(Some);
        self.start_destroy(id);
        termination
    }

    /// Starts destroying the container unless that has begun already.
    fn start_destroy(&mut self, id: ContainerId) {
        let grace = self.kill_grace_period;
        let Some(container) = self.containers.get_mut(&id) else {
            return;
        };
        if container.state == State::Destroying {
            return;
        }
        info!(container_id = %container_id_string(&id), "destroying container");
        container.state = State::Destroying;
        let running = container.pid.is_some() && container.exit.is_none();
        if running && !grace.is_zero() {
            if let Err(error) = self.launcher.signal(&id, Signal::SIGTERM) {
                debug!(container_id = %container_id_string(&id), %error, "cannot SIGTERM");
            }
            let key = id.clone();
            let timer = delay(grace, &self.me(), move |p: &mut ContainerizerProcess| {
                p.kill(key)
            });
            if let Some(container) = self.containers.get_mut(&id) {
                container.grace_timer = Some(timer);
            }
        } else {
            self.kill(id);
        }
    }

    fn kill(&mut self, id: ContainerId) {
        if let Some(container) = self.containers.get_mut(&id) {
            container.grace_timer.take();
        }
        let key = id.clone();
        self.launcher.destroy(&id).on_any(defer(
            &self.me(),
            move |p: &mut ContainerizerProcess, result: Future<()>| p.killed(key, result),
        ));
    }

    fn killed(&mut self, id: ContainerId, result: Future<()>) {
        if let Some(message) = result.failure() {
            warn!(container_id = %container_id_string(&id), %message, "not every process could be killed");
        }
        let Some(container) = self.containers.get_mut(&id) else {
            return;
        };
        container.killed = true;
        if container.pid.is_some() && container.exit.is_none() {
            // `reaped` finishes once the first process has been waited for.
            return;
        }
        self.finish_destroy(id);
    }

    fn finish_destroy(&mut self, id: ContainerId) {
        let Some(mut container) = self.containers.remove(&id) else {
            return;
        };
        if container.limitations.is_empty()
            && let Some(limitation) = self
                .isolators
                .iter_mut()
                .find_map(|isolator| isolator.limitation_at_exit(&id))
        {
            container.limitations.push(limitation);
        }
        let mut errors = Vec::new();
        for isolator in self.isolators.iter_mut().rev() {
            if let Err(error) = isolator.cleanup(&id) {
                errors.push(error_chain(&error));
            }
        }
        if let Err(error) = self.launcher.cleanup(&id) {
            errors.push(error_chain(&error));
        }
        for error in &errors {
            warn!(container_id = %container_id_string(&id), %error, "cleanup failed");
        }
        let runtime = paths::container_runtime_path(&self.runtime_dir, &id);
        if let Err(error) = std::fs::remove_dir_all(&runtime)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            warn!(container_id = %container_id_string(&id), %error, "cannot remove the runtime directory");
        }

        let status = container.exit.flatten();
        let mut termination = ContainerTermination {
            status,
            ..Default::default()
        };
        if let Some(limitation) = container.limitations.first() {
            termination.state = Some(TaskState::TaskFailed);
            termination.reasons.push(limitation.reason);
            termination.message = limitation.message.clone();
        } else if let Some(failure) = &container.launch_failure {
            termination.state = Some(TaskState::TaskFailed);
            termination.reasons.push(Reason::ContainerLaunchFailed);
            termination.message = failure.clone();
        } else if let Some(status) = status {
            termination.message = format!("Command {status}");
        }
        termination.limitations = std::mem::take(&mut container.limitations);
        info!(container_id = %container_id_string(&id), status = ?termination.status,
            message = %termination.message, "container destroyed");
        self.terminated.insert(id.clone(), termination.clone());
        self.terminated_order.push_back(id);
        while self.terminated_order.len() > TERMINATIONS_KEPT {
            if let Some(old) = self.terminated_order.pop_front() {
                self.terminated.remove(&old);
            }
        }
        container.termination.set(termination);
    }

    fn update(&mut self, id: &ContainerId, resources: Resources) -> Future<()> {
        let Some(container) = self.containers.get_mut(id) else {
            return Future::failed(format!("unknown container {}", container_id_string(id)));
        };
        if container.state == State::Destroying {
            debug!(container_id = %container_id_string(id), "ignoring update of a destroying container");
            return Future::ready(());
        }
        container.resources = resources.clone();
        for isolator in &mut self.isolators {
            if let Err(error) = isolator.update(id, &resources) {
                return Future::failed(error_chain(&error));
            }
        }
        Future::ready(())
    }

    fn usage(&mut self, id: &ContainerId) -> Future<ResourceStatistics> {
        let Some(container) = self.containers.get(id) else {
            return Future::failed(format!("unknown container {}", container_id_string(id)));
        };
        let resources = container.resources.clone();
        let timestamp = libprocess::clock::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let names: Vec<&'static str> = self.isolators.iter().map(|i| i.name()).collect();
        let all: Vec<Future<ResourceStatistics>> =
            self.isolators.iter_mut().map(|i| i.usage(id)).collect();
        let key = container_id_string(id);
        await_all(all).map(move |results| {
            let mut merged = ResourceStatistics::default();
            for (name, result) in names.iter().zip(results) {
                match result.result() {
                    Some(Ok(stats)) => {
                        // Each isolator fills its own fields: merging is a union.
                        if let Err(error) = merged.merge(stats.encode_to_vec().as_slice()) {
                            warn!(isolator = name, %error, "cannot merge statistics");
                        }
                    }
                    Some(Err(error)) => {
                        debug!(container_id = %key, isolator = name, %error, "skipping statistics");
                    }
                    None => {}
                }
            }
            if let Some(cpus) = resources.cpus() {
                merged.cpus_limit = Some(cpus);
            }
            if let Some(mem) = resources.mem() {
                merged.mem_limit_bytes = Some(isolators::megabytes_to_bytes(mem));
            }
            merged.timestamp = timestamp;
            merged
        })
    }

    fn recover(&mut self, states: Vec<RecoverState>) -> Future<()> {
        let known: BTreeSet<ContainerId> = states.iter().map(|s| s.container_id.clone()).collect();
        let checkpointed = match paths::runtime_container_ids(&self.runtime_dir) {
            Ok(ids) => ids,
            Err(error) => {
                return Future::failed(format!("cannot list the runtime directory: {error}"));
            }
        };
        let runtime_pid = |id: &ContainerId| read_checkpointed_pid(&self.runtime_dir, id);

        let mut tracked: Vec<(ContainerId, Option<i32>)> = states
            .iter()
            .map(|s| {
                (
                    s.container_id.clone(),
                    s.pid.or_else(|| runtime_pid(&s.container_id)),
                )
            })
            .collect();
        let mut orphans: BTreeSet<ContainerId> = checkpointed
            .into_iter()
            .filter(|id| !known.contains(id))
            .collect();
        tracked.extend(orphans.iter().map(|id| (id.clone(), runtime_pid(id))));
        match self.launcher.recover(&tracked) {
            Ok(found) => orphans.extend(found.into_iter().filter(|id| !known.contains(id))),
            Err(error) => return Future::failed(error_chain(&error)),
        }
        let orphan_list: Vec<ContainerId> = orphans.iter().cloned().collect();
        for isolator in &mut self.isolators {
            if let Err(error) = isolator.recover(&states, &orphan_list) {
                return Future::failed(error_chain(&error));
            }
        }

        let pids: HashMap<ContainerId, Option<i32>> = tracked.into_iter().collect();
        for state in &states {
            let pid = pids.get(&state.container_id).copied().flatten();
            info!(container_id = %container_id_string(&state.container_id), ?pid, "recovered container");
            self.containers.insert(
                state.container_id.clone(),
                Container::new(State::Running, state.resources.clone(), pid),
            );
            match pid {
                Some(pid) => self.poll_recovered(state.container_id.clone(), pid),
                None => {
                    self.reaped(state.container_id.clone(), None);
                }
            }
            self.watch(&state.container_id);
        }
        for id in orphans {
            let pid = pids.get(&id).copied().flatten();
            info!(container_id = %container_id_string(&id), ?pid, "destroying orphan container");
            self.containers.insert(
                id.clone(),
                Container::new(State::Running, Resources::new(), pid),
            );
            if let Some(pid) = pid {
                self.poll_recovered(id.clone(), pid);
            }
            self.start_destroy(id);
        }
        Future::ready(())
    }
}

/// `error` and its sources, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Waits for a launched child on a thread and reports its status; first, when given, for
/// its exec (reported to `exec_done` with the launch's promise).
fn reap_child(
    me: Pid<ContainerizerProcess>,
    id: ContainerId,
    pid: i32,
    exec: Option<(ExecWait, Promise<()>)>,
) {
    let spawned = std::thread::Builder::new()
        .name("reaper".to_owned())
        .stack_size(REAPER_STACK_SIZE)
        .spawn(move || {
            if let Some((exec, launched)) = exec {
                let result = exec.wait().map_err(|e| error_chain(&e));
                let id = id.clone();
                dispatch(&me, move |p: &mut ContainerizerProcess| {
                    p.exec_done(id, result, launched)
                });
            }
            let pid = nix::unistd::Pid::from_raw(pid);
            let status = loop {
                match waitpid(pid, None) {
                    Ok(WaitStatus::Exited(_, code)) => break Some(ExitStatus::Exited(code)),
                    Ok(WaitStatus::Signaled(_, signal, _)) => {
                        break Some(ExitStatus::Signaled(signal as i32));
                    }
                    Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break None,
                }
            };
            dispatch(&me, move |p: &mut ContainerizerProcess| {
                p.reaped(id, status)
            });
        });
    if let Err(error) = spawned {
        warn!(%error, "cannot start a reaper thread");
    }
}

fn checkpoint_pid(runtime_dir: &Path, id: &ContainerId, pid: i32) -> std::io::Result<()> {
    let dir = paths::container_runtime_path(runtime_dir, id);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(paths::CONTAINER_PID_FILE), pid.to_string())
}

fn read_checkpointed_pid(runtime_dir: &Path, id: &ContainerId) -> Option<i32> {
    let path = paths::container_runtime_path(runtime_dir, id).join(paths::CONTAINER_PID_FILE);
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The environment of the first process: the agent's, then the isolators', then the
/// command's (later wins), plus `MESOS_SANDBOX` and a default `PATH`.
fn environment(config: &ContainerConfig, launch_info: &LaunchInfo) -> BTreeMap<String, String> {
    let mut env = config.environment.clone();
    env.extend(launch_info.environment.clone());
    if let Some(command_env) = &config.command.environment {
        for variable in &command_env.variables {
            if variable.r#type == Some(VariableType::Secret as i32) {
                continue; // Secrets need a resolver we do not have yet.
            }
            env.insert(
                variable.name.clone(),
                variable.value.clone().unwrap_or_default(),
            );
        }
    }
    env.entry("MESOS_SANDBOX".to_owned())
        .or_insert_with(|| config.sandbox.display().to_string());
    env.entry("PATH".to_owned())
        .or_insert_with(|| DEFAULT_PATH.to_owned());
    env
}

/// Finds `program` on `path` (as `execvp` would), or gives it back as is.
fn resolve_program(program: &str, path: &str) -> String {
    if program.contains('/') {
        return program.to_owned();
    }
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(program);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            use std::os::unix::fs::PermissionsExt;
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return candidate.display().to_string();
            }
        }
    }
    program.to_owned()
}

fn open_output(path: &Path, credentials: Option<&Credentials>) -> Result<OwnedFd, String> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if let Some(c) = credentials {
        nix::unistd::chown(
            path,
            Some(nix::unistd::Uid::from_raw(c.uid)),
            Some(nix::unistd::Gid::from_raw(c.gid)),
        )
        .map_err(|e| format!("cannot chown {}: {e}", path.display()))?;
    }
    Ok(file.into())
}

fn credentials(user: &str) -> Result<Option<Credentials>, String> {
    let found = nix::unistd::User::from_name(user)
        .map_err(|e| format!("cannot look up user '{user}': {e}"))?
        .ok_or_else(|| format!("no such user '{user}'"))?;
    if !nix::unistd::geteuid().is_root() || found.uid == nix::unistd::geteuid() {
        return Ok(None);
    }
    let name = CString::new(user).map_err(|_| format!("bad user name '{user}'"))?;
    let groups = nix::unistd::getgrouplist(&name, found.gid)
        .map_err(|e| format!("cannot list the groups of '{user}': {e}"))?;
    Ok(Some(Credentials {
        uid: found.uid.as_raw(),
        gid: found.gid.as_raw(),
        groups: groups.iter().map(|g| g.as_raw()).collect(),
    }))
}

fn child_spec(config: &ContainerConfig, launch_info: LaunchInfo) -> Result<ChildSpec, String> {
    let spawn_error = |e: SpawnError| e.to_string();
    let env = environment(config, &launch_info);
    let command = &config.command;
    let value = command.value.clone().unwrap_or_default();
    let (program, argv) = if command.shell.unwrap_or(true) {
        if value.is_empty() {
            return Err("shell command has no value".to_owned());
        }
        (
            "/bin/sh".to_owned(),
            vec!["sh".to_owned(), "-c".to_owned(), value],
        )
    } else {
        if value.is_empty() {
            return Err("command has no value (the program to run)".to_owned());
        }
        let argv = if command.arguments.is_empty() {
            vec![value.clone()]
        } else {
            command.arguments.clone()
        };
        let path = env.get("PATH").map(String::as_str).unwrap_or(DEFAULT_PATH);
        (resolve_program(&value, path), argv)
    };
    let credentials = match config.effective_user() {
        Some(user) => credentials(user)?,
        None => None,
    };
    let stdin = std::fs::File::open("/dev/null")
        .map_err(|e| format!("cannot open /dev/null: {e}"))?
        .into();
    Ok(ChildSpec {
        program: cstring("program", program).map_err(spawn_error)?,
        argv: argv
            .into_iter()
            .map(|a| cstring("argument", a))
            .collect::<Result<_, _>>()
            .map_err(spawn_error)?,
        envp: env
            .into_iter()
            .map(|(k, v)| cstring("environment", format!("{k}={v}")))
            .collect::<Result<_, _>>()
            .map_err(spawn_error)?,
        cwd: cstring("sandbox", config.sandbox.display().to_string()).map_err(spawn_error)?,
        stdin,
        stdout: open_output(&config.stdout_path(), credentials.as_ref())?,
        stderr: open_output(&config.stderr_path(), credentials.as_ref())?,
        credentials,
        namespaces: launch_info.namespaces,
        mount_proc: launch_info.mount_proc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_priorities() {
        let mut config = ContainerConfig::shell("true", "/sandbox")
            .with_env("A", "agent")
            .with_env("B", "agent");
        config.command.environment = Some(mesos_core::v0::Environment {
            variables: vec![mesos_core::v0::environment::Variable {
                name: "B".into(),
                value: Some("command".into()),
                ..Default::default()
            }],
        });
        let mut info = LaunchInfo::default();
        info.environment.insert("A".into(), "isolator".into());
        let env = environment(&config, &info);
        assert_eq!(env["A"], "isolator");
        assert_eq!(env["B"], "command");
        assert_eq!(env["MESOS_SANDBOX"], "/sandbox");
        assert_eq!(env["PATH"], DEFAULT_PATH);
    }

    #[test]
    fn programs_resolve_on_path() {
        assert_eq!(resolve_program("/bin/x", "/usr/bin"), "/bin/x");
        assert!(resolve_program("sh", DEFAULT_PATH).ends_with("/sh"));
        assert_eq!(
            resolve_program("no-such-program-x", DEFAULT_PATH),
            "no-such-program-x"
        );
    }
}

//! The agent (upstream `src/slave/slave.cpp`): one process, `slave(1)`, that registers with
//! the master, runs executors in containers, relays their task status updates reliably and
//! checkpoints enough to survive its own restart.
//!
//! The process's state and handlers are split by concern:
//! - [`master`]: detection, (re-)registration with backoff, pings, and the
//!   messages from the master (`RunTaskMessage`, `KillTaskMessage`, shutdowns, acks, ...);
//! - [`executors`]: launching executors (sandbox, environment, container),
//!   their tasks, kills, shutdowns with the grace period and what happens when they end;
//! - [`executor_api`]: `/api/v1/executor` (SUBSCRIBE stream, UPDATE,
//!   MESSAGE, HEARTBEAT);
//! - [`http`]: `/state`, `/flags`, `/health`, `/monitor/statistics`, the v1
//!   operator API and metrics;
//! - [`recovery`]: reading checkpoints back after a restart.
//!
//! Other processes it drives: the [`Containerizer`], the [`TaskStatusUpdateManager`] (which
//! calls back to forward updates to the master), the [`Fetcher`] (URIs into a sandbox before
//! its container starts), [`Files`] (sandboxes browsable under `/files` and through
//! LIST_FILES/READ_FILE), the [`GarbageCollector`] (finished sandboxes after `--gc_delay`)
//! and the [`DiskWatcher`] (prunes sooner when the disk fills).
//!
//! In-process use (e.g. a `mesos-local`): build a listening runtime, then
//! [`Agent::start`]`(flags, runtime.handle())`; the first agent of a runtime is `slave(1)`
//! and the runtime's HTTP delegate (so `/state` and `/api/v1/executor` reach it).
//!
//! Invariants: a task is in exactly one of its executor's `queued_tasks`,
//! `launched_tasks`, `terminated_tasks` or `completed_tasks`; every update goes through the
//! status update manager (checkpointed before it is sent); an executor is archived only once
//! its container is gone and its tasks' terminal updates are acknowledged.

#![allow(deprecated)] // ExecutorInfo.source and FrameworkInfo.role are still reported, as upstream does.

pub mod executor_api;
pub mod executors;
pub mod http;
pub mod master;
pub mod recovery;
pub mod state;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libprocess::{Context, Future, Handle, Pid, Process, Promise, Timer, Upid, call, dispatch};
use mesos_core::internal::StatusUpdate;
use mesos_core::resources::{Attributes, Resources};
use mesos_core::v0::task_status::{Reason, Source};
use mesos_core::v0::{
    ExecutorId, FrameworkId, SlaveId as AgentId, SlaveInfo, TaskId, TaskState, TaskStatus,
};
use thiserror::Error;
use tracing::info;

use crate::containerizer::{Containerizer, ContainerizerError, LauncherKind};
use crate::detector::{DetectorError, MasterDetector, StandaloneDetector};
use crate::disk_watcher::{DiskWatcher, DiskWatcherOptions};
use crate::fetcher::{Fetcher, FetcherOptions};
use crate::files::Files;
use crate::flags::{Flags, std_duration};
use crate::gc::GarbageCollector;
use crate::resources::{HostResources, ResourcesError};
use crate::status_update::TaskStatusUpdateManager;
use crate::{checkpoint, paths};
use recovery::{RecoveredAgent, RecoveryError};
use state::{Framework, FrameworkState};

/// The version the agent reports (`/version`, registration).
pub const MESOS_VERSION: &str = "1.11.0";

/// Why an agent could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AgentError {
    /// A flag's value cannot be used.
    #[error("invalid flag --{flag}: {reason}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// Why.
        reason: String,
    },
    /// `--master`.
    #[error("cannot use --master")]
    Master(#[from] DetectorError),
    /// Resources could not be detected or parsed.
    #[error("cannot determine the agent's resources")]
    Resources(#[from] ResourcesError),
    /// The containerizer could not be built.
    #[error("cannot create the containerizer")]
    Containerizer(#[from] ContainerizerError),
    /// The work directory cannot be created.
    #[error("cannot create the work directory {}", .path.display())]
    WorkDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Recovery failed.
    #[error("recovery failed")]
    Recovery(#[from] RecoveryError),
    /// The process could not be spawned.
    #[error("cannot spawn the agent process: {0}")]
    Spawn(String),
}

/// Where the agent is in its life (upstream `Slave::State`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentState {
    /// Reading checkpoints and re-attaching to containers.
    Recovering,
    /// Not registered with a master.
    Disconnected,
    /// Registered.
    Running,
    /// Shutting down.
    Terminating,
}

/// The handle of a running agent: clone freely.
#[derive(Clone)]
pub struct Agent {
    pid: Pid<AgentProcess>,
    upid: Upid,
    finished: Future<()>,
    containerizer: Containerizer,
    manager: TaskStatusUpdateManager,
    fetcher: Fetcher,
    gc: GarbageCollector,
    files: Option<Files>,
    disk_watcher: DiskWatcher,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("pid", &self.upid).finish()
    }
}

impl Agent {
    /// Starts an agent on `runtime` with the master of `--master`.
    pub fn start(flags: Flags, runtime: &Handle) -> Result<Agent, AgentError> {
        let detector: Arc<dyn MasterDetector> = match &flags.master {
            Some(master) => {
                crate::detector::create(master, mesos_zookeeper::DEFAULT_SESSION_TIMEOUT)?
            }
            None => Arc::new(StandaloneDetector::new(None)),
        };
        Agent::start_with_detector(flags, runtime, detector)
    }

    /// Starts an agent on `runtime` that learns its master from `detector`.
    pub fn start_with_detector(
        flags: Flags,
        runtime: &Handle,
        detector: Arc<dyn MasterDetector>,
    ) -> Result<Agent, AgentError> {
        let _guard = runtime.enter();
        if flags.containerizers.split(',').any(|c| c.trim() != "mesos") {
            return Err(AgentError::Flag {
                flag: "containerizers",
                reason: format!("'{}': only 'mesos' is supported", flags.containerizers),
            });
        }
        if !(0.0..=1.0).contains(&flags.gc_disk_headroom) {
            return Err(AgentError::Flag {
                flag: "gc_disk_headroom",
                reason: "must be between 0.0 and 1.0".to_owned(),
            });
        }
        let launcher: LauncherKind =
            flags
                .launcher_kind()
                .parse()
                .map_err(|e: crate::containerizer::LauncherError| AgentError::Flag {
                    flag: "launcher",
                    reason: e.to_string(),
                })?;
        std::fs::create_dir_all(&flags.work_dir).map_err(|source| AgentError::WorkDir {
            path: flags.work_dir.clone(),
            source,
        })?;
        let work_dir =
            std::fs::canonicalize(&flags.work_dir).map_err(|source| AgentError::WorkDir {
                path: flags.work_dir.clone(),
                source,
            })?;
        let mut flags = flags;
        flags.work_dir = work_dir;

        let mut host = HostResources::new(&flags.work_dir)
            .default_role(flags.default_role.clone())
            .detect_gpus(flags.isolation.contains("gpu/nvidia"));
        if let Some(text) = &flags.resources {
            host = host.resources(text.clone());
        }
        let resources = host.detect()?;
        let attributes = match &flags.attributes {
            Some(text) => Attributes::parse(text).map_err(|e| AgentError::Flag {
                flag: "attributes",
                reason: e.to_string(),
            })?,
            None => Attributes::new(),
        };

        let recovered = recovery::recover(&flags.work_dir, flags.strict)?;

        let containerizer = Containerizer::builder()
            .isolation(flags.isolation.clone())
            .launcher(launcher)
            .runtime_dir(flags.runtime_dir.clone())
            .cgroups_root(flags.cgroups_root.clone())
            .cgroups_enable_cfs(flags.cgroups_enable_cfs)
            .disk_watch_interval(std_duration(flags.container_disk_watch_interval))
            .enforce_container_disk_quota(flags.enforce_container_disk_quota)
            .build()?;

        let fetcher = Fetcher::new(FetcherOptions::from_flags(&flags));
        let gc = GarbageCollector::new();
        let disk_watcher = DiskWatcher::new(
            DiskWatcherOptions {
                work_dir: flags.work_dir.clone(),
                interval: std_duration(flags.disk_watch_interval),
                gc_delay: std_duration(flags.gc_delay),
                gc_disk_headroom: flags.gc_disk_headroom,
            },
            gc.clone(),
        );
        // One `files` process per runtime: a second agent in-process goes without.
        let files = match Files::new() {
            Ok(files) => Some(files),
            Err(error) => {
                tracing::warn!(%error, "no files process for this agent (one already runs)");
                None
            }
        };

        let agent_pid: Arc<OnceLock<Pid<AgentProcess>>> = Arc::new(OnceLock::new());
        let forward_to = agent_pid.clone();
        let manager = TaskStatusUpdateManager::spawn(move |update| {
            if let Some(pid) = forward_to.get() {
                dispatch(pid, move |agent: &mut AgentProcess| agent.forward(update));
            }
        });

        let address = runtime.address();
        let hostname = match &flags.hostname {
            Some(hostname) => hostname.clone(),
            None if flags.hostname_lookup => nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| address.ip().to_string()),
            None => address.ip().to_string(),
        };
        let info = SlaveInfo {
            hostname,
            port: Some(i32::from(flags.advertise_port.unwrap_or(address.port()))),
            resources: resources.to_vec(),
            attributes: attributes.iter().cloned().collect(),
            ..Default::default()
        };

        let finished = Promise::new();
        let finished_future = finished.future();
        // `slave(1)` unless an agent of this runtime holds it (a later agent in-process
        // after the first stopped takes it again, so that executors find it).
        let taken = runtime
            .processes()
            .iter()
            .any(|p| p.upid.id() == "slave(1)");
        let id = if taken {
            loop {
                let id = runtime.generate_id("slave");
                if id != "slave(1)" {
                    break id;
                }
            }
        } else {
            "slave(1)".to_owned()
        };
        let process = AgentProcess {
            flags,
            info,
            total: resources,
            detector,
            containerizer: containerizer.clone(),
            manager: manager.clone(),
            fetcher: fetcher.clone(),
            gc: gc.clone(),
            files: files.clone(),
            disk_watcher: disk_watcher.clone(),
            state: AgentState::Recovering,
            master: None,
            frameworks: BTreeMap::new(),
            completed_frameworks: VecDeque::new(),
            registration_timer: None,
            registration_backoff: Duration::ZERO,
            relink: false,
            ping_timer: None,
            ping_timeout: master::DEFAULT_PING_TIMEOUT,
            detection: 0,
            start_time: now_secs(),
            recovered,
            reconnecting: false,
            recovery_errors: 0,
            stats: Stats::default(),
            stream_generation: 0,
            finished,
            me: None,
            upid: Upid::none(),
        };
        let pid = runtime
            .spawn_with_id(id.clone(), process)
            .map_err(|e| AgentError::Spawn(e.to_string()))?;
        let _ = agent_pid.set(pid.clone());
        if id == "slave(1)" {
            runtime.set_delegate(id.clone());
        }
        http::install_metrics(runtime, &pid);
        Ok(Agent {
            upid: pid.upid().clone(),
            pid,
            finished: finished_future,
            containerizer,
            manager,
            fetcher,
            gc,
            files,
            disk_watcher,
        })
    }

    /// The agent process's address (`slave(1)@ip:port`).
    pub fn upid(&self) -> &Upid {
        &self.upid
    }

    /// Completes when the agent stops (after `--recover=cleanup`, a `ShutdownMessage`, or
    /// [`Agent::stop`]).
    pub fn finished(&self) -> Future<()> {
        self.finished.clone()
    }

    /// The agent's ID once registered (or recovered).
    pub fn agent_id(&self) -> Future<Option<AgentId>> {
        call(&self.pid, |a: &mut AgentProcess| a.info.id.clone())
    }

    /// Where the agent is in its life.
    pub fn state(&self) -> Future<AgentState> {
        call(&self.pid, |a: &mut AgentProcess| a.state)
    }

    /// `/state` as JSON.
    pub fn state_json(&self) -> Future<serde_json::Value> {
        call(&self.pid, |a: &mut AgentProcess| a.state_model())
    }

    /// The containerizer the agent runs executors with.
    pub fn containerizer(&self) -> &Containerizer {
        &self.containerizer
    }

    /// Stops the agent process (as the process exiting: executors keep running, so that a
    /// restarted agent can recover them).
    pub fn stop(&self) -> Future<()> {
        let finished = self.finished.clone();
        let containerizer = self.containerizer.clone();
        let manager = self.manager.clone();
        let (fetcher, gc, files, disk_watcher) = (
            self.fetcher.clone(),
            self.gc.clone(),
            self.files.clone(),
            self.disk_watcher.clone(),
        );
        libprocess::terminate(&self.pid);
        libprocess::wait(&self.pid)
            .then(move |_| {
                drop(manager.terminate());
                drop(fetcher.terminate());
                drop(disk_watcher.terminate());
                drop(gc.terminate());
                if let Some(files) = files {
                    drop(files.terminate());
                }
                containerizer.terminate()
            })
            .then(move |_| {
                drop(finished);
                Future::ready(())
            })
    }
}

/// Counters for `/metrics/snapshot`.
#[derive(Default, Debug, Clone)]
pub struct Stats {
    pub valid_status_updates: u64,
    pub invalid_status_updates: u64,
    pub valid_framework_messages: u64,
    pub invalid_framework_messages: u64,
    pub executors_terminated: u64,
    pub container_launch_errors: u64,
    pub tasks_finished: u64,
    pub tasks_failed: u64,
    pub tasks_killed: u64,
    pub tasks_lost: u64,
    pub tasks_gone: u64,
}

/// The agent's state. See the module docs.
pub struct AgentProcess {
    flags: Flags,
    info: SlaveInfo,
    total: Resources,
    detector: Arc<dyn MasterDetector>,
    containerizer: Containerizer,
    manager: TaskStatusUpdateManager,
    fetcher: Fetcher,
    gc: GarbageCollector,
    files: Option<Files>,
    #[allow(dead_code)] // Runs on its own; kept with the agent's other components.
    disk_watcher: DiskWatcher,
    state: AgentState,
    master: Option<Upid>,
    frameworks: BTreeMap<FrameworkId, Framework>,
    completed_frameworks: VecDeque<Framework>,
    registration_timer: Option<Timer>,
    registration_backoff: Duration,
    /// Link to the master afresh with the next registration attempt (its link broke).
    relink: bool,
    ping_timer: Option<Timer>,
    ping_timeout: Duration,
    /// Increments with each detection, so that stale results are ignored.
    detection: u64,
    start_time: f64,
    recovered: Option<RecoveredAgent>,
    /// Recovery got far enough for executors to (re-)subscribe.
    reconnecting: bool,
    recovery_errors: u64,
    stats: Stats,
    stream_generation: u64,
    finished: Promise<()>,
    me: Option<Pid<AgentProcess>>,
    upid: Upid,
}

impl Process for AgentProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
        self.upid = ctx.upid().clone();
        master::install(ctx);
        http::install(ctx);
        executor_api::install(ctx);
        info!(pid = %self.upid, work_dir = %self.flags.work_dir.display(), resources = %self.total, "agent started");
        self.recover();
    }

    fn exited(&mut self, _ctx: &mut Context<'_, Self>, pid: &Upid) {
        if Some(pid) == self.master.as_ref() {
            self.master_exited();
        }
    }

    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
        self.finished.set(());
    }
}

impl AgentProcess {
    fn me(&self) -> Pid<AgentProcess> {
        self.me.clone().expect("initialize runs first")
    }

    /// The agent ID, once known.
    fn agent_id(&self) -> AgentId {
        self.info.id.clone().unwrap_or_default()
    }

    fn meta(&self) -> PathBuf {
        paths::meta_root(&self.flags.work_dir)
    }

    /// A status update the agent itself generates (upstream `protobuf::createStatusUpdate`
    /// with `SOURCE_SLAVE`).
    fn create_status_update(
        &self,
        framework_id: &FrameworkId,
        executor_id: Option<&ExecutorId>,
        task_id: &TaskId,
        state: TaskState,
        reason: Option<Reason>,
        message: impl Into<String>,
    ) -> StatusUpdate {
        let uuid: [u8; 16] = stout::Uuid::random().into();
        let now = now_secs();
        let mut status = TaskStatus {
            task_id: task_id.clone(),
            message: Some(message.into()),
            slave_id: self.info.id.clone(),
            executor_id: executor_id.cloned(),
            timestamp: Some(now),
            uuid: Some(uuid.to_vec()),
            ..Default::default()
        };
        status.set_state(state);
        status.set_source(Source::Slave);
        if let Some(reason) = reason {
            status.set_reason(reason);
        }
        StatusUpdate {
            framework_id: framework_id.clone(),
            executor_id: executor_id.cloned(),
            slave_id: self.info.id.clone(),
            status,
            timestamp: now,
            uuid: Some(uuid.to_vec()),
            latest_state: None,
        }
    }

    /// Checkpoints the agent's info and boot id (`slave.info`, `latest`).
    fn checkpoint_agent_info(&self) {
        let meta = self.meta();
        let agent_id = self.agent_id();
        let result =
            checkpoint::write_message(&paths::agent_info_path(&meta, &agent_id), &self.info)
                .and_then(|()| {
                    if let Some(boot) = recovery::boot_id() {
                        checkpoint::write_text(&paths::boot_id_path(&meta), &boot)?;
                    }
                    Ok(())
                });
        if let Err(error) = result {
            tracing::error!(error = %crate::error_chain(&error), "cannot checkpoint the agent info");
            return;
        }
        let latest = paths::latest_agent_path(&meta);
        let _ = std::fs::remove_file(&latest);
        if let Err(error) = std::os::unix::fs::symlink(paths::agent_path(&meta, &agent_id), &latest)
        {
            tracing::error!(%error, "cannot link the latest agent checkpoint");
        }
    }

    /// Stops the agent for good (`--recover=cleanup` done, or a `ShutdownMessage`).
    fn terminate_agent(&mut self) {
        self.state = AgentState::Terminating;
        let me = self.me();
        libprocess::terminate(&me);
    }
}

/// Fire and forget: a failure is logged.
fn log_failure<T: Send + Sync + 'static>(what: &'static str, future: Future<T>) {
    future.on_failed(move |error| tracing::warn!(%error, "cannot {what}"));
}

/// Seconds since the epoch, as Mesos timestamps.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Whether the framework is gone from a terminating framework's point of view.
fn framework_done(framework: &Framework) -> bool {
    framework.state == FrameworkState::Terminating && framework.executors.is_empty()
}

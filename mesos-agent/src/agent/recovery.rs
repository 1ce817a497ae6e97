//! Reading the agent's checkpoints back after a restart (upstream `src/slave/state.cpp`):
//! the agent info, and per framework its executors, their latest run and its tasks with
//! their status update streams.
//!
//! With `--strict`, any checkpoint that cannot be read fails recovery (the agent refuses to
//! start and says which file is wrong); without it, what cannot be read is skipped and
//! counted. A partial record at the end of an update stream (the agent died while
//! appending) is cut off and is not an error, as upstream.

use std::fs;
use std::path::{Path, PathBuf};

use mesos_core::v0::{
    ContainerId, ExecutorId, ExecutorInfo, FrameworkId, FrameworkInfo, SlaveId as AgentId,
    SlaveInfo, TaskId, TaskInfo,
};
use thiserror::Error;
use tracing::warn;

use crate::checkpoint::{self, CheckpointError};
use crate::paths;
use crate::status_update::{RecoveredStream, read_stream};

/// Why recovery failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// A checkpoint could not be read (with `--strict`).
    #[error(
        "cannot recover the agent's state (--strict); fix or remove the file, or start with --no-strict"
    )]
    Checkpoint(#[from] CheckpointError),
    /// The directory layout is not what the agent writes.
    #[error("cannot recover the agent's state: {0}")]
    Layout(String),
}

/// A task read back.
#[derive(Debug)]
pub struct RecoveredTask {
    pub info: TaskInfo,
    pub updates_path: PathBuf,
    pub stream: RecoveredStream,
}

/// An executor's latest run read back.
#[derive(Debug)]
pub struct RecoveredExecutor {
    pub id: ExecutorId,
    pub info: ExecutorInfo,
    pub container_id: ContainerId,
    pub directory: PathBuf,
    pub forked_pid: Option<i32>,
    pub http: bool,
    pub tasks: Vec<RecoveredTask>,
}

/// A framework read back.
#[derive(Debug)]
pub struct RecoveredFramework {
    pub id: FrameworkId,
    pub info: FrameworkInfo,
    pub pid: Option<String>,
    pub executors: Vec<RecoveredExecutor>,
}

/// Everything read back.
#[derive(Debug)]
pub struct RecoveredAgent {
    pub info: SlaveInfo,
    pub frameworks: Vec<RecoveredFramework>,
    /// Checkpoints skipped (without `--strict`).
    pub errors: u64,
    /// The host rebooted since the checkpoint: nothing of it runs anymore.
    pub rebooted: bool,
}

/// The host's boot id.
pub fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
}

struct Reader {
    strict: bool,
    errors: u64,
}

impl Reader {
    /// Turns a failure into an error (strict) or a skipped item.
    fn check<T>(&mut self, result: Result<T, CheckpointError>) -> Result<Option<T>, RecoveryError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(error) if self.strict => Err(error.into()),
            Err(error) => {
                warn!(error = %crate::error_chain(&error), "skipping a checkpoint that cannot be read (--no-strict)");
                self.errors += 1;
                Ok(None)
            }
        }
    }
}

fn dir_names(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n != paths::LATEST_SYMLINK)
        .collect();
    names.sort();
    names
}

/// Reads the checkpoint under `<work_dir>/meta`; `Ok(None)` when there is none (a new agent).
pub fn recover(work_dir: &Path, strict: bool) -> Result<Option<RecoveredAgent>, RecoveryError> {
    let meta = paths::meta_root(work_dir);
    let latest = paths::latest_agent_path(&meta);
    let agent_dir = match fs::read_link(&latest) {
        Ok(target) => target,
        Err(_) => return Ok(None),
    };
    let agent_dir = if agent_dir.is_relative() {
        latest.parent().unwrap_or(Path::new("/")).join(agent_dir)
    } else {
        agent_dir
    };
    let agent_id = AgentId {
        value: agent_dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                RecoveryError::Layout(format!("bad agent link {}", agent_dir.display()))
            })?
            .to_owned(),
    };
    let mut reader = Reader { strict, errors: 0 };
    let info_path = paths::agent_info_path(&meta, &agent_id);
    let info: Option<SlaveInfo> = match checkpoint::read_message(&info_path) {
        Ok(Some(info)) => Some(info),
        // The agent died before checkpointing its info: start as a new agent.
        Ok(None) => return Ok(None),
        Err(error) => reader.check::<SlaveInfo>(Err(error))?,
    };
    let Some(info) = info else {
        return Ok(None);
    };

    let rebooted = match (
        checkpoint::read_text(&paths::boot_id_path(&meta))
            .ok()
            .flatten(),
        boot_id(),
    ) {
        (Some(old), Some(now)) => old.trim() != now,
        _ => false,
    };

    let mut frameworks = Vec::new();
    let frameworks_dir = paths::agent_path(&meta, &agent_id).join("frameworks");
    for name in dir_names(&frameworks_dir) {
        let framework_id = FrameworkId { value: name };
        let path = paths::framework_info_path(&meta, &agent_id, &framework_id);
        let Some(info) = reader.check(checkpoint::read_message::<FrameworkInfo>(&path))? else {
            continue;
        };
        let Some(info) = info else {
            warn!(framework_id = %framework_id.value, "framework without its info checkpoint; skipped");
            continue;
        };
        let pid =
            checkpoint::read_text(&paths::framework_pid_path(&meta, &agent_id, &framework_id))
                .ok()
                .flatten()
                .filter(|p| !p.is_empty());
        let mut executors = Vec::new();
        let executors_dir =
            paths::framework_path(&meta, &agent_id, &framework_id).join("executors");
        for name in dir_names(&executors_dir) {
            let executor_id = ExecutorId { value: name };
            if let Some(executor) = recover_executor(
                &mut reader,
                work_dir,
                &meta,
                &agent_id,
                &framework_id,
                &executor_id,
            )? {
                executors.push(executor);
            }
        }
        frameworks.push(RecoveredFramework {
            id: framework_id,
            info,
            pid,
            executors,
        });
    }
    Ok(Some(RecoveredAgent {
        info,
        frameworks,
        errors: reader.errors,
        rebooted,
    }))
}

fn recover_executor(
    reader: &mut Reader,
    work_dir: &Path,
    meta: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
) -> Result<Option<RecoveredExecutor>, RecoveryError> {
    let info_path = paths::executor_info_path(meta, agent_id, framework_id, executor_id);
    let Some(info) = reader.check(checkpoint::read_message::<ExecutorInfo>(&info_path))? else {
        return Ok(None);
    };
    let Some(info) = info else {
        return Ok(None);
    };
    let latest = paths::executor_latest_run_path(meta, agent_id, framework_id, executor_id);
    let Ok(target) = fs::read_link(&latest) else {
        return Ok(None);
    };
    let Some(container) = target.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    let container_id = ContainerId {
        value: container.to_owned(),
        parent: None,
    };
    let forked_pid = reader
        .check(checkpoint::read_text(&paths::forked_pid_path(
            meta,
            agent_id,
            framework_id,
            executor_id,
            &container_id,
        )))?
        .flatten()
        .and_then(|text| text.trim().parse::<i32>().ok());
    let http =
        paths::executor_http_marker_path(meta, agent_id, framework_id, executor_id, &container_id)
            .exists();
    let run = paths::executor_run_path(meta, agent_id, framework_id, executor_id, &container_id);
    let mut tasks = Vec::new();
    for name in dir_names(&run.join("tasks")) {
        let task_id = TaskId { value: name };
        let info_path = paths::task_info_path(
            meta,
            agent_id,
            framework_id,
            executor_id,
            &container_id,
            &task_id,
        );
        let Some(Some(task)) = reader.check(checkpoint::read_message::<TaskInfo>(&info_path))?
        else {
            continue;
        };
        let updates_path = paths::task_updates_path(
            meta,
            agent_id,
            framework_id,
            executor_id,
            &container_id,
            &task_id,
        );
        let Some(stream) = reader.check(read_stream(&updates_path))? else {
            continue;
        };
        if stream.truncated {
            warn!(path = %updates_path.display(), "cut off a partial record at the end of a status update stream");
        }
        tasks.push(RecoveredTask {
            info: task,
            updates_path,
            stream,
        });
    }
    Ok(Some(RecoveredExecutor {
        id: executor_id.clone(),
        info,
        directory: paths::executor_run_path(
            work_dir,
            agent_id,
            framework_id,
            executor_id,
            &container_id,
        ),
        container_id,
        forked_pid,
        http,
        tasks,
    }))
}

use std::collections::BTreeMap;

use libprocess::{await_all, dispatch};
use mesos_core::resources::Resources;
use mesos_core::v0::TaskState;
use tracing::info;

use super::state::{Executor, ExecutorState, Framework, FrameworkState, create_task};
use super::{AgentProcess, AgentState};
use crate::containerizer::RecoverState;
use crate::flags::RecoverMode;
use crate::status_update::is_terminal;

impl AgentProcess {
    /// Rebuilds the state read from the checkpoint, re-attaches to containers, then looks
    /// for a master (upstream `Slave::recover`, `_recover`, `__recover`).
    pub(super) fn recover(&mut self) {
        let me = self.me();
        let Some(recovered) = self.recovered.take() else {
            // A new agent: still destroy containers a previous life left behind.
            self.containerizer
                .recover(Vec::new())
                .on_any(move |_| dispatch(&me, |a: &mut AgentProcess| a.finish_recovery()));
            return;
        };
        self.recovery_errors = recovered.errors;
        self.info.id = recovered.info.id.clone();
        info!(agent_id = ?self.info.id.as_ref().map(|i| i.value.clone()), frameworks = recovered.frameworks.len(), rebooted = recovered.rebooted, "recovering the agent's state");
        let mut states = Vec::new();
        let mut streams = Vec::new();
        for rf in recovered.frameworks {
            let mut framework = Framework {
                id: rf.id.clone(),
                info: rf.info,
                pid: rf.pid,
                state: FrameworkState::Running,
                executors: BTreeMap::new(),
                completed_executors: Default::default(),
            };
            for re in rf.executors {
                let command_executor = re
                    .info
                    .command
                    .as_ref()
                    .and_then(|c| c.value.as_deref())
                    .is_some_and(|v| v.ends_with(super::executors::COMMAND_EXECUTOR_BINARY))
                    && re.info.source.as_deref() == Some(re.id.value.as_str());
                let exposed = (!command_executor).then(|| re.id.clone());
                let mut executor = Executor {
                    id: re.id.clone(),
                    framework_id: rf.id.clone(),
                    info: re.info.clone(),
                    container_id: re.container_id.clone(),
                    directory: re.directory.clone(),
                    user: None,
                    checkpoint: true,
                    state: ExecutorState::Registering,
                    command_executor,
                    queued_tasks: BTreeMap::new(),
                    queued_groups: Vec::new(),
                    launched_tasks: BTreeMap::new(),
                    terminated_tasks: BTreeMap::new(),
                    completed_tasks: Default::default(),
                    acknowledged: Default::default(),
                    http: None,
                    pid: re.forked_pid,
                    registration_timer: None,
                    shutdown_timer: None,
                    termination_reason: None,
                    termination_state: None,
                    exit_status: None,
                };
                let mut resources = Resources::from(re.info.resources.clone());
                for rt in re.tasks {
                    let state = rt
                        .stream
                        .latest()
                        .map(|u| u.status.state())
                        .unwrap_or(TaskState::TaskStaging);
                    let mut task = create_task(&rt.info, state, &rf.id, exposed.clone());
                    for update in &rt.stream.updates {
                        let mut status = update.status.clone();
                        status.data = None;
                        task.statuses.push(status);
                    }
                    let id = rt.info.task_id.clone();
                    executor
                        .acknowledged
                        .extend(rt.stream.acknowledged.iter().cloned());
                    if rt.stream.terminated() {
                        executor.completed_tasks.push_back(task);
                        continue;
                    }
                    if is_terminal(state) {
                        executor.terminated_tasks.insert(id.clone(), task);
                    } else {
                        resources += Resources::from(rt.info.resources.clone());
                        executor.launched_tasks.insert(id.clone(), task);
                    }
                    streams.push((rf.id.clone(), id, rt.updates_path, rt.stream));
                }
                if !recovered.rebooted {
                    states.push(RecoverState {
                        container_id: re.container_id.clone(),
                        pid: re.forked_pid,
                        sandbox: re.directory.clone(),
                        resources,
                    });
                }
                framework.executors.insert(re.id, executor);
            }
            self.frameworks.insert(rf.id, framework);
        }
        let containerizer = self.containerizer.clone();
        self.manager.recover(streams).on_any(move |_| {
            containerizer.recover(states).on_any(move |result| {
                let failure = result.failure().map(str::to_owned);
                dispatch(&me, move |a: &mut AgentProcess| {
                    a.containers_recovered(failure)
                })
            });
        });
    }

    fn containers_recovered(&mut self, failure: Option<String>) {
        if let Some(failure) = failure {
            tracing::error!(%failure, "the containerizer could not recover");
        }
        let me = self.me();
        self.containerizer.containers().on_any(move |alive| {
            let alive = alive.get().unwrap_or_default();
            dispatch(&me, move |a: &mut AgentProcess| a.reattach(alive))
        });
    }

    fn reattach(&mut self, alive: std::collections::BTreeSet<mesos_core::v0::ContainerId>) {
        let executors: Vec<_> = self
            .frameworks
            .values()
            .flat_map(|f| {
                f.executors
                    .values()
                    .map(|e| (f.id.clone(), e.id.clone(), e.container_id.clone()))
            })
            .collect();
        if self.flags.recover == RecoverMode::Cleanup {
            info!(
                executors = executors.len(),
                "--recover=cleanup: killing every recovered executor"
            );
            self.state = AgentState::Terminating;
            let destroys: Vec<_> = executors
                .iter()
                .filter(|(_, _, c)| alive.contains(c))
                .map(|(_, _, c)| self.containerizer.destroy(c.clone()))
                .collect();
            let me = self.me();
            let latest = crate::paths::latest_agent_path(&self.meta());
            await_all(destroys).on_any(move |_| {
                let _ = std::fs::remove_file(&latest);
                dispatch(&me, |a: &mut AgentProcess| {
                    info!("cleanup done; the agent stops");
                    a.terminate_agent()
                })
            });
            return;
        }
        // Executors may re-subscribe from now on (upstream `recoveryInfo.reconnect`).
        self.reconnecting = true;
        let mut waiting = 0;
        for (f, e, c) in executors {
            if alive.contains(&c) {
                info!(executor_id = %e.value, container_id = %c.value, "re-attached to a recovered executor; waiting for it to re-subscribe");
                self.watch_container(&f, &e, &c);
                waiting += 1;
            } else {
                info!(executor_id = %e.value, "a recovered executor is gone");
                self.executor_terminated(&f, &e, &c, None);
            }
        }
        if waiting == 0 {
            self.finish_recovery();
            return;
        }
        // Those that do not re-subscribe within --executor_reregistration_timeout are
        // killed; then the agent looks for its master.
        let me = self.me();
        let timeout = crate::flags::std_duration(self.flags.executor_reregistration_timeout);
        libprocess::delay(timeout, &me, |a: &mut AgentProcess| {
            a.reregister_executor_timeout()
        });
    }

    /// Whether every recovered executor re-subscribed (or ended): recovery can finish early.
    pub(super) fn maybe_finish_reconnecting(&mut self) {
        if self.state == AgentState::Recovering
            && !self
                .frameworks
                .values()
                .flat_map(|f| f.executors.values())
                .any(|e| e.state == ExecutorState::Registering)
        {
            self.finish_recovery();
        }
    }

    fn reregister_executor_timeout(&mut self) {
        if self.state != AgentState::Recovering {
            return;
        }
        let mut stragglers = Vec::new();
        for framework in self.frameworks.values_mut() {
            for executor in framework.executors.values_mut() {
                if executor.state == ExecutorState::Registering {
                    tracing::warn!(executor_id = %executor.id.value, "killing an executor that did not re-subscribe in time");
                    executor.state = ExecutorState::Terminating;
                    executor.termination_reason =
                        Some(mesos_core::v0::task_status::Reason::ExecutorReregistrationTimeout);
                    stragglers.push(executor.container_id.clone());
                }
            }
        }
        for container_id in stragglers {
            super::log_failure(
                "destroy the container",
                self.containerizer.destroy(container_id),
            );
        }
        self.finish_recovery();
    }

    fn finish_recovery(&mut self) {
        if self.state != AgentState::Recovering {
            return;
        }
        info!("recovery finished");
        self.reconnecting = true;
        self.state = AgentState::Disconnected;
        if self.info.id.is_some() {
            self.checkpoint_agent_info();
        }
        self.detect();
    }
}

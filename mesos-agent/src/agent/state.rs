//! What the agent knows about frameworks, executors and tasks (upstream `slave.hpp`'s
//! `Framework` and `Executor`). Plain data owned by the agent process.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::PathBuf;

use libprocess::Timer;
use libprocess::http::PipeWriter;
use mesos_core::resources::Resources;
use mesos_core::v0::task_status::Reason;
use mesos_core::v0::{
    ContainerId, ExecutorId, ExecutorInfo, FrameworkId, FrameworkInfo, Task, TaskId, TaskInfo,
    TaskState, TaskStatus,
};

use crate::status_update::is_terminal;

/// How many completed executors a framework keeps for `/state`.
pub const MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK: usize = 150;
/// How many completed tasks an executor keeps.
pub const MAX_COMPLETED_TASKS_PER_EXECUTOR: usize = 200;
/// How many completed frameworks the agent keeps.
pub const MAX_COMPLETED_FRAMEWORKS: usize = 50;

/// Where an executor is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorState {
    /// Launched (or recovered); waiting for it to subscribe.
    Registering,
    /// Subscribed.
    Running,
    /// Being shut down.
    Terminating,
    /// Its container is gone; waiting for its tasks' terminal updates to be acknowledged.
    Terminated,
}

/// The encoding an executor's subscription stream uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    /// `application/json`.
    Json,
    /// `application/x-protobuf`.
    Protobuf,
}

impl ContentType {
    /// The media type.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Json => "application/json",
            ContentType::Protobuf => "application/x-protobuf",
        }
    }
}

/// An executor's open subscription stream.
pub struct HttpConnection {
    /// Events go here (RecordIO).
    pub writer: PipeWriter,
    /// Their encoding.
    pub content_type: ContentType,
    /// Tells apart a stream from one that replaced it.
    pub generation: u64,
}

/// An executor the agent runs.
pub struct Executor {
    pub id: ExecutorId,
    pub framework_id: FrameworkId,
    pub info: ExecutorInfo,
    pub container_id: ContainerId,
    pub directory: PathBuf,
    pub user: Option<String>,
    pub checkpoint: bool,
    pub state: ExecutorState,
    /// The agent made it up for a command task (the command executor).
    pub command_executor: bool,
    /// Tasks waiting for the executor to subscribe.
    pub queued_tasks: BTreeMap<TaskId, TaskInfo>,
    /// Queued task groups (their tasks are in `queued_tasks`), launched together.
    pub queued_groups: Vec<Vec<TaskId>>,
    /// Tasks sent to the executor and not terminal.
    pub launched_tasks: BTreeMap<TaskId, Task>,
    /// Terminal tasks whose terminal update is not acknowledged yet.
    pub terminated_tasks: BTreeMap<TaskId, Task>,
    /// Tasks whose terminal update was acknowledged.
    pub completed_tasks: VecDeque<Task>,
    /// UUIDs of its tasks' updates the master acknowledged (an executor that re-subscribes
    /// may still list them as unacknowledged: it is told again).
    pub acknowledged: HashSet<Vec<u8>>,
    pub http: Option<HttpConnection>,
    pub pid: Option<i32>,
    pub registration_timer: Option<Timer>,
    pub shutdown_timer: Option<Timer>,
    /// Why the agent is ending it (used for the tasks' updates).
    pub termination_reason: Option<Reason>,
    /// The task state to report for tasks still live when it is gone.
    pub termination_state: Option<TaskState>,
    /// How the container ended, once it has.
    pub exit_status: Option<i32>,
}

impl Executor {
    /// The resources of the executor and its live tasks.
    pub fn allocated(&self) -> Resources {
        let mut total = Resources::from(self.info.resources.clone());
        for task in self.queued_tasks.values() {
            total += Resources::from(task.resources.clone());
        }
        for task in self.launched_tasks.values() {
            total += Resources::from(task.resources.clone());
        }
        total
    }

    /// Whether the task is known in any state.
    pub fn knows(&self, task_id: &TaskId) -> bool {
        self.queued_tasks.contains_key(task_id)
            || self.launched_tasks.contains_key(task_id)
            || self.terminated_tasks.contains_key(task_id)
    }

    /// Records a status on the task and moves it to `terminated_tasks` when it ends.
    pub fn record_status(&mut self, status: &TaskStatus) {
        let task_id = &status.task_id;
        let state = status.state();
        let task = if let Some(task) = self.launched_tasks.get_mut(task_id) {
            task
        } else if let Some(task) = self.terminated_tasks.get_mut(task_id) {
            task
        } else {
            return;
        };
        task.set_state(state);
        let mut recorded = status.clone();
        recorded.data = None;
        task.statuses.push(recorded);
        if is_terminal(state)
            && let Some(task) = self.launched_tasks.remove(task_id)
        {
            self.terminated_tasks.insert(task_id.clone(), task);
        }
    }

    /// Moves a task whose terminal update was acknowledged to `completed_tasks`.
    pub fn complete_task(&mut self, task_id: &TaskId) {
        if let Some(task) = self.terminated_tasks.remove(task_id) {
            self.completed_tasks.push_back(task);
            while self.completed_tasks.len() > MAX_COMPLETED_TASKS_PER_EXECUTOR {
                self.completed_tasks.pop_front();
            }
        }
    }

    /// Whether nothing more is to be done for it: its container is gone and every task's
    /// terminal update was acknowledged.
    pub fn is_done(&self) -> bool {
        self.state == ExecutorState::Terminated
            && self.queued_tasks.is_empty()
            && self.launched_tasks.is_empty()
            && self.terminated_tasks.is_empty()
    }
}

/// Where a framework is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameworkState {
    /// Running tasks.
    Running,
    /// Being shut down.
    Terminating,
}

/// A framework with executors on this agent.
pub struct Framework {
    pub id: FrameworkId,
    pub info: FrameworkInfo,
    pub pid: Option<String>,
    pub state: FrameworkState,
    pub executors: BTreeMap<ExecutorId, Executor>,
    pub completed_executors: VecDeque<Executor>,
}

impl Framework {
    /// Whether its tasks' state is checkpointed.
    pub fn checkpoint(&self) -> bool {
        self.info.checkpoint.unwrap_or(false)
    }

    /// The executor running `task_id`, if any.
    pub fn executor_of(&self, task_id: &TaskId) -> Option<&ExecutorId> {
        self.executors
            .values()
            .find(|e| e.knows(task_id))
            .map(|e| &e.id)
    }

    /// Archives a finished executor.
    pub fn archive(&mut self, executor_id: &ExecutorId) {
        if let Some(executor) = self.executors.remove(executor_id) {
            self.completed_executors.push_back(executor);
            while self.completed_executors.len() > MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK {
                self.completed_executors.pop_front();
            }
        }
    }
}

/// A task record for a task the agent got (upstream `protobuf::createTask`).
pub fn create_task(
    info: &TaskInfo,
    state: TaskState,
    framework_id: &FrameworkId,
    executor_id: Option<ExecutorId>,
) -> Task {
    let mut task = Task {
        name: info.name.clone(),
        task_id: info.task_id.clone(),
        framework_id: framework_id.clone(),
        executor_id,
        slave_id: info.slave_id.clone(),
        resources: info.resources.clone(),
        labels: info.labels.clone(),
        discovery: info.discovery.clone(),
        container: info.container.clone(),
        health_check: info.health_check.clone(),
        kill_policy: info.kill_policy,
        limits: info.limits.clone(),
        ..Default::default()
    };
    task.set_state(state);
    task
}

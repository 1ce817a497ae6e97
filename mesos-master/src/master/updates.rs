//! Tasks after launch: status updates from agents forwarded to schedulers, acknowledgements
//! forwarded to agents, KILL, SHUTDOWN, RECONCILE, executor exits and messages both ways.
//!
//! A task's resources go back to the allocator when it reaches a terminal state; the task
//! itself stays live until the scheduler acknowledges its terminal update, then moves to
//! the framework's completed tasks.

use libprocess::Upid;
use mesos_core::internal;
use mesos_core::resources::Resources;
use mesos_core::v0;
use mesos_core::v0::TaskState;
use mesos_core::v0::task_status::Reason;
use tracing::{debug, info, warn};

use super::MasterProcess;
use super::state::{AgentId, ExecutorId, FrameworkId, Task, TaskId, is_terminal};
use super::stream::events;

impl MasterProcess {
    /// Sends UPDATE to a connected framework.
    pub(crate) fn send_status(&self, framework_id: &FrameworkId, status: v0::TaskStatus) {
        if let Some(stream) = self
            .state
            .frameworks
            .get(framework_id)
            .and_then(|f| f.stream.as_ref())
        {
            stream.send(&events::update(status));
        }
    }

    /// Records a task's new state; on the first terminal state its resources go back to
    /// the allocator.
    fn update_task(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        status: &v0::TaskStatus,
        latest_state: Option<TaskState>,
        update_uuid: Option<Vec<u8>>,
    ) {
        let Some(framework) = self.state.frameworks.get_mut(framework_id) else {
            return;
        };
        let Some(task) = framework.tasks.get_mut(task_id) else {
            return;
        };
        let was_terminal = is_terminal(task.state());
        let new_state = latest_state.unwrap_or(status.state());
        if !was_terminal {
            task.info.set_state(new_state);
        }
        task.info.set_status_update_state(status.state());
        task.info.status_update_uuid = update_uuid;
        let mut recorded = status.clone();
        recorded.data = None;
        recorded.uuid = None;
        task.info.statuses.push(recorded);
        task.json.invalidate();
        if !was_terminal {
            self.operator_events.task_updated(&task.info, status);
            if is_terminal(new_state) {
                self.state.counters.task_entered(new_state);
            }
        }
        if was_terminal || !is_terminal(new_state) {
            return;
        }
        let agent_id = task.agent_id();
        let resources = task.resources.clone();
        if let Some(used) = framework.used.get_mut(&agent_id) {
            *used -= &resources;
        }
        if let Some(agent) = self.state.agents.get_mut(&agent_id)
            && let Some(used) = agent.used.get_mut(framework_id)
        {
            *used -= &resources;
        }
        self.allocator
            .recover_resources(framework_id.clone(), agent_id, resources, None, true);
    }

    /// Ends a task the master decides about: the status is recorded (and sent with `send`),
    /// the resources go back, the task completes.
    pub(crate) fn terminate_task(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        status: v0::TaskStatus,
        send: bool,
    ) {
        self.update_task(framework_id, task_id, &status, None, None);
        if send {
            self.send_status(framework_id, status);
        }
        if let Some(task) = self
            .state
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.tasks.remove(task_id))
        {
            self.complete_task(framework_id, task);
        }
    }

    /// A task that left the live set: its agent forgets it; it joins the completed tasks.
    pub(crate) fn complete_task(&mut self, framework_id: &FrameworkId, task: Task) {
        let agent_id = task.agent_id();
        let task_id = task.id();
        if let Some(agent) = self.state.agents.get_mut(&agent_id)
            && let Some(tasks) = agent.tasks.get_mut(framework_id)
        {
            tasks.remove(&task_id);
            if tasks.is_empty() {
                agent.tasks.remove(framework_id);
            }
        }
        let keep = self.flags.max_completed_tasks_per_framework;
        if let Some(framework) = self.state.frameworks.get_mut(framework_id) {
            framework.completed_tasks.push_back(task);
            while framework.completed_tasks.len() > keep {
                framework.completed_tasks.pop_front();
            }
        }
    }

    pub(crate) fn status_update(&mut self, from: Upid, msg: internal::StatusUpdateMessage) {
        self.state.counters.messages_status_update += 1;
        let update = msg.update;
        let agent_id = update
            .slave_id
            .as_ref()
            .or(update.status.slave_id.as_ref())
            .map(AgentId::from);
        let known_agent = agent_id
            .as_ref()
            .and_then(|id| self.state.agents.get(id))
            .is_some_and(|a| a.pid == from);
        if !known_agent {
            warn!(%from, task_id = %update.status.task_id.value, "ignoring status update from an unknown agent");
            self.state.counters.invalid_status_updates += 1;
            return;
        }
        let framework_id = FrameworkId::from(&update.framework_id);
        if !self.state.frameworks.contains_key(&framework_id) {
            warn!(%framework_id, "ignoring status update for an unknown framework");
            self.state.counters.invalid_status_updates += 1;
            return;
        }
        let task_id = TaskId::from(&update.status.task_id);
        let mut status = update.status.clone();
        if status.uuid.is_none() {
            status.uuid = update.uuid.clone();
        }
        if status.slave_id.is_none() {
            status.slave_id = agent_id.as_ref().map(AgentId::to_proto);
        }
        debug!(%framework_id, %task_id, state = ?status.state(), "status update");
        let latest = update
            .latest_state
            .and_then(|s| TaskState::try_from(s).ok());
        self.update_task(
            &framework_id,
            &task_id,
            &status,
            latest,
            update.uuid.clone(),
        );
        self.state.counters.valid_status_updates += 1;
        self.send_status(&framework_id, status);
    }

    /// ACKNOWLEDGE: forwarded to the agent; a terminal update acknowledged completes its task.
    pub(crate) fn acknowledge(
        &mut self,
        framework_id: &FrameworkId,
        ack: v0::scheduler::call::Acknowledge,
    ) {
        self.state.counters.messages_status_update_acknowledgement += 1;
        let agent_id = AgentId::from(&ack.slave_id);
        let task_id = TaskId::from(&ack.task_id);
        let Some(agent) = self.state.agents.get(&agent_id) else {
            warn!(%framework_id, %agent_id, %task_id, "dropping acknowledgement for an unknown agent");
            self.state.counters.invalid_status_update_acknowledgements += 1;
            return;
        };
        if !agent.connected {
            warn!(%framework_id, %agent_id, %task_id, "dropping acknowledgement for a disconnected agent");
            self.state.counters.invalid_status_update_acknowledgements += 1;
            return;
        }
        let message = internal::StatusUpdateAcknowledgementMessage {
            slave_id: ack.slave_id.clone(),
            framework_id: framework_id.to_proto(),
            task_id: ack.task_id.clone(),
            uuid: ack.uuid.clone(),
        };
        let pid = agent.pid.clone();
        self.send(&pid, &message);
        self.state.counters.valid_status_update_acknowledgements += 1;
        let Some(framework) = self.state.frameworks.get_mut(framework_id) else {
            return;
        };
        let done = framework.tasks.get(&task_id).is_some_and(|t| {
            t.info.status_update_uuid.as_deref() == Some(&ack.uuid[..])
                && t.info
                    .status_update_state
                    .and_then(|s| TaskState::try_from(s).ok())
                    .is_some_and(is_terminal)
        });
        if done && let Some(task) = framework.tasks.remove(&task_id) {
            self.complete_task(framework_id, task);
        }
    }

    /// KILL: forwarded to the task's agent; an unknown task gets TASK_LOST.
    pub(crate) fn kill(&mut self, framework_id: &FrameworkId, kill: v0::scheduler::call::Kill) {
        self.state.counters.messages_kill_task += 1;
        let task_id = TaskId::from(&kill.task_id);
        let task_agent = self
            .state
            .task(framework_id, &task_id)
            .map(|t| t.agent_id());
        let agent_id = task_agent.or_else(|| kill.slave_id.as_ref().map(AgentId::from));
        let known = self.state.task(framework_id, &task_id).is_some();
        match agent_id.and_then(|id| self.state.agents.get(&id).map(|a| (id, a.pid.clone()))) {
            Some((agent_id, pid)) if known || kill.slave_id.is_some() => {
                info!(%framework_id, %task_id, %agent_id, "killing task");
                self.send(
                    &pid,
                    &internal::KillTaskMessage {
                        framework_id: framework_id.to_proto(),
                        task_id: kill.task_id.clone(),
                        kill_policy: kill.kill_policy,
                    },
                );
            }
            _ => {
                let status = self.master_status(
                    &task_id,
                    kill.slave_id.as_ref().map(AgentId::from).as_ref(),
                    None,
                    TaskState::TaskLost,
                    Reason::Reconciliation,
                    "Attempted to kill an unknown task",
                );
                self.send_status(framework_id, status);
            }
        }
    }

    /// SHUTDOWN: asks the agent to shut the executor down.
    pub(crate) fn shutdown_executor(
        &mut self,
        framework_id: &FrameworkId,
        shutdown: v0::scheduler::call::Shutdown,
    ) {
        let agent_id = AgentId::from(&shutdown.slave_id);
        let Some(agent) = self.state.agents.get(&agent_id) else {
            warn!(%framework_id, %agent_id, "cannot shut down an executor on an unknown agent");
            return;
        };
        self.send(
            &agent.pid,
            &internal::ShutdownExecutorMessage {
                executor_id: Some(shutdown.executor_id),
                framework_id: Some(framework_id.to_proto()),
            },
        );
    }

    /// MESSAGE: relayed to the executor, best effort.
    pub(crate) fn framework_message(
        &mut self,
        framework_id: &FrameworkId,
        message: v0::scheduler::call::Message,
    ) {
        self.state.counters.messages_framework_to_executor += 1;
        let agent_id = AgentId::from(&message.slave_id);
        let Some(agent) = self.state.agents.get(&agent_id) else {
            warn!(%framework_id, %agent_id, "dropping message for an executor on an unknown agent");
            self.state.counters.invalid_framework_to_executor_messages += 1;
            return;
        };
        self.state.counters.valid_framework_to_executor_messages += 1;
        self.send(
            &agent.pid,
            &internal::FrameworkToExecutorMessage {
                slave_id: message.slave_id,
                framework_id: framework_id.to_proto(),
                executor_id: message.executor_id,
                data: message.data,
            },
        );
    }

    pub(crate) fn executor_message(
        &mut self,
        from: Upid,
        msg: internal::ExecutorToFrameworkMessage,
    ) {
        self.state.counters.messages_executor_to_framework += 1;
        let agent_id = AgentId::from(&msg.slave_id);
        if self
            .state
            .agents
            .get(&agent_id)
            .is_none_or(|a| a.pid != from)
        {
            warn!(%from, "dropping executor message from an unknown agent");
            self.state.counters.invalid_executor_to_framework_messages += 1;
            return;
        }
        let framework_id = FrameworkId::from(&msg.framework_id);
        match self
            .state
            .frameworks
            .get(&framework_id)
            .and_then(|f| f.stream.as_ref())
        {
            Some(stream) => {
                stream.send(&events::message(msg.slave_id, msg.executor_id, msg.data));
                self.state.counters.valid_executor_to_framework_messages += 1;
            }
            None => self.state.counters.invalid_executor_to_framework_messages += 1,
        }
    }

    /// An executor ended: its resources go back; its framework gets FAILURE.
    pub(crate) fn exited_executor(&mut self, from: Upid, msg: internal::ExitedExecutorMessage) {
        self.state.counters.messages_exited_executor += 1;
        let agent_id = AgentId::from(&msg.slave_id);
        if self
            .state
            .agents
            .get(&agent_id)
            .is_none_or(|a| a.pid != from)
        {
            warn!(%from, "ignoring executor exit from an unknown agent");
            return;
        }
        let framework_id = FrameworkId::from(&msg.framework_id);
        let executor_id = ExecutorId::from(&msg.executor_id);
        info!(%framework_id, %executor_id, %agent_id, status = msg.status, "executor exited");
        let mut resources = Resources::default();
        if let Some(agent) = self.state.agents.get_mut(&agent_id)
            && let Some(executors) = agent.executors.get_mut(&framework_id)
            && let Some(executor) = executors.remove(&executor_id)
        {
            resources = Resources::from(executor.resources);
            if executors.is_empty() {
                agent.executors.remove(&framework_id);
            }
            if let Some(used) = agent.used.get_mut(&framework_id) {
                *used -= &resources;
            }
        }
        if let Some(framework) = self.state.frameworks.get_mut(&framework_id) {
            if let Some(executors) = framework.executors.get_mut(&agent_id) {
                executors.remove(&executor_id);
                if executors.is_empty() {
                    framework.executors.remove(&agent_id);
                }
            }
            if let Some(used) = framework.used.get_mut(&agent_id) {
                *used -= &resources;
            }
            if let Some(stream) = &framework.stream {
                stream.send(&events::failure(
                    msg.slave_id.clone(),
                    Some(msg.executor_id.clone()),
                    Some(msg.status),
                ));
            }
        }
        if !resources.is_empty() {
            self.allocator
                .recover_resources(framework_id, agent_id, resources, None, true);
        }
    }

    /// RECONCILE: the latest state of the tasks asked about (all live ones if none), as
    /// UPDATEs with `REASON_RECONCILIATION` and no uuid.
    pub(crate) fn reconcile(
        &mut self,
        framework_id: &FrameworkId,
        reconcile: v0::scheduler::call::Reconcile,
    ) {
        self.state.counters.messages_reconcile_tasks += 1;
        let Some(framework) = self.state.frameworks.get(framework_id) else {
            return;
        };
        let now = self.now_secs();
        let from_task = |task: &Task, state: TaskState| {
            let latest = task.info.statuses.last();
            let mut status = v0::TaskStatus {
                task_id: task.info.task_id.clone(),
                slave_id: Some(task.info.slave_id.clone()),
                executor_id: task.info.executor_id.clone(),
                message: Some("Reconciliation: Latest task state".into()),
                timestamp: Some(now),
                healthy: latest.and_then(|s| s.healthy),
                labels: latest.and_then(|s| s.labels.clone()),
                container_status: latest.and_then(|s| s.container_status.clone()),
                unreachable_time: latest.and_then(|s| s.unreachable_time),
                ..Default::default()
            };
            status.set_state(state);
            status.set_source(v0::task_status::Source::Master);
            status.set_reason(Reason::Reconciliation);
            status
        };
        let partition_aware = framework.capabilities.partition_aware;
        let mut statuses = Vec::new();
        if reconcile.tasks.is_empty() {
            for task in framework.tasks.values() {
                statuses.push(from_task(task, task.state()));
            }
            for task in &framework.unreachable_tasks {
                statuses.push(from_task(task, task.state()));
            }
        } else {
            for wanted in &reconcile.tasks {
                let task_id = TaskId::from(&wanted.task_id);
                if let Some(task) = framework.tasks.get(&task_id) {
                    statuses.push(from_task(task, task.state()));
                    continue;
                }
                if let Some(task) = framework
                    .unreachable_tasks
                    .iter()
                    .find(|t| t.info.task_id == wanted.task_id)
                {
                    statuses.push(from_task(task, task.state()));
                    continue;
                }
                let agent_id = wanted.slave_id.as_ref().map(AgentId::from);
                let state = match &agent_id {
                    Some(a) if self.state.recovered_agents.contains_key(a) => continue,
                    Some(a) if self.state.agents.contains_key(a) => TaskState::TaskGone,
                    Some(a) if self.state.unreachable_agents.contains_key(a) => {
                        TaskState::TaskUnreachable
                    }
                    Some(a) if self.state.gone_agents.contains_key(a) => {
                        TaskState::TaskGoneByOperator
                    }
                    _ => TaskState::TaskUnknown,
                };
                let state = if partition_aware {
                    state
                } else {
                    TaskState::TaskLost
                };
                let mut status = self.master_status(
                    &task_id,
                    agent_id.as_ref(),
                    None,
                    state,
                    Reason::Reconciliation,
                    "Reconciliation: Task is unknown",
                );
                status.timestamp = Some(now);
                statuses.push(status);
            }
        }
        for status in statuses {
            self.send_status(framework_id, status);
        }
    }
}

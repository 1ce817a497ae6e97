//! The agent and its master: detection, registration and re-registration with backoff,
//! pings, and the `mesos.internal.*` messages the master sends (upstream `slave.cpp`:
//! `detected`, `doReliableRegistration`, `registered`, `reregistered`, `ping`,
//! `pingTimeout`, `runTask`, `killTask`, `shutdownExecutor`, `shutdownFramework`,
//! `updateFramework`, `statusUpdateAcknowledgement`, `schedulerMessage`).
//!
//! Registration: once a master is detected the agent waits a random time within
//! `--registration_backoff_factor`, sends `RegisterSlaveMessage` (or
//! `ReregisterSlaveMessage` when it has an ID, with its frameworks, executors and tasks),
//! and retries with the bound doubling up to one minute until the master answers. Pings:
//! each `PingSlaveMessage` is answered with a pong and re-arms a timer; if none arrives
//! within the master's `total_ping_timeout_seconds` (default 75 s), or the master's link
//! breaks, the agent is disconnected, pauses the status update manager and registers again.

use std::time::Duration;

use libprocess::{Context, Upid, delay, dispatch_with};
use mesos_core::internal::{
    FrameworkToExecutorMessage, KillTaskMessage, PingSlaveMessage, PongSlaveMessage,
    RegisterSlaveMessage, ReregisterSlaveMessage, RunTaskGroupMessage, RunTaskMessage,
    ShutdownExecutorMessage, ShutdownFrameworkMessage, ShutdownMessage, SlaveRegisteredMessage,
    SlaveReregisteredMessage, StatusUpdate, StatusUpdateAcknowledgementMessage,
    StatusUpdateMessage, UpdateFrameworkMessage,
};
use mesos_core::v0::{ExecutorInfo, FrameworkId, TaskState};
use prost::{Message, Name};
use tracing::{debug, info, warn};

use super::state::{ExecutorState, create_task};
use super::{AgentProcess, AgentState, MESOS_VERSION};
use crate::flags::std_duration;

/// The ping timeout when the master does not say (15 s × 5).
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(75);
/// The longest wait between registration attempts.
pub const REGISTER_RETRY_INTERVAL_MAX: Duration = Duration::from_secs(60);

pub(super) fn install(ctx: &mut Context<'_, AgentProcess>) {
    ctx.install_protobuf(|a: &mut AgentProcess, _, from, m: SlaveRegisteredMessage| {
        a.registered(
            from,
            m.slave_id,
            m.connection.and_then(|c| c.total_ping_timeout_seconds),
        )
    });
    ctx.install_protobuf(
        |a: &mut AgentProcess, _, from, m: SlaveReregisteredMessage| {
            a.reregistered(
                from,
                m.slave_id,
                m.connection.and_then(|c| c.total_ping_timeout_seconds),
            )
        },
    );
    ctx.install_protobuf(|a: &mut AgentProcess, _, from, m: PingSlaveMessage| a.ping(from, m));
    ctx.install_protobuf(|a: &mut AgentProcess, _, from, m: RunTaskMessage| a.run_task(from, m));
    ctx.install_protobuf(|a: &mut AgentProcess, _, from, m: RunTaskGroupMessage| {
        a.run_task_group(from, m)
    });
    ctx.install_protobuf(|a: &mut AgentProcess, _, from, m: KillTaskMessage| a.kill_task(from, m));
    ctx.install_protobuf(
        |a: &mut AgentProcess, _, from, m: ShutdownExecutorMessage| {
            if !a.is_from_master(&from) {
                return;
            }
            if let (Some(framework_id), Some(executor_id)) = (m.framework_id, m.executor_id) {
                a.shutdown_executor(&framework_id, &executor_id);
            }
        },
    );
    ctx.install_protobuf(
        |a: &mut AgentProcess, _, from, m: ShutdownFrameworkMessage| {
            if a.is_from_master(&from) {
                a.shutdown_framework(&m.framework_id);
            }
        },
    );
    ctx.install_protobuf(|a: &mut AgentProcess, _, from, m: UpdateFrameworkMessage| {
        a.update_framework(from, m)
    });
    ctx.install_protobuf(
        |a: &mut AgentProcess, _, from, m: StatusUpdateAcknowledgementMessage| {
            a.status_update_acknowledgement(from, m)
        },
    );
    ctx.install_protobuf(
        |a: &mut AgentProcess, _, from, m: FrameworkToExecutorMessage| a.framework_message(from, m),
    );
    ctx.install_protobuf(|a: &mut AgentProcess, _, from, m: ShutdownMessage| {
        if a.is_from_master(&from) {
            warn!(message = %m.message.unwrap_or_default(), "the master asked the agent to shut down");
            a.shutdown();
        }
    });
}

/// A uniformly random duration in `[0, max]`.
fn random_within(max: Duration) -> Duration {
    let bytes: [u8; 16] = stout::Uuid::random().into();
    let r = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let fraction = (r >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(fraction)
}

impl AgentProcess {
    /// Sends a protobuf message from the agent.
    pub(super) fn send<M: Message + Name>(&self, to: &Upid, message: &M) {
        libprocess::send(&self.upid, to, M::full_name(), message.encode_to_vec());
    }

    fn is_from_master(&self, from: &Upid) -> bool {
        if self.master.as_ref() == Some(from) {
            return true;
        }
        warn!(%from, master = ?self.master.as_ref().map(|m| m.to_string()), "ignoring a message that is not from the leading master");
        false
    }

    /// Watches for a leading master other than the current one.
    pub(super) fn detect(&mut self) {
        self.detection += 1;
        let detection = self.detection;
        let me = self.me();
        let previous = self.master.clone();
        self.detector
            .detect(previous.as_ref())
            .on_any(move |result| {
                dispatch_with(&me, move |a: &mut AgentProcess, ctx| {
                    if a.detection != detection {
                        return;
                    }
                    match result.get() {
                        Ok(master) => a.detected(ctx, master),
                        Err(error) => {
                            warn!(%error, "master detection failed; retrying");
                            a.detect();
                        }
                    }
                })
            });
    }

    fn detected(&mut self, ctx: &mut Context<'_, AgentProcess>, master: Option<Upid>) {
        if let Some(timer) = self.registration_timer.take() {
            timer.cancel();
        }
        if self.state == AgentState::Running {
            self.state = AgentState::Disconnected;
        }
        self.manager.pause();
        self.master = master.clone();
        self.relink = false;
        match &master {
            Some(master) => {
                info!(%master, "new master detected");
                ctx.link(master);
                self.schedule_registration();
                self.arm_ping_timer();
            }
            None => info!("no master detected; waiting for one"),
        }
        // Keep watching for a different master.
        self.detect();
    }

    /// A first attempt soon, random within the backoff factor; then doubling bounds.
    fn schedule_registration(&mut self) {
        if let Some(timer) = self.registration_timer.take() {
            timer.cancel();
        }
        let factor = std_duration(self.flags.registration_backoff_factor);
        self.registration_backoff = factor;
        let me = self.me();
        self.registration_timer =
            Some(delay(random_within(factor), &me, |a: &mut AgentProcess| {
                a.register()
            }));
    }

    /// One registration attempt; schedules the next until the master answers.
    fn register(&mut self) {
        self.registration_timer = None;
        if !matches!(self.state, AgentState::Disconnected) {
            return;
        }
        let Some(master) = self.master.clone() else {
            return;
        };
        if self.relink {
            self.relink = false;
            let to = master.clone();
            dispatch_with(&self.me(), move |_: &mut AgentProcess, ctx| ctx.relink(&to));
        }
        if self.info.id.is_none() {
            info!(%master, "registering with the master");
            let message = RegisterSlaveMessage {
                slave: self.info.clone(),
                checkpointed_resources: Vec::new(),
                version: Some(MESOS_VERSION.to_owned()),
                agent_capabilities: agent_capabilities(),
                resource_version_uuid: None,
            };
            self.send(&master, &message);
        } else {
            info!(%master, agent_id = %self.agent_id().value, "re-registering with the master");
            let message = self.reregister_message();
            self.send(&master, &message);
        }
        // Next attempt: random within a doubled bound, capped.
        let bound = (self.registration_backoff * 2).min(REGISTER_RETRY_INTERVAL_MAX);
        self.registration_backoff = bound;
        let me = self.me();
        self.registration_timer = Some(delay(random_within(bound), &me, |a: &mut AgentProcess| {
            a.register()
        }));
    }

    /// `ReregisterSlaveMessage` with everything the agent runs.
    fn reregister_message(&self) -> ReregisterSlaveMessage {
        let mut message = ReregisterSlaveMessage {
            slave: self.info.clone(),
            version: Some(MESOS_VERSION.to_owned()),
            agent_capabilities: agent_capabilities(),
            ..Default::default()
        };
        for framework in self.frameworks.values() {
            message.frameworks.push(framework.info.clone());
            for executor in framework.executors.values() {
                if !executor.command_executor {
                    message.executor_infos.push(executor.info.clone());
                }
                let executor_id = (!executor.command_executor).then(|| executor.id.clone());
                for task in executor.queued_tasks.values() {
                    let mut task = create_task(
                        task,
                        TaskState::TaskStaging,
                        &framework.id,
                        executor_id.clone(),
                    );
                    task.slave_id = self.agent_id();
                    message.tasks.push(task);
                }
                for task in executor
                    .launched_tasks
                    .values()
                    .chain(executor.terminated_tasks.values())
                {
                    message.tasks.push(task.clone());
                }
            }
        }
        message
    }

    fn registered(
        &mut self,
        from: Upid,
        agent_id: mesos_core::v0::SlaveId,
        ping_timeout: Option<f64>,
    ) {
        if !self.is_from_master(&from) {
            return;
        }
        match self.state {
            AgentState::Disconnected => {
                if let Some(existing) = &self.info.id
                    && *existing != agent_id
                {
                    warn!(old = %existing.value, new = %agent_id.value, "registered with a different agent ID; shutting down");
                    self.shutdown();
                    return;
                }
                info!(agent_id = %agent_id.value, master = %from, "registered with the master");
                self.info.id = Some(agent_id);
                self.checkpoint_agent_info();
                self.connected(ping_timeout);
            }
            AgentState::Running => {
                debug!("already registered; ignoring a duplicate SlaveRegisteredMessage")
            }
            AgentState::Recovering | AgentState::Terminating => {
                warn!(state = ?self.state, "ignoring SlaveRegisteredMessage")
            }
        }
    }

    fn reregistered(
        &mut self,
        from: Upid,
        agent_id: mesos_core::v0::SlaveId,
        ping_timeout: Option<f64>,
    ) {
        if !self.is_from_master(&from) {
            return;
        }
        if self.info.id.as_ref() != Some(&agent_id) {
            warn!(agent_id = %agent_id.value, "re-registered with a different agent ID; shutting down");
            self.shutdown();
            return;
        }
        match self.state {
            AgentState::Disconnected => {
                info!(agent_id = %agent_id.value, master = %from, "re-registered with the master");
                self.connected(ping_timeout);
            }
            AgentState::Running => debug!("already re-registered"),
            AgentState::Recovering | AgentState::Terminating => {
                warn!(state = ?self.state, "ignoring SlaveReregisteredMessage")
            }
        }
    }

    fn connected(&mut self, ping_timeout: Option<f64>) {
        self.state = AgentState::Running;
        if let Some(timer) = self.registration_timer.take() {
            timer.cancel();
        }
        if let Some(secs) = ping_timeout.filter(|s| *s > 0.0) {
            self.ping_timeout = Duration::from_secs_f64(secs);
        }
        self.arm_ping_timer();
        self.manager.resume();
    }

    fn ping(&mut self, from: Upid, message: PingSlaveMessage) {
        // The master pings through one observer process per agent, so the sender is that
        // process (`(N)@master-ip:port`), not `master@...`: answer whoever pings from the
        // leading master's address, as upstream answers any ping.
        let from_master = self
            .master
            .as_ref()
            .is_some_and(|master| master.address() == from.address());
        if !from_master {
            warn!(%from, "ignoring a ping from outside the leading master");
            return;
        }
        if !message.connected && self.state == AgentState::Running {
            // The master does not know us anymore (e.g. it failed over): register again.
            info!("the master says the agent is not connected; re-registering");
            self.state = AgentState::Disconnected;
            self.manager.pause();
            self.register();
        }
        self.send(&from, &PongSlaveMessage {});
        self.arm_ping_timer();
    }

    fn arm_ping_timer(&mut self) {
        if let Some(timer) = self.ping_timer.take() {
            timer.cancel();
        }
        let me = self.me();
        self.ping_timer = Some(delay(
            self.ping_timeout,
            &me,
            move |a: &mut AgentProcess| {
                a.ping_timer = None;
                if a.master.is_some() {
                    warn!(timeout = ?a.ping_timeout, "no pings from the master; re-detecting");
                    a.redetect();
                }
            },
        ));
    }

    /// The master stopped pinging or its link broke: disconnected; register again (with
    /// backoff) and link afresh with the next attempt.
    fn redetect(&mut self) {
        if matches!(self.state, AgentState::Terminating | AgentState::Recovering) {
            return;
        }
        if self.state == AgentState::Running {
            self.state = AgentState::Disconnected;
            self.manager.pause();
            self.schedule_registration();
        } else if self.registration_timer.is_none() {
            self.schedule_registration();
        }
        self.relink = true;
        self.arm_ping_timer();
    }

    pub(super) fn master_exited(&mut self) {
        warn!(master = ?self.master.as_ref().map(|m| m.to_string()), "the master's connection broke; registering again");
        self.redetect();
    }

    /// Sends an update the status update manager forwards, with the task's latest state.
    pub(super) fn forward(&mut self, mut update: StatusUpdate) {
        if self.state != AgentState::Running {
            debug!("not registered; the update goes out once re-registered");
            return;
        }
        let Some(master) = self.master.clone() else {
            return;
        };
        if let Some(framework) = self.frameworks.get(&update.framework_id) {
            let task_id = &update.status.task_id;
            for executor in framework.executors.values() {
                if let Some(task) = executor
                    .launched_tasks
                    .get(task_id)
                    .or_else(|| executor.terminated_tasks.get(task_id))
                {
                    update.latest_state = Some(task.state);
                }
            }
        }
        let message = StatusUpdateMessage {
            update,
            pid: Some(self.upid.to_string()),
        };
        self.send(&master, &message);
    }

    fn run_task(&mut self, from: Upid, message: RunTaskMessage) {
        if !self.is_from_master(&from) {
            return;
        }
        if self.state != AgentState::Running {
            warn!(task_id = %message.task.task_id.value, state = ?self.state, "ignoring a task: the agent is not registered");
            return;
        }
        let framework_id = message
            .framework
            .id
            .clone()
            .or(message.framework_id.clone())
            .unwrap_or_default();
        let executor_info = match &message.task.executor {
            Some(executor) => {
                let mut executor = executor.clone();
                executor.framework_id = Some(framework_id.clone());
                executor
            }
            None => self.command_executor_info(&framework_id, &message.task, &message.framework),
        };
        self.run(
            message.framework,
            message.pid,
            executor_info,
            vec![message.task],
            false,
        );
    }

    fn run_task_group(&mut self, from: Upid, message: RunTaskGroupMessage) {
        if !self.is_from_master(&from) {
            return;
        }
        if self.state != AgentState::Running {
            warn!(state = ?self.state, "ignoring a task group: the agent is not registered");
            return;
        }
        let mut executor: ExecutorInfo = message.executor;
        if executor.framework_id.is_none() {
            executor.framework_id = message.framework.id.clone();
        }
        self.run(
            message.framework,
            None,
            executor,
            message.task_group.tasks,
            true,
        );
    }

    fn update_framework(&mut self, from: Upid, message: UpdateFrameworkMessage) {
        if !self.is_from_master(&from) {
            return;
        }
        let checkpoint_path = self.meta();
        let agent_id = self.agent_id();
        let Some(framework) = self.frameworks.get_mut(&message.framework_id) else {
            return;
        };
        if let Some(info) = message.framework_info {
            framework.info = info;
        }
        framework.pid = message.pid.filter(|p| !p.is_empty());
        if framework.checkpoint() {
            let id = framework.id.clone();
            let _ = crate::checkpoint::write_message(
                &crate::paths::framework_info_path(&checkpoint_path, &agent_id, &id),
                &framework.info,
            );
            let _ = crate::checkpoint::write_text(
                &crate::paths::framework_pid_path(&checkpoint_path, &agent_id, &id),
                framework.pid.as_deref().unwrap_or(""),
            );
        }
    }

    fn status_update_acknowledgement(&mut self, from: Upid, m: StatusUpdateAcknowledgementMessage) {
        if !self.is_from_master(&from) {
            return;
        }
        let me = self.me();
        let framework_id = m.framework_id.clone();
        let task_id = m.task_id.clone();
        let uuid = m.uuid.clone();
        self.manager
            .acknowledge(m.framework_id, m.task_id, m.uuid)
            .on_any(move |result| {
                libprocess::dispatch(&me, move |a: &mut AgentProcess| match result.get() {
                    Ok(terminal) => a.acknowledged(&framework_id, &task_id, uuid, terminal),
                    Err(error) => {
                        warn!(task_id = %task_id.value, %error, "ignoring a status update acknowledgement")
                    }
                })
            });
    }

    fn framework_message(&mut self, from: Upid, m: FrameworkToExecutorMessage) {
        if !self.is_from_master(&from) {
            return;
        }
        let delivered = self
            .frameworks
            .get(&m.framework_id)
            .and_then(|f| f.executors.get(&m.executor_id))
            .is_some_and(|e| e.state == ExecutorState::Running && e.http.is_some());
        if !delivered {
            warn!(executor_id = %m.executor_id.value, "dropping a framework message: executor not running");
            self.stats.invalid_framework_messages += 1;
            return;
        }
        self.stats.valid_framework_messages += 1;
        self.send_message_event(&m.framework_id, &m.executor_id, m.data);
    }

    /// Shuts every executor down (SHUTDOWN, then the grace period) and stops once they are
    /// gone (a `ShutdownMessage`).
    pub(super) fn shutdown(&mut self) {
        self.state = AgentState::Terminating;
        if let Some(timer) = self.registration_timer.take() {
            timer.cancel();
        }
        self.manager.pause();
        let ids: Vec<FrameworkId> = self.frameworks.keys().cloned().collect();
        for id in ids {
            self.shutdown_framework(&id);
        }
        if self.frameworks.is_empty() {
            self.terminate_agent();
        }
    }
}

fn agent_capabilities() -> Vec<mesos_core::v0::slave_info::Capability> {
    use mesos_core::v0::slave_info::{Capability, capability::Type};
    [
        Type::MultiRole,
        Type::HierarchicalRole,
        Type::ReservationRefinement,
        Type::TaskResourceLimits,
    ]
    .into_iter()
    .map(|t| {
        let mut c = Capability::default();
        c.set_type(t);
        c
    })
    .collect()
}

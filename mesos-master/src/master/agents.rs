//! Agents: registration and reregistration through the registrar, disconnection, removal
//! (unregistered), marking unreachable after missed pings (rate limited), and the
//! reregistration deadline after a master recovery.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use libprocess::{Context, Upid, dispatch, dispatch_with};
use mesos_core::internal;
use mesos_core::resources::Resources;
use mesos_core::v0;
use mesos_core::v0::TaskState;
use mesos_core::v0::task_status::{Reason, Source};
use tracing::{debug, info, warn};

use super::MasterProcess;
use super::observer::AgentObserver;
use super::state::{Agent, AgentId, ExecutorId, Framework, FrameworkId, Task, TaskId, is_terminal};
use super::stream::events;
use crate::registrar::Operation;

/// Why an agent leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    /// It missed pings, or did not reregister in time: it may come back.
    Unreachable,
    /// It unregistered: its tasks are gone.
    Unregistered,
}

/// `info.resources` with the checkpointed reservations and volumes applied.
fn total_resources(info: &v0::SlaveInfo, checkpointed: &[v0::Resource]) -> Resources {
    let mut total = Resources::from(info.resources.clone());
    if !checkpointed.is_empty() {
        let checkpointed = Resources::from(checkpointed.to_vec());
        total -= &checkpointed.to_unreserved();
        total += &checkpointed;
    }
    total
}

impl MasterProcess {
    pub(crate) fn register_agent(&mut self, from: Upid, msg: internal::RegisterSlaveMessage) {
        self.state.counters.messages_register_slave += 1;
        if !self.recovered {
            debug!(%from, "dropping agent registration: not recovered yet");
            return;
        }
        if self.registering.contains(&from) {
            debug!(%from, "agent registration already in progress");
            return;
        }
        // An agent we admitted that did not get the answer: answer again.
        if let Some(agent) = self.state.agents.values().find(|a| a.pid == from) {
            let reply = internal::SlaveRegisteredMessage {
                slave_id: agent.id.to_proto(),
                connection: Some(self.connection_info()),
            };
            let to = agent.pid.clone();
            self.send(&to, &reply);
            return;
        }
        if msg.slave.hostname.is_empty() {
            warn!(%from, "refusing agent registration: empty hostname");
            self.send(
                &from,
                &internal::ShutdownMessage {
                    message: Some("Agent hostname must not be empty".into()),
                },
            );
            return;
        }
        let mut info = msg.slave.clone();
        let agent_id = self.new_agent_id();
        info.id = Some(agent_id.to_proto());
        self.registering.insert(from.clone());
        let me = self.pid();
        self.registrar
            .apply(Operation::AdmitAgent(info.clone()))
            .on_any(move |result| {
                let result = result.get().map_err(|e| e.to_string());
                dispatch_with(&me, move |m: &mut MasterProcess, ctx| {
                    m.agent_admitted(ctx, from, info, msg, result)
                });
            });
    }

    fn agent_admitted(
        &mut self,
        ctx: &mut Context<'_, MasterProcess>,
        from: Upid,
        info: v0::SlaveInfo,
        msg: internal::RegisterSlaveMessage,
        result: Result<bool, String>,
    ) {
        self.registering.remove(&from);
        if let Err(error) = result {
            warn!(%from, %error, "agent admission failed");
            return;
        }
        let agent_id = AgentId::from(info.id.as_ref().expect("admitted agents have ids"));
        let total = total_resources(&info, &msg.checkpointed_resources);
        info!(%agent_id, %from, hostname = %info.hostname, resources = %total, "agent registered");
        self.state.counters.slave_registrations += 1;
        self.add_agent(
            ctx,
            agent_id.clone(),
            info,
            from.clone(),
            msg.version.unwrap_or_default(),
            msg.agent_capabilities,
            total,
            HashMap::new(),
        );
        self.operator_agent_added(&agent_id);
        let reply = internal::SlaveRegisteredMessage {
            slave_id: agent_id.to_proto(),
            connection: Some(self.connection_info()),
        };
        self.send(&from, &reply);
    }

    pub(crate) fn connection_info(&self) -> internal::MasterSlaveConnection {
        internal::MasterSlaveConnection {
            total_ping_timeout_seconds: Some(
                self.flags.agent_ping_timeout.as_secs_f64()
                    * f64::from(self.flags.max_agent_ping_timeouts),
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_agent(
        &mut self,
        ctx: &mut Context<'_, MasterProcess>,
        agent_id: AgentId,
        info: v0::SlaveInfo,
        pid: Upid,
        version: String,
        capabilities: Vec<v0::slave_info::Capability>,
        total: Resources,
        used: HashMap<FrameworkId, Resources>,
    ) {
        ctx.link(&pid);
        let ping_timeout: Duration = self
            .flags
            .agent_ping_timeout
            .try_into()
            .unwrap_or(Duration::from_secs(15));
        let observer = self.runtime.spawn(AgentObserver::new(
            agent_id.clone(),
            pid.clone(),
            self.pid(),
            ping_timeout,
            self.flags.max_agent_ping_timeouts,
        ));
        self.allocator.add_agent(
            agent_id.clone(),
            info.clone(),
            capabilities.clone(),
            total.clone(),
            used.clone(),
        );
        let now = self.now();
        self.state.agents.insert(
            agent_id.clone(),
            Agent {
                id: agent_id,
                info,
                pid,
                version,
                capabilities,
                registered_time: now,
                reregistered_time: None,
                connected: true,
                active: true,
                total,
                used,
                offered: Resources::default(),
                tasks: HashMap::new(),
                executors: HashMap::new(),
                offers: HashSet::new(),
                observer: Some(observer),
                json: Default::default(),
            },
        );
    }

    pub(crate) fn reregister_agent(&mut self, from: Upid, msg: internal::ReregisterSlaveMessage) {
        self.state.counters.messages_reregister_slave += 1;
        if !self.recovered {
            debug!(%from, "dropping agent reregistration: not recovered yet");
            return;
        }
        let Some(id) = msg.slave.id.as_ref() else {
            warn!(%from, "dropping agent reregistration without an agent id");
            return;
        };
        let agent_id = AgentId::from(id);
        if self.state.gone_agents.contains_key(&agent_id) {
            warn!(%agent_id, %from, "refusing reregistration of a gone agent");
            self.send(
                &from,
                &internal::ShutdownMessage {
                    message: Some("Agent has been marked gone".into()),
                },
            );
            return;
        }
        if self.state.agents.contains_key(&agent_id) {
            let me = self.pid();
            dispatch_with(&me, move |m: &mut MasterProcess, ctx| {
                m.reregister_known_agent(ctx, from, msg)
            });
            return;
        }
        if !self.reregistering.insert(agent_id.clone()) {
            debug!(%agent_id, "agent reregistration already in progress");
            return;
        }
        let me = self.pid();
        // An agent of the recovered registry coming back as it was admitted: the registry
        // has nothing to change (as upstream, no registry operation after a failover).
        if self
            .state
            .recovered_agents
            .get(&agent_id)
            .is_some_and(|admitted| *admitted == msg.slave)
        {
            dispatch_with(&me, move |m: &mut MasterProcess, ctx| {
                m.agent_readmitted(ctx, from, msg, Ok(false))
            });
            return;
        }
        self.registrar
            .apply(Operation::ReadmitAgent(msg.slave.clone()))
            .on_any(move |result| {
                let result = result.get().map_err(|e| e.to_string());
                dispatch_with(&me, move |m: &mut MasterProcess, ctx| {
                    m.agent_readmitted(ctx, from, msg, result)
                });
            });
    }

    /// An agent the master has registered reregisters (it restarted, or its connection
    /// broke): update its pid and reconcile its tasks.
    fn reregister_known_agent(
        &mut self,
        ctx: &mut Context<'_, MasterProcess>,
        from: Upid,
        msg: internal::ReregisterSlaveMessage,
    ) {
        let agent_id = AgentId::from(msg.slave.id.as_ref().expect("checked"));
        let now = self.now();
        let Some(agent) = self.state.agents.get_mut(&agent_id) else {
            return;
        };
        info!(%agent_id, %from, "registered agent reregistered");
        self.state.counters.slave_reregistrations += 1;
        let was_active = agent.active;
        agent.pid = from.clone();
        agent.reregistered_time = Some(now);
        agent.connected = true;
        agent.active = true;
        agent.version = msg.version.clone().unwrap_or_default();
        agent.json.invalidate();
        if let Some(observer) = &agent.observer {
            let pid = from.clone();
            dispatch(observer, move |o: &mut AgentObserver| o.reconnect(pid));
        }
        ctx.link(&from);
        if !was_active {
            self.allocator.activate_agent(agent_id.clone());
        }
        self.reconcile_known_agent(&agent_id, &msg);
        self.send_agent_reregistered(&agent_id, &from);
    }

    /// Tasks the master thinks are on the agent but the agent does not report are lost.
    fn reconcile_known_agent(
        &mut self,
        agent_id: &AgentId,
        msg: &internal::ReregisterSlaveMessage,
    ) {
        let reported: HashSet<(String, String)> = msg
            .tasks
            .iter()
            .map(|t| (t.framework_id.value.clone(), t.task_id.value.clone()))
            .collect();
        let Some(agent) = self.state.agents.get(agent_id) else {
            return;
        };
        let mut missing = Vec::new();
        for (framework_id, tasks) in &agent.tasks {
            for task_id in tasks {
                if !reported.contains(&(framework_id.0.clone(), task_id.0.clone())) {
                    missing.push((framework_id.clone(), task_id.clone()));
                }
            }
        }
        for (framework_id, task_id) in missing {
            let partition_aware = self
                .state
                .frameworks
                .get(&framework_id)
                .is_some_and(|f| f.capabilities.partition_aware);
            let state = if partition_aware {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            let status = self.master_status(
                &task_id,
                Some(agent_id),
                None,
                state,
                Reason::Reconciliation,
                "Task is unknown to the agent",
            );
            self.terminate_task(&framework_id, &task_id, status, true);
        }
        // Frameworks that were removed: tell the agent to shut them down.
        let completed: Vec<FrameworkId> = msg
            .frameworks
            .iter()
            .filter_map(|f| f.id.as_ref().map(FrameworkId::from))
            .filter(|id| self.state.is_completed_framework(id))
            .collect();
        if let Some(agent) = self.state.agents.get(agent_id) {
            let pid = agent.pid.clone();
            for framework_id in completed {
                self.send(
                    &pid,
                    &internal::ShutdownFrameworkMessage {
                        framework_id: framework_id.to_proto(),
                    },
                );
            }
        }
    }

    fn send_agent_reregistered(&mut self, agent_id: &AgentId, to: &Upid) {
        let Some(agent) = self.state.agents.get(agent_id) else {
            return;
        };
        let mut reconciliations = Vec::new();
        for (framework_id, tasks) in &agent.tasks {
            let Some(framework) = self.state.frameworks.get(framework_id) else {
                continue;
            };
            let statuses = tasks
                .iter()
                .filter_map(|t| framework.tasks.get(t))
                .map(|t| {
                    let mut status = v0::TaskStatus {
                        task_id: t.info.task_id.clone(),
                        slave_id: Some(t.info.slave_id.clone()),
                        ..Default::default()
                    };
                    status.set_state(t.state());
                    status
                })
                .collect();
            reconciliations.push(internal::ReconcileTasksMessage {
                framework_id: framework_id.to_proto(),
                statuses,
                framework: Some(framework.info.clone()),
            });
        }
        let reply = internal::SlaveReregisteredMessage {
            slave_id: agent_id.to_proto(),
            reconciliations,
            connection: Some(self.connection_info()),
        };
        self.send(to, &reply);
    }

    fn agent_readmitted(
        &mut self,
        ctx: &mut Context<'_, MasterProcess>,
        from: Upid,
        mut msg: internal::ReregisterSlaveMessage,
        result: Result<bool, String>,
    ) {
        let info = std::mem::take(&mut msg.slave);
        let agent_id = AgentId::from(info.id.as_ref().expect("checked"));
        self.reregistering.remove(&agent_id);
        if let Err(error) = result {
            warn!(%agent_id, %error, "agent readmission failed");
            return;
        }
        self.state.recovered_agents.remove(&agent_id);
        let was_unreachable = self.state.unreachable_agents.remove(&agent_id).is_some();

        // An agent back from unreachable: frameworks that are not partition aware were told
        // its tasks are LOST, so those tasks are shut down rather than brought back.
        let mut shut_down: HashSet<FrameworkId> = HashSet::new();
        if was_unreachable {
            for framework_info in &msg.frameworks {
                let Some(id) = framework_info.id.as_ref().map(FrameworkId::from) else {
                    continue;
                };
                let partition_aware = match self.state.frameworks.get(&id) {
                    Some(framework) => framework.capabilities.partition_aware,
                    None => super::state::Capabilities::of(framework_info).partition_aware,
                };
                if !partition_aware {
                    info!(framework_id = %id, %agent_id, "shutting down a framework that is not partition aware on a reregistering agent");
                    self.send(
                        &from,
                        &internal::ShutdownFrameworkMessage {
                            framework_id: id.to_proto(),
                        },
                    );
                    if let Some(framework) = self.state.frameworks.get_mut(&id) {
                        framework
                            .unreachable_tasks
                            .retain(|t| t.info.slave_id.value != agent_id.0);
                    }
                    shut_down.insert(id);
                }
            }
        }

        // Frameworks known only from this agent become recovered frameworks.
        let now = self.now();
        for framework_info in &msg.frameworks {
            let Some(id) = framework_info.id.as_ref().map(FrameworkId::from) else {
                continue;
            };
            if self.state.frameworks.contains_key(&id)
                || self.state.is_completed_framework(&id)
                || shut_down.contains(&id)
            {
                continue;
            }
            info!(framework_id = %id, %agent_id, "recovered framework from a reregistering agent");
            let framework = Framework::new(id.clone(), framework_info.clone(), now);
            self.allocator.add_framework(
                id.clone(),
                framework.info.clone(),
                HashMap::new(),
                false,
                Default::default(),
            );
            self.state.frameworks.insert(id, framework);
        }

        // Tasks and executors the agent reports.
        let mut used: HashMap<FrameworkId, Resources> = HashMap::new();
        let mut tasks = Vec::with_capacity(msg.tasks.len());
        for mut task in std::mem::take(&mut msg.tasks) {
            let framework_id = FrameworkId::from(&task.framework_id);
            // A framework being shut down on the agent loses its live tasks, but a task that
            // already ended is kept until its terminal update is acknowledged, then completes.
            if shut_down.contains(&framework_id) && !is_terminal(task.state()) {
                continue;
            }
            let Some(framework) = self.state.frameworks.get(&framework_id) else {
                continue;
            };
            let mut resources = Resources::from(std::mem::take(&mut task.resources));
            if resources.allocations().is_empty()
                && let Some(role) = framework.roles.iter().next()
            {
                resources.allocate(role);
            }
            if !is_terminal(task.state()) {
                *used.entry(framework_id.clone()).or_default() += &resources;
            }
            task.resources = resources.to_vec();
            tasks.push((framework_id, Task::new(task, resources)));
        }
        let mut executors = Vec::with_capacity(msg.executor_infos.len());
        for mut executor in std::mem::take(&mut msg.executor_infos) {
            let Some(framework_id) = executor.framework_id.as_ref().map(FrameworkId::from) else {
                continue;
            };
            if shut_down.contains(&framework_id) {
                continue;
            }
            let Some(framework) = self.state.frameworks.get(&framework_id) else {
                continue;
            };
            let mut resources = Resources::from(std::mem::take(&mut executor.resources));
            if resources.allocations().is_empty()
                && let Some(role) = framework.roles.iter().next()
            {
                resources.allocate(role);
            }
            *used.entry(framework_id.clone()).or_default() += &resources;
            executor.resources = resources.to_vec();
            executors.push((framework_id, executor));
        }

        let total = total_resources(&info, &msg.checkpointed_resources);
        info!(%agent_id, %from, tasks = tasks.len(), "agent reregistered");
        self.state.counters.slave_reregistrations += 1;
        self.add_agent(
            ctx,
            agent_id.clone(),
            info,
            from.clone(),
            msg.version.clone().unwrap_or_default(),
            msg.agent_capabilities.clone(),
            total,
            used.clone(),
        );
        self.operator_agent_added(&agent_id);
        let agent = self.state.agents.get_mut(&agent_id).expect("just added");
        agent.reregistered_time = Some(now);
        for (framework_id, task) in tasks {
            let task_id = task.id();
            agent
                .tasks
                .entry(framework_id.clone())
                .or_default()
                .insert(task_id.clone());
            if let Some(framework) = self.state.frameworks.get_mut(&framework_id) {
                if !framework.unreachable_tasks.is_empty() {
                    framework
                        .unreachable_tasks
                        .retain(|t| t.info.task_id != task.info.task_id);
                }
                framework.tasks.insert(task_id, task);
            }
        }
        for (framework_id, executor) in executors {
            let executor_id = ExecutorId::from(&executor.executor_id);
            agent
                .executors
                .entry(framework_id.clone())
                .or_default()
                .insert(executor_id.clone(), executor.clone());
            if let Some(framework) = self.state.frameworks.get_mut(&framework_id) {
                framework
                    .executors
                    .entry(agent_id.clone())
                    .or_default()
                    .insert(executor_id, executor);
            }
        }
        for (framework_id, resources) in used {
            if let Some(framework) = self.state.frameworks.get_mut(&framework_id) {
                *framework.used.entry(agent_id.clone()).or_default() += &resources;
            }
        }
        let completed: Vec<FrameworkId> = msg
            .frameworks
            .iter()
            .filter_map(|f| f.id.as_ref().map(FrameworkId::from))
            .filter(|id| self.state.is_completed_framework(id))
            .collect();
        for framework_id in completed {
            self.send(
                &from,
                &internal::ShutdownFrameworkMessage {
                    framework_id: framework_id.to_proto(),
                },
            );
        }
        self.send_agent_reregistered(&agent_id, &from);
    }

    pub(crate) fn unregister_agent(&mut self, from: Upid, msg: internal::UnregisterSlaveMessage) {
        self.state.counters.messages_unregister_slave += 1;
        let agent_id = AgentId::from(&msg.slave_id);
        match self.state.agents.get(&agent_id) {
            Some(agent) if agent.pid == from => {}
            Some(_) => {
                warn!(%agent_id, %from, "ignoring unregistration from a different pid");
                return;
            }
            None => {
                debug!(%agent_id, "ignoring unregistration of an unknown agent");
                return;
            }
        }
        info!(%agent_id, "agent unregistered");
        let me = self.pid();
        self.registrar
            .apply(Operation::RemoveAgent(msg.slave_id.clone()))
            .on_any(move |result| {
                if let Err(error) = result.get() {
                    warn!(%error, "failed to remove agent from the registry");
                }
                dispatch(&me, move |m: &mut MasterProcess| {
                    m.remove_agent(&agent_id, Removal::Unregistered, "agent unregistered")
                });
            });
    }

    /// An agent's connection broke (the link to its pid exited): stop offering it; the
    /// observer's pings decide whether it is unreachable.
    pub(crate) fn agent_exited(&mut self, pid: &Upid) {
        let Some(agent) = self.state.agents.values_mut().find(|a| &a.pid == pid) else {
            return;
        };
        if !agent.connected {
            return;
        }
        info!(agent_id = %agent.id, %pid, "agent disconnected");
        agent.connected = false;
        agent.active = false;
        let agent_id = agent.id.clone();
        if let Some(observer) = &agent.observer {
            dispatch(observer, |o: &mut AgentObserver| o.disconnect());
        }
        self.allocator.deactivate_agent(agent_id.clone());
        let offers: Vec<_> = agent.offers.iter().cloned().collect();
        for offer_id in offers {
            self.rescind_offer(&offer_id, true);
        }
    }

    /// The observer gave up on the agent: mark it unreachable, honouring
    /// `--agent_removal_rate_limit`.
    pub(crate) fn agent_ping_timed_out(&mut self, agent_id: AgentId) {
        if !self.state.agents.contains_key(&agent_id) {
            return;
        }
        self.removal_queue.push_back(agent_id);
        self.drain_removals();
    }

    fn drain_removals(&mut self) {
        if self.removal_draining {
            return;
        }
        let Some(limit) = self.settings.agent_removal_rate_limit else {
            while let Some(agent_id) = self.removal_queue.pop_front() {
                self.mark_unreachable(agent_id, "health check timed out");
            }
            return;
        };
        let interval: Duration = (limit.duration.as_secs_f64() / f64::from(limit.permits))
            .max(0.0)
            .pipe(Duration::from_secs_f64);
        let now = self.now();
        match self.removal_next {
            Some(next) if next > now => {
                self.removal_draining = true;
                let wait = next.duration_since(now).unwrap_or_default();
                libprocess::delay(wait, &self.pid(), |m: &mut MasterProcess| {
                    m.removal_draining = false;
                    m.drain_removals();
                });
            }
            _ => {
                if let Some(agent_id) = self.removal_queue.pop_front() {
                    self.removal_next = Some(now + interval);
                    self.mark_unreachable(agent_id, "health check timed out");
                }
                if !self.removal_queue.is_empty() {
                    self.drain_removals();
                }
            }
        }
    }

    fn mark_unreachable(&mut self, agent_id: AgentId, reason: &'static str) {
        if !self.state.agents.contains_key(&agent_id) {
            return;
        }
        let time = self.now_time_info();
        let me = self.pid();
        self.registrar
            .apply(Operation::MarkUnreachable {
                agent_id: agent_id.to_proto(),
                time: time.nanoseconds,
            })
            .on_any(move |result| {
                let ok = result.get().map_err(|e| e.to_string());
                dispatch(&me, move |m: &mut MasterProcess| match ok {
                    Ok(_) => {
                        m.state.unreachable_agents.insert(agent_id.clone(), time);
                        m.remove_agent(&agent_id, Removal::Unreachable, reason);
                    }
                    Err(error) => warn!(%agent_id, %error, "failed to mark agent unreachable"),
                });
            });
    }

    /// Agents in the registry that did not reregister within `--agent_reregister_timeout`
    /// of the recovery become unreachable.
    pub(crate) fn agent_reregister_timeout(&mut self) {
        let late: Vec<AgentId> = self.state.recovered_agents.keys().cloned().collect();
        for agent_id in late {
            warn!(%agent_id, "agent did not reregister in time; marking it unreachable");
            let time = self.now_time_info();
            let me = self.pid();
            self.registrar
                .apply(Operation::MarkUnreachable {
                    agent_id: agent_id.to_proto(),
                    time: time.nanoseconds,
                })
                .on_any(move |result| {
                    let ok = result.get().is_ok();
                    dispatch(&me, move |m: &mut MasterProcess| {
                        if ok && m.state.recovered_agents.remove(&agent_id).is_some() {
                            m.state.unreachable_agents.insert(agent_id, time);
                        }
                    });
                });
        }
    }

    /// Removes a registered agent: its offers are rescinded, its tasks become
    /// UNREACHABLE/GONE (LOST for frameworks that are not partition aware), frameworks get a
    /// FAILURE event, the allocator forgets it.
    pub(crate) fn remove_agent(&mut self, agent_id: &AgentId, removal: Removal, reason: &str) {
        let Some(agent) = self.state.agents.get(agent_id) else {
            return;
        };
        info!(%agent_id, ?removal, reason, "removing agent");
        let offers: Vec<_> = agent.offers.iter().cloned().collect();
        for offer_id in offers {
            self.rescind_offer(&offer_id, true);
        }
        let agent = self.state.agents.remove(agent_id).expect("checked");
        self.state.counters.slave_removals += 1;
        if let Some(observer) = &agent.observer {
            libprocess::terminate(observer);
        }
        let unreachable_time = self.now_time_info();
        for (framework_id, task_ids) in &agent.tasks {
            for task_id in task_ids {
                self.agent_task_lost(
                    framework_id,
                    task_id,
                    agent_id,
                    removal,
                    reason,
                    &unreachable_time,
                );
            }
        }
        for framework_id in agent.executors.keys() {
            if let Some(framework) = self.state.frameworks.get_mut(framework_id) {
                framework.executors.remove(agent_id);
            }
        }
        for framework in self.state.frameworks.values_mut() {
            framework.used.remove(agent_id);
        }
        self.allocator.remove_agent(agent_id.clone());
        self.operator_agent_removed(agent_id);
        let failure = events::failure(agent_id.to_proto(), None, None);
        for framework in self.state.frameworks.values() {
            if let Some(stream) = &framework.stream {
                stream.send(&failure);
            }
        }
    }

    fn agent_task_lost(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        agent_id: &AgentId,
        removal: Removal,
        reason: &str,
        unreachable_time: &v0::TimeInfo,
    ) {
        let Some(framework) = self.state.frameworks.get(framework_id) else {
            return;
        };
        let Some(task) = framework.tasks.get(task_id) else {
            return;
        };
        if is_terminal(task.state()) {
            // Terminal but not acknowledged: it completes.
            if let Some(framework) = self.state.frameworks.get_mut(framework_id)
                && let Some(task) = framework.tasks.remove(task_id)
            {
                self.complete_task(framework_id, task);
            }
            return;
        }
        let state = match (framework.capabilities.partition_aware, removal) {
            (false, _) => TaskState::TaskLost,
            (true, Removal::Unreachable) => TaskState::TaskUnreachable,
            (true, Removal::Unregistered) => TaskState::TaskGone,
        };
        let mut status = self.master_status(
            task_id,
            Some(agent_id),
            task.info
                .executor_id
                .as_ref()
                .map(ExecutorId::from)
                .as_ref(),
            state,
            Reason::SlaveRemoved,
            &format!("Agent {agent_id} removed: {reason}"),
        );
        if removal == Removal::Unreachable {
            status.unreachable_time = Some(*unreachable_time);
        }
        let framework = self
            .state
            .frameworks
            .get_mut(framework_id)
            .expect("checked");
        let mut task = framework.tasks.remove(task_id).expect("checked");
        self.state.counters.task_entered(state);
        task.info.set_state(state);
        task.info.statuses.push(status.clone());
        task.json.invalidate();
        if let Some(stream) = &framework.stream {
            stream.send(&events::update(status));
        }
        match removal {
            Removal::Unreachable => {
                framework.unreachable_tasks.push_back(task);
                while framework.unreachable_tasks.len()
                    > self.flags.max_unreachable_tasks_per_framework
                {
                    framework.unreachable_tasks.pop_front();
                }
            }
            Removal::Unregistered => self.complete_task(framework_id, task),
        }
    }

    /// A status the master makes up (source MASTER, no uuid).
    pub(crate) fn master_status(
        &self,
        task_id: &TaskId,
        agent_id: Option<&AgentId>,
        executor_id: Option<&ExecutorId>,
        state: TaskState,
        reason: Reason,
        message: &str,
    ) -> v0::TaskStatus {
        let mut status = v0::TaskStatus {
            task_id: task_id.to_proto(),
            message: Some(message.to_owned()),
            slave_id: agent_id.map(AgentId::to_proto),
            executor_id: executor_id.map(ExecutorId::to_proto),
            timestamp: Some(self.now_secs()),
            ..Default::default()
        };
        status.set_state(state);
        status.set_source(Source::Master);
        status.set_reason(reason);
        status
    }
}

/// `x.pipe(f)` is `f(x)`.
trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}

impl<T> Pipe for T {}

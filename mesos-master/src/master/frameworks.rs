//! Frameworks: SUBSCRIBE (new, resubscribe, failover of the old stream), disconnection and
//! the failover timeout, TEARDOWN and removal, UPDATE_FRAMEWORK, SUPPRESS/REVIVE.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use libprocess::http::{Pipe, Response};
use libprocess::{dispatch, terminate};
use mesos_core::internal;
use mesos_core::v0;
use mesos_core::v0::TaskState;
use mesos_core::v0::task_status::Reason;
use tracing::{info, warn};

use super::MasterProcess;
use super::heartbeater::Heartbeater;
use super::state::{
    Capabilities, CompletedFramework, Connection, Framework, FrameworkId, framework_roles,
};
use super::stream::{ContentType, EventStream, events};
use crate::allocator::FrameworkOptions;

/// Why `new` may not replace `old`: the user, checkpointing and principal of a framework
/// are fixed at its first subscription.
fn immutable_change(old: &v0::FrameworkInfo, new: &v0::FrameworkInfo) -> Option<String> {
    [
        ("user", old.user != new.user),
        ("checkpoint", old.checkpoint() != new.checkpoint()),
        ("principal", old.principal != new.principal),
    ]
    .into_iter()
    .find(|(_, changed)| *changed)
    .map(|(name, _)| format!("Updating 'FrameworkInfo.{name}' is unsupported"))
}

/// The longest failover timeout honoured: about 100 years (a timer further away could
/// overflow the clock).
const MAX_FAILOVER_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The failover timeout of a framework, as a duration (negative and NaN count as 0).
fn failover_timeout(info: &v0::FrameworkInfo) -> Duration {
    let secs = info.failover_timeout.unwrap_or(0.0);
    if secs.is_finite() && secs > 0.0 {
        Duration::try_from_secs_f64(secs)
            .unwrap_or(MAX_FAILOVER_TIMEOUT)
            .min(MAX_FAILOVER_TIMEOUT)
    } else {
        Duration::ZERO
    }
}

impl MasterProcess {
    /// Checks a `FrameworkInfo` as upstream `validation::framework::validate` does.
    #[allow(deprecated)]
    pub(crate) fn validate_framework_info(
        &self,
        info: &v0::FrameworkInfo,
        principal: Option<&str>,
    ) -> Result<(), String> {
        let multi_role = Capabilities::of(info).multi_role;
        if multi_role && info.role.is_some() {
            return Err(
                "'FrameworkInfo.role' must not be set with the MULTI_ROLE capability".to_owned(),
            );
        }
        if !multi_role && !info.roles.is_empty() {
            return Err(
                "'FrameworkInfo.roles' must not be set without the MULTI_ROLE capability"
                    .to_owned(),
            );
        }
        let mut seen = BTreeSet::new();
        for role in &info.roles {
            if !seen.insert(role) {
                return Err(format!(
                    "'FrameworkInfo.roles' contains duplicate role '{role}'"
                ));
            }
        }
        for role in framework_roles(info) {
            mesos_core::roles::validate(&role)
                .map_err(|e| format!("'FrameworkInfo.roles' is not valid: {e}"))?;
            if let Some(whitelist) = &self.settings.roles
                && role != "*"
                && !whitelist.contains(&role)
            {
                return Err(format!(
                    "Role '{role}' is not present in the master's --roles"
                ));
            }
        }
        if let (Some(principal), Some(claimed)) = (principal, info.principal.as_deref())
            && principal != claimed
        {
            return Err(format!(
                "Authenticated principal '{principal}' does not match principal '{claimed}' set in `FrameworkInfo`"
            ));
        }
        if let Some(id) = &info.id
            && id.value.is_empty()
        {
            return Err("'FrameworkInfo.id' must not be empty".to_owned());
        }
        Ok(())
    }

    /// SUBSCRIBE over HTTP: the response is the event stream (`200`), whose first record is
    /// SUBSCRIBED, or ERROR when the subscription is refused.
    pub(crate) fn subscribe(
        &mut self,
        subscribe: v0::scheduler::call::Subscribe,
        content_type: ContentType,
        principal: Option<String>,
    ) -> Response {
        if subscribe.framework_info.id.is_some() {
            self.state.counters.messages_reregister_framework += 1;
        } else {
            self.state.counters.messages_register_framework += 1;
        }
        let Pipe { writer, reader } = Pipe::new();
        let stream_id = stout::uuid::Uuid::random().to_string();
        let stream = EventStream {
            writer,
            content_type,
            stream_id: stream_id.clone(),
        };
        let response = Response::stream(reader, content_type.as_str())
            .with_header("Mesos-Stream-Id", stream_id.as_str());

        let mut info = subscribe.framework_info;
        if let Err(message) = self.validate_framework_info(&info, principal.as_deref()) {
            info!(framework = %info.name, %message, "refusing subscription");
            stream.send(&events::error(message));
            stream.close();
            return response;
        }
        let suppressed: BTreeSet<String> = subscribe.suppressed_roles.into_iter().collect();
        let framework_id = match info.id.as_ref().map(FrameworkId::from) {
            Some(id) if self.state.is_completed_framework(&id) => {
                stream.send(&events::error("Framework has been removed"));
                stream.close();
                return response;
            }
            Some(id) => {
                if let Some(message) = self
                    .state
                    .frameworks
                    .get(&id)
                    .and_then(|f| immutable_change(&f.info, &info))
                {
                    info!(framework_id = %id, %message, "refusing resubscription");
                    stream.send(&events::error(message));
                    stream.close();
                    return response;
                }
                id
            }
            None => {
                let id = self.new_framework_id();
                info.id = Some(id.to_proto());
                id
            }
        };
        let now = self.now();
        if let Some(framework) = self.state.frameworks.get_mut(&framework_id) {
            // Resubscription: the old stream, if any, fails over.
            info!(%framework_id, "framework resubscribed");
            if let Some(old) = framework.stream.take() {
                old.send(&events::error("Framework failed over"));
                old.close();
            }
            if let Some(heartbeater) = framework.heartbeater.take() {
                terminate(&heartbeater);
            }
            if let Some(timer) = framework.failover_timer.take() {
                timer.cancel();
            }
            framework.reregistered_time = Some(now);
            framework.capabilities = Capabilities::of(&info);
            framework.roles = framework_roles(&info);
            framework.info = info.clone();
            framework.suppressed_roles = suppressed.clone();
            framework.epoch += 1;
            let offers: Vec<_> = framework.offers.iter().cloned().collect();
            for offer_id in offers {
                self.rescind_offer(&offer_id, false);
            }
            self.allocator.update_framework(
                framework_id.clone(),
                info.clone(),
                FrameworkOptions::with_suppressed_roles(suppressed),
            );
            self.allocator.activate_framework(framework_id.clone());
            self.notify_agents_of_framework(&framework_id);
        } else {
            info!(%framework_id, name = %info.name, "framework subscribed");
            let framework = Framework::new(framework_id.clone(), info.clone(), now);
            self.state
                .frameworks
                .insert(framework_id.clone(), framework);
            self.allocator.add_framework(
                framework_id.clone(),
                info.clone(),
                HashMap::new(),
                true,
                FrameworkOptions::with_suppressed_roles(suppressed.clone()),
            );
            self.state
                .frameworks
                .get_mut(&framework_id)
                .expect("just added")
                .suppressed_roles = suppressed;
        }

        stream.send(&events::subscribed(
            framework_id.to_proto(),
            self.options.heartbeat_interval.as_secs_f64(),
            self.info.clone(),
        ));
        let heartbeater = self.runtime.spawn(Heartbeater::new(
            stream.clone(),
            self.options.heartbeat_interval,
        ));
        let me = self.pid();
        let closed_id = framework_id.clone();
        let closed_stream = stream_id.clone();
        stream.writer.reader_closed().on_any(move |_| {
            dispatch(&me, move |m: &mut MasterProcess| {
                m.stream_closed(&closed_id, &closed_stream)
            });
        });
        let framework = self
            .state
            .frameworks
            .get_mut(&framework_id)
            .expect("present");
        framework.connection = Connection::Http;
        framework.active = true;
        framework.stream = Some(stream);
        framework.heartbeater = Some(heartbeater);
        self.operator_framework_subscribed(&framework_id);
        response
    }

    /// Agents running a framework's tasks learn its new info.
    fn notify_agents_of_framework(&self, framework_id: &FrameworkId) {
        let Some(framework) = self.state.frameworks.get(framework_id) else {
            return;
        };
        let message = internal::UpdateFrameworkMessage {
            framework_id: framework_id.to_proto(),
            pid: Some(String::new()),
            framework_info: Some(framework.info.clone()),
        };
        for agent in self.state.agents.values() {
            if agent.tasks.contains_key(framework_id) || agent.executors.contains_key(framework_id)
            {
                self.send(&agent.pid, &message);
            }
        }
    }

    /// The scheduler's stream broke: the framework is disconnected and removed unless it
    /// resubscribes within its failover timeout.
    pub(crate) fn stream_closed(&mut self, framework_id: &FrameworkId, stream_id: &str) {
        let Some(framework) = self.state.frameworks.get_mut(framework_id) else {
            return;
        };
        if framework.stream.as_ref().map(|s| s.stream_id.as_str()) != Some(stream_id) {
            return; // An older stream, already failed over.
        }
        info!(%framework_id, "framework disconnected");
        framework.stream = None;
        if let Some(heartbeater) = framework.heartbeater.take() {
            terminate(&heartbeater);
        }
        framework.connection = Connection::Disconnected;
        framework.active = false;
        framework.epoch += 1;
        let epoch = framework.epoch;
        let timeout = failover_timeout(&framework.info);
        let offers: Vec<_> = framework.offers.iter().cloned().collect();
        self.allocator.deactivate_framework(framework_id.clone());
        for offer_id in offers {
            self.rescind_offer(&offer_id, false);
        }
        let id = framework_id.clone();
        let timer = libprocess::delay(timeout, &self.pid(), move |m: &mut MasterProcess| {
            m.failover_timeout_expired(&id, epoch)
        });
        if let Some(framework) = self.state.frameworks.get_mut(framework_id) {
            framework.failover_timer = Some(timer);
        }
        self.operator_framework_updated(framework_id);
    }

    fn failover_timeout_expired(&mut self, framework_id: &FrameworkId, epoch: u64) {
        let Some(framework) = self.state.frameworks.get(framework_id) else {
            return;
        };
        if framework.epoch != epoch || framework.connection != Connection::Disconnected {
            return;
        }
        info!(%framework_id, "framework failover timeout; removing it");
        self.remove_framework(framework_id);
    }

    /// Removes a framework: its offers go back, its tasks are killed (agents are told to
    /// shut the framework down), it moves to the completed frameworks.
    pub(crate) fn remove_framework(&mut self, framework_id: &FrameworkId) {
        let Some(framework) = self.state.frameworks.get(framework_id) else {
            return;
        };
        info!(%framework_id, "removing framework");
        let offers: Vec<_> = framework.offers.iter().cloned().collect();
        for offer_id in offers {
            self.rescind_offer(&offer_id, false);
        }
        let shutdown = internal::ShutdownFrameworkMessage {
            framework_id: framework_id.to_proto(),
        };
        for agent in self.state.agents.values() {
            if agent.tasks.contains_key(framework_id) || agent.executors.contains_key(framework_id)
            {
                self.send(&agent.pid, &shutdown);
            }
        }
        let now = self.now();
        let now_secs = self.now_secs();
        let mut framework = self.state.frameworks.remove(framework_id).expect("checked");
        if let Some(stream) = framework.stream.take() {
            stream.close();
        }
        if let Some(heartbeater) = framework.heartbeater.take() {
            terminate(&heartbeater);
        }
        if let Some(timer) = framework.failover_timer.take() {
            timer.cancel();
        }
        for (agent_id, used) in framework.used.drain() {
            self.allocator.recover_resources(
                framework_id.clone(),
                agent_id.clone(),
                used,
                None,
                true,
            );
            if let Some(agent) = self.state.agents.get_mut(&agent_id) {
                agent.used.remove(framework_id);
                agent.tasks.remove(framework_id);
                agent.executors.remove(framework_id);
            }
        }
        for agent in self.state.agents.values_mut() {
            agent.tasks.remove(framework_id);
            agent.executors.remove(framework_id);
        }
        self.allocator.remove_framework(framework_id.clone());
        self.operator_framework_removed(&framework.info);

        let mut completed: Vec<_> = framework.completed_tasks.drain(..).collect();
        for (_, mut task) in framework.tasks.drain() {
            if !super::state::is_terminal(task.state()) {
                let mut status = v0::TaskStatus {
                    task_id: task.info.task_id.clone(),
                    slave_id: Some(task.info.slave_id.clone()),
                    message: Some("Framework removed".into()),
                    timestamp: Some(now_secs),
                    ..Default::default()
                };
                status.set_state(TaskState::TaskKilled);
                status.set_reason(Reason::FrameworkRemoved);
                status.set_source(v0::task_status::Source::Master);
                task.info.set_state(TaskState::TaskKilled);
                self.state.counters.task_entered(TaskState::TaskKilled);
                task.info.statuses.push(status);
                task.json.invalidate();
            }
            completed.push(task);
        }
        let keep = self.flags.max_completed_tasks_per_framework;
        if completed.len() > keep {
            completed.drain(..completed.len() - keep);
        }
        self.state
            .completed_frameworks
            .push_back(CompletedFramework {
                info: framework.info,
                registered_time: framework.registered_time,
                unregistered_time: now,
                completed_tasks: completed,
            });
        while self.state.completed_frameworks.len() > self.flags.max_completed_frameworks {
            self.state.completed_frameworks.pop_front();
        }
    }

    /// UPDATE_FRAMEWORK: the new info, checked; `Err` is the HTTP answer.
    #[allow(clippy::result_large_err)] // The error is the HTTP answer, returned as is.
    pub(crate) fn update_framework(
        &mut self,
        framework_id: &FrameworkId,
        update: v0::scheduler::call::UpdateFramework,
        principal: Option<&str>,
    ) -> Result<(), Response> {
        let info = update.framework_info;
        self.validate_framework_info(&info, principal)
            .map_err(|m| Response::bad_request(format!("Invalid FrameworkInfo: {m}")))?;
        let Some(framework) = self.state.frameworks.get_mut(framework_id) else {
            return Err(Response::bad_request("Framework cannot be found"));
        };
        if let Some(message) = immutable_change(&framework.info, &info) {
            return Err(Response::bad_request(message));
        }
        let suppressed: BTreeSet<String> = update.suppressed_roles.into_iter().collect();
        framework.capabilities = Capabilities::of(&info);
        framework.roles = framework_roles(&info);
        framework.info = info.clone();
        framework.suppressed_roles = suppressed.clone();
        self.allocator.update_framework(
            framework_id.clone(),
            info,
            FrameworkOptions::with_suppressed_roles(suppressed),
        );
        self.notify_agents_of_framework(framework_id);
        Ok(())
    }

    /// SUPPRESS: no more offers for these roles (all the framework's if empty).
    pub(crate) fn suppress(&mut self, framework_id: &FrameworkId, roles: Vec<String>) {
        self.state.counters.messages_suppress_offers += 1;
        let Some(framework) = self.state.frameworks.get_mut(framework_id) else {
            return;
        };
        let roles: BTreeSet<String> = if roles.is_empty() {
            framework.roles.clone()
        } else {
            roles.into_iter().collect()
        };
        framework.suppressed_roles.extend(roles.iter().cloned());
        self.allocator.suppress_offers(framework_id.clone(), roles);
    }

    /// REVIVE: offers again for these roles (all if empty), filters cleared.
    pub(crate) fn revive(&mut self, framework_id: &FrameworkId, roles: Vec<String>) {
        self.state.counters.messages_revive_offers += 1;
        let Some(framework) = self.state.frameworks.get_mut(framework_id) else {
            return;
        };
        let roles: BTreeSet<String> = if roles.is_empty() {
            framework.roles.clone()
        } else {
            roles.into_iter().collect()
        };
        for role in &roles {
            framework.suppressed_roles.remove(role);
        }
        self.allocator.revive_offers(framework_id.clone(), roles);
    }

    pub(crate) fn log_dropped_call(&self, framework_id: &FrameworkId, what: &str) {
        warn!(%framework_id, "{what}");
    }
}

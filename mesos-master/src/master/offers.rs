//! Offers: the allocator's offers become OFFERS events; ACCEPT (LAUNCH, LAUNCH_GROUP) with
//! offer and task validation; DECLINE with filters; rescinds (offer timeout, agent loss).
//!
//! A framework without MULTI_ROLE gets offers without `allocation_info`; one without
//! RESERVATION_REFINEMENT gets resources in the pre-refinement format (`role: "*"`).

use std::collections::HashSet;
use std::time::Duration;

use mesos_core::internal;
use mesos_core::resources::{ResourceFormat, Resources, convert_resource_format};
use mesos_core::v0;
use mesos_core::v0::TaskState;
use mesos_core::v0::offer::operation::Type as OperationType;
use mesos_core::v0::task_status::Reason;
use tracing::{debug, info, warn};

use super::MasterProcess;
use super::state::{AgentId, ExecutorId, FrameworkId, Offer, OfferId, Task, TaskId};
use super::stream::events;
use crate::allocator;

/// Resources as a framework sees them in its offers.
fn resources_for(resources: &Resources, multi_role: bool, refinement: bool) -> Vec<v0::Resource> {
    let mut out = resources.to_vec();
    for resource in &mut out {
        if !multi_role {
            resource.allocation_info = None;
        }
        if !refinement {
            let _ = convert_resource_format(resource, ResourceFormat::PreReservationRefinement);
        }
    }
    out
}

/// Checks an ID the way upstream `common::validation::validateID` does.
fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("ID must not be empty".into());
    }
    if id == "." || id == ".." {
        return Err("'.' and '..' are disallowed".into());
    }
    if id.contains('/') || id.chars().any(char::is_control) {
        return Err(format!("'{id}' contains invalid characters"));
    }
    Ok(())
}

impl MasterProcess {
    /// The allocator made offers to a framework: send them, or give them back if the
    /// framework or the agent has gone meanwhile.
    pub(crate) fn offer(&mut self, framework_id: FrameworkId, offers: allocator::Offers) {
        let mut out = Vec::new();
        for (role, by_agent) in offers {
            for (agent_id, resources) in by_agent {
                let usable = self
                    .state
                    .frameworks
                    .get(&framework_id)
                    .is_some_and(|f| f.active && f.stream.is_some())
                    && self.state.agents.get(&agent_id).is_some_and(|a| a.active);
                if !usable {
                    self.allocator.recover_resources(
                        framework_id.clone(),
                        agent_id,
                        resources,
                        None,
                        false,
                    );
                    continue;
                }
                let offer_id = self.new_offer_id();
                let framework = &self.state.frameworks[&framework_id];
                let agent = &self.state.agents[&agent_id];
                let caps = framework.capabilities;
                let address = agent.pid.address();
                let executor_ids = framework
                    .executors
                    .get(&agent_id)
                    .map(|e| e.keys().map(ExecutorId::to_proto).collect())
                    .unwrap_or_default();
                let info = v0::Offer {
                    id: offer_id.to_proto(),
                    framework_id: framework_id.to_proto(),
                    slave_id: agent_id.to_proto(),
                    hostname: agent.info.hostname.clone(),
                    url: Some(v0::Url {
                        scheme: "http".into(),
                        address: v0::Address {
                            hostname: Some(agent.info.hostname.clone()),
                            ip: Some(address.ip().to_string()),
                            port: i32::from(address.port()),
                        },
                        path: Some(format!("/{}", agent.pid.id())),
                        query: Vec::new(),
                        fragment: None,
                    }),
                    domain: agent.info.domain.clone(),
                    resources: resources_for(
                        &resources,
                        caps.multi_role,
                        caps.reservation_refinement,
                    ),
                    attributes: agent.info.attributes.clone(),
                    executor_ids,
                    unavailability: None,
                    allocation_info: caps.multi_role.then(|| v0::resource::AllocationInfo {
                        role: Some(role.clone()),
                    }),
                };
                let timer = self.flags.offer_timeout.map(|timeout| {
                    let timeout: Duration = timeout.try_into().unwrap_or(Duration::MAX);
                    let id = offer_id.clone();
                    libprocess::delay(timeout, &self.pid(), move |m: &mut MasterProcess| {
                        if m.state.offers.contains_key(&id) {
                            info!(offer_id = %id, "offer timed out; rescinding it");
                            m.rescind_offer(&id, true);
                        }
                    })
                });
                out.push(info.clone());
                let framework = self
                    .state
                    .frameworks
                    .get_mut(&framework_id)
                    .expect("usable");
                framework.offers.insert(offer_id.clone());
                framework.offered += &resources;
                let agent = self.state.agents.get_mut(&agent_id).expect("usable");
                agent.offers.insert(offer_id.clone());
                agent.offered += &resources;
                self.state.offers.insert(
                    offer_id.clone(),
                    Offer {
                        id: offer_id,
                        framework_id: framework_id.clone(),
                        agent_id,
                        role: role.clone(),
                        resources,
                        info,
                        timer,
                    },
                );
            }
        }
        if out.is_empty() {
            return;
        }
        debug!(%framework_id, offers = out.len(), "sending offers");
        if let Some(stream) = self
            .state
            .frameworks
            .get(&framework_id)
            .and_then(|f| f.stream.as_ref())
        {
            stream.send(&events::offers(out));
        }
    }

    /// Takes an offer out of the state (its framework and agent forget it).
    pub(crate) fn remove_offer(&mut self, offer_id: &OfferId) -> Option<Offer> {
        let offer = self.state.offers.remove(offer_id)?;
        if let Some(timer) = &offer.timer {
            timer.cancel();
        }
        if let Some(framework) = self.state.frameworks.get_mut(&offer.framework_id) {
            framework.offers.remove(offer_id);
            framework.offered -= &offer.resources;
        }
        if let Some(agent) = self.state.agents.get_mut(&offer.agent_id) {
            agent.offers.remove(offer_id);
            agent.offered -= &offer.resources;
        }
        Some(offer)
    }

    /// Withdraws an offer: its resources go back to the allocator; with `send`, the
    /// framework gets RESCIND.
    pub(crate) fn rescind_offer(&mut self, offer_id: &OfferId, send: bool) {
        let Some(offer) = self.remove_offer(offer_id) else {
            return;
        };
        if send
            && let Some(stream) = self
                .state
                .frameworks
                .get(&offer.framework_id)
                .and_then(|f| f.stream.as_ref())
        {
            stream.send(&events::rescind(offer_id.to_proto()));
        }
        self.allocator.recover_resources(
            offer.framework_id,
            offer.agent_id,
            offer.resources,
            None,
            false,
        );
    }

    /// DECLINE: the offers' resources go back, filtered for `filters.refuse_seconds`.
    pub(crate) fn decline(
        &mut self,
        framework_id: &FrameworkId,
        decline: v0::scheduler::call::Decline,
    ) {
        self.state.counters.messages_decline_offers += 1;
        for offer_id in &decline.offer_ids {
            let offer_id = OfferId::from(offer_id);
            match self.state.offers.get(&offer_id) {
                Some(offer) if &offer.framework_id == framework_id => {}
                _ => {
                    debug!(%framework_id, %offer_id, "ignoring decline of an invalid offer");
                    continue;
                }
            }
            let offer = self.remove_offer(&offer_id).expect("checked");
            self.allocator.recover_resources(
                offer.framework_id,
                offer.agent_id,
                offer.resources,
                Some(decline.filters.unwrap_or_default()),
                false,
            );
        }
    }

    /// ACCEPT: validates the offers, then runs the operations in order on their resources;
    /// what is left goes back with the call's filters.
    pub(crate) fn accept(
        &mut self,
        framework_id: &FrameworkId,
        accept: v0::scheduler::call::Accept,
    ) {
        // Offer validation: every offer outstanding, this framework's, one agent, no repeats.
        let mut error = None;
        let mut seen = HashSet::new();
        let mut agent_id: Option<AgentId> = None;
        if accept.offer_ids.is_empty() {
            error = Some("No offers specified".to_owned());
        }
        for offer_id in &accept.offer_ids {
            let offer_id = OfferId::from(offer_id);
            if !seen.insert(offer_id.clone()) {
                error = Some(format!("Duplicate offer {offer_id} in offer list"));
                break;
            }
            let Some(offer) = self.state.offers.get(&offer_id) else {
                error = Some(format!("Offer {offer_id} is no longer valid"));
                break;
            };
            if &offer.framework_id != framework_id {
                error = Some(format!(
                    "Offer {offer_id} has invalid framework {} while framework {framework_id} is expected",
                    offer.framework_id
                ));
                break;
            }
            match &agent_id {
                None => agent_id = Some(offer.agent_id.clone()),
                Some(a) if a != &offer.agent_id => {
                    error = Some(format!(
                        "Aggregated offers must belong to one single agent. Offer {offer_id} uses agent {} and agent {a}",
                        offer.agent_id
                    ));
                    break;
                }
                Some(_) => {}
            }
        }

        // The offers are used up either way; valid ones give their resources back.
        let mut offered = Resources::default();
        let mut roles = Vec::new();
        for offer_id in &accept.offer_ids {
            let offer_id = OfferId::from(offer_id);
            let valid = self
                .state
                .offers
                .get(&offer_id)
                .is_some_and(|o| &o.framework_id == framework_id);
            if !valid {
                continue;
            }
            let offer = self.remove_offer(&offer_id).expect("checked");
            if error.is_some() {
                self.allocator.recover_resources(
                    offer.framework_id,
                    offer.agent_id,
                    offer.resources,
                    None,
                    false,
                );
            } else {
                offered += &offer.resources;
                roles.push(offer.role);
            }
        }

        if let Some(error) = error {
            warn!(%framework_id, %error, "ACCEPT with invalid offers");
            let partition_aware = self
                .state
                .frameworks
                .get(framework_id)
                .is_some_and(|f| f.capabilities.partition_aware);
            let state = if partition_aware {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            for operation in &accept.operations {
                for task in operation_tasks(operation) {
                    let status = self.master_status(
                        &TaskId::from(&task.task_id),
                        Some(&AgentId::from(&task.slave_id)),
                        None,
                        state,
                        Reason::InvalidOffers,
                        &format!("Task launched with invalid offers: {error}"),
                    );
                    self.state.counters.task_entered(state);
                    self.send_status(framework_id, status);
                }
            }
            return;
        }
        let agent_id = agent_id.expect("valid offers name an agent");
        let role = roles.first().cloned().unwrap_or_else(|| "*".to_owned());
        let mut remaining = offered;

        for operation in accept.operations {
            match operation.r#type() {
                OperationType::Launch => {
                    let tasks = operation.launch.map(|l| l.task_infos).unwrap_or_default();
                    for task in tasks {
                        match self.validate_task(framework_id, &agent_id, &role, &task, &remaining)
                        {
                            Ok((task, consumed, launch_executor)) => {
                                remaining -= &consumed;
                                self.launch_task(
                                    framework_id,
                                    &agent_id,
                                    task,
                                    consumed,
                                    launch_executor,
                                );
                            }
                            Err(message) => self.task_invalid(framework_id, &task, &message),
                        }
                    }
                }
                OperationType::LaunchGroup => {
                    let Some(group) = operation.launch_group else {
                        continue;
                    };
                    match self.validate_task_group(
                        framework_id,
                        &agent_id,
                        &role,
                        &group,
                        &remaining,
                    ) {
                        Ok((executor, tasks, consumed, launch_executor)) => {
                            remaining -= &consumed;
                            self.launch_group(
                                framework_id,
                                &agent_id,
                                executor,
                                tasks,
                                launch_executor,
                            );
                        }
                        Err(message) => {
                            for task in &group.task_group.tasks {
                                self.task_invalid(framework_id, task, &message);
                            }
                        }
                    }
                }
                other => {
                    // Reservations and volumes are not supported yet: dropped, as Mesos
                    // drops an operation that fails validation.
                    warn!(%framework_id, operation = ?other, "dropping unsupported offer operation");
                }
            }
        }
        if !remaining.is_empty() {
            self.allocator.recover_resources(
                framework_id.clone(),
                agent_id,
                remaining,
                Some(accept.filters.unwrap_or_default()),
                false,
            );
        }
    }

    fn task_invalid(&mut self, framework_id: &FrameworkId, task: &v0::TaskInfo, message: &str) {
        info!(%framework_id, task_id = %task.task_id.value, %message, "invalid task");
        let status = self.master_status(
            &TaskId::from(&task.task_id),
            Some(&AgentId::from(&task.slave_id)),
            None,
            TaskState::TaskError,
            Reason::TaskInvalid,
            message,
        );
        self.state.counters.task_entered(TaskState::TaskError);
        self.send_status(framework_id, status);
    }

    /// Gives resources without an allocation the offer's role.
    fn allocated(resources: &[v0::Resource], role: &str) -> Result<Resources, String> {
        let mut out = Resources::default();
        for resource in resources {
            let mut resource = resource.clone();
            if resource.allocation_info.is_none() {
                resource.allocation_info = Some(v0::resource::AllocationInfo {
                    role: Some(role.to_owned()),
                });
            }
            out.try_add(resource)
                .map_err(|e| format!("Invalid resources: {e}"))?;
        }
        Ok(out)
    }

    /// Checks the executor of a task (or group): the same ID on this agent must mean the
    /// same executor. `Ok(true)` if it is new there.
    fn check_executor(
        &self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        executor: &v0::ExecutorInfo,
    ) -> Result<bool, String> {
        validate_id(&executor.executor_id.value)
            .map_err(|e| format!("Invalid executor ID: {e}"))?;
        if let Some(fw) = &executor.framework_id
            && fw.value != framework_id.0
        {
            return Err("ExecutorInfo has an invalid FrameworkID".into());
        }
        let existing = self
            .state
            .agents
            .get(agent_id)
            .and_then(|a| a.executors.get(framework_id))
            .and_then(|e| e.get(&ExecutorId::from(&executor.executor_id)));
        match existing {
            None => Ok(true),
            Some(known) => {
                let mut mine = executor.clone();
                mine.framework_id = known.framework_id.clone();
                mine.resources = known.resources.clone();
                if mine.command != known.command || mine.container != known.container {
                    Err(format!(
                        "ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID '{}'",
                        executor.executor_id.value
                    ))
                } else {
                    Ok(false)
                }
            }
        }
    }

    fn check_task_basics(
        &self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        task: &v0::TaskInfo,
    ) -> Result<(), String> {
        validate_id(&task.task_id.value).map_err(|e| format!("Invalid task ID: {e}"))?;
        let framework = self
            .state
            .frameworks
            .get(framework_id)
            .ok_or("Framework removed")?;
        if framework.tasks.contains_key(&TaskId::from(&task.task_id)) {
            return Err(format!("Task has duplicate ID: {}", task.task_id.value));
        }
        if task.slave_id.value != agent_id.0 {
            return Err(format!(
                "Task uses invalid agent: {} while agent {agent_id} is expected",
                task.slave_id.value
            ));
        }
        Ok(())
    }

    /// Validates one task of LAUNCH; gives back the task with its resources allocated, what
    /// it consumes (with a new executor's resources) and whether its executor is new.
    fn validate_task(
        &self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        role: &str,
        task: &v0::TaskInfo,
        remaining: &Resources,
    ) -> Result<(v0::TaskInfo, Resources, bool), String> {
        self.check_task_basics(framework_id, agent_id, task)?;
        if task.executor.is_some() == task.command.is_some() {
            return Err(
                "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
                    .into(),
            );
        }
        let mut task = task.clone();
        let resources = Self::allocated(&task.resources, role)?;
        task.resources = resources.to_vec();
        let mut consumed = resources;
        let mut launch_executor = false;
        if let Some(executor) = &mut task.executor {
            launch_executor = self.check_executor(framework_id, agent_id, executor)?;
            executor.framework_id = Some(framework_id.to_proto());
            let executor_resources = Self::allocated(&executor.resources, role)?;
            executor.resources = executor_resources.to_vec();
            if launch_executor {
                consumed += &executor_resources;
            }
        }
        if !remaining.contains(&consumed) {
            return Err(format!(
                "Task uses more resources {consumed} than available {remaining}"
            ));
        }
        Ok((task, consumed, launch_executor))
    }

    #[allow(clippy::type_complexity)]
    fn validate_task_group(
        &self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        role: &str,
        group: &v0::offer::operation::LaunchGroup,
        remaining: &Resources,
    ) -> Result<(v0::ExecutorInfo, Vec<v0::TaskInfo>, Resources, bool), String> {
        if group.task_group.tasks.is_empty() {
            return Err("Task group is empty".into());
        }
        let mut executor = group.executor.clone();
        if executor.r#type() != v0::executor_info::Type::Default {
            return Err("'ExecutorInfo.type' must be 'DEFAULT'".into());
        }
        let launch_executor = self.check_executor(framework_id, agent_id, &executor)?;
        executor.framework_id = Some(framework_id.to_proto());
        let executor_resources = Self::allocated(&executor.resources, role)?;
        executor.resources = executor_resources.to_vec();
        let mut consumed = if launch_executor {
            executor_resources
        } else {
            Resources::default()
        };
        let mut ids = HashSet::new();
        let mut tasks = Vec::new();
        for task in &group.task_group.tasks {
            self.check_task_basics(framework_id, agent_id, task)?;
            if !ids.insert(task.task_id.value.clone()) {
                return Err(format!(
                    "Duplicate task {} in task group",
                    task.task_id.value
                ));
            }
            if task.executor.is_some() {
                return Err("'TaskInfo.executor' must not be set for a task in a group".into());
            }
            let mut task = task.clone();
            let resources = Self::allocated(&task.resources, role)?;
            task.resources = resources.to_vec();
            consumed += &resources;
            tasks.push(task);
        }
        if !remaining.contains(&consumed) {
            return Err(format!(
                "Task group uses more resources {consumed} than available {remaining}"
            ));
        }
        Ok((executor, tasks, consumed, launch_executor))
    }

    /// Records a task (STAGING) and its resources, then sends `RunTaskMessage`.
    fn launch_task(
        &mut self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        task: v0::TaskInfo,
        consumed: Resources,
        launch_executor: bool,
    ) {
        let executor = task.executor.clone();
        self.add_task(framework_id, agent_id, &task, executor.as_ref(), &consumed);
        let framework = &self.state.frameworks[framework_id];
        #[allow(deprecated)] // Mesos still fills the deprecated framework_id.
        let message = internal::RunTaskMessage {
            framework_id: Some(framework_id.to_proto()),
            framework: framework.info.clone(),
            task,
            resource_version_uuids: Vec::new(),
            pid: Some(String::new()),
            launch_executor: Some(launch_executor),
        };
        let pid = self.state.agents[agent_id].pid.clone();
        self.send(&pid, &message);
    }

    fn launch_group(
        &mut self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        executor: v0::ExecutorInfo,
        tasks: Vec<v0::TaskInfo>,
        launch_executor: bool,
    ) {
        let executor_resources = Resources::from(executor.resources.clone());
        for (i, task) in tasks.iter().enumerate() {
            let mut consumed = Resources::from(task.resources.clone());
            if i == 0 && launch_executor {
                consumed += &executor_resources;
            }
            self.add_task(framework_id, agent_id, task, Some(&executor), &consumed);
        }
        let framework = &self.state.frameworks[framework_id];
        let message = internal::RunTaskGroupMessage {
            framework: framework.info.clone(),
            executor,
            task_group: v0::TaskGroupInfo { tasks },
            resource_version_uuids: Vec::new(),
            launch_executor: Some(launch_executor),
        };
        let pid = self.state.agents[agent_id].pid.clone();
        self.send(&pid, &message);
    }

    fn add_task(
        &mut self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        task: &v0::TaskInfo,
        executor: Option<&v0::ExecutorInfo>,
        consumed: &Resources,
    ) {
        let task_id = TaskId::from(&task.task_id);
        let framework = self.state.frameworks.get_mut(framework_id).expect("valid");
        let user = task
            .command
            .as_ref()
            .and_then(|c| c.user.clone())
            .or_else(|| executor.and_then(|e| e.command.as_ref()?.user.clone()))
            .or_else(|| Some(framework.info.user.clone()));
        let mut record = v0::Task {
            name: task.name.clone(),
            task_id: task.task_id.clone(),
            framework_id: framework_id.to_proto(),
            executor_id: executor.map(|e| e.executor_id.clone()),
            slave_id: agent_id.to_proto(),
            resources: task.resources.clone(),
            labels: task.labels.clone(),
            discovery: task.discovery.clone(),
            container: task.container.clone(),
            health_check: task.health_check.clone(),
            kill_policy: task.kill_policy,
            user,
            limits: task.limits.clone(),
            ..Default::default()
        };
        record.set_state(TaskState::TaskStaging);
        info!(%framework_id, %task_id, %agent_id, "launching task");
        framework.tasks.insert(
            task_id.clone(),
            Task::new(record, Resources::from(task.resources.clone())),
        );
        self.operator_events
            .task_added(&framework.tasks[&task_id].info);
        *framework.used.entry(agent_id.clone()).or_default() += consumed;
        if let Some(executor) = executor {
            framework
                .executors
                .entry(agent_id.clone())
                .or_default()
                .entry(ExecutorId::from(&executor.executor_id))
                .or_insert_with(|| executor.clone());
        }
        let agent = self.state.agents.get_mut(agent_id).expect("valid");
        agent
            .tasks
            .entry(framework_id.clone())
            .or_default()
            .insert(task_id);
        *agent.used.entry(framework_id.clone()).or_default() += consumed;
        if let Some(executor) = executor {
            agent
                .executors
                .entry(framework_id.clone())
                .or_default()
                .entry(ExecutorId::from(&executor.executor_id))
                .or_insert_with(|| executor.clone());
        }
        self.allocator
            .transition_offered_to_allocated(agent_id.clone(), consumed.clone());
    }
}

/// The tasks an operation launches.
fn operation_tasks(operation: &v0::offer::Operation) -> Vec<&v0::TaskInfo> {
    match operation.r#type() {
        OperationType::Launch => operation
            .launch
            .as_ref()
            .map(|l| l.task_infos.iter().collect())
            .unwrap_or_default(),
        OperationType::LaunchGroup => operation
            .launch_group
            .as_ref()
            .map(|g| g.task_group.tasks.iter().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

//! `POST /api/v1` (upstream `Master::Http::api` in `src/master/http.cpp`): the v1 operator
//! API of the master, in JSON or protobuf.
//!
//! Order of checks and answers: not leading `307` to the leader (`503` if none is known);
//! not recovered `503`; not POST `405`; no Content-Type `400`;
//! Content-Type not JSON or protobuf `415`; a body that does not parse `400`; a call that
//! fails validation `400`; Accept allowing neither encoding `406` (consulted for every call);
//! then the call. Read calls answer `200` with a `mesos.v1.master.Response` in the accepted
//! encoding; UPDATE_WEIGHTS, TEARDOWN and MARK_AGENT_GONE answer `200` with no body once
//! done (weights and gone agents are written to the registry first); SUBSCRIBE answers a
//! RecordIO stream of `mesos.v1.master.Event`s (see [`crate::master::operator_events`]).
//! Calls we do not serve answer `501`.

use std::time::Duration;

use libprocess::http::{Method, Request, Response, StatusCode};
use libprocess::{Context, Future, call};
use mesos_core::convert::evolve;
use mesos_core::v1::master::call::Type as CallType;
use mesos_core::v1::master::response::{self as resp, Type as ResponseType};
use mesos_core::{internal, v0, v1};
use prost::Message;

use super::scheduler::{negotiate_accept, request_content_type};
use super::state_json;
use crate::master::MasterProcess;
use crate::master::agents::Removal;
use crate::master::state::{Agent, AgentId, CompletedFramework, Framework, FrameworkId};
use crate::master::stream::{APPLICATION_JSON, APPLICATION_PROTOBUF, ContentType};
use crate::registrar::Operation;

/// Installs `/api/v1` on the master (`/api/v1/operator` reaches it too, by prefix).
pub(crate) fn install(ctx: &mut Context<'_, MasterProcess>) {
    ctx.route("/api/v1", |master: &mut MasterProcess, _ctx, request| {
        handle(master, request)
    });
}

/// Parses the body; the error is the `400` answer's text.
fn parse_call(content_type: ContentType, body: &[u8]) -> Result<v1::master::Call, String> {
    match content_type {
        ContentType::Json => {
            let text = std::str::from_utf8(body)
                .map_err(|_| "Failed to parse body into JSON: not valid UTF-8".to_owned())?;
            mesos_core::json::from_str(text)
                .map_err(|e| format!("Failed to convert JSON into Call protobuf: {e}"))
        }
        ContentType::Protobuf => v1::master::Call::decode(body)
            .map_err(|e| format!("Failed to parse body into Call protobuf: {e}")),
    }
}

/// Structural validation (upstream `validation::master::call::validate`).
pub fn validate_call(call: &v1::master::Call) -> Result<CallType, String> {
    let Some(kind) = call.r#type else {
        return Err("Expecting 'type' to be present".into());
    };
    let kind = CallType::try_from(kind).unwrap_or(CallType::Unknown);
    let missing = |name: &str| Err(format!("Expecting '{name}' to be present"));
    match kind {
        CallType::UpdateWeights if call.update_weights.is_none() => missing("update_weights"),
        CallType::Teardown if call.teardown.is_none() => missing("teardown"),
        CallType::MarkAgentGone if call.mark_agent_gone.is_none() => missing("mark_agent_gone"),
        CallType::SetLoggingLevel if call.set_logging_level.is_none() => {
            missing("set_logging_level")
        }
        _ => Ok(kind),
    }
}

fn handle(master: &mut MasterProcess, request: Request) -> Future<Response> {
    let ready = Future::ready;
    if let Some(redirect) = master.not_leading(&request) {
        return ready(redirect);
    }
    if !master.recovered {
        return ready(Response::service_unavailable(
            "Master has not finished recovery",
        ));
    }
    if request.method != Method::POST {
        return ready(Response::method_not_allowed(&["POST"], &request.method));
    }
    let content_type = match request_content_type(&request) {
        Ok(content_type) => content_type,
        Err(response) => return ready(response),
    };
    let body = request.body_bytes().cloned().unwrap_or_default();
    let call = match parse_call(content_type, &body) {
        Ok(call) => call,
        Err(message) => return ready(Response::bad_request(message)),
    };
    let kind = match validate_call(&call) {
        Ok(kind) => kind,
        Err(message) => {
            return ready(Response::bad_request(format!(
                "Failed to validate master::Call: {message}"
            )));
        }
    };
    let Some(accept) = negotiate_accept(&request) else {
        return ready(Response::not_acceptable(format!(
            "Expecting 'Accept' to allow '{APPLICATION_JSON}' or '{APPLICATION_PROTOBUF}'"
        )));
    };
    let answer = move |response: v1::master::Response| -> Response {
        Response::new(StatusCode::OK)
            .with_content_type(accept.as_str())
            .with_body(accept.encode(&response))
    };
    match kind {
        CallType::GetHealth => ready(answer(response_of(ResponseType::GetHealth, |r| {
            r.get_health = Some(resp::GetHealth { healthy: true })
        }))),
        CallType::GetFlags => ready(answer(get_flags(master))),
        CallType::GetVersion => ready(answer(get_version())),
        CallType::GetMetrics => {
            let timeout = call
                .get_metrics
                .and_then(|m| m.timeout)
                .map(|t| Duration::from_nanos(u64::try_from(t.nanoseconds).unwrap_or(0)));
            master
                .runtime
                .metrics()
                .snapshot(timeout)
                .map(move |snapshot| {
                    answer(response_of(ResponseType::GetMetrics, |r| {
                        r.get_metrics = Some(resp::GetMetrics {
                            metrics: snapshot
                                .into_iter()
                                .map(|(name, value)| v1::Metric {
                                    name,
                                    value: Some(value),
                                })
                                .collect(),
                        })
                    }))
                })
        }
        CallType::GetLoggingLevel => {
            ready(answer(response_of(ResponseType::GetLoggingLevel, |r| {
                r.get_logging_level = Some(resp::GetLoggingLevel {
                    level: logging_level(&master.flags.logging_level),
                })
            })))
        }
        CallType::GetState => ready(answer(response_of(ResponseType::GetState, |r| {
            r.get_state = Some(get_state(master))
        }))),
        CallType::GetAgents => ready(answer(response_of(ResponseType::GetAgents, |r| {
            r.get_agents = Some(get_agents(master))
        }))),
        CallType::GetFrameworks => ready(answer(response_of(ResponseType::GetFrameworks, |r| {
            r.get_frameworks = Some(get_frameworks(master))
        }))),
        CallType::GetExecutors => ready(answer(response_of(ResponseType::GetExecutors, |r| {
            r.get_executors = Some(get_executors(master))
        }))),
        CallType::GetTasks => ready(answer(response_of(ResponseType::GetTasks, |r| {
            r.get_tasks = Some(get_tasks(master))
        }))),
        CallType::GetRoles => ready(answer(response_of(ResponseType::GetRoles, |r| {
            r.get_roles = Some(get_roles(master))
        }))),
        CallType::GetWeights => ready(answer(response_of(ResponseType::GetWeights, |r| {
            r.get_weights = Some(get_weights(master))
        }))),
        CallType::GetMaster => ready(answer(response_of(ResponseType::GetMaster, |r| {
            r.get_master = Some(resp::GetMaster {
                master_info: Some(evolve(&master.info)),
                start_time: Some(state_json::secs(master.start_time)),
                elected_time: master.elected_time.map(state_json::secs),
            })
        }))),
        CallType::UpdateWeights => {
            update_weights(master, call.update_weights.expect("validated").weight_infos)
        }
        CallType::Teardown => {
            let id = FrameworkId(call.teardown.expect("validated").framework_id.value);
            if !master.state.frameworks.contains_key(&id) {
                return ready(Response::bad_request(
                    "No framework found with specified ID",
                ));
            }
            master.remove_framework(&id);
            ready(Response::new(StatusCode::OK))
        }
        CallType::MarkAgentGone => {
            let id = AgentId(call.mark_agent_gone.expect("validated").agent_id.value);
            mark_agent_gone(master, id)
        }
        CallType::Subscribe => ready(master.operator_subscribe(accept)),
        CallType::Unknown => ready(Response::not_implemented("Received 'UNKNOWN' call")),
        other => ready(Response::not_implemented(format!(
            "Call '{}' is not supported by this master",
            other.as_str_name()
        ))),
    }
}

fn response_of(
    kind: ResponseType,
    fill: impl FnOnce(&mut v1::master::Response),
) -> v1::master::Response {
    let mut response = v1::master::Response::default();
    response.set_type(kind);
    fill(&mut response);
    response
}

/// glog's levels as Mesos's `GET_LOGGING_LEVEL` reports them (the verbosity: 0 for our
/// default `INFO`, more for `debug`/`trace`).
fn logging_level(level: &str) -> u32 {
    match level.to_ascii_lowercase().as_str() {
        "debug" => 1,
        "trace" => 2,
        _ => 0,
    }
}

fn get_flags(master: &MasterProcess) -> v1::master::Response {
    response_of(ResponseType::GetFlags, |r| {
        r.get_flags = Some(resp::GetFlags {
            flags: master
                .flags
                .to_pairs()
                .into_iter()
                .map(|(name, value)| v1::Flag {
                    name,
                    value: Some(value),
                })
                .collect(),
        })
    })
}

fn get_version() -> v1::master::Response {
    response_of(ResponseType::GetVersion, |r| {
        r.get_version = Some(resp::GetVersion {
            version_info: v1::VersionInfo {
                version: crate::master::MESOS_VERSION.to_owned(),
                build_date: Some(state_json::BUILD_DATE.to_owned()),
                build_time: Some(state_json::BUILD_TIME),
                build_user: Some(state_json::BUILD_USER.to_owned()),
                ..Default::default()
            },
        })
    })
}

fn time_info(time: std::time::SystemTime) -> v1::TimeInfo {
    let nanos = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    v1::TimeInfo { nanoseconds: nanos }
}

fn resources_v1<'a>(resources: impl IntoIterator<Item = &'a v0::Resource>) -> Vec<v1::Resource> {
    resources.into_iter().map(evolve).collect()
}

/// An agent as `GET_AGENTS` and `AGENT_ADDED` show it.
pub fn agent_model(agent: &Agent) -> resp::get_agents::Agent {
    resp::get_agents::Agent {
        agent_info: evolve(&agent.info),
        active: agent.active,
        deactivated: Some(!agent.active),
        version: agent.version.clone(),
        pid: Some(agent.pid.to_string()),
        registered_time: Some(time_info(agent.registered_time)),
        reregistered_time: agent.reregistered_time.map(time_info),
        total_resources: resources_v1(agent.total.iter()),
        allocated_resources: resources_v1(agent.used.values().flat_map(|r| r.iter())),
        offered_resources: resources_v1(agent.offered.iter()),
        capabilities: agent
            .capabilities
            .iter()
            .map(|c| v1::agent_info::Capability { r#type: c.r#type })
            .collect(),
        ..Default::default()
    }
}

/// A framework as `GET_FRAMEWORKS` and `FRAMEWORK_ADDED/UPDATED` show it.
pub fn framework_model(
    master: &MasterProcess,
    framework: &Framework,
) -> resp::get_frameworks::Framework {
    resp::get_frameworks::Framework {
        framework_info: evolve(&framework.info),
        active: framework.active,
        connected: framework.connected(),
        recovered: framework.connection == crate::master::Connection::Recovered,
        registered_time: Some(time_info(framework.registered_time)),
        reregistered_time: framework.reregistered_time.map(time_info),
        unregistered_time: framework.unregistered_time.map(time_info),
        offers: framework
            .offers
            .iter()
            .filter_map(|id| master.state.offers.get(id))
            .map(|offer| evolve(&offer.info))
            .collect(),
        allocated_resources: resources_v1(framework.used.values().flat_map(|r| r.iter())),
        offered_resources: resources_v1(framework.offered.iter()),
        ..Default::default()
    }
}

fn completed_framework_model(framework: &CompletedFramework) -> resp::get_frameworks::Framework {
    resp::get_frameworks::Framework {
        framework_info: evolve(&framework.info),
        registered_time: Some(time_info(framework.registered_time)),
        unregistered_time: Some(time_info(framework.unregistered_time)),
        ..Default::default()
    }
}

/// `GET_AGENTS`.
pub fn get_agents(master: &MasterProcess) -> resp::GetAgents {
    resp::GetAgents {
        agents: master.state.agents.values().map(agent_model).collect(),
        recovered_agents: master.state.recovered_agents.values().map(evolve).collect(),
    }
}

/// `GET_FRAMEWORKS`.
pub fn get_frameworks(master: &MasterProcess) -> resp::GetFrameworks {
    resp::GetFrameworks {
        frameworks: master
            .state
            .frameworks
            .values()
            .map(|f| framework_model(master, f))
            .collect(),
        completed_frameworks: master
            .state
            .completed_frameworks
            .iter()
            .map(completed_framework_model)
            .collect(),
        ..Default::default()
    }
}

/// `GET_EXECUTORS`.
pub fn get_executors(master: &MasterProcess) -> resp::GetExecutors {
    let mut executors = Vec::new();
    for framework in master.state.frameworks.values() {
        for (agent_id, on_agent) in &framework.executors {
            for executor in on_agent.values() {
                executors.push(resp::get_executors::Executor {
                    executor_info: evolve(executor),
                    agent_id: v1::AgentId {
                        value: agent_id.0.clone(),
                    },
                });
            }
        }
    }
    resp::GetExecutors {
        executors,
        ..Default::default()
    }
}

/// `GET_TASKS`.
pub fn get_tasks(master: &MasterProcess) -> resp::GetTasks {
    let mut out = resp::GetTasks::default();
    for framework in master.state.frameworks.values() {
        out.tasks
            .extend(framework.tasks.values().map(|t| evolve(&t.info)));
        out.unreachable_tasks
            .extend(framework.unreachable_tasks.iter().map(|t| evolve(&t.info)));
        out.completed_tasks
            .extend(framework.completed_tasks.iter().map(|t| evolve(&t.info)));
    }
    for framework in &master.state.completed_frameworks {
        out.completed_tasks
            .extend(framework.completed_tasks.iter().map(|t| evolve(&t.info)));
    }
    out
}

/// `GET_STATE`.
pub fn get_state(master: &MasterProcess) -> resp::GetState {
    resp::GetState {
        get_tasks: Some(get_tasks(master)),
        get_executors: Some(get_executors(master)),
        get_frameworks: Some(get_frameworks(master)),
        get_agents: Some(get_agents(master)),
    }
}

/// `GET_ROLES`.
fn get_roles(master: &MasterProcess) -> resp::GetRoles {
    let roles = state_json::known_roles(master)
        .into_iter()
        .map(|name| {
            let (frameworks, allocated, offered) = state_json::role_breakdown(master, &name);
            let weight = master.state.weights.get(&name).copied().unwrap_or(1.0);
            v1::Role {
                weight,
                frameworks: frameworks
                    .into_iter()
                    .map(|value| v1::FrameworkId { value })
                    .collect(),
                resources: resources_v1(allocated.iter().chain(offered.iter())),
                name,
            }
        })
        .collect();
    resp::GetRoles { roles }
}

/// `GET_WEIGHTS`.
fn get_weights(master: &MasterProcess) -> resp::GetWeights {
    let mut weights: Vec<_> = master.state.weights.iter().collect();
    weights.sort_by(|a, b| a.0.cmp(b.0));
    resp::GetWeights {
        weight_infos: weights
            .into_iter()
            .map(|(role, weight)| v1::WeightInfo {
                weight: *weight,
                role: Some(role.clone()),
            })
            .collect(),
    }
}

/// Checks weights as upstream's weights handler does; the checked weights (roles trimmed).
pub fn validate_weights(
    master: &MasterProcess,
    infos: Vec<v1::WeightInfo>,
) -> Result<Vec<v0::WeightInfo>, String> {
    let mut out = Vec::with_capacity(infos.len());
    for info in infos {
        let role = info.role.as_deref().unwrap_or("").trim().to_owned();
        if let Err(e) = mesos_core::roles::validate(&role) {
            return Err(format!(
                "Failed to validate update weights request JSON: Invalid role '{role}': {e}"
            ));
        }
        if let Some(allowed) = &master.settings.roles
            && !allowed.contains(&role)
        {
            return Err(format!(
                "Failed to validate update weights request JSON: Unknown role '{role}'"
            ));
        }
        if info.weight.is_nan() || info.weight <= 0.0 {
            return Err(format!(
                "Failed to validate update weights request JSON for role '{role}': Invalid weight '{}': Weights must be positive",
                info.weight
            ));
        }
        out.push(v0::WeightInfo {
            weight: info.weight,
            role: Some(role),
        });
    }
    Ok(out)
}

/// UPDATE_WEIGHTS: validated, written to the registry, then applied (state and allocator).
fn update_weights(master: &mut MasterProcess, infos: Vec<v1::WeightInfo>) -> Future<Response> {
    let weights = match validate_weights(master, infos) {
        Ok(weights) => weights,
        Err(message) => return Future::ready(Response::bad_request(message)),
    };
    let pid = master.pid();
    master
        .registrar
        .apply(Operation::UpdateWeights(weights.clone()))
        .then(move |_| {
            call(&pid, move |m: &mut MasterProcess| {
                for weight in &weights {
                    if let Some(role) = &weight.role {
                        m.state.weights.insert(role.clone(), weight.weight);
                    }
                }
                m.allocator.update_weights(weights);
                Response::new(StatusCode::OK)
            })
        })
        .repair(|message| {
            Future::ready(Response::internal_server_error(format!(
                "Failed to update weights in the registry: {message}"
            )))
        })
}

/// MARK_AGENT_GONE: the agent must be registered, recovered or unreachable; it is marked
/// gone in the registry, then removed (its tasks are gone) and told to shut down.
fn mark_agent_gone(master: &mut MasterProcess, id: AgentId) -> Future<Response> {
    if master.state.gone_agents.contains_key(&id) {
        return Future::ready(Response::new(StatusCode::OK));
    }
    let known = master.state.agents.contains_key(&id)
        || master.state.recovered_agents.contains_key(&id)
        || master.state.unreachable_agents.contains_key(&id);
    if !known {
        return Future::ready(Response::not_found().with_body(format!("Agent '{id}' not found")));
    }
    let time = master.now_time_info();
    let pid = master.pid();
    let operation = Operation::MarkGone {
        agent_id: v0::SlaveId {
            value: id.0.clone(),
        },
        time: time.nanoseconds,
    };
    master
        .registrar
        .apply(operation)
        .then(move |_| {
            call(&pid, move |m: &mut MasterProcess| {
                m.state.recovered_agents.remove(&id);
                m.state.unreachable_agents.remove(&id);
                m.state.gone_agents.insert(id.clone(), time);
                if let Some(agent) = m.state.agents.get(&id) {
                    let agent_pid = agent.pid.clone();
                    m.remove_agent(&id, Removal::Unregistered, "marked gone by the operator");
                    m.send(
                        &agent_pid,
                        &internal::ShutdownMessage {
                            message: Some("Agent has been marked gone".into()),
                        },
                    );
                }
                Response::new(StatusCode::OK)
            })
        })
        .repair(|message| {
            Future::ready(Response::internal_server_error(format!(
                "Failed to mark the agent gone in the registry: {message}"
            )))
        })
}

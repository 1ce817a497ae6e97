//! The v1 executor API, `POST /api/v1/executor` (also `/slave(1)/api/v1/executor`;
//! upstream `src/slave/http.cpp` `Http::executor` and `slave.cpp` `subscribe`).
//!
//! Checks in Mesos's order: recovering → 503; not POST → 405; `Content-Type` missing → 400,
//! not JSON/protobuf → 415; body not a valid call → 400; SUBSCRIBE with an `Accept` it
//! cannot serve → 406; HEARTBEAT → 202; unknown framework or executor → 400; any other call
//! before SUBSCRIBE → 403. SUBSCRIBE answers `200` with a chunked RecordIO stream of events
//! (`SUBSCRIBED` first, then the queued tasks as `LAUNCH`); UPDATE and MESSAGE answer `202`.

use libprocess::Context;
use libprocess::Future;
use libprocess::http::{Method, Pipe, Request, Response};
use mesos_core::internal::{ExecutorToFrameworkMessage, StatusUpdate};
use mesos_core::v0::executor::{Call, Event, call, event};
use mesos_core::v0::task_status::Source;
use mesos_core::v0::{ContainerStatus, TaskState};
use prost::Message;
use tracing::{info, warn};

use super::state::{ContentType, ExecutorState, FrameworkState, HttpConnection, create_task};
use super::{AgentProcess, AgentState, now_secs};
use crate::checkpoint;
use crate::paths;

pub(super) fn install(ctx: &mut Context<'_, AgentProcess>) {
    ctx.route("/api/v1/executor", |a: &mut AgentProcess, _ctx, request| {
        Future::ready(a.executor_api(request))
    });
}

/// The response type an `Accept` header allows (JSON preferred; none given = anything).
pub fn negotiate(accept: Option<&str>) -> Option<ContentType> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(ContentType::Json);
    };
    let mut json = false;
    let mut protobuf = false;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let zero = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if zero {
            continue;
        }
        match media.as_str() {
            "*/*" | "application/*" => {
                json = true;
                protobuf = true;
            }
            "application/json" => json = true,
            "application/x-protobuf" => protobuf = true,
            _ => {}
        }
    }
    if json {
        Some(ContentType::Json)
    } else if protobuf {
        Some(ContentType::Protobuf)
    } else {
        None
    }
}

/// Reads the request's content type: `Err` is the response to give.
#[allow(clippy::result_large_err)] // The response is what the caller returns at once.
pub fn request_content_type(request: &Request) -> Result<ContentType, Response> {
    match request.header("content-type").map(str::trim) {
        None => Err(Response::bad_request(
            "Expecting 'Content-Type' to be present",
        )),
        Some(t) if t.starts_with("application/json") => Ok(ContentType::Json),
        Some(t) if t.starts_with("application/x-protobuf") => Ok(ContentType::Protobuf),
        Some(t) => Err(Response::unsupported_media_type(format!(
            "Expecting 'Content-Type' of application/json or application/x-protobuf, got '{t}'"
        ))),
    }
}

/// Decodes a v1 call into its v0 twin.
fn parse_call(body: &[u8], content_type: ContentType) -> Result<Call, String> {
    match content_type {
        ContentType::Protobuf => {
            Call::decode(body).map_err(|e| format!("Failed to parse body into Call protobuf: {e}"))
        }
        ContentType::Json => {
            let text = std::str::from_utf8(body)
                .map_err(|e| format!("Failed to parse body into JSON: {e}"))?;
            let v1: mesos_core::v1::executor::Call = mesos_core::json::from_str(text)
                .map_err(|e| format!("Failed to convert JSON into Call protobuf: {e}"))?;
            mesos_core::convert::recode(&v1).map_err(|e| e.to_string())
        }
    }
}

/// Upstream `validation::executor::call::validate`.
fn validate(call: &Call) -> Result<(), String> {
    let Some(kind) = call.r#type.and_then(|t| call::Type::try_from(t).ok()) else {
        return Err("Expecting 'type' to be present".to_owned());
    };
    match kind {
        call::Type::Subscribe if call.subscribe.is_none() => {
            Err("Expecting 'subscribe' to be present".to_owned())
        }
        call::Type::Update => {
            let Some(update) = &call.update else {
                return Err("Expecting 'update' to be present".to_owned());
            };
            let status = &update.status;
            let Some(uuid) = &status.uuid else {
                return Err("Expecting 'uuid' to be present".to_owned());
            };
            if stout::Uuid::from_bytes(uuid).is_err() {
                return Err("'uuid' is not a valid UUID".to_owned());
            }
            if status.source() != Source::Executor || status.source.is_none() {
                return Err(
                    "Received Call from executor with 'source' not set to SOURCE_EXECUTOR"
                        .to_owned(),
                );
            }
            if status.state() == TaskState::TaskStaging {
                return Err("Received TASK_STAGING from executor".to_owned());
            }
            if let Some(executor_id) = &status.executor_id
                && *executor_id != call.executor_id
            {
                return Err("ExecutorID in Call and in TaskStatus do not match".to_owned());
            }
            Ok(())
        }
        call::Type::Message if call.message.is_none() => {
            Err("Expecting 'message' to be present".to_owned())
        }
        call::Type::Unknown => Err("Unknown call type".to_owned()),
        _ => Ok(()),
    }
}

impl AgentProcess {
    fn executor_api(&mut self, request: Request) -> Response {
        if !self.reconnecting {
            return Response::service_unavailable("Agent has not finished recovery");
        }
        if request.method != Method::POST {
            return Response::method_not_allowed(&["POST"], &request.method);
        }
        let content_type = match request_content_type(&request) {
            Ok(t) => t,
            Err(response) => return response,
        };
        let body = request.body_bytes().cloned().unwrap_or_default();
        let call = match parse_call(&body, content_type) {
            Ok(call) => call,
            Err(message) => return Response::bad_request(message),
        };
        if let Err(message) = validate(&call) {
            return Response::bad_request(format!("Failed to validate Executor::Call: {message}"));
        }
        let kind = call.r#type();
        let accept = if kind == call::Type::Subscribe {
            match negotiate(request.header("accept")) {
                Some(accept) => Some(accept),
                None => {
                    return Response::not_acceptable(
                        "Expecting 'Accept' to allow application/json or application/x-protobuf",
                    );
                }
            }
        } else {
            None
        };
        if kind == call::Type::Heartbeat {
            return Response::accepted();
        }
        if kind != call::Type::Subscribe && self.state == AgentState::Recovering {
            return Response::service_unavailable("Agent has not finished recovery");
        }
        let Some(framework) = self.frameworks.get(&call.framework_id) else {
            return Response::bad_request("Framework cannot be found");
        };
        let Some(executor) = framework.executors.get(&call.executor_id) else {
            return Response::bad_request("Executor cannot be found");
        };
        if kind != call::Type::Subscribe && executor.state == ExecutorState::Registering {
            return Response::forbidden("Executor is not subscribed");
        }
        match kind {
            call::Type::Subscribe => self.subscribe(call, accept.expect("negotiated")),
            call::Type::Update => {
                self.executor_update(call);
                Response::accepted()
            }
            call::Type::Message => {
                self.executor_message(call);
                Response::accepted()
            }
            _ => Response::not_implemented("Unsupported call"),
        }
    }

    fn subscribe(&mut self, call: Call, content_type: ContentType) -> Response {
        let framework_id = call.framework_id.clone();
        let executor_id = call.executor_id.clone();
        let meta = self.meta();
        let agent_id = self.agent_id();
        self.stream_generation += 1;
        let generation = self.stream_generation;
        let agent_info = self.info.clone();
        let framework = self.frameworks.get_mut(&framework_id).expect("checked");
        let framework_info = framework.info.clone();
        let framework_terminating = framework.state == FrameworkState::Terminating;
        let checkpointing = framework.checkpoint();
        let executor = framework.executors.get_mut(&executor_id).expect("checked");
        if executor.state == ExecutorState::Terminated {
            return Response::bad_request("Executor has terminated");
        }
        info!(executor_id = %executor_id.value, framework_id = %framework_id.value, "executor subscribed");
        let Pipe { writer, reader } = Pipe::new();
        if let Some(old) = executor.http.replace(HttpConnection {
            writer: writer.clone(),
            content_type,
            generation,
        }) {
            old.writer.close();
        }
        if let Some(timer) = executor.registration_timer.take() {
            timer.cancel();
        }
        let was_terminating = executor.state == ExecutorState::Terminating;
        if executor.state == ExecutorState::Registering {
            executor.state = ExecutorState::Running;
        }
        if checkpointing {
            let marker = paths::executor_http_marker_path(
                &meta,
                &agent_id,
                &framework_id,
                &executor_id,
                &executor.container_id,
            );
            let _ = checkpoint::write_text(&marker, "");
        }
        // Tasks the executor has that the agent lost track of.
        let subscribe = call.subscribe.unwrap_or_default();
        let exposed = (!executor.command_executor).then(|| executor_id.clone());
        for task in subscribe.unacknowledged_tasks {
            let completed = executor
                .completed_tasks
                .iter()
                .any(|t| t.task_id == task.task_id);
            if !executor.knows(&task.task_id) && !completed {
                executor.launched_tasks.insert(
                    task.task_id.clone(),
                    create_task(
                        &task,
                        TaskState::TaskStaging,
                        &framework_id,
                        exposed.clone(),
                    ),
                );
            }
        }
        // Updates it still lists: already acknowledged ones are acknowledged again, known
        // ones wait for their acknowledgement, unknown ones are taken as new.
        let mut resend = Vec::new();
        let mut acknowledge = Vec::new();
        for update in subscribe.unacknowledged_updates {
            let status = update.status;
            let uuid = status.uuid.clone().unwrap_or_default();
            if executor.acknowledged.contains(&uuid) {
                acknowledge.push((status.task_id.clone(), uuid));
                continue;
            }
            let seen = executor
                .launched_tasks
                .get(&status.task_id)
                .or_else(|| executor.terminated_tasks.get(&status.task_id))
                .into_iter()
                .chain(
                    executor
                        .completed_tasks
                        .iter()
                        .filter(|t| t.task_id == status.task_id),
                )
                .any(|t| t.statuses.iter().any(|s| s.uuid == status.uuid));
            if !seen {
                resend.push(status);
            }
        }
        let container_id = executor.container_id.clone();
        let mut executor_info = executor.info.clone();
        executor_info.framework_id = Some(framework_id.clone());

        let mut subscribed = Event {
            subscribed: Some(event::Subscribed {
                executor_info,
                framework_info,
                slave_info: agent_info,
                container_id: Some(container_id),
            }),
            ..Default::default()
        };
        subscribed.set_type(event::Type::Subscribed);
        self.send_event(&framework_id, &executor_id, &subscribed);

        let me = self.me();
        let (f, e) = (framework_id.clone(), executor_id.clone());
        writer.reader_closed().on_any(move |_| {
            libprocess::dispatch(&me, move |a: &mut AgentProcess| {
                a.executor_disconnected(&f, &e, generation)
            })
        });

        for (task_id, uuid) in acknowledge {
            let mut event = Event {
                acknowledged: Some(event::Acknowledged { task_id, uuid }),
                ..Default::default()
            };
            event.set_type(event::Type::Acknowledged);
            self.send_event(&framework_id, &executor_id, &event);
        }
        for status in resend {
            let update = Call {
                executor_id: executor_id.clone(),
                framework_id: framework_id.clone(),
                r#type: Some(call::Type::Update as i32),
                update: Some(call::Update { status }),
                ..Default::default()
            };
            self.executor_update(update);
        }
        if framework_terminating || was_terminating {
            let mut shutdown = Event::default();
            shutdown.set_type(event::Type::Shutdown);
            self.send_event(&framework_id, &executor_id, &shutdown);
        } else {
            self.launch_queued(&framework_id, &executor_id, None);
        }
        self.maybe_finish_reconnecting();
        Response::stream(reader, content_type.as_str())
    }

    fn executor_disconnected(
        &mut self,
        framework_id: &mesos_core::v0::FrameworkId,
        executor_id: &mesos_core::v0::ExecutorId,
        generation: u64,
    ) {
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        if executor
            .http
            .as_ref()
            .is_some_and(|h| h.generation == generation)
        {
            warn!(executor_id = %executor_id.value, "the executor closed its subscription");
            executor.http = None;
        }
    }

    fn executor_update(&mut self, call: Call) {
        let Some(update) = call.update else {
            return;
        };
        // A terminating framework cannot acknowledge: its updates go nowhere.
        if self
            .frameworks
            .get(&call.framework_id)
            .is_some_and(|f| f.state == FrameworkState::Terminating)
        {
            warn!(framework_id = %call.framework_id.value, "ignoring a status update for a terminating framework");
            self.stats.invalid_status_updates += 1;
            return;
        }
        let mut status = update.status;
        if status.slave_id.is_none() {
            status.slave_id = self.info.id.clone();
        }
        let container_id = self
            .frameworks
            .get(&call.framework_id)
            .and_then(|f| f.executors.get(&call.executor_id))
            .map(|e| e.container_id.clone());
        if status.container_status.is_none()
            && let Some(container_id) = container_id
        {
            status.container_status = Some(ContainerStatus {
                container_id: Some(container_id),
                ..Default::default()
            });
        }
        let timestamp = status.timestamp.unwrap_or_else(now_secs);
        let uuid = status.uuid.clone();
        self.stats.valid_status_updates += 1;
        let update = StatusUpdate {
            framework_id: call.framework_id,
            executor_id: Some(call.executor_id),
            slave_id: self.info.id.clone(),
            status,
            timestamp,
            uuid,
            latest_state: None,
        };
        self.status_update(update);
    }

    fn executor_message(&mut self, call: Call) {
        let Some(message) = call.message else {
            return;
        };
        let Some(master) = self.master.clone() else {
            warn!("dropping an executor message: no master");
            return;
        };
        self.send(
            &master,
            &ExecutorToFrameworkMessage {
                slave_id: self.agent_id(),
                framework_id: call.framework_id,
                executor_id: call.executor_id,
                data: message.data,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert_eq!(negotiate(None), Some(ContentType::Json));
        assert_eq!(negotiate(Some("*/*")), Some(ContentType::Json));
        assert_eq!(
            negotiate(Some("application/x-protobuf")),
            Some(ContentType::Protobuf)
        );
        assert_eq!(
            negotiate(Some("application/json;q=0, application/x-protobuf")),
            Some(ContentType::Protobuf)
        );
        assert_eq!(negotiate(Some("text/html")), None);
    }
}

//! Shared by the operator API and JSON endpoint tests: a cluster with an agent and a
//! framework running tasks, HTTP GETs parsed as JSON, operator calls in JSON or protobuf.

#![allow(dead_code)]

use std::time::Duration;

use libprocess::http::client::{self, ClientRequest};
use libprocess::http::{Response, StatusCode};
use mesos_core::v1::scheduler::event;
use mesos_core::{internal, v0, v1};
use prost::Message as _;

use crate::master_support::*;

/// GETs `path` on the master; the status and the body parsed as JSON (`Null` if empty).
pub fn get_json(cluster: &Cluster, path: &str) -> (StatusCode, serde_json::Value) {
    let response = get(cluster, path);
    let text = body_text(&response);
    let value = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
    };
    (response.status, value)
}

/// GETs `path` on the master.
pub fn get(cluster: &Cluster, path: &str) -> Response {
    client::get(&format!("http://{}{path}", cluster.address))
        .get()
        .expect("an answer")
}

/// Posts raw bytes to `/api/v1` with these headers.
pub fn post_operator(
    cluster: &Cluster,
    content_type: Option<&str>,
    accept: Option<&str>,
    body: Vec<u8>,
) -> Response {
    let mut request = ClientRequest::post(&format!("http://{}/api/v1", cluster.address)).unwrap();
    if let Some(accept) = accept {
        request = request.header("Accept", accept).unwrap();
    }
    // An invalid header value is skipped by the client: no Content-Type at all.
    let request = request.body(content_type.unwrap_or("\n"), body);
    client::request(request).get().expect("an answer")
}

/// An operator call of `kind` with `fill` applied.
pub fn operator_call(
    kind: v1::master::call::Type,
    fill: impl FnOnce(&mut v1::master::Call),
) -> v1::master::Call {
    let mut call = v1::master::Call::default();
    call.set_type(kind);
    fill(&mut call);
    call
}

/// Sends an operator call in `encoding` (answers in the same encoding); the response.
pub fn call(cluster: &Cluster, encoding: Encoding, call: &v1::master::Call) -> Response {
    let body = match encoding {
        Encoding::Json => mesos_core::json::to_string(call).into_bytes(),
        Encoding::Protobuf => call.encode_to_vec(),
    };
    post_operator(
        cluster,
        Some(encoding.media_type()),
        Some(encoding.media_type()),
        body,
    )
}

/// Decodes an operator response body.
pub fn decode_response(encoding: Encoding, response: &Response) -> v1::master::Response {
    assert_eq!(response.status, StatusCode::OK, "{}", body_text(response));
    assert_eq!(response.header("content-type"), Some(encoding.media_type()));
    let body = response.body_bytes().expect("a body");
    match encoding {
        Encoding::Json => mesos_core::json::from_str(std::str::from_utf8(body).unwrap()).unwrap(),
        Encoding::Protobuf => v1::master::Response::decode(&body[..]).unwrap(),
    }
}

/// Calls and decodes.
pub fn ask(
    cluster: &Cluster,
    encoding: Encoding,
    kind: v1::master::call::Type,
) -> v1::master::Response {
    let response = call(cluster, encoding, &operator_call(kind, |_| {}));
    decode_response(encoding, &response)
}

/// A status update from `agent` for a task, with a chosen timestamp.
pub fn status_update_at(
    agent: &FakeAgent,
    framework_id: &str,
    task_id: &str,
    state: v0::TaskState,
    timestamp: f64,
) {
    let uuid = stout::uuid::Uuid::random().as_bytes().to_vec();
    let agent_id = v0::SlaveId {
        value: agent.agent_id().unwrap(),
    };
    let mut status = v0::TaskStatus {
        task_id: v0::TaskId {
            value: task_id.into(),
        },
        slave_id: Some(agent_id.clone()),
        timestamp: Some(timestamp),
        uuid: Some(uuid.clone()),
        ..Default::default()
    };
    status.set_state(state);
    status.set_source(v0::task_status::Source::Executor);
    agent.send(internal::StatusUpdateMessage {
        update: internal::StatusUpdate {
            framework_id: v0::FrameworkId {
                value: framework_id.into(),
            },
            executor_id: None,
            slave_id: Some(agent_id),
            status,
            timestamp,
            uuid: Some(uuid),
            latest_state: None,
        },
        pid: Some(agent.upid().to_string()),
    });
}

/// A running cluster: one agent (`cpus:8;mem:4096;ports:[31000-32000]`), one framework,
/// `tasks` tasks `t0..` launched and RUNNING (task `ti`'s status at time `100 + i`).
pub struct Running {
    pub cluster: Cluster,
    pub agent: FakeAgent,
    pub scheduler: Scheduler,
}

impl Running {
    pub fn start(tasks: usize) -> Running {
        Running::start_with(Cluster::new(|_| {}), tasks)
    }

    pub fn start_with(cluster: Cluster, tasks: usize) -> Running {
        let agent = cluster.agent("host1", "cpus:8;mem:4096;ports:[31000-32000]");
        agent.register();
        cluster.settle();
        assert!(agent.agent_id().is_some(), "agent registered");
        let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
        let running = Running {
            cluster,
            agent,
            scheduler,
        };
        if tasks > 0 {
            running.launch(tasks);
        }
        running
    }

    /// Launches `n` tasks on the latest offer and makes them RUNNING.
    pub fn launch(&self, n: usize) {
        self.cluster.advance(Duration::from_secs(1));
        wait_until("an offer", || !self.scheduler.offers().is_empty());
        let offer = self.scheduler.offers().pop().unwrap();
        let tasks: Vec<v1::TaskInfo> = (0..n)
            .map(|i| command_task(&format!("t{i}"), &offer, "cpus:0.5;mem:64"))
            .collect();
        let response = self
            .scheduler
            .call(accept_launch(vec![offer.id.clone()], tasks));
        assert_eq!(response.status, StatusCode::ACCEPTED);
        self.cluster.settle();
        for i in 0..n {
            status_update_at(
                &self.agent,
                &self.scheduler.framework_id,
                &format!("t{i}"),
                v0::TaskState::TaskRunning,
                100.0 + i as f64,
            );
        }
        self.cluster.settle();
        self.scheduler.wait_count(event::Type::Update, n);
        let running = self.cluster.inspect(|m| {
            m.state
                .frameworks
                .values()
                .flat_map(|f| f.tasks.values())
                .filter(|t| t.state() == v0::TaskState::TaskRunning)
                .count()
        });
        assert_eq!(running, n);
    }
}

//! The v1 operator API (`POST /api/v1`) over real HTTP, in JSON and protobuf: read calls
//! against a running cluster, UPDATE_WEIGHTS kept across a master restart, MARK_AGENT_GONE,
//! TEARDOWN, and malformed requests answered with Mesos's status codes and no change.

mod master_support;
mod operator_support;

use libprocess::http::StatusCode;
use master_support::*;
use mesos_core::v1::master::call::Type;
use mesos_core::v1::master::response::Type as ResponseType;
use mesos_core::{internal, v1};
use mesos_master::MasterFlags;
use operator_support::*;

const JSON: &str = "application/json";
const PROTOBUF: &str = "application/x-protobuf";

#[test]
fn read_calls_in_json_and_protobuf() {
    let running = Running::start(2);
    let cluster = &running.cluster;
    for encoding in [Encoding::Json, Encoding::Protobuf] {
        let health = ask(cluster, encoding, Type::GetHealth);
        assert_eq!(health.r#type(), ResponseType::GetHealth);
        assert!(health.get_health.unwrap().healthy);

        let version = ask(cluster, encoding, Type::GetVersion);
        assert_eq!(version.get_version.unwrap().version_info.version, "1.11.0");

        let flags = ask(cluster, encoding, Type::GetFlags)
            .get_flags
            .unwrap()
            .flags;
        let registry = flags.iter().find(|f| f.name == "registry").unwrap();
        assert_eq!(registry.value.as_deref(), Some("in_memory"));

        let master = ask(cluster, encoding, Type::GetMaster).get_master.unwrap();
        let info = master.master_info.unwrap();
        assert_eq!(info.id, cluster.inspect(|m| m.info.id.clone()));
        assert_eq!(info.port, u32::from(cluster.address.port()));
        assert!(master.start_time.unwrap() > 0.0);
        assert!(master.elected_time.is_some());

        let agents = ask(cluster, encoding, Type::GetAgents).get_agents.unwrap();
        assert_eq!(agents.agents.len(), 1);
        let agent = &agents.agents[0];
        assert_eq!(agent.agent_info.hostname, "host1");
        assert_eq!(
            agent.agent_info.id.as_ref().unwrap().value,
            running.agent.agent_id().unwrap()
        );
        assert!(agent.active);
        assert_eq!(
            agent.pid.as_deref(),
            Some(running.agent.upid().to_string().as_str())
        );
        let cpus: f64 = agent
            .allocated_resources
            .iter()
            .filter(|r| r.name == "cpus")
            .map(|r| r.scalar.unwrap().value)
            .sum();
        assert_eq!(cpus, 1.0);

        let frameworks = ask(cluster, encoding, Type::GetFrameworks)
            .get_frameworks
            .unwrap();
        assert_eq!(frameworks.frameworks.len(), 1);
        let framework = &frameworks.frameworks[0];
        assert_eq!(
            framework.framework_info.id.as_ref().unwrap().value,
            running.scheduler.framework_id
        );
        assert!(framework.active && framework.connected && !framework.recovered);

        let tasks = ask(cluster, encoding, Type::GetTasks).get_tasks.unwrap();
        let mut names: Vec<_> = tasks
            .tasks
            .iter()
            .map(|t| t.task_id.value.clone())
            .collect();
        names.sort();
        assert_eq!(names, ["t0", "t1"]);
        assert!(
            tasks
                .tasks
                .iter()
                .all(|t| t.state() == v1::TaskState::TaskRunning)
        );

        let state = ask(cluster, encoding, Type::GetState).get_state.unwrap();
        assert_eq!(state.get_tasks.unwrap().tasks.len(), 2);
        assert_eq!(state.get_agents.unwrap().agents.len(), 1);
        assert_eq!(state.get_frameworks.unwrap().frameworks.len(), 1);
        assert!(state.get_executors.is_some());

        let roles = ask(cluster, encoding, Type::GetRoles).get_roles.unwrap();
        let star = roles.roles.iter().find(|r| r.name == "*").unwrap();
        assert_eq!(star.weight, 1.0);
        assert_eq!(star.frameworks.len(), 1);

        let metrics = ask(cluster, encoding, Type::GetMetrics)
            .get_metrics
            .unwrap()
            .metrics;
        let running_tasks = metrics
            .iter()
            .find(|m| m.name == "master/tasks_running")
            .unwrap();
        assert_eq!(running_tasks.value, Some(2.0));

        let level = ask(cluster, encoding, Type::GetLoggingLevel);
        assert!(level.get_logging_level.is_some());
    }
}

#[test]
fn operator_path_alias_and_accept_negotiation() {
    let cluster = Cluster::new(|_| {});
    let body = mesos_core::json::to_string(&operator_call(Type::GetHealth, |_| {})).into_bytes();
    // pymesos posts to /api/v1/operator.
    let request = libprocess::http::client::ClientRequest::post(&format!(
        "http://{}/api/v1/operator",
        cluster.address
    ))
    .unwrap()
    .body(JSON, body.clone());
    let response = libprocess::http::client::request(request).get().unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("content-type"), Some(JSON));

    // JSON body, protobuf answer.
    let response = post_operator(&cluster, Some(JSON), Some(PROTOBUF), body.clone());
    let decoded = decode_response(Encoding::Protobuf, &response);
    assert!(decoded.get_health.unwrap().healthy);
    // No Accept: JSON.
    let response = post_operator(&cluster, Some(JSON), None, body.clone());
    assert_eq!(response.header("content-type"), Some(JSON));
    // Nothing acceptable.
    let response = post_operator(&cluster, Some(JSON), Some("text/html"), body);
    assert_eq!(response.status, StatusCode::NOT_ACCEPTABLE);
}

#[test]
fn bad_requests_get_mesos_status_codes_and_change_nothing() {
    let running = Running::start(1);
    let cluster = &running.cluster;
    let url = format!("http://{}/api/v1", cluster.address);
    assert_eq!(
        libprocess::http::client::get(&url).get().unwrap().status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let health = mesos_core::json::to_string(&operator_call(Type::GetHealth, |_| {}));
    let cases: Vec<(Option<&str>, Vec<u8>, StatusCode)> = vec![
        (None, health.clone().into_bytes(), StatusCode::BAD_REQUEST),
        (
            Some("text/plain"),
            health.into_bytes(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (Some(JSON), b"{not json".to_vec(), StatusCode::BAD_REQUEST),
        (Some(JSON), b"{}".to_vec(), StatusCode::BAD_REQUEST),
        (
            Some(JSON),
            br#"{"type":"NO_SUCH_CALL"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (Some(PROTOBUF), vec![0xff, 0xff, 0xff], StatusCode::BAD_REQUEST),
        // A write call without its body.
        (
            Some(JSON),
            br#"{"type":"TEARDOWN"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(JSON),
            br#"{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"a","weight":-1}]}}"#
                .to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(JSON),
            br#"{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"bad role","weight":2}]}}"#
                .to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(JSON),
            br#"{"type":"TEARDOWN","teardown":{"framework_id":{"value":"nope"}}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(JSON),
            br#"{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"nope"}}}"#
                .to_vec(),
            StatusCode::NOT_FOUND,
        ),
        (
            Some(JSON),
            br#"{"type":"GET_QUOTA"}"#.to_vec(),
            StatusCode::NOT_IMPLEMENTED,
        ),
    ];
    for (content_type, body, expected) in cases {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let response = post_operator(cluster, content_type, None, body);
        assert_eq!(response.status, expected, "{content_type:?} {shown}");
        assert!(!body_text(&response).is_empty() || expected == StatusCode::NOT_FOUND);
    }
    let unchanged = cluster.inspect(|m| {
        (
            m.state.frameworks.len(),
            m.state.agents.len(),
            m.state.weights.len(),
            m.state.gone_agents.len(),
        )
    });
    assert_eq!(unchanged, (1, 1, 0, 0));
}

fn update_weights(cluster: &Cluster, weights: &[(&str, f64)]) -> libprocess::http::Response {
    let call = operator_call(Type::UpdateWeights, |c| {
        c.update_weights = Some(v1::master::call::UpdateWeights {
            weight_infos: weights
                .iter()
                .map(|(role, weight)| v1::WeightInfo {
                    weight: *weight,
                    role: Some((*role).into()),
                })
                .collect(),
        })
    });
    call_op(cluster, &call)
}

fn call_op(cluster: &Cluster, call: &v1::master::Call) -> libprocess::http::Response {
    operator_support::call(cluster, Encoding::Json, call)
}

#[test]
fn update_weights_is_kept_across_a_master_restart() {
    let dir = temp_dir("weights");
    let mut flags = MasterFlags::default();
    flags.work_dir = Some(dir.clone());
    flags.registry = "replicated_log".into();
    let mut cluster = Cluster::with_flags(flags.clone());

    let response = update_weights(&cluster, &[("analytics", 2.5), ("web", 0.5)]);
    assert_eq!(response.status, StatusCode::OK, "{}", body_text(&response));
    let weights = ask(&cluster, Encoding::Protobuf, Type::GetWeights)
        .get_weights
        .unwrap()
        .weight_infos;
    let got: Vec<_> = weights
        .iter()
        .map(|w| (w.role.clone().unwrap(), w.weight))
        .collect();
    assert_eq!(
        got,
        [("analytics".to_owned(), 2.5), ("web".to_owned(), 0.5)]
    );
    let (_, roles) = get_json(&cluster, "/master/roles");
    assert_eq!(roles["roles"][0]["name"], "analytics");
    assert_eq!(roles["roles"][0]["weight"], 2.5);

    cluster.restart_master(flags);
    let weights = ask(&cluster, Encoding::Json, Type::GetWeights)
        .get_weights
        .unwrap()
        .weight_infos;
    let got: Vec<_> = weights
        .iter()
        .map(|w| (w.role.clone().unwrap(), w.weight))
        .collect();
    assert_eq!(
        got,
        [("analytics".to_owned(), 2.5), ("web".to_owned(), 0.5)]
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn mark_agent_gone_removes_it_for_good() {
    let running = Running::start(1);
    let cluster = &running.cluster;
    let agent_id = running.agent.agent_id().unwrap();
    let call = operator_call(Type::MarkAgentGone, |c| {
        c.mark_agent_gone = Some(v1::master::call::MarkAgentGone {
            agent_id: v1::AgentId {
                value: agent_id.clone(),
            },
        })
    });
    let response = call_op(cluster, &call);
    assert_eq!(response.status, StatusCode::OK, "{}", body_text(&response));
    cluster.settle();
    let (agents, gone) = cluster.inspect(|m| (m.state.agents.len(), m.state.gone_agents.len()));
    assert_eq!((agents, gone), (0, 1));
    assert_eq!(
        running.agent.received::<internal::ShutdownMessage>().len(),
        1
    );
    // Its task is gone (the framework is not partition aware: LOST).
    let update = running.scheduler.wait_for("the task's end", |e| {
        e.update
            .as_ref()
            .is_some_and(|u| u.status.state() != v1::TaskState::TaskRunning)
    });
    assert_eq!(
        update.update.unwrap().status.state(),
        v1::TaskState::TaskLost
    );
    // Again: nothing to do.
    assert_eq!(call_op(cluster, &call).status, StatusCode::OK);
    // It cannot come back.
    running.agent.reregister(vec![], vec![]);
    cluster.settle();
    assert_eq!(
        running.agent.received::<internal::ShutdownMessage>().len(),
        2
    );
    assert_eq!(cluster.inspect(|m| m.state.agents.len()), 0);
}

#[test]
fn teardown_call_removes_the_framework() {
    let running = Running::start(1);
    let cluster = &running.cluster;
    let call = operator_call(Type::Teardown, |c| {
        c.teardown = Some(v1::master::call::Teardown {
            framework_id: running.scheduler.framework_id(),
        })
    });
    let response = operator_support::call(cluster, Encoding::Protobuf, &call);
    assert_eq!(response.status, StatusCode::OK);
    let frameworks = ask(cluster, Encoding::Json, Type::GetFrameworks)
        .get_frameworks
        .unwrap();
    assert!(frameworks.frameworks.is_empty());
    assert_eq!(frameworks.completed_frameworks.len(), 1);
    let tasks = ask(cluster, Encoding::Json, Type::GetTasks)
        .get_tasks
        .unwrap();
    assert!(tasks.tasks.is_empty());
    assert_eq!(tasks.completed_tasks.len(), 1);
    assert_eq!(tasks.completed_tasks[0].state(), v1::TaskState::TaskKilled);
}

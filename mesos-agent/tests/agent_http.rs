//! The agent's HTTP side: the v1 executor API (status codes in Mesos's order, the
//! SUBSCRIBE stream and its events, UPDATE/MESSAGE relayed to the master, acknowledgements
//! back), `/state`, `/flags`, `/health`, `/metrics/snapshot` and the v1 operator API.

mod agent_support;

use std::time::Duration;

use agent_support::http::{self, HttpResponse};
use agent_support::{Cluster, Received, WAIT, command_task, eventually, framework};
use libprocess::Upid;
use mesos_core::internal::{FrameworkToExecutorMessage, ShutdownExecutorMessage};
use mesos_core::v0::{CommandInfo, ExecutorId, ExecutorInfo, FrameworkId, TaskState};
use serde_json::{Value, json};

/// Launches a custom executor that only sleeps, so that the test can subscribe in its
/// place, with one task queued for it.
fn fake_executor(cluster: &Cluster, agent: &Upid, fw: &mesos_core::v0::FrameworkInfo) {
    let executor = ExecutorInfo {
        executor_id: ExecutorId {
            value: "fake".to_owned(),
        },
        command: Some(CommandInfo {
            value: Some("sleep 60".to_owned()),
            ..Default::default()
        }),
        resources: mesos_core::resources::Resources::parse("cpus:0.1;mem:32", "*")
            .unwrap()
            .to_vec(),
        ..Default::default()
    };
    let mut task = command_task("queued", "unused", "cpus:0.1;mem:32");
    task.command = None;
    task.executor = Some(executor);
    cluster.master.run_task(agent, fw, task);
}

fn call(fw: &str, executor: &str, kind: &str) -> Value {
    json!({
        "framework_id": {"value": fw},
        "executor_id": {"value": executor},
        "type": kind,
    })
}

fn post(cluster: &Cluster, path: &str, content_type: Option<&str>, body: &str) -> HttpResponse {
    let mut headers = vec![];
    if let Some(t) = content_type {
        headers.push(("Content-Type", t));
    }
    http::request(cluster.address(), "POST", path, &headers, body.as_bytes()).unwrap()
}

fn update(fw: &str, executor: &str, task: &str, state: &str, uuid: &str, source: &str) -> Value {
    let mut c = call(fw, executor, "UPDATE");
    c["update"] = json!({"status": {
        "task_id": {"value": task},
        "state": state,
        "source": source,
        "uuid": uuid,
    }});
    c
}

// base64 of 16 bytes 0x01..0x10.
const UUID: &str = "AQIDBAUGBwgJCgsMDQ4PEA==";

#[test]
fn executor_api_answers_with_mesos_status_codes() {
    let mut cluster = Cluster::new(true);
    let agent = cluster.start_registered(cluster.flags());
    let fw = framework("fw-api", false);
    fake_executor(&cluster, agent.upid(), &fw);
    assert!(eventually(WAIT, || {
        agent.state_json().get().unwrap()["frameworks"][0]["executors"][0]["id"] == "fake"
    }));
    let path = "/api/v1/executor";
    let heartbeat = call("fw-api", "fake", "HEARTBEAT").to_string();

    let get = http::request(cluster.address(), "GET", path, &[], b"").unwrap();
    assert_eq!(get.status, 405);
    let missing = post(&cluster, path, None, &heartbeat);
    assert_eq!(missing.status, 400);
    assert_eq!(missing.text(), "Expecting 'Content-Type' to be present");
    assert_eq!(
        post(&cluster, path, Some("text/plain"), &heartbeat).status,
        415
    );
    let garbage = post(&cluster, path, Some("application/json"), "{not json");
    assert_eq!(garbage.status, 400);
    // `executor_id` is required.
    let incomplete = post(
        &cluster,
        path,
        Some("application/json"),
        r#"{"framework_id":{"value":"fw-api"},"type":"HEARTBEAT"}"#,
    );
    assert_eq!(incomplete.status, 400, "{}", incomplete.text());

    let bad_uuid = update(
        "fw-api",
        "fake",
        "queued",
        "TASK_RUNNING",
        "AAEC",
        "SOURCE_EXECUTOR",
    );
    assert_eq!(
        post(
            &cluster,
            path,
            Some("application/json"),
            &bad_uuid.to_string()
        )
        .status,
        400
    );
    let bad_source = update(
        "fw-api",
        "fake",
        "queued",
        "TASK_RUNNING",
        UUID,
        "SOURCE_MASTER",
    );
    assert_eq!(
        post(
            &cluster,
            path,
            Some("application/json"),
            &bad_source.to_string()
        )
        .status,
        400
    );
    let staging = update(
        "fw-api",
        "fake",
        "queued",
        "TASK_STAGING",
        UUID,
        "SOURCE_EXECUTOR",
    );
    let staging = post(
        &cluster,
        path,
        Some("application/json"),
        &staging.to_string(),
    );
    assert_eq!(staging.status, 400);
    assert!(
        staging.text().contains("TASK_STAGING"),
        "{}",
        staging.text()
    );

    // HEARTBEAT is accepted before any lookup.
    let unknown_heartbeat = call("nope", "nope", "HEARTBEAT").to_string();
    assert_eq!(
        post(&cluster, path, Some("application/json"), &unknown_heartbeat).status,
        202
    );
    let unknown_fw = update(
        "nope",
        "fake",
        "queued",
        "TASK_RUNNING",
        UUID,
        "SOURCE_EXECUTOR",
    );
    let unknown_fw = post(
        &cluster,
        path,
        Some("application/json"),
        &unknown_fw.to_string(),
    );
    assert_eq!(unknown_fw.status, 400);
    assert_eq!(unknown_fw.text(), "Framework cannot be found");
    let unknown_ex = update(
        "fw-api",
        "nope",
        "queued",
        "TASK_RUNNING",
        UUID,
        "SOURCE_EXECUTOR",
    );
    let unknown_ex = post(
        &cluster,
        path,
        Some("application/json"),
        &unknown_ex.to_string(),
    );
    assert_eq!(unknown_ex.text(), "Executor cannot be found");
    let early = update(
        "fw-api",
        "fake",
        "queued",
        "TASK_RUNNING",
        UUID,
        "SOURCE_EXECUTOR",
    );
    let early = post(&cluster, path, Some("application/json"), &early.to_string());
    assert_eq!(early.status, 403);
    assert_eq!(early.text(), "Executor is not subscribed");

    let mut subscribe = call("fw-api", "fake", "SUBSCRIBE");
    subscribe["subscribe"] = json!({});
    let not_acceptable = http::request(
        cluster.address(),
        "POST",
        path,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "text/html"),
        ],
        subscribe.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(not_acceptable.status, 406);
    // Nothing above changed the agent: the task is still queued.
    let state = agent.state_json().get().unwrap();
    assert_eq!(
        state["frameworks"][0]["executors"][0]["queued_tasks"][0]["id"],
        "queued"
    );
}

#[test]
fn subscribed_executor_gets_its_tasks_and_acknowledgements() {
    let mut cluster = Cluster::new(true);
    let agent = cluster.start_registered(cluster.flags());
    let fw = framework("fw-sub", false);
    fake_executor(&cluster, agent.upid(), &fw);
    assert!(eventually(WAIT, || {
        agent.state_json().get().unwrap()["frameworks"][0]["executors"][0]["id"] == "fake"
    }));

    let mut subscribe = call("fw-sub", "fake", "SUBSCRIBE");
    subscribe["subscribe"] = json!({});
    let (status, headers, mut stream) = http::stream(
        cluster.address(),
        "/slave(1)/api/v1/executor",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ],
        subscribe.to_string().as_bytes(),
    )
    .unwrap();
    stream.set_timeout(WAIT);
    assert_eq!(status, 200);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(header("transfer-encoding").as_deref(), Some("chunked"));
    assert!(header("mesos-stream-id").is_none());

    let subscribed = stream.next_json().expect("SUBSCRIBED");
    assert_eq!(subscribed["type"], "SUBSCRIBED");
    assert_eq!(
        subscribed["subscribed"]["executor_info"]["executor_id"]["value"],
        "fake"
    );
    assert_eq!(
        subscribed["subscribed"]["framework_info"]["id"]["value"],
        "fw-sub"
    );
    assert_eq!(
        subscribed["subscribed"]["agent_info"]["id"]["value"],
        "agent-1"
    );
    assert!(subscribed["subscribed"]["container_id"]["value"].is_string());
    let launch = stream.next_json().expect("LAUNCH");
    assert_eq!(launch["type"], "LAUNCH");
    assert_eq!(launch["launch"]["task"]["task_id"]["value"], "queued");
    assert_eq!(launch["launch"]["task"]["agent_id"]["value"], "agent-1");

    // UPDATE: relayed with the agent's ID; the master's acknowledgement comes back.
    let running = update(
        "fw-sub",
        "fake",
        "queued",
        "TASK_RUNNING",
        UUID,
        "SOURCE_EXECUTOR",
    );
    let accepted = post(
        &cluster,
        "/api/v1/executor",
        Some("application/json"),
        &running.to_string(),
    );
    assert_eq!(accepted.status, 202);
    let relayed = cluster
        .master
        .wait_for_update("queued", TaskState::TaskRunning);
    assert_eq!(relayed.slave_id.as_ref().unwrap().value, "agent-1");
    assert_eq!(relayed.executor_id.as_ref().unwrap().value, "fake");
    assert_eq!(relayed.status.slave_id.as_ref().unwrap().value, "agent-1");
    let acknowledged = stream.next_json().expect("ACKNOWLEDGED");
    assert_eq!(acknowledged["type"], "ACKNOWLEDGED");
    assert_eq!(acknowledged["acknowledged"]["uuid"], UUID);
    assert_eq!(acknowledged["acknowledged"]["task_id"]["value"], "queued");
    // The same update again is a duplicate: not sent to the master twice.
    post(
        &cluster,
        "/api/v1/executor",
        Some("application/json"),
        &running.to_string(),
    );

    // MESSAGE both ways.
    let mut message = call("fw-sub", "fake", "MESSAGE");
    message["message"] = json!({"data": "aGk="});
    assert_eq!(
        post(
            &cluster,
            "/api/v1/executor",
            Some("application/json"),
            &message.to_string()
        )
        .status,
        202
    );
    let relayed = cluster
        .master
        .wait_for(WAIT, |r| {
            r.iter().find_map(|m| match m {
                Received::ExecutorMessage(m) => Some(m.clone()),
                _ => None,
            })
        })
        .expect("ExecutorToFrameworkMessage");
    assert_eq!(relayed.data, b"hi");
    cluster.master.send(
        agent.upid(),
        &FrameworkToExecutorMessage {
            slave_id: relayed.slave_id.clone(),
            framework_id: FrameworkId {
                value: "fw-sub".to_owned(),
            },
            executor_id: ExecutorId {
                value: "fake".to_owned(),
            },
            data: b"hello".to_vec(),
        },
    );
    let message = stream.next_json().expect("MESSAGE");
    assert_eq!(message["type"], "MESSAGE");
    assert_eq!(message["message"]["data"], "aGVsbG8=");

    // KILL goes to the executor with the kill policy.
    cluster
        .master
        .kill_task(agent.upid(), &fw, "queued", Some(Duration::from_secs(3)));
    let kill = stream.next_json().expect("KILL");
    assert_eq!(kill["type"], "KILL");
    assert_eq!(
        kill["kill"]["kill_policy"]["grace_period"]["nanoseconds"],
        3_000_000_000u64
    );

    // SHUTDOWN, then the container is destroyed after the grace period (2 s here) since
    // this executor never exits: the task fails, the master hears of the executor.
    cluster.master.send(
        agent.upid(),
        &ShutdownExecutorMessage {
            executor_id: Some(ExecutorId {
                value: "fake".to_owned(),
            }),
            framework_id: Some(FrameworkId {
                value: "fw-sub".to_owned(),
            }),
        },
    );
    let shutdown = stream.next_json().expect("SHUTDOWN");
    assert_eq!(shutdown["type"], "SHUTDOWN");
    let failed = cluster
        .master
        .wait_for_update("queued", TaskState::TaskFailed);
    assert_eq!(
        failed.status.reason(),
        mesos_core::v0::task_status::Reason::ExecutorTerminated
    );
    assert!(
        stream.next_json().is_none(),
        "the stream ends with the executor"
    );
    let running_uuid = relayed_count(&cluster, "queued", TaskState::TaskRunning);
    assert_eq!(running_uuid, 1, "the duplicate UPDATE was not forwarded");
    assert!(
        cluster
            .master
            .received()
            .iter()
            .any(|m| matches!(m, Received::Exited(e) if e.executor_id.value == "fake"))
    );
}

fn relayed_count(cluster: &Cluster, task: &str, state: TaskState) -> usize {
    cluster
        .master
        .updates(task)
        .iter()
        .filter(|u| u.status.state() == state)
        .count()
}

fn operator(cluster: &Cluster, body: Value) -> Value {
    let response = http::post_json(cluster.address(), "/api/v1", &body);
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

#[test]
fn state_flags_health_metrics_and_the_operator_api() {
    let mut cluster = Cluster::new(true);
    let mut flags = cluster.flags();
    flags.attributes = Some("rack:r2".to_owned());
    let agent = cluster.start_registered(flags);
    let fw = framework("fw-state", false);
    cluster.master.run_task(
        agent.upid(),
        &fw,
        command_task(
            "visible",
            "echo visible output; sleep 60",
            "cpus:0.5;mem:64",
        ),
    );
    cluster
        .master
        .wait_for_update("visible", TaskState::TaskRunning);
    let address = cluster.address();

    let state = http::get(address, "/state").json();
    assert_eq!(state, http::get(address, "/slave(1)/state").json());
    assert_eq!(state["id"], "agent-1");
    assert_eq!(state["pid"], agent.upid().to_string());
    assert_eq!(state["version"], "1.11.0");
    assert_eq!(state["resources"]["cpus"], 2.0);
    assert_eq!(state["resources"]["mem"], 1024.0);
    assert_eq!(state["resources"]["ports"], "[31000-32000]");
    assert_eq!(state["attributes"]["rack"], "r2");
    assert_eq!(
        state["flags"]["work_dir"],
        cluster
            .dir
            .join("work")
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    );
    let framework_json = &state["frameworks"][0];
    assert_eq!(framework_json["id"], "fw-state");
    let executor = &framework_json["executors"][0];
    assert_eq!(executor["id"], "visible");
    assert!(
        executor["name"]
            .as_str()
            .unwrap()
            .starts_with("Command Executor (Task: visible)")
    );
    assert_eq!(executor["source"], "visible");
    let task = &executor["tasks"][0];
    assert_eq!(task["id"], "visible");
    assert_eq!(task["executor_id"], "");
    assert_eq!(task["state"], "TASK_RUNNING");
    assert_eq!(task["resources"]["cpus"], 0.5);
    assert_eq!(task["statuses"][0]["state"], "TASK_STARTING");
    let jsonp = http::get(address, "/state?jsonp=cb");
    assert!(jsonp.text().starts_with("cb("));

    assert_eq!(http::get(address, "/health").status, 200);
    let flags = http::get(address, "/flags").json();
    assert_eq!(flags["flags"]["isolation"], "posix/cpu,posix/mem");
    assert_eq!(flags["flags"]["executor_shutdown_grace_period"], "2secs");

    let metrics = http::get(address, "/metrics/snapshot").json();
    assert_eq!(metrics["slave/registered"], 1.0);
    assert_eq!(metrics["slave/tasks_running"], 1.0);
    assert_eq!(metrics["slave/executors_running"], 1.0);
    assert_eq!(metrics["slave/cpus_total"], 2.0);
    assert!(metrics["slave/cpus_used"].as_f64().unwrap() >= 0.5);
    assert!(metrics["slave/uptime_secs"].as_f64().unwrap() > 0.0);
    assert!(metrics["slave/valid_status_updates"].as_f64().unwrap() >= 2.0);

    // The operator API.
    let health = operator(&cluster, json!({"type": "GET_HEALTH"}));
    assert_eq!(
        health,
        json!({"type": "GET_HEALTH", "get_health": {"healthy": true}})
    );
    let version = operator(&cluster, json!({"type": "GET_VERSION"}));
    assert_eq!(version["get_version"]["version_info"]["version"], "1.11.0");
    let flags = operator(&cluster, json!({"type": "GET_FLAGS"}));
    assert!(
        flags["get_flags"]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "work_dir")
    );
    let metrics = operator(&cluster, json!({"type": "GET_METRICS", "get_metrics": {}}));
    assert!(
        metrics["get_metrics"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "slave/tasks_running")
    );
    let tasks = operator(&cluster, json!({"type": "GET_TASKS"}));
    assert_eq!(
        tasks["get_tasks"]["launched_tasks"][0]["task_id"]["value"],
        "visible"
    );
    assert_eq!(
        tasks["get_tasks"]["launched_tasks"][0]["agent_id"]["value"],
        "agent-1"
    );
    let executors = operator(&cluster, json!({"type": "GET_EXECUTORS"}));
    assert_eq!(
        executors["get_executors"]["executors"][0]["executor_info"]["executor_id"]["value"],
        "visible"
    );
    let frameworks = operator(&cluster, json!({"type": "GET_FRAMEWORKS"}));
    assert_eq!(
        frameworks["get_frameworks"]["frameworks"][0]["framework_info"]["id"]["value"],
        "fw-state"
    );
    let state = operator(&cluster, json!({"type": "GET_STATE"}));
    assert_eq!(
        state["get_state"]["get_tasks"]["launched_tasks"][0]["task_id"]["value"],
        "visible"
    );
    let agent_info = operator(&cluster, json!({"type": "GET_AGENT"}));
    assert_eq!(
        agent_info["get_agent"]["agent_info"]["id"]["value"],
        "agent-1"
    );
    let containers = operator(&cluster, json!({"type": "GET_CONTAINERS"}));
    let container = &containers["get_containers"]["containers"][0];
    assert_eq!(container["executor_id"]["value"], "visible");
    assert!(
        container["resource_statistics"]["mem_limit_bytes"].is_number(),
        "{container}"
    );
    let unsupported = http::post_json(address, "/api/v1", &json!({"type": "PRUNE_IMAGES"}));
    assert_eq!(unsupported.status, 501);
    let unknown_type = http::post_json(address, "/api/v1", &json!({"type": "NOT_A_CALL"}));
    assert_eq!(unknown_type.status, 400);

    // The sandbox through the files process.
    let sandbox = "/frameworks/fw-state/executors/visible/runs/latest";
    let listed = operator(
        &cluster,
        json!({"type": "LIST_FILES", "list_files": {"path": sandbox}}),
    );
    let names: Vec<String> = listed["list_files"]["file_infos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(names.contains(&"stdout".to_owned()), "{names:?}");
    assert!(eventually(WAIT, || {
        let read = operator(
            &cluster,
            json!({"type": "READ_FILE", "read_file": {"path": format!("{sandbox}/stdout"), "offset": 0}}),
        );
        read["read_file"]["data"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
            && read["read_file"]["size"].as_u64().unwrap() > 0
    }));
    let missing = http::post_json(
        address,
        "/api/v1",
        &json!({"type": "READ_FILE", "read_file": {"path": "/nope/stdout", "offset": 0}}),
    );
    assert_eq!(missing.status, 404);
    let files = http::get(
        address,
        &format!("/files/read?path={sandbox}/stdout&offset=0"),
    );
    assert_eq!(files.status, 200);
    assert!(
        files.json()["data"]
            .as_str()
            .unwrap()
            .contains("visible output")
    );
}

#[test]
fn task_groups_launch_together_and_protobuf_streams_work() {
    let mut cluster = Cluster::new(true);
    let agent = cluster.start_registered(cluster.flags());
    let fw = framework("fw-group", false);
    let executor = ExecutorInfo {
        executor_id: ExecutorId {
            value: "grouped".to_owned(),
        },
        command: Some(CommandInfo {
            value: Some("sleep 60".to_owned()),
            ..Default::default()
        }),
        resources: mesos_core::resources::Resources::parse("cpus:0.1;mem:32", "*")
            .unwrap()
            .to_vec(),
        ..Default::default()
    };
    let tasks = ["a", "b"]
        .iter()
        .map(|id| {
            let mut task = command_task(id, "unused", "cpus:0.1;mem:16");
            task.command = None;
            task
        })
        .collect();
    cluster.master.send(
        agent.upid(),
        &mesos_core::internal::RunTaskGroupMessage {
            framework: fw.clone(),
            executor,
            task_group: mesos_core::v0::TaskGroupInfo { tasks },
            ..Default::default()
        },
    );
    assert!(eventually(WAIT, || {
        let state = agent.state_json().get().unwrap();
        state["frameworks"][0]["executors"][0]["queued_tasks"]
            .as_array()
            .is_some_and(|t| t.len() == 2)
    }));

    // Subscribe in protobuf: RecordIO of serialized v1 events.
    use prost::Message;
    let subscribe = mesos_core::v1::executor::Call {
        executor_id: mesos_core::v1::ExecutorId {
            value: "grouped".to_owned(),
        },
        framework_id: mesos_core::v1::FrameworkId {
            value: "fw-group".to_owned(),
        },
        r#type: Some(mesos_core::v1::executor::call::Type::Subscribe as i32),
        subscribe: Some(Default::default()),
        ..Default::default()
    };
    let (status, headers, mut stream) = http::stream(
        cluster.address(),
        "/api/v1/executor",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Accept", "application/x-protobuf"),
        ],
        &subscribe.encode_to_vec(),
    )
    .unwrap();
    stream.set_timeout(WAIT);
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v == "application/x-protobuf")
    );
    let decode =
        |record: Vec<u8>| mesos_core::v1::executor::Event::decode(record.as_slice()).unwrap();
    let subscribed = decode(stream.next_record().expect("SUBSCRIBED"));
    assert_eq!(
        subscribed.r#type(),
        mesos_core::v1::executor::event::Type::Subscribed
    );
    let group = decode(stream.next_record().expect("LAUNCH_GROUP"));
    assert_eq!(
        group.r#type(),
        mesos_core::v1::executor::event::Type::LaunchGroup
    );
    let ids: Vec<String> = group
        .launch_group
        .unwrap()
        .task_group
        .tasks
        .iter()
        .map(|t| t.task_id.value.clone())
        .collect();
    assert_eq!(ids, ["a", "b"]);

    // /monitor/statistics reports the running executor's usage.
    let statistics = http::get(cluster.address(), "/monitor/statistics").json();
    let entry = &statistics[0];
    assert_eq!(entry["executor_id"], "grouped");
    assert_eq!(entry["framework_id"], "fw-group");
    assert!(entry["statistics"]["timestamp"].is_number(), "{statistics}");
}

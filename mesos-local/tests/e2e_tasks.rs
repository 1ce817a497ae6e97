//! End to end with the real binaries: a `mesos-master` and a `mesos-agent` as child processes
//! on free loopback ports, the agent running tasks through `mesos-executor`, a framework
//! driving them through the scheduler library, and checks through raw HTTP (`/master/state`,
//! the v1 operator API, a raw `SUBSCRIBE`).

mod support;

use std::time::Duration;

use libprocess::http::client::{self, ClientRequest};
use mesos_core::v1::TaskState;
use mesos_core::v1::scheduler::call;
use mesos_core::{v1, v1::task_status::Reason};
use serde_json::json;
use support::{Framework, Harness, WAIT, command_task, framework_info, free_port, wait_until};

/// A master and one agent, registered.
fn cluster(name: &str) -> Option<(Harness, std::net::SocketAddr)> {
    let mut harness = Harness::new(name)?;
    let master = harness.start_master("master", free_port(), &[]);
    harness.start_agent("agent", master, free_port(), &[]);
    wait_until(WAIT, "the agent to register", || {
        support::active_agents(master) == 1
    });
    Some((harness, master))
}

#[test]
fn a_hundred_tasks_finish() {
    let Some((_harness, master)) = cluster("hundred") else {
        return;
    };
    let mut framework = Framework::subscribe(master, framework_info("e2e-hundred"));
    let mut launched = 0;
    while launched < 100 {
        let offer = framework.take_offer(None);
        // 8 cpus offered, 0.1 each: up to 80 per offer.
        let count = (100 - launched).min(40);
        let tasks = (launched..launched + count)
            .map(|i| command_task(&format!("t{i}"), &offer.agent_id, "true"))
            .collect();
        framework.launch(&offer, tasks);
        launched += count;
    }
    framework.wait("100 tasks finished", |f| {
        f.updates
            .iter()
            .filter(|u| u.state == TaskState::TaskFinished)
            .count()
            >= 100
    });
    for i in 0..100 {
        let states = framework.states(&format!("t{i}"));
        assert_eq!(
            states.last(),
            Some(&TaskState::TaskFinished),
            "t{i}: {states:?}"
        );
        assert!(states.contains(&TaskState::TaskRunning), "t{i}: {states:?}");
        assert_eq!(
            states
                .iter()
                .filter(|s| **s == TaskState::TaskFinished)
                .count(),
            1,
            "t{i}: {states:?}"
        );
    }
    // The master knows them all as finished (completed once their last update is
    // acknowledged).
    wait_until(WAIT, "the master to complete 100 tasks", || {
        support::master_state(master).is_some_and(|state| {
            state["frameworks"][0]["completed_tasks"]
                .as_array()
                .is_some_and(|c| c.len() == 100 && c.iter().all(|t| t["state"] == "TASK_FINISHED"))
        })
    });
    framework.stop();
}

#[test]
fn kill_failure_and_reconciliation() {
    let Some((_harness, master)) = cluster("kill") else {
        return;
    };
    let mut framework = Framework::subscribe(master, framework_info("e2e-kill"));
    let offer = framework.take_offer(None);
    let agent = offer.agent_id.clone();
    framework.launch(
        &offer,
        vec![
            command_task("sleeper", &agent, "sleep 1000"),
            command_task("keeper", &agent, "sleep 1000"),
            command_task("failer", &agent, "exit 3"),
        ],
    );

    // A task that fails.
    framework.wait_state("failer", TaskState::TaskFailed);
    let failed = framework
        .updates
        .iter()
        .find(|u| u.task == "failer" && u.state == TaskState::TaskFailed)
        .expect("failed")
        .clone();
    assert!(
        failed.message.contains("exited with status 3"),
        "{failed:?}"
    );

    // Kill.
    framework.wait_state("sleeper", TaskState::TaskRunning);
    framework.wait_state("keeper", TaskState::TaskRunning);
    let answer = framework
        .scheduler
        .kill(
            v1::TaskId {
                value: "sleeper".into(),
            },
            Some(agent.clone()),
            None,
        )
        .get()
        .expect("KILL answered");
    assert_eq!(answer.status.as_u16(), 202);
    framework.wait_state("sleeper", TaskState::TaskKilled);
    assert_eq!(
        support::task_state_in_master(master, "sleeper").as_deref(),
        Some("TASK_KILLED")
    );

    // Explicit reconciliation: the running task, a finished one and an unknown one.
    let before = framework.updates.len();
    let reconcile = |id: &str| call::reconcile::Task {
        task_id: v1::TaskId { value: id.into() },
        agent_id: None,
    };
    let answer = framework
        .scheduler
        .reconcile(vec![reconcile("keeper"), reconcile("nobody")])
        .get()
        .expect("RECONCILE answered");
    assert_eq!(answer.status.as_u16(), 202);
    framework.wait("explicit reconciliation", |f| f.updates.len() >= before + 2);
    let answers = &framework.updates[before..];
    let keeper = answers.iter().find(|u| u.task == "keeper").expect("keeper");
    assert_eq!(keeper.state, TaskState::TaskRunning);
    assert_eq!(keeper.reason, Some(Reason::Reconciliation));
    let nobody = answers.iter().find(|u| u.task == "nobody").expect("nobody");
    assert_eq!(nobody.state, TaskState::TaskLost, "{nobody:?}");
    assert_eq!(nobody.reason, Some(Reason::Reconciliation));

    // Implicit reconciliation: every task the master knows as live, nothing else.
    let before = framework.updates.len();
    let answer = framework.scheduler.reconcile(Vec::new()).get().unwrap();
    assert_eq!(answer.status.as_u16(), 202);
    framework.wait("implicit reconciliation", |f| f.updates.len() > before);
    framework.pump(Duration::from_millis(300));
    let answers: Vec<_> = framework.updates[before..]
        .iter()
        .map(|u| (u.task.clone(), u.state, u.reason))
        .collect();
    assert_eq!(
        answers,
        [(
            "keeper".to_string(),
            TaskState::TaskRunning,
            Some(Reason::Reconciliation)
        )]
    );

    // The same through raw HTTP: the v1 operator API and /master/state.
    let (status, tasks) = support::post_json(
        &format!("http://{master}/api/v1"),
        &json!({"type": "GET_TASKS"}),
    );
    assert_eq!(status, 200, "{tasks}");
    let live: Vec<&str> = tasks["get_tasks"]["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["task_id"]["value"].as_str())
        .collect();
    assert_eq!(live, ["keeper"], "{tasks}");
    let completed: Vec<(&str, &str)> = tasks["get_tasks"]["completed_tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["task_id"]["value"].as_str()?, t["state"].as_str()?)))
        .collect();
    assert!(completed.contains(&("sleeper", "TASK_KILLED")), "{tasks}");
    assert!(completed.contains(&("failer", "TASK_FAILED")), "{tasks}");
    assert_eq!(
        support::task_state_in_master(master, "keeper").as_deref(),
        Some("TASK_RUNNING")
    );
    framework.stop();
}

/// A framework speaking raw HTTP: `SUBSCRIBE` on a streaming connection, then a `DECLINE` and
/// a `TEARDOWN` with the stream id.
#[test]
fn raw_http_subscribe_and_teardown() {
    let Some((_harness, master)) = cluster("raw") else {
        return;
    };
    let url = format!("http://{master}/api/v1/scheduler");
    let subscribe = json!({
        "type": "SUBSCRIBE",
        "subscribe": {"framework_info": {"user": "root", "name": "raw-http"}}
    });
    let request = ClientRequest::post(&url)
        .unwrap()
        .header("accept", "application/json")
        .unwrap()
        .body("application/json", subscribe.to_string());
    let response = client::streaming(request)
        .get()
        .expect("SUBSCRIBE answered");
    assert_eq!(response.status.as_u16(), 200);
    let stream_id = response
        .header("mesos-stream-id")
        .expect("Mesos-Stream-Id")
        .to_string();
    let reader = response.body.reader().expect("a streamed body").clone();
    let mut decoder = stout::recordio::Decoder::new();
    let mut events = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    while !events
        .iter()
        .any(|e: &serde_json::Value| e["type"] == "OFFERS")
    {
        assert!(std::time::Instant::now() < deadline, "events: {events:?}");
        let chunk = reader.read().get().expect("a chunk").expect("not the end");
        for record in decoder.decode(&chunk).expect("RecordIO") {
            events.push(serde_json::from_slice(&record).expect("a JSON event"));
        }
    }
    assert_eq!(events[0]["type"], "SUBSCRIBED", "{events:?}");
    let framework_id = events[0]["subscribed"]["framework_id"]["value"]
        .as_str()
        .expect("framework id")
        .to_string();
    let offer =
        events.iter().find(|e| e["type"] == "OFFERS").unwrap()["offers"]["offers"][0].clone();

    let call = |body: serde_json::Value| {
        let request = ClientRequest::post(&url)
            .unwrap()
            .header("mesos-stream-id", stream_id.as_str())
            .unwrap()
            .body("application/json", body.to_string());
        client::request(request)
            .get()
            .expect("answered")
            .status
            .as_u16()
    };
    // Without the stream id: refused.
    let (status, _) = support::post_json(
        &url,
        &json!({"type": "DECLINE", "framework_id": {"value": framework_id},
                "decline": {"offer_ids": [offer["id"]]}}),
    );
    assert_eq!(status, 400);
    assert_eq!(
        call(
            json!({"type": "DECLINE", "framework_id": {"value": framework_id},
                    "decline": {"offer_ids": [offer["id"]]}})
        ),
        202
    );
    assert_eq!(
        call(json!({"type": "TEARDOWN", "framework_id": {"value": framework_id}})),
        202
    );
    wait_until(WAIT, "the framework to be completed", || {
        support::master_state(master).is_some_and(|s| {
            s["completed_frameworks"]
                .as_array()
                .is_some_and(|c| c.iter().any(|f| f["id"] == framework_id.as_str()))
        })
    });
    reader.close();
}

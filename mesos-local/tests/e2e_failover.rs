//! End to end with the real binaries, through failures: a framework that disconnects and
//! comes back within its failover timeout, an agent killed with SIGKILL and restarted on the
//! same work directory (a checkpointed task survives and its updates are neither lost nor
//! duplicated), and the master killed with SIGKILL and restarted on the same work directory
//! (the agent re-registers, the framework re-subscribes, the running task is still known).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use mesos_core::v1;
use mesos_core::v1::TaskState;
use mesos_core::v1::scheduler::call;
use serde_json::json;
use support::{Framework, Harness, WAIT, command_task, framework_info, free_port, wait_until};

/// Pings every 200 ms, an agent is unreachable after 5 missed ones.
const MASTER_FLAGS: &[&str] = &["--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=5"];

fn failover_info(name: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        checkpoint: Some(true),
        failover_timeout: Some(60.0),
        ..framework_info(name)
    }
}

fn reconcile_one(framework: &mut Framework, id: &str) -> support::Update {
    let before = framework.updates.len();
    let answer = framework
        .scheduler
        .reconcile(vec![call::reconcile::Task {
            task_id: v1::TaskId { value: id.into() },
            agent_id: None,
        }])
        .get()
        .expect("RECONCILE answered");
    assert_eq!(answer.status.as_u16(), 202);
    framework.wait("a reconciliation answer", |f| {
        f.updates[before..].iter().any(|u| u.task == id)
    });
    framework.updates[before..]
        .iter()
        .find(|u| u.task == id)
        .cloned()
        .expect("found")
}

fn framework_active(master: SocketAddr, id: &str) -> Option<bool> {
    let state = support::master_state(master)?;
    state["frameworks"]
        .as_array()?
        .iter()
        .find(|f| f["id"] == id)
        .and_then(|f| f["active"].as_bool())
}

#[test]
fn a_framework_fails_over_within_its_timeout() {
    let Some(mut harness) = Harness::new("framework-failover") else {
        return;
    };
    let master = harness.start_master("master", free_port(), MASTER_FLAGS);
    harness.start_agent("agent", master, free_port(), &[]);
    wait_until(WAIT, "the agent", || support::active_agents(master) == 1);

    let mut framework = Framework::subscribe(master, failover_info("e2e-failover"));
    let id = framework.id();
    let offer = framework.take_offer(None);
    framework.launch(
        &offer,
        vec![command_task("long", &offer.agent_id, "sleep 1000")],
    );
    framework.wait_state("long", TaskState::TaskRunning);
    framework.pump(Duration::from_millis(200));
    framework.stop();

    // Disconnected, not removed: the task keeps running.
    wait_until(WAIT, "the framework to be inactive", || {
        framework_active(master, &id) == Some(false)
    });
    assert_eq!(
        support::task_state_in_master(master, "long").as_deref(),
        Some("TASK_RUNNING")
    );

    // The same framework id subscribes again.
    let info = v1::FrameworkInfo {
        id: Some(v1::FrameworkId { value: id.clone() }),
        ..failover_info("e2e-failover")
    };
    let mut framework = Framework::subscribe(master, info);
    assert_eq!(framework.id(), id);
    wait_until(WAIT, "the framework to be active", || {
        framework_active(master, &id) == Some(true)
    });
    let answer = reconcile_one(&mut framework, "long");
    assert_eq!(answer.state, TaskState::TaskRunning, "{answer:?}");

    // And still controls its task.
    framework
        .scheduler
        .kill(
            v1::TaskId {
                value: "long".into(),
            },
            None,
            None,
        )
        .get()
        .expect("KILL answered");
    framework.wait_state("long", TaskState::TaskKilled);
    framework.stop();
}

#[test]
fn a_checkpointed_task_survives_an_agent_restart() {
    let Some(mut harness) = Harness::new("agent-restart") else {
        return;
    };
    let master = harness.start_master("master", free_port(), MASTER_FLAGS);
    let agent_port = free_port();
    harness.start_agent("agent", master, agent_port, &[]);
    wait_until(WAIT, "the agent", || support::active_agents(master) == 1);

    let mut framework = Framework::subscribe(master, failover_info("e2e-agent-restart"));
    let offer = framework.take_offer(None);
    let agent_id = offer.agent_id.value.clone();
    // The task finishes once told to, while its agent is down.
    let go = harness.dir.join("go");
    let command = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; echo done",
        go.display()
    );
    framework.launch(
        &offer,
        vec![command_task("survivor", &offer.agent_id, &command)],
    );
    framework.wait_state("survivor", TaskState::TaskRunning);
    // Let the acknowledgement of TASK_RUNNING reach the agent.
    framework.pump(Duration::from_millis(500));

    harness.proc("agent").kill();
    std::fs::write(&go, b"").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !framework.saw("survivor", TaskState::TaskFinished),
        "an update without an agent"
    );

    harness.start_agent("agent", master, agent_port, &[]);
    framework.wait_state("survivor", TaskState::TaskFinished);
    // Any duplicate would come within the agent's retry interval.
    framework.pump(Duration::from_secs(2));
    let states = framework.states("survivor");
    let count = |s: TaskState| states.iter().filter(|x| **x == s).count();
    assert_eq!(count(TaskState::TaskRunning), 1, "{states:?}");
    assert_eq!(count(TaskState::TaskFinished), 1, "{states:?}");
    assert_eq!(states.last(), Some(&TaskState::TaskFinished), "{states:?}");

    // The same agent came back.
    let state = support::master_state(master).expect("state");
    let agents: Vec<&str> = state["slaves"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(agents, [agent_id.as_str()]);
    // Acknowledged, the task is among the framework's completed tasks.
    assert_eq!(
        support::task_state_in_master(master, "survivor").as_deref(),
        Some("TASK_FINISHED")
    );
    framework.stop();
}

#[test]
fn the_cluster_survives_a_master_restart() {
    let Some(mut harness) = Harness::new("master-restart") else {
        return;
    };
    let master_port = free_port();
    let master = harness.start_master("master", master_port, MASTER_FLAGS);
    harness.start_agent("agent", master, free_port(), &[]);
    wait_until(WAIT, "the agent", || support::active_agents(master) == 1);

    let mut framework = Framework::subscribe(master, failover_info("e2e-master-restart"));
    let id = framework.id();
    let offer = framework.take_offer(None);
    framework.launch(
        &offer,
        vec![command_task("steady", &offer.agent_id, "sleep 1000")],
    );
    framework.wait_state("steady", TaskState::TaskRunning);
    framework.pump(Duration::from_millis(300));

    harness.proc("master").kill();
    framework.wait("the library to notice", |f| f.disconnections > 0);
    harness.start_master("master", master_port, MASTER_FLAGS);

    // The framework re-subscribes with its id, the agent re-registers.
    framework.wait("a second SUBSCRIBED", |f| f.subscribed.len() >= 2);
    assert_eq!(framework.id(), id);
    wait_until(WAIT, "the agent to re-register", || {
        support::active_agents(master) == 1
    });

    let answer = reconcile_one(&mut framework, "steady");
    assert_eq!(answer.state, TaskState::TaskRunning, "{answer:?}");
    assert_eq!(
        support::task_state_in_master(master, "steady").as_deref(),
        Some("TASK_RUNNING")
    );
    let (status, tasks) = support::post_json(
        &format!("http://{master}/api/v1"),
        &json!({"type": "GET_TASKS"}),
    );
    assert_eq!(status, 200, "{tasks}");
    let live: Vec<(&str, &str)> = tasks["get_tasks"]["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["task_id"]["value"].as_str()?, t["state"].as_str()?)))
        .collect();
    assert_eq!(live, [("steady", "TASK_RUNNING")], "{tasks}");

    // The new master drives the task.
    framework
        .scheduler
        .kill(
            v1::TaskId {
                value: "steady".into(),
            },
            None,
            None,
        )
        .get()
        .expect("KILL answered");
    framework.wait_state("steady", TaskState::TaskKilled);
    framework.stop();
}

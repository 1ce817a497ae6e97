//! `/master/state` copies the JSON of each task and agent kept from the previous `/state`:
//! the cached fragments give the same document, and a status update or an agent's
//! reregistration makes the changed records be rendered afresh.

mod master_support;
mod operator_support;

use libprocess::http::StatusCode;
use master_support::*;
use mesos_core::v0;
use mesos_master::http::state_json;
use operator_support::*;
use serde_json::Value;

/// The task `id` among the first framework's live or completed tasks.
fn task<'a>(state: &'a Value, id: &str) -> &'a Value {
    let framework = &state["frameworks"][0];
    ["tasks", "completed_tasks"]
        .iter()
        .flat_map(|list| framework[*list].as_array().unwrap())
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("task {id} in /state"))
}

fn statuses(task: &Value) -> usize {
    task["statuses"].as_array().unwrap().len()
}

#[test]
fn state_fragments_follow_status_updates_and_reregistration() {
    let running = Running::start(2);
    let cluster = &running.cluster;
    let framework_id = running.scheduler.framework_id.clone();

    let first = get(cluster, "/master/state");
    assert_eq!(first.status, StatusCode::OK);
    // The fragments are kept, and the next document, copied from them, is the same.
    let cached = cluster.inspect(state_json::cache_size);
    assert!(cached > 0, "fragments cached");
    let second = get(cluster, "/master/state");
    assert_eq!(body_text(&first), body_text(&second));
    let before: Value = serde_json::from_str(&body_text(&first)).unwrap();
    assert_eq!(task(&before, "t0")["state"], "TASK_RUNNING");
    assert_eq!(task(&before, "t1")["state"], "TASK_RUNNING");
    assert!(before["slaves"][0].get("reregistered_time").is_none());

    // A status update: the task's fragment is rendered again, the other task's is not.
    status_update_at(
        &running.agent,
        &framework_id,
        "t0",
        v0::TaskState::TaskFinished,
        300.0,
    );
    cluster.settle();
    wait_until("t0 finished", || {
        cluster.inspect(|m| {
            m.state
                .frameworks
                .values()
                .flat_map(|f| f.tasks.values())
                .any(|t| t.info.task_id.value == "t0" && t.state() == v0::TaskState::TaskFinished)
        })
    });
    let (_, after_update) = get_json(cluster, "/master/state");
    let t0 = task(&after_update, "t0");
    assert_eq!(t0["state"], "TASK_FINISHED");
    assert_eq!(statuses(t0), statuses(task(&before, "t0")) + 1);
    assert_eq!(
        t0["statuses"].as_array().unwrap().last().unwrap()["timestamp"],
        300.0
    );
    assert_eq!(task(&after_update, "t1"), task(&before, "t1"));

    // The agent reregisters reporting t0 only: t1 is lost, the agent shows its
    // reregistration time.
    let reported: Vec<v0::Task> = cluster.inspect(|m| {
        m.state
            .frameworks
            .values()
            .flat_map(|f| f.tasks.values())
            .filter(|t| t.info.task_id.value == "t0")
            .map(|t| t.info.clone())
            .collect()
    });
    assert_eq!(reported.len(), 1);
    let frameworks = cluster.inspect(|m| {
        m.state
            .frameworks
            .values()
            .map(|f| f.info.clone())
            .collect::<Vec<_>>()
    });
    running.agent.reregister(reported, frameworks);
    cluster.settle();
    wait_until("t1 lost", || {
        cluster.inspect(|m| {
            m.state
                .frameworks
                .values()
                .all(|f| f.tasks.keys().all(|id| id.as_str() != "t1"))
        })
    });
    let (_, after_reregistration) = get_json(cluster, "/master/state");
    let t1 = task(&after_reregistration, "t1");
    assert!(
        t1["state"] == "TASK_LOST" || t1["state"] == "TASK_DROPPED",
        "{t1}"
    );
    assert_eq!(statuses(t1), statuses(task(&before, "t1")) + 1);
    assert!(after_reregistration["slaves"][0]["reregistered_time"].is_f64());
    assert_eq!(
        after_reregistration["slaves"][0]["pid"],
        before["slaves"][0]["pid"]
    );
}

//! A task that ends while its agent is away: the agent reregisters reporting it terminal
//! (and not yet acknowledged), resends its terminal update, the scheduler acknowledges it,
//! and the task is kept in the framework's completed tasks, as upstream's master keeps the
//! terminal tasks an agent reports (`fault_tolerance_tests.cpp`, `partition_tests.cpp`).
//! Also the master's cumulative counters (`master/tasks_*`, `master/messages_*`,
//! `master/valid_*`/`invalid_*`).

mod master_support;

use std::collections::BTreeMap;
use std::time::Duration;

use master_support::*;
use mesos_core::internal;
use mesos_core::v0;
use mesos_core::v1;
use mesos_core::v1::framework_info::capability::Type as Capability;
use mesos_core::v1::scheduler::event;

/// A framework with one running task `t` on a registered agent; RUNNING acknowledged.
fn running_task(
    cluster: &Cluster,
    info: v1::FrameworkInfo,
) -> (FakeAgent, Scheduler, v0::Task, v0::FrameworkInfo) {
    let agent = cluster.agent("a", "cpus:2;mem:1024");
    agent.register();
    cluster.settle();
    let scheduler = Scheduler::subscribe(cluster, info, Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    scheduler.call(accept_launch(
        vec![offer.id.clone()],
        vec![command_task("t", &offer, "cpus:1;mem:128")],
    ));
    cluster.settle();
    agent.status_update(&scheduler.framework_id, "t", v0::TaskState::TaskRunning);
    let running = scheduler.wait_for("RUNNING", |e| {
        e.update
            .as_ref()
            .is_some_and(|u| u.status.state() == v1::TaskState::TaskRunning)
    });
    scheduler.call(acknowledge(&running.update.unwrap().status));
    cluster.settle();
    let (task, framework) = cluster.inspect(|m| {
        let framework = m.state.frameworks.values().next().unwrap();
        (
            framework.tasks.values().next().unwrap().info.clone(),
            framework.info.clone(),
        )
    });
    (agent, scheduler, task, framework)
}

/// The task as the agent reports it after it finished unacknowledged.
fn finished(mut task: v0::Task, uuid: &[u8]) -> v0::Task {
    task.set_state(v0::TaskState::TaskFinished);
    task.set_status_update_state(v0::TaskState::TaskFinished);
    task.status_update_uuid = Some(uuid.to_vec());
    task
}

/// The agent resends the terminal update; the scheduler acknowledges it.
fn finish_and_acknowledge(cluster: &Cluster, agent: &FakeAgent, scheduler: &Scheduler) {
    agent.status_update(&scheduler.framework_id, "t", v0::TaskState::TaskFinished);
    let update = scheduler.wait_for("FINISHED", |e| {
        e.update
            .as_ref()
            .is_some_and(|u| u.status.state() == v1::TaskState::TaskFinished)
    });
    scheduler.call(acknowledge(&update.update.unwrap().status));
    cluster.settle();
}

/// Where `/master/state` lists task `t`, and in which state.
fn task_in_state_json(cluster: &Cluster) -> Vec<(String, String)> {
    let url = format!("http://{}/master/state", cluster.address);
    let response = libprocess::http::client::get(&url).get().unwrap();
    let state: serde_json::Value = serde_json::from_str(&body_text(&response)).unwrap();
    let mut found = Vec::new();
    for framework in state["frameworks"].as_array().unwrap() {
        for list in ["tasks", "unreachable_tasks", "completed_tasks"] {
            for task in framework[list].as_array().into_iter().flatten() {
                if task["id"] == "t" {
                    found.push((list.to_owned(), task["state"].as_str().unwrap().to_owned()));
                }
            }
        }
    }
    found
}

fn assert_completed(cluster: &Cluster) {
    let (live, completed) = cluster.inspect(|m| {
        let framework = m.state.frameworks.values().next().unwrap();
        (
            framework.tasks.len(),
            framework
                .completed_tasks
                .iter()
                .map(|t| (t.info.task_id.value.clone(), t.state()))
                .collect::<Vec<_>>(),
        )
    });
    assert_eq!(live, 0);
    assert_eq!(completed, [("t".to_owned(), v0::TaskState::TaskFinished)]);
    assert_eq!(
        task_in_state_json(cluster),
        [("completed_tasks".to_owned(), "TASK_FINISHED".to_owned())]
    );
    let agent_tasks: usize =
        cluster.inspect(|m| m.state.agents.values().map(|a| a.tasks.len()).sum());
    assert_eq!(agent_tasks, 0usize);
}

#[test]
fn a_task_finished_while_its_agent_was_disconnected_completes_once_acknowledged() {
    let cluster = Cluster::new(|_| {});
    let (agent, scheduler, task, framework) = running_task(&cluster, framework_info("fw"));
    // The agent's process goes away (its link breaks) and comes back with a new pid.
    libprocess::terminate(&agent.pid);
    cluster.settle();
    let connected = cluster.inspect(|m| m.state.agents.values().next().unwrap().connected);
    assert!(!connected);
    let again = cluster.agent("a", "cpus:2;mem:1024");
    *again.shared.agent_id.lock().unwrap() = agent.agent_id();
    again.reregister(vec![finished(task, b"0123456789abcdef")], vec![framework]);
    cluster.settle();
    assert_eq!(
        again.received::<internal::SlaveReregisteredMessage>().len(),
        1
    );
    finish_and_acknowledge(&cluster, &again, &scheduler);
    assert_completed(&cluster);
}

#[test]
fn a_task_finished_while_its_agent_was_unreachable_completes_once_acknowledged() {
    let cluster = Cluster::new(|_| {});
    let info = with_capabilities(framework_info("aware"), &[Capability::PartitionAware]);
    let (agent, scheduler, task, framework) = running_task(&cluster, info);
    agent.set_pong(false);
    for _ in 0..6 {
        cluster.advance(Duration::from_secs(15));
    }
    scheduler.wait_for("UNREACHABLE", |e| {
        e.update
            .as_ref()
            .is_some_and(|u| u.status.state() == v1::TaskState::TaskUnreachable)
    });
    assert_eq!(
        task_in_state_json(&cluster),
        [(
            "unreachable_tasks".to_owned(),
            "TASK_UNREACHABLE".to_owned()
        )]
    );
    agent.set_pong(true);
    agent.reregister(vec![finished(task, b"0123456789abcdef")], vec![framework]);
    cluster.settle();
    assert_eq!(
        agent.received::<internal::SlaveReregisteredMessage>().len(),
        1
    );
    assert_eq!(
        task_in_state_json(&cluster),
        [("tasks".to_owned(), "TASK_FINISHED".to_owned())]
    );
    finish_and_acknowledge(&cluster, &agent, &scheduler);
    assert_completed(&cluster);
}

#[test]
fn a_task_finished_while_a_legacy_frameworks_agent_was_unreachable_is_not_forgotten() {
    let cluster = Cluster::new(|_| {});
    let (agent, scheduler, task, framework) = running_task(&cluster, framework_info("legacy"));
    agent.set_pong(false);
    for _ in 0..6 {
        cluster.advance(Duration::from_secs(15));
    }
    scheduler.wait_for("LOST", |e| {
        e.update
            .as_ref()
            .is_some_and(|u| u.status.state() == v1::TaskState::TaskLost)
    });
    agent.set_pong(true);
    agent.reregister(vec![finished(task, b"0123456789abcdef")], vec![framework]);
    cluster.settle();
    finish_and_acknowledge(&cluster, &agent, &scheduler);
    // The framework, told TASK_LOST, is shut down on the agent; the task that had already
    // finished is kept and completes.
    assert_eq!(
        agent.received::<internal::ShutdownFrameworkMessage>().len(),
        1
    );
    assert_completed(&cluster);
}

fn metrics(cluster: &Cluster) -> BTreeMap<String, f64> {
    cluster
        .runtime
        .handle()
        .metrics()
        .snapshot(None)
        .get()
        .expect("a metrics snapshot")
}

#[test]
fn task_state_and_message_counters_are_cumulative() {
    // Completed tasks are not kept: the counters must not depend on what the master holds.
    let cluster = Cluster::new(|flags| flags.max_completed_tasks_per_framework = 0);
    let agent = cluster.agent("a", "cpus:2;mem:1024");
    agent.register();
    cluster.settle();
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    scheduler.call(accept_launch(
        vec![offer.id.clone()],
        vec![
            command_task("ok", &offer, "cpus:0.5;mem:128"),
            command_task("bad", &offer, "cpus:0.5;mem:128"),
            // Invalid: more than offered.
            command_task("huge", &offer, "cpus:100;mem:128"),
        ],
    ));
    cluster.settle();
    agent.status_update(&scheduler.framework_id, "ok", v0::TaskState::TaskFinished);
    agent.status_update(&scheduler.framework_id, "bad", v0::TaskState::TaskFailed);
    // Twice: the second update of a terminal task counts nothing more.
    agent.status_update(&scheduler.framework_id, "bad", v0::TaskState::TaskFailed);
    for state in [v1::TaskState::TaskFinished, v1::TaskState::TaskFailed] {
        let update = scheduler.wait_for("a terminal update", |e| {
            e.update.as_ref().is_some_and(|u| u.status.state() == state)
        });
        scheduler.call(acknowledge(&update.update.unwrap().status));
    }
    cluster.settle();
    // A status update from a process that is no agent, an acknowledgement for an unknown
    // agent.
    let stranger = cluster.agent("stranger", "cpus:1;mem:128");
    *stranger.shared.agent_id.lock().unwrap() = agent.agent_id();
    stranger.status_update(&scheduler.framework_id, "ok", v0::TaskState::TaskRunning);
    let mut status = scheduler
        .updates()
        .into_iter()
        .find(|s| s.state() == v1::TaskState::TaskFinished)
        .unwrap();
    status.agent_id = Some(v1::AgentId {
        value: "no-such-agent".into(),
    });
    scheduler.call(acknowledge(&status));
    // The agent reregisters.
    agent.reregister(vec![], vec![]);
    cluster.settle();

    let live = cluster.inspect(|m| {
        let f = m.state.frameworks.values().next().unwrap();
        (f.tasks.len(), f.completed_tasks.len())
    });
    assert_eq!(live, (0, 0));
    let metrics = metrics(&cluster);
    let expect = [
        ("master/tasks_finished", 1.0),
        ("master/tasks_failed", 1.0),
        ("master/tasks_error", 1.0),
        ("master/tasks_killed", 0.0),
        ("master/tasks_lost", 0.0),
        ("master/tasks_running", 0.0),
        ("master/messages_register_slave", 1.0),
        ("master/messages_reregister_slave", 1.0),
        ("master/slave_registrations", 1.0),
        ("master/slave_reregistrations", 1.0),
        ("master/messages_status_update", 4.0),
        ("master/valid_status_updates", 3.0),
        ("master/invalid_status_updates", 1.0),
        ("master/messages_status_update_acknowledgement", 3.0),
        ("master/valid_status_update_acknowledgements", 2.0),
        ("master/invalid_status_update_acknowledgements", 1.0),
        ("master/messages_register_framework", 1.0),
        ("master/messages_reregister_framework", 0.0),
    ];
    for (name, value) in expect {
        assert_eq!(metrics.get(name), Some(&value), "{name}");
    }
}

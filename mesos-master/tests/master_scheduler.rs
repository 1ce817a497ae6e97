//! The v1 scheduler API end to end against fake agents: subscribe, offers, launch, status
//! updates and acknowledgements, decline filters, suppress/revive, kill, reconcile,
//! teardown, failover (upstream `master_tests.cpp`, `scheduler_tests.cpp`,
//! `reconciliation_tests.cpp`).

mod master_support;

use std::time::Duration;

use libprocess::http::StatusCode;
use master_support::*;
use mesos_core::internal;
use mesos_core::v0;
use mesos_core::v1;
use mesos_core::v1::framework_info::capability::Type as Capability;
use mesos_core::v1::scheduler::{call, event};

/// A cluster with one registered agent.
fn cluster_with_agent(resources: &str) -> (Cluster, FakeAgent) {
    let cluster = Cluster::new(|_| {});
    let agent = cluster.agent("host1", resources);
    agent.register();
    cluster.settle();
    assert!(agent.agent_id().is_some(), "agent registered");
    (cluster, agent)
}

#[test]
fn offer_launch_update_acknowledge() {
    for encoding in [Encoding::Json, Encoding::Protobuf] {
        let (cluster, agent) = cluster_with_agent("cpus:2;mem:1024");
        let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), encoding);
        let subscribed = scheduler.events_of(event::Type::Subscribed)[0]
            .subscribed
            .clone()
            .unwrap();
        let master_id = cluster.inspect(|m| m.info.id.clone());
        assert_eq!(subscribed.framework_id.value, format!("{master_id}-0000"));
        assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
        assert_eq!(agent.agent_id().unwrap(), format!("{master_id}-S0"));
        // A HEARTBEAT right after SUBSCRIBED.
        scheduler.wait_for("HEARTBEAT", |e| e.r#type() == event::Type::Heartbeat);

        cluster.advance(Duration::from_secs(1));
        scheduler.wait_for("OFFERS", |e| e.r#type() == event::Type::Offers);
        let offer = scheduler.offers().remove(0);
        assert!(offer.id.value.starts_with(&format!("{master_id}-O")));
        assert_eq!(offer.hostname, "host1");
        assert_eq!(offer.url.as_ref().unwrap().scheme, "http");
        // Not MULTI_ROLE: no allocation_info; not RESERVATION_REFINEMENT: role "*".
        assert!(offer.allocation_info.is_none());
        #[allow(deprecated)]
        let roles: Vec<_> = offer.resources.iter().map(|r| r.role.clone()).collect();
        assert!(roles.iter().all(|r| r.as_deref() == Some("*")), "{roles:?}");
        assert!(offer.resources.iter().all(|r| r.allocation_info.is_none()));

        let task = command_task("t1", &offer, "cpus:1;mem:128");
        let response = scheduler.call(accept_launch(vec![offer.id.clone()], vec![task]));
        assert_eq!(response.status, StatusCode::ACCEPTED);
        cluster.settle();
        let runs = agent.received::<internal::RunTaskMessage>();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].task.task_id.value, "t1");
        let state = cluster.inspect(|m| {
            let fw = m.state.frameworks.values().next().unwrap();
            (fw.tasks.len(), fw.offers.len(), m.state.offers.len())
        });
        assert_eq!(state, (1, 0, 0));

        let uuid = agent.status_update(&scheduler.framework_id, "t1", v0::TaskState::TaskRunning);
        let update = scheduler.wait_for("UPDATE", |e| e.r#type() == event::Type::Update);
        let status = update.update.unwrap().status;
        assert_eq!(status.state(), v1::TaskState::TaskRunning);
        assert_eq!(status.uuid.as_deref(), Some(&uuid[..]));
        assert_eq!(
            status.agent_id.as_ref().unwrap().value,
            agent.agent_id().unwrap()
        );

        let response = scheduler.call(acknowledge(&status));
        assert_eq!(response.status, StatusCode::ACCEPTED);
        cluster.settle();
        let acks = agent.received::<internal::StatusUpdateAcknowledgementMessage>();
        assert_eq!(acks.len(), 1);
        assert_eq!(acks[0].uuid, uuid);
        assert_eq!(acks[0].task_id.value, "t1");

        // A terminal update, acknowledged, completes the task.
        agent.status_update(&scheduler.framework_id, "t1", v0::TaskState::TaskFinished);
        scheduler.wait_count(event::Type::Update, 2);
        let finished = scheduler.updates().pop().unwrap();
        assert_eq!(finished.state(), v1::TaskState::TaskFinished);
        scheduler.call(acknowledge(&finished));
        cluster.settle();
        let (live, completed) = cluster.inspect(|m| {
            let fw = m.state.frameworks.values().next().unwrap();
            (fw.tasks.len(), fw.completed_tasks.len())
        });
        assert_eq!((live, completed), (0, 1));
    }
}

#[test]
fn invalid_tasks_get_task_error_and_stale_offers_task_lost() {
    let (cluster, agent) = cluster_with_agent("cpus:2;mem:1024");
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_for("OFFERS", |e| e.r#type() == event::Type::Offers);
    let offer = scheduler.offers().remove(0);

    // Too many resources, and both command and executor missing.
    let greedy = command_task("greedy", &offer, "cpus:8;mem:128");
    let mut empty = command_task("empty", &offer, "cpus:0.1;mem:32");
    empty.command = None;
    let response = scheduler.call(accept_launch(vec![offer.id.clone()], vec![greedy, empty]));
    assert_eq!(response.status, StatusCode::ACCEPTED);
    scheduler.wait_count(event::Type::Update, 2);
    for status in scheduler.updates() {
        assert_eq!(status.state(), v1::TaskState::TaskError);
        assert_eq!(status.reason(), v1::task_status::Reason::TaskInvalid);
        assert_eq!(status.source(), v1::task_status::Source::Master);
        assert!(status.uuid.is_none());
    }
    cluster.settle();
    assert!(agent.received::<internal::RunTaskMessage>().is_empty());

    // The same offer again: it is no longer valid.
    let task = command_task("late", &offer, "cpus:1;mem:128");
    let response = scheduler.call(accept_launch(vec![offer.id.clone()], vec![task]));
    assert_eq!(response.status, StatusCode::ACCEPTED);
    scheduler.wait_count(event::Type::Update, 3);
    let lost = scheduler.updates().pop().unwrap();
    assert_eq!(lost.state(), v1::TaskState::TaskLost);
    assert_eq!(lost.reason(), v1::task_status::Reason::InvalidOffers);
}

#[test]
fn decline_filters_expire_and_revive_clears_them() {
    let (cluster, _agent) = cluster_with_agent("cpus:2;mem:1024");
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    assert_eq!(
        scheduler.call(decline(vec![offer.id.clone()], 60.0)).status,
        StatusCode::ACCEPTED
    );
    cluster.settle();
    // Filtered for 60 s: no offer for 30 s.
    for _ in 0..30 {
        cluster.advance(Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(scheduler.events_of(event::Type::Offers).len(), 1);
    // After the filter expires, offered again.
    for _ in 0..32 {
        cluster.advance(Duration::from_secs(1));
    }
    scheduler.wait_count(event::Type::Offers, 2);

    // Decline for an hour, then REVIVE: offered again at once.
    let offer = scheduler.offers().pop().unwrap();
    scheduler.call(decline(vec![offer.id.clone()], 3600.0));
    cluster.advance(Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(scheduler.events_of(event::Type::Offers).len(), 2);
    let response = scheduler.call(call_of(call::Type::Revive));
    assert_eq!(response.status, StatusCode::ACCEPTED);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 3);
}

#[test]
fn suppress_stops_offers_until_revive() {
    let (cluster, _agent) = cluster_with_agent("cpus:2;mem:1024");
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    assert_eq!(
        scheduler.call(call_of(call::Type::Suppress)).status,
        StatusCode::ACCEPTED
    );
    scheduler.call(decline(vec![offer.id.clone()], 0.0));
    for _ in 0..5 {
        cluster.advance(Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(scheduler.events_of(event::Type::Offers).len(), 1);
    let suppressed = cluster.inspect(|m| {
        m.state
            .frameworks
            .values()
            .next()
            .unwrap()
            .suppressed_roles
            .clone()
    });
    assert!(suppressed.contains("*"));
    scheduler.call(call_of(call::Type::Revive));
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 2);
}

#[test]
fn offer_timeout_rescinds_offers() {
    let cluster = Cluster::new(|flags| {
        flags.offer_timeout = Some(stout::Duration::from_secs(30));
    });
    let agent = cluster.agent("host1", "cpus:2;mem:1024");
    agent.register();
    cluster.settle();
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    cluster.advance(Duration::from_secs(30));
    let rescind = scheduler.wait_for("RESCIND", |e| e.r#type() == event::Type::Rescind);
    assert_eq!(rescind.rescind.unwrap().offer_id, offer.id);
    // The resources are offered again.
    cluster.advance(Duration::from_secs(6));
    scheduler.wait_count(event::Type::Offers, 2);
}

#[test]
fn kill_reconcile_message_shutdown() {
    let (cluster, agent) = cluster_with_agent("cpus:2;mem:1024");
    let info = with_capabilities(framework_info("fw"), &[Capability::PartitionAware]);
    let scheduler = Scheduler::subscribe(&cluster, info, Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    let task = command_task("t1", &offer, "cpus:1;mem:128");
    scheduler.call(accept_launch(vec![offer.id.clone()], vec![task]));
    agent.status_update(&scheduler.framework_id, "t1", v0::TaskState::TaskRunning);
    scheduler.wait_count(event::Type::Update, 1);

    // KILL of a known task goes to its agent.
    let mut kill = call_of(call::Type::Kill);
    kill.kill = Some(call::Kill {
        task_id: v1::TaskId { value: "t1".into() },
        ..Default::default()
    });
    assert_eq!(scheduler.call(kill).status, StatusCode::ACCEPTED);
    cluster.settle();
    let kills = agent.received::<internal::KillTaskMessage>();
    assert_eq!(kills.len(), 1);
    assert_eq!(kills[0].task_id.value, "t1");

    // KILL of an unknown task: TASK_LOST from the master.
    let mut kill = call_of(call::Type::Kill);
    kill.kill = Some(call::Kill {
        task_id: v1::TaskId {
            value: "nope".into(),
        },
        ..Default::default()
    });
    scheduler.call(kill);
    scheduler.wait_count(event::Type::Update, 2);
    assert_eq!(
        scheduler.updates().pop().unwrap().state(),
        v1::TaskState::TaskLost
    );

    // Implicit reconciliation: the running task.
    let mut reconcile = call_of(call::Type::Reconcile);
    reconcile.reconcile = Some(call::Reconcile { tasks: vec![] });
    scheduler.call(reconcile);
    scheduler.wait_count(event::Type::Update, 3);
    let status = scheduler.updates().pop().unwrap();
    assert_eq!(status.task_id.value, "t1");
    assert_eq!(status.state(), v1::TaskState::TaskRunning);
    assert_eq!(status.reason(), v1::task_status::Reason::Reconciliation);
    assert!(status.uuid.is_none());

    // Explicit reconciliation of an unknown task on a known agent: TASK_GONE
    // (partition-aware framework).
    let mut reconcile = call_of(call::Type::Reconcile);
    reconcile.reconcile = Some(call::Reconcile {
        tasks: vec![call::reconcile::Task {
            task_id: v1::TaskId {
                value: "ghost".into(),
            },
            agent_id: Some(v1::AgentId {
                value: agent.agent_id().unwrap(),
            }),
        }],
    });
    scheduler.call(reconcile);
    scheduler.wait_count(event::Type::Update, 4);
    assert_eq!(
        scheduler.updates().pop().unwrap().state(),
        v1::TaskState::TaskGone
    );

    // MESSAGE and SHUTDOWN are relayed to the agent.
    let mut message = call_of(call::Type::Message);
    message.message = Some(call::Message {
        agent_id: v1::AgentId {
            value: agent.agent_id().unwrap(),
        },
        executor_id: v1::ExecutorId { value: "t1".into() },
        data: b"hello".to_vec(),
    });
    assert_eq!(scheduler.call(message).status, StatusCode::ACCEPTED);
    let mut shutdown = call_of(call::Type::Shutdown);
    shutdown.shutdown = Some(call::Shutdown {
        executor_id: v1::ExecutorId { value: "t1".into() },
        agent_id: v1::AgentId {
            value: agent.agent_id().unwrap(),
        },
    });
    assert_eq!(scheduler.call(shutdown).status, StatusCode::ACCEPTED);
    cluster.settle();
    let relayed = agent.received::<internal::FrameworkToExecutorMessage>();
    assert_eq!(relayed[0].data, b"hello");
    assert_eq!(
        agent.received::<internal::ShutdownExecutorMessage>().len(),
        1
    );

    // An executor message reaches the scheduler; an executor exit is a FAILURE.
    agent.send(internal::ExecutorToFrameworkMessage {
        slave_id: v0::SlaveId {
            value: agent.agent_id().unwrap(),
        },
        framework_id: v0::FrameworkId {
            value: scheduler.framework_id.clone(),
        },
        executor_id: v0::ExecutorId { value: "t1".into() },
        data: b"hi there".to_vec(),
    });
    let message = scheduler.wait_for("MESSAGE", |e| e.r#type() == event::Type::Message);
    assert_eq!(message.message.unwrap().data, b"hi there");
    agent.send(internal::ExitedExecutorMessage {
        slave_id: v0::SlaveId {
            value: agent.agent_id().unwrap(),
        },
        framework_id: v0::FrameworkId {
            value: scheduler.framework_id.clone(),
        },
        executor_id: v0::ExecutorId { value: "t1".into() },
        status: 9,
    });
    let failure = scheduler.wait_for("FAILURE", |e| e.r#type() == event::Type::Failure);
    let failure = failure.failure.unwrap();
    assert_eq!(failure.executor_id.unwrap().value, "t1");
    assert_eq!(failure.status, Some(9));
}

#[test]
fn teardown_shuts_the_framework_down() {
    let (cluster, agent) = cluster_with_agent("cpus:2;mem:1024");
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    scheduler.call(accept_launch(
        vec![offer.id.clone()],
        vec![command_task("t1", &offer, "cpus:1;mem:128")],
    ));
    let response = scheduler.call(call_of(call::Type::Teardown));
    assert_eq!(response.status, StatusCode::ACCEPTED);
    cluster.settle();
    wait_until("the stream closes", || {
        scheduler.closed.load(std::sync::atomic::Ordering::SeqCst)
    });
    assert_eq!(
        agent.received::<internal::ShutdownFrameworkMessage>().len(),
        1
    );
    let (live, completed) =
        cluster.inspect(|m| (m.state.frameworks.len(), m.state.completed_frameworks.len()));
    assert_eq!((live, completed), (0, 1));
    // A removed framework cannot subscribe again.
    let mut info = framework_info("fw");
    info.id = Some(scheduler.framework_id());
    let again = Scheduler::try_subscribe(&cluster, info, Encoding::Json).unwrap();
    let error = again.wait_for("ERROR", |e| e.r#type() == event::Type::Error);
    assert_eq!(error.error.unwrap().message, "Framework has been removed");
    // Calls for it: unknown framework.
    let response = scheduler.call(call_of(call::Type::Revive));
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
}

#[test]
fn failover_within_timeout_keeps_the_framework() {
    let (cluster, agent) = cluster_with_agent("cpus:2;mem:1024");
    let mut info = framework_info("fw");
    info.failover_timeout = Some(60.0);
    let first = Scheduler::subscribe(&cluster, info.clone(), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    first.wait_count(event::Type::Offers, 1);
    let offer = first.offers().remove(0);
    first.call(accept_launch(
        vec![offer.id.clone()],
        vec![command_task("t1", &offer, "cpus:1;mem:128")],
    ));

    // A second subscription with the same id fails the first stream over.
    info.id = Some(first.framework_id());
    let second = Scheduler::subscribe(&cluster, info.clone(), Encoding::Protobuf);
    let error = first.wait_for("ERROR", |e| e.r#type() == event::Type::Error);
    assert_eq!(error.error.unwrap().message, "Framework failed over");
    wait_until("the old stream closes", || {
        first.closed.load(std::sync::atomic::Ordering::SeqCst)
    });
    assert_eq!(second.framework_id, first.framework_id);
    // The old stream id is refused.
    let response = first.call(call_of(call::Type::Revive));
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(body_text(&response).contains("stream ID"));

    // Resubscribing as another user is refused, and changes nothing.
    let mut other_user = info.clone();
    other_user.user = "mallory".into();
    let refused = Scheduler::try_subscribe(&cluster, other_user, Encoding::Json).unwrap();
    let error = refused.wait_for("ERROR", |e| e.r#type() == event::Type::Error);
    assert!(error.error.unwrap().message.contains("user"));
    assert!(second.events_of(event::Type::Error).is_empty());
    assert_eq!(
        second.call(call_of(call::Type::Revive)).status,
        StatusCode::ACCEPTED
    );

    // The scheduler goes away; within the failover timeout it comes back.
    second.disconnect();
    wait_until("the framework disconnects", || {
        cluster.inspect(|m| !m.state.frameworks.values().next().unwrap().connected())
    });
    let response = second.call(call_of(call::Type::Revive));
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    cluster.advance(Duration::from_secs(30));
    let third = Scheduler::subscribe(&cluster, info.clone(), Encoding::Json);
    cluster.advance(Duration::from_secs(60));
    assert_eq!(cluster.inspect(|m| m.state.frameworks.len()), 1);
    assert!(
        agent
            .received::<internal::ShutdownFrameworkMessage>()
            .is_empty()
    );
    assert_eq!(third.framework_id, first.framework_id);
    assert_eq!(
        cluster.inspect(|m| m.state.frameworks.values().next().unwrap().tasks.len()),
        1
    );
}

#[test]
fn failover_timeout_removes_the_framework() {
    let (cluster, agent) = cluster_with_agent("cpus:2;mem:1024");
    let mut info = framework_info("fw");
    info.failover_timeout = Some(10.0);
    let scheduler = Scheduler::subscribe(&cluster, info, Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    scheduler.call(accept_launch(
        vec![offer.id.clone()],
        vec![command_task("t1", &offer, "cpus:1;mem:128")],
    ));
    scheduler.disconnect();
    wait_until("the framework disconnects", || {
        cluster.inspect(|m| !m.state.frameworks.values().next().unwrap().connected())
    });
    cluster.advance(Duration::from_secs(9));
    assert_eq!(cluster.inspect(|m| m.state.frameworks.len()), 1);
    cluster.advance(Duration::from_secs(2));
    assert_eq!(cluster.inspect(|m| m.state.frameworks.len()), 0);
    assert_eq!(
        agent.received::<internal::ShutdownFrameworkMessage>().len(),
        1
    );
    let killed = cluster.inspect(|m| {
        m.state.completed_frameworks[0].completed_tasks[0]
            .info
            .state()
    });
    assert_eq!(killed, v0::TaskState::TaskKilled);
}

#[test]
fn multi_role_frameworks_get_allocation_info() {
    let (cluster, _agent) = cluster_with_agent("cpus:2;mem:1024");
    let mut info = with_capabilities(
        framework_info("fw"),
        &[Capability::MultiRole, Capability::ReservationRefinement],
    );
    info.roles = vec!["web".into()];
    let scheduler = Scheduler::subscribe(&cluster, info, Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    assert_eq!(offer.allocation_info.unwrap().role.as_deref(), Some("web"));
    #[allow(deprecated)]
    let role_set = offer.resources.iter().any(|r| r.role.is_some());
    assert!(!role_set, "refined format has no role");
    assert!(
        offer
            .resources
            .iter()
            .all(|r| r.allocation_info.as_ref().unwrap().role.as_deref() == Some("web"))
    );

    // A role with MULTI_ROLE, or roles without it: ERROR on the stream.
    let mut bad = with_capabilities(framework_info("bad"), &[Capability::MultiRole]);
    #[allow(deprecated)]
    {
        bad.role = Some("web".into());
    }
    let refused = Scheduler::try_subscribe(&cluster, bad, Encoding::Json).unwrap();
    let error = refused.wait_for("ERROR", |e| e.r#type() == event::Type::Error);
    assert!(error.error.unwrap().message.contains("MULTI_ROLE"));
    assert_eq!(cluster.inspect(|m| m.state.frameworks.len()), 1);
}

#[test]
fn update_framework_is_synchronous() {
    let (cluster, _agent) = cluster_with_agent("cpus:2;mem:1024");
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
    let mut info = framework_info("renamed");
    info.id = Some(scheduler.framework_id());
    let mut update = call_of(call::Type::UpdateFramework);
    update.update_framework = Some(call::UpdateFramework {
        framework_info: info.clone(),
        ..Default::default()
    });
    let response = scheduler.call(update.clone());
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        cluster.inspect(|m| m
            .state
            .frameworks
            .values()
            .next()
            .unwrap()
            .info
            .name
            .clone()),
        "renamed"
    );
    // The user may not change.
    info.user = "someone-else".into();
    update.update_framework.as_mut().unwrap().framework_info = info;
    let response = scheduler.call(update);
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(body_text(&response).contains("user"));
}

#[test]
fn gpu_agents_are_offered_only_to_gpu_frameworks() {
    let (cluster, _agent) = cluster_with_agent("cpus:2;mem:1024;gpus:1");
    let plain = Scheduler::subscribe(&cluster, framework_info("plain"), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    cluster.advance(Duration::from_secs(1));
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        plain.offers().is_empty(),
        "no GPU_RESOURCES: no offers of a GPU agent"
    );
    let gpu = Scheduler::subscribe(
        &cluster,
        with_capabilities(framework_info("gpu"), &[Capability::GpuResources]),
        Encoding::Json,
    );
    cluster.advance(Duration::from_secs(1));
    gpu.wait_count(event::Type::Offers, 1);
    let offer = gpu.offers().remove(0);
    assert!(offer.resources.iter().any(|r| r.name == "gpus"));
}

#[test]
fn launch_group_sends_one_run_task_group() {
    let (cluster, agent) = cluster_with_agent("cpus:2;mem:1024");
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Protobuf);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    let executor_resources: Vec<v1::Resource> =
        mesos_core::resources::Resources::parse("cpus:0.1;mem:32", "*")
            .unwrap()
            .to_vec()
            .iter()
            .map(mesos_core::convert::evolve)
            .collect();
    let mut executor = v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: "default".into(),
        },
        resources: executor_resources,
        ..Default::default()
    };
    executor.set_type(v1::executor_info::Type::Default);
    let mut tasks = vec![
        command_task("g1", &offer, "cpus:0.5;mem:128"),
        command_task("g2", &offer, "cpus:0.5;mem:128"),
    ];
    for task in &mut tasks {
        task.command = None;
    }
    let mut operation = v1::offer::Operation {
        launch_group: Some(v1::offer::operation::LaunchGroup {
            executor,
            task_group: v1::TaskGroupInfo { tasks },
        }),
        ..Default::default()
    };
    operation.set_type(v1::offer::operation::Type::LaunchGroup);
    let mut accept = call_of(call::Type::Accept);
    accept.accept = Some(call::Accept {
        offer_ids: vec![offer.id.clone()],
        operations: vec![operation],
        filters: None,
    });
    assert_eq!(scheduler.call(accept).status, StatusCode::ACCEPTED);
    cluster.settle();
    let groups = agent.received::<internal::RunTaskGroupMessage>();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].task_group.tasks.len(), 2);
    assert_eq!(groups[0].launch_executor, Some(true));
    let (tasks, executors) = cluster.inspect(|m| {
        let fw = m.state.frameworks.values().next().unwrap();
        (
            fw.tasks.len(),
            fw.executors.values().map(|e| e.len()).sum::<usize>(),
        )
    });
    assert_eq!((tasks, executors), (2, 1));
    // Offers name the framework's executors on the agent.
    scheduler.call(call_of(call::Type::Revive));
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 2);
    let next = scheduler.offers().pop().unwrap();
    assert_eq!(next.executor_ids[0].value, "default");
}

#[test]
fn reservations_are_dropped_and_their_resources_come_back() {
    let (cluster, agent) = cluster_with_agent("cpus:2;mem:1024");
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    let mut operation = v1::offer::Operation {
        reserve: Some(v1::offer::operation::Reserve {
            resources: offer.resources.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    operation.set_type(v1::offer::operation::Type::Reserve);
    let mut accept = call_of(call::Type::Accept);
    accept.accept = Some(call::Accept {
        offer_ids: vec![offer.id.clone()],
        operations: vec![operation],
        filters: Some(v1::Filters {
            refuse_seconds: Some(0.0),
        }),
    });
    assert_eq!(scheduler.call(accept).status, StatusCode::ACCEPTED);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 2);
    let again = scheduler.offers().pop().unwrap();
    assert_eq!(again.resources.len(), offer.resources.len());
    assert!(
        agent
            .received::<internal::CheckpointResourcesMessage>()
            .is_empty()
    );
}

#[test]
fn huge_failover_timeouts_are_capped_not_fatal() {
    let (cluster, _agent) = cluster_with_agent("cpus:2;mem:1024");
    let mut info = framework_info("fw");
    info.failover_timeout = Some(1e300);
    let scheduler = Scheduler::subscribe(&cluster, info, Encoding::Json);
    scheduler.disconnect();
    wait_until("the framework disconnects", || {
        cluster.inspect(|m| !m.state.frameworks.values().next().unwrap().connected())
    });
    cluster.advance(Duration::from_secs(24 * 3600));
    assert_eq!(cluster.inspect(|m| m.state.frameworks.len()), 1);
    // The master still serves.
    Scheduler::subscribe(&cluster, framework_info("other"), Encoding::Json);
}

#[test]
fn completed_tasks_are_bounded_per_framework() {
    let cluster = Cluster::new(|flags| flags.max_completed_tasks_per_framework = 1);
    let agent = cluster.agent("host1", "cpus:2;mem:1024");
    agent.register();
    cluster.settle();
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    scheduler.call(accept_launch(
        vec![offer.id.clone()],
        vec![
            command_task("a", &offer, "cpus:0.5;mem:64"),
            command_task("b", &offer, "cpus:0.5;mem:64"),
        ],
    ));
    for (n, task) in ["a", "b"].into_iter().enumerate() {
        agent.status_update(&scheduler.framework_id, task, v0::TaskState::TaskFinished);
        scheduler.wait_count(event::Type::Update, n + 1);
        let status = scheduler.updates().pop().unwrap();
        scheduler.call(acknowledge(&status));
    }
    cluster.settle();
    let completed = cluster.inspect(|m| {
        m.state
            .frameworks
            .values()
            .next()
            .unwrap()
            .completed_tasks
            .iter()
            .map(|t| t.info.task_id.value.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(completed, vec!["b".to_owned()]);
}

#[test]
fn roles_whitelist_and_weights_flags() {
    let cluster = Cluster::new(|flags| {
        flags.roles = Some("web,batch".into());
        flags.weights = Some("web=2.5".into());
    });
    assert_eq!(
        cluster.inspect(|m| m.state.weights.get("web").copied()),
        Some(2.5)
    );
    let mut info = with_capabilities(framework_info("fw"), &[Capability::MultiRole]);
    info.roles = vec!["db".into()];
    let refused = Scheduler::try_subscribe(&cluster, info, Encoding::Json).unwrap();
    let error = refused.wait_for("ERROR", |e| e.r#type() == event::Type::Error);
    assert!(error.error.unwrap().message.contains("--roles"));
    let mut info = with_capabilities(framework_info("fw"), &[Capability::MultiRole]);
    info.roles = vec!["web".into()];
    Scheduler::subscribe(&cluster, info, Encoding::Json);
    assert_eq!(cluster.inspect(|m| m.state.frameworks.len()), 1);
}

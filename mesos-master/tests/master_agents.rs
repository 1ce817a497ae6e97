//! Agents against the master: registration, pings and the ping timeout, the removal rate
//! limit, unregistration, reregistration with tasks, master restart on the same work_dir
//! (upstream `master_tests.cpp`, `fault_tolerance_tests.cpp`, `partition_tests.cpp`,
//! `registrar_tests.cpp`).

mod master_support;

use std::time::Duration;

use libprocess::http::StatusCode;
use master_support::*;
use mesos_core::internal;
use mesos_core::v0;
use mesos_core::v1;
use mesos_core::v1::framework_info::capability::Type as Capability;
use mesos_core::v1::scheduler::event;
use mesos_master::MasterFlags;

#[test]
fn agents_register_with_mesos_ids_and_are_pinged() {
    let cluster = Cluster::new(|_| {});
    let master_id = cluster.inspect(|m| m.info.id.clone());
    let a = cluster.agent("a", "cpus:1;mem:512");
    let b = cluster.agent("b", "cpus:1;mem:512");
    a.register();
    cluster.settle();
    b.register();
    cluster.settle();
    assert_eq!(a.agent_id().unwrap(), format!("{master_id}-S0"));
    assert_eq!(b.agent_id().unwrap(), format!("{master_id}-S1"));
    let registered = a.received::<internal::SlaveRegisteredMessage>();
    assert_eq!(
        registered[0]
            .connection
            .as_ref()
            .unwrap()
            .total_ping_timeout_seconds,
        Some(75.0)
    );
    // A duplicate registration from the same pid gets the same answer, no new agent.
    a.register();
    cluster.settle();
    assert_eq!(a.received::<internal::SlaveRegisteredMessage>().len(), 2);
    assert_eq!(cluster.inspect(|m| m.state.agents.len()), 2);
    // In the registry.
    let admitted = cluster
        .master
        .registrar()
        .registry()
        .get()
        .unwrap()
        .unwrap()
        .slaves
        .unwrap()
        .slaves
        .len();
    assert_eq!(admitted, 2);

    // Pings every 15 s.
    let pings = a.received::<internal::PingSlaveMessage>().len();
    cluster.advance(Duration::from_secs(15));
    assert_eq!(a.received::<internal::PingSlaveMessage>().len(), pings + 1);
    assert!(a.received::<internal::PingSlaveMessage>()[0].connected);
}

#[test]
fn ping_timeout_makes_tasks_lost_or_unreachable_and_rescinds_offers() {
    let cluster = Cluster::new(|_| {});
    let agent = cluster.agent("a", "cpus:4;mem:2048");
    agent.register();
    cluster.settle();
    // One partition-aware framework, one not; each runs a task on the agent.
    let aware = Scheduler::subscribe(
        &cluster,
        with_capabilities(framework_info("aware"), &[Capability::PartitionAware]),
        Encoding::Json,
    );
    let legacy = Scheduler::subscribe(&cluster, framework_info("legacy"), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    let mut launched = 0;
    for (scheduler, task) in [(&aware, "aware-task"), (&legacy, "legacy-task")] {
        wait_until("an offer", || !scheduler.offers().is_empty());
        let offer = scheduler.offers().remove(0);
        scheduler.call(accept_launch(
            vec![offer.id.clone()],
            vec![command_task(task, &offer, "cpus:1;mem:256")],
        ));
        launched += 1;
        cluster.advance(Duration::from_secs(1));
    }
    assert_eq!(launched, 2);
    cluster.settle();
    assert_eq!(agent.received::<internal::RunTaskMessage>().len(), 2);

    // The agent stops answering pings: the ping in flight, then 5 timeouts of 15 s.
    agent.set_pong(false);
    for _ in 0..6 {
        cluster.advance(Duration::from_secs(15));
    }
    cluster.settle();
    let (agents, unreachable) =
        cluster.inspect(|m| (m.state.agents.len(), m.state.unreachable_agents.len()));
    assert_eq!((agents, unreachable), (0, 1));

    let status = aware.wait_for("UNREACHABLE", |e| {
        e.update
            .as_ref()
            .is_some_and(|u| u.status.state() == v1::TaskState::TaskUnreachable)
    });
    let status = status.update.unwrap().status;
    assert!(status.unreachable_time.is_some());
    assert_eq!(status.reason(), v1::task_status::Reason::AgentRemoved);
    legacy.wait_for("LOST", |e| {
        e.update
            .as_ref()
            .is_some_and(|u| u.status.state() == v1::TaskState::TaskLost)
    });
    for scheduler in [&aware, &legacy] {
        let failure = scheduler.wait_for("FAILURE", |e| e.r#type() == event::Type::Failure);
        assert_eq!(
            failure.failure.unwrap().agent_id.unwrap().value,
            agent.agent_id().unwrap()
        );
    }
    // Every offer not used by a launch was rescinded.
    for scheduler in [&aware, &legacy] {
        let offers = scheduler.offers();
        let rescinded: Vec<_> = scheduler
            .events_of(event::Type::Rescind)
            .into_iter()
            .map(|e| e.rescind.unwrap().offer_id)
            .collect();
        assert_eq!(rescinded.len(), offers.len() - 1);
        for offer in &offers[1..] {
            assert!(rescinded.contains(&offer.id));
        }
    }
    let rescinds =
        aware.events_of(event::Type::Rescind).len() + legacy.events_of(event::Type::Rescind).len();
    assert!(rescinds > 0, "offers were outstanding when the agent went");
    assert_eq!(cluster.inspect(|m| m.state.offers.len()), 0);
    // The tasks are kept as unreachable.
    let unreachable_tasks = cluster.inspect(|m| {
        m.state
            .frameworks
            .values()
            .map(|f| f.unreachable_tasks.len())
            .sum::<usize>()
    });
    assert_eq!(unreachable_tasks, 2);
    // The registry says unreachable.
    let registry = cluster
        .master
        .registrar()
        .registry()
        .get()
        .unwrap()
        .unwrap();
    assert_eq!(registry.unreachable.unwrap().slaves.len(), 1);
    assert!(registry.slaves.unwrap().slaves.is_empty());

    // The agent comes back with its tasks: they are live again.
    agent.set_pong(true);
    let tasks = cluster.inspect(|m| {
        m.state
            .frameworks
            .values()
            .flat_map(|f| f.unreachable_tasks.iter().map(|t| t.info.clone()))
            .collect::<Vec<_>>()
    });
    let frameworks = cluster.inspect(|m| {
        m.state
            .frameworks
            .values()
            .map(|f| f.info.clone())
            .collect::<Vec<_>>()
    });
    let mut tasks = tasks;
    for task in &mut tasks {
        task.set_state(v0::TaskState::TaskRunning);
    }
    agent.reregister(tasks, frameworks);
    cluster.settle();
    // The partition-aware framework's task is live again; the other framework, told
    // TASK_LOST, is shut down on the agent.
    let (agents, aware_live, legacy_live) = cluster.inspect(|m| {
        let live = |name: &str| {
            m.state
                .frameworks
                .values()
                .find(|f| f.info.name == name)
                .map_or(0, |f| f.tasks.len())
        };
        (m.state.agents.len(), live("aware"), live("legacy"))
    });
    assert_eq!((agents, aware_live, legacy_live), (1, 1, 0));
    let shutdowns = agent.received::<internal::ShutdownFrameworkMessage>();
    assert_eq!(shutdowns.len(), 1);
    assert_eq!(shutdowns[0].framework_id.value, legacy.framework_id);
    assert_eq!(
        agent.received::<internal::SlaveReregisteredMessage>().len(),
        1
    );
}

#[test]
fn agent_removal_rate_limit_spaces_removals() {
    let cluster = Cluster::new(|flags| {
        flags.agent_removal_rate_limit = Some("1/1mins".into());
    });
    let agents: Vec<_> = (0..3)
        .map(|i| {
            let agent = cluster.agent(&format!("h{i}"), "cpus:1;mem:512");
            agent.register();
            agent
        })
        .collect();
    cluster.settle();
    for agent in &agents {
        agent.set_pong(false);
    }
    for _ in 0..6 {
        cluster.advance(Duration::from_secs(15));
    }
    let unreachable = || cluster.inspect(|m| m.state.unreachable_agents.len());
    assert_eq!(unreachable(), 1);
    cluster.advance(Duration::from_secs(30));
    assert_eq!(unreachable(), 1);
    cluster.advance(Duration::from_secs(31));
    assert_eq!(unreachable(), 2);
    cluster.advance(Duration::from_secs(60));
    assert_eq!(unreachable(), 3);
}

#[test]
fn unregistered_agent_tasks_are_gone() {
    let cluster = Cluster::new(|_| {});
    let agent = cluster.agent("a", "cpus:2;mem:1024");
    agent.register();
    cluster.settle();
    let scheduler = Scheduler::subscribe(
        &cluster,
        with_capabilities(framework_info("fw"), &[Capability::PartitionAware]),
        Encoding::Json,
    );
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    scheduler.call(accept_launch(
        vec![offer.id.clone()],
        vec![command_task("t1", &offer, "cpus:1;mem:128")],
    ));
    agent.send(internal::UnregisterSlaveMessage {
        slave_id: v0::SlaveId {
            value: agent.agent_id().unwrap(),
        },
    });
    cluster.settle();
    let gone = scheduler.wait_for("TASK_GONE", |e| {
        e.update
            .as_ref()
            .is_some_and(|u| u.status.state() == v1::TaskState::TaskGone)
    });
    assert_eq!(gone.update.unwrap().status.task_id.value, "t1");
    assert_eq!(cluster.inspect(|m| m.state.agents.len()), 0);
    let registry = cluster
        .master
        .registrar()
        .registry()
        .get()
        .unwrap()
        .unwrap();
    assert!(registry.slaves.unwrap().slaves.is_empty());
    scheduler.wait_for("FAILURE", |e| e.r#type() == event::Type::Failure);
}

#[test]
fn reregistration_reconciles_tasks_the_agent_does_not_know() {
    let cluster = Cluster::new(|_| {});
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
            command_task("kept", &offer, "cpus:0.5;mem:128"),
            command_task("forgotten", &offer, "cpus:0.5;mem:128"),
        ],
    ));
    cluster.settle();
    // The agent reregisters knowing only one of the two tasks.
    let kept = cluster.inspect(|m| {
        m.state
            .frameworks
            .values()
            .next()
            .unwrap()
            .tasks
            .values()
            .find(|t| t.info.task_id.value == "kept")
            .unwrap()
            .info
            .clone()
    });
    let framework = cluster.inspect(|m| m.state.frameworks.values().next().unwrap().info.clone());
    agent.reregister(vec![kept], vec![framework]);
    cluster.settle();
    let lost = scheduler.wait_for("TASK_LOST", |e| {
        e.update
            .as_ref()
            .is_some_and(|u| u.status.state() == v1::TaskState::TaskLost)
    });
    assert_eq!(lost.update.unwrap().status.task_id.value, "forgotten");
    let reregistered = agent.received::<internal::SlaveReregisteredMessage>();
    assert_eq!(reregistered.len(), 1);
    let live = cluster.inspect(|m| m.state.frameworks.values().next().unwrap().tasks.len());
    assert_eq!(live, 1);
}

#[test]
fn master_restart_recovers_agents_from_the_registry() {
    let dir = temp_dir("restart");
    let mut flags = MasterFlags::default();
    flags.work_dir = Some(dir.clone());
    let mut cluster = Cluster::with_flags(flags.clone());
    let agent = cluster.agent("a", "cpus:2;mem:1024");
    let lost = cluster.agent("b", "cpus:2;mem:1024");
    agent.register();
    lost.register();
    cluster.settle();
    let mut info = framework_info("fw");
    info.failover_timeout = Some(3600.0);
    let scheduler = Scheduler::subscribe(&cluster, info.clone(), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    wait_until("offers", || !scheduler.offers().is_empty());
    let offer = scheduler
        .offers()
        .into_iter()
        .find(|o| o.hostname == "a")
        .or_else(|| {
            cluster.advance(Duration::from_secs(1));
            scheduler.offers().into_iter().find(|o| o.hostname == "a")
        })
        .expect("an offer on a");
    scheduler.call(accept_launch(
        vec![offer.id.clone()],
        vec![command_task("t1", &offer, "cpus:1;mem:128")],
    ));
    cluster.settle();
    let task = cluster.inspect(|m| {
        m.state
            .frameworks
            .values()
            .next()
            .unwrap()
            .tasks
            .values()
            .next()
            .unwrap()
            .info
            .clone()
    });
    let framework_info_v0 =
        cluster.inspect(|m| m.state.frameworks.values().next().unwrap().info.clone());
    let old_master_id = cluster.inspect(|m| m.info.id.clone());
    scheduler.disconnect();

    // A new master on the same work_dir knows both agents from the registry.
    cluster.restart_master(flags.clone());
    let (recovered, agents, master_id) = cluster.inspect(|m| {
        (
            m.state.recovered_agents.len(),
            m.state.agents.len(),
            m.info.id.clone(),
        )
    });
    assert_eq!((recovered, agents), (2, 0));
    assert_ne!(master_id, old_master_id);

    // Agent a reregisters with its task: the framework is recovered from it.
    let mut running = task.clone();
    running.set_state(v0::TaskState::TaskRunning);
    let old = agent.master.clone();
    let agent = FakeAgent {
        master: cluster.master_upid(),
        ..agent
    };
    assert_eq!(old, agent.master);
    agent.reregister(vec![running], vec![framework_info_v0]);
    cluster.settle();
    let (recovered, agents, frameworks, recovered_fw) = cluster.inspect(|m| {
        (
            m.state.recovered_agents.len(),
            m.state.agents.len(),
            m.state.frameworks.len(),
            m.state.frameworks.values().next().map(|f| f.connection),
        )
    });
    assert_eq!((recovered, agents, frameworks), (1, 1, 1));
    assert_eq!(
        recovered_fw,
        Some(mesos_master::master::Connection::Recovered)
    );

    // The scheduler resubscribes and sees its task.
    info.id = Some(scheduler.framework_id());
    let again = Scheduler::subscribe(&cluster, info, Encoding::Json);
    let mut reconcile = call_of(v1::scheduler::call::Type::Reconcile);
    reconcile.reconcile = Some(v1::scheduler::call::Reconcile { tasks: vec![] });
    assert_eq!(again.call(reconcile).status, StatusCode::ACCEPTED);
    let update = again.wait_for("UPDATE", |e| e.r#type() == event::Type::Update);
    assert_eq!(
        update.update.unwrap().status.state(),
        v1::TaskState::TaskRunning
    );

    // Agent b never comes back: unreachable after agent_reregister_timeout (10 mins).
    cluster.advance(Duration::from_secs(599));
    assert_eq!(cluster.inspect(|m| m.state.unreachable_agents.len()), 0);
    cluster.advance(Duration::from_secs(2));
    let (recovered, unreachable) = cluster.inspect(|m| {
        (
            m.state.recovered_agents.len(),
            m.state.unreachable_agents.len(),
        )
    });
    assert_eq!((recovered, unreachable), (0, 1));
    drop(cluster);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_corrupt_registry_is_a_start_up_error() {
    let dir = temp_dir("corrupt");
    std::fs::write(dir.join("registry"), b"MESOSREG\x10\0\0\0\0\0\0\0truncated").unwrap();
    let runtime = libprocess::Runtime::builder()
        .ip("127.0.0.1".parse().unwrap())
        .port(0)
        .workers(1)
        .build();
    let mut flags = MasterFlags::default();
    flags.work_dir = Some(dir.clone());
    let master = mesos_master::Master::start(flags, runtime.handle()).unwrap();
    assert!(!master.recovered().get().unwrap());
    let why = master
        .inspect(|m| m.recovery_failed.clone())
        .get()
        .unwrap()
        .unwrap();
    assert!(why.contains("corrupt"), "{why}");
    // The scheduler API answers 503 meanwhile.
    let response = libprocess::http::client::post(
        &format!("http://{}/api/v1/scheduler", runtime.address()),
        "application/json",
        "{}",
    )
    .get()
    .unwrap();
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    // The file is left as it was.
    assert!(
        std::fs::read(dir.join("registry"))
            .unwrap()
            .ends_with(b"truncated")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn agent_disconnection_rescinds_offers() {
    let cluster = Cluster::new(|_| {});
    let agent = cluster.agent("a", "cpus:2;mem:1024");
    agent.register();
    cluster.settle();
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
    cluster.advance(Duration::from_secs(1));
    scheduler.wait_count(event::Type::Offers, 1);
    let offer = scheduler.offers().remove(0);
    // The agent's process goes away: the master's link to it breaks.
    libprocess::terminate(&agent.pid);
    cluster.settle();
    let rescind = scheduler.wait_for("RESCIND", |e| e.r#type() == event::Type::Rescind);
    assert_eq!(rescind.rescind.unwrap().offer_id, offer.id);
    let (registered, active) = cluster.inspect(|m| {
        let agent = m.state.agents.values().next().unwrap();
        (agent.connected, agent.active)
    });
    assert_eq!((registered, active), (false, false));
    // Inactive agents are not offered.
    cluster.advance(Duration::from_secs(10));
    assert_eq!(scheduler.offers().len(), 1);
}

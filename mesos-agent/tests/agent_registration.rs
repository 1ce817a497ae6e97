//! Registration on the paused clock: retries back off (random within a doubling bound,
//! capped at a minute) until the master answers; an agent whose master stops pinging
//! registers again.

mod agent_support;

use std::time::Duration;

use agent_support::{Cluster, Received};

fn registrations(cluster: &Cluster) -> usize {
    cluster
        .master
        .received()
        .iter()
        .filter(|m| matches!(m, Received::Register(_) | Received::Reregister(_)))
        .count()
}

fn advance(cluster: &Cluster, secs: u64) {
    cluster.runtime.clock().advance(Duration::from_secs(secs));
    cluster.runtime.clock().settle();
}

#[test]
fn registration_retries_back_off_up_to_a_minute() {
    let mut cluster = Cluster::new(true);
    cluster.master.set_answering(false);
    cluster.runtime.clock().pause();
    let mut flags = cluster.flags();
    flags.registration_backoff_factor = stout::Duration::from_secs(1);
    let _agent = cluster.start(flags);
    cluster.runtime.clock().settle();

    // Attempt times, on one-second steps.
    let mut attempts = Vec::new();
    let mut seen = 0;
    for second in 1..=600u64 {
        advance(&cluster, 1);
        let now = registrations(&cluster);
        for _ in seen..now {
            attempts.push(second);
        }
        seen = now;
    }
    assert!(
        attempts[0] <= 1,
        "the first attempt comes within the backoff factor: {attempts:?}"
    );
    // Each wait is within its bound: 2 s, 4 s, ... capped at 60 s (one step of slack).
    let mut bound = 1u64;
    for pair in attempts.windows(2) {
        bound = (bound * 2).min(60);
        assert!(
            pair[1] - pair[0] <= bound + 1,
            "gap over {bound} s: {attempts:?}"
        );
    }
    assert!(attempts.len() >= 10, "it keeps trying: {attempts:?}");
    assert!(attempts.len() <= 300, "but backs off: {attempts:?}");
}

#[test]
fn agent_registers_again_when_pings_stop() {
    let mut cluster = Cluster::new(true);
    cluster.master.set_ping_timeout(10.0);
    cluster.runtime.clock().pause();
    let mut flags = cluster.flags();
    flags.registration_backoff_factor = stout::Duration::from_secs(1);
    let agent = cluster.start(flags);
    cluster.runtime.clock().settle();
    advance(&cluster, 1);
    assert_eq!(
        agent.state().get().unwrap(),
        mesos_agent::AgentState::Running
    );
    assert_eq!(registrations(&cluster), 1);

    // Pings keep it registered.
    for _ in 0..5 {
        advance(&cluster, 5);
        cluster.master.ping(agent.upid());
        cluster.runtime.clock().settle();
    }
    assert_eq!(registrations(&cluster), 1);
    assert_eq!(
        cluster
            .master
            .received()
            .iter()
            .filter(|m| matches!(m, Received::Pong))
            .count(),
        5
    );

    // Silence for longer than the master's ping timeout: it re-registers with its ID.
    advance(&cluster, 11);
    advance(&cluster, 1);
    let reregistered = cluster.master.received().iter().any(
        |m| matches!(m, Received::Reregister(r) if r.slave.id.as_ref().is_some_and(|id| id.value == "agent-1")),
    );
    assert!(reregistered, "{:?}", cluster.master.received());
    assert_eq!(
        agent.state().get().unwrap(),
        mesos_agent::AgentState::Running
    );
}

#[test]
fn agent_reregisters_with_a_master_that_failed_over() {
    let mut cluster = Cluster::new(true);
    let agent = cluster.start_registered(cluster.flags());
    // The master process goes away (the agent's link breaks) and a new one takes its place
    // at the same address.
    libprocess::terminate(&cluster.master.pid);
    libprocess::wait(&cluster.master.pid).get().unwrap();
    assert!(agent_support::eventually(agent_support::WAIT, || {
        agent.state().get().ok() == Some(mesos_agent::AgentState::Disconnected)
    }));
    cluster.master = agent_support::TestMaster::spawn(cluster.runtime.handle(), "agent-1", true);
    let reregister = cluster
        .master
        .wait_for(agent_support::WAIT, |r| {
            r.iter().find_map(|m| match m {
                Received::Reregister(m) => Some(m.clone()),
                _ => None,
            })
        })
        .expect("ReregisterSlaveMessage to the new master");
    assert_eq!(reregister.slave.id.as_ref().unwrap().value, "agent-1");
    assert!(agent_support::eventually(agent_support::WAIT, || {
        agent.state().get().ok() == Some(mesos_agent::AgentState::Running)
    }));
}

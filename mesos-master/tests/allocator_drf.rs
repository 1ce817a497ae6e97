//! The allocator's fairness, driven alone through its trait on a paused clock: DRF across
//! roles and within a role, weights, hierarchical roles, MULTI_ROLE frameworks, and when
//! allocation runs happen (batched after events, periodic).

mod allocator_support;

use std::collections::BTreeMap;
use std::time::Duration;

use allocator_support::*;
use mesos_core::v0;

/// Counts offers per (framework, role).
fn tally(offers: &[(String, String, String)]) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for (framework, role, _agent) in offers {
        *counts.entry((framework.clone(), role.clone())).or_default() += 1;
    }
    counts
}

fn fr(framework: &str, role: &str) -> (String, String) {
    (framework.into(), role.into())
}

#[test]
fn unreserved_resources_go_to_the_role_with_the_lowest_dominant_share() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["a"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024"));
    assert_eq!(h.offer_keys(), vec![key("f1", "a", "agent1")]);
    let offered = h.metrics();
    assert_eq!(offered.resources_offered_or_allocated["cpus"], 2.0);

    // Role b has nothing yet.
    h.add_framework(framework("f2", &["b"]));
    h.add_agent(agent("agent2", "cpus:1;mem:512"));
    assert_eq!(h.offer_keys(), vec![key("f2", "b", "agent2")]);

    // a: 2/6 cpus; b: 1/6 cpus. Role b again, though f3 in role a has nothing.
    h.add_framework(framework("f3", &["a"]));
    h.add_agent(agent("agent3", "cpus:3;mem:2048"));
    assert_eq!(h.offer_keys(), vec![key("f2", "b", "agent3")]);

    // a: 2/10 cpus; b: 4/10 cpus. Role a, and in it f3, which has nothing.
    h.add_framework(framework("f4", &["b"]));
    h.add_agent(agent("agent4", "cpus:4;mem:4096"));
    assert_eq!(h.offer_keys(), vec![key("f3", "a", "agent4")]);

    // a: 5120/8192 mem dominates; b: 4/11 cpus. Role b, and in it f4.
    h.add_agent(agent("agent5", "cpus:1;mem:512"));
    assert_eq!(h.offer_keys(), vec![key("f4", "b", "agent5")]);
}

#[test]
fn frameworks_of_a_role_share_a_batch_of_agents_fairly() {
    let h = Harness::new();
    for name in ["f1", "f2", "f3"] {
        h.add_framework(framework(name, &["web"]));
    }
    for i in 0..6 {
        h.add_agent(agent(&format!("agent{i}"), "cpus:4;mem:4096"));
    }
    let counts = tally(&h.offer_keys());
    assert_eq!(
        counts,
        BTreeMap::from([
            (fr("f1", "web"), 2),
            (fr("f2", "web"), 2),
            (fr("f3", "web"), 2)
        ])
    );
}

#[test]
fn weights_scale_a_roles_share() {
    let h = Harness::new();
    h.allocator.update_weights(vec![v0::WeightInfo {
        weight: 2.0,
        role: Some("a".into()),
    }]);
    h.add_framework(framework("fa", &["a"]));
    h.add_framework(framework("fb", &["b"]));
    let _hold = h.hold();
    for i in 0..6 {
        h.add_agent(agent(&format!("agent{i}"), "cpus:1;mem:512"));
    }
    drop(_hold);
    // Twice the weight, twice the resources.
    let counts = tally(&h.offer_keys());
    assert_eq!(
        counts,
        BTreeMap::from([(fr("fa", "a"), 4), (fr("fb", "b"), 2)])
    );
    let metrics = h.metrics();
    assert_eq!(metrics.dominant_shares["a"], 4.0 / 6.0 / 2.0);
    assert_eq!(metrics.dominant_shares["b"], 2.0 / 6.0);
}

#[test]
fn hierarchical_roles_share_as_subtrees() {
    let h = Harness::new();
    h.add_framework(framework("web", &["eng/web"]));
    h.add_framework(framework("db", &["eng/db"]));
    h.add_framework(framework("ops", &["ops"]));
    let _hold = h.hold();
    for i in 0..4 {
        h.add_agent(agent(&format!("agent{i}"), "cpus:1;mem:512"));
    }
    drop(_hold);
    // The subtree eng competes with ops as one: half each, eng's half split in two.
    let counts = tally(&h.offer_keys());
    assert_eq!(
        counts,
        BTreeMap::from([
            (fr("db", "eng/db"), 1),
            (fr("ops", "ops"), 2),
            (fr("web", "eng/web"), 1)
        ])
    );
}

#[test]
fn hierarchical_roles_need_agents_that_know_them() {
    let h = Harness::new();
    h.add_framework(framework("web", &["eng/web"]));
    let info = agent("old", "cpus:1;mem:512");
    h.allocator.add_agent(
        aid("old"),
        info.clone(),
        vec![v0::slave_info::Capability {
            r#type: Some(v0::slave_info::capability::Type::MultiRole as i32),
        }],
        res("cpus:1;mem:512"),
        Default::default(),
    );
    assert!(h.offers().is_empty());
    // The agent upgrades.
    h.allocator
        .update_agent(aid("old"), info, None, Some(agent_capabilities()));
    assert_eq!(h.offer_keys(), vec![key("web", "eng/web", "old")]);
}

#[test]
fn multi_role_frameworks_are_offered_per_role() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["a", "b"]));
    h.add_framework(framework("f2", &["b"]));
    let _hold = h.hold();
    for i in 0..4 {
        h.add_agent(agent(&format!("agent{i}"), "cpus:2;mem:1024"));
    }
    drop(_hold);
    // Roles take turns; within b, f1's allocation to b is what counts against it.
    let counts = tally(&h.offer_keys());
    assert_eq!(
        counts,
        BTreeMap::from([(fr("f1", "a"), 2), (fr("f1", "b"), 1), (fr("f2", "b"), 1)])
    );
    // One callback per framework and run, with the roles together.
    let mut callbacks = h.callbacks();
    callbacks.sort();
    assert_eq!(callbacks, vec![fid("f1"), fid("f2")]);
}

#[test]
fn multi_role_frameworks_get_nothing_from_agents_that_are_not() {
    let h = Harness::new();
    h.add_framework(framework("multi", &["a"]));
    let info = agent("old", "cpus:1;mem:512");
    h.allocator.add_agent(
        aid("old"),
        info,
        vec![],
        res("cpus:1;mem:512"),
        Default::default(),
    );
    assert!(h.offers().is_empty());
    // A framework that is not MULTI_ROLE (the legacy `role` field) gets it.
    #[allow(deprecated)]
    h.add_framework(v0::FrameworkInfo {
        user: "user".into(),
        name: "legacy".into(),
        id: Some(fid("legacy").into()),
        role: Some("a".into()),
        ..Default::default()
    });
    assert_eq!(h.offer_keys(), vec![key("legacy", "a", "old")]);
}

#[test]
fn events_in_a_burst_make_one_allocation_run() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    let runs = h.metrics().allocation_runs;
    h.callbacks();
    let hold = h.hold();
    for i in 0..10 {
        h.add_agent(agent(&format!("agent{i}"), "cpus:1;mem:512"));
    }
    drop(hold);
    assert_eq!(h.offers().len(), 10);
    let metrics = h.metrics();
    assert_eq!(metrics.allocation_runs, runs + 1);
    assert!(metrics.allocation_run_ms.is_some());
    assert_eq!(h.callbacks(), vec![fid("f1")]);
}

#[test]
fn allocation_runs_periodically_on_the_clock() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    let runs = h.metrics().allocation_runs;

    // Declined without a filter: nothing happens until the next periodic run.
    h.decline(&offers[0], Some(0.0));
    assert!(h.offers().is_empty());
    h.advance(Duration::from_millis(999));
    assert!(h.offers().is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.offer_keys(), vec![key("f1", "*", "agent1")]);
    assert_eq!(h.metrics().allocation_runs, runs + 1);

    // Every interval, even with nothing to offer.
    for _ in 0..3 {
        h.advance(Duration::from_secs(1));
    }
    assert_eq!(h.metrics().allocation_runs, runs + 4);
}

#[test]
fn the_allocation_interval_is_configurable() {
    let h = Harness::with_options(
        mesos_master::allocator::Options::default().allocation_interval(Duration::from_secs(5)),
    );
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    let offers = h.offers();
    h.decline(&offers[0], None);
    h.advance(Duration::from_secs(4));
    assert!(h.offers().is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(h.offers().len(), 1);
}

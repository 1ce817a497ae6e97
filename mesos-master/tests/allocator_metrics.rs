//! The allocator's metrics in the runtime's registry (what `/metrics/snapshot` serves), and
//! the framework and offer life-cycle calls not covered elsewhere: rescinded offers, role
//! changes, suppression through `update_framework`, agents deactivated and back. Driven
//! alone through the trait on a paused clock.

mod allocator_support;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use allocator_support::*;
use mesos_master::allocator::{FrameworkOptions, HierarchicalAllocator};

const SECOND: Duration = Duration::from_secs(1);

fn snapshot(h: &Harness) -> BTreeMap<String, f64> {
    h.settle();
    h.runtime
        .metrics()
        .snapshot(None)
        .get()
        .expect("a metrics snapshot")
}

#[test]
fn metrics_are_registered_under_upstream_names() {
    let h = Harness::new();
    let before = snapshot(&h);
    assert_eq!(before["allocator/mesos/allocation_runs"], 0.0);
    assert_eq!(before["allocator/mesos/event_queue_dispatches"], 0.0);
    assert_eq!(before["allocator/event_queue_dispatches"], 0.0);
    assert_eq!(before["allocator/mesos/resources/cpus/total"], 0.0);
    // A timer shows nothing before its first value.
    assert!(!before.contains_key("allocator/mesos/allocation_run_ms"));

    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024;disk:100"));
    assert_eq!(h.offers().len(), 1);
    let map = snapshot(&h);
    assert!(map["allocator/mesos/allocation_runs"] >= 1.0);
    assert!(map["allocator/mesos/allocation_run_ms"] >= 0.0);
    assert!(map["allocator/mesos/allocation_run_latency_ms"] >= 0.0);
    assert_eq!(map["allocator/mesos/resources/cpus/total"], 2.0);
    assert_eq!(map["allocator/mesos/resources/mem/total"], 1024.0);
    assert_eq!(map["allocator/mesos/resources/disk/total"], 100.0);
    assert_eq!(
        map["allocator/mesos/resources/cpus/offered_or_allocated"],
        2.0
    );
    assert_eq!(map["allocator/mesos/roles/*/shares/dominant"], 1.0);
    assert_eq!(map["allocator/mesos/offer_filters/roles/*/active"], 0.0);
}

#[test]
fn the_allocation_run_timer_has_percentiles_once_it_has_two_values() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024"));
    h.advance(SECOND);
    h.advance(SECOND);
    let map = snapshot(&h);
    let runs = map["allocator/mesos/allocation_runs"];
    assert!(runs >= 2.0);
    let base = "allocator/mesos/allocation_run_ms";
    assert_eq!(map[&format!("{base}/count")], runs);
    for stat in ["min", "p50", "p90", "p95", "p99", "p999", "p9999", "max"] {
        assert!(
            map.contains_key(&format!("{base}/{stat}")),
            "{base}/{stat} missing"
        );
    }
    assert!(map[&format!("{base}/min")] <= map[&format!("{base}/p50")]);
    assert!(map[&format!("{base}/p50")] <= map[&format!("{base}/max")]);
    assert!(map.contains_key("allocator/mesos/allocation_run_latency_ms/p99"));
}

#[test]
fn offer_filter_gauges_count_and_expire() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["a"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024"));
    let offers = h.offers();
    h.decline(&offers[0], Some(3.0));
    let map = snapshot(&h);
    assert_eq!(map["allocator/mesos/offer_filters/roles/a/active"], 1.0);
    assert_eq!(map["allocator/mesos/roles/a/shares/dominant"], 0.0);
    assert_eq!(
        map["allocator/mesos/resources/cpus/offered_or_allocated"],
        0.0
    );
    h.advance(3 * SECOND);
    let map = snapshot(&h);
    assert_eq!(map["allocator/mesos/offer_filters/roles/a/active"], 0.0);
}

#[test]
fn role_gauges_come_and_go_with_the_role() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["eng/web"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024"));
    assert_eq!(h.offers().len(), 1);
    let map = snapshot(&h);
    assert_eq!(map["allocator/mesos/roles/eng/web/shares/dominant"], 1.0);
    h.allocator.remove_framework(fid("f1"));
    let map = snapshot(&h);
    assert!(!map.contains_key("allocator/mesos/roles/eng/web/shares/dominant"));
    assert!(!map.contains_key("allocator/mesos/offer_filters/roles/eng/web/active"));
}

#[test]
fn event_queue_dispatches_counts_calls_waiting_for_the_allocator() {
    let h = Harness::new();
    let hold = h.hold();
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024"));
    h.allocator.suppress_offers(fid("f1"), roles(&[]));
    // The gauge is read when the snapshot is taken; the rest waits for the allocator.
    let pending = h.runtime.metrics().snapshot(None);
    drop(hold);
    let map = pending.get().expect("a metrics snapshot");
    assert_eq!(map["allocator/mesos/event_queue_dispatches"], 3.0);
    assert_eq!(snapshot(&h)["allocator/mesos/event_queue_dispatches"], 0.0);
}

#[test]
fn a_terminated_allocator_takes_its_metrics_away() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024"));
    h.settle();
    h.handle.terminate();
    libprocess::wait(h.handle.pid())
        .get()
        .expect("the allocator terminates");
    let names = h.runtime.metrics().names();
    assert!(
        names.iter().all(|n| !n.starts_with("allocator/")),
        "left behind: {names:?}"
    );
    // Another allocator on the same runtime registers them again.
    let _again = HierarchicalAllocator::spawn(h.runtime.handle());
    h.settle();
    assert!(
        h.runtime
            .metrics()
            .names()
            .contains(&"allocator/mesos/allocation_runs".to_owned())
    );
}

#[test]
fn a_rescinded_offer_is_offered_again_at_the_next_run() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024"));
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    // The master rescinds it (offer timeout): recovered without a filter.
    h.decline(&offers[0], None);
    assert!(
        h.offers().is_empty(),
        "no event-triggered run for a recovery"
    );
    h.advance(SECOND);
    assert_eq!(h.offer_keys(), vec![key("f1", "*", "agent1")]);
}

#[test]
fn a_framework_that_changes_roles_is_offered_for_its_new_role() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["a"]));
    h.add_agent(agent("agent1", "cpus(b):2;mem(b):512;cpus:1;mem:512"));
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].key(), ("f1", "a", "agent1"));
    assert_eq!(offers[0].resources, allocated("cpus:1;mem:512", "a"));
    h.decline(&offers[0], Some(1000.0));

    h.allocator.update_framework(
        fid("f1"),
        framework("f1", &["b"]),
        FrameworkOptions::default(),
    );
    h.advance(SECOND);
    let offers = h.offers();
    // Role b gets its reservation and the unreserved part: the filter was role a's.
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].key(), ("f1", "b", "agent1"));
    assert_eq!(
        offers[0].resources,
        allocated("cpus(b):2;mem(b):512;cpus:1;mem:512", "b")
    );
    let map = snapshot(&h);
    assert!(!map.contains_key("allocator/mesos/roles/a/shares/dominant"));
    assert!(map["allocator/mesos/roles/b/shares/dominant"] > 0.0);
}

#[test]
fn update_framework_suppresses_and_revives_roles() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["a", "b"]));
    h.allocator.update_framework(
        fid("f1"),
        framework("f1", &["a", "b"]),
        FrameworkOptions::with_suppressed_roles(["a"]),
    );
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    assert_eq!(h.offer_keys(), vec![key("f1", "b", "agent1")]);
    // Reviving a through the options: the next offer may go to a.
    h.allocator.update_framework(
        fid("f1"),
        framework("f1", &["a", "b"]),
        FrameworkOptions::default(),
    );
    h.allocator.remove_agent(aid("agent1"));
    h.add_agent(agent("agent2", "cpus:1;mem:512"));
    assert_eq!(h.offer_keys(), vec![key("f1", "a", "agent2")]);
}

#[test]
fn a_deactivated_agent_keeps_its_offers_out_until_activated() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024"));
    let offers = h.offers();
    h.allocator.deactivate_agent(aid("agent1"));
    h.decline(&offers[0], None);
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    h.allocator.activate_agent(aid("agent1"));
    h.advance(SECOND);
    assert_eq!(h.offer_keys(), vec![key("f1", "*", "agent1")]);
}

#[test]
fn frameworks_added_with_resources_in_use_count_in_their_share() {
    let h = Harness::new();
    // The agent comes with a task of a framework the allocator does not know yet.
    let task = allocated("cpus:2;mem:256", "a");
    h.add_agent_using(
        agent("agent1", "cpus:4;mem:1024"),
        HashMap::from([(fid("fa"), task.clone())]),
    );
    let used = HashMap::from([(aid("agent1"), task)]);
    h.allocator.add_framework(
        fid("fa"),
        framework("fa", &["a"]),
        used,
        false,
        FrameworkOptions::default(),
    );
    // Inactive: offered nothing more, its task alone makes its share.
    let map = snapshot(&h);
    assert_eq!(map["allocator/mesos/roles/a/shares/dominant"], 0.5);
}

//! What the allocator offers, driven alone through its trait on a paused clock:
//! reservations, recovered resources, offer filters and their expiry, suppress and revive,
//! minimum allocatable resources, GPU agents, removals, operations and metrics.

mod allocator_support;

use std::collections::HashMap;
use std::time::Duration;

use allocator_support::*;
use mesos_core::resources::{ResourceConversion, ResourceQuantities};
use mesos_core::v0;
use mesos_core::v0::framework_info::capability::Type as FrameworkCapability;
use mesos_master::allocator::{AllocatorError, FrameworkOptions, Options};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn reserved_resources_go_only_to_their_role() {
    let h = Harness::new();
    h.add_framework(framework("fb", &["b"]));
    h.add_agent(agent("agent1", "cpus(a):2;mem(a):512;cpus:1;mem:512"));
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].key(), ("fb", "b", "agent1"));
    assert_eq!(offers[0].resources, allocated("cpus:1;mem:512", "b"));

    h.add_framework(framework("fa", &["a"]));
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].key(), ("fa", "a", "agent1"));
    assert_eq!(offers[0].resources, allocated("cpus(a):2;mem(a):512", "a"));
}

#[test]
fn reserved_resources_go_to_subroles_too() {
    let h = Harness::new();
    h.add_framework(framework("fb", &["b"]));
    h.add_framework(framework("sub", &["a/x"]));
    h.add_agent(agent("agent1", "cpus(a):2;mem(a):512"));
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].key(), ("sub", "a/x", "agent1"));
    assert_eq!(
        offers[0].resources,
        allocated("cpus(a):2;mem(a):512", "a/x")
    );
}

#[test]
fn offers_hold_what_is_left_after_tasks_and_get_it_back_when_they_end() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:4;mem:2048"));
    let offers = h.offers();
    assert_eq!(offers[0].resources, allocated("cpus:4;mem:2048", "*"));

    // A task uses part of the offer; the rest is declined without a filter.
    let task = allocated("cpus:1;mem:512", "*");
    h.allocator
        .transition_offered_to_allocated(aid("agent1"), task.clone());
    h.allocator.recover_resources(
        fid("f1"),
        aid("agent1"),
        allocated("cpus:3;mem:1536", "*"),
        None,
        false,
    );
    h.advance(SECOND);
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources, allocated("cpus:3;mem:1536", "*"));
    let metrics = h.metrics();
    assert_eq!(metrics.resources_offered_or_allocated["cpus"], 4.0);

    // The task ends.
    h.allocator
        .recover_resources(fid("f1"), aid("agent1"), task, None, true);
    h.advance(SECOND);
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources, allocated("cpus:1;mem:512", "*"));
}

#[test]
fn a_declined_offer_is_filtered_until_refuse_seconds_pass() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    let offers = h.offers();
    // The default filter: 5 seconds.
    h.decline(&offers[0], Some(5.0));
    assert_eq!(h.metrics().offer_filters_active["*"], 1);
    for _ in 0..4 {
        h.advance(SECOND);
        assert!(h.offers().is_empty());
    }
    h.advance(SECOND);
    assert_eq!(h.offer_keys(), vec![key("f1", "*", "agent1")]);
    assert_eq!(h.metrics().offer_filters_active.get("*"), None);
}

#[test]
fn a_filter_outlives_the_next_allocation_run() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    let offers = h.offers();
    // Shorter than the allocation interval: it still holds through the next run.
    h.decline(&offers[0], Some(0.1));
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    h.advance(SECOND);
    assert_eq!(h.offers().len(), 1);
}

#[test]
fn filters_are_per_agent_and_per_framework() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    let hold = h.hold();
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    h.add_agent(agent("agent2", "cpus:1;mem:512"));
    drop(hold);
    let offers = h.offers();
    assert_eq!(offers.len(), 2);
    h.decline(&offers[0], Some(1000.0));
    h.decline(&offers[1], None);
    h.advance(SECOND);
    assert_eq!(h.offer_keys(), vec![key("f1", "*", "agent2")]);

    // Another framework is not bound by f1's filter.
    h.add_framework(framework("f2", &["*"]));
    assert_eq!(h.offer_keys(), vec![key("f2", "*", "agent1")]);
}

#[test]
fn a_filter_only_covers_what_was_refused() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024"));
    h.offers();
    // Half runs a task, half is refused for long.
    let task = allocated("cpus:1;mem:512", "*");
    h.allocator
        .transition_offered_to_allocated(aid("agent1"), task.clone());
    h.allocator.recover_resources(
        fid("f1"),
        aid("agent1"),
        allocated("cpus:1;mem:512", "*"),
        Some(v0::Filters {
            refuse_seconds: Some(1000.0),
        }),
        false,
    );
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    // When the task ends there is more than was refused: offered again.
    h.allocator
        .recover_resources(fid("f1"), aid("agent1"), task, None, true);
    h.advance(SECOND);
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources, allocated("cpus:2;mem:1024", "*"));
}

#[test]
fn suppressed_frameworks_get_no_offers_until_they_revive() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.allocator.suppress_offers(fid("f1"), roles(&[]));
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    // Reviving allocates at once.
    h.allocator.revive_offers(fid("f1"), roles(&[]));
    let offers = h.offers();
    assert_eq!(offers.len(), 1);

    // Reviving also clears filters.
    h.decline(&offers[0], Some(1000.0));
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    h.allocator.revive_offers(fid("f1"), roles(&["*"]));
    assert_eq!(h.offers().len(), 1);
}

#[test]
fn suppression_is_per_role() {
    let h = Harness::new();
    h.allocator.add_framework(
        fid("f1"),
        framework("f1", &["a", "b"]),
        HashMap::new(),
        true,
        FrameworkOptions::with_suppressed_roles(["a"]),
    );
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    assert_eq!(h.offer_keys(), vec![key("f1", "b", "agent1")]);
    h.allocator.suppress_offers(fid("f1"), roles(&["b"]));
    h.allocator.revive_offers(fid("f1"), roles(&["a"]));
    h.add_agent(agent("agent2", "cpus:1;mem:512"));
    assert_eq!(h.offer_keys(), vec![key("f1", "a", "agent2")]);
    // update_framework sets the suppressed roles too.
    h.allocator.update_framework(
        fid("f1"),
        framework("f1", &["a", "b"]),
        FrameworkOptions::with_suppressed_roles(["a"]),
    );
    h.add_agent(agent("agent3", "cpus:1;mem:512"));
    assert_eq!(h.offer_keys(), vec![key("f1", "b", "agent3")]);
}

#[test]
fn scraps_below_the_minimum_allocatable_resources_are_not_offered() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    // Default minimum: cpus:0.01 or mem:32.
    h.add_agent(agent("tiny", "cpus:0.005;mem:16;disk:100"));
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    h.add_agent(agent("cpus-only", "cpus:0.01"));
    h.add_agent(agent("mem-only", "mem:32"));
    assert_eq!(
        h.offer_keys(),
        vec![key("f1", "*", "cpus-only"), key("f1", "*", "mem-only")]
    );
}

#[test]
fn the_minimum_allocatable_resources_are_configurable() {
    let min = ResourceQuantities::from_string("cpus:1;mem:100").unwrap();
    let h = Harness::with_options(Options::default().min_allocatable_resources(vec![min]));
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("small", "cpus:1;mem:99"));
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    h.add_agent(agent("big", "cpus:1;mem:100"));
    assert_eq!(h.offer_keys(), vec![key("f1", "*", "big")]);

    // Without a minimum anything goes.
    let h = Harness::with_options(Options::default().min_allocatable_resources(vec![]));
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("tiny", "disk:1"));
    assert_eq!(h.offer_keys(), vec![key("f1", "*", "tiny")]);
}

#[test]
fn a_framework_can_ask_for_its_own_minimum_per_role() {
    let h = Harness::new();
    let mut info = framework("picky", &["*"]);
    info.offer_filters.insert(
        "*".into(),
        v0::OfferFilters {
            min_allocatable_resources: Some(v0::offer_filters::MinAllocatableResources {
                quantities: vec![v0::offer_filters::ResourceQuantities {
                    quantities: std::collections::BTreeMap::from([(
                        "cpus".into(),
                        v0::value::Scalar { value: 2.0 },
                    )]),
                }],
            }),
        },
    );
    h.add_framework(info);
    h.add_agent(agent("small", "cpus:1;mem:1024"));
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    h.add_agent(agent("big", "cpus:2;mem:1024"));
    assert_eq!(h.offer_keys(), vec![key("picky", "*", "big")]);
}

#[test]
fn gpu_agents_go_only_to_gpu_capable_frameworks() {
    let h = Harness::new();
    h.add_framework(framework("plain", &["*"]));
    h.add_agent(agent("gpu", "cpus:1;mem:1024;gpus:1"));
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    h.add_agent(agent("cpu", "cpus:1;mem:1024"));
    assert_eq!(h.offer_keys(), vec![key("plain", "*", "cpu")]);

    h.add_framework(framework_with(
        "ml",
        &["*"],
        &[FrameworkCapability::GpuResources],
    ));
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].key(), ("ml", "*", "gpu"));
    assert_eq!(
        offers[0].resources,
        allocated("cpus:1;mem:1024;gpus:1", "*")
    );
}

#[test]
fn gpu_filtering_can_be_turned_off() {
    let h = Harness::with_options(Options::default().filter_gpu_resources(false));
    h.add_framework(framework("plain", &["*"]));
    h.add_agent(agent("gpu", "cpus:1;mem:1024;gpus:1"));
    assert_eq!(h.offer_keys(), vec![key("plain", "*", "gpu")]);
}

#[test]
fn a_removed_agent_takes_its_resources_out_of_the_roles_shares() {
    let h = Harness::new();
    h.add_framework(framework("fa", &["a"]));
    h.add_agent(agent("big", "cpus:10;mem:10240"));
    assert_eq!(h.offer_keys(), vec![key("fa", "a", "big")]);
    h.add_framework(framework("fb", &["b"]));
    h.add_agent(agent("small1", "cpus:1;mem:1024"));
    h.add_agent(agent("small2", "cpus:1;mem:1024"));
    assert_eq!(
        h.offer_keys(),
        vec![key("fb", "b", "small1"), key("fb", "b", "small2")]
    );

    h.allocator.remove_agent(aid("big"));
    let metrics = h.metrics();
    assert_eq!(metrics.agents, 2);
    assert_eq!(metrics.resources_total["cpus"], 2.0);
    assert_eq!(metrics.dominant_shares["a"], 0.0);
    // Role a holds nothing now: it gets the next agent.
    h.add_agent(agent("small3", "cpus:1;mem:1024"));
    assert_eq!(h.offer_keys(), vec![key("fa", "a", "small3")]);
    // What fa held on the removed agent comes back to nobody: the call is ignored.
    h.allocator.recover_resources(
        fid("fa"),
        aid("big"),
        allocated("cpus:10;mem:10240", "a"),
        None,
        false,
    );
    assert!(h.offers().is_empty());
}

#[test]
fn a_removed_framework_gives_its_resources_back() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["a"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024"));
    h.offers();
    h.add_framework(framework("f2", &["b"]));
    assert!(h.offers().is_empty());
    h.allocator.remove_framework(fid("f1"));
    h.advance(SECOND);
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].key(), ("f2", "b", "agent1"));
    assert_eq!(offers[0].resources, allocated("cpus:2;mem:1024", "b"));
    let metrics = h.metrics();
    assert_eq!(metrics.frameworks, 1);
    assert!(!metrics.dominant_shares.contains_key("a"));
}

#[test]
fn inactive_frameworks_and_agents_get_no_offers() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.allocator.deactivate_framework(fid("f1"));
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    h.allocator.activate_framework(fid("f1"));
    let offers = h.offers();
    assert_eq!(offers.len(), 1);

    // Deactivation clears filters.
    h.decline(&offers[0], Some(1000.0));
    h.allocator.deactivate_framework(fid("f1"));
    h.allocator.activate_framework(fid("f1"));
    assert_eq!(h.offers().len(), 1);

    // An inactive agent's resources are not offered; active again, they are at the next
    // periodic run.
    h.allocator.recover_resources(
        fid("f1"),
        aid("agent1"),
        allocated("cpus:1;mem:512", "*"),
        None,
        false,
    );
    h.allocator.deactivate_agent(aid("agent1"));
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    h.allocator.activate_agent(aid("agent1"));
    assert!(h.offers().is_empty());
    h.advance(SECOND);
    assert_eq!(h.offers().len(), 1);
}

#[test]
fn a_paused_allocator_makes_no_offers() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.allocator.pause();
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    h.allocator.resume();
    h.advance(SECOND);
    assert_eq!(h.offers().len(), 1);
}

#[test]
fn updating_an_allocation_changes_the_agents_total() {
    let h = Harness::new();
    h.add_framework(framework("fa", &["a"]));
    h.add_agent(agent("agent1", "cpus:4;mem:2048"));
    let offers = h.offers();
    let offered = offers[0].resources.clone();
    // The framework reserves one cpu of its offer, then declines everything.
    let reserve = ResourceConversion::new(allocated("cpus:1", "a"), allocated("cpus(a):1", "a"));
    h.allocator.update_allocation(
        fid("fa"),
        aid("agent1"),
        offered.clone(),
        vec![reserve.clone()],
    );
    let updated = offered.apply(&reserve).unwrap();
    h.allocator
        .recover_resources(fid("fa"), aid("agent1"), updated, None, false);
    // Role b only sees the unreserved rest.
    h.allocator.suppress_offers(fid("fa"), roles(&[]));
    h.add_framework(framework("fb", &["b"]));
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].key(), ("fb", "b", "agent1"));
    assert_eq!(offers[0].resources, allocated("cpus:3;mem:2048", "b"));
    h.allocator.revive_offers(fid("fa"), roles(&[]));
    let offers = h.offers();
    assert_eq!(offers[0].resources, allocated("cpus(a):1", "a"));
}

#[test]
fn operations_on_available_resources_apply_or_fail() {
    let h = Harness::new();
    h.add_agent(agent("agent1", "cpus:4;mem:2048"));
    h.settle();
    let reserve = ResourceConversion::new(res("cpus:2"), res("cpus(a):2"));
    let result = h.allocator.update_available(aid("agent1"), vec![reserve]);
    assert_eq!(result.get(), Ok(Ok(())));
    let result = h.allocator.update_available(
        aid("agent1"),
        vec![ResourceConversion::new(res("cpus:4"), res("cpus(a):4"))],
    );
    assert!(matches!(
        result.get(),
        Ok(Err(AllocatorError::Conversion { .. }))
    ));
    let result = h.allocator.update_available(aid("nope"), vec![]);
    assert_eq!(
        result.get(),
        Ok(Err(AllocatorError::UnknownAgent {
            agent_id: aid("nope")
        }))
    );

    h.add_framework(framework("fb", &["b"]));
    let offers = h.offers();
    assert_eq!(offers[0].resources, allocated("cpus:2;mem:2048", "b"));
}

#[test]
fn agents_may_be_added_with_resources_in_use() {
    let h = Harness::new();
    h.add_framework(framework("fa", &["a"]));
    h.add_framework(framework("fb", &["b"]));
    let used = HashMap::from([(fid("fa"), allocated("cpus:3;mem:1024", "a"))]);
    h.add_agent_using(agent("agent1", "cpus:4;mem:2048"), used);
    // The rest goes to role b, which holds less.
    let offers = h.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].key(), ("fb", "b", "agent1"));
    assert_eq!(offers[0].resources, allocated("cpus:1;mem:1024", "b"));
    assert!(h.metrics().dominant_shares["a"] > 0.7);
}

#[test]
fn metrics_have_upstream_names() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.add_agent(agent("agent1", "cpus:2;mem:1024"));
    let offers = h.offers();
    h.decline(&offers[0], Some(10.0));
    let map = h.metrics().to_map();
    assert!(map["allocator/mesos/allocation_runs"] >= 1.0);
    assert!(map.contains_key("allocator/mesos/allocation_run_ms"));
    assert_eq!(map["allocator/mesos/resources/cpus/total"], 2.0);
    assert_eq!(map["allocator/mesos/resources/mem/total"], 1024.0);
    assert_eq!(
        map.get("allocator/mesos/resources/cpus/offered_or_allocated"),
        None
    );
    assert_eq!(map["allocator/mesos/offer_filters/roles/*/active"], 1.0);
    assert_eq!(map["allocator/mesos/roles/*/shares/dominant"], 0.0);
}

#[test]
fn an_agent_every_framework_declined_goes_to_a_new_framework() {
    let h = Harness::new();
    h.add_framework(framework("f1", &["*"]));
    h.add_framework(framework("f2", &["*"]));
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    // Each framework declines it for long, in turn.
    for _ in 0..2 {
        let offers = h.offers();
        assert_eq!(offers.len(), 1);
        h.decline(&offers[0], Some(1000.0));
        h.advance(SECOND);
    }
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    // Nothing changed on the agent, but a framework came.
    h.add_framework(framework("f3", &["*"]));
    assert_eq!(h.offer_keys(), vec![key("f3", "*", "agent1")]);
}

#[test]
fn a_framework_that_lowers_its_minimum_is_offered_what_it_refused_before() {
    let h = Harness::new();
    let mut picky = framework("picky", &["*"]);
    picky.offer_filters.insert(
        "*".into(),
        v0::OfferFilters {
            min_allocatable_resources: Some(v0::offer_filters::MinAllocatableResources {
                quantities: vec![v0::offer_filters::ResourceQuantities {
                    quantities: std::collections::BTreeMap::from([(
                        "cpus".into(),
                        v0::value::Scalar { value: 4.0 },
                    )]),
                }],
            }),
        },
    );
    h.add_framework(picky);
    h.add_agent(agent("agent1", "cpus:1;mem:512"));
    h.advance(SECOND);
    assert!(h.offers().is_empty());
    h.allocator.update_framework(
        fid("picky"),
        framework("picky", &["*"]),
        FrameworkOptions::default(),
    );
    h.advance(SECOND);
    assert_eq!(h.offer_keys(), vec![key("picky", "*", "agent1")]);
}

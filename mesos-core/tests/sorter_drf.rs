//! DRF and random sorter behaviour, after upstream `src/tests/sorter_tests.cpp`, plus the
//! worked example of the DRF paper.

use mesos_core::resources::resource::{ranges, scalar};
use mesos_core::resources::{ResourceConversion, ResourceQuantities, Resources};
use mesos_core::sorter::{DrfSorter, RandomSorter, Sorter};
use mesos_core::v0::Resource;
use mesos_core::v0::resource::disk_info::Persistence;
use mesos_core::v0::resource::reservation_info::Type as ReservationType;
use mesos_core::v0::resource::{DiskInfo, SharedInfo};

type Agent = &'static str;
const AGENT: Agent = "agentId";

fn r(text: &str) -> Resources {
    Resources::parse(text, "*").unwrap()
}

fn q(text: &str) -> ResourceQuantities {
    ResourceQuantities::from_string(text).unwrap()
}

fn drf(total: &str) -> DrfSorter<Agent> {
    let mut sorter = DrfSorter::new();
    sorter.add_agent(AGENT, q(total));
    sorter
}

fn add_active<S: Sorter<Agent>>(sorter: &mut S, client: &str) {
    sorter.add(client);
    sorter.activate(client);
}

fn sorted(clients: Vec<String>) -> Vec<String> {
    let mut clients = clients;
    clients.sort();
    clients
}

/// A persistent volume of `size` MB on disk reserved to `role`.
fn volume(size: f64, role: &str, id: &str, shared: bool) -> Resource {
    let mut disk = scalar("disk", size);
    disk.reservations
        .push(mesos_core::resources::resource::reservation(
            ReservationType::Static,
            role,
            None,
        ));
    disk.disk = Some(DiskInfo {
        persistence: Some(Persistence {
            id: id.into(),
            principal: None,
        }),
        volume: None,
        source: None,
    });
    if shared {
        disk.shared = Some(SharedInfo::default());
    }
    disk
}

/// The CREATE operation as a conversion: plain disk in, volume out.
fn create(vol: &Resource) -> ResourceConversion {
    let mut plain = vol.clone();
    plain.disk = None;
    plain.shared = None;
    ResourceConversion::new(Resources::from(plain), Resources::from(vol.clone()))
}

/// Runs the same client sequence on a flat or nested naming (upstream `DRF`,
/// `ShallowHierarchy`, `DeepHierarchy`).
fn drf_sequence(name: impl Fn(&str) -> String) {
    let (a, b, c, d, e, f) = (
        name("a"),
        name("b"),
        name("c"),
        name("d"),
        name("e"),
        name("f"),
    );
    let mut sorter = drf("cpus:100;mem:100");
    assert!(sorter.sort().is_empty());

    add_active(&mut sorter, &a);
    sorter.allocated(&a, &AGENT, &r("cpus:5;mem:5"));
    add_active(&mut sorter, &b);
    sorter.allocated(&b, &AGENT, &r("cpus:6;mem:6"));
    // shares: a = .05, b = .06
    assert_eq!(sorter.sort(), vec![a.clone(), b.clone()]);

    add_active(&mut sorter, &c);
    sorter.allocated(&c, &AGENT, &r("cpus:1;mem:1"));
    add_active(&mut sorter, &d);
    sorter.allocated(&d, &AGENT, &r("cpus:3;mem:1"));
    // shares: a = .05, b = .06, c = .01, d = .03
    assert_eq!(
        sorter.sort(),
        vec![c.clone(), d.clone(), a.clone(), b.clone()]
    );

    sorter.remove(&a);
    sorter.unallocated(&b, &AGENT, &r("cpus:4;mem:4"));
    // shares: b = .02, c = .01, d = .03
    assert_eq!(sorter.sort(), vec![c.clone(), b.clone(), d.clone()]);

    add_active(&mut sorter, &e);
    sorter.allocated(&e, &AGENT, &r("cpus:1;mem:5"));
    sorter.remove_agent(&AGENT);
    sorter.add_agent(AGENT, q("cpus:50;mem:100"));
    // shares: b = .04, c = .02, d = .06, e = .05
    assert_eq!(
        sorter.sort(),
        vec![c.clone(), b.clone(), e.clone(), d.clone()]
    );

    sorter.remove_agent(&AGENT);
    sorter.add_agent(AGENT, q("cpus:50;mem:200"));
    add_active(&mut sorter, &f);
    sorter.allocated(&f, &AGENT, &r("cpus:5;mem:1"));
    sorter.allocated(&c, &AGENT, &r("cpus:0;mem:15"));
    // shares: b = .04, c = .08, d = .06, e = .025, f = .1
    assert_eq!(
        sorter.sort(),
        vec![e.clone(), b.clone(), d.clone(), c.clone(), f.clone()]
    );

    assert!(sorter.contains(&b));
    assert!(!sorter.contains(&a));
    assert_eq!(sorter.count(), 5);

    sorter.deactivate(&d);
    assert!(sorter.contains(&d));
    assert_eq!(
        sorter.sort(),
        vec![e.clone(), b.clone(), c.clone(), f.clone()]
    );
    assert_eq!(sorter.count(), 5);

    sorter.activate(&d);
    assert_eq!(sorter.sort(), vec![e, b, d, c, f]);
}

#[test]
fn drf_flat() {
    drf_sequence(|x| x.to_owned());
}

#[test]
fn drf_shallow_hierarchy() {
    drf_sequence(|x| format!("{x}/{x}"));
}

#[test]
fn drf_deep_hierarchy() {
    // Different depths for different clients, as upstream.
    drf_sequence(|x| {
        let depth = match x {
            "a" => 5,
            "b" => 4,
            "c" => 3,
            "e" => 6,
            _ => 2,
        };
        vec![x; depth].join("/")
    });
}

#[test]
fn weighted_drf() {
    let mut sorter = drf("cpus:100;mem:100");
    add_active(&mut sorter, "a");
    sorter.allocated("a", &AGENT, &r("cpus:5;mem:5"));
    add_active(&mut sorter, "b");
    sorter.update_weight("b", 2.0);
    sorter.allocated("b", &AGENT, &r("cpus:6;mem:6"));
    // shares: a = .05, b = .03
    assert_eq!(sorter.sort(), vec!["b", "a"]);

    add_active(&mut sorter, "c");
    sorter.allocated("c", &AGENT, &r("cpus:4;mem:4"));
    assert_eq!(sorter.sort(), vec!["b", "c", "a"]);

    add_active(&mut sorter, "d");
    sorter.update_weight("d", 10.0);
    sorter.allocated("d", &AGENT, &r("cpus:10;mem:20"));
    // shares: a = .05, b = .03, c = .04, d = .02
    assert_eq!(sorter.sort(), vec!["d", "b", "c", "a"]);

    sorter.remove("b");
    assert_eq!(sorter.sort(), vec!["d", "c", "a"]);

    sorter.allocated("d", &AGENT, &r("cpus:10;mem:25"));
    // shares: a = .05, c = .04, d = .045
    assert_eq!(sorter.sort(), vec!["c", "d", "a"]);

    add_active(&mut sorter, "e");
    sorter.update_weight("e", 0.1);
    sorter.allocated("e", &AGENT, &r("cpus:1;mem:1"));
    // shares: a = .05, c = .04, d = .045, e = .1
    assert_eq!(sorter.sort(), vec!["c", "d", "a", "e"]);

    sorter.remove("a");
    assert_eq!(sorter.sort(), vec!["c", "d", "e"]);
}

#[test]
fn update_weight_flips_order() {
    let mut sorter = drf("cpus:100;mem:100");
    add_active(&mut sorter, "a");
    sorter.allocated("a", &AGENT, &r("cpus:5;mem:5"));
    add_active(&mut sorter, "b");
    sorter.allocated("b", &AGENT, &r("cpus:6;mem:6"));
    assert_eq!(sorter.sort(), vec!["a", "b"]);
    sorter.update_weight("b", 2.0);
    assert_eq!(sorter.sort(), vec!["b", "a"]);
}

#[test]
fn allocation_count_breaks_ties() {
    let mut sorter = drf("cpus:100;mem:100");
    for c in ["a", "b", "c", "d", "e"] {
        add_active(&mut sorter, c);
    }
    sorter.allocated("a", &AGENT, &r("cpus:3;mem:3"));
    sorter.allocated("b", &AGENT, &r("cpus:3;mem:3"));
    sorter.allocated("c", &AGENT, &r("cpus:1;mem:1"));
    sorter.allocated("c", &AGENT, &r("cpus:1;mem:1"));
    sorter.allocated("c", &AGENT, &r("cpus:1;mem:1"));
    sorter.allocated("d", &AGENT, &r("cpus:2;mem:2"));
    sorter.allocated("d", &AGENT, &r("cpus:1;mem:1"));
    sorter.allocated("e", &AGENT, &r("cpus:3;mem:3"));
    // Allocation count: {a,b,e} = 1, {d} = 2, {c} = 3.
    assert_eq!(sorter.sort(), vec!["a", "b", "e", "d", "c"]);

    // Unallocating does not reset the count.
    sorter.unallocated("c", &AGENT, &r("cpus:3;mem:3"));
    assert_eq!(sorter.sort(), vec!["c", "a", "b", "e", "d"]);
    sorter.allocated("c", &AGENT, &r("cpus:3;mem:3"));
    assert_eq!(sorter.sort(), vec!["a", "b", "e", "d", "c"]);

    // Neither does deactivating.
    sorter.deactivate("c");
    sorter.activate("c");
    assert_eq!(sorter.sort(), vec!["a", "b", "e", "d", "c"]);
    sorter.unallocated("c", &AGENT, &r("cpus:3;mem:3"));
    sorter.allocated("c", &AGENT, &r("cpus:3;mem:3"));
    assert_eq!(sorter.sort(), vec!["a", "b", "e", "d", "c"]);

    // Allocations to an inactive client count.
    sorter.deactivate("a");
    sorter.unallocated("a", &AGENT, &r("cpus:1;mem:3"));
    sorter.allocated("a", &AGENT, &r("cpus:1;mem:3"));
    assert_eq!(sorter.sort(), vec!["b", "e", "d", "c"]);
    sorter.activate("a");
    assert_eq!(sorter.sort(), vec!["b", "e", "a", "d", "c"]);
}

#[test]
fn hierarchical_allocation() {
    let mut sorter = drf("cpus:100;mem:100");
    for c in ["a", "b/c", "b/d"] {
        add_active(&mut sorter, c);
    }
    assert_eq!(sorter.count(), 3);
    assert!(sorter.contains("a"));
    assert!(!sorter.contains("b"));
    assert!(sorter.contains("b/c"));
    assert_eq!(sorter.sort(), vec!["a", "b/c", "b/d"]);

    let a = r("cpus:6;mem:6");
    sorter.allocated("a", &AGENT, &a);
    assert_eq!(sorter.sort(), vec!["b/c", "b/d", "a"]);

    let c = r("cpus:4;mem:4");
    sorter.allocated("b/c", &AGENT, &c);
    let d = r("cpus:3;mem:3");
    sorter.allocated("b/d", &AGENT, &d);
    assert_eq!(sorter.sort(), vec!["a", "b/d", "b/c"]);

    assert_eq!(sorter.allocation_on("a", &AGENT), a);
    assert_eq!(sorter.allocation_on("b/c", &AGENT), c);
    assert_eq!(sorter.allocation_on("b/d", &AGENT), d);
    assert_eq!(
        sorter.allocation_scalar_quantities("b/c"),
        &q("cpus:4;mem:4")
    );
    assert_eq!(
        sorter.total_allocation_scalar_quantities(),
        &q("cpus:13;mem:13")
    );

    sorter.allocated("a", &AGENT, &r("cpus:2;mem:2"));
    assert_eq!(sorter.sort(), vec!["b/d", "b/c", "a"]);

    add_active(&mut sorter, "b/e/f");
    assert!(!sorter.contains("b/e"));
    assert_eq!(sorter.sort(), vec!["b/e/f", "b/d", "b/c", "a"]);

    let f = r("cpus:3.5;mem:3.5");
    sorter.allocated("b/e/f", &AGENT, &f);
    assert_eq!(sorter.sort(), vec!["a", "b/d", "b/e/f", "b/c"]);

    sorter.remove("b/e/f");
    assert!(!sorter.contains("b/e/f"));
    assert_eq!(sorter.count(), 3);
    assert_eq!(sorter.sort(), vec!["b/d", "b/c", "a"]);

    sorter.update("b/c", &AGENT, &c, &r("cpus:1;mem:1"));
    assert_eq!(sorter.sort(), vec!["b/c", "b/d", "a"]);

    add_active(&mut sorter, "b/e/f");
    sorter.allocated("b/e/f", &AGENT, &f);
    assert_eq!(sorter.sort(), vec!["b/c", "b/d", "b/e/f", "a"]);
    assert_eq!(sorter.count(), 4);
}

#[test]
fn hierarchical_iteration_order() {
    let mut sorter = drf("cpus:100;mem:100");
    for c in ["a/b", "c", "d", "d/e"] {
        add_active(&mut sorter, c);
    }
    assert_eq!(sorter.sort(), vec!["a/b", "c", "d", "d/e"]);
    sorter.allocated("c", &AGENT, &r("cpus:8;mem:8"));
    assert_eq!(sorter.sort(), vec!["a/b", "d", "d/e", "c"]);
    sorter.allocated("d", &AGENT, &r("cpus:3;mem:3"));
    sorter.allocated("d/e", &AGENT, &r("cpus:2;mem:2"));
    assert_eq!(sorter.sort(), vec!["a/b", "d/e", "d", "c"]);
    sorter.allocated("a/b", &AGENT, &r("cpus:6;mem:6"));
    assert_eq!(sorter.sort(), vec!["d/e", "d", "a/b", "c"]);
}

#[test]
fn add_child_to_leaf() {
    let mut sorter = drf("cpus:100;mem:100");
    add_active(&mut sorter, "a");
    sorter.allocated("a", &AGENT, &r("cpus:10;mem:10"));
    add_active(&mut sorter, "b");
    sorter.allocated("b", &AGENT, &r("cpus:6;mem:6"));
    assert_eq!(sorter.sort(), vec!["b", "a"]);

    add_active(&mut sorter, "a/c");
    sorter.allocated("a/c", &AGENT, &r("cpus:5;mem:5"));
    assert_eq!(sorter.sort(), vec!["b", "a/c", "a"]);

    sorter.remove("a");
    assert!(!sorter.contains("a"));
    assert_eq!(sorter.sort(), vec!["a/c", "b"]);

    add_active(&mut sorter, "a");
    sorter.allocated("a", &AGENT, &r("cpus:10;mem:10"));
    assert!(sorter.contains("a"));
    assert_eq!(sorter.sort(), vec!["b", "a/c", "a"]);

    // "a" competes with weight 1 against "a/c".
    sorter.update_weight("a/c", 0.2);
    assert_eq!(sorter.sort(), vec!["b", "a", "a/c"]);

    // The weight of "a" applies to the subtree against "b", not within it.
    sorter.update_weight("a", 3.0);
    assert_eq!(sorter.sort(), vec!["a", "a/c", "b"]);

    sorter.update_weight("a/c", 1.0);
    assert_eq!(sorter.sort(), vec!["a/c", "a", "b"]);
}

#[test]
fn add_child_to_internal() {
    let mut sorter = drf("cpus:100;mem:100");
    add_active(&mut sorter, "x/a");
    sorter.allocated("x/a", &AGENT, &r("cpus:10;mem:10"));
    add_active(&mut sorter, "x/b");
    sorter.allocated("x/b", &AGENT, &r("cpus:6;mem:6"));
    assert_eq!(sorter.sort(), vec!["x/b", "x/a"]);

    add_active(&mut sorter, "x");
    sorter.allocated("x", &AGENT, &r("cpus:7;mem:7"));
    assert_eq!(sorter.sort(), vec!["x/b", "x", "x/a"]);

    add_active(&mut sorter, "z");
    sorter.allocated("z", &AGENT, &r("cpus:20;mem:20"));
    assert_eq!(sorter.sort(), vec!["z", "x/b", "x", "x/a"]);

    sorter.remove("x");
    assert_eq!(sorter.sort(), vec!["x/b", "x/a", "z"]);
}

#[test]
fn add_child_to_inactive_leaf() {
    let mut sorter = drf("cpus:100;mem:100");
    add_active(&mut sorter, "a");
    sorter.allocated("a", &AGENT, &r("cpus:10;mem:10"));
    add_active(&mut sorter, "b");
    sorter.allocated("b", &AGENT, &r("cpus:6;mem:6"));
    sorter.deactivate("a");
    assert_eq!(sorter.sort(), vec!["b"]);

    add_active(&mut sorter, "a/c");
    sorter.allocated("a/c", &AGENT, &r("cpus:5;mem:5"));
    assert_eq!(sorter.sort(), vec!["b", "a/c"]);
}

fn remove_leaf_collapse_parent<S: Sorter<Agent>>(mut sorter: S) {
    sorter.add_agent(AGENT, q("cpus:100;mem:100"));
    add_active(&mut sorter, "a");
    sorter.allocated("a", &AGENT, &r("cpus:10;mem:10"));
    add_active(&mut sorter, "b");
    sorter.allocated("b", &AGENT, &r("cpus:6;mem:6"));
    add_active(&mut sorter, "a/c");
    sorter.allocated("a/c", &AGENT, &r("cpus:5;mem:5"));
    assert_eq!(sorted(sorter.sort()), vec!["a", "a/c", "b"]);
    sorter.remove("a/c");
    assert_eq!(sorted(sorter.sort()), vec!["a", "b"]);
    assert_eq!(sorter.allocation_on("a", &AGENT), r("cpus:10;mem:10"));
}

#[test]
fn remove_leaf_collapses_parent() {
    remove_leaf_collapse_parent(DrfSorter::new());
    remove_leaf_collapse_parent(RandomSorter::new());
}

fn remove_leaf_collapse_parent_inactive<S: Sorter<Agent>>(mut sorter: S) {
    sorter.add_agent(AGENT, q("cpus:100;mem:100"));
    add_active(&mut sorter, "a");
    sorter.allocated("a", &AGENT, &r("cpus:10;mem:10"));
    add_active(&mut sorter, "b");
    sorter.allocated("b", &AGENT, &r("cpus:6;mem:6"));
    add_active(&mut sorter, "a/c");
    sorter.allocated("a/c", &AGENT, &r("cpus:5;mem:5"));
    sorter.deactivate("a");
    assert_eq!(sorted(sorter.sort()), vec!["a/c", "b"]);
    sorter.remove("a/c");
    assert_eq!(sorter.sort(), vec!["b"]);
}

#[test]
fn remove_leaf_collapse_keeps_inactive() {
    remove_leaf_collapse_parent_inactive(DrfSorter::new());
    remove_leaf_collapse_parent_inactive(RandomSorter::new());
}

#[test]
fn change_weight_on_subtree() {
    let mut sorter = drf("cpus:100;mem:100");
    sorter.update_weight("b", 3.0);
    sorter.update_weight("a", 2.0);
    add_active(&mut sorter, "a/x");
    add_active(&mut sorter, "b/y");
    assert_eq!(sorter.sort(), vec!["a/x", "b/y"]);

    sorter.allocated("a/x", &AGENT, &r("cpus:10;mem:10"));
    sorter.allocated("b/y", &AGENT, &r("cpus:10;mem:10"));
    assert_eq!(sorter.sort(), vec!["b/y", "a/x"]);

    add_active(&mut sorter, "b/z");
    sorter.allocated("b/z", &AGENT, &r("cpus:5;mem:5"));
    assert_eq!(sorter.sort(), vec!["b/z", "b/y", "a/x"]);

    add_active(&mut sorter, "b");
    sorter.allocated("b", &AGENT, &r("cpus:4;mem:4"));
    assert_eq!(sorter.sort(), vec!["a/x", "b", "b/z", "b/y"]);

    add_active(&mut sorter, "a/zz");
    sorter.allocated("a/zz", &AGENT, &r("cpus:2;mem:2"));
    assert_eq!(sorter.sort(), vec!["a/zz", "a/x", "b", "b/z", "b/y"]);
}

#[test]
fn weight_set_on_existing_internal_node() {
    // Unlike a client path, an internal node's weight set after it exists still counts.
    let mut sorter = drf("cpus:100;mem:100");
    add_active(&mut sorter, "a/x");
    add_active(&mut sorter, "b/y");
    sorter.allocated("a/x", &AGENT, &r("cpus:10;mem:10"));
    sorter.allocated("b/y", &AGENT, &r("cpus:12;mem:12"));
    assert_eq!(sorter.sort(), vec!["a/x", "b/y"]);
    sorter.update_weight("b", 2.0);
    assert_eq!(sorter.sort(), vec!["b/y", "a/x"]);
}

#[test]
fn split_resource_shares() {
    let mut sorter = DrfSorter::new();
    add_active(&mut sorter, "a");
    add_active(&mut sorter, "b");
    let mut disk1 = scalar("disk", 5.0);
    disk1.disk = Some(DiskInfo {
        persistence: Some(Persistence {
            id: "ID2".into(),
            principal: None,
        }),
        ..DiskInfo::default()
    });
    let disk2 = disk1.clone();
    sorter.add_agent(AGENT, q("cpus:100;mem:100;disk:100"));
    sorter.allocated("a", &AGENT, &r("cpus:9;mem:9;disk:9"));
    sorter.allocated("b", &AGENT, &(r("cpus:9;mem:9") + disk1 + disk2));
    assert_eq!(sorter.sort(), vec!["a", "b"]);
}

fn update_allocation<S: Sorter<Agent>>(mut sorter: S) {
    add_active(&mut sorter, "a");
    add_active(&mut sorter, "b/x");
    sorter.add_agent(AGENT, q("cpus:10;mem:10;disk:10"));
    sorter.allocated("a", &AGENT, &r("cpus:10;mem:10;disk:10"));
    sorter.allocated("b/x", &AGENT, &r("cpus:1"));

    let vol = volume(5.0, "*", "ID", false);
    let mut vol = vol;
    vol.reservations.clear();
    let old = sorter.allocation_on("a", &AGENT);
    let new = create(&vol).apply(&old).unwrap();
    assert_ne!(old, new);
    sorter.update("a", &AGENT, &old, &new);

    assert_eq!(sorter.allocation("a").len(), 1);
    assert_eq!(sorter.allocation("a")[&AGENT], new);
    assert_eq!(sorter.allocation_on("a", &AGENT), new);
    assert_eq!(
        sorter.allocation_scalar_quantities("a"),
        &q("cpus:10;mem:10;disk:10")
    );
    assert_eq!(
        sorter.total_allocation_scalar_quantities(),
        &q("cpus:11;mem:10;disk:10")
    );

    // Updating an allocation to nothing removes it.
    add_active(&mut sorter, "c");
    let c = r("cpus:10;mem:10;disk:10");
    sorter.allocated("c", &"agentId2", &c);
    sorter.update("c", &"agentId2", &c, &Resources::new());
    assert!(sorter.allocation("c").is_empty());
}

#[test]
fn update_allocation_both_sorters() {
    update_allocation(DrfSorter::new());
    update_allocation(RandomSorter::new());
}

fn allocation_for_inactive_client<S: Sorter<Agent>>(mut sorter: S) {
    sorter.add_agent(AGENT, q("cpus:10;mem:10"));
    sorter.add("a");
    add_active(&mut sorter, "b");
    sorter.allocated("a", &AGENT, &r("cpus:2;mem:2"));
    sorter.allocated("b", &AGENT, &r("cpus:3;mem:3"));
    assert_eq!(sorter.allocation("a").len(), 1);
    assert_eq!(sorter.allocation("a")[&AGENT], r("cpus:2;mem:2"));
    assert_eq!(sorter.allocation_scalar_quantities("a"), &q("cpus:2;mem:2"));
    assert_eq!(sorter.allocation_scalar_quantities("b"), &q("cpus:3;mem:3"));
    assert_eq!(
        sorter.total_allocation_scalar_quantities(),
        &q("cpus:5;mem:5")
    );
    assert_eq!(sorter.sort(), vec!["b"]);
}

#[test]
fn allocation_for_inactive_clients() {
    allocation_for_inactive_client(DrfSorter::new());
    allocation_for_inactive_client(RandomSorter::new());
}

fn multiple_agents<S: Sorter<Agent>>(mut sorter: S) {
    add_active(&mut sorter, "framework");
    let agent = r("cpus:2;mem:512;disk:10;ports:[31000-32000]");
    let quantities = ResourceQuantities::from_scalar_resources(&agent);
    sorter.add_agent("agentA", quantities.clone());
    sorter.add_agent("agentB", quantities.clone());
    sorter.allocated("framework", &"agentA", &agent);
    sorter.allocated("framework", &"agentB", &agent);
    assert_eq!(sorter.allocation("framework").len(), 2);
    assert_eq!(sorter.allocation_on("framework", &"agentA"), agent);
    assert_eq!(sorter.allocation_on("framework", &"agentB"), agent);
    let both = &quantities + &quantities;
    assert_eq!(sorter.allocation_scalar_quantities("framework"), &both);
    assert_eq!(sorter.total_scalar_quantities(), &both);

    // Reserving on both agents keeps every resource.
    let mut vol = volume(5.0, "*", "ID", false);
    vol.reservations.clear();
    let new = create(&vol).apply(&agent).unwrap();
    sorter.update("framework", &"agentA", &agent, &new);
    sorter.update("framework", &"agentB", &agent, &new);
    assert_eq!(sorter.allocation_on("framework", &"agentA"), new);
    assert_eq!(sorter.allocation_on("framework", &"agentB"), new);
    assert_eq!(sorter.allocation_scalar_quantities("framework"), &both);
    assert_eq!(sorter.total_allocation_scalar_quantities(), &both);
}

#[test]
fn multiple_agents_both_sorters() {
    multiple_agents(DrfSorter::new());
    multiple_agents(RandomSorter::new());
}

#[test]
fn update_total() {
    let mut sorter = DrfSorter::new();
    add_active(&mut sorter, "a");
    add_active(&mut sorter, "b");
    sorter.add_agent(AGENT, q("cpus:10;mem:100"));
    sorter.allocated("a", &AGENT, &r("cpus:2;mem:1"));
    sorter.allocated("b", &AGENT, &r("cpus:1;mem:2"));
    assert_eq!(sorter.sort(), vec!["b", "a"]);
    sorter.remove_agent(&AGENT);
    sorter.add_agent(AGENT, q("cpus:100;mem:10"));
    assert_eq!(sorter.sort(), vec!["a", "b"]);
}

#[test]
fn multiple_agents_update_total() {
    let mut sorter = DrfSorter::new();
    add_active(&mut sorter, "a");
    add_active(&mut sorter, "b");
    sorter.add_agent("agentA", q("cpus:5;mem:50"));
    sorter.add_agent("agentB", q("cpus:5;mem:50"));
    sorter.allocated("a", &"agentA", &r("cpus:2;mem:1"));
    sorter.allocated("b", &"agentB", &r("cpus:1;mem:3"));
    assert_eq!(sorter.sort(), vec!["b", "a"]);
    sorter.remove_agent(&"agentA");
    sorter.add_agent("agentA", q("cpus:95;mem:50"));
    assert_eq!(sorter.sort(), vec!["a", "b"]);
}

#[test]
fn remove_resources() {
    let mut sorter = DrfSorter::new();
    add_active(&mut sorter, "a");
    add_active(&mut sorter, "b");
    let total = Resources::from(scalar("cpus", 10.0));
    sorter.add_agent(AGENT, ResourceQuantities::from_scalar_resources(&total));
    let for_a = Resources::from(scalar("cpus", 6.0));
    sorter.allocated("a", &AGENT, &for_a);
    sorter.allocated("b", &AGENT, &Resources::from(scalar("cpus", 4.0)));
    assert_eq!(sorter.sort(), vec!["b", "a"]);

    let removed = Resources::from(scalar("cpus", 5.0));
    sorter.remove_agent(&AGENT);
    sorter.add_agent(
        AGENT,
        ResourceQuantities::from_scalar_resources(&(&total - &removed)),
    );
    sorter.update("a", &AGENT, &for_a, &(&for_a - &removed));
    assert_eq!(sorter.sort(), vec!["a", "b"]);
}

#[test]
fn revocable_resources() {
    let mut sorter = DrfSorter::new();
    add_active(&mut sorter, "a");
    add_active(&mut sorter, "b");
    let mut revocable = scalar("cpus", 10.0);
    revocable.revocable = Some(Default::default());
    let total = r("cpus:10;mem:100") + revocable;
    sorter.add_agent(AGENT, ResourceQuantities::from_scalar_resources(&total));

    let a = r("cpus:2;mem:1");
    sorter.allocated("a", &AGENT, &a);
    let mut revocable = scalar("cpus", 9.0);
    revocable.revocable = Some(Default::default());
    let b = r("cpus:1;mem:1") + revocable;
    sorter.allocated("b", &AGENT, &b);
    assert_eq!(sorter.allocation_on("a", &AGENT), a);
    assert_eq!(sorter.allocation_on("b", &AGENT), b);
    assert_eq!(sorter.sort(), vec!["a", "b"]);
}

fn shared_sorter(disk_size: f64, reserved_disk: &str) -> (DrfSorter<Agent>, Resource) {
    let shared = volume(disk_size, "role1", "id1", true);
    let mut sorter = DrfSorter::new();
    let total = r(&format!("cpus:100;mem:100;disk(role1):{reserved_disk}")) + shared.clone();
    sorter.add_agent(AGENT, ResourceQuantities::from_scalar_resources(&total));
    (sorter, shared)
}

#[test]
fn shared_resources() {
    let (mut sorter, shared) = shared_sorter(100.0, "900");
    add_active(&mut sorter, "a");
    sorter.allocated("a", &AGENT, &(r("cpus:5;mem:5") + &shared));
    add_active(&mut sorter, "b");
    sorter.allocated("b", &AGENT, &r("cpus:6;mem:6"));
    // Shares: a = .1 (disk), b = .06 (cpus).
    assert_eq!(sorter.sort(), vec!["b", "a"]);

    add_active(&mut sorter, "c");
    sorter.allocated("c", &AGENT, &(r("cpus:1;mem:1") + &shared));
    assert_eq!(sorter.sort(), vec!["b", "a", "c"]);

    sorter.remove("a");
    sorter.unallocated("b", &AGENT, &r("cpus:4;mem:4"));
    assert_eq!(sorter.sort(), vec!["b", "c"]);

    add_active(&mut sorter, "d");
    sorter.allocated("d", &AGENT, &(r("cpus:1;mem:5") + &shared));
    assert_eq!(sorter.sort(), vec!["b", "c", "d"]);
    assert!(sorter.contains("b"));
    assert!(!sorter.contains("a"));
    assert_eq!(sorter.count(), 3);
}

#[test]
fn same_dominant_shared_resources_across_clients() {
    let (mut sorter, shared) = shared_sorter(900.0, "100");
    add_active(&mut sorter, "b");
    sorter.allocated("b", &AGENT, &(r("cpus:5;mem:20") + &shared));
    add_active(&mut sorter, "c");
    sorter.allocated("c", &AGENT, &(r("cpus:10;mem:6") + &shared));
    assert_eq!(sorter.sort(), vec!["b", "c"]);
    add_active(&mut sorter, "a");
    sorter.allocated("a", &AGENT, &(r("cpus:50;mem:40") + &shared));
    assert_eq!(sorter.sort(), vec!["a", "b", "c"]);
}

#[test]
fn same_shared_resources_same_client() {
    let (mut sorter, shared) = shared_sorter(50.0, "950");
    add_active(&mut sorter, "a");
    sorter.allocated("a", &AGENT, &(r("cpus:2;mem:2") + &shared));
    add_active(&mut sorter, "b");
    sorter.allocated("b", &AGENT, &r("cpus:6;mem:6"));
    assert_eq!(sorter.sort(), vec!["a", "b"]);

    // More copies of the same shared volume do not change the share.
    let three = Resources::from(shared.clone()) + &shared + &shared;
    assert_eq!(three.count(&shared), 3);
    sorter.allocated("a", &AGENT, &three);
    assert_eq!(sorter.sort(), vec!["a", "b"]);
}

#[test]
fn shared_resources_unallocated() {
    let (mut sorter, shared) = shared_sorter(100.0, "900");
    add_active(&mut sorter, "a");
    let a = r("cpus:2;mem:2") + &shared + &shared + &shared;
    sorter.allocated("a", &AGENT, &a);
    add_active(&mut sorter, "b");
    sorter.allocated("b", &AGENT, &r("cpus:6;mem:6"));
    assert_eq!(sorter.sort(), vec!["b", "a"]);

    // Taking back one copy of three keeps the share.
    sorter.unallocated("a", &AGENT, &Resources::from(shared.clone()));
    assert_eq!(sorter.sort(), vec!["b", "a"]);

    // Taking back the last two drops it.
    sorter.unallocated("a", &AGENT, &(Resources::from(shared.clone()) + &shared));
    assert_eq!(sorter.sort(), vec!["a", "b"]);
}

#[test]
fn fairness_exclusion() {
    let mut sorter = drf("cpus:100;mem:100;gpus:1");
    sorter.initialize(Some(["gpus".to_owned()].into()));
    add_active(&mut sorter, "a");
    add_active(&mut sorter, "b");
    sorter.allocated("a", &AGENT, &r("cpus:1;mem:1;gpus:1"));
    sorter.allocated("b", &AGENT, &r("cpus:2;mem:2"));
    assert_eq!(sorter.sort(), vec!["a", "b"]);
}

/// The worked example of the DRF paper (Ghodsi et al., NSDI 2011): 9 CPUs and 18 GB;
/// user A's tasks need <1 CPU, 4 GB>, user B's <3 CPUs, 1 GB>. DRF gives A three tasks
/// and B two, equalizing dominant shares at 2/3.
#[test]
fn drf_paper_example() {
    let mut sorter = drf("cpus:9;mem:18");
    add_active(&mut sorter, "A");
    add_active(&mut sorter, "B");
    let task_a = r("cpus:1;mem:4");
    let task_b = r("cpus:3;mem:1");
    let mut free = r("cpus:9;mem:18");
    let mut tasks = std::collections::HashMap::<String, u32>::new();
    loop {
        let next = sorter.sort().into_iter().find(|client| {
            let task = if client == "A" { &task_a } else { &task_b };
            free.contains(task)
        });
        let Some(client) = next else { break };
        let task = if client == "A" { &task_a } else { &task_b };
        free -= task;
        sorter.allocated(&client, &AGENT, task);
        *tasks.entry(client).or_default() += 1;
    }
    assert_eq!(tasks["A"], 3);
    assert_eq!(tasks["B"], 2);
    assert_eq!(free, r("cpus:0;mem:4"));
    assert!((sorter.share("A") - 2.0 / 3.0).abs() < 1e-9);
    assert!((sorter.share("B") - 2.0 / 3.0).abs() < 1e-9);
}

#[test]
fn random_sorter_distribution() {
    // Upstream `RandomSorterTest.ProbabilityDistribution`.
    let mut sorter: RandomSorter<Agent> = RandomSorter::with_seed(0);
    let weights = [1.0, 2.0, 3.0, 4.0, 5.0];
    for (i, w) in weights.iter().enumerate() {
        add_active(&mut sorter, &i.to_string());
        sorter.update_weight(&i.to_string(), *w);
    }
    let runs = 1000;
    let mut counts = [[0usize; 5]; 5];
    for _ in 0..runs {
        for (pos, client) in sorter.sort().iter().enumerate() {
            counts[client.parse::<usize>().unwrap()][pos] += 1;
        }
    }
    let expected = [
        [0.07, 0.08, 0.12, 0.20, 0.54],
        [0.13, 0.16, 0.20, 0.28, 0.23],
        [0.20, 0.22, 0.24, 0.22, 0.12],
        [0.27, 0.26, 0.23, 0.17, 0.07],
        [0.33, 0.28, 0.21, 0.13, 0.04],
    ];
    for i in 0..5 {
        for j in 0..5 {
            let actual = counts[i][j] as f64 / runs as f64;
            assert!(
                (actual - expected[i][j]).abs() < 0.05,
                "[{i}][{j}] {actual}"
            );
        }
    }
}

#[test]
fn random_sorter_hierarchical_distribution() {
    // Upstream `RandomSorterTest.HierarchicalProbabilityDistribution`: the tree
    // a(1) -> {.(1), b(2)}, c(2) -> {d(1), e(2)}.
    let mut sorter: RandomSorter<Agent> = RandomSorter::with_seed(0);
    let clients = ["a", "a/b", "c/d", "c/e"];
    for c in clients {
        add_active(&mut sorter, c);
    }
    for (path, w) in [
        ("a", 1.0),
        ("a/b", 2.0),
        ("c", 2.0),
        ("c/d", 1.0),
        ("c/e", 2.0),
    ] {
        sorter.update_weight(path, w);
    }
    let runs = 10_000;
    let mut counts = [[0usize; 4]; 4];
    for _ in 0..runs {
        for (pos, client) in sorter.sort().iter().enumerate() {
            let i = clients.iter().position(|c| c == client).unwrap();
            counts[i][pos] += 1;
        }
    }
    let expected = [
        [0.11, 0.15, 0.23, 0.51],
        [0.22, 0.27, 0.30, 0.21],
        [0.22, 0.27, 0.30, 0.21],
        [0.44, 0.31, 0.18, 0.07],
    ];
    for i in 0..4 {
        for j in 0..4 {
            let actual = counts[i][j] as f64 / runs as f64;
            assert!(
                (actual - expected[i][j]).abs() < 0.05,
                "[{i}][{j}] {actual}"
            );
        }
    }
}

#[test]
fn random_sorter_skips_inactive() {
    let mut sorter: RandomSorter<Agent> = RandomSorter::new();
    add_active(&mut sorter, "a");
    add_active(&mut sorter, "b/c");
    sorter.add("b/d");
    sorter.deactivate("a");
    assert_eq!(sorter.sort(), vec!["b/c"]);
    sorter.activate("a");
    assert_eq!(sorted(sorter.sort()), vec!["a", "b/c"]);
}

#[test]
#[should_panic(expected = "unknown sorter client")]
fn unknown_client_panics() {
    let mut sorter = drf("cpus:1");
    sorter.allocated("nobody", &AGENT, &r("cpus:1"));
}

#[test]
#[should_panic(expected = "does not contain")]
fn unallocating_too_much_panics() {
    let mut sorter = drf("cpus:10");
    add_active(&mut sorter, "a");
    sorter.allocated("a", &AGENT, &r("cpus:1"));
    sorter.unallocated("a", &AGENT, &r("cpus:2"));
}

#[test]
fn ports_are_tracked_but_not_shared() {
    let mut sorter = drf("cpus:10");
    add_active(&mut sorter, "a");
    let ports = Resources::from(ranges("ports", &[(1, 10)]));
    sorter.allocated("a", &AGENT, &ports);
    assert_eq!(sorter.allocation_on("a", &AGENT), ports);
    assert!(sorter.allocation_scalar_quantities("a").is_empty());
    assert_eq!(sorter.share("a"), 0.0);
}

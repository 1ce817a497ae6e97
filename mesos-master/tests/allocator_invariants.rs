//! The allocator's bookkeeping under a long random (seeded, so repeatable) run of calls:
//! offers never exceed what an agent has left, and everything comes back.

mod allocator_support;

use std::collections::HashMap;
use std::time::Duration;

use allocator_support::*;
use mesos_core::resources::Resources;
use mesos_core::sorter::SplitMix64;
use mesos_master::allocator::{AgentId, FrameworkId};

/// What the test believes each framework holds on each agent (offers and tasks).
#[derive(Default)]
struct Model {
    offers: Vec<Offer>,
    tasks: Vec<Offer>,
}

impl Model {
    /// Everything held on `agent`, without allocation info.
    fn held_on(&self, agent: &AgentId) -> Resources {
        let mut held = Resources::new();
        for o in self
            .offers
            .iter()
            .chain(&self.tasks)
            .filter(|o| &o.agent == agent)
        {
            held += &o.resources;
        }
        held.unallocate();
        held
    }

    fn forget_agent(&mut self, agent: &AgentId) {
        self.offers.retain(|o| &o.agent != agent);
        self.tasks.retain(|o| &o.agent != agent);
    }
}

const AGENTS: [(&str, &str); 6] = [
    ("a1", "cpus:4;mem:4096;disk:1000;ports:[31000-32000]"),
    ("a2", "cpus:8;mem:8192"),
    ("a3", "cpus(a):2;mem(a):1024;cpus:2;mem:2048"),
    ("a4", "cpus(c):4;mem(c):4096"),
    ("a5", "cpus:1;mem:512;gpus:1"),
    ("a6", "cpus:16;mem:32768;disk:5000"),
];

#[test]
fn offers_never_exceed_what_agents_have_left() {
    for seed in [7, 11, 23, 42] {
        random_run(seed);
    }
}

/// A random run of calls, its choices drawn from `seed`.
fn random_run(seed: u64) {
    let h = Harness::new();
    let frameworks = [
        framework("f1", &["a"]),
        framework("f2", &["a", "b"]),
        framework("f3", &["b"]),
        framework("f4", &["c/d"]),
        framework_with(
            "f5",
            &["c"],
            &[mesos_core::v0::framework_info::capability::Type::GpuResources],
        ),
    ];
    for f in &frameworks {
        h.add_framework(f.clone());
    }
    let totals: HashMap<AgentId, Resources> = AGENTS
        .iter()
        .map(|(name, text)| (aid(name), res(text)))
        .collect();
    for (name, text) in AGENTS {
        h.add_agent(agent(name, text));
    }

    let mut rng = SplitMix64::new(seed);
    let mut model = Model::default();
    let mut offered_count = 0;
    for round in 0..200 {
        for offer in h.offers() {
            let mut mine = offer.resources.clone();
            mine.unallocate();
            let total = &totals[&offer.agent];
            let held = model.held_on(&offer.agent);
            assert!(
                total.contains(&(held.clone() + &mine)),
                "seed {seed}, round {round}: {offer:?} on top of {held} exceeds {total}"
            );
            offered_count += 1;
            model.offers.push(offer);
        }

        // Answer every outstanding offer: launch a task with it, or decline it.
        for offer in std::mem::take(&mut model.offers) {
            match rng.next_u64() % 4 {
                0 => {
                    h.allocator.transition_offered_to_allocated(
                        offer.agent.clone(),
                        offer.resources.clone(),
                    );
                    model.tasks.push(offer);
                }
                1 => h.decline(&offer, None),
                2 => h.decline(&offer, Some((rng.next_u64() % 4) as f64)),
                _ => h.decline(&offer, Some(0.0)),
            }
        }
        // Some tasks end.
        let tasks = std::mem::take(&mut model.tasks);
        for task in tasks {
            if rng.next_u64().is_multiple_of(3) {
                h.allocator.recover_resources(
                    task.framework.clone(),
                    task.agent.clone(),
                    task.resources.clone(),
                    None,
                    true,
                );
            } else {
                model.tasks.push(task);
            }
        }
        // Now and then an agent goes and comes back empty, a framework hides a while.
        match rng.next_u64() % 10 {
            0 => {
                let (name, text) = AGENTS[(rng.next_u64() % AGENTS.len() as u64) as usize];
                h.allocator.remove_agent(aid(name));
                model.forget_agent(&aid(name));
                h.add_agent(agent(name, text));
            }
            1 => {
                let f = &frameworks[(rng.next_u64() % frameworks.len() as u64) as usize];
                let id = FrameworkId::from(f.id.clone().unwrap());
                h.allocator.suppress_offers(id.clone(), roles(&[]));
                h.allocator.revive_offers(id, roles(&[]));
            }
            _ => {}
        }
        h.advance(Duration::from_secs(1));
    }
    assert!(
        offered_count > 200,
        "seed {seed}: only {offered_count} offers"
    );

    // Everything comes back: finish all tasks, decline what is offered without filters
    // until every filter has expired (3 seconds at most); then a run offers every agent
    // whole, with no revive to clear what the allocator remembers.
    for task in std::mem::take(&mut model.tasks) {
        h.allocator
            .recover_resources(task.framework, task.agent, task.resources, None, true);
    }
    for _ in 0..5 {
        for offer in h.offers() {
            h.decline(&offer, None);
        }
        h.advance(Duration::from_secs(1));
    }
    let mut offered: HashMap<AgentId, Resources> = HashMap::new();
    for offer in h.offers() {
        let mut r = offer.resources;
        r.unallocate();
        *offered.entry(offer.agent).or_default() += r;
    }
    assert_eq!(offered, totals, "seed {seed}");
    let metrics = h.metrics();
    assert_eq!(
        metrics.resources_offered_or_allocated,
        metrics.resources_total
    );
}

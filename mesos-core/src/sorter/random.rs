//! The random sorter (upstream `sorter/random/sorter.cpp`): clients in a weighted random
//! order, deterministic given a seed.
//!
//! Each active leaf gets a relative weight: its weight over the sum of its active
//! siblings' weights, times its parent's relative weight (a subtree counts as active if
//! it has an active leaf). [`Sorter::sort`] then does a weighted shuffle: item `i` gets
//! the key `u_i^(1/w_i)` for uniform `u_i`, and items are taken by decreasing key, which
//! is weighted sampling without replacement (Efraimidis & Spirakis, 2006).

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use crate::resources::{ResourceQuantities, Resources};

use super::Sorter;
use super::tree::{Kind, NodeId, ROOT, Tree};

/// A small deterministic generator (SplitMix64): good enough for shuffling, no IO.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Shuffles `items` so that items with larger `weights` tend to come first: weighted
/// random sampling without replacement.
///
/// # Panics
/// If the lengths differ or a weight is not positive.
pub fn weighted_shuffle<T>(items: &mut Vec<T>, weights: &[f64], rng: &mut SplitMix64) {
    assert_eq!(items.len(), weights.len(), "one weight per item");
    let mut keyed: Vec<(f64, T)> = std::mem::take(items)
        .into_iter()
        .zip(weights)
        .map(|(item, &w)| {
            assert!(w > 0.0, "weights must be positive, got {w}");
            (-rng.next_f64().powf(1.0 / w), item)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    items.extend(keyed.into_iter().map(|(_, item)| item));
}

/// The random sorter. `A` identifies agents (e.g. an `AgentId`).
#[derive(Debug, Clone)]
pub struct RandomSorter<A> {
    tree: Tree<A>,
    rng: SplitMix64,
    /// Whether `clients`/`weights` must be recomputed.
    dirty: bool,
    clients: Vec<String>,
    weights: Vec<f64>,
    totals: ResourceQuantities,
    agents: HashMap<A, ResourceQuantities>,
}

/// The seed of [`RandomSorter::new`].
pub const DEFAULT_SEED: u64 = 0x4d45_534f_5321;

impl<A: Eq + Hash + Clone + std::fmt::Debug> Default for RandomSorter<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Eq + Hash + Clone + std::fmt::Debug> RandomSorter<A> {
    /// A sorter seeded with [`DEFAULT_SEED`].
    pub fn new() -> Self {
        Self::with_seed(DEFAULT_SEED)
    }

    /// A sorter whose shuffles are determined by `seed`.
    pub fn with_seed(seed: u64) -> Self {
        RandomSorter {
            tree: Tree::new(),
            rng: SplitMix64::new(seed),
            dirty: true,
            clients: Vec::new(),
            weights: Vec::new(),
            totals: ResourceQuantities::new(),
            agents: HashMap::new(),
        }
    }

    /// Whether a subtree has an active leaf.
    fn is_active(&self, id: NodeId, active: &HashMap<NodeId, bool>) -> bool {
        match self.tree.node(id).kind {
            Kind::ActiveLeaf => true,
            Kind::InactiveLeaf => false,
            Kind::Internal => active.get(&id).copied().unwrap_or(false),
        }
    }

    fn mark_active(&self, id: NodeId, active: &mut HashMap<NodeId, bool>) -> bool {
        let node = self.tree.node(id);
        match node.kind {
            Kind::ActiveLeaf => true,
            Kind::InactiveLeaf => false,
            Kind::Internal => {
                let mut any = false;
                for &child in &node.children {
                    any |= self.mark_active(child, active);
                }
                active.insert(id, any);
                any
            }
        }
    }

    fn update_relative_weights(&mut self) {
        if !self.dirty {
            return;
        }
        let mut active = HashMap::new();
        self.mark_active(ROOT, &mut active);
        let mut clients = Vec::with_capacity(self.tree.clients.len());
        let mut weights = Vec::with_capacity(self.tree.clients.len());
        self.walk(ROOT, 1.0, &active, &mut clients, &mut weights);
        self.clients = clients;
        self.weights = weights;
        self.dirty = false;
    }

    fn walk(
        &self,
        id: NodeId,
        relative: f64,
        active: &HashMap<NodeId, bool>,
        clients: &mut Vec<String>,
        weights: &mut Vec<f64>,
    ) {
        let node = self.tree.node(id);
        if node.kind == Kind::ActiveLeaf {
            clients.push(self.tree.client_path(id).to_owned());
            weights.push(relative);
            return;
        }
        let total: f64 = node
            .children
            .iter()
            .filter(|&&c| self.is_active(c, active))
            .map(|&c| self.tree.node(c).weight)
            .sum();
        for &child in &node.children {
            if self.is_active(child, active) {
                let w = self.tree.node(child).weight;
                self.walk(child, relative * w / total, active, clients, weights);
            }
        }
    }
}

impl<A: Eq + Hash + Clone + std::fmt::Debug> Sorter<A> for RandomSorter<A> {
    fn initialize(&mut self, _fairness_exclude_resource_names: Option<BTreeSet<String>>) {}

    fn add(&mut self, client: &str) {
        self.tree.add(client);
        self.dirty = true;
    }

    fn remove(&mut self, client: &str) {
        self.tree.remove(client);
        self.dirty = true;
    }

    fn activate(&mut self, client: &str) {
        self.tree.activate(client);
        self.dirty = true;
    }

    fn deactivate(&mut self, client: &str) {
        self.tree.deactivate(client);
        self.dirty = true;
    }

    fn update_weight(&mut self, path: &str, weight: f64) {
        self.tree.update_weight(path, weight);
        self.dirty = true;
    }

    fn allocated(&mut self, client: &str, agent: &A, resources: &Resources) {
        let leaf = self.tree.expect(client);
        for id in self.tree.ancestry(leaf) {
            self.tree.node_mut(id).allocation.add(agent, resources);
        }
    }

    fn update(&mut self, client: &str, agent: &A, old: &Resources, new: &Resources) {
        let leaf = self.tree.expect(client);
        for id in self.tree.ancestry(leaf) {
            self.tree.node_mut(id).allocation.update(agent, old, new);
        }
    }

    fn unallocated(&mut self, client: &str, agent: &A, resources: &Resources) {
        let leaf = self.tree.expect(client);
        for id in self.tree.ancestry(leaf) {
            self.tree.node_mut(id).allocation.subtract(agent, resources);
        }
    }

    fn allocation(&self, client: &str) -> &HashMap<A, Resources> {
        &self
            .tree
            .node(self.tree.expect(client))
            .allocation
            .resources
    }

    fn allocation_on(&self, client: &str, agent: &A) -> Resources {
        self.allocation(client)
            .get(agent)
            .cloned()
            .unwrap_or_default()
    }

    fn allocation_scalar_quantities(&self, client: &str) -> &ResourceQuantities {
        &self.tree.node(self.tree.expect(client)).allocation.totals
    }

    fn total_allocation_scalar_quantities(&self) -> &ResourceQuantities {
        &self.tree.node(ROOT).allocation.totals
    }

    fn add_agent(&mut self, agent: A, scalar_quantities: ResourceQuantities) {
        self.totals += &scalar_quantities;
        let previous = self.agents.insert(agent.clone(), scalar_quantities);
        assert!(
            previous.is_none(),
            "agent {agent:?} added to the sorter twice"
        );
    }

    fn remove_agent(&mut self, agent: &A) {
        let quantities = self
            .agents
            .remove(agent)
            .unwrap_or_else(|| panic!("unknown agent {agent:?} removed from the sorter"));
        self.totals -= &quantities;
    }

    fn total_scalar_quantities(&self) -> &ResourceQuantities {
        &self.totals
    }

    fn sort(&mut self) -> Vec<String> {
        self.update_relative_weights();
        let mut clients = self.clients.clone();
        weighted_shuffle(&mut clients, &self.weights, &mut self.rng);
        clients
    }

    fn contains(&self, client: &str) -> bool {
        self.tree.find(client).is_some()
    }

    fn count(&self) -> usize {
        self.tree.clients.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_floats_in_range() {
        let mut rng = SplitMix64::new(1);
        for _ in 0..10_000 {
            let x = rng.next_f64();
            assert!((0.0..1.0).contains(&x));
        }
    }

    /// Upstream `WeightedShuffleTest.ProbabilityDistribution`.
    #[test]
    fn weighted_shuffle_distribution() {
        let mut rng = SplitMix64::new(0);
        let runs = 1000;
        let mut counts = [[0usize; 5]; 5];
        for _ in 0..runs {
            let mut items: Vec<usize> = (0..5).collect();
            weighted_shuffle(&mut items, &[1.0, 2.0, 3.0, 4.0, 5.0], &mut rng);
            for (pos, &item) in items.iter().enumerate() {
                counts[item][pos] += 1;
            }
        }
        let expected = [
            [0.07, 0.08, 0.12, 0.20, 0.54],
            [0.13, 0.16, 0.20, 0.28, 0.23],
            [0.20, 0.22, 0.24, 0.22, 0.12],
            [0.27, 0.26, 0.23, 0.17, 0.07],
            [0.33, 0.28, 0.21, 0.13, 0.04],
        ];
        for (i, row) in expected.iter().enumerate() {
            for (j, &want) in row.iter().enumerate() {
                let actual = counts[i][j] as f64 / runs as f64;
                assert!(
                    (actual - want).abs() < 0.05,
                    "item {i} at {j}: {actual} vs {want}"
                );
            }
        }
    }

    #[test]
    fn deterministic_given_seed() {
        let mut a: RandomSorter<u32> = RandomSorter::with_seed(7);
        let mut b: RandomSorter<u32> = RandomSorter::with_seed(7);
        for s in [&mut a, &mut b] {
            for c in ["a", "b", "c", "d/e", "d/f"] {
                s.add(c);
                s.activate(c);
            }
        }
        for _ in 0..10 {
            assert_eq!(a.sort(), b.sort());
        }
    }
}

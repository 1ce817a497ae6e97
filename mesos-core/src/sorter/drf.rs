//! The Dominant Resource Fairness sorter (upstream `sorter/drf/sorter.cpp`).
//!
//! A node's share is the largest, over resource names, of its allocated quantity over the
//! cluster total (scalars only; names excluded from fairness skipped), divided by its
//! weight. Siblings are ordered by share, then by fewer allocations, then by path; the
//! result of [`Sorter::sort`] is a pre-order walk of the active leaves.
//!
//! Cost: shares are cached. Changes that can reorder many nodes (totals, weights,
//! client set, recovered resources) only mark the tree *dirty*; the next `sort()`
//! recomputes every share and re-sorts each child list once. An allocation while the
//! tree is clean instead updates the shares along one path and moves each of those
//! nodes to its place among its siblings, so a clean `sort()` is a plain walk.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use crate::resources::{ResourceQuantities, Resources};

use super::Sorter;
use super::tree::{Kind, Node, NodeId, ROOT, Tree};

/// A client of a [`DrfSorter`], as [`DrfSorter::client_id`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId(NodeId);

/// The DRF sorter. `A` identifies agents (e.g. an `AgentId`).
#[derive(Debug, Clone)]
pub struct DrfSorter<A> {
    tree: Tree<A>,
    /// Whether shares and child order must be recomputed before the next sort.
    dirty: bool,
    /// Resource names left out of share computation.
    fairness_exclude: Option<BTreeSet<String>>,
    /// The cluster total.
    totals: ResourceQuantities,
    /// Each agent's contribution to the total.
    agents: HashMap<A, ResourceQuantities>,
}

impl<A: Eq + Hash + Clone + std::fmt::Debug> Default for DrfSorter<A> {
    fn default() -> Self {
        Self::new()
    }
}

/// The DRF order of two nodes: share, then allocation count, then path.
fn compare<A>(left: &Node<A>, right: &Node<A>) -> Ordering {
    left.share
        .total_cmp(&right.share)
        .then(left.allocation.count.cmp(&right.allocation.count))
        .then_with(|| left.path.cmp(&right.path))
}

impl<A: Eq + Hash + Clone + std::fmt::Debug> DrfSorter<A> {
    /// An empty sorter.
    pub fn new() -> Self {
        DrfSorter {
            tree: Tree::new(),
            dirty: false,
            fairness_exclude: None,
            totals: ResourceQuantities::new(),
            agents: HashMap::new(),
        }
    }

    /// The weighted dominant share of a node. Both quantities are sorted by name, so
    /// one merged walk finds each allocated name's total.
    fn calculate_share(&self, node: &Node<A>) -> f64 {
        let mut totals = self.totals.iter().peekable();
        let mut share = 0.0f64;
        for (name, mine) in node.allocation.totals.iter() {
            while totals.next_if(|(n, _)| *n < name).is_some() {}
            // A name without a total (e.g. its agents left) has no share.
            let Some((_, total)) = totals.next_if(|(n, _)| *n == name) else {
                continue;
            };
            if !total.is_positive() || !mine.is_positive() {
                continue;
            }
            if self
                .fairness_exclude
                .as_ref()
                .is_some_and(|names| names.contains(name))
            {
                continue;
            }
            share = share.max(mine.as_f64() / total.as_f64());
        }
        share / node.weight
    }

    /// The current share of a client (weighted), recomputed.
    ///
    /// # Panics
    /// If there is no such client.
    pub fn share(&self, client: &str) -> f64 {
        self.calculate_share(self.tree.node(self.tree.expect(client)))
    }

    /// The handle of a client for the calls that take one
    /// ([`DrfSorter::allocated_quantities`], ...): they skip the lookup by path. A handle
    /// stays valid until a client is added or removed (a client that becomes the parent
    /// of another moves to a new leaf).
    pub fn client_id(&self, client: &str) -> Option<ClientId> {
        self.tree.find(client).map(ClientId)
    }

    /// Records `quantities` allocated to a client without naming an agent: they count in
    /// its share and in [`Sorter::allocation_scalar_quantities`], but not in
    /// [`Sorter::allocation`]. For callers that keep the per-agent record themselves and
    /// only need the order (the allocator); shared resources are not told apart.
    pub fn allocated_quantities(&mut self, client: ClientId, quantities: &ResourceQuantities) {
        let mut id = client.0;
        loop {
            let node = self.tree.node_mut(id);
            node.allocation.count += 1;
            node.allocation.add_pooled(quantities);
            let (parent, kind) = (node.parent, node.kind);
            if id != ROOT && !self.dirty && kind != Kind::InactiveLeaf {
                self.bubble(id);
            }
            match parent {
                Some(parent) => id = parent,
                None => break,
            }
        }
    }

    /// Takes back quantities recorded by [`DrfSorter::allocated_quantities`].
    ///
    /// # Panics
    /// If they were not recorded for the client.
    pub fn unallocated_quantities(&mut self, client: ClientId, quantities: &ResourceQuantities) {
        let mut id = Some(client.0);
        while let Some(current) = id {
            let node = self.tree.node_mut(current);
            node.allocation.subtract_pooled(quantities);
            id = node.parent;
        }
        self.dirty = true;
    }

    /// Replaces quantities recorded by [`DrfSorter::allocated_quantities`] (a conversion
    /// of allocated resources); the allocation count does not change.
    ///
    /// # Panics
    /// If `old` was not recorded for the client.
    pub fn update_quantities(
        &mut self,
        client: ClientId,
        old: &ResourceQuantities,
        new: &ResourceQuantities,
    ) {
        let mut id = Some(client.0);
        while let Some(current) = id {
            let node = self.tree.node_mut(current);
            node.allocation.subtract_pooled(old);
            node.allocation.add_pooled(new);
            id = node.parent;
        }
        self.dirty = true;
    }

    /// The current share of a client (weighted), recomputed.
    pub fn share_of(&self, client: ClientId) -> f64 {
        self.calculate_share(self.tree.node(client.0))
    }

    /// The scalar quantities allocated to a client.
    pub fn quantities_of(&self, client: ClientId) -> &ResourceQuantities {
        &self.tree.node(client.0).allocation.totals
    }

    /// Recomputes all shares and re-sorts every child list.
    fn resort(&mut self, id: NodeId) {
        let mut children = std::mem::take(&mut self.tree.node_mut(id).children);
        let active = children
            .iter()
            .position(|&c| self.tree.node(c).kind == Kind::InactiveLeaf)
            .unwrap_or(children.len());
        for &child in &children[..active] {
            let share = self.calculate_share(self.tree.node(child));
            self.tree.node_mut(child).share = share;
        }
        children[..active].sort_by(|&a, &b| compare(self.tree.node(a), self.tree.node(b)));
        for &child in &children[..active] {
            if self.tree.node(child).kind == Kind::Internal {
                self.resort(child);
            }
        }
        self.tree.node_mut(id).children = children;
    }

    /// Recomputes the share of `id` and moves it to its place among its siblings.
    fn bubble(&mut self, id: NodeId) {
        let share = self.calculate_share(self.tree.node(id));
        self.tree.node_mut(id).share = share;
        let parent = self.tree.node(id).parent.expect("not the root");
        let mut children = std::mem::take(&mut self.tree.node_mut(parent).children);
        let mut pos = children
            .iter()
            .position(|&c| c == id)
            .expect("child of its parent");
        let node = self.tree.node(id);
        while pos > 0 && compare(node, self.tree.node(children[pos - 1])) == Ordering::Less {
            children.swap(pos, pos - 1);
            pos -= 1;
        }
        while pos + 1 < children.len() {
            let next = self.tree.node(children[pos + 1]);
            if next.kind == Kind::InactiveLeaf || compare(next, node) != Ordering::Less {
                break;
            }
            children.swap(pos, pos + 1);
            pos += 1;
        }
        self.tree.node_mut(parent).children = children;
    }
}

impl<A: Eq + Hash + Clone + std::fmt::Debug> Sorter<A> for DrfSorter<A> {
    fn initialize(&mut self, fairness_exclude_resource_names: Option<BTreeSet<String>>) {
        self.fairness_exclude = fairness_exclude_resource_names;
        self.dirty = true;
    }

    fn add(&mut self, client: &str) {
        self.tree.add(client);
        self.dirty = true;
    }

    fn remove(&mut self, client: &str) {
        self.tree.remove(client);
        self.dirty = true;
    }

    fn activate(&mut self, client: &str) {
        if self.tree.activate(client) {
            self.dirty = true;
        }
    }

    fn deactivate(&mut self, client: &str) {
        // Moving a leaf to the inactive tail keeps the others in order.
        self.tree.deactivate(client);
    }

    fn update_weight(&mut self, path: &str, weight: f64) {
        self.tree.update_weight(path, weight);
        self.dirty = true;
    }

    fn allocated(&mut self, client: &str, agent: &A, resources: &Resources) {
        let leaf = self.tree.expect(client);
        for id in self.tree.ancestry(leaf) {
            self.tree.node_mut(id).allocation.add(agent, resources);
            if id != ROOT && !self.dirty && self.tree.node(id).kind != Kind::InactiveLeaf {
                self.bubble(id);
            }
        }
    }

    fn update(&mut self, client: &str, agent: &A, old: &Resources, new: &Resources) {
        let leaf = self.tree.expect(client);
        for id in self.tree.ancestry(leaf) {
            self.tree.node_mut(id).allocation.update(agent, old, new);
        }
        self.dirty = true;
    }

    fn unallocated(&mut self, client: &str, agent: &A, resources: &Resources) {
        let leaf = self.tree.expect(client);
        for id in self.tree.ancestry(leaf) {
            self.tree.node_mut(id).allocation.subtract(agent, resources);
        }
        self.dirty = true;
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
        self.dirty = true;
    }

    fn remove_agent(&mut self, agent: &A) {
        let quantities = self
            .agents
            .remove(agent)
            .unwrap_or_else(|| panic!("unknown agent {agent:?} removed from the sorter"));
        self.totals -= &quantities;
        self.dirty = true;
    }

    fn total_scalar_quantities(&self) -> &ResourceQuantities {
        &self.totals
    }

    fn sort(&mut self) -> Vec<String> {
        if self.dirty {
            self.resort(ROOT);
            self.dirty = false;
        }
        self.tree.active_clients()
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

    fn q(text: &str) -> ResourceQuantities {
        ResourceQuantities::from_string(text).unwrap()
    }

    fn sorter(clients: &[&str]) -> DrfSorter<u32> {
        let mut sorter = DrfSorter::new();
        sorter.add_agent(0, q("cpus:10;mem:100"));
        for client in clients {
            sorter.add(client);
            sorter.activate(client);
        }
        sorter
    }

    #[test]
    fn quantities_count_like_allocations_on_agents() {
        let mut by_agent = sorter(&["a", "b"]);
        let mut pooled = sorter(&["a", "b"]);
        let resources = Resources::parse("cpus:2;mem:50", "*").unwrap();
        by_agent.allocated("a", &0, &resources);
        let a = pooled.client_id("a").unwrap();
        pooled.allocated_quantities(a, &q("cpus:2;mem:50"));
        assert_eq!(pooled.share_of(a), by_agent.share("a"));
        assert_eq!(pooled.share_of(a), 0.5);
        assert_eq!(pooled.sort(), by_agent.sort());
        assert_eq!(pooled.sort(), vec!["b", "a"]);
        // Counted in the quantities, not per agent.
        assert_eq!(
            pooled.allocation_scalar_quantities("a"),
            &q("cpus:2;mem:50")
        );
        assert!(pooled.allocation("a").is_empty());
        assert_eq!(
            pooled.total_allocation_scalar_quantities(),
            &q("cpus:2;mem:50")
        );

        pooled.update_quantities(a, &q("mem:50"), &q("mem:10"));
        assert_eq!(pooled.share_of(a), 0.2);
        pooled.unallocated_quantities(a, &q("cpus:2;mem:10"));
        assert_eq!(pooled.share_of(a), 0.0);
        assert!(pooled.quantities_of(a).is_empty());
    }

    #[test]
    fn pooled_quantities_leave_the_ancestors_with_their_client() {
        let mut sorter = sorter(&["eng/web", "eng/db", "ops"]);
        let web = sorter.client_id("eng/web").unwrap();
        let db = sorter.client_id("eng/db").unwrap();
        sorter.allocated_quantities(web, &q("cpus:6"));
        sorter.allocated_quantities(db, &q("cpus:1"));
        assert_eq!(sorter.sort(), vec!["ops", "eng/db", "eng/web"]);
        sorter.remove("eng/web");
        assert_eq!(sorter.total_allocation_scalar_quantities(), &q("cpus:1"));
        assert_eq!(sorter.sort(), vec!["ops", "eng/db"]);
    }

    #[test]
    #[should_panic(expected = "does not contain")]
    fn taking_back_more_than_was_recorded_panics() {
        let mut sorter = sorter(&["a"]);
        let a = sorter.client_id("a").unwrap();
        sorter.allocated_quantities(a, &q("cpus:1"));
        sorter.unallocated_quantities(a, &q("cpus:2"));
    }

    #[test]
    fn shares_skip_names_without_a_total_and_excluded_names() {
        let mut sorter = sorter(&["a"]);
        let a = sorter.client_id("a").unwrap();
        sorter.allocated_quantities(a, &q("cpus:1;disk:500;gpus:1;mem:20"));
        assert_eq!(sorter.share_of(a), 0.2);
        sorter.initialize(Some(["mem".to_owned()].into()));
        assert_eq!(sorter.share_of(a), 0.1);
    }
}

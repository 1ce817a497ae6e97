//! The client tree shared by the DRF and random sorters (upstream keeps two copies of
//! this logic in `drf/sorter.cpp` and `random/sorter.cpp`).
//!
//! A client path such as `eng/web` is a path in a tree rooted at an unnamed internal
//! node. Clients are always leaves. When a client is also the parent of another client
//! (`eng` and `eng/web` both added), the internal node `eng` gets a *virtual leaf* child
//! named `.` that stands for the client `eng` itself, so that `eng` competes with its
//! children as a sibling while the subtree `eng` competes with its own siblings.
//!
//! Invariants:
//! * every leaf is a client and `clients` maps each client path to its leaf;
//! * an internal node (other than the root) has at least one child, and never exactly
//!   one virtual leaf (it is collapsed back into a leaf);
//! * in every `children` list, inactive leaves come after everything else;
//! * a node's allocation is the sum of its children's (its own leaf's for a leaf).

use std::collections::HashMap;
use std::hash::Hash;

use crate::resources::{ResourceQuantities, Resources};

/// Index of a node in the arena.
pub(crate) type NodeId = usize;

/// The root's index.
pub(crate) const ROOT: NodeId = 0;

/// The label of virtual leaves.
const VIRTUAL: &str = ".";

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    ActiveLeaf,
    InactiveLeaf,
    Internal,
}

/// What has been allocated to a node (a client, or a subtree of clients).
#[derive(Debug, Clone)]
pub(crate) struct Allocation<A> {
    /// How many times resources were allocated (the DRF tie-breaker). Never decreases.
    pub(crate) count: u64,
    /// Per agent; shared resources appear once per copy allocated.
    pub(crate) resources: HashMap<A, Resources>,
    /// Scalar totals; a shared resource counts once however many copies. Includes
    /// `pooled`.
    pub(crate) totals: ResourceQuantities,
    /// Quantities recorded without an agent (`DrfSorter::allocated_quantities`): they
    /// count in `totals` but not in `resources`.
    pub(crate) pooled: ResourceQuantities,
}

impl<A> Default for Allocation<A> {
    fn default() -> Self {
        Allocation {
            count: 0,
            resources: HashMap::new(),
            totals: ResourceQuantities::new(),
            pooled: ResourceQuantities::new(),
        }
    }
}

impl<A: Eq + Hash + Clone + std::fmt::Debug> Allocation<A> {
    pub(crate) fn add(&mut self, agent: &A, to_add: &Resources) {
        let current = self.resources.entry(agent.clone()).or_default();
        let shared = to_add.shared();
        let quantities = if shared.is_empty() {
            ResourceQuantities::from_scalar_resources(to_add)
        } else {
            // A shared resource counts only when no copy of it is allocated yet.
            let new_shared = shared.filter(|r| !current.contains_resource(r));
            ResourceQuantities::from_scalar_resources(&(to_add.non_shared() + &new_shared))
        };
        *current += to_add;
        self.totals += &quantities;
        self.count += 1;
    }

    /// # Panics
    /// If `to_remove` is not allocated on `agent`.
    pub(crate) fn subtract(&mut self, agent: &A, to_remove: &Resources) {
        let current = self
            .resources
            .get_mut(agent)
            .unwrap_or_else(|| panic!("no allocation on agent {agent:?}"));
        assert!(
            current.contains(to_remove),
            "allocation {current} on agent {agent:?} does not contain {to_remove}"
        );
        *current -= to_remove;
        let shared = to_remove.shared();
        let quantities = if shared.is_empty() {
            ResourceQuantities::from_scalar_resources(to_remove)
        } else {
            // A shared resource stops counting when its last copy goes.
            let gone_shared = shared.filter(|r| !current.contains_resource(r));
            ResourceQuantities::from_scalar_resources(&(to_remove.non_shared() + &gone_shared))
        };
        debug_assert!(
            self.totals.contains(&quantities),
            "{} does not contain {quantities}",
            self.totals
        );
        self.totals -= &quantities;
        if current.is_empty() {
            self.resources.remove(agent);
        }
    }

    /// # Panics
    /// If `old` is not allocated on `agent`.
    pub(crate) fn update(&mut self, agent: &A, old: &Resources, new: &Resources) {
        let current = self
            .resources
            .get_mut(agent)
            .unwrap_or_else(|| panic!("no allocation on agent {agent:?}"));
        assert!(
            current.contains(old),
            "allocation {current} on agent {agent:?} does not contain {old}"
        );
        *current -= old;
        *current += new;
        if current.is_empty() {
            self.resources.remove(agent);
        }
        self.totals -= &ResourceQuantities::from_scalar_resources(old);
        self.totals += &ResourceQuantities::from_scalar_resources(new);
    }

    /// Adds quantities recorded without an agent.
    pub(crate) fn add_pooled(&mut self, quantities: &ResourceQuantities) {
        self.pooled += quantities;
        self.totals += quantities;
    }

    /// # Panics
    /// If `quantities` were not recorded without an agent.
    pub(crate) fn subtract_pooled(&mut self, quantities: &ResourceQuantities) {
        assert!(
            self.pooled.contains(quantities),
            "pooled allocation {} does not contain {quantities}",
            self.pooled
        );
        self.pooled -= quantities;
        self.totals -= quantities;
    }
}

/// A node of the tree.
#[derive(Debug, Clone)]
pub(crate) struct Node<A> {
    /// The edge label from the parent; `.` for virtual leaves.
    pub(crate) name: String,
    /// The path from the root, including a trailing `/.` for virtual leaves.
    pub(crate) path: String,
    /// The DRF share (weighted), valid when the tree is not dirty. Unused by the root.
    pub(crate) share: f64,
    /// The weight of `path` (1.0 unless set).
    pub(crate) weight: f64,
    pub(crate) kind: Kind,
    pub(crate) parent: Option<NodeId>,
    pub(crate) children: Vec<NodeId>,
    pub(crate) allocation: Allocation<A>,
}

impl<A> Node<A> {
    pub(crate) fn is_leaf(&self) -> bool {
        self.kind != Kind::Internal
    }
}

/// The tree of clients.
#[derive(Debug, Clone)]
pub(crate) struct Tree<A> {
    nodes: Vec<Option<Node<A>>>,
    free: Vec<NodeId>,
    /// Client path → leaf.
    pub(crate) clients: HashMap<String, NodeId>,
    /// Weights by path, including paths not (yet) in the tree.
    weights: HashMap<String, f64>,
}

/// The weight of a path without an explicit one.
pub(crate) const DEFAULT_WEIGHT: f64 = 1.0;

impl<A: Eq + Hash + Clone + std::fmt::Debug> Tree<A> {
    pub(crate) fn new() -> Self {
        let root = Node {
            name: String::new(),
            path: String::new(),
            share: 0.0,
            weight: DEFAULT_WEIGHT,
            kind: Kind::Internal,
            parent: None,
            children: Vec::new(),
            allocation: Allocation::default(),
        };
        Tree {
            nodes: vec![Some(root)],
            free: Vec::new(),
            clients: HashMap::new(),
            weights: HashMap::new(),
        }
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node<A> {
        self.nodes[id].as_ref().expect("live node")
    }

    pub(crate) fn node_mut(&mut self, id: NodeId) -> &mut Node<A> {
        self.nodes[id].as_mut().expect("live node")
    }

    /// The client a leaf stands for (its parent's path for a virtual leaf).
    pub(crate) fn client_path(&self, id: NodeId) -> &str {
        let node = self.node(id);
        if node.name == VIRTUAL {
            &self
                .node(node.parent.expect("virtual leaves have parents"))
                .path
        } else {
            &node.path
        }
    }

    /// The leaf of a client.
    pub(crate) fn find(&self, client: &str) -> Option<NodeId> {
        self.clients.get(client).copied()
    }

    /// The leaf of a client.
    ///
    /// # Panics
    /// If there is no such client.
    pub(crate) fn expect(&self, client: &str) -> NodeId {
        self.find(client)
            .unwrap_or_else(|| panic!("unknown sorter client '{client}'"))
    }

    fn new_node(&mut self, name: &str, kind: Kind, parent: NodeId) -> NodeId {
        let parent_node = self.node(parent);
        let path = if parent == ROOT {
            name.to_owned()
        } else {
            format!("{}/{name}", parent_node.path)
        };
        let weight = self.weights.get(&path).copied().unwrap_or(DEFAULT_WEIGHT);
        let node = Node {
            name: name.to_owned(),
            path,
            share: 0.0,
            weight,
            kind,
            parent: Some(parent),
            children: Vec::new(),
            allocation: Allocation::default(),
        };
        match self.free.pop() {
            Some(id) => {
                self.nodes[id] = Some(node);
                id
            }
            None => {
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        }
    }

    /// Inserts `child` into `parent`'s children: at the front unless it is an inactive
    /// leaf, which goes to the back. Callers keep the DRF order (e.g. by marking dirty).
    pub(crate) fn add_child(&mut self, parent: NodeId, child: NodeId) {
        let inactive = self.node(child).kind == Kind::InactiveLeaf;
        let children = &mut self.node_mut(parent).children;
        debug_assert!(!children.contains(&child));
        if inactive {
            children.push(child);
        } else {
            children.insert(0, child);
        }
    }

    pub(crate) fn remove_child(&mut self, parent: NodeId, child: NodeId) {
        let children = &mut self.node_mut(parent).children;
        let i = children
            .iter()
            .position(|&c| c == child)
            .expect("child of its parent");
        children.remove(i);
    }

    /// Moves a node to where its (new) kind belongs among its siblings.
    pub(crate) fn reposition(&mut self, id: NodeId) {
        let parent = self.node(id).parent.expect("not the root");
        self.remove_child(parent, id);
        self.add_child(parent, id);
    }

    /// Adds an inactive client.
    ///
    /// # Panics
    /// If the client exists, or the path has an empty component.
    pub(crate) fn add(&mut self, client: &str) {
        assert!(
            !self.clients.contains_key(client),
            "sorter client '{client}' added twice"
        );
        let tokens: Vec<&str> = client.split('/').collect();
        assert!(
            tokens.iter().all(|t| !t.is_empty() && *t != VIRTUAL),
            "invalid sorter client path '{client}'"
        );
        let mut current = ROOT;
        let mut i = 0;
        loop {
            if i == tokens.len() {
                // The client is an existing internal node: add its virtual leaf.
                let leaf = self.new_node(VIRTUAL, Kind::InactiveLeaf, current);
                self.add_child(current, leaf);
                current = leaf;
                break;
            }
            if self.node(current).is_leaf() {
                // A client becomes the parent of another: turn its leaf into an internal
                // node with a virtual leaf for the client itself.
                let old_kind = self.node(current).kind;
                self.node_mut(current).kind = Kind::Internal;
                self.reposition(current);
                let leaf = self.new_node(VIRTUAL, old_kind, current);
                self.node_mut(leaf).allocation = self.node(current).allocation.clone();
                self.add_child(current, leaf);
                let path = self.client_path(leaf).to_owned();
                self.clients.insert(path, leaf);
                break;
            }
            let token = tokens[i];
            let next = self
                .node(current)
                .children
                .iter()
                .copied()
                .find(|&c| self.node(c).name == token);
            match next {
                Some(child) => {
                    current = child;
                    i += 1;
                }
                None => break,
            }
        }
        for (j, token) in tokens.iter().enumerate().skip(i) {
            let kind = if j + 1 == tokens.len() {
                Kind::InactiveLeaf
            } else {
                Kind::Internal
            };
            let child = self.new_node(token, kind, current);
            self.add_child(current, child);
            current = child;
        }
        debug_assert_eq!(self.node(current).kind, Kind::InactiveLeaf);
        debug_assert_eq!(self.client_path(current), client);
        self.clients.insert(client.to_owned(), current);
    }

    /// Removes a client, its allocation from its ancestors, and internal nodes left
    /// without a purpose.
    ///
    /// # Panics
    /// If there is no such client.
    pub(crate) fn remove(&mut self, client: &str) {
        let mut current = self.expect(client);
        self.clients.remove(client);
        let allocation = std::mem::take(&mut self.node_mut(current).allocation.resources);
        let pooled = std::mem::take(&mut self.node_mut(current).allocation.pooled);
        while current != ROOT {
            let parent = self.node(current).parent.expect("not the root");
            for (agent, resources) in &allocation {
                self.node_mut(parent).allocation.subtract(agent, resources);
            }
            if !pooled.is_empty() {
                self.node_mut(parent).allocation.subtract_pooled(&pooled);
            }
            let children = self.node(current).children.clone();
            if children.is_empty() {
                self.remove_child(parent, current);
                self.nodes[current] = None;
                self.free.push(current);
            } else if let [only] = children[..]
                && self.node(only).name == VIRTUAL
            {
                // Collapse the virtual leaf back into its parent.
                let kind = self.node(only).kind;
                self.node_mut(current).kind = kind;
                self.node_mut(current).children.clear();
                self.nodes[only] = None;
                self.free.push(only);
                self.reposition(current);
                let path = self.node(current).path.clone();
                self.clients.insert(path, current);
            }
            current = parent;
        }
    }

    /// Marks a client active; returns whether it was inactive.
    pub(crate) fn activate(&mut self, client: &str) -> bool {
        let id = self.expect(client);
        if self.node(id).kind == Kind::InactiveLeaf {
            self.node_mut(id).kind = Kind::ActiveLeaf;
            self.reposition(id);
            true
        } else {
            false
        }
    }

    /// Marks a client inactive; returns whether it was active.
    pub(crate) fn deactivate(&mut self, client: &str) -> bool {
        let id = self.expect(client);
        if self.node(id).kind == Kind::ActiveLeaf {
            self.node_mut(id).kind = Kind::InactiveLeaf;
            self.reposition(id);
            true
        } else {
            false
        }
    }

    /// Sets the weight of a path (a client or an internal node, present or not).
    pub(crate) fn update_weight(&mut self, path: &str, weight: f64) {
        self.weights.insert(path.to_owned(), weight);
        let mut current = ROOT;
        for token in path.split('/') {
            match self
                .node(current)
                .children
                .iter()
                .copied()
                .find(|&c| self.node(c).name == token)
            {
                Some(child) => current = child,
                None => return,
            }
        }
        if current != ROOT {
            self.node_mut(current).weight = weight;
        }
    }

    /// The chain of nodes from a client's leaf up to the root, inclusive.
    pub(crate) fn ancestry(&self, leaf: NodeId) -> Vec<NodeId> {
        let mut chain = vec![leaf];
        let mut current = leaf;
        while let Some(parent) = self.node(current).parent {
            chain.push(parent);
            current = parent;
        }
        chain
    }

    /// The active leaves in pre-order, children in their stored order.
    pub(crate) fn active_clients(&self) -> Vec<String> {
        let mut result = Vec::with_capacity(self.clients.len());
        self.collect_active(ROOT, &mut result);
        result
    }

    fn collect_active(&self, id: NodeId, result: &mut Vec<String>) {
        for &child in &self.node(id).children {
            match self.node(child).kind {
                Kind::ActiveLeaf => result.push(self.client_path(child).to_owned()),
                Kind::InactiveLeaf => return,
                Kind::Internal => self.collect_active(child, result),
            }
        }
    }
}

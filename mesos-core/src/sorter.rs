//! The sorters behind the hierarchical allocator: they decide in which order clients
//! (roles, then frameworks within a role) are offered resources (upstream
//! `src/master/allocator/mesos/sorter/sorter.hpp`). No IO.
//!
//! Clients are `/`-separated paths (`eng/web`), so roles form a tree: siblings compete
//! with each other and a subtree's allocation is the sum of its clients'. A client may
//! also be the parent of another (`eng` and `eng/web`); it then competes with its
//! children inside the subtree `eng`.
//!
//! * [`DrfSorter`]: Dominant Resource Fairness with weights, ties broken by fewer
//!   allocations, then by name.
//! * [`RandomSorter`]: a weighted random order, deterministic given a seed.
//!
//! Both track what is allocated to each client per agent (`A` identifies agents), and
//! the scalar totals of each agent. Misuse (an unknown client, a client added twice,
//! unallocating what is not allocated, an agent added twice) is a broken invariant of
//! the caller and panics, as upstream's `CHECK`s abort.

mod drf;
mod random;
mod tree;

use std::collections::{BTreeSet, HashMap};

use crate::resources::{ResourceQuantities, Resources};

pub use drf::{ClientId, DrfSorter};
pub use random::{DEFAULT_SEED, RandomSorter, SplitMix64, weighted_shuffle};

/// What the allocator needs from a sorter. `A` identifies agents.
pub trait Sorter<A> {
    /// Sets the resource names left out of fair sharing (e.g. `gpus`); DRF only.
    fn initialize(&mut self, fairness_exclude_resource_names: Option<BTreeSet<String>>);

    /// Adds an inactive client.
    ///
    /// # Panics
    /// If the client exists already or the path has an empty component.
    fn add(&mut self, client: &str);

    /// Removes a client and its allocation.
    fn remove(&mut self, client: &str);

    /// Makes a client take part in `sort()`; a no-op if it does already.
    fn activate(&mut self, client: &str);

    /// Leaves a client out of `sort()` (its allocation still counts); a no-op if it is
    /// inactive already.
    fn deactivate(&mut self, client: &str);

    /// Sets the weight of a path: a client, or an internal node of the tree, present now
    /// or added later. The default weight is 1.
    fn update_weight(&mut self, path: &str, weight: f64);

    /// Records that `resources` on `agent` were allocated to `client`.
    fn allocated(&mut self, client: &str, agent: &A, resources: &Resources);

    /// Replaces part of an allocation (e.g. a volume created out of allocated disk).
    ///
    /// # Panics
    /// If `old` is not allocated to `client` on `agent`.
    fn update(&mut self, client: &str, agent: &A, old: &Resources, new: &Resources);

    /// Records that `resources` on `agent` were taken back from `client`.
    ///
    /// # Panics
    /// If they are not allocated to `client` on `agent`.
    fn unallocated(&mut self, client: &str, agent: &A, resources: &Resources);

    /// What is allocated to `client`, per agent.
    fn allocation(&self, client: &str) -> &HashMap<A, Resources>;

    /// What is allocated to `client` on `agent`.
    fn allocation_on(&self, client: &str, agent: &A) -> Resources;

    /// The scalar quantities allocated to `client` (a shared resource counts once).
    fn allocation_scalar_quantities(&self, client: &str) -> &ResourceQuantities;

    /// The scalar quantities allocated to all clients.
    fn total_allocation_scalar_quantities(&self) -> &ResourceQuantities;

    /// Adds an agent's scalar quantities to the pool shares are computed against. To
    /// change an agent's total, remove it and add it again.
    ///
    /// # Panics
    /// If the agent was added already.
    fn add_agent(&mut self, agent: A, scalar_quantities: ResourceQuantities);

    /// Removes an agent's quantities from the pool.
    ///
    /// # Panics
    /// If the agent is unknown.
    fn remove_agent(&mut self, agent: &A);

    /// The pool: the sum of the agents' quantities.
    fn total_scalar_quantities(&self) -> &ResourceQuantities;

    /// The active clients in the order they should be offered resources.
    fn sort(&mut self) -> Vec<String>;

    /// Whether `client` is in the sorter, active or not.
    fn contains(&self, client: &str) -> bool;

    /// The number of clients, active or not.
    fn count(&self) -> usize;
}

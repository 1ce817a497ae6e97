//! `SortedClients`: a DRF sorter (mesos-core's [`DrfSorter`]) plus the order of its active
//! clients as small keys, kept current through an allocation run without re-sorting.
//!
//! An allocation run walks, for every agent, the roles and then each role's frameworks in
//! DRF order, and every offer changes that order. Asking the sorter for its order after
//! each offer costs one `String` per client; at 10,000 agents and 1,000 frameworks that is
//! ten million strings a run. Instead this wrapper keeps the order as keys with each
//! client's DRF sort key (weighted dominant share, allocation count, path) and, when the
//! client at a known position is allocated more, moves just that client to its new place,
//! as the sorter itself does (`bubble`): in a flat tree (no client path contains `/`) an
//! allocation changes only that client's share, and only upwards, so it only ever moves
//! towards the back. Everything else (removals, recovered resources, new totals, weights)
//! marks the order stale and the next read rebuilds it from [`Sorter::sort`].
//!
//! The sorter itself is left unsorted meanwhile: after each rebuild the wrapper
//! re-initializes it with the same option, which marks its tree for a full re-sort at the
//! next `sort()`, so that its `allocated` only does the bookkeeping and skips its own
//! linear move of the client.
//!
//! Allocations are recorded as scalar quantities per client, not per agent (the
//! allocator's agents keep that record): a share needs only the amounts. The sorter is
//! reached through its client handles ([`ClientId`]), never by path, so recording an
//! offer costs no string, no hash of a name and no copy of `Resources`. (One difference
//! from upstream: a shared volume offered to several frameworks counts for each. Shared
//! volumes are not offered yet.)
//!
//! Invariant: when not stale, `order` lists the sorter's active clients exactly as
//! `sorter.sort()` would (checked after every incremental move in debug builds).

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;

use mesos_core::resources::ResourceQuantities;
use mesos_core::sorter::{ClientId, DrfSorter, Sorter};

/// One active client in the order, with its DRF sort key.
#[derive(Debug, Clone, Copy)]
struct Slot<K> {
    key: K,
    share: f64,
    count: u64,
}

/// What the wrapper knows of a client.
#[derive(Debug, Clone)]
struct Client {
    name: String,
    /// Its handle in the sorter.
    id: ClientId,
    /// Allocations recorded for it (the sorter's tie-breaker).
    count: u64,
}

/// A DRF sorter whose clients are also known by a key `K`; `A` identifies agents.
#[derive(Debug)]
pub(crate) struct SortedClients<K, A> {
    sorter: DrfSorter<A>,
    /// The sorter's option, to re-initialize it with (see [`SortedClients::refresh`]).
    fairness_exclude: Option<BTreeSet<String>>,
    clients: foldhash::HashMap<K, Client>,
    by_name: foldhash::HashMap<String, K>,
    /// A deque: a client taken near the front usually moves near the back, and a deque
    /// shifts whichever side is shorter.
    order: VecDeque<Slot<K>>,
    stale: bool,
    /// Clients whose path has a `/`: while there are any, allocations re-sort.
    nested: usize,
    /// Counts changes to the set of active clients.
    membership: u64,
}

impl<K, A> SortedClients<K, A>
where
    K: Copy + Eq + Hash + Debug,
    A: Eq + Hash + Clone + Debug,
{
    /// An empty sorter; `fairness_exclude` names resources left out of shares.
    pub(crate) fn new(fairness_exclude: Option<BTreeSet<String>>) -> Self {
        let mut sorter = DrfSorter::new();
        sorter.initialize(fairness_exclude.clone());
        SortedClients {
            sorter,
            fairness_exclude,
            clients: foldhash::HashMap::default(),
            by_name: foldhash::HashMap::default(),
            order: VecDeque::new(),
            stale: true,
            nested: 0,
            membership: 0,
        }
    }

    /// Adds an inactive client.
    pub(crate) fn add(&mut self, key: K, name: &str) {
        self.membership += 1;
        self.sorter.add(name);
        let reshaped = self.nested > 0 || name.contains('/');
        if name.contains('/') {
            self.nested += 1;
        }
        let id = self.sorter.client_id(name).expect("just added");
        let previous = self.clients.insert(
            key,
            Client {
                name: name.to_owned(),
                id,
                count: 0,
            },
        );
        debug_assert!(previous.is_none(), "client {key:?} added twice");
        self.by_name.insert(name.to_owned(), key);
        self.stale = true;
        if reshaped {
            self.resolve_ids();
        }
    }

    /// Looks every client's handle up again: adding or removing a client in a tree with
    /// nested paths may move another client to a new leaf.
    fn resolve_ids(&mut self) {
        for client in self.clients.values_mut() {
            client.id = self
                .sorter
                .client_id(&client.name)
                .expect("a sorter client");
        }
    }

    /// Removes a client and its allocation.
    pub(crate) fn remove(&mut self, key: K) {
        self.membership += 1;
        let client = self.clients.remove(&key).expect("a known sorter client");
        self.sorter.remove(&client.name);
        self.by_name.remove(&client.name);
        let reshaped = self.nested > 0;
        if client.name.contains('/') {
            self.nested -= 1;
        }
        self.stale = true;
        if reshaped {
            self.resolve_ids();
        }
    }

    /// Changes whenever a client is added, removed, activated or deactivated.
    pub(crate) fn membership(&self) -> u64 {
        self.membership
    }

    pub(crate) fn contains(&self, key: K) -> bool {
        self.clients.contains_key(&key)
    }

    fn name(&self, key: K) -> &str {
        &self.clients[&key].name
    }

    pub(crate) fn activate(&mut self, key: K) {
        self.membership += 1;
        let name = &self.clients[&key].name;
        self.sorter.activate(name);
        self.stale = true;
    }

    pub(crate) fn deactivate(&mut self, key: K) {
        self.membership += 1;
        let name = &self.clients[&key].name;
        self.sorter.deactivate(name);
        self.stale = true;
    }

    pub(crate) fn update_weight(&mut self, path: &str, weight: f64) {
        self.sorter.update_weight(path, weight);
        self.stale = true;
    }

    pub(crate) fn add_agent(&mut self, agent: A, quantities: ResourceQuantities) {
        self.sorter.add_agent(agent, quantities);
        self.stale = true;
    }

    pub(crate) fn remove_agent(&mut self, agent: A) {
        self.sorter.remove_agent(&agent);
        self.stale = true;
    }

    /// Records an allocation to `key`; the order is rebuilt on the next read.
    pub(crate) fn allocated(&mut self, key: K, quantities: &ResourceQuantities) {
        let client = self.clients.get_mut(&key).expect("a known sorter client");
        client.count += 1;
        self.sorter.allocated_quantities(client.id, quantities);
        self.stale = true;
    }

    /// Records an allocation to `key`, keeping the order current if it can: a linear
    /// search for `key`'s position, for sorters with few clients (roles).
    pub(crate) fn allocated_find(&mut self, key: K, quantities: &ResourceQuantities) {
        let position = if self.stale || self.nested > 0 {
            None
        } else {
            self.order.iter().position(|slot| slot.key == key)
        };
        match position {
            Some(position) => self.allocated_at(position, quantities),
            None => self.allocated(key, quantities),
        }
    }

    /// Records an allocation to the client at `position` of the current order (as read
    /// by [`SortedClients::at`]) and moves it to its new place; the clients after
    /// `position` move up by one until that place.
    pub(crate) fn allocated_at(&mut self, position: usize, quantities: &ResourceQuantities) {
        let key = self.order[position].key;
        if self.stale || self.nested > 0 {
            self.allocated(key, quantities);
            return;
        }
        let client = self.clients.get_mut(&key).expect("a known sorter client");
        client.count += 1;
        let (count, id) = (client.count, client.id);
        self.sorter.allocated_quantities(id, quantities);
        let share = self.sorter.share_of(id);
        let moved = Slot { key, share, count };
        // The new key is larger than the old one (more allocations, no smaller share), so
        // every client before `position` still sorts before it: its place is the first
        // after the clients that sort before it.
        self.order.remove(position);
        let target = self
            .order
            .partition_point(|slot| self.compare(slot, &moved) == Ordering::Less);
        debug_assert!(target >= position);
        self.order.insert(target, moved);
        self.debug_check();
    }

    /// The DRF order: share, then allocation count, then path.
    fn compare(&self, left: &Slot<K>, right: &Slot<K>) -> Ordering {
        left.share
            .total_cmp(&right.share)
            .then(left.count.cmp(&right.count))
            .then_with(|| self.name(left.key).cmp(self.name(right.key)))
    }

    pub(crate) fn unallocated(&mut self, key: K, quantities: &ResourceQuantities) {
        let id = self.clients[&key].id;
        self.sorter.unallocated_quantities(id, quantities);
        self.stale = true;
    }

    pub(crate) fn update(&mut self, key: K, old: &ResourceQuantities, new: &ResourceQuantities) {
        let id = self.clients[&key].id;
        self.sorter.update_quantities(id, old, new);
        self.stale = true;
    }

    /// Whether anything is allocated to `key`.
    pub(crate) fn has_allocation(&self, key: K) -> bool {
        !self.sorter.quantities_of(self.clients[&key].id).is_empty()
    }

    /// The weighted dominant share of `key`.
    pub(crate) fn share(&self, key: K) -> f64 {
        self.sorter.share_of(self.clients[&key].id)
    }

    /// The active client at `position` of the DRF order, if any.
    pub(crate) fn at(&mut self, position: usize) -> Option<K> {
        self.refresh();
        self.order.get(position).map(|slot| slot.key)
    }

    /// The active clients in DRF order.
    pub(crate) fn keys(&mut self) -> impl Iterator<Item = K> + '_ {
        self.refresh();
        self.order.iter().map(|slot| slot.key)
    }

    /// Whether an allocation keeps the order current (see [`SortedClients::allocated_at`])
    /// rather than making the next read re-sort.
    pub(crate) fn is_flat(&self) -> bool {
        self.nested == 0
    }

    fn refresh(&mut self) {
        if !self.stale {
            return;
        }
        let names = self.sorter.sort();
        self.order.clear();
        self.order.reserve(names.len());
        for name in &names {
            let key = self.by_name[name];
            self.order.push_back(Slot {
                key,
                share: self.sorter.share(name),
                count: self.clients[&key].count,
            });
        }
        self.stale = false;
        self.defer_sorting();
    }

    /// Re-initializing the sorter with the same option changes nothing but marks its
    /// tree for a full re-sort at the next `sort()` (see mesos-core's `DrfSorter`); until
    /// then its `allocated` skips moving the client among its siblings (a linear walk),
    /// since this wrapper keeps the order itself.
    fn defer_sorting(&mut self) {
        self.sorter.initialize(self.fairness_exclude.clone());
    }

    #[cfg(debug_assertions)]
    fn debug_check(&mut self) {
        let expected = self.sorter.sort();
        let actual: Vec<&str> = self.order.iter().map(|s| self.name(s.key)).collect();
        assert_eq!(actual, expected, "incremental DRF order diverged");
        self.defer_sorting();
    }

    #[cfg(not(debug_assertions))]
    fn debug_check(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_core::resources::Resources;
    use mesos_core::resources::resource::scalar;

    fn cpus(n: f64) -> ResourceQuantities {
        ResourceQuantities::from_scalar_resources(&Resources::from(scalar("cpus", n)))
    }

    fn sorted(n: usize) -> SortedClients<usize, u32> {
        let mut s = SortedClients::new(None);
        s.add_agent(0, ResourceQuantities::from_string("cpus:100").unwrap());
        for i in 0..n {
            s.add(i, &format!("c{i}"));
            s.activate(i);
        }
        s
    }

    #[test]
    fn incremental_moves_match_the_sorter() {
        let mut s = sorted(5);
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        // Allocating to the first moves it to the back of the equal shares.
        s.allocated_at(0, &cpus(1.0));
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![1, 2, 3, 4, 0]);
        s.allocated_at(0, &cpus(2.0));
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![2, 3, 4, 0, 1]);
        // Resources coming back re-sort lazily.
        s.unallocated(1, &cpus(2.0));
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![2, 3, 4, 1, 0]);
        s.deactivate(3);
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![2, 4, 1, 0]);
        s.allocated_at(2, &cpus(0.5));
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![2, 4, 1, 0]);
    }

    #[test]
    fn weights_count_in_the_incremental_order() {
        let mut s = sorted(3);
        s.update_weight("c0", 4.0);
        s.keys().count();
        s.allocated_at(0, &cpus(4.0)); // c0: 0.04 / 4 = 0.01
        s.allocated_at(0, &cpus(2.0)); // c1: 0.02
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![2, 0, 1]);
    }

    #[test]
    fn nested_clients_fall_back_to_sorting() {
        let mut s: SortedClients<usize, u32> = SortedClients::new(None);
        s.add_agent(0, ResourceQuantities::from_string("cpus:10").unwrap());
        for (i, name) in ["a/x", "a/y", "b"].iter().enumerate() {
            s.add(i, name);
            s.activate(i);
        }
        assert!(!s.is_flat());
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![0, 1, 2]);
        s.allocated_at(0, &cpus(1.0));
        // Subtree `a` now has a larger share than `b`.
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![2, 1, 0]);
    }
}

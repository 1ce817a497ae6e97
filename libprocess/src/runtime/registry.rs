//! The registry of live processes of one runtime, by id, and the id generator.
//!
//! Sharded so that spawning and terminating from several workers do not contend on one lock.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry as TableEntry;
use parking_lot::Mutex;

use crate::runtime::cell::AnyCell;

const SHARDS: usize = 16;

/// A live process and the hash of its id (kept so that removal neither rehashes nor compares
/// strings: it finds the entry by hash and compares cell pointers).
struct Entry {
    hash: u64,
    cell: Arc<dyn AnyCell>,
}

impl Entry {
    fn is(&self, cell: *const ()) -> bool {
        std::ptr::eq(Arc::as_ptr(&self.cell) as *const (), cell)
    }
}

type Shard = Mutex<HashTable<Entry>>;

pub(crate) struct Registry {
    hasher: RandomState,
    shards: Box<[Shard]>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            hasher: RandomState::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashTable::new())).collect(),
        }
    }

    /// The hash under which a process with this id is registered.
    pub(crate) fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    fn shard(&self, hash: u64) -> &Shard {
        &self.shards[(hash >> 7) as usize % SHARDS]
    }

    /// Adds a process whose id hashes to `hash`; false if its id is taken.
    pub(crate) fn insert(&self, hash: u64, cell: Arc<dyn AnyCell>) -> bool {
        let mut shard = self.shard(hash).lock();
        let entry = shard.entry(hash, |e| e.cell.upid().id() == cell.upid().id(), |e| e.hash);
        match entry {
            TableEntry::Occupied(_) => false,
            TableEntry::Vacant(vacant) => {
                vacant.insert(Entry { hash, cell });
                true
            }
        }
    }

    /// Removes the process `cell` (a pointer to it), registered under `hash`.
    pub(crate) fn remove(&self, hash: u64, cell: *const ()) {
        let mut shard = self.shard(hash).lock();
        if let Ok(entry) = shard.find_entry(hash, |e| e.is(cell)) {
            entry.remove();
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<dyn AnyCell>> {
        let hash = self.hash(id);
        self.shard(hash)
            .lock()
            .find(hash, |e| e.cell.upid().id() == id)
            .map(|e| e.cell.clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub(crate) fn all(&self) -> Vec<Arc<dyn AnyCell>> {
        self.shards
            .iter()
            .flat_map(|s| s.lock().iter().map(|e| e.cell.clone()).collect::<Vec<_>>())
            .collect()
    }
}

/// Generates process ids as libprocess's `ID::generate`: `prefix(N)`, counting per prefix.
pub(crate) struct IdGenerator {
    anonymous: AtomicU64,
    prefixed: Mutex<HashMap<String, u64>>,
}

impl IdGenerator {
    pub(crate) fn new() -> Self {
        IdGenerator {
            anonymous: AtomicU64::new(0),
            prefixed: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn generate(&self, prefix: &str) -> String {
        let mut id = String::with_capacity(prefix.len() + 22);
        self.generate_into(prefix, &mut id);
        id
    }

    /// Appends a fresh id to `out` (no allocation beyond `out`'s).
    pub(crate) fn generate_into(&self, prefix: &str, out: &mut String) {
        let n = if prefix.is_empty() {
            self.anonymous.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            let mut prefixed = self.prefixed.lock();
            let counter = match prefixed.get_mut(prefix) {
                Some(counter) => counter,
                None => prefixed.entry(prefix.to_string()).or_insert(0),
            };
            *counter += 1;
            *counter
        };
        out.push_str(prefix);
        out.push('(');
        out.push_str(itoa::Buffer::new().format(n));
        out.push(')');
    }
}

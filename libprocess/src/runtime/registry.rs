//! The registry of live processes of one runtime, by id, and the id generator.
//!
//! Sharded so that spawning and terminating from several workers do not contend on one lock.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use foldhash::fast::RandomState;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::pid::Upid;
use crate::runtime::cell::AnyCell;

const SHARDS: usize = 16;

/// A registry key: a `Upid` compared and hashed by its id alone.
struct Key(Upid);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.0.id() == other.0.id()
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.id().hash(state)
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.0.id()
    }
}

type Shard = Mutex<HashMap<Key, Arc<dyn AnyCell>, RandomState>>;

pub(crate) struct Registry {
    hasher: RandomState,
    shards: Box<[Shard]>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            hasher: RandomState::default(),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(RandomState::default())))
                .collect(),
        }
    }

    fn shard(&self, id: &str) -> &Shard {
        let hash = self.hasher.hash_one(id);
        &self.shards[(hash as usize) % SHARDS]
    }

    /// Adds a process; false if its id is taken.
    pub(crate) fn insert(&self, cell: Arc<dyn AnyCell>) -> bool {
        let upid = cell.upid().clone();
        let mut shard = self.shard(upid.id()).lock();
        if shard.contains_key(upid.id()) {
            return false;
        }
        shard.insert(Key(upid), cell);
        true
    }

    pub(crate) fn remove(&self, upid: &Upid) {
        self.shard(upid.id()).lock().remove(upid.id());
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<dyn AnyCell>> {
        self.shard(id).lock().get(id).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub(crate) fn all(&self) -> Vec<Arc<dyn AnyCell>> {
        self.shards
            .iter()
            .flat_map(|s| s.lock().values().cloned().collect::<Vec<_>>())
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

//! The registry in ZooKeeper (`--registry=replicated_log` with `--zk`): one versioned blob
//! under `<zk path>/registry`, shared by the masters, through
//! [`mesos_zookeeper::ZkVersionedStore`].
//!
//! Writes are fenced: the storage remembers the version it last read or wrote and stores
//! only if nothing was written since. A master deposed while it was not looking (another
//! one recovered and wrote) gets [`StorageError::Conflict`] and can never overwrite the
//! newer registry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mesos_core::registry::Registry;
use mesos_zookeeper::{StoreError, StoreVersion, ZkUrl, ZkVersionedStore};
use prost::Message;

use super::storage::{Storage, StorageError, StorageFuture};

/// The registry kept in ZooKeeper.
#[derive(Clone)]
pub struct ZooKeeperStorage {
    store: ZkVersionedStore,
    url: ZkUrl,
    /// The version this storage last read or wrote (`None`: nothing stored yet).
    version: Arc<Mutex<Option<StoreVersion>>>,
}

impl std::fmt::Debug for ZooKeeperStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZooKeeperStorage")
            .field("url", &self.url.to_string())
            .field("version", &*self.version.lock().expect("not poisoned"))
            .finish()
    }
}

impl ZooKeeperStorage {
    /// The registry at `url` (e.g. `zk://host:2181/mesos/registry`).
    pub fn new(url: ZkUrl, session_timeout: Duration) -> ZooKeeperStorage {
        ZooKeeperStorage {
            store: ZkVersionedStore::new(url.clone(), session_timeout),
            url,
            version: Arc::new(Mutex::new(None)),
        }
    }

    /// The version last read or written.
    pub fn version(&self) -> Option<StoreVersion> {
        *self.version.lock().expect("not poisoned")
    }
}

fn storage_error(error: StoreError) -> StorageError {
    match error {
        error @ StoreError::Conflict { .. } => StorageError::Conflict(error.to_string()),
        error => StorageError::Unavailable(error.to_string()),
    }
}

impl Storage for ZooKeeperStorage {
    fn fetch(&mut self) -> StorageFuture<Option<Registry>> {
        let version = self.version.clone();
        let url = self.url.to_string();
        self.store.fetch().map(move |fetched| {
            let Some((data, stored)) = fetched.map_err(storage_error)? else {
                *version.lock().expect("not poisoned") = None;
                return Ok(None);
            };
            let registry = Registry::decode(data.as_ref()).map_err(|e| StorageError::Corrupt {
                path: url.into(),
                reason: e.to_string(),
            })?;
            *version.lock().expect("not poisoned") = Some(stored);
            Ok(Some(registry))
        })
    }

    fn store(&mut self, registry: &Registry) -> StorageFuture<()> {
        let expected = *self.version.lock().expect("not poisoned");
        let version = self.version.clone();
        let data = Bytes::from(registry.encode_to_vec());
        self.store.store(data, expected).map(move |stored| {
            let stored = stored.map_err(storage_error)?;
            *version.lock().expect("not poisoned") = Some(stored);
            Ok(())
        })
    }
}

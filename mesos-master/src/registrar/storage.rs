//! Where the registry is kept: the [`Storage`] trait, a [`FileStorage`] in the master's work
//! directory (the default for a single master) and an [`InMemoryStorage`]. Storage is
//! asynchronous (answers are [`Future`]s) so that a remote store (ZooKeeper, for several
//! masters) never blocks a worker; the local ones answer at once.
//!
//! The file holds a small header (magic, length, FNV-1a checksum) and the encoded `Registry`.
//! It is replaced atomically: a temporary file is written and synced, renamed over the old
//! one, and the directory is synced, so a crash leaves either the old or the new registry.
//! A truncated or corrupt file is an error, never an empty registry.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use libprocess::Future;
use mesos_core::registry::Registry;
use prost::Message;
use thiserror::Error;

const MAGIC: &[u8; 8] = b"MESOSREG";
const HEADER: usize = 8 + 8 + 8;

/// Why the registry could not be read or written.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Reading or writing the file failed.
    #[error("registry file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The file does not hold a whole registry.
    #[error("registry file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Someone else (another master) stored a registry since this one was read: the write
    /// was refused and this copy of the registry is stale for good.
    #[error("registry write refused: {0}")]
    Conflict(String),
    /// The store could not be reached or failed.
    #[error("registry store unavailable: {0}")]
    Unavailable(String),
}

impl StorageError {
    /// Whether another writer took over the registry (a fenced, stale writer).
    pub fn is_conflict(&self) -> bool {
        matches!(self, StorageError::Conflict(_))
    }
}

/// The answer of a [`Storage`] call.
pub type StorageFuture<T> = Future<Result<T, StorageError>>;

/// Keeps the registry (upstream `mesos::state::Storage` under the registrar).
/// The registrar makes one call at a time (it waits for each answer before the next).
pub trait Storage: Send + 'static {
    /// The stored registry, `None` if none was ever stored.
    fn fetch(&mut self) -> StorageFuture<Option<Registry>>;
    /// Replaces the stored registry.
    fn store(&mut self, registry: &Registry) -> StorageFuture<()>;
}

/// A registry kept in memory (`--registry=in_memory`): lost with the master.
#[derive(Debug, Default)]
pub struct InMemoryStorage {
    registry: Option<Registry>,
}

impl Storage for InMemoryStorage {
    fn fetch(&mut self) -> StorageFuture<Option<Registry>> {
        Future::ready(Ok(self.registry.clone()))
    }

    fn store(&mut self, registry: &Registry) -> StorageFuture<()> {
        self.registry = Some(registry.clone());
        Future::ready(Ok(()))
    }
}

/// A registry kept in one file, replaced atomically.
#[derive(Debug)]
pub struct FileStorage {
    path: PathBuf,
}

impl FileStorage {
    /// Storage in the file `path` (its directory is created on the first store).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStorage { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> StorageError {
        StorageError::Io {
            path: self.path.clone(),
            source: Arc::new(source),
        }
    }

    fn corrupt(&self, reason: impl Into<String>) -> StorageError {
        StorageError::Corrupt {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }
}

/// FNV-1a, 64 bits: enough to tell a torn or damaged file from a whole one.
fn checksum(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl Storage for FileStorage {
    fn fetch(&mut self) -> StorageFuture<Option<Registry>> {
        Future::ready(self.fetch_now())
    }

    fn store(&mut self, registry: &Registry) -> StorageFuture<()> {
        Future::ready(self.store_now(registry))
    }
}

impl FileStorage {
    /// Reads the file now.
    pub fn fetch_now(&self) -> Result<Option<Registry>, StorageError> {
        let data = match fs::read(&self.path) {
            Ok(data) => data,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(self.io(error)),
        };
        if data.len() < HEADER || &data[..8] != MAGIC {
            return Err(self.corrupt("no registry header"));
        }
        let length = u64::from_le_bytes(data[8..16].try_into().expect("8 bytes")) as usize;
        let sum = u64::from_le_bytes(data[16..24].try_into().expect("8 bytes"));
        let payload = &data[HEADER..];
        if payload.len() != length {
            return Err(self.corrupt(format!(
                "expected {length} bytes of registry, found {}",
                payload.len()
            )));
        }
        if checksum(payload) != sum {
            return Err(self.corrupt("checksum mismatch"));
        }
        Registry::decode(payload)
            .map(Some)
            .map_err(|error| self.corrupt(error.to_string()))
    }

    /// Replaces the file now.
    pub fn store_now(&self, registry: &Registry) -> Result<(), StorageError> {
        let dir = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        fs::create_dir_all(&dir).map_err(|e| self.io(e))?;
        let payload = registry.encode_to_vec();
        let mut data = Vec::with_capacity(HEADER + payload.len());
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        data.extend_from_slice(&checksum(&payload).to_le_bytes());
        data.extend_from_slice(&payload);

        let mut temp = self.path.clone().into_os_string();
        temp.push(".tmp");
        let temp = PathBuf::from(temp);
        let mut file = File::create(&temp).map_err(|e| self.io(e))?;
        file.write_all(&data).map_err(|e| self.io(e))?;
        file.sync_all().map_err(|e| self.io(e))?;
        drop(file);
        fs::rename(&temp, &self.path).map_err(|e| self.io(e))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| self.io(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_core::registry::Weight;
    use mesos_core::v0;

    fn registry() -> Registry {
        Registry {
            weights: vec![Weight {
                info: v0::WeightInfo {
                    weight: 2.0,
                    role: Some("a".into()),
                },
            }],
            ..Default::default()
        }
    }

    #[test]
    fn stores_and_fetches_atomically() {
        let dir = std::env::temp_dir().join(format!("registry-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let storage = FileStorage::new(dir.join("registry"));
        assert_eq!(storage.fetch_now().unwrap(), None);
        storage.store_now(&registry()).unwrap();
        assert_eq!(storage.fetch_now().unwrap(), Some(registry()));
        assert!(!dir.join("registry.tmp").exists());

        // A torn file is an error, not an empty registry.
        let data = fs::read(dir.join("registry")).unwrap();
        fs::write(dir.join("registry"), &data[..data.len() - 1]).unwrap();
        let error = storage.fetch_now().unwrap_err().to_string();
        assert!(error.contains("corrupt"), "{error}");
        // So is a flipped byte.
        let mut flipped = data.clone();
        *flipped.last_mut().unwrap() ^= 0xff;
        fs::write(dir.join("registry"), &flipped).unwrap();
        assert!(
            storage
                .fetch_now()
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        fs::write(dir.join("registry"), b"garbage").unwrap();
        assert!(storage.fetch_now().is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}

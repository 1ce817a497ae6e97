//! A versioned blob in ZooKeeper of any size: the master's registry, shared by the masters.
//!
//! Layout under the store's path (the *head* znode):
//! - the head's data names the current generation: `{"generation": "<uuid>", "chunks": n,
//!   "length": bytes, "crc32": checksum}` in JSON; empty while nothing was ever stored;
//! - `chunk-<uuid>-<index>` children hold the generation's bytes, at most [`CHUNK_SIZE`] each
//!   (ZooKeeper refuses requests near 1 MB, `jute.maxbuffer`);
//! - `writer-<uuid>` is an ephemeral child that lives while a writer writes that generation.
//!
//! A store writes the new generation's chunks, then commits with one transaction that checks
//! the head's version (the [`StoreVersion`] the writer expects) and that every chunk exists, and
//! sets the head to name the new generation. A deposed writer's commit fails on the version, so
//! it can never replace a newer blob ([`StoreError::Conflict`]). After a commit, chunks of other
//! generations are deleted unless their writer is still at work (its `writer-` znode exists):
//! the previous generation, and the orphans of writers that failed or died.
//!
//! A fetch reads the head, then the chunks, and checks length and checksum: a missing or torn
//! chunk is [`StoreError::Corrupt`], never an empty blob. (A chunk deleted by a newer commit
//! while we read makes the fetch start again from the new head.)

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use libprocess::Future;
use parking_lot::Mutex;
use tracing::{debug, warn};
use zookeeper_client as zk;

use crate::session;
use crate::url::ZkUrl;

/// The largest chunk znode we write.
pub const CHUNK_SIZE: usize = 512 * 1024;

/// How often a fetch starts over when a newer commit replaced the chunks it was reading.
const FETCH_ATTEMPTS: usize = 5;

/// The version of a stored blob: the head znode's data version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreVersion(i32);

impl StoreVersion {
    /// The head znode's data version.
    pub fn get(self) -> i32 {
        self.0
    }
}

impl std::fmt::Display for StoreVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Somebody stored since the version the writer expected; nothing was changed.
    #[error(
        "the stored version is {actual:?}, not the expected {expected:?}: written by someone else"
    )]
    Conflict {
        expected: Option<StoreVersion>,
        actual: Option<StoreVersion>,
    },
    /// What is stored cannot be read back whole (a chunk missing or torn, a bad head).
    #[error("the stored data is corrupt: {0}")]
    Corrupt(String),
    /// ZooKeeper failed the operation (connection lost, session expired, not authorized ...).
    #[error("ZooKeeper: {0}")]
    ZooKeeper(String),
}

impl From<zk::Error> for StoreError {
    fn from(error: zk::Error) -> StoreError {
        StoreError::ZooKeeper(error.to_string())
    }
}

/// A versioned blob at a URL's path.
#[derive(Clone)]
pub struct ZkVersionedStore {
    inner: Arc<Inner>,
}

struct Inner {
    url: ZkUrl,
    session_timeout: Duration,
    /// The session, opened on first use and again once it expired.
    client: tokio::sync::Mutex<Option<zk::Client>>,
    /// Operations run one at a time, in the order they were called.
    order: Mutex<Option<Future<()>>>,
}

/// The head znode's data.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Head {
    generation: String,
    chunks: usize,
    length: usize,
    crc32: u32,
}

impl Head {
    fn encode(&self) -> Vec<u8> {
        serde_json::json!({
            "generation": self.generation,
            "chunks": self.chunks,
            "length": self.length,
            "crc32": self.crc32,
        })
        .to_string()
        .into_bytes()
    }

    fn decode(data: &[u8]) -> Result<Head, StoreError> {
        let corrupt = |why: &str| StoreError::Corrupt(format!("bad head znode: {why}"));
        let value: serde_json::Value =
            serde_json::from_slice(data).map_err(|e| corrupt(&e.to_string()))?;
        let generation = value["generation"]
            .as_str()
            .filter(|g| !g.is_empty() && !g.contains('/') && !g.contains('-'))
            .ok_or_else(|| corrupt("no generation"))?;
        let number = |key: &str| {
            value[key]
                .as_u64()
                .ok_or_else(|| corrupt(&format!("no '{key}'")))
        };
        let head = Head {
            generation: generation.to_owned(),
            chunks: number("chunks")? as usize,
            length: number("length")? as usize,
            crc32: u32::try_from(number("crc32")?).map_err(|_| corrupt("'crc32' out of range"))?,
        };
        if head.chunks != head.length.div_ceil(CHUNK_SIZE) {
            return Err(corrupt("chunk count does not match the length"));
        }
        Ok(head)
    }
}

fn chunk_name(generation: &str, index: usize) -> String {
    format!("chunk-{generation}-{index:06}")
}

fn writer_name(generation: &str) -> String {
    format!("writer-{generation}")
}

/// The generation a `chunk-` child belongs to.
fn chunk_generation(child: &str) -> Option<&str> {
    let rest = child.strip_prefix("chunk-")?;
    rest.rsplit_once('-').map(|(generation, _)| generation)
}

impl ZkVersionedStore {
    /// A store at `url.path()` (created when first written).
    pub fn new(url: ZkUrl, session_timeout: Duration) -> ZkVersionedStore {
        ZkVersionedStore {
            inner: Arc::new(Inner {
                url,
                session_timeout,
                client: tokio::sync::Mutex::new(None),
                order: Mutex::new(None),
            }),
        }
    }

    /// The stored blob and its version; `None` when nothing was ever stored.
    pub fn fetch(&self) -> Future<Result<Option<(Bytes, StoreVersion)>, StoreError>> {
        let inner = self.inner.clone();
        self.in_order(async move {
            let client = inner.client().await?;
            fetch(&client, &inner.url).await
        })
    }

    /// Writes `data` if nothing was written since `expected` (`None`: only if never written).
    /// Ready with the new version, or [`StoreError::Conflict`] when the stored version is not
    /// `expected` (nothing changed then).
    pub fn store(
        &self,
        data: Bytes,
        expected: Option<StoreVersion>,
    ) -> Future<Result<StoreVersion, StoreError>> {
        let inner = self.inner.clone();
        self.in_order(async move {
            let client = inner.client().await?;
            store(&client, &inner.url, data, expected).await
        })
    }

    /// Runs `task` after the operations called before it.
    fn in_order<T, F>(&self, task: F) -> Future<T>
    where
        T: Clone + Send + Sync + 'static,
        F: std::future::Future<Output = T> + Send + 'static,
    {
        let mut order = self.inner.order.lock();
        let before = order.take();
        let result = session::run(async move {
            if let Some(before) = before {
                let _ = before.await;
            }
            task.await
        });
        *order = Some(result.map(|_| ()));
        result
    }
}

impl Inner {
    /// The session, opened (again) when there is none or it ended.
    async fn client(&self) -> Result<zk::Client, StoreError> {
        let mut client = self.client.lock().await;
        if let Some(open) = client.as_ref()
            && !session::is_terminal(open.state())
        {
            return Ok(open.clone());
        }
        let open = session::connect(&self.url, self.session_timeout).await?;
        *client = Some(open.clone());
        Ok(open)
    }
}

async fn fetch(
    client: &zk::Client,
    url: &ZkUrl,
) -> Result<Option<(Bytes, StoreVersion)>, StoreError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (data, stat) = match client.get_data(url.path()).await {
            Ok(found) => found,
            Err(zk::Error::NoNode) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        if data.is_empty() {
            return Ok(None);
        }
        let head = Head::decode(&data)?;
        let version = StoreVersion(stat.version);
        let reads: Vec<_> = (0..head.chunks)
            .map(|index| client.get_data(&url.child_path(&chunk_name(&head.generation, index))))
            .collect();
        let mut blob = BytesMut::with_capacity(head.length);
        let mut missing = None;
        for (index, read) in reads.into_iter().enumerate() {
            match read.await {
                Ok((chunk, _)) => blob.extend_from_slice(&chunk),
                Err(zk::Error::NoNode) => {
                    missing.get_or_insert(index);
                }
                Err(error) => return Err(error.into()),
            }
        }
        if let Some(index) = missing {
            // Replaced by a newer commit while we read? Then read the new one.
            let now = client
                .check_stat(url.path())
                .await?
                .map(|stat| stat.version);
            if now != Some(version.0) && attempts < FETCH_ATTEMPTS {
                continue;
            }
            return Err(StoreError::Corrupt(format!(
                "chunk {index} of {} of generation {} is missing",
                head.chunks, head.generation
            )));
        }
        if blob.len() != head.length {
            return Err(StoreError::Corrupt(format!(
                "read {} bytes, the head says {}",
                blob.len(),
                head.length
            )));
        }
        if crc32(&blob) != head.crc32 {
            return Err(StoreError::Corrupt("checksum mismatch".to_owned()));
        }
        debug!(bytes = head.length, %version, "fetched");
        return Ok(Some((blob.freeze(), version)));
    }
}

async fn store(
    client: &zk::Client,
    url: &ZkUrl,
    data: Bytes,
    expected: Option<StoreVersion>,
) -> Result<StoreVersion, StoreError> {
    // The head, created empty when missing.
    let (current, stat) = loop {
        match client.get_data(url.path()).await {
            Ok(found) => break found,
            Err(zk::Error::NoNode) => session::ensure_path(client, url, url.path()).await?,
            Err(error) => return Err(error.into()),
        }
    };
    let actual = (!current.is_empty()).then_some(StoreVersion(stat.version));
    if actual != expected {
        return Err(StoreError::Conflict { expected, actual });
    }
    let generation = stout::uuid::Uuid::random().to_string().replace('-', "");
    let head = Head {
        generation: generation.clone(),
        chunks: data.len().div_ceil(CHUNK_SIZE),
        length: data.len(),
        crc32: crc32(&data),
    };
    let acls = session::acls(url);
    let writer = url.child_path(&writer_name(&generation));
    client
        .create(&writer, &[], &zk::CreateMode::Ephemeral.with_acls(acls))
        .await?;
    let result = write_and_commit(client, url, &data, &head, stat.version).await;
    if let Err(error) = client.delete(&writer, None).await {
        debug!(%error, znode = %writer, "cannot delete the writer znode");
    }
    match result {
        Ok(version) => {
            debug!(bytes = head.length, chunks = head.chunks, %version, "stored");
            if let Err(error) = clean(client, url).await {
                warn!(%error, store = url.path(), "cannot delete old chunks");
            }
            Ok(version)
        }
        Err(error) => {
            // Our chunks are orphans now; the next successful store deletes them.
            let _ = clean_generation(client, url, &generation, head.chunks).await;
            match error {
                CommitError::Version => {
                    let actual = client
                        .check_stat(url.path())
                        .await
                        .ok()
                        .flatten()
                        .map(|stat| StoreVersion(stat.version));
                    Err(StoreError::Conflict { expected, actual })
                }
                CommitError::ZooKeeper(error) => Err(error.into()),
            }
        }
    }
}

enum CommitError {
    Version,
    ZooKeeper(zk::Error),
}

async fn write_and_commit(
    client: &zk::Client,
    url: &ZkUrl,
    data: &Bytes,
    head: &Head,
    head_version: i32,
) -> Result<StoreVersion, CommitError> {
    let options = zk::CreateMode::Persistent.with_acls(session::acls(url));
    let names: Vec<String> = (0..head.chunks)
        .map(|index| url.child_path(&chunk_name(&head.generation, index)))
        .collect();
    // Sent in order now, answered as they complete.
    let creates: Vec<_> = data
        .chunks(CHUNK_SIZE)
        .zip(&names)
        .map(|(chunk, name)| client.create(name, chunk, &options))
        .collect();
    for create in creates {
        create.await.map_err(CommitError::ZooKeeper)?;
    }
    let mut commit = client.new_multi_writer();
    let encoded = head.encode();
    let mut build = || -> Result<(), zk::Error> {
        for name in &names {
            commit.add_check_version(name, 0)?;
        }
        commit.add_set_data(url.path(), &encoded, Some(head_version))?;
        Ok(())
    };
    build().map_err(CommitError::ZooKeeper)?;
    match commit.commit().await {
        Ok(results) => match results.last() {
            Some(zk::MultiWriteResult::SetData { stat }) => Ok(StoreVersion(stat.version)),
            _ => Err(CommitError::ZooKeeper(zk::Error::UnexpectedError(
                "the commit's answer has no new version".to_owned(),
            ))),
        },
        Err(zk::MultiWriteError::OperationFailed {
            source: zk::Error::BadVersion,
            ..
        }) => Err(CommitError::Version),
        Err(error) => Err(CommitError::ZooKeeper(error.into())),
    }
}

/// Deletes the chunks of every generation but the current one whose writer is gone.
async fn clean(client: &zk::Client, url: &ZkUrl) -> Result<(), zk::Error> {
    // The listing first, the head after: a generation committed after the listing had its
    // writer znode listed, so it is kept.
    let children = client.list_children(url.path()).await?;
    let (data, _) = client.get_data(url.path()).await?;
    let current = Head::decode(&data).map(|head| head.generation).ok();
    let writers: Vec<&str> = children
        .iter()
        .filter_map(|child| child.strip_prefix("writer-"))
        .collect();
    let deletes: Vec<_> = children
        .iter()
        .filter(|child| {
            chunk_generation(child).is_some_and(|generation| {
                Some(generation) != current.as_deref() && !writers.contains(&generation)
            })
        })
        .map(|child| client.delete(&url.child_path(child), None))
        .collect();
    for delete in deletes {
        match delete.await {
            Ok(()) | Err(zk::Error::NoNode) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Deletes one generation's chunks (best effort).
async fn clean_generation(
    client: &zk::Client,
    url: &ZkUrl,
    generation: &str,
    chunks: usize,
) -> Result<(), zk::Error> {
    let deletes: Vec<_> = (0..chunks)
        .map(|index| client.delete(&url.child_path(&chunk_name(generation, index)), None))
        .collect();
    for delete in deletes {
        match delete.await {
            Ok(()) | Err(zk::Error::NoNode) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// CRC-32 (IEEE 802.3, the one of zlib and gzip).
fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u32; 256];
        for (n, entry) in table.iter_mut().enumerate() {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *entry = c;
        }
        table
    });
    !data.iter().fold(!0u32, |crc, byte| {
        table[((crc ^ u32::from(*byte)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn head_round_trips_and_rejects_nonsense() {
        let head = Head {
            generation: "abc".into(),
            chunks: 3,
            length: 2 * CHUNK_SIZE + 1,
            crc32: 7,
        };
        assert_eq!(Head::decode(&head.encode()).unwrap(), head);
        assert!(matches!(Head::decode(b"{}"), Err(StoreError::Corrupt(_))));
        let wrong = Head { chunks: 1, ..head };
        assert!(matches!(
            Head::decode(&wrong.encode()),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn chunk_names_give_their_generation_back() {
        assert_eq!(chunk_generation(&chunk_name("g1", 12)), Some("g1"));
        assert_eq!(chunk_generation("writer-g1"), None);
    }
}

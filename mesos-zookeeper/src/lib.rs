//! ZooKeeper for Mesos: how several masters elect a leader and share their registry.
//!
//! - [`ZkUrl`]: `zk://[user:pass@]host1:2181,host2:2181/path`, as Mesos's `--zk` and
//!   `--master=zk://...` take it.
//! - [`ZkMasterContender`]: a master's candidacy. It joins the group at the URL's path as an
//!   ephemeral sequential znode `json.info_NNNNNNNNNN` holding its `MasterInfo` in Mesos's JSON
//!   mapping, exactly what Apache Mesos writes, so pymesos, kazoo scripts and Mesos's own
//!   detectors find our leader too.
//! - [`ZkMasterDetector`]: who leads: the `json.info_*` child with the lowest sequence; every
//!   other child is ignored.
//! - [`ZkVersionedStore`]: a versioned blob of any size (the master's registry), split into
//!   chunk znodes and committed by a version-checked transaction on a head znode.
//!
//! The ZooKeeper client (`zookeeper-client`, tokio based) runs on a small tokio runtime of this
//! crate's own (one IO thread, started on first use), so every call can be made from a process
//! handler, a plain thread or a test alike; results come back as [`libprocess::Future`]s.
//!
//! Sessions follow Mesos: losing the connection is tolerated while the session lives (the
//! client reconnects by itself); an **expired** session loses the candidacy and makes a
//! detector report "no leader" and start over with a new session.
//!
//! With the `testing` feature, [`testing`] starts a real ZooKeeper server for tests and offers a
//! TCP proxy to cut a client off from it.

mod contender;
mod detector;
mod session;
mod store;
mod url;

#[cfg(feature = "testing")]
pub mod testing;

pub use contender::ZkMasterContender;
pub use detector::ZkMasterDetector;
pub use store::{StoreError, StoreVersion, ZkVersionedStore};
pub use url::{ZkError, ZkUrl};

/// Mesos's default `--zk_session_timeout`.
pub const DEFAULT_SESSION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The label of the group members that masters create: their znodes are `json.info_` followed
/// by ZooKeeper's 10-digit sequence, their data the `MasterInfo` in JSON.
pub const MASTER_INFO_JSON_LABEL: &str = "json.info";

//! Master detection (upstream `include/mesos/master/detector.hpp`): how the agent learns
//! which master leads. [`MasterDetector`] is the trait the agent uses; [`StandaloneDetector`]
//! serves `--master=host:port`, [`ZooKeeperDetector`] `--master=zk://host:2181/mesos` (the
//! leading master of the group Mesos masters join there). [`create`] picks one for a
//! `--master` value, also `file:///path` naming a file that holds one.

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use libprocess::{Future, Promise, Upid};
use mesos_core::v0;
use mesos_zookeeper::{ZkMasterDetector, ZkUrl};
use parking_lot::Mutex;
use thiserror::Error;

/// Why `--master` cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DetectorError {
    /// A `zk://` URL that does not parse.
    #[error(transparent)]
    ZooKeeper(#[from] mesos_zookeeper::ZkError),
    /// `file://` naming a file that cannot be read.
    #[error("cannot read the master from '{path}': {reason}")]
    File {
        /// The file named.
        path: String,
        /// Why.
        reason: String,
    },
    /// Not `host:port` or `master@host:port`.
    #[error("cannot parse master '{0}': expecting host:port")]
    Invalid(String),
    /// The host does not resolve.
    #[error("cannot resolve master '{master}': {reason}")]
    Resolve {
        /// The value given.
        master: String,
        /// Why.
        reason: String,
    },
}

/// Tells the agent which master leads.
pub trait MasterDetector: Send + Sync + std::fmt::Debug {
    /// The leading master once it is not `previous` (`None`: no master known); pending while
    /// it stays the same.
    fn detect(&self, previous: Option<&Upid>) -> Future<Option<Upid>>;
}

/// A detector for one known master (`--master=host:port`), which can be re-appointed.
#[derive(Clone, Debug, Default)]
pub struct StandaloneDetector {
    inner: Arc<Mutex<Standalone>>,
}

#[derive(Debug, Default)]
struct Standalone {
    leader: Option<Upid>,
    waiting: Vec<Promise<Option<Upid>>>,
}

impl StandaloneDetector {
    /// A detector whose leader is `master`.
    pub fn new(master: Option<Upid>) -> StandaloneDetector {
        StandaloneDetector {
            inner: Arc::new(Mutex::new(Standalone {
                leader: master,
                waiting: Vec::new(),
            })),
        }
    }

    /// Parses `--master`: `host:port`, `master@host:port` or `http://host:port`.
    pub fn parse(master: &str) -> Result<StandaloneDetector, DetectorError> {
        Ok(StandaloneDetector::new(Some(parse_master(master)?)))
    }

    /// Makes `leader` the leading master; waiting detections complete.
    pub fn appoint(&self, leader: Option<Upid>) {
        let waiting = {
            let mut inner = self.inner.lock();
            inner.leader = leader.clone();
            std::mem::take(&mut inner.waiting)
        };
        for promise in waiting {
            promise.set(leader.clone());
        }
    }
}

impl MasterDetector for StandaloneDetector {
    fn detect(&self, previous: Option<&Upid>) -> Future<Option<Upid>> {
        let mut inner = self.inner.lock();
        if inner.leader.as_ref() != previous {
            return Future::ready(inner.leader.clone());
        }
        let promise = Promise::new();
        let future = promise.future();
        inner.waiting.push(promise);
        future
    }
}

/// The detector for a `--master` value: `zk://...` follows the ZooKeeper group (sessions of
/// `zk_session_timeout`), `file:///path` reads the value from a file (as Mesos allows), anything
/// else is one master's address.
pub fn create(
    master: &str,
    zk_session_timeout: Duration,
) -> Result<Arc<dyn MasterDetector>, DetectorError> {
    let text = master.trim();
    let text = match text.strip_prefix("file://") {
        Some(path) => {
            let contents = std::fs::read_to_string(path).map_err(|error| DetectorError::File {
                path: path.to_owned(),
                reason: error.to_string(),
            })?;
            let contents = contents.trim().to_owned();
            if contents.starts_with("file://") {
                return Err(DetectorError::File {
                    path: path.to_owned(),
                    reason: "it names another file".to_owned(),
                });
            }
            contents
        }
        None => text.to_owned(),
    };
    if text.starts_with("zk://") {
        let url = ZkUrl::parse(&text)?;
        return Ok(Arc::new(ZooKeeperDetector::new(url, zk_session_timeout)));
    }
    Ok(Arc::new(StandaloneDetector::parse(&text)?))
}

/// The leading master of the ZooKeeper group at a `zk://` URL (Mesos's
/// `ZooKeeperMasterDetector`): the `json.info_*` member with the lowest sequence, its `pid`.
#[derive(Clone)]
pub struct ZooKeeperDetector {
    detector: ZkMasterDetector,
}

impl std::fmt::Debug for ZooKeeperDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZooKeeperDetector").finish_non_exhaustive()
    }
}

impl ZooKeeperDetector {
    /// Follows the group at `url`.
    pub fn new(url: ZkUrl, session_timeout: Duration) -> ZooKeeperDetector {
        ZooKeeperDetector {
            detector: ZkMasterDetector::new(url, session_timeout),
        }
    }
}

/// The UPID of a leading master: its `pid`, else `master@` its address.
pub fn master_upid(info: &v0::MasterInfo) -> Option<Upid> {
    if let Some(pid) = info.pid.as_deref()
        && let Ok(upid) = pid.parse::<Upid>()
    {
        return Some(upid);
    }
    let address = info.address.as_ref()?;
    let host = address.ip.as_deref().or(address.hostname.as_deref())?;
    parse_master(&format!("{host}:{}", address.port)).ok()
}

impl MasterDetector for ZooKeeperDetector {
    fn detect(&self, previous: Option<&Upid>) -> Future<Option<Upid>> {
        self.detector.detect_by(previous.cloned(), master_upid)
    }
}

/// Parses a master address into the master's UPID (`master@ip:port`).
pub fn parse_master(master: &str) -> Result<Upid, DetectorError> {
    let text = master.trim();
    if text.starts_with("zk://") || text.starts_with("file://") {
        return Err(DetectorError::Invalid(format!(
            "{text} (not an address: use detector::create)"
        )));
    }
    let text = text
        .strip_prefix("http://")
        .unwrap_or(text)
        .trim_end_matches('/');
    let (id, address) = match text.split_once('@') {
        Some((id, address)) => (id, address),
        None => ("master", text),
    };
    if id.is_empty() || !address.contains(':') {
        return Err(DetectorError::Invalid(master.to_owned()));
    }
    let resolved = address
        .to_socket_addrs()
        .map_err(|error| DetectorError::Resolve {
            master: master.to_owned(),
            reason: error.to_string(),
        })?
        .find(|a| a.is_ipv4())
        .ok_or_else(|| DetectorError::Resolve {
            master: master.to_owned(),
            reason: "no IPv4 address".to_owned(),
        })?;
    Ok(Upid::new(id.to_owned(), resolved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_master_addresses() {
        let upid = parse_master("127.0.0.1:5050").unwrap();
        assert_eq!(upid.to_string(), "master@127.0.0.1:5050");
        let upid = parse_master("master@127.0.0.1:5051").unwrap();
        assert_eq!(upid.to_string(), "master@127.0.0.1:5051");
        assert!(matches!(
            parse_master("zk://localhost:2181/mesos"),
            Err(DetectorError::Invalid(_))
        ));
        assert!(matches!(
            create("zk://localhost/mesos", Duration::from_secs(1)),
            Err(DetectorError::ZooKeeper(_))
        ));
        assert!(matches!(
            create("file:///nonexistent/master", Duration::from_secs(1)),
            Err(DetectorError::File { .. })
        ));
        assert!(create("127.0.0.1:5050", Duration::from_secs(1)).is_ok());
        assert!(parse_master("nonsense").is_err());
    }

    #[test]
    fn standalone_detection_waits_for_a_change() {
        let master = parse_master("127.0.0.1:5050").unwrap();
        let detector = StandaloneDetector::new(Some(master.clone()));
        assert_eq!(detector.detect(None).get().unwrap(), Some(master.clone()));
        let next = detector.detect(Some(&master));
        assert!(next.is_pending());
        let other = parse_master("127.0.0.1:6060").unwrap();
        detector.appoint(Some(other.clone()));
        assert_eq!(next.get().unwrap(), Some(other));
    }
}

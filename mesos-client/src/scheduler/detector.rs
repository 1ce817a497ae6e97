//! Finding the leading master: the [`MasterDetector`] trait, the [`StaticDetector`] of a
//! master given by address, and the [`ZooKeeperDetector`] of the masters' group at a `zk://`
//! URL. [`detector_for`] picks one for a master string as Mesos's tools take it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use libprocess::{Future, Promise};
use mesos_core::v0;
use mesos_zookeeper::{ZkMasterDetector, ZkUrl};

/// Why a master address is not one we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MasterAddressError {
    /// Not `host[:port]` or `http://host[:port][/...]`.
    #[error("invalid master address '{address}': {reason}")]
    Invalid {
        /// The address given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `zk://` address given where only a master's own address will do (use
    /// [`detector_for`]).
    #[error("master address '{0}' is a ZooKeeper URL, not a master's address")]
    ZooKeeper(String),
    /// A `zk://` URL that does not parse, or a `file://` that cannot be read.
    #[error("invalid master '{address}': {reason}")]
    Unusable {
        /// The value given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Tells the scheduler library where the leading master is, as Mesos's `MasterDetector`.
pub trait MasterDetector: Send + Sync + 'static {
    /// The leading master's `host:port` once it differs from `previous`: with `None`, the
    /// current leader as soon as one is known; with `Some(leader)`, a future that completes
    /// when another master leads (`Some`) or none does (`None`). The library asks with `None`
    /// before each connection attempt and watches with `Some` while connected; a future that
    /// fails or is abandoned means no news.
    fn detect(&self, previous: Option<&str>) -> Future<Option<String>>;
}

/// A shared detector detects as the one it shares.
impl<D: MasterDetector + ?Sized> MasterDetector for std::sync::Arc<D> {
    fn detect(&self, previous: Option<&str>) -> Future<Option<String>> {
        (**self).detect(previous)
    }
}

/// The master port when an address gives none.
pub const DEFAULT_MASTER_PORT: u16 = 5050;

/// A master known by its address, `host:port` or `http://host:port`: it always leads.
#[derive(Debug)]
pub struct StaticDetector {
    endpoint: String,
    /// The watch of the current leader, which never completes (replaced, so not kept forever).
    watch: Mutex<Option<Promise<Option<String>>>>,
}

impl StaticDetector {
    /// A detector that always answers `master` (`host[:port]`, `http://host[:port][/path]`;
    /// port 5050 when not given).
    pub fn new(master: &str) -> Result<StaticDetector, MasterAddressError> {
        Ok(StaticDetector {
            endpoint: parse_master(master)?,
            watch: Mutex::new(None),
        })
    }

    /// The `host:port` it answers.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl MasterDetector for StaticDetector {
    fn detect(&self, previous: Option<&str>) -> Future<Option<String>> {
        if previous == Some(self.endpoint.as_str()) {
            let promise = Promise::new();
            let future = promise.future();
            *self.watch.lock().unwrap_or_else(|e| e.into_inner()) = Some(promise);
            future
        } else {
            Future::ready(Some(self.endpoint.clone()))
        }
    }
}

/// The detector for a master string as `mesos-execute --master` and Mesos's scheduler driver
/// take it: `zk://[user:pass@]host:port[,host:port]/path` follows the ZooKeeper group (sessions
/// of [`mesos_zookeeper::DEFAULT_SESSION_TIMEOUT`]), `file:///path` reads the value from a
/// file, anything else is one master's address (`host[:port]`, `http://host[:port]`).
pub fn detector_for(master: &str) -> Result<Arc<dyn MasterDetector>, MasterAddressError> {
    let unusable = |reason: String| MasterAddressError::Unusable {
        address: master.to_string(),
        reason,
    };
    let trimmed = master.trim();
    let text = match trimmed.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| unusable(format!("cannot read {path}: {e}")))?
            .trim()
            .to_string(),
        None => trimmed.to_string(),
    };
    if text.starts_with("file://") {
        return Err(unusable("the file names another file".into()));
    }
    if text.starts_with("zk://") {
        let url = ZkUrl::parse(&text).map_err(|e| unusable(e.to_string()))?;
        return Ok(Arc::new(ZooKeeperDetector::new(
            url,
            mesos_zookeeper::DEFAULT_SESSION_TIMEOUT,
        )));
    }
    Ok(Arc::new(StaticDetector::new(&text)?))
}

/// The leading master of the group Mesos masters join at a `zk://` URL (Mesos's
/// `ZooKeeperMasterDetector`): the `json.info_*` member with the lowest sequence, reached at
/// its `address` (else its `pid`).
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
    /// Follows the group at `url` with sessions of `session_timeout`.
    pub fn new(url: ZkUrl, session_timeout: Duration) -> ZooKeeperDetector {
        ZooKeeperDetector {
            detector: ZkMasterDetector::new(url, session_timeout),
        }
    }
}

/// `host:port` where a master serves HTTP: its `address` (ip, else hostname), else its `pid`.
pub fn master_endpoint(info: &v0::MasterInfo) -> Option<String> {
    if let Some(address) = &info.address
        && let Some(host) = address.ip.as_deref().or(address.hostname.as_deref())
        && address.port > 0
    {
        return parse_master(&format!("{host}:{}", address.port)).ok();
    }
    let pid = info.pid.as_deref()?;
    parse_master(pid.split_once('@').map_or(pid, |(_, at)| at)).ok()
}

impl MasterDetector for ZooKeeperDetector {
    fn detect(&self, previous: Option<&str>) -> Future<Option<String>> {
        self.detector
            .detect_by(previous.map(str::to_owned), master_endpoint)
    }
}

/// `host:port` of a master address.
pub fn parse_master(master: &str) -> Result<String, MasterAddressError> {
    let invalid = |reason: &str| MasterAddressError::Invalid {
        address: master.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = master.trim();
    if trimmed.starts_with("zk://") || trimmed.starts_with("zoo://") {
        return Err(MasterAddressError::ZooKeeper(master.to_string()));
    }
    let rest = if let Some(rest) = trimmed.strip_prefix("http://") {
        rest
    } else if trimmed.contains("://") {
        return Err(invalid("only http:// is supported"));
    } else {
        trimmed
    };
    let authority = rest.split('/').next().unwrap_or_default();
    authority_endpoint(authority).map_err(|reason| invalid(&reason))
}

/// `host:port` of the `Location` of a redirect: `//host:port/path` (as the master sends it),
/// `http://host:port/path`, or `host:port`.
pub(crate) fn redirect_endpoint(location: &str) -> Result<String, String> {
    let rest = location
        .strip_prefix("http://")
        .or_else(|| location.strip_prefix("//"))
        .unwrap_or(location);
    authority_endpoint(rest.split('/').next().unwrap_or_default())
}

fn authority_endpoint(authority: &str) -> Result<String, String> {
    if authority.is_empty() {
        return Err("no host".into());
    }
    // An IPv6 literal is bracketed; its port follows the bracket.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or("unclosed '['")?;
            (format!("[{host}]"), after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (authority.to_string(), None),
        },
    };
    if host.is_empty() || host == "[]" {
        return Err("no host".into());
    }
    let port = match port {
        None => DEFAULT_MASTER_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("invalid port '{port}'"))?,
    };
    Ok(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_addresses() {
        assert_eq!(parse_master("10.0.0.1:5050").unwrap(), "10.0.0.1:5050");
        assert_eq!(parse_master("master.local").unwrap(), "master.local:5050");
        assert_eq!(parse_master("http://m:6060").unwrap(), "m:6060");
        assert_eq!(parse_master("http://m:6060/").unwrap(), "m:6060");
        assert_eq!(parse_master("http://[::1]:6060/x").unwrap(), "[::1]:6060");
        assert_eq!(
            parse_master("zk://zk1:2181/mesos"),
            Err(MasterAddressError::ZooKeeper("zk://zk1:2181/mesos".into()))
        );
        for bad in ["https://m:5050", "m:0", "m:port", ":5050", ""] {
            assert!(
                matches!(parse_master(bad), Err(MasterAddressError::Invalid { .. })),
                "{bad}"
            );
        }
        let detector = StaticDetector::new("http://m:1").unwrap();
        assert_eq!(detector.detect(None).get().unwrap().as_deref(), Some("m:1"));
        assert_eq!(
            detector.detect(Some("other:1")).get().unwrap().as_deref(),
            Some("m:1")
        );
        let watch = detector.detect(Some("m:1"));
        assert!(watch.is_pending(), "a static master never changes");
        // A newer watch replaces it: the old one is abandoned, which means no news.
        let newer = detector.detect(Some("m:1"));
        assert!(watch.is_abandoned());
        assert!(newer.is_pending());
    }

    #[test]
    fn redirect_locations() {
        assert_eq!(
            redirect_endpoint("//10.0.0.2:5050/api/v1/scheduler").unwrap(),
            "10.0.0.2:5050"
        );
        assert_eq!(
            redirect_endpoint("http://m2:5051/api/v1/scheduler").unwrap(),
            "m2:5051"
        );
        assert_eq!(redirect_endpoint("m3:5052").unwrap(), "m3:5052");
        assert!(redirect_endpoint("//:5050/api").is_err());
    }
}

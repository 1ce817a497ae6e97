//! Finding the leading master: the [`MasterDetector`] trait and the [`StaticDetector`] of a
//! master given by address. (A ZooKeeper detector, `zk://`, is another implementation.)

use std::sync::Mutex;

use libprocess::{Future, Promise};

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
    /// A `zk://` address, which needs a ZooKeeper detector.
    #[error("master address '{0}' needs a ZooKeeper detector, which is not available")]
    ZooKeeper(String),
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

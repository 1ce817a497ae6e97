//! Process addresses: the untyped [`Upid`] (`id@ip:port`) and the typed [`Pid<P>`].
//!
//! A `Upid` names a process anywhere: its id, unique within one runtime, and the address of
//! the runtime that hosts it. A `Pid<P>` is a `Upid` that also knows the type of the process
//! and holds a direct reference to it, so dispatching through it needs no lookup.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;
use std::sync::Arc;

use crate::process::Process;
use crate::runtime::cell::Cell;

/// The untyped address of a process: `id@ip:port`.
///
/// Cheap to clone (one reference count: the id is shared, the address is inline). Equality,
/// ordering and hashing use the id and the address only.
///
/// ```
/// use libprocess::Upid;
/// let pid: Upid = "master@127.0.0.1:5050".parse().unwrap();
/// assert_eq!(pid.id(), "master");
/// assert_eq!(pid.address().port(), 5050);
/// assert_eq!(pid.to_string(), "master@127.0.0.1:5050");
/// ```
#[derive(Clone)]
pub struct Upid {
    id: Arc<str>,
    address: SocketAddr,
}

impl Upid {
    /// A `Upid` for process `id` at `address`.
    pub fn new(id: impl Into<Arc<str>>, address: SocketAddr) -> Self {
        Upid {
            id: id.into(),
            address,
        }
    }

    /// The empty `Upid` (`@0.0.0.0:0`): "nobody", e.g. the sender of a message posted from
    /// outside any process.
    pub fn none() -> Self {
        Upid::new("", SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0))
    }

    /// The process id, e.g. `master` or `slave(1)`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The address of the runtime hosting the process.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// True when the id is non-empty, the ip is not `0.0.0.0` and the port is not 0, as
    /// libprocess's `UPID::operator bool`. Sending to an invalid `Upid` does nothing.
    pub fn is_valid(&self) -> bool {
        !self.id.is_empty() && !self.address.ip().is_unspecified() && self.address.port() != 0
    }

    /// The same address with another process id.
    pub fn with_id(&self, id: impl Into<Arc<str>>) -> Upid {
        Upid::new(id, self.address())
    }
}

impl PartialEq for Upid {
    fn eq(&self, other: &Self) -> bool {
        self.address == other.address && (Arc::ptr_eq(&self.id, &other.id) || self.id == other.id)
    }
}

impl Eq for Upid {}

impl Hash for Upid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.address.hash(state);
    }
}

impl PartialOrd for Upid {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Upid {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&*self.id, self.address).cmp(&(&*other.id, other.address))
    }
}

impl fmt::Display for Upid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.address)
    }
}

impl fmt::Debug for Upid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a `Upid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseUpidError {
    /// No `@` separates the id from the address.
    #[error("missing '@' in process address {0:?}")]
    MissingAt(String),
    /// No `:` separates the host from the port.
    #[error("missing ':port' in process address {0:?}")]
    MissingPort(String),
    /// The port is not a number in 0..=65535.
    #[error("bad port in process address {0:?}")]
    BadPort(String),
    /// The host is neither an IP address nor a name that resolves to one.
    #[error("cannot resolve host {host:?} in process address {upid:?}")]
    BadHost {
        /// The host part.
        host: String,
        /// The whole text.
        upid: String,
    },
}

impl FromStr for Upid {
    type Err = ParseUpidError;

    /// Parses `id@host:port`. The id may be empty (`@1.2.3.4:5`). The host is an IPv4 or a
    /// bracketed IPv6 literal, or a host name, which is resolved (as libprocess does).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, rest) = s
            .split_once('@')
            .ok_or_else(|| ParseUpidError::MissingAt(s.into()))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| ParseUpidError::MissingPort(s.into()))?;
        let port: u16 = port
            .parse()
            .map_err(|_| ParseUpidError::BadPort(s.into()))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let ip = match bare.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => resolve(bare).ok_or_else(|| ParseUpidError::BadHost {
                host: host.into(),
                upid: s.into(),
            })?,
        };
        Ok(Upid::new(id, SocketAddr::new(ip, port)))
    }
}

fn resolve(host: &str) -> Option<IpAddr> {
    if host.is_empty() {
        return None;
    }
    let addrs: Vec<SocketAddr> = (host, 0).to_socket_addrs().ok()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .map(|a| a.ip())
}

/// The typed address of a local process of type `P`.
///
/// Returned by `spawn`; `dispatch`, `call`, `defer` and `delay` take it. It refers to the
/// process directly, so dispatching needs no lookup; it stays valid (and harmless) after the
/// process has terminated, when dispatches to it fail.
pub struct Pid<P: Process> {
    pub(crate) cell: Arc<Cell<P>>,
}

impl<P: Process> Pid<P> {
    /// The untyped address.
    pub fn upid(&self) -> &Upid {
        &self.cell.upid
    }
}

impl<P: Process> Clone for Pid<P> {
    fn clone(&self) -> Self {
        Pid {
            cell: self.cell.clone(),
        }
    }
}

impl<P: Process> std::ops::Deref for Pid<P> {
    type Target = Upid;
    fn deref(&self) -> &Upid {
        &self.cell.upid
    }
}

impl<P: Process> PartialEq for Pid<P> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }
}

impl<P: Process> Eq for Pid<P> {}

impl<P: Process> fmt::Display for Pid<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.cell.upid, f)
    }
}

impl<P: Process> fmt::Debug for Pid<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.cell.upid, f)
    }
}

impl<P: Process> From<Pid<P>> for Upid {
    fn from(pid: Pid<P>) -> Upid {
        pid.cell.upid.clone()
    }
}

impl<P: Process> From<&Pid<P>> for Upid {
    fn from(pid: &Pid<P>) -> Upid {
        pid.cell.upid.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        for text in [
            "master@127.0.0.1:5050",
            "slave(1)@10.0.0.2:5051",
            "@0.0.0.0:0",
            "a@[::1]:9",
        ] {
            let upid: Upid = text.parse().unwrap();
            assert_eq!(upid.to_string(), text);
            assert_eq!(upid.to_string().parse::<Upid>().unwrap(), upid);
        }
    }

    #[test]
    fn parse_errors_are_clear() {
        assert!(matches!(
            "master".parse::<Upid>(),
            Err(ParseUpidError::MissingAt(_))
        ));
        assert!(matches!(
            "m@1.2.3.4".parse::<Upid>(),
            Err(ParseUpidError::MissingPort(_))
        ));
        assert!(matches!(
            "m@1.2.3.4:99999".parse::<Upid>(),
            Err(ParseUpidError::BadPort(_))
        ));
        assert!(matches!(
            "m@:5".parse::<Upid>(),
            Err(ParseUpidError::BadHost { .. })
        ));
    }

    #[test]
    fn hostnames_resolve() {
        let upid: Upid = "m@localhost:5050".parse().unwrap();
        assert!(upid.address().ip().is_loopback());
    }

    #[test]
    fn validity_follows_libprocess() {
        assert!("a@1.2.3.4:5".parse::<Upid>().unwrap().is_valid());
        assert!(!"@1.2.3.4:5".parse::<Upid>().unwrap().is_valid());
        assert!(!"a@0.0.0.0:5".parse::<Upid>().unwrap().is_valid());
        assert!(!"a@1.2.3.4:0".parse::<Upid>().unwrap().is_valid());
        assert!(!Upid::none().is_valid());
    }
}

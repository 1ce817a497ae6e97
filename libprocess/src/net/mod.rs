//! The runtime's one socket: configuration, binding, the IO threads and the accept loop.
//!
//! Like libprocess, a runtime listens on one TCP port that serves both HTTP routes and
//! inter-process messages. Every accepted connection starts on the message fast path
//! ([`crate::remote::inbound`]); the first request that is not a libprocess message hands the
//! connection, with whatever was already read, to the HTTP server ([`crate::http::serve`]).
//!
//! Settings come from the builder or, as in libprocess, from `LIBPROCESS_IP`,
//! `LIBPROCESS_PORT` (0 picks a free port), `LIBPROCESS_ADVERTISE_IP` and
//! `LIBPROCESS_ADVERTISE_PORT`. Sockets are driven by a small tokio runtime owned by the
//! libprocess runtime (`LIBPROCESS_NUM_IO_THREADS`, default 1), separate from the workers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::runtime::RtShared;

/// Why the runtime's network could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// Binding the listening socket failed.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// An environment variable holds a value that is not an address or port.
    #[error("bad value {value:?} for {name}")]
    BadEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// The IO threads could not be started.
    #[error("cannot start the IO threads: {0}")]
    Io(#[source] std::io::Error),
}

/// Where and how a runtime listens.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetConfig {
    pub(crate) ip: Option<IpAddr>,
    pub(crate) port: Option<u16>,
    pub(crate) advertise_ip: Option<IpAddr>,
    pub(crate) advertise_port: Option<u16>,
    pub(crate) io_threads: Option<usize>,
}

impl NetConfig {
    /// Reads the `LIBPROCESS_*` variables; `None` when none of them is set.
    pub(crate) fn from_env() -> Result<Option<NetConfig>, NetError> {
        fn var<T: std::str::FromStr>(name: &'static str) -> Result<Option<T>, NetError> {
            match std::env::var(name) {
                Ok(value) if value.is_empty() => Ok(None),
                Ok(value) => value
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| NetError::BadEnv { name, value }),
                Err(_) => Ok(None),
            }
        }
        let config = NetConfig {
            ip: var("LIBPROCESS_IP")?,
            port: var("LIBPROCESS_PORT")?,
            advertise_ip: var("LIBPROCESS_ADVERTISE_IP")?,
            advertise_port: var("LIBPROCESS_ADVERTISE_PORT")?,
            io_threads: var("LIBPROCESS_NUM_IO_THREADS")?,
        };
        let any = config.ip.is_some()
            || config.port.is_some()
            || config.advertise_ip.is_some()
            || config.advertise_port.is_some();
        Ok(any.then_some(config))
    }
}

/// A bound socket and the IO threads, before the runtime's shared state exists.
pub(crate) struct Bound {
    listener: StdListener,
    io: tokio::runtime::Runtime,
    /// The address other runtimes reach us at (goes into every `Upid`).
    pub(crate) advertised: SocketAddr,
}

/// Binds the socket and starts the IO threads.
pub(crate) fn bind(config: &NetConfig) -> Result<Bound, NetError> {
    let ip = config.ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let address = SocketAddr::new(ip, config.port.unwrap_or(0));
    let listener =
        StdListener::bind(address).map_err(|source| NetError::Bind { address, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| NetError::Bind { address, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| NetError::Bind { address, source })?;
    let advertised_ip = config.advertise_ip.unwrap_or_else(|| {
        if bound.ip().is_unspecified() {
            hostname_ip().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
        } else {
            bound.ip()
        }
    });
    let advertised = SocketAddr::new(advertised_ip, config.advertise_port.unwrap_or(bound.port()));
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.io_threads.unwrap_or(1).max(1))
        .thread_name("libprocess-io")
        .enable_all()
        .build()
        .map_err(NetError::Io)?;
    Ok(Bound {
        listener,
        io,
        advertised,
    })
}

/// The IP the host name resolves to (libprocess's choice when listening on 0.0.0.0).
fn hostname_ip() -> Option<IpAddr> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let addrs: Vec<SocketAddr> = (name.trim(), 0).to_socket_addrs().ok()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .map(|a| a.ip())
}

/// The running network of a runtime.
pub(crate) struct Network {
    io: Mutex<Option<tokio::runtime::Runtime>>,
    pub(crate) handle: tokio::runtime::Handle,
}

impl Network {
    /// Starts accepting connections for `shared`.
    pub(crate) fn start(bound: Bound, shared: &Arc<RtShared>) -> Result<Network, NetError> {
        let Bound { listener, io, .. } = bound;
        let handle = io.handle().clone();
        let listener = {
            let _enter = io.enter();
            tokio::net::TcpListener::from_std(listener).map_err(NetError::Io)?
        };
        let weak = Arc::downgrade(shared);
        handle.spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let Some(shared) = weak.upgrade() else { return };
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(crate::remote::inbound::serve(stream, peer, shared));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
            }
        });
        Ok(Network {
            io: Mutex::new(Some(io)),
            handle,
        })
    }

    /// Stops the IO threads, closing every socket.
    pub(crate) fn shutdown(&self) {
        if let Some(io) = self.io.lock().take() {
            io.shutdown_timeout(std::time::Duration::from_secs(1));
        }
    }
}

//! The runtime: worker threads, the registry of processes, timers, and the handles to them.
//!
//! A [`Runtime`] owns its threads and shuts them down when dropped; a [`Handle`] is a cheap
//! clone that spawns, terminates, waits for and posts to processes. Several runtimes may live
//! in one OS process (tests run two to talk over loopback); inside a handler, or after
//! [`Handle::enter`], the free functions of this crate (`spawn`, `terminate`, ...) use the
//! *current* runtime, and elsewhere a lazily started default runtime.

pub(crate) mod cell;
pub(crate) mod registry;
pub(crate) mod scheduler;
pub(crate) mod thunk;

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::clock::{Clock, ClockState, Timers};
use crate::filter::Filters;
use crate::future::Future;
use crate::message::Message;
use crate::net::{NetConfig, NetError, Network};
use crate::pid::{Pid, Upid};
use crate::process::Process;
use crate::remote::outbound::Outbound;
use cell::Cell;
use registry::{IdGenerator, Registry};
use scheduler::Scheduler;

/// How a runtime hands messages for other addresses to the network (set by the networking
/// layer; without one, such messages are dropped with a warning).
pub(crate) trait Transport: Send + Sync {
    fn send(&self, message: Message);
    fn link(&self, linker: &Upid, to: &Upid, reconnect: bool);
}

/// Why a process could not be spawned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// A live process of this runtime already has this id.
    #[error("a process with id {0:?} already exists")]
    DuplicateId(String),
    /// Ids may not be empty, nor contain '/', '@' or whitespace.
    #[error("invalid process id {0:?}")]
    InvalidId(String),
}

/// What introspection reports about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Its address.
    pub upid: Upid,
    /// Events queued and not yet served.
    pub queue_len: usize,
    /// Events served so far.
    pub events_processed: u64,
}

static NEXT_RUNTIME_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct RtShared {
    pub(crate) id: u64,
    pub(crate) address: SocketAddr,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) registry: Registry,
    ids: IdGenerator,
    pub(crate) clock: ClockState,
    pub(crate) timers: Timers,
    pub(crate) filters: Filters,
    pub(crate) transport: OnceLock<Arc<Outbound>>,
    pub(crate) net: OnceLock<Network>,
    /// Routing settings, firewall, authenticators and metrics of the HTTP layer.
    pub(crate) http: crate::http::HttpState,
    /// The largest message or request body accepted from the network.
    pub(crate) max_message_body: usize,
}

impl RtShared {
    /// Delivers `message` to a local process, or hands it to the transport.
    pub(crate) fn send(&self, message: Message) {
        if self.filters.is_active() && self.filters.on_message(&message) {
            return;
        }
        if message.to.address() == self.address {
            self.deliver_local(message);
        } else if let Some(transport) = self.transport.get() {
            transport.send(message);
        } else {
            tracing::warn!(to = %message.to, name = %message.name, "no transport for a remote message; dropped");
        }
    }

    /// Delivers a message addressed to this runtime (from the network or a local sender).
    pub(crate) fn deliver_local(&self, message: Message) -> bool {
        match self.registry.get(message.to.id()) {
            Some(cell) => cell.deliver(Box::new(message)),
            None => {
                tracing::debug!(to = %message.to, name = %message.name, "message for an unknown process dropped");
                false
            }
        }
    }

    /// Tells `linker` (if it is ours and alive) that `pid` exited.
    pub(crate) fn deliver_exited(&self, linker: &Upid, pid: &Upid) {
        if linker.address() != self.address {
            return;
        }
        if let Some(cell) = self.registry.get(linker.id()) {
            cell.deliver_exited(pid.clone());
        }
    }

    /// Links `linker` to `to`: `linker` gets `exited(to)` when `to` terminates (at once if it
    /// is not alive).
    pub(crate) fn link(&self, linker: &Upid, to: &Upid, reconnect: bool) {
        if to.address() == self.address {
            let alive = self
                .registry
                .get(to.id())
                .is_some_and(|cell| cell.add_linker(linker));
            if !alive {
                self.deliver_exited(linker, to);
            }
        } else if let Some(transport) = self.transport.get() {
            transport.link(linker, to, reconnect);
        } else {
            self.deliver_exited(linker, to);
        }
    }

    fn spawn_with_id<P: Process>(
        self: &Arc<Self>,
        id: &str,
        process: P,
    ) -> Result<Pid<P>, SpawnError> {
        if id.is_empty() || id.contains(['/', '@']) || id.contains(char::is_whitespace) {
            return Err(SpawnError::InvalidId(id.to_string()));
        }
        let upid = Upid::new(id, self.address);
        let hash = self.registry.hash(id);
        let cell = Cell::new(upid, self.clone(), hash, process);
        if !self.registry.insert(hash, cell.clone()) {
            return Err(SpawnError::DuplicateId(cell.upid.id().to_string()));
        }
        // The cell starts out scheduled: its first run calls `initialize`.
        self.scheduler.schedule(cell.clone());
        Ok(Pid { cell })
    }
}

/// Builds a [`Runtime`].
///
/// A runtime listens on a socket when asked to ([`Builder::listen`], [`Builder::ip`],
/// [`Builder::port`], ...) or when any of `LIBPROCESS_IP`, `LIBPROCESS_PORT`,
/// `LIBPROCESS_ADVERTISE_IP`, `LIBPROCESS_ADVERTISE_PORT` is set; otherwise it is local only.
///
/// ```
/// let runtime = libprocess::Runtime::builder().workers(2).build();
/// assert_eq!(runtime.handle().workers(), 2);
///
/// let listening = libprocess::Runtime::builder()
///     .ip("127.0.0.1".parse().unwrap())
///     .port(0)
///     .try_build()
///     .unwrap();
/// assert_ne!(listening.address().port(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    workers: Option<usize>,
    address: Option<SocketAddr>,
    net: Option<NetConfig>,
    max_peer_buffer: Option<usize>,
    max_message_body: Option<usize>,
}

impl Builder {
    /// The number of worker threads. Default: `LIBPROCESS_NUM_WORKER_THREADS`, else CPUs+1.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers.max(1));
        self
    }

    /// The address in this runtime's `Upid`s. Default `127.0.0.1:0` until the runtime listens
    /// on a socket.
    pub fn address(mut self, address: SocketAddr) -> Self {
        self.address = Some(address);
        self
    }

    fn net(&mut self) -> &mut NetConfig {
        self.net.get_or_insert_with(NetConfig::default)
    }

    /// Listens on a socket (default `0.0.0.0` and a free port, unless set otherwise).
    pub fn listen(mut self) -> Self {
        self.net();
        self
    }

    /// The IP to listen on (`LIBPROCESS_IP`). Implies [`Builder::listen`].
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.net().ip = Some(ip);
        self
    }

    /// The port to listen on, 0 for a free one (`LIBPROCESS_PORT`). Implies listening.
    pub fn port(mut self, port: u16) -> Self {
        self.net().port = Some(port);
        self
    }

    /// The IP other runtimes reach this one at (`LIBPROCESS_ADVERTISE_IP`).
    pub fn advertise_ip(mut self, ip: IpAddr) -> Self {
        self.net().advertise_ip = Some(ip);
        self
    }

    /// The port other runtimes reach this one at (`LIBPROCESS_ADVERTISE_PORT`).
    pub fn advertise_port(mut self, port: u16) -> Self {
        self.net().advertise_port = Some(port);
        self
    }

    /// Threads driving sockets (`LIBPROCESS_NUM_IO_THREADS`, default 1).
    pub fn io_threads(mut self, threads: usize) -> Self {
        self.net().io_threads = Some(threads.max(1));
        self
    }

    /// The most bytes of unwritten messages kept per peer (default 64 MiB); a message that
    /// would exceed it is dropped and counted.
    pub fn max_peer_buffer(mut self, bytes: usize) -> Self {
        self.max_peer_buffer = Some(bytes);
        self
    }

    /// The largest message or request body accepted from the network (default 256 MiB);
    /// larger ones are answered `413`.
    pub fn max_message_body(mut self, bytes: usize) -> Self {
        self.max_message_body = Some(bytes);
        self
    }

    /// Starts the runtime's threads.
    ///
    /// # Panics
    /// If the network cannot be set up (see [`Builder::try_build`]).
    pub fn build(self) -> Runtime {
        self.try_build().expect("start the libprocess runtime")
    }

    /// Starts the runtime's threads, binding its socket if it listens.
    pub fn try_build(self) -> Result<Runtime, NetError> {
        let workers = self.workers.unwrap_or_else(default_workers);
        let net = match self.net {
            Some(config) => Some(config),
            None => NetConfig::from_env()?,
        };
        let bound = net.as_ref().map(crate::net::bind).transpose()?;
        let address = bound
            .as_ref()
            .map(|b| b.advertised)
            .or(self.address)
            .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
        let (scheduler, seeds) = Scheduler::new(workers);
        let shared = Arc::new(RtShared {
            id: NEXT_RUNTIME_ID.fetch_add(1, Ordering::Relaxed),
            address,
            scheduler: Arc::new(scheduler),
            registry: Registry::new(),
            ids: IdGenerator::new(),
            clock: ClockState::new(),
            timers: Timers::new(),
            filters: Filters::new(),
            transport: OnceLock::new(),
            net: OnceLock::new(),
            max_message_body: self.max_message_body.unwrap_or(256 << 20),
            http: crate::http::HttpState::new(),
        });
        if let Some(bound) = bound {
            let network = Network::start(bound, &shared)?;
            let outbound = Outbound::new(
                Arc::downgrade(&shared),
                network.handle.clone(),
                self.max_peer_buffer.unwrap_or(64 << 20),
            );
            let _ = shared.transport.set(Arc::new(outbound));
            let _ = shared.net.set(network);
            LISTENING
                .write()
                .insert(shared.address, Arc::downgrade(&shared));
        }
        let mut threads = Vec::with_capacity(workers + 1);
        for seed in seeds {
            let handle = Handle {
                shared: shared.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("libprocess-worker-{}", shared.id))
                .spawn(move || {
                    let _current = handle.enter();
                    let scheduler = handle.shared.scheduler.clone();
                    scheduler.run_worker(seed);
                })
                .expect("spawn a libprocess worker thread");
            threads.push(thread);
        }
        crate::http::start(&shared);
        let handle = Handle {
            shared: shared.clone(),
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("libprocess-timer-{}", shared.id))
                .spawn(move || crate::clock::run_timer_thread(&handle.shared))
                .expect("spawn the libprocess timer thread"),
        );
        Ok(Runtime {
            handle: Handle { shared },
            threads: Mutex::new(threads),
        })
    }
}

fn default_workers() -> usize {
    if let Some(n) = std::env::var("LIBPROCESS_NUM_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        if (1..=1024).contains(&n) {
            return n;
        }
        tracing::warn!(
            value = n,
            "LIBPROCESS_NUM_WORKER_THREADS must be within 1..=1024; ignored"
        );
    }
    std::thread::available_parallelism().map_or(2, |n| n.get()) + 1
}

/// An actor runtime: worker threads running processes, timers, a clock.
///
/// Dropping it terminates every process (running their `finalize`) and joins its threads.
///
/// ```
/// use libprocess::{Process, Runtime, call};
/// struct Counter(u64);
/// impl Process for Counter {}
///
/// let runtime = Runtime::new();
/// let pid = runtime.spawn(Counter(0));
/// let n = call(&pid, |c: &mut Counter| { c.0 += 1; c.0 }).get();
/// assert_eq!(n, Ok(1));
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("address", &self.handle.shared.address)
            .finish()
    }
}

impl Runtime {
    /// A runtime with the default settings.
    pub fn new() -> Runtime {
        Builder::default().build()
    }

    /// A builder for a runtime with other settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A cloneable handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Terminates every process, waits (up to `timeout`, wall time) for them to finalize, and
    /// stops the threads. Also done on drop, with a 10 s timeout.
    pub fn shutdown_timeout(&self, timeout: Duration) {
        let shared = &self.handle.shared;
        if shared.scheduler.is_shutdown() {
            return;
        }
        let deadline = Instant::now() + timeout;
        let cells = shared.registry.all();
        for cell in &cells {
            cell.clone().terminate(true);
        }
        for cell in &cells {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if !cell.wait().await_for(remaining) {
                tracing::warn!(pid = %cell.upid(), "process did not finalize before shutdown");
            }
        }
        drop(cells);
        if let Some(net) = shared.net.get() {
            net.shutdown();
            let mut listening = LISTENING.write();
            if listening
                .get(&shared.address)
                .is_some_and(|weak| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(shared)))
            {
                listening.remove(&shared.address);
            }
        }
        shared.scheduler.shutdown();
        shared.timers.shutdown();
        let threads = std::mem::take(&mut *self.threads.lock());
        let current = std::thread::current().id();
        for thread in threads {
            if thread.thread().id() != current {
                let _ = thread.join();
            }
        }
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown_timeout(Duration::from_secs(10));
    }
}

impl std::ops::Deref for Runtime {
    type Target = Handle;
    fn deref(&self) -> &Handle {
        &self.handle
    }
}

/// A cheap, cloneable handle on a runtime.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<RtShared>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("address", &self.shared.address)
            .finish()
    }
}

thread_local! {
    static CURRENT: RefCell<Vec<Handle>> = const { RefCell::new(Vec::new()) };
}

static DEFAULT: OnceLock<Runtime> = OnceLock::new();

/// The listening runtimes of this OS process by address, so that a message sent from a thread
/// of no runtime (a timer's, an HTTP client's, a plain thread) leaves through the runtime of
/// its sender rather than through the default runtime, which has no network.
static LISTENING: LazyLock<RwLock<HashMap<SocketAddr, Weak<RtShared>>>> =
    LazyLock::new(Default::default);

/// The runtime that sends for `from`: the current one if `from` lives there, else the
/// listening runtime at `from`'s address, else the current one.
pub(crate) fn for_sender(from: &Upid) -> Handle {
    let entered = CURRENT.with(|c| {
        c.borrow()
            .last()
            .filter(|h| h.shared.address == from.address())
            .cloned()
    });
    if let Some(handle) = entered {
        return handle;
    }
    let found = LISTENING
        .read()
        .get(&from.address())
        .and_then(Weak::upgrade);
    match found {
        Some(shared) => Handle { shared },
        None => current(),
    }
}

thread_local! {
    /// Where generated ids are formatted, so a spawn allocates only the id it keeps.
    static ID_BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The runtime of the calling thread: the one whose handler is running, or the innermost
/// [`Handle::enter`]ed, or else the default runtime (started on first use).
pub fn current() -> Handle {
    CURRENT
        .with(|c| c.borrow().last().cloned())
        .unwrap_or_else(|| DEFAULT.get_or_init(Runtime::new).handle().clone())
}

/// Restores the previous current runtime when dropped.
#[must_use = "the runtime stays current only while the guard lives"]
#[derive(Debug)]
pub struct EnterGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().pop());
    }
}

impl Handle {
    /// Makes this runtime the current one on this thread until the guard is dropped.
    pub fn enter(&self) -> EnterGuard {
        CURRENT.with(|c| c.borrow_mut().push(self.clone()));
        EnterGuard {
            _not_send: std::marker::PhantomData,
        }
    }

    /// The address in this runtime's `Upid`s.
    pub fn address(&self) -> SocketAddr {
        self.shared.address
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.shared.scheduler.num_workers()
    }

    /// Spawns `process` with a generated id `(N)`.
    pub fn spawn<P: Process>(&self, process: P) -> Pid<P> {
        ID_BUFFER.with(|buffer| {
            let mut id = buffer.borrow_mut();
            id.clear();
            self.shared.ids.generate_into("", &mut id);
            self.shared
                .spawn_with_id(&id, process)
                .expect("generated ids are unique")
        })
    }

    /// Spawns `process` under `id` (e.g. `master`, or one from [`Handle::generate_id`]).
    pub fn spawn_with_id<P: Process>(
        &self,
        id: impl Into<String>,
        process: P,
    ) -> Result<Pid<P>, SpawnError> {
        self.shared.spawn_with_id(&id.into(), process)
    }

    /// A fresh id `prefix(N)`, as libprocess's `ID::generate`.
    pub fn generate_id(&self, prefix: &str) -> String {
        self.shared.ids.generate(prefix)
    }

    /// Asks a process of this runtime to terminate (see [`terminate`](crate::terminate)).
    pub fn terminate(&self, pid: &Upid, inject: bool) {
        if pid.address() != self.shared.address {
            return;
        }
        if let Some(cell) = self.shared.registry.get(pid.id()) {
            cell.terminate(inject);
        }
    }

    /// A future that completes when the process has finalized (at once if it is not alive).
    pub fn wait(&self, pid: &Upid) -> Future<()> {
        match self
            .shared
            .registry
            .get(pid.id())
            .filter(|_| pid.address() == self.shared.address)
        {
            Some(cell) => cell.wait(),
            None => Future::ready(()),
        }
    }

    /// Sends a named message from `from` (any `Upid`, e.g. [`Upid::none`]) to `to`.
    pub fn send(&self, from: &Upid, to: &Upid, name: impl Into<String>, body: impl Into<Bytes>) {
        self.shared.send(Message {
            name: name.into(),
            from: from.clone(),
            to: to.clone(),
            body: body.into(),
        });
    }

    /// The number of live processes.
    pub fn live_processes(&self) -> usize {
        self.shared.registry.len()
    }

    /// Queue length and events served of every live process.
    pub fn processes(&self) -> Vec<ProcessInfo> {
        let mut infos: Vec<ProcessInfo> = self
            .shared
            .registry
            .all()
            .iter()
            .map(|cell| ProcessInfo {
                upid: cell.upid().clone(),
                queue_len: cell.queue_len(),
                events_processed: cell.events_processed(),
            })
            .collect();
        infos.sort_by(|a, b| a.upid.cmp(&b.upid));
        infos
    }

    /// This runtime's clock.
    pub fn clock(&self) -> Clock {
        Clock {
            shared: self.shared.clone(),
        }
    }
}

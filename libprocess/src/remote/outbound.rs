//! The sending side of remote messages: one persistent connection per peer address.
//!
//! Messages for a peer are encoded on the sending thread into the peer's pending buffer. On a
//! worker thread the buffer is flushed when the running process's batch ends (so a handler that
//! sends many messages costs one write, and a lone reply goes out at once); elsewhere at once.
//! Flushing writes straight into the socket when the connection is idle (no hand-off, no
//! wake-up); otherwise the peer's connection task writes what is pending, in large batches.
//! Order per peer is kept: nobody writes directly while the task has a write in flight.
//!
//! The connection task connects (with backoff while messages wait), drains the peer's `202`
//! answers on a reader task (whose end tells us the connection broke), and reconnects when
//! more messages come. When the connection breaks or cannot be made, every process linked to
//! a process at that address gets `exited`. A `relink` replaces the connection without telling
//! the linkers.
//!
//! Backpressure: a peer buffers at most `max_peer_buffer` bytes of unwritten messages; a
//! message that would exceed it is dropped, counted and logged. Messages wait for a
//! connection for at most [`RETRY_WINDOW`]; then they are dropped, counted and logged.
//! Messages already written when a connection breaks may be lost (at most once, as libprocess).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::message::Message;
use crate::pid::Upid;
use crate::remote::wire;
use crate::runtime::{RtShared, Transport};

/// How long messages wait for a connection to a peer before they are dropped.
pub(crate) const RETRY_WINDOW: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Counters of the outbound path (exposed as metrics by the HTTP layer).
#[derive(Debug, Default)]
pub(crate) struct OutboundStats {
    pub(crate) sent: AtomicU64,
    pub(crate) dropped_overflow: AtomicU64,
    pub(crate) dropped_unreachable: AtomicU64,
    pub(crate) answered_not_found: AtomicU64,
}

pub(crate) struct Outbound {
    shared: Weak<RtShared>,
    io: tokio::runtime::Handle,
    peers: RwLock<HashMap<SocketAddr, Arc<Peer>>>,
    max_peer_buffer: usize,
    pub(crate) stats: Arc<OutboundStats>,
}

struct Peer {
    address: SocketAddr,
    state: Mutex<PeerState>,
    wake: Notify,
}

#[derive(Default)]
struct PeerState {
    /// The live connection, while connected.
    stream: Option<Arc<TcpStream>>,
    /// Encoded messages not yet written.
    pending: Vec<u8>,
    pending_messages: u64,
    /// The connection task has a write in flight.
    writing: bool,
    /// A connection task exists.
    task_running: bool,
    /// Replace the connection without telling linkers.
    reconnect: bool,
    /// A worker thread will flush this peer after its current task.
    flush_scheduled: bool,
    /// (linker, linked) pairs for processes at this address, in the order they linked.
    linkers: Vec<(Upid, Upid)>,
    /// The same pairs, to find one without scanning (a master links to each of tens of
    /// thousands of agents behind one address).
    linked: HashSet<(Upid, Upid)>,
}

/// A peer to flush, with what flushing it needs.
type FlushEntry = (
    Arc<Peer>,
    Arc<OutboundStats>,
    Weak<RtShared>,
    tokio::runtime::Handle,
);

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Peers with output buffered by this worker thread, flushed after the current task.
    static TO_FLUSH: std::cell::RefCell<Vec<FlushEntry>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Flushes what this worker thread buffered while running a task.
pub(crate) fn flush_thread() {
    let peers = TO_FLUSH.with(|f| {
        let mut f = f.borrow_mut();
        if f.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut *f))
        }
    });
    for (peer, stats, shared, io) in peers.into_iter().flatten() {
        flush(&peer, &stats, &shared, &io);
    }
}

/// Writes the peer's pending output directly if its connection is idle, else hands it to the
/// connection task (starting one if needed).
fn flush(
    peer: &Arc<Peer>,
    stats: &Arc<OutboundStats>,
    shared: &Weak<RtShared>,
    io: &tokio::runtime::Handle,
) {
    let mut state = peer.state.lock();
    state.flush_scheduled = false;
    if state.pending.is_empty() {
        return;
    }
    if !state.writing
        && let Some(stream) = state.stream.clone()
        && let Ok(n) = stream.try_write(&state.pending)
    {
        state.pending.drain(..n);
        if state.pending.is_empty() {
            state.pending_messages = 0;
            return;
        }
    }
    let spawn = !state.task_running;
    state.task_running = true;
    drop(state);
    if spawn {
        io.spawn(run_connection(peer.clone(), shared.clone(), stats.clone()));
    } else {
        peer.wake.notify_one();
    }
}

impl Outbound {
    pub(crate) fn new(
        shared: Weak<RtShared>,
        io: tokio::runtime::Handle,
        max_peer_buffer: usize,
    ) -> Self {
        Outbound {
            shared,
            io,
            peers: RwLock::new(HashMap::new()),
            max_peer_buffer,
            stats: Arc::new(OutboundStats::default()),
        }
    }

    fn peer(&self, address: SocketAddr) -> Arc<Peer> {
        if let Some(peer) = self.peers.read().get(&address) {
            return peer.clone();
        }
        self.peers
            .write()
            .entry(address)
            .or_insert_with(|| {
                Arc::new(Peer {
                    address,
                    state: Mutex::new(PeerState::default()),
                    wake: Notify::new(),
                })
            })
            .clone()
    }

    fn spawn_task(&self, peer: Arc<Peer>) {
        let shared = self.shared.clone();
        let stats = self.stats.clone();
        self.io.spawn(run_connection(peer, shared, stats));
    }
}

impl Transport for Outbound {
    fn send(&self, message: Message) {
        if !message.to.is_valid() {
            return;
        }
        let peer = self.peer(message.to.address());
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            scratch.clear();
            wire::encode_message(&message, &mut scratch);
            let mut state = peer.state.lock();
            if state.pending.len() + scratch.len() > self.max_peer_buffer {
                drop(state);
                let n = self.stats.dropped_overflow.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() {
                    tracing::warn!(peer = %peer.address, dropped = n + 1, "outgoing buffer full; message dropped");
                }
                return;
            }
            self.stats.sent.fetch_add(1, Ordering::Relaxed);
            state.pending.extend_from_slice(&scratch);
            state.pending_messages += 1;
            if crate::runtime::scheduler::buffers_output() {
                if !state.flush_scheduled {
                    state.flush_scheduled = true;
                    drop(state);
                    TO_FLUSH.with(|f| {
                        f.borrow_mut().push((peer.clone(), self.stats.clone(), self.shared.clone(), self.io.clone()))
                    });
                }
                return;
            }
            drop(state);
            flush(&peer, &self.stats, &self.shared, &self.io);
        });
    }

    fn link(&self, linker: &Upid, to: &Upid, reconnect: bool) {
        let peer = self.peer(to.address());
        let mut state = peer.state.lock();
        if state.linked.insert((linker.clone(), to.clone())) {
            state.linkers.push((linker.clone(), to.clone()));
        }
        // A connection task that exists is connected or connecting: either way the relink asks
        // it for a fresh connection once this one is up. Without a task, the one spawned below
        // makes a fresh connection anyway.
        if reconnect && state.task_running {
            state.reconnect = true;
        }
        let spawn = !state.task_running;
        state.task_running = true;
        drop(state);
        if spawn {
            self.spawn_task(peer);
        } else {
            peer.wake.notify_one();
        }
    }
}

/// Tells every linker of processes at the peer's address that they exited.
fn notify_linkers(peer: &Peer, shared: &Weak<RtShared>) {
    let linkers = {
        let mut state = peer.state.lock();
        state.linked.clear();
        std::mem::take(&mut state.linkers)
    };
    if let Some(shared) = shared.upgrade() {
        for (linker, to) in linkers {
            shared.deliver_exited(&linker, &to);
        }
    }
}

/// The life of one peer's connection: connect, write what waits, reconnect, give up.
async fn run_connection(peer: Arc<Peer>, shared: Weak<RtShared>, stats: Arc<OutboundStats>) {
    let mut backoff = Duration::from_millis(10);
    let mut waiting_since: Option<Instant> = None;
    loop {
        let connected =
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer.address)).await;
        let stream = match connected {
            Ok(Ok(stream)) => stream,
            Ok(Err(_)) | Err(_) => {
                notify_linkers(&peer, &shared);
                let since = *waiting_since.get_or_insert_with(Instant::now);
                {
                    let mut state = peer.state.lock();
                    if state.pending.is_empty() || since.elapsed() >= RETRY_WINDOW {
                        if !state.pending.is_empty() {
                            stats
                                .dropped_unreachable
                                .fetch_add(state.pending_messages, Ordering::Relaxed);
                            tracing::warn!(peer = %peer.address, messages = state.pending_messages, "peer unreachable; messages dropped");
                            state.pending.clear();
                            state.pending_messages = 0;
                        }
                        state.task_running = false;
                        return;
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        backoff = Duration::from_millis(10);
        waiting_since = None;
        let stream = Arc::new(stream);
        let broken = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(drain_answers(
            stream.clone(),
            broken.clone(),
            peer.clone(),
            stats.clone(),
        ));
        peer.state.lock().stream = Some(stream.clone());

        let relinked = write_loop(&peer, &stream, &broken).await;
        reader.abort();
        {
            let mut state = peer.state.lock();
            state.stream = None;
            state.writing = false;
        }
        if !relinked {
            notify_linkers(&peer, &shared);
        }
        let mut state = peer.state.lock();
        if !relinked && state.pending.is_empty() && state.linkers.is_empty() {
            state.task_running = false;
            return;
        }
    }
}

/// Writes pending messages until the connection breaks (false) or a relink asks for a fresh
/// connection (true).
async fn write_loop(peer: &Peer, stream: &TcpStream, broken: &AtomicBool) -> bool {
    let mut batch: Vec<u8> = Vec::new();
    loop {
        let notified = peer.wake.notified();
        {
            let mut state = peer.state.lock();
            if state.reconnect {
                state.reconnect = false;
                return true;
            }
            if broken.load(Ordering::Acquire) {
                return false;
            }
            if !state.pending.is_empty() {
                std::mem::swap(&mut state.pending, &mut batch);
                state.pending_messages = 0;
                state.writing = true;
            }
        }
        if !batch.is_empty() {
            if write_all(stream, &batch).await.is_err() {
                return false;
            }
            batch.clear();
            if batch.capacity() > 4 << 20 {
                batch = Vec::new();
            }
            peer.state.lock().writing = false;
            continue;
        }
        notified.await;
    }
}

async fn write_all(stream: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        stream.writable().await?;
        match stream.try_write(data) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Reads and counts the peer's answers; when the connection ends, marks it broken.
async fn drain_answers(
    stream: Arc<TcpStream>,
    broken: Arc<AtomicBool>,
    peer: Arc<Peer>,
    stats: Arc<OutboundStats>,
) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        if stream.readable().await.is_err() {
            break;
        }
        buf.reserve(16 * 1024);
        match stream.try_read_buf(&mut buf) {
            Ok(0) => break,
            Ok(_) => loop {
                match wire::take_response(&mut buf) {
                    Ok(Some(404)) => {
                        stats.answered_not_found.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => {
                        buf.clear();
                        break;
                    }
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
    broken.store(true, Ordering::Release);
    peer.wake.notify_one();
}

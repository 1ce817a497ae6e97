//! The cell of a process: its address, mailbox, state and the loop that serves its events.
//!
//! Protocol: senders push events into the mailbox under its lock; the first push into an idle
//! mailbox marks it *scheduled* and hands the cell to the scheduler. Exactly one worker runs a
//! scheduled cell: it swaps the mailbox's queue with its private buffer (two locks per batch,
//! not per event), serves up to [`BATCH`] events, and either re-queues the cell behind other
//! work or, when the mailbox is empty, marks it idle again.
//!
//! Invariants:
//! - `scheduled` is set exactly while the cell is in a run queue or running; only the worker
//!   that took the cell from a queue touches `owner` (the process state and its private data).
//! - Once `status` leaves `Running`, pushes are refused: the event is handed back and dropped
//!   by the sender, which abandons any promise inside it (the caller's future fails).
//! - A terminated cell is unregistered, its state dropped, its linkers told, its waiters woken.

use std::any::Any;
use std::cell::UnsafeCell;
use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::future::{Future, Promise};
use crate::http::route::{HttpEvent, RouteTable};
use crate::http::{Request, Response};
use crate::message::Message;
use crate::pid::Upid;
use crate::process::{Context, Process};
use crate::runtime::RtShared;
use crate::runtime::scheduler::Runnable;

/// Events a process serves in one go before it lets others run.
pub(crate) const BATCH: usize = 128;

pub(crate) type DispatchFn<P> = crate::runtime::thunk::Thunk<P>;
pub(crate) type Handler<P> =
    Arc<dyn for<'a, 'b> Fn(&'a mut P, &'b mut Context<'_, P>, Upid, Bytes) + Send + Sync>;

pub(crate) enum Event<P: Process> {
    Dispatch(DispatchFn<P>),
    Message(Box<Message>),
    Exited(Upid),
    Http(Box<HttpEvent>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Running,
    Terminating,
    Terminated,
}

struct Mailbox<P: Process> {
    queue: VecDeque<Event<P>>,
    scheduled: bool,
    status: Status,
    linkers: Vec<Upid>,
    /// Completed once the process has terminated (created by the first `wait`).
    terminated: Option<Promise<()>>,
}

/// What only the running worker touches.
pub(crate) struct Owner<P: Process> {
    state: Option<P>,
    initialized: bool,
    buffer: VecDeque<Event<P>>,
    pub(crate) handlers: HashMap<Box<str>, Handler<P>>,
    routes: RouteTable<P>,
}

pub(crate) struct Cell<P: Process> {
    pub(crate) upid: Upid,
    pub(crate) rt: Arc<RtShared>,
    /// The hash of the id in the runtime's registry.
    registry_hash: u64,
    mailbox: Mutex<Mailbox<P>>,
    /// Set by an injected terminate: the runner drops what it holds and terminates next.
    /// (A terminate without inject needs no flag: the process terminates once the events
    /// queued before it are served, since nothing is queued after it.)
    inject: AtomicBool,
    processed: AtomicU64,
    in_hand: AtomicUsize,
    owner: UnsafeCell<Owner<P>>,
}

// SAFETY: `owner` (the only non-`Sync` part) is touched only by the single worker that holds
// the cell's `scheduled` token (see the module invariants), and the hand-over between workers
// goes through the mailbox lock and the scheduler's queues, which synchronise memory.
unsafe impl<P: Process> Sync for Cell<P> {}

enum Next {
    Idle,
    Yield,
    Done,
}

impl<P: Process> Cell<P> {
    pub(crate) fn new(upid: Upid, rt: Arc<RtShared>, registry_hash: u64, state: P) -> Arc<Self> {
        Arc::new(Cell {
            upid,
            rt,
            registry_hash,
            mailbox: Mutex::new(Mailbox {
                queue: VecDeque::new(),
                scheduled: true,
                status: Status::Running,
                linkers: Vec::new(),
                terminated: None,
            }),
            inject: AtomicBool::new(false),
            processed: AtomicU64::new(0),
            in_hand: AtomicUsize::new(0),
            owner: UnsafeCell::new(Owner {
                state: Some(state),
                initialized: false,
                buffer: VecDeque::new(),
                handlers: HashMap::new(),
                routes: RouteTable::new(),
            }),
        })
    }

    /// Queues an event; hands it back if the process no longer accepts events.
    pub(crate) fn push(self: &Arc<Self>, event: Event<P>) -> Result<(), Event<P>> {
        let mut mailbox = self.mailbox.lock();
        if mailbox.status != Status::Running {
            return Err(event);
        }
        mailbox.queue.push_back(event);
        if mailbox.scheduled {
            return Ok(());
        }
        mailbox.scheduled = true;
        drop(mailbox);
        self.rt.scheduler.schedule(self.clone());
        Ok(())
    }

    /// Queues a dispatch, unless a test filter drops it. A refused dispatch is dropped here.
    pub(crate) fn dispatch(self: &Arc<Self>, f: DispatchFn<P>, name: &'static str) {
        if self.rt.filters.is_active() && self.rt.filters.on_dispatch(&self.upid, name) {
            return;
        }
        if let Err(event) = self.push(Event::Dispatch(f)) {
            drop(event);
        }
    }

    /// Asks the process to terminate. With `inject`, queued events are dropped and the
    /// process terminates next; otherwise it terminates after what is already queued.
    pub(crate) fn terminate(self: &Arc<Self>, inject: bool) {
        let mut mailbox = self.mailbox.lock();
        if mailbox.status != Status::Running {
            return;
        }
        mailbox.status = Status::Terminating;
        let dropped = if inject {
            self.inject.store(true, Ordering::Release);
            std::mem::take(&mut mailbox.queue)
        } else {
            VecDeque::new()
        };
        let schedule = !mailbox.scheduled;
        mailbox.scheduled = true;
        drop(mailbox);
        if schedule {
            self.rt.scheduler.schedule(self.clone());
        }
        drop(dropped);
    }

    /// A future that completes once the process has finalized.
    pub(crate) fn wait(&self) -> Future<()> {
        let mut mailbox = self.mailbox.lock();
        if mailbox.status == Status::Terminated {
            return Future::ready(());
        }
        mailbox.terminated.get_or_insert_with(Promise::new).future()
    }

    /// Registers `linker` to be told when this process exits; false if it already has.
    pub(crate) fn add_linker(&self, linker: &Upid) -> bool {
        let mut mailbox = self.mailbox.lock();
        if mailbox.status == Status::Terminated {
            return false;
        }
        if !mailbox.linkers.contains(linker) {
            mailbox.linkers.push(linker.clone());
        }
        true
    }

    pub(crate) fn queue_len(&self) -> usize {
        self.mailbox.lock().queue.len() + self.in_hand.load(Ordering::Relaxed)
    }

    pub(crate) fn events_processed(&self) -> u64 {
        self.processed.load(Ordering::Relaxed)
    }

    fn serve(self: &Arc<Self>, owner: &mut Owner<P>) -> Next {
        let Owner {
            state,
            initialized,
            buffer,
            handlers,
            routes,
        } = owner;
        let state = match state.as_mut() {
            Some(state) => state,
            None => return Next::Done,
        };
        if !*initialized {
            *initialized = true;
            state.initialize(&mut Context::new(self, handlers, routes));
        }
        let mut served = 0;
        let next = 'outer: loop {
            if self.inject.load(Ordering::Acquire) {
                buffer.clear();
            }
            if buffer.is_empty() {
                let mut mailbox = self.mailbox.lock();
                if mailbox.queue.is_empty() {
                    if mailbox.status == Status::Terminating {
                        drop(mailbox);
                        state.finalize(&mut Context::new(self, handlers, routes));
                        break Next::Done;
                    }
                    mailbox.scheduled = false;
                    break Next::Idle;
                }
                std::mem::swap(&mut mailbox.queue, buffer);
            }
            while let Some(event) = buffer.pop_front() {
                served += 1;
                match event {
                    Event::Dispatch(f) => f.call(state, &mut Context::new(self, handlers, routes)),
                    Event::Message(message) => {
                        let message = *message;
                        match handlers.get(message.name.as_str()).cloned() {
                            Some(handler) => handler(
                                state,
                                &mut Context::new(self, handlers, routes),
                                message.from,
                                message.body,
                            ),
                            None => {
                                state.message(&mut Context::new(self, handlers, routes), message)
                            }
                        }
                    }
                    Event::Exited(pid) => {
                        state.exited(&mut Context::new(self, handlers, routes), &pid)
                    }
                    Event::Http(event) => {
                        crate::http::route::serve_event(self, state, handlers, routes, *event)
                    }
                }
                if served >= BATCH {
                    break 'outer Next::Yield;
                }
                if self.inject.load(Ordering::Relaxed) {
                    continue 'outer;
                }
            }
        };
        self.processed.fetch_add(served as u64, Ordering::Relaxed);
        self.in_hand.store(buffer.len(), Ordering::Relaxed);
        next
    }

    /// Tears the process down: unregisters it, drops its state and pending events, tells its
    /// linkers and wakes its waiters.
    fn cleanup(self: &Arc<Self>, owner: &mut Owner<P>) {
        // Unregister first: once `wait` can see `Terminated`, the process must be gone.
        self.rt
            .registry
            .remove(self.registry_hash, Arc::as_ptr(self) as *const ());
        let (queue, linkers, terminated) = {
            let mut mailbox = self.mailbox.lock();
            mailbox.status = Status::Terminated;
            (
                std::mem::take(&mut mailbox.queue),
                std::mem::take(&mut mailbox.linkers),
                mailbox.terminated.take(),
            )
        };
        let state = owner.state.take();
        let buffer = std::mem::take(&mut owner.buffer);
        let handlers = std::mem::take(&mut owner.handlers);
        let routes = std::mem::replace(&mut owner.routes, RouteTable::new());
        self.in_hand.store(0, Ordering::Relaxed);
        drop((state, buffer, handlers, routes, queue));
        for linker in linkers {
            self.rt.deliver_exited(&linker, &self.upid);
        }
        if let Some(terminated) = terminated {
            terminated.set(());
        }
    }
}

impl<P: Process> Runnable for Cell<P> {
    fn run(self: Arc<Self>) {
        // SAFETY: this worker holds the `scheduled` token (it took the cell from a run queue),
        // so no other thread touches `owner` until the token is released under the mailbox
        // lock in `serve` (Next::Idle) or the cell is queued again (Next::Yield).
        let owner = unsafe { &mut *self.owner.get() };
        match catch_unwind(AssertUnwindSafe(|| self.serve(owner))) {
            Ok(Next::Idle) => {}
            Ok(Next::Yield) => self.rt.scheduler.yield_now(self.clone()),
            Ok(Next::Done) => self.cleanup(owner),
            Err(panic) => {
                tracing::error!(pid = %self.upid, panic = panic_message(&*panic), "process panicked; terminating it");
                self.cleanup(owner);
            }
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic")
}

/// The untyped view of a cell that the registry keeps.
pub(crate) trait AnyCell: Send + Sync {
    fn upid(&self) -> &Upid;
    /// Delivers a message; false if the process no longer accepts events.
    fn deliver(self: Arc<Self>, message: Box<Message>) -> bool;
    fn deliver_exited(self: Arc<Self>, pid: Upid);
    fn terminate(self: Arc<Self>, inject: bool);
    fn wait(&self) -> Future<()>;
    fn add_linker(&self, linker: &Upid) -> bool;
    fn queue_len(&self) -> usize;
    fn events_processed(&self) -> u64;
    /// Queues an HTTP request for the process's routes; the future fails (abandoned) if the
    /// process no longer accepts events.
    fn http(self: Arc<Self>, request: Request) -> Future<Response>;
}

impl<P: Process> AnyCell for Cell<P> {
    fn upid(&self) -> &Upid {
        &self.upid
    }

    fn deliver(self: Arc<Self>, message: Box<Message>) -> bool {
        self.push(Event::Message(message)).is_ok()
    }

    fn deliver_exited(self: Arc<Self>, pid: Upid) {
        let _ = self.push(Event::Exited(pid));
    }

    fn terminate(self: Arc<Self>, inject: bool) {
        Cell::terminate(&self, inject);
    }

    fn wait(&self) -> Future<()> {
        Cell::wait(self)
    }

    fn add_linker(&self, linker: &Upid) -> bool {
        Cell::add_linker(self, linker)
    }

    fn queue_len(&self) -> usize {
        Cell::queue_len(self)
    }

    fn events_processed(&self) -> u64 {
        Cell::events_processed(self)
    }

    fn http(self: Arc<Self>, request: Request) -> Future<Response> {
        let promise = Promise::new();
        let future = promise.future();
        // A refused event is dropped with its promise: the future is abandoned.
        let _ = self.push(Event::Http(Box::new(HttpEvent { request, promise })));
        future
    }
}

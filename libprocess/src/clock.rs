//! The runtime's clock and timers, with a virtual mode for deterministic tests.
//!
//! Every timer of a runtime (`delay`, `after`, `Future::after`) is kept here, in a heap ordered
//! by deadline on the runtime's *ticks* (a monotonic duration since the runtime started). A
//! timer thread fires them on wall time. When a test pauses the clock, ticks stop; only
//! `Clock::advance` moves them, and it fires what came due before it returns, so that a test
//! can advance and then `Clock::settle` (wait until every process's queue is drained and no
//! due timer is left) instead of sleeping.
//!
//! Each runtime has its own clock, so tests running in parallel, each with its own runtime,
//! do not disturb each other. The free functions of this module act on the current runtime.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Condvar, Mutex};

use crate::runtime::{self, RtShared};

type TimerFn = Box<dyn FnOnce() + Send>;

pub(crate) struct ClockState {
    start: Instant,
    start_wall: SystemTime,
    inner: Mutex<ClockInner>,
}

struct ClockInner {
    paused: bool,
    /// Ticks while paused.
    frozen: Duration,
    /// Added to the real elapsed time when running (moves forward on resume after advances).
    offset: Duration,
}

impl ClockState {
    pub(crate) fn new() -> Self {
        ClockState {
            start: Instant::now(),
            start_wall: SystemTime::now(),
            inner: Mutex::new(ClockInner {
                paused: false,
                frozen: Duration::ZERO,
                offset: Duration::ZERO,
            }),
        }
    }

    pub(crate) fn ticks(&self) -> Duration {
        let inner = self.inner.lock();
        if inner.paused {
            inner.frozen
        } else {
            self.start.elapsed() + inner.offset
        }
    }

    fn is_paused(&self) -> bool {
        self.inner.lock().paused
    }
}

pub(crate) struct Timers {
    queue: Mutex<TimerQueue>,
    wakeup: Condvar,
    /// Timers taken from the heap whose callbacks have not returned yet.
    firing: AtomicUsize,
    shutdown: AtomicBool,
}

struct TimerQueue {
    heap: BinaryHeap<Reverse<(Duration, u64)>>,
    entries: HashMap<u64, TimerFn>,
    next_id: u64,
}

impl Timers {
    pub(crate) fn new() -> Self {
        Timers {
            queue: Mutex::new(TimerQueue {
                heap: BinaryHeap::new(),
                entries: HashMap::new(),
                next_id: 0,
            }),
            wakeup: Condvar::new(),
            firing: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
        }
    }

    pub(crate) fn shutdown(&self) {
        let _queue = self.queue.lock();
        self.shutdown.store(true, Ordering::SeqCst);
        self.wakeup.notify_all();
    }

    /// Takes the callbacks due at `now` (counting them as firing).
    fn take_due(&self, queue: &mut TimerQueue, now: Duration) -> Vec<TimerFn> {
        let mut due = Vec::new();
        while let Some(Reverse((deadline, id))) = queue.heap.peek().copied() {
            if deadline > now {
                break;
            }
            queue.heap.pop();
            if let Some(f) = queue.entries.remove(&id) {
                due.push(f);
            }
        }
        self.firing.fetch_add(due.len(), Ordering::SeqCst);
        due
    }

    fn run(&self, due: Vec<TimerFn>) {
        let n = due.len();
        for f in due {
            f();
        }
        self.firing.fetch_sub(n, Ordering::SeqCst);
    }

    /// Fires every timer due at `now` on the calling thread.
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    fn fire_due(&self, now: Duration) {
        let due = self.take_due(&mut self.queue.lock(), now);
        self.run(due);
    }

    /// True when no timer is due at `now` and none is firing.
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    fn is_quiet(&self, now: Duration) -> bool {
        let queue = self.queue.lock();
        let due = queue
            .heap
            .iter()
            .any(|Reverse((deadline, id))| *deadline <= now && queue.entries.contains_key(id));
        !due && self.firing.load(Ordering::SeqCst) == 0
    }
}

/// The loop of a runtime's timer thread: fires timers as wall time reaches them.
pub(crate) fn run_timer_thread(shared: &RtShared) {
    let timers = &shared.timers;
    let mut queue = timers.queue.lock();
    loop {
        if timers.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let now = shared.clock.ticks();
        let due = timers.take_due(&mut queue, now);
        if !due.is_empty() {
            drop(queue);
            timers.run(due);
            queue = timers.queue.lock();
            continue;
        }
        let next = queue.heap.peek().map(|Reverse((deadline, _))| *deadline);
        match next {
            Some(deadline) if !shared.clock.is_paused() => {
                timers
                    .wakeup
                    .wait_for(&mut queue, deadline.saturating_sub(now));
            }
            _ => timers.wakeup.wait(&mut queue),
        }
    }
}

/// A scheduled timer; [`Timer::cancel`] stops it if it has not fired. Dropping the handle
/// does not cancel the timer.
#[derive(Clone)]
pub struct Timer {
    id: u64,
    shared: Arc<RtShared>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").field("id", &self.id).finish()
    }
}

impl Timer {
    /// Cancels the timer; true if it had not fired (nor been cancelled) yet.
    pub fn cancel(&self) -> bool {
        self.shared
            .timers
            .queue
            .lock()
            .entries
            .remove(&self.id)
            .is_some()
    }
}

/// Runs `f` on a runtime's timer after `duration` of its clock.
pub(crate) fn timer_on(
    shared: &Arc<RtShared>,
    duration: Duration,
    f: impl FnOnce() + Send + 'static,
) -> Timer {
    let deadline = shared.clock.ticks() + duration;
    let timers = &shared.timers;
    let id = {
        let mut queue = timers.queue.lock();
        let id = queue.next_id;
        queue.next_id += 1;
        queue.heap.push(Reverse((deadline, id)));
        queue.entries.insert(id, Box::new(f));
        let earliest = queue
            .heap
            .peek()
            .is_some_and(|Reverse((_, first))| *first == id);
        if earliest {
            timers.wakeup.notify_one();
        }
        id
    };
    Timer {
        id,
        shared: shared.clone(),
    }
}

/// Runs `f` on the current runtime's timer after `duration` of its clock.
pub(crate) fn timer(duration: Duration, f: impl FnOnce() + Send + 'static) -> Timer {
    timer_on(&runtime::current().shared, duration, f)
}

/// The clock of one runtime (see [`Handle::clock`](crate::Handle::clock)).
///
/// `now` is always available; pausing, advancing and settling are test-only (`test-util`).
#[derive(Clone)]
pub struct Clock {
    pub(crate) shared: Arc<RtShared>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("paused", &self.shared.clock.is_paused())
            .finish()
    }
}

impl Clock {
    /// The current time on this clock (frozen while paused).
    pub fn now(&self) -> SystemTime {
        let clock = &self.shared.clock;
        clock.start_wall + clock.ticks()
    }

    /// True while the clock is paused.
    pub fn is_paused(&self) -> bool {
        self.shared.clock.is_paused()
    }
}

#[cfg(feature = "test-util")]
impl Clock {
    /// Freezes this runtime's time: timers fire only through [`Clock::advance`].
    pub fn pause(&self) {
        let clock = &self.shared.clock;
        let mut inner = clock.inner.lock();
        if !inner.paused {
            inner.frozen = clock.start.elapsed() + inner.offset;
            inner.paused = true;
        }
    }

    /// Moves a paused clock forward by `duration` and fires every timer that came due.
    /// Does nothing on a running clock.
    pub fn advance(&self, duration: Duration) {
        let now = {
            let mut inner = self.shared.clock.inner.lock();
            if !inner.paused {
                return;
            }
            inner.frozen += duration;
            inner.frozen
        };
        self.shared.timers.fire_due(now);
        self.shared.timers.wakeup.notify_all();
    }

    /// Lets time run again, on from where the paused clock stood.
    pub fn resume(&self) {
        let clock = &self.shared.clock;
        let mut inner = clock.inner.lock();
        if inner.paused {
            let elapsed = clock.start.elapsed();
            inner.offset = inner.frozen.saturating_sub(elapsed);
            inner.paused = false;
            drop(inner);
            self.shared.timers.wakeup.notify_all();
        }
    }

    /// Blocks until every due timer has fired and every process's queue is empty.
    ///
    /// Work started by threads outside the runtime (or in flight on the network) can still
    /// race it, as in libprocess. Never call it from inside a process.
    pub fn settle(&self) {
        let shared = &self.shared;
        let mut spins = 0u32;
        loop {
            let now = shared.clock.ticks();
            shared.timers.fire_due(now);
            if shared.scheduler.is_quiescent()
                && shared.timers.is_quiet(now)
                && shared.scheduler.is_quiescent()
            {
                return;
            }
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::park_timeout(Duration::from_micros(50));
            }
        }
    }
}

/// The current time on the current runtime's clock.
pub fn now() -> SystemTime {
    runtime::current().clock().now()
}

/// Pauses the current runtime's clock (see [`Clock::pause`]).
#[cfg(feature = "test-util")]
pub fn pause() {
    runtime::current().clock().pause()
}

/// Advances the current runtime's paused clock (see [`Clock::advance`]).
#[cfg(feature = "test-util")]
pub fn advance(duration: Duration) {
    runtime::current().clock().advance(duration)
}

/// Resumes the current runtime's clock (see [`Clock::resume`]).
#[cfg(feature = "test-util")]
pub fn resume() {
    runtime::current().clock().resume()
}

/// Settles the current runtime (see [`Clock::settle`]).
#[cfg(feature = "test-util")]
pub fn settle() {
    runtime::current().clock().settle()
}

//! The worker pool: runnable processes, the threads that run them, and how they find work.
//!
//! Each worker has a local FIFO deque and a one-entry *LIFO slot*. A process made runnable by
//! a handler running on a worker goes into that worker's LIFO slot, so a request and its reply
//! stay on one thread and hot caches (the reason a multi-threaded pool can compete with a
//! single-threaded one on ping-pong). A process scheduled from outside the pool goes into the
//! shared injector. Idle workers steal from the injector and from each other, then park.
//!
//! Waking: a worker is unparked only when work is queued where others can steal it and no
//! worker is already searching; a woken worker is *searching* until it finds work, and the last
//! searcher to find work wakes another (so parallelism ramps up without a thundering herd).
//!
//! Quiescence (for `Clock::settle`): each worker publishes a `busy` flag, cleared only just
//! before it parks with empty queues, and a generation counter is bumped whenever a worker
//! leaves its parked state; the pool is quiescent when the injector is empty, every worker is
//! parked, and the generation did not move while that was checked.

use std::cell::Cell as StdCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::CachePadded;
use crossbeam_utils::sync::{Parker, Unparker};
use parking_lot::Mutex;

/// Something a worker can run: a process with events to handle.
pub(crate) trait Runnable: Send + Sync {
    /// Handles a batch of events. The task was removed from every queue before this call
    /// and is re-queued by the implementation (through [`yield_now`]) if it has more to do.
    fn run(self: Arc<Self>);
}

pub(crate) type Task = Arc<dyn Runnable>;

/// How many times in a row a worker may take from its LIFO slot before it lets its FIFO
/// queue go first (so two processes bouncing messages cannot starve the rest).
const MAX_LIFO_STREAK: u32 = 16;
/// Every this many tasks a worker looks at the injector first, for fairness to the outside.
const INJECTOR_INTERVAL: u32 = 61;

pub(crate) struct Scheduler {
    injector: Injector<Task>,
    stealers: Box<[Stealer<Task>]>,
    workers: Box<[WorkerShared]>,
    /// Indexes of parked workers.
    idle: Mutex<Vec<usize>>,
    num_sleeping: AtomicUsize,
    num_searching: AtomicUsize,
    generation: AtomicU64,
    shutdown: AtomicBool,
}

struct WorkerShared {
    unparker: Unparker,
    busy: CachePadded<AtomicBool>,
}

/// What a worker thread needs to run its loop; handed to the thread by [`Scheduler::new`].
pub(crate) struct WorkerSeed {
    index: usize,
    local: Worker<Task>,
    parker: Parker,
}

/// The per-thread state of a worker, reachable from handlers through a thread-local pointer.
struct WorkerCore {
    scheduler: *const Scheduler,
    local: Worker<Task>,
    lifo: StdCell<Option<Task>>,
}

thread_local! {
    static CORE: StdCell<*const WorkerCore> = const { StdCell::new(std::ptr::null()) };
}

/// A one-task slot on a thread outside the pool (an IO thread), open while that thread
/// delivers messages: the first task made runnable meanwhile is kept for the thread to run
/// itself, instead of going to the injector and waking a worker.
struct InlineSlot {
    scheduler: *const Scheduler,
    task: Option<Task>,
}

thread_local! {
    static INLINE: std::cell::RefCell<Option<InlineSlot>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's inline slot open for `scheduler`; returns what `f` returned
/// and the task it captured, which the caller must run (`Runnable::run`).
pub(crate) fn capture_inline<R>(scheduler: &Scheduler, f: impl FnOnce() -> R) -> (R, Option<Task>) {
    INLINE.with(|slot| {
        *slot.borrow_mut() = Some(InlineSlot {
            scheduler,
            task: None,
        })
    });
    let result = f();
    let task = INLINE
        .with(|slot| slot.borrow_mut().take())
        .and_then(|slot| slot.task);
    (result, task)
}

/// Keeps `task` in this thread's open inline slot, if there is one for `scheduler` and it is
/// empty; otherwise hands the task back.
fn try_inline(scheduler: &Scheduler, task: Task) -> Option<Task> {
    INLINE.with(|slot| match slot.borrow_mut().as_mut() {
        Some(slot) if std::ptr::eq(slot.scheduler, scheduler) && slot.task.is_none() => {
            slot.task = Some(task);
            None
        }
        _ => Some(task),
    })
}

thread_local! {
    /// Set while a thread outside the pool runs a task it captured (see `run_inline`).
    static RUNNING_INLINE: StdCell<bool> = const { StdCell::new(false) };
}

/// True where remote output may be buffered until the current task ends: on a worker thread
/// of any runtime (whose loop flushes after each task), or during `run_inline`.
pub(crate) fn buffers_output() -> bool {
    CORE.with(|core| !core.get().is_null()) || RUNNING_INLINE.with(StdCell::get)
}

/// Runs a task captured with `capture_inline` on this thread, then flushes its output.
pub(crate) fn run_inline(task: Task) {
    RUNNING_INLINE.with(|r| r.set(true));
    task.run();
    RUNNING_INLINE.with(|r| r.set(false));
    crate::remote::outbound::flush_thread();
}

/// Runs `f` with this thread's worker core if it belongs to `scheduler`.
fn with_core<R>(scheduler: &Scheduler, f: impl FnOnce(Option<&WorkerCore>) -> R) -> R {
    CORE.with(|core| {
        let ptr = core.get();
        // SAFETY: the pointer is set by `Scheduler::run_worker` to a `WorkerCore` living on that
        // function's stack for as long as the pointer is set, on this same thread, and is reset
        // to null before the core is dropped. The core is only used through shared references
        // (its mutable parts are `Cell`s and the deque's own interior mutability).
        let core = unsafe { ptr.as_ref() };
        f(core.filter(|c| std::ptr::eq(c.scheduler, scheduler)))
    })
}

impl Scheduler {
    pub(crate) fn new(workers: usize) -> (Scheduler, Vec<WorkerSeed>) {
        let mut seeds = Vec::with_capacity(workers);
        let mut stealers = Vec::with_capacity(workers);
        let mut shared = Vec::with_capacity(workers);
        for index in 0..workers {
            let local = Worker::new_fifo();
            stealers.push(local.stealer());
            let parker = Parker::new();
            shared.push(WorkerShared {
                unparker: parker.unparker().clone(),
                busy: CachePadded::new(AtomicBool::new(true)),
            });
            seeds.push(WorkerSeed {
                index,
                local,
                parker,
            });
        }
        let scheduler = Scheduler {
            injector: Injector::new(),
            stealers: stealers.into_boxed_slice(),
            workers: shared.into_boxed_slice(),
            idle: Mutex::new(Vec::with_capacity(workers)),
            num_sleeping: AtomicUsize::new(0),
            num_searching: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
        };
        (scheduler, seeds)
    }

    /// The number of worker threads.
    pub(crate) fn num_workers(&self) -> usize {
        self.workers.len()
    }

    /// Makes `task` runnable. From a worker of this pool it goes to the LIFO slot (the task
    /// that was there moves to the local queue, where others may steal it).
    pub(crate) fn schedule(&self, task: Task) {
        self.enqueue(task, true);
    }

    /// Re-queues a task that used up its batch: at the back of the local queue, behind the
    /// work that waited meanwhile.
    pub(crate) fn yield_now(&self, task: Task) {
        self.enqueue(task, false);
    }

    /// Queues `task` on this thread's worker (in its LIFO slot if `lifo`, else at the back of
    /// its local queue), or in the injector from outside the pool; wakes a worker if the task
    /// can be stolen.
    fn enqueue(&self, task: Task, lifo: bool) {
        let outside = with_core(self, |core| match core {
            Some(core) => {
                let stealable = if lifo {
                    core.lifo.replace(Some(task))
                } else {
                    Some(task)
                };
                if let Some(stealable) = stealable {
                    core.local.push(stealable);
                    self.notify_one();
                }
                None
            }
            None => Some(task),
        });
        let outside = match outside {
            Some(task) if lifo => try_inline(self, task),
            other => other,
        };
        if let Some(task) = outside {
            self.injector.push(task);
            self.notify_one();
        }
    }

    fn notify_one(&self) {
        fence(Ordering::SeqCst);
        if self.num_searching.load(Ordering::SeqCst) > 0
            || self.num_sleeping.load(Ordering::SeqCst) == 0
        {
            return;
        }
        let mut idle = self.idle.lock();
        if self.num_searching.load(Ordering::SeqCst) > 0 {
            return;
        }
        if let Some(index) = idle.pop() {
            self.num_sleeping.fetch_sub(1, Ordering::SeqCst);
            self.num_searching.fetch_add(1, Ordering::SeqCst);
            drop(idle);
            self.workers[index].unparker.unpark();
        }
    }

    fn has_visible_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// True when no worker runs or holds a task and nothing is queued.
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    pub(crate) fn is_quiescent(&self) -> bool {
        let before = self.generation.load(Ordering::SeqCst);
        let quiet = self.injector.is_empty()
            && self.workers.iter().all(|w| !w.busy.load(Ordering::SeqCst))
            && self.stealers.iter().all(|s| s.is_empty());
        quiet && self.generation.load(Ordering::SeqCst) == before
    }

    /// Stops every worker after its current task.
    pub(crate) fn shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for worker in self.workers.iter() {
            worker.unparker.unpark();
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// The loop of one worker thread.
    pub(crate) fn run_worker(self: &Arc<Self>, seed: WorkerSeed) {
        let WorkerSeed {
            index,
            local,
            parker,
        } = seed;
        let core = WorkerCore {
            scheduler: Arc::as_ptr(self),
            local,
            lifo: StdCell::new(None),
        };
        CORE.with(|c| c.set(&core));
        let _reset = ResetCore;

        let mut tick: u32 = 0;
        let mut lifo_streak: u32 = 0;
        let mut searching = false;
        loop {
            if self.shutdown.load(Ordering::Relaxed) {
                break;
            }
            tick = tick.wrapping_add(1);
            let task = self
                .next_local(&core, tick, &mut lifo_streak)
                .or_else(|| self.steal(index, &core));
            if let Some(task) = task {
                if searching {
                    searching = false;
                    if self.num_searching.fetch_sub(1, Ordering::SeqCst) == 1 {
                        self.notify_one();
                    }
                }
                task.run();
                crate::remote::outbound::flush_thread();
                continue;
            }
            if searching {
                self.num_searching.fetch_sub(1, Ordering::SeqCst);
            }
            searching = self.park(index, &parker);
        }
        // Drop what is left so the processes' references are released.
        drop(core.lifo.take());
        while core.local.pop().is_some() {}
    }

    fn next_local(&self, core: &WorkerCore, tick: u32, lifo_streak: &mut u32) -> Option<Task> {
        if tick.is_multiple_of(INJECTOR_INTERVAL)
            && let Some(task) = steal_from(|| self.injector.steal_batch_and_pop(&core.local))
        {
            return Some(task);
        }
        if let Some(task) = core.lifo.take() {
            if *lifo_streak < MAX_LIFO_STREAK {
                *lifo_streak += 1;
                return Some(task);
            }
            core.local.push(task);
        }
        *lifo_streak = 0;
        core.local
            .pop()
            .or_else(|| steal_from(|| self.injector.steal_batch_and_pop(&core.local)))
    }

    fn steal(&self, index: usize, core: &WorkerCore) -> Option<Task> {
        let n = self.stealers.len();
        for offset in 1..n {
            let victim = (index + offset) % n;
            if let Some(task) =
                steal_from(|| self.stealers[victim].steal_batch_and_pop(&core.local))
            {
                return Some(task);
            }
        }
        None
    }

    /// Parks the worker until it is notified; returns true when it wakes as a searcher.
    fn park(&self, index: usize, parker: &Parker) -> bool {
        {
            let mut idle = self.idle.lock();
            idle.push(index);
            self.num_sleeping.fetch_add(1, Ordering::SeqCst);
        }
        self.workers[index].busy.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.has_visible_work() || self.shutdown.load(Ordering::SeqCst) {
            return self.unpark_self(index);
        }
        loop {
            parker.park();
            if self.shutdown.load(Ordering::SeqCst) {
                return self.unpark_self(index);
            }
            let idle = self.idle.lock();
            if !idle.contains(&index) {
                // Notified: `notify_one` took us off the list and counted us as searching.
                drop(idle);
                self.mark_busy(index);
                return true;
            }
        }
    }

    /// Leaves the parked state on our own: off the list if still on it (not searching),
    /// else a notifier already counted us as a searcher.
    fn unpark_self(&self, index: usize) -> bool {
        let mut idle = self.idle.lock();
        let searching = match idle.iter().position(|&i| i == index) {
            Some(position) => {
                idle.swap_remove(position);
                self.num_sleeping.fetch_sub(1, Ordering::SeqCst);
                false
            }
            None => true,
        };
        drop(idle);
        self.mark_busy(index);
        searching
    }

    fn mark_busy(&self, index: usize) {
        self.workers[index].busy.store(true, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

struct ResetCore;

impl Drop for ResetCore {
    fn drop(&mut self) {
        CORE.with(|c| c.set(std::ptr::null()));
    }
}

fn steal_from(mut attempt: impl FnMut() -> Steal<Task>) -> Option<Task> {
    loop {
        match attempt() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}

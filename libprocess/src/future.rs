//! Futures and promises with libprocess semantics.
//!
//! A [`Future<T>`] is a shared, cloneable handle on a value that a [`Promise<T>`] will
//! provide. It is in one of four states: pending, ready, failed or discarded; a promise
//! dropped before it completes *abandons* its future, which then counts as failed (so that
//! nothing waits forever on a dispatch to a process that died).
//!
//! Callbacks are synchronous, as in libprocess: a callback registered on a completed future
//! runs at once on the registering thread; otherwise it runs on whichever thread completes
//! the promise. Use [`defer`](crate::defer) to run a continuation inside a process instead.
//!
//! `discard()` on a future is a *request*: it runs the `on_discard` callbacks (through which
//! the producer may give up and call [`Promise::discard`]) and it propagates upstream through
//! [`Future::then`] chains. A `then` whose result had a discard requested yields a discarded
//! future instead of running its continuation.
//!
//! `Future<T>` also implements [`std::future::Future`] (for `T: Clone`), so `.await` works
//! inside async code.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Why a future did not produce a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FutureError {
    /// The producer failed with this message.
    #[error("{0}")]
    Failed(String),
    /// The future was discarded.
    #[error("discarded")]
    Discarded,
    /// The promise was dropped without completing, e.g. a dispatch to a terminated process.
    #[error("abandoned: the promise was dropped before it completed")]
    Abandoned,
}

enum Outcome<T> {
    Ready(T),
    Failed(String),
    Discarded,
    Abandoned,
}

type Callback<T> = Box<dyn FnOnce(&Future<T>) + Send>;
type DiscardCallback = Box<dyn FnOnce() + Send>;

struct Shared<T> {
    outcome: OnceLock<Outcome<T>>,
    discard_requested: AtomicBool,
    waiting: Mutex<Waiting<T>>,
}

struct Waiting<T> {
    callbacks: Vec<Callback<T>>,
    on_discard: Vec<DiscardCallback>,
    wakers: Vec<Waker>,
}

impl<T> Shared<T> {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            outcome: OnceLock::new(),
            discard_requested: AtomicBool::new(false),
            waiting: Mutex::new(Waiting {
                callbacks: Vec::new(),
                on_discard: Vec::new(),
                wakers: Vec::new(),
            }),
        })
    }

    fn completed(outcome: Outcome<T>) -> Arc<Self> {
        let shared = Shared::new();
        let _ = shared.outcome.set(outcome);
        shared
    }
}

/// Completes `shared` with `outcome` unless it is already complete, then runs callbacks.
fn complete<T: Send + Sync + 'static>(shared: &Arc<Shared<T>>, outcome: Outcome<T>) -> bool {
    let (callbacks, wakers) = {
        let mut waiting = shared.waiting.lock();
        if shared.outcome.set(outcome).is_err() {
            return false;
        }
        waiting.on_discard.clear();
        (
            std::mem::take(&mut waiting.callbacks),
            std::mem::take(&mut waiting.wakers),
        )
    };
    for waker in wakers {
        waker.wake();
    }
    if !callbacks.is_empty() {
        let future = Future {
            shared: shared.clone(),
        };
        for callback in callbacks {
            callback(&future);
        }
    }
    true
}

/// A shared handle on a value that is, or will be, produced by a [`Promise`].
///
/// ```
/// use libprocess::{Future, Promise};
/// let promise = Promise::new();
/// let doubled: Future<i32> = promise.future().map(|v: i32| v * 2);
/// promise.set(21);
/// assert_eq!(doubled.get(), Ok(42));
/// ```
pub struct Future<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.shared.outcome.get() {
            None => "pending",
            Some(Outcome::Ready(_)) => "ready",
            Some(Outcome::Failed(_)) => "failed",
            Some(Outcome::Discarded) => "discarded",
            Some(Outcome::Abandoned) => "abandoned",
        };
        write!(f, "Future({state})")
    }
}

impl<T: Send + Sync + 'static> Future<T> {
    /// A future that is already ready with `value`.
    pub fn ready(value: T) -> Self {
        Future {
            shared: Shared::completed(Outcome::Ready(value)),
        }
    }

    /// A future that has already failed with `message`.
    pub fn failed(message: impl Into<String>) -> Self {
        Future {
            shared: Shared::completed(Outcome::Failed(message.into())),
        }
    }

    /// A future that is already discarded.
    pub fn discarded() -> Self {
        Future {
            shared: Shared::completed(Outcome::Discarded),
        }
    }

    /// A future that already reports `Err(error)`.
    pub fn from_error(error: FutureError) -> Self {
        match error {
            FutureError::Failed(message) => Future::failed(message),
            FutureError::Discarded => Future::discarded(),
            FutureError::Abandoned => Future {
                shared: Shared::completed(Outcome::Abandoned),
            },
        }
    }

    /// True until the future is ready, failed, discarded or abandoned.
    pub fn is_pending(&self) -> bool {
        self.shared.outcome.get().is_none()
    }

    /// True when a value is available.
    pub fn is_ready(&self) -> bool {
        matches!(self.shared.outcome.get(), Some(Outcome::Ready(_)))
    }

    /// True when the future failed, including when its promise was abandoned.
    pub fn is_failed(&self) -> bool {
        matches!(
            self.shared.outcome.get(),
            Some(Outcome::Failed(_) | Outcome::Abandoned)
        )
    }

    /// True when the future was discarded.
    pub fn is_discarded(&self) -> bool {
        matches!(self.shared.outcome.get(), Some(Outcome::Discarded))
    }

    /// True when the promise was dropped before it completed.
    pub fn is_abandoned(&self) -> bool {
        matches!(self.shared.outcome.get(), Some(Outcome::Abandoned))
    }

    /// True once someone asked for this future to be discarded.
    pub fn has_discard(&self) -> bool {
        self.shared.discard_requested.load(Ordering::Acquire)
    }

    /// The value, if ready.
    pub fn value(&self) -> Option<&T> {
        match self.shared.outcome.get() {
            Some(Outcome::Ready(value)) => Some(value),
            _ => None,
        }
    }

    /// The failure message, if failed or abandoned.
    pub fn failure(&self) -> Option<&str> {
        match self.shared.outcome.get() {
            Some(Outcome::Failed(message)) => Some(message),
            Some(Outcome::Abandoned) => Some("abandoned"),
            _ => None,
        }
    }

    /// The outcome as a `Result`, or `None` while pending.
    pub fn result(&self) -> Option<Result<&T, FutureError>> {
        self.shared.outcome.get().map(|outcome| match outcome {
            Outcome::Ready(value) => Ok(value),
            Outcome::Failed(message) => Err(FutureError::Failed(message.clone())),
            Outcome::Discarded => Err(FutureError::Discarded),
            Outcome::Abandoned => Err(FutureError::Abandoned),
        })
    }

    /// Asks for this future to be discarded: runs its `on_discard` callbacks once. The future
    /// becomes discarded only if its producer gives up (`Promise::discard`), or at the next
    /// `then` of a chain. No effect on a completed future.
    pub fn discard(&self) {
        if self.shared.outcome.get().is_some() {
            return;
        }
        let callbacks = {
            let mut waiting = self.shared.waiting.lock();
            if self.shared.outcome.get().is_some()
                || self.shared.discard_requested.swap(true, Ordering::AcqRel)
            {
                return;
            }
            std::mem::take(&mut waiting.on_discard)
        };
        for callback in callbacks {
            callback();
        }
    }

    /// Runs `f` when a discard is requested (at once if one already was).
    pub fn on_discard(&self, f: impl FnOnce() + Send + 'static) -> &Self {
        {
            let mut waiting = self.shared.waiting.lock();
            if self.shared.outcome.get().is_some() {
                return self;
            }
            if !self.shared.discard_requested.load(Ordering::Acquire) {
                waiting.on_discard.push(Box::new(f));
                return self;
            }
        }
        f();
        self
    }

    fn on_complete(&self, f: impl FnOnce(&Future<T>) + Send + 'static) {
        {
            let mut waiting = self.shared.waiting.lock();
            if self.shared.outcome.get().is_none() {
                waiting.callbacks.push(Box::new(f));
                return;
            }
        }
        f(self);
    }

    /// Runs `f` with this future once it is no longer pending. Whatever `f` returns is
    /// dropped, so a [`defer`](crate::defer)red function fits: `f.on_any(defer(&pid, ...))`.
    pub fn on_any<R>(&self, f: impl FnOnce(Future<T>) -> R + Send + 'static) -> &Self {
        self.on_complete(move |future| {
            f(future.clone());
        });
        self
    }

    /// Runs `f` with the value once ready.
    pub fn on_ready<R>(&self, f: impl FnOnce(&T) -> R + Send + 'static) -> &Self {
        self.on_complete(move |future| {
            if let Some(value) = future.value() {
                f(value);
            }
        });
        self
    }

    /// Runs `f` with the message once failed (or abandoned).
    pub fn on_failed<R>(&self, f: impl FnOnce(&str) -> R + Send + 'static) -> &Self {
        self.on_complete(move |future| {
            if let Some(message) = future.failure() {
                f(message);
            }
        });
        self
    }

    /// Runs `f` once discarded.
    pub fn on_discarded<R>(&self, f: impl FnOnce() -> R + Send + 'static) -> &Self {
        self.on_complete(move |future| {
            if future.is_discarded() {
                f();
            }
        });
        self
    }

    /// Runs `f` once abandoned.
    pub fn on_abandoned<R>(&self, f: impl FnOnce() -> R + Send + 'static) -> &Self {
        self.on_complete(move |future| {
            if future.is_abandoned() {
                f();
            }
        });
        self
    }

    /// Blocks the calling thread until the future is no longer pending or `timeout` passed
    /// (wall time). Returns whether it completed. Never call this from inside a process.
    pub fn await_for(&self, timeout: Duration) -> bool {
        self.block(Some(Instant::now() + timeout))
    }

    fn block(&self, deadline: Option<Instant>) -> bool {
        if !self.is_pending() {
            return true;
        }
        let thread = std::thread::current();
        self.on_complete(move |_| thread.unpark());
        while self.is_pending() {
            match deadline {
                None => std::thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    std::thread::park_timeout(deadline - now);
                }
            }
        }
        true
    }

    /// A future that completes like this one, with discard requests stopping here.
    pub fn undiscardable(&self) -> Future<T>
    where
        T: Clone,
    {
        let promise = Promise::new();
        let out = promise.future();
        self.on_complete(move |future| {
            promise.complete_like(future);
        });
        out
    }
}

impl<T: Clone + Send + Sync + 'static> Future<T> {
    /// Blocks until the future completes (wall time) and returns its value or error. Never
    /// call this from inside a process: it would block a worker.
    pub fn get(&self) -> Result<T, FutureError> {
        self.block(None);
        self.result().expect("completed").cloned()
    }

    /// Chains `f`, which runs with the value when this future is ready and produces the
    /// next future. Failures, discards and abandonment flow through without calling `f`.
    /// Discarding the result discards this future.
    pub fn then<U, F>(&self, f: F) -> Future<U>
    where
        U: Clone + Send + Sync + 'static,
        F: FnOnce(T) -> Future<U> + Send + 'static,
    {
        let promise = Promise::new();
        let out = promise.future();
        link_discard(&out, self);
        self.on_complete(move |future| {
            if promise.has_discard() {
                promise.discard();
                return;
            }
            match future.shared.outcome.get().expect("completed") {
                Outcome::Ready(value) => promise.associate(f(value.clone())),
                other => {
                    promise.complete_with(map_failure(other));
                }
            }
        });
        out
    }

    /// Chains a plain function of the value.
    pub fn map<U, F>(&self, f: F) -> Future<U>
    where
        U: Clone + Send + Sync + 'static,
        F: FnOnce(T) -> U + Send + 'static,
    {
        self.then(move |value| Future::ready(f(value)))
    }

    /// Replaces a failure (not a discard) by the future `f` produces from its message.
    pub fn repair<F>(&self, f: F) -> Future<T>
    where
        F: FnOnce(String) -> Future<T> + Send + 'static,
    {
        let promise = Promise::new();
        let out = promise.future();
        link_discard(&out, self);
        self.on_complete(move |future| match future.failure() {
            Some(message) => promise.associate(f(message.to_string())),
            None => {
                promise.complete_like(future);
            }
        });
        out
    }

    /// Replaces a failure, discard or abandonment by the future `f` produces.
    pub fn recover<F>(&self, f: F) -> Future<T>
    where
        F: FnOnce(Future<T>) -> Future<T> + Send + 'static,
    {
        let promise = Promise::new();
        let out = promise.future();
        link_discard(&out, self);
        self.on_complete(move |future| {
            if future.is_ready() {
                promise.complete_like(future);
            } else {
                promise.associate(f(future.clone()));
            }
        });
        out
    }

    /// A timeout: if this future is still pending after `duration` (on the runtime's clock,
    /// which tests may pause), the result is what `f` makes of it (typically it discards the
    /// future and returns a failure). Otherwise the result completes like this future.
    pub fn after<F>(&self, duration: Duration, f: F) -> Future<T>
    where
        F: FnOnce(Future<T>) -> Future<T> + Send + 'static,
    {
        let promise = Arc::new(Promise::new());
        let out = promise.future();
        link_discard(&out, self);
        let this = self.clone();
        let on_timeout = promise.clone();
        let timer = crate::clock::timer(duration, move || {
            if this.is_pending() {
                on_timeout.associate_shared(f(this));
            }
        });
        self.on_complete(move |future| {
            timer.cancel();
            promise.complete_like(future);
        });
        out
    }
}

impl<T: Clone + Send + Sync + 'static> Future<Future<T>> {
    /// Turns a future of a future into a future.
    pub fn flatten(&self) -> Future<T> {
        self.then(|inner| inner)
    }
}

fn map_failure<T, U>(outcome: &Outcome<T>) -> Outcome<U> {
    match outcome {
        Outcome::Ready(_) => unreachable!("map_failure on a ready outcome"),
        Outcome::Failed(message) => Outcome::Failed(message.clone()),
        Outcome::Discarded => Outcome::Discarded,
        Outcome::Abandoned => Outcome::Abandoned,
    }
}

/// Discarding `downstream` discards `upstream` (held weakly: no cycle).
fn link_discard<T: Send + Sync + 'static, U: Send + Sync + 'static>(
    downstream: &Future<U>,
    upstream: &Future<T>,
) {
    let weak: Weak<Shared<T>> = Arc::downgrade(&upstream.shared);
    downstream.on_discard(move || {
        if let Some(shared) = weak.upgrade() {
            Future { shared }.discard();
        }
    });
}

impl<T: Clone + Send + Sync + 'static> std::future::Future for Future<T> {
    type Output = Result<T, FutureError>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(result) = self.result() {
            return Poll::Ready(result.cloned());
        }
        {
            let mut waiting = self.shared.waiting.lock();
            if self.shared.outcome.get().is_none() {
                if !waiting.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    waiting.wakers.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
        }
        Poll::Ready(self.result().expect("completed").cloned())
    }
}

/// The producing side of a [`Future`].
///
/// Dropping a promise that has not completed abandons its future.
pub struct Promise<T: Send + Sync + 'static> {
    shared: Option<Arc<Shared<T>>>,
}

impl<T: Send + Sync + 'static> Default for Promise<T> {
    fn default() -> Self {
        Promise::new()
    }
}

impl<T: Send + Sync + 'static> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Promise({:?})", self.future())
    }
}

impl<T: Send + Sync + 'static> Promise<T> {
    /// A new promise with a pending future.
    pub fn new() -> Self {
        Promise {
            shared: Some(Shared::new()),
        }
    }

    fn shared(&self) -> &Arc<Shared<T>> {
        self.shared.as_ref().expect("promise is live")
    }

    /// The future this promise completes.
    pub fn future(&self) -> Future<T> {
        Future {
            shared: self.shared().clone(),
        }
    }

    /// Makes the future ready. False if it was already complete.
    pub fn set(&self, value: T) -> bool {
        complete(self.shared(), Outcome::Ready(value))
    }

    /// Fails the future. False if it was already complete.
    pub fn fail(&self, message: impl Into<String>) -> bool {
        complete(self.shared(), Outcome::Failed(message.into()))
    }

    /// Discards the future. False if it was already complete.
    pub fn discard(&self) -> bool {
        complete(self.shared(), Outcome::Discarded)
    }

    /// True once a discard of the future was requested: the producer may give up.
    pub fn has_discard(&self) -> bool {
        self.shared().discard_requested.load(Ordering::Acquire)
    }

    /// Completes the future like `other` when `other` completes; a discard requested on this
    /// promise's future is passed on to `other`.
    pub fn associate(self, other: Future<T>)
    where
        T: Clone,
    {
        let shared = Arc::clone(self.shared());
        Promise::associate_inner(shared, other);
        self.defuse();
    }

    fn associate_shared(&self, other: Future<T>)
    where
        T: Clone,
    {
        Promise::associate_inner(self.shared().clone(), other);
    }

    fn associate_inner(shared: Arc<Shared<T>>, other: Future<T>)
    where
        T: Clone,
    {
        let mine = Future { shared };
        link_discard(&mine, &other);
        other.on_complete(move |future| {
            let outcome = match future.shared.outcome.get().expect("completed") {
                Outcome::Ready(value) => Outcome::Ready(value.clone()),
                other => map_failure(other),
            };
            complete(&mine.shared, outcome);
        });
    }

    fn complete_with(&self, outcome: Outcome<T>) -> bool {
        complete(self.shared(), outcome)
    }

    fn complete_like(&self, future: &Future<T>) -> bool
    where
        T: Clone,
    {
        let outcome = match future.shared.outcome.get().expect("completed") {
            Outcome::Ready(value) => Outcome::Ready(value.clone()),
            other => map_failure(other),
        };
        self.complete_with(outcome)
    }

    /// Gives up the promise without abandoning its future (someone else completes it).
    fn defuse(mut self) {
        self.shared = None;
    }
}

impl<T: Send + Sync + 'static> Drop for Promise<T> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take()
            && shared.outcome.get().is_none()
        {
            complete(&shared, Outcome::Abandoned);
        }
    }
}

/// A future of every value, in order, once all are ready; fails (or is discarded) as soon as
/// one input fails (or is discarded). Discarding the result discards every input.
pub fn collect<T: Clone + Send + Sync + 'static>(futures: Vec<Future<T>>) -> Future<Vec<T>> {
    join(futures, true, |all| {
        all.iter()
            .map(|f| f.value().expect("ready").clone())
            .collect()
    })
}

/// A future of all the inputs once none is pending, whatever their outcomes. Discarding the
/// result discards every input.
pub fn await_all<T: Send + Sync + 'static>(futures: Vec<Future<T>>) -> Future<Vec<Future<T>>> {
    join(futures, false, <[Future<T>]>::to_vec)
}

/// Completes with `finish(inputs)` once every input has completed; with `fail_fast`, fails
/// like the first input that is not ready instead. Discarding the result discards every input.
fn join<T, U>(
    futures: Vec<Future<T>>,
    fail_fast: bool,
    finish: impl Fn(&[Future<T>]) -> U + Send + Sync + 'static,
) -> Future<U>
where
    T: Send + Sync + 'static,
    U: Send + Sync + 'static,
{
    if futures.is_empty() {
        return Future::ready(finish(&[]));
    }
    let promise = Arc::new(Promise::new());
    let out = promise.future();
    for future in &futures {
        link_discard(&out, future);
    }
    let remaining = Arc::new(AtomicUsize::new(futures.len()));
    let all: Arc<Vec<Future<T>>> = Arc::new(futures);
    let finish = Arc::new(finish);
    for future in all.iter() {
        let (promise, remaining, all, finish) = (
            promise.clone(),
            remaining.clone(),
            all.clone(),
            finish.clone(),
        );
        future.on_complete(move |future| {
            if fail_fast && !future.is_ready() {
                promise.complete_like_failure(future);
            } else if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                promise.set(finish(&all));
            }
        });
    }
    out
}

impl<T: Send + Sync + 'static> Promise<T> {
    fn complete_like_failure<U: Send + Sync + 'static>(&self, future: &Future<U>) -> bool {
        let outcome = map_failure(future.shared.outcome.get().expect("completed"));
        self.complete_with(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn callbacks_on_completed_futures_run_at_once() {
        let hits = Arc::new(AtomicU32::new(0));
        let h = hits.clone();
        Future::ready(1).on_ready(move |v| h.fetch_add(*v, Ordering::SeqCst));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn then_chains_and_failures_flow_through() {
        let p = Promise::new();
        let f = p
            .future()
            .then(|v: i32| Future::ready(v + 1))
            .map(|v| v * 10);
        assert!(f.is_pending());
        p.set(1);
        assert_eq!(f.get(), Ok(20));

        let p: Promise<i32> = Promise::new();
        let called = Arc::new(AtomicBool::new(false));
        let c = called.clone();
        let f = p.future().map(move |v| {
            c.store(true, Ordering::SeqCst);
            v
        });
        p.fail("boom");
        assert_eq!(f.get(), Err(FutureError::Failed("boom".into())));
        assert!(!called.load(Ordering::SeqCst));
    }

    #[test]
    fn dropped_promise_abandons() {
        let p: Promise<i32> = Promise::new();
        let f = p.future().map(|v| v + 1);
        drop(p);
        assert!(f.is_abandoned());
        assert!(f.is_failed());
        assert_eq!(f.get(), Err(FutureError::Abandoned));
    }

    #[test]
    fn discard_propagates_to_the_promise() {
        let p: Promise<i32> = Promise::new();
        let requested = Arc::new(AtomicBool::new(false));
        let r = requested.clone();
        p.future()
            .on_discard(move || r.store(true, Ordering::SeqCst));
        let chained = p.future().map(|v| v + 1).map(|v| v + 1);
        chained.discard();
        assert!(requested.load(Ordering::SeqCst));
        assert!(p.has_discard());
        assert!(chained.is_pending());
        p.discard();
        assert!(chained.is_discarded());
    }

    #[test]
    fn then_enforces_a_requested_discard() {
        let p: Promise<i32> = Promise::new();
        let out = p.future().map(|v| v + 1);
        out.discard();
        p.set(1);
        assert!(out.is_discarded());
    }

    #[test]
    fn repair_and_recover() {
        let f = Future::<i32>::failed("x").repair(|m| Future::ready(m.len() as i32));
        assert_eq!(f.get(), Ok(1));
        let f = Future::<i32>::discarded().recover(|_| Future::ready(7));
        assert_eq!(f.get(), Ok(7));
        let f = Future::<i32>::discarded().repair(|_| Future::ready(7));
        assert!(f.is_discarded());
    }

    #[test]
    fn associate_follows_and_forwards_discard() {
        let outer: Promise<i32> = Promise::new();
        let inner: Promise<i32> = Promise::new();
        let out = outer.future();
        outer.associate(inner.future());
        out.discard();
        assert!(inner.has_discard());
        inner.set(3);
        assert_eq!(out.get(), Ok(3));
    }

    #[test]
    fn collect_and_await_all() {
        let ps: Vec<Promise<i32>> = (0..3).map(|_| Promise::new()).collect();
        let all = collect(ps.iter().map(|p| p.future()).collect());
        let settled = await_all(ps.iter().map(|p| p.future()).collect());
        for (i, p) in ps.iter().enumerate().rev() {
            p.set(i as i32);
        }
        assert_eq!(all.get(), Ok(vec![0, 1, 2]));
        assert_eq!(settled.get().unwrap().len(), 3);

        let ps: Vec<Promise<i32>> = (0..3).map(|_| Promise::new()).collect();
        let all = collect(ps.iter().map(|p| p.future()).collect());
        ps[1].fail("no");
        assert_eq!(all.get(), Err(FutureError::Failed("no".into())));

        let ps: Vec<Promise<i32>> = (0..2).map(|_| Promise::new()).collect();
        let all = collect(ps.iter().map(|p| p.future()).collect());
        all.discard();
        assert!(ps.iter().all(|p| p.has_discard()));
    }

    #[test]
    fn get_blocks_until_another_thread_completes() {
        let p = Promise::new();
        let f = p.future();
        let t = std::thread::spawn(move || p.set(5));
        assert_eq!(f.get(), Ok(5));
        t.join().unwrap();
    }

    #[test]
    fn awaitable_in_async_code() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let p = Promise::new();
        let f = p.future();
        let value = rt.block_on(async move {
            let waiter = tokio::spawn(f);
            tokio::task::yield_now().await;
            p.set("x".to_string());
            waiter.await.unwrap()
        });
        assert_eq!(value, Ok("x".to_string()));
    }
}

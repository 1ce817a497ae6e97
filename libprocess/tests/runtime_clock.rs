//! Virtual-clock tests: timers, `delay`, `after`, `Future::after` and `settle`, all on a
//! paused clock with the multi-threaded pool, never sleeping on wall time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use libprocess::{Context, Future, Pid, Process, Promise, Runtime, after, call, delay};

#[derive(Default)]
struct Ticker {
    fired: Vec<u64>,
    me: Option<Pid<Ticker>>,
}

impl Process for Ticker {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
    }
}

impl Ticker {
    /// Fires `n` times, each one second after the previous.
    fn chain(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        self.fired.push(n);
        let me = self.me.clone().unwrap();
        delay(Duration::from_secs(1), &me, move |t: &mut Ticker| {
            t.chain(n - 1)
        });
    }
}

fn fired(pid: &Pid<Ticker>) -> Vec<u64> {
    call(pid, |t: &mut Ticker| t.fired.clone()).get().unwrap()
}

#[test]
fn delay_fires_only_when_the_paused_clock_reaches_it() {
    let rt = Runtime::builder().workers(3).build();
    let clock = rt.clock();
    clock.pause();
    let pid = rt.spawn(Ticker::default());
    delay(Duration::from_secs(10), &pid, |t: &mut Ticker| {
        t.fired.push(10)
    });
    clock.advance(Duration::from_secs(9));
    clock.settle();
    assert!(fired(&pid).is_empty());
    clock.advance(Duration::from_secs(1));
    clock.settle();
    assert_eq!(fired(&pid), vec![10]);
}

#[test]
fn a_cancelled_timer_never_fires() {
    let rt = Runtime::new();
    let clock = rt.clock();
    clock.pause();
    let pid = rt.spawn(Ticker::default());
    let timer = delay(Duration::from_secs(5), &pid, |t: &mut Ticker| {
        t.fired.push(5)
    });
    assert!(timer.cancel());
    assert!(!timer.cancel());
    clock.advance(Duration::from_secs(60));
    clock.settle();
    assert!(fired(&pid).is_empty());
}

#[test]
fn settle_follows_chains_of_delays() {
    let rt = Runtime::builder().workers(3).build();
    let clock = rt.clock();
    clock.pause();
    let pid = rt.spawn(Ticker::default());
    call(&pid, |t: &mut Ticker| t.chain(5)).get().unwrap();
    for step in 1..=4u64 {
        clock.advance(Duration::from_secs(1));
        clock.settle();
        assert_eq!(fired(&pid), (5 - step..=5).rev().collect::<Vec<_>>());
    }
    // One big jump fires only what was due: the chain re-arms one timer at a time.
    clock.advance(Duration::from_secs(100));
    clock.settle();
    assert_eq!(fired(&pid), vec![5, 4, 3, 2, 1]);
}

#[test]
fn now_is_frozen_while_paused_and_moves_with_advance() {
    let rt = Runtime::new();
    let clock = rt.clock();
    clock.pause();
    let t0 = clock.now();
    assert_eq!(clock.now(), t0);
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        clock.now().duration_since(t0).unwrap(),
        Duration::from_secs(3600)
    );
    clock.resume();
    assert!(clock.now() >= t0 + Duration::from_secs(3600));
}

#[test]
fn after_and_future_timeouts_use_the_runtime_clock() {
    let rt = Runtime::new();
    let _current = rt.enter();
    let clock = rt.clock();
    clock.pause();

    let tick = after(Duration::from_secs(30));
    clock.advance(Duration::from_secs(29));
    assert!(tick.is_pending());
    clock.advance(Duration::from_secs(1));
    assert!(tick.is_ready());

    let never: Promise<u32> = Promise::new();
    let timed = never.future().after(Duration::from_secs(5), |f| {
        f.discard();
        Future::failed("timed out")
    });
    clock.advance(Duration::from_secs(5));
    clock.settle();
    assert_eq!(timed.failure(), Some("timed out"));
    assert!(never.has_discard());

    // A future that completes in time is passed through, and its timer is cancelled.
    let soon: Promise<u32> = Promise::new();
    let timed = soon
        .future()
        .after(Duration::from_secs(5), |_| Future::failed("late"));
    soon.set(7);
    clock.advance(Duration::from_secs(10));
    assert_eq!(timed.get(), Ok(7));
}

#[test]
fn discarding_after_cancels_it() {
    let rt = Runtime::new();
    let _current = rt.enter();
    rt.clock().pause();
    let tick = after(Duration::from_secs(1));
    tick.discard();
    assert!(tick.is_discarded());
}

#[test]
fn timers_fire_on_wall_time_when_not_paused() {
    let rt = Runtime::new();
    let pid = rt.spawn(Ticker::default());
    let done = Promise::new();
    let finished = done.future();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    delay(Duration::from_millis(1), &pid, move |_t: &mut Ticker| {
        c.fetch_add(1, Ordering::SeqCst);
        done.set(());
    });
    assert!(finished.await_for(Duration::from_secs(10)));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn clocks_of_separate_runtimes_are_independent() {
    let a = Runtime::new();
    let b = Runtime::new();
    a.clock().pause();
    assert!(a.clock().is_paused());
    assert!(!b.clock().is_paused());
}

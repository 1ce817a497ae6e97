//! The shootout's workloads on our runtime: processes that `dispatch` closures to each other
//! (the pattern of `examples/src/bin/pingpong.rs`), promises to learn when they are done,
//! `terminate` and `wait` to stop them. The runtime has its default workers (CPUs+1).

use std::sync::Arc;
use std::time::{Duration, Instant};

use libprocess::{Context, Pid, Process, Promise, Runtime, dispatch, terminate, wait};

use super::{Countdown, FAN_IN_CHUNK, IdleSlots};

/// Answers every ping with a pong to the pinger it was paired with.
struct Ponger {
    pinger: Option<Pid<Pinger>>,
}

impl Process for Ponger {}

impl Ponger {
    fn ping(&mut self, n: u64) {
        let pinger = self
            .pinger
            .as_ref()
            .expect("the pinger introduced itself first");
        dispatch(pinger, move |p: &mut Pinger| p.pong(n));
    }
}

/// Pings until `left` reaches zero, one round trip at a time, then completes `done`.
struct Pinger {
    ponger: Pid<Ponger>,
    left: u64,
    done: Option<Promise<()>>,
}

impl Process for Pinger {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        let me = ctx.pid();
        dispatch(&self.ponger, move |p: &mut Ponger| p.pinger = Some(me));
    }
}

impl Pinger {
    fn start(&mut self, round_trips: u64, done: Promise<()>) {
        self.left = round_trips;
        self.done = Some(done);
        self.next();
    }

    fn pong(&mut self, n: u64) {
        debug_assert_eq!(n, self.left, "the pong answers the last ping");
        self.next();
    }

    fn next(&mut self) {
        if self.left == 0 {
            if let Some(done) = self.done.take() {
                done.set(());
            }
            return;
        }
        self.left -= 1;
        let n = self.left;
        dispatch(&self.ponger, move |p: &mut Ponger| p.ping(n));
    }
}

/// `pairs` pairs, each doing `round_trips` round trips, all at once.
pub(crate) fn pairs(pairs: usize, round_trips: u64) -> Duration {
    let runtime = Runtime::new();
    let pingers: Vec<Pid<Pinger>> = (0..pairs)
        .map(|_| {
            let ponger = runtime.spawn(Ponger { pinger: None });
            runtime.spawn(Pinger {
                ponger,
                left: 0,
                done: None,
            })
        })
        .collect();
    let started = Instant::now();
    let finished: Vec<_> = pingers
        .iter()
        .map(|pinger| {
            let done = Promise::new();
            let finished = done.future();
            dispatch(pinger, move |p: &mut Pinger| p.start(round_trips, done));
            finished
        })
        .collect();
    for f in finished {
        f.get().expect("a pinger finished");
    }
    started.elapsed()
}

/// Counts the messages; completes `done` at the last one.
struct Receiver {
    expected: u64,
    received: u64,
    sum: u64,
    done: Option<Promise<u64>>,
}

impl Process for Receiver {}

impl Receiver {
    fn hit(&mut self, value: u64) {
        self.received += 1;
        self.sum = self.sum.wrapping_add(value);
        if self.received == self.expected
            && let Some(done) = self.done.take()
        {
            done.set(self.sum);
        }
    }
}

/// Sends `left` messages to the receiver, [`FAN_IN_CHUNK`] at a time, dispatching to itself
/// between chunks so that other senders interleave.
struct Sender {
    me: Option<Pid<Sender>>,
    receiver: Pid<Receiver>,
    left: u64,
}

impl Process for Sender {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
    }
}

impl Sender {
    fn burst(&mut self) {
        let n = self.left.min(FAN_IN_CHUNK);
        for i in 0..n {
            dispatch(&self.receiver, move |r: &mut Receiver| r.hit(i));
        }
        self.left -= n;
        if self.left > 0 {
            let me = self.me.as_ref().expect("initialized");
            dispatch(me, |s: &mut Sender| s.burst());
        }
    }
}

/// `senders` senders, `per_sender` messages each, to one receiver.
pub(crate) fn fan_in(senders: usize, per_sender: u64) -> Duration {
    let runtime = Runtime::new();
    let done = Promise::new();
    let finished = done.future();
    let receiver = runtime.spawn(Receiver {
        expected: per_sender * senders as u64,
        received: 0,
        sum: 0,
        done: Some(done),
    });
    let senders: Vec<Pid<Sender>> = (0..senders)
        .map(|_| {
            runtime.spawn(Sender {
                me: None,
                receiver: receiver.clone(),
                left: per_sender,
            })
        })
        .collect();
    let started = Instant::now();
    for sender in &senders {
        dispatch(sender, |s: &mut Sender| s.burst());
    }
    finished.get().expect("the receiver got every message");
    started.elapsed()
}

/// A process that does nothing.
struct Idle;

impl Process for Idle {}

/// Spawns `count` processes, terminates them all, waits for them all.
pub(crate) fn spawn_stop(count: usize) -> Duration {
    let runtime = Runtime::new();
    let started = Instant::now();
    let pids: Vec<Pid<Idle>> = (0..count).map(|_| runtime.spawn(Idle)).collect();
    for pid in &pids {
        terminate(pid);
    }
    for pid in &pids {
        wait(pid).get().expect("the process finalized");
    }
    let elapsed = started.elapsed();
    assert_eq!(runtime.live_processes(), 0, "every process is gone");
    elapsed
}

/// Counts itself started, then waits for events that never come.
struct Sleeper {
    started: Arc<Countdown>,
}

impl Process for Sleeper {
    fn initialize(&mut self, _ctx: &mut Context<'_, Self>) {
        self.started.count_down();
    }
}

/// RSS growth over spawning `count` idle processes.
pub(crate) fn idle_memory(count: usize) -> std::io::Result<u64> {
    let runtime = Runtime::new();
    // Let the workers and the first spawn allocate what they keep.
    let warm = runtime.spawn(Idle);
    libprocess::call(&warm, |_: &mut Idle| ())
        .get()
        .expect("warm-up call");
    let mut slots = IdleSlots::new(count)?;
    for i in 0..count {
        let started = slots.started.clone();
        slots.put(i, runtime.spawn(Sleeper { started }));
    }
    slots.started.wait_blocking();
    slots.growth()
}

//! Criterion bench of our actor runtime (libprocess) alone: a `call` round trip from outside,
//! a ping-pong of 10,000 round trips between two processes, and spawn + terminate + wait.
//!
//! `cargo bench -p benches --bench runtime`. The peers are compared by the `shootout` binary.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use libprocess::{Context, Pid, Process, Promise, Runtime, call, dispatch, terminate, wait};

/// Round trips of one ping-pong iteration.
const ROUND_TRIPS: u64 = 10_000;

struct Counter(u64);

impl Process for Counter {}

struct Ponger {
    pinger: Option<Pid<Pinger>>,
}

impl Process for Ponger {}

impl Ponger {
    fn ping(&mut self) {
        let pinger = self.pinger.as_ref().expect("the pinger introduced itself");
        dispatch(pinger, |p: &mut Pinger| p.pong());
    }
}

/// Pings until `left` is zero, then completes `done`.
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
        self.pong();
    }

    fn pong(&mut self) {
        if self.left == 0 {
            if let Some(done) = self.done.take() {
                done.set(());
            }
            return;
        }
        self.left -= 1;
        dispatch(&self.ponger, |p: &mut Ponger| p.ping());
    }
}

struct Idle;

impl Process for Idle {}

fn runtime(c: &mut Criterion) {
    let runtime = Runtime::new();
    let mut group = c.benchmark_group("libprocess");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let counter = runtime.spawn(Counter(0));
    group.bench_function("call round trip", |b| {
        b.iter(|| {
            call(&counter, |c: &mut Counter| {
                c.0 += 1;
                c.0
            })
            .get()
            .expect("the counter answers")
        })
    });

    let ponger = runtime.spawn(Ponger { pinger: None });
    let pinger = runtime.spawn(Pinger {
        ponger,
        left: 0,
        done: None,
    });
    group.bench_function("ping-pong 10000 round trips", |b| {
        b.iter(|| {
            let done = Promise::new();
            let finished = done.future();
            dispatch(&pinger, move |p: &mut Pinger| p.start(ROUND_TRIPS, done));
            finished.get().expect("the pinger finished")
        })
    });

    group.bench_function("spawn terminate wait", |b| {
        b.iter(|| {
            let pid = runtime.spawn(Idle);
            terminate(&pid);
            wait(&pid).get().expect("the process finalized")
        })
    });
    group.finish();
}

criterion_group!(benches, runtime);
criterion_main!(benches);

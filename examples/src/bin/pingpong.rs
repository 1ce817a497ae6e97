//! Ping-pong between two local processes: N round trips, then the rate.
//!
//! `cargo run --release -p examples --bin pingpong -- [ROUND_TRIPS]`

use std::time::Instant;

use libprocess::{Context, Pid, Process, Promise, Runtime, dispatch};

/// Answers every ping by dispatching a pong back.
struct Ponger;

impl Process for Ponger {}

impl Ponger {
    fn ping(&mut self, from: &Pid<Pinger>) {
        dispatch(from, |p: &mut Pinger| p.pong());
    }
}

/// Sends pings one at a time until `left` reaches zero, then completes `done`.
struct Pinger {
    me: Option<Pid<Pinger>>,
    ponger: Pid<Ponger>,
    left: u64,
    done: Option<Promise<()>>,
}

impl Process for Pinger {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
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
        let me = self.me.clone().expect("initialized");
        dispatch(&self.ponger, move |p: &mut Ponger| p.ping(&me));
    }
}

fn main() {
    let round_trips: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = Runtime::new();
    let ponger = runtime.spawn(Ponger);
    let pinger = runtime.spawn(Pinger {
        me: None,
        ponger,
        left: 0,
        done: None,
    });

    let done = Promise::new();
    let finished = done.future();
    let started = Instant::now();
    dispatch(&pinger, move |p: &mut Pinger| p.start(round_trips, done));
    finished.get().expect("ping-pong finished");
    let elapsed = started.elapsed();
    println!(
        "{round_trips} round trips in {:.3} s: {:.0} round trips/s on {} workers",
        elapsed.as_secs_f64(),
        round_trips as f64 / elapsed.as_secs_f64(),
        runtime.workers()
    );
}

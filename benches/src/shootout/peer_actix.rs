//! The shootout's workloads on actix: `Actor` + `Handler` pairs that `do_send` to each other's
//! `Addr` (not `send(..).await`, which is request/response with a reply channel and much
//! slower). Each measurement runs in a fresh actix `System` on a fresh thread, all actors on
//! its one arbiter, as `Actor::start` places them. (One arbiter per core, actors spread
//! round-robin with `start_in_arbiter`, was tried: on 2 cores it was slower on every
//! message workload, cross-thread hand-offs costing more than the second core gives.)

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Handler, Message};
use tokio::sync::oneshot;

use super::{Countdown, FAN_IN_CHUNK, IdleSlots};

/// Runs `f` to completion in a new actix `System`, on a thread of its own.
fn in_system<F, Fut, R>(f: F) -> R
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = R> + 'static,
    R: Send + 'static,
{
    std::thread::spawn(move || actix::System::new().block_on(f()))
        .join()
        .expect("the actix system thread")
}

/// Answered once the actor has started (setup, not timed).
struct Ready;
impl Message for Ready {
    type Result = ();
}

struct Ping(u64);
impl Message for Ping {
    type Result = ();
}

struct Pong(u64);
impl Message for Pong {
    type Result = ();
}

struct Introduce(Addr<Pinger>);
impl Message for Introduce {
    type Result = ();
}

struct Start {
    round_trips: u64,
    done: Arc<Countdown>,
}
impl Message for Start {
    type Result = ();
}

struct Ponger {
    pinger: Option<Addr<Pinger>>,
}

impl Actor for Ponger {
    type Context = Context<Self>;
}

impl Handler<Introduce> for Ponger {
    type Result = ();
    fn handle(&mut self, Introduce(pinger): Introduce, _: &mut Context<Self>) {
        self.pinger = Some(pinger);
    }
}

impl Handler<Ping> for Ponger {
    type Result = ();
    fn handle(&mut self, Ping(n): Ping, _: &mut Context<Self>) {
        self.pinger
            .as_ref()
            .expect("the pinger introduced itself first")
            .do_send(Pong(n));
    }
}

struct Pinger {
    ponger: Addr<Ponger>,
    left: u64,
    done: Option<Arc<Countdown>>,
}

impl Actor for Pinger {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.ponger.do_send(Introduce(ctx.address()));
    }
}

impl Handler<Ready> for Pinger {
    type Result = ();
    fn handle(&mut self, _: Ready, _: &mut Context<Self>) {}
}

impl Handler<Start> for Pinger {
    type Result = ();
    fn handle(&mut self, start: Start, _: &mut Context<Self>) {
        self.left = start.round_trips;
        self.done = Some(start.done);
        self.next();
    }
}

impl Handler<Pong> for Pinger {
    type Result = ();
    fn handle(&mut self, Pong(n): Pong, _: &mut Context<Self>) {
        debug_assert_eq!(n, self.left, "the pong answers the last ping");
        self.next();
    }
}

impl Pinger {
    fn next(&mut self) {
        if self.left == 0 {
            if let Some(done) = self.done.take() {
                done.count_down();
            }
            return;
        }
        self.left -= 1;
        self.ponger.do_send(Ping(self.left));
    }
}

/// `pairs` pairs, each doing `round_trips` round trips, all at once.
pub(crate) fn pairs(pairs: usize, round_trips: u64) -> Duration {
    in_system(move || async move {
        let pingers: Vec<Addr<Pinger>> = (0..pairs)
            .map(|_| {
                let ponger = Ponger { pinger: None }.start();
                Pinger {
                    ponger,
                    left: 0,
                    done: None,
                }
                .start()
            })
            .collect();
        for pinger in &pingers {
            pinger.send(Ready).await.expect("the pinger started");
        }
        let done = Countdown::new(pairs);
        let started = Instant::now();
        for pinger in &pingers {
            pinger.do_send(Start {
                round_trips,
                done: done.clone(),
            });
        }
        done.wait().await;
        started.elapsed()
    })
}

struct Hit(u64);
impl Message for Hit {
    type Result = ();
}

struct Burst;
impl Message for Burst {
    type Result = ();
}

struct Receiver {
    expected: u64,
    received: u64,
    sum: u64,
    done: Option<oneshot::Sender<u64>>,
}

impl Actor for Receiver {
    type Context = Context<Self>;
}

impl Handler<Hit> for Receiver {
    type Result = ();
    fn handle(&mut self, Hit(value): Hit, _: &mut Context<Self>) {
        self.received += 1;
        self.sum = self.sum.wrapping_add(value);
        if self.received == self.expected
            && let Some(done) = self.done.take()
        {
            let _ = done.send(self.sum);
        }
    }
}

struct Sender {
    receiver: Addr<Receiver>,
    left: u64,
}

impl Actor for Sender {
    type Context = Context<Self>;
}

impl Handler<Ready> for Sender {
    type Result = ();
    fn handle(&mut self, _: Ready, _: &mut Context<Self>) {}
}

impl Handler<Burst> for Sender {
    type Result = ();
    fn handle(&mut self, _: Burst, ctx: &mut Context<Self>) {
        let n = self.left.min(FAN_IN_CHUNK);
        for i in 0..n {
            self.receiver.do_send(Hit(i));
        }
        self.left -= n;
        if self.left > 0 {
            ctx.notify(Burst);
        }
    }
}

/// `senders` senders, `per_sender` messages each, to one receiver.
pub(crate) fn fan_in(senders: usize, per_sender: u64) -> Duration {
    in_system(move || async move {
        let (done, finished) = oneshot::channel();
        let receiver = Receiver {
            expected: per_sender * senders as u64,
            received: 0,
            sum: 0,
            done: Some(done),
        }
        .start();
        let senders: Vec<Addr<Sender>> = (0..senders)
            .map(|_| {
                Sender {
                    receiver: receiver.clone(),
                    left: per_sender,
                }
                .start()
            })
            .collect();
        for sender in &senders {
            sender.send(Ready).await.expect("the sender started");
        }
        let started = Instant::now();
        for sender in &senders {
            sender.do_send(Burst);
        }
        finished.await.expect("the receiver got every message");
        started.elapsed()
    })
}

struct Stop;
impl Message for Stop {
    type Result = ();
}

/// Stops on [`Stop`]; counts itself stopped.
struct Idle {
    stopped: Arc<Countdown>,
}

impl Actor for Idle {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.stopped.count_down();
    }
}

impl Handler<Stop> for Idle {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Starts `count` actors, sends each a stop, waits until every one has stopped.
pub(crate) fn spawn_stop(count: usize) -> Duration {
    in_system(move || async move {
        let started = Instant::now();
        let stopped = Countdown::new(count);
        let addrs: Vec<Addr<Idle>> = (0..count)
            .map(|_| {
                Idle {
                    stopped: stopped.clone(),
                }
                .start()
            })
            .collect();
        for addr in &addrs {
            addr.do_send(Stop);
        }
        stopped.wait().await;
        started.elapsed()
    })
}

/// Counts itself started, then waits for messages.
struct Sleeper {
    started: Arc<Countdown>,
}

impl Actor for Sleeper {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        self.started.count_down();
    }
}

impl Handler<Hit> for Sleeper {
    type Result = ();
    fn handle(&mut self, _: Hit, _: &mut Context<Self>) {}
}

/// RSS growth over starting `count` idle actors (we keep their `Addr`s).
pub(crate) fn idle_memory(count: usize) -> std::io::Result<u64> {
    in_system(move || async move {
        let warm = Sleeper {
            started: Countdown::new(1),
        }
        .start();
        warm.send(Hit(1)).await.expect("warm-up actor");

        let mut slots = IdleSlots::new(count)?;
        for i in 0..count {
            let started = slots.started.clone();
            slots.put(i, Sleeper { started }.start());
        }
        slots.started.wait().await;
        slots.growth()
    })
}

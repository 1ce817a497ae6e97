//! The shootout's workloads on kameo: actors that `tell` each other, on the tokio
//! multi-thread runtime with its default worker count; `stop_gracefully` and
//! `wait_for_shutdown` to stop them. Actors get kameo's default mailbox (bounded, 64), and
//! tells are awaited, so a full mailbox pushes back on its senders as kameo intends. (An
//! unbounded mailbox for the fan-in receiver was tried: no faster beyond the noise.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use kameo::actor::{Actor, ActorRef, Spawn};
use kameo::error::Infallible;
use kameo::message::{Context, Message};
use tokio::sync::oneshot;

use super::{Countdown, FAN_IN_CHUNK, IdleSlots};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

struct Ponger {
    pinger: Option<ActorRef<Pinger>>,
}

impl Actor for Ponger {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(state: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(state)
    }
}

struct Introduce(ActorRef<Pinger>);

impl Message<Introduce> for Ponger {
    type Reply = ();

    async fn handle(&mut self, Introduce(pinger): Introduce, _: &mut Context<Self, ()>) {
        self.pinger = Some(pinger);
    }
}

struct Ping(u64);

impl Message<Ping> for Ponger {
    type Reply = ();

    async fn handle(&mut self, Ping(n): Ping, _: &mut Context<Self, ()>) {
        self.pinger
            .as_ref()
            .expect("the pinger introduced itself first")
            .tell(Pong(n))
            .await
            .expect("the pinger is alive");
    }
}

struct Pinger {
    ponger: ActorRef<Ponger>,
    left: u64,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for Pinger {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(state: Self, me: ActorRef<Self>) -> Result<Self, Infallible> {
        state
            .ponger
            .tell(Introduce(me))
            .await
            .expect("the ponger is alive");
        Ok(state)
    }
}

struct Start(u64, oneshot::Sender<()>);

impl Message<Start> for Pinger {
    type Reply = ();

    async fn handle(&mut self, Start(round_trips, done): Start, _: &mut Context<Self, ()>) {
        self.left = round_trips;
        self.done = Some(done);
        self.next().await;
    }
}

struct Pong(u64);

impl Message<Pong> for Pinger {
    type Reply = ();

    async fn handle(&mut self, Pong(n): Pong, _: &mut Context<Self, ()>) {
        debug_assert_eq!(n, self.left, "the pong answers the last ping");
        self.next().await;
    }
}

impl Pinger {
    async fn next(&mut self) {
        if self.left == 0 {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
            return;
        }
        self.left -= 1;
        self.ponger
            .tell(Ping(self.left))
            .await
            .expect("the ponger is alive");
    }
}

/// `pairs` pairs, each doing `round_trips` round trips, all at once.
pub(crate) fn pairs(pairs: usize, round_trips: u64) -> Duration {
    runtime().block_on(async move {
        let mut pingers = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            let ponger = Ponger::spawn(Ponger { pinger: None });
            let pinger = Pinger::spawn(Pinger {
                ponger,
                left: 0,
                done: None,
            });
            pingers.push(pinger);
        }
        for pinger in &pingers {
            pinger.wait_for_startup().await;
        }
        let started = Instant::now();
        let mut finished = Vec::with_capacity(pairs);
        for pinger in &pingers {
            let (done, f) = oneshot::channel();
            pinger
                .tell(Start(round_trips, done))
                .await
                .expect("the pinger is alive");
            finished.push(f);
        }
        for f in finished {
            f.await.expect("a pinger finished");
        }
        started.elapsed()
    })
}

struct Receiver {
    expected: u64,
    received: u64,
    sum: u64,
    done: Option<oneshot::Sender<u64>>,
}

impl Actor for Receiver {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(state: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(state)
    }
}

struct Hit(u64);

impl Message<Hit> for Receiver {
    type Reply = ();

    async fn handle(&mut self, Hit(value): Hit, _: &mut Context<Self, ()>) {
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
    receiver: ActorRef<Receiver>,
    left: u64,
}

impl Actor for Sender {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(state: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(state)
    }
}

struct Burst;

impl Message<Burst> for Sender {
    type Reply = ();

    async fn handle(&mut self, _: Burst, ctx: &mut Context<Self, ()>) {
        let n = self.left.min(FAN_IN_CHUNK);
        for i in 0..n {
            self.receiver
                .tell(Hit(i))
                .await
                .expect("the receiver is alive");
        }
        self.left -= n;
        if self.left > 0 {
            // Our own mailbox holds at most this one message: no need to wait for room.
            ctx.actor_ref()
                .tell(Burst)
                .try_send()
                .expect("room for our own next burst");
        }
    }
}

/// `senders` senders, `per_sender` messages each, to one receiver.
pub(crate) fn fan_in(senders: usize, per_sender: u64) -> Duration {
    runtime().block_on(async move {
        let (done, finished) = oneshot::channel();
        let state = Receiver {
            expected: per_sender * senders as u64,
            received: 0,
            sum: 0,
            done: Some(done),
        };
        let receiver = Receiver::spawn(state);
        let refs: Vec<ActorRef<Sender>> = (0..senders)
            .map(|_| {
                Sender::spawn(Sender {
                    receiver: receiver.clone(),
                    left: per_sender,
                })
            })
            .collect();
        receiver.wait_for_startup().await;
        for sender in &refs {
            sender.wait_for_startup().await;
        }
        let started = Instant::now();
        for sender in &refs {
            sender.tell(Burst).await.expect("the sender is alive");
        }
        finished.await.expect("the receiver got every message");
        started.elapsed()
    })
}

/// Does nothing; counts itself started when it has a counter.
struct Idle;

impl Actor for Idle {
    type Args = Option<Arc<Countdown>>;
    type Error = Infallible;

    async fn on_start(started: Self::Args, _: ActorRef<Self>) -> Result<Self, Infallible> {
        if let Some(started) = started {
            started.count_down();
        }
        Ok(Idle)
    }
}

impl Message<Hit> for Idle {
    type Reply = ();

    async fn handle(&mut self, _: Hit, _: &mut Context<Self, ()>) {}
}

/// Spawns `count` actors, stops them all, waits for them all.
pub(crate) fn spawn_stop(count: usize) -> Duration {
    runtime().block_on(async move {
        let started = Instant::now();
        let refs: Vec<ActorRef<Idle>> = (0..count).map(|_| Idle::spawn(None)).collect();
        for actor in &refs {
            actor.stop_gracefully().await.expect("the actor is alive");
        }
        for actor in &refs {
            actor.wait_for_shutdown().await;
        }
        started.elapsed()
    })
}

/// RSS growth over spawning `count` idle actors (we keep their refs).
pub(crate) fn idle_memory(count: usize) -> std::io::Result<u64> {
    runtime().block_on(async move {
        let warm = Idle::spawn(None);
        warm.ask(Hit(1)).await.expect("warm-up actor");

        let mut slots = IdleSlots::new(count)?;
        for i in 0..count {
            let started = Some(slots.started.clone());
            slots.put(i, Idle::spawn(started));
        }
        slots.started.wait().await;
        slots.growth()
    })
}

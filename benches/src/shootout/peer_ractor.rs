//! The shootout's workloads on ractor: actors that `cast` to each other's `ActorRef`, on the
//! tokio multi-thread runtime with its default worker count; `stop` and the spawn's join
//! handle to stop them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Countdown, FAN_IN_CHUNK, IdleSlots};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

enum PongerMsg {
    Introduce(ActorRef<PingerMsg>),
    Ping(u64),
}

enum PingerMsg {
    Start(u64, oneshot::Sender<()>),
    Pong(u64),
}

struct Ponger;

impl Actor for Ponger {
    type Msg = PongerMsg;
    type State = Option<ActorRef<PingerMsg>>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<PongerMsg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(None)
    }

    async fn handle(
        &self,
        _: ActorRef<PongerMsg>,
        message: PongerMsg,
        pinger: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PongerMsg::Introduce(p) => *pinger = Some(p),
            PongerMsg::Ping(n) => pinger
                .as_ref()
                .expect("the pinger introduced itself first")
                .cast(PingerMsg::Pong(n))?,
        }
        Ok(())
    }
}

struct Pinger;

struct PingerState {
    ponger: ActorRef<PongerMsg>,
    left: u64,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for Pinger {
    type Msg = PingerMsg;
    type State = PingerState;
    type Arguments = ActorRef<PongerMsg>;

    async fn pre_start(
        &self,
        myself: ActorRef<PingerMsg>,
        ponger: ActorRef<PongerMsg>,
    ) -> Result<PingerState, ActorProcessingErr> {
        ponger.cast(PongerMsg::Introduce(myself))?;
        Ok(PingerState {
            ponger,
            left: 0,
            done: None,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<PingerMsg>,
        message: PingerMsg,
        state: &mut PingerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PingerMsg::Start(round_trips, done) => {
                state.left = round_trips;
                state.done = Some(done);
            }
            PingerMsg::Pong(n) => debug_assert_eq!(n, state.left, "the pong answers the last ping"),
        }
        if state.left == 0 {
            if let Some(done) = state.done.take() {
                let _ = done.send(());
            }
            return Ok(());
        }
        state.left -= 1;
        state.ponger.cast(PongerMsg::Ping(state.left))?;
        Ok(())
    }
}

/// `pairs` pairs, each doing `round_trips` round trips, all at once.
pub(crate) fn pairs(pairs: usize, round_trips: u64) -> Duration {
    runtime().block_on(async move {
        let mut pingers = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            let (ponger, _) = Actor::spawn(None, Ponger, ()).await.expect("spawn");
            let (pinger, _) = Actor::spawn(None, Pinger, ponger).await.expect("spawn");
            pingers.push(pinger);
        }
        let started = Instant::now();
        let finished: Vec<oneshot::Receiver<()>> = pingers
            .iter()
            .map(|pinger| {
                let (done, finished) = oneshot::channel();
                pinger
                    .cast(PingerMsg::Start(round_trips, done))
                    .expect("the pinger is alive");
                finished
            })
            .collect();
        for f in finished {
            f.await.expect("a pinger finished");
        }
        let elapsed = started.elapsed();
        for pinger in &pingers {
            pinger.stop(None);
        }
        elapsed
    })
}

enum ReceiverMsg {
    Hit(u64),
}

struct Receiver;

struct ReceiverState {
    expected: u64,
    received: u64,
    sum: u64,
    done: Option<oneshot::Sender<u64>>,
}

impl Actor for Receiver {
    type Msg = ReceiverMsg;
    type State = ReceiverState;
    type Arguments = ReceiverState;

    async fn pre_start(
        &self,
        _: ActorRef<ReceiverMsg>,
        state: ReceiverState,
    ) -> Result<ReceiverState, ActorProcessingErr> {
        Ok(state)
    }

    async fn handle(
        &self,
        _: ActorRef<ReceiverMsg>,
        ReceiverMsg::Hit(value): ReceiverMsg,
        state: &mut ReceiverState,
    ) -> Result<(), ActorProcessingErr> {
        state.received += 1;
        state.sum = state.sum.wrapping_add(value);
        if state.received == state.expected
            && let Some(done) = state.done.take()
        {
            let _ = done.send(state.sum);
        }
        Ok(())
    }
}

enum SenderMsg {
    Burst,
}

struct Sender;

struct SenderState {
    receiver: ActorRef<ReceiverMsg>,
    left: u64,
}

impl Actor for Sender {
    type Msg = SenderMsg;
    type State = SenderState;
    type Arguments = SenderState;

    async fn pre_start(
        &self,
        _: ActorRef<SenderMsg>,
        state: SenderState,
    ) -> Result<SenderState, ActorProcessingErr> {
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<SenderMsg>,
        SenderMsg::Burst: SenderMsg,
        state: &mut SenderState,
    ) -> Result<(), ActorProcessingErr> {
        let n = state.left.min(FAN_IN_CHUNK);
        for i in 0..n {
            state.receiver.cast(ReceiverMsg::Hit(i))?;
        }
        state.left -= n;
        if state.left > 0 {
            myself.cast(SenderMsg::Burst)?;
        }
        Ok(())
    }
}

/// `senders` senders, `per_sender` messages each, to one receiver.
pub(crate) fn fan_in(senders: usize, per_sender: u64) -> Duration {
    runtime().block_on(async move {
        let (done, finished) = oneshot::channel();
        let state = ReceiverState {
            expected: per_sender * senders as u64,
            received: 0,
            sum: 0,
            done: Some(done),
        };
        let (receiver, _) = Actor::spawn(None, Receiver, state).await.expect("spawn");
        let mut refs = Vec::with_capacity(senders);
        for _ in 0..senders {
            let state = SenderState {
                receiver: receiver.clone(),
                left: per_sender,
            };
            let (sender, _) = Actor::spawn(None, Sender, state).await.expect("spawn");
            refs.push(sender);
        }
        let started = Instant::now();
        for sender in &refs {
            sender.cast(SenderMsg::Burst).expect("the sender is alive");
        }
        finished.await.expect("the receiver got every message");
        let elapsed = started.elapsed();
        receiver.stop(None);
        for sender in &refs {
            sender.stop(None);
        }
        elapsed
    })
}

/// Does nothing; counts itself started when it has a counter.
struct Idle;

impl Actor for Idle {
    type Msg = u64;
    type State = ();
    type Arguments = Option<Arc<Countdown>>;

    async fn pre_start(
        &self,
        _: ActorRef<u64>,
        started: Option<Arc<Countdown>>,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(started) = started {
            started.count_down();
        }
        Ok(())
    }
}

/// Spawns `count` actors, stops them all, joins them all.
pub(crate) fn spawn_stop(count: usize) -> Duration {
    runtime().block_on(async move {
        let started = Instant::now();
        let mut actors: Vec<(ActorRef<u64>, JoinHandle<()>)> = Vec::with_capacity(count);
        for _ in 0..count {
            actors.push(Actor::spawn(None, Idle, None).await.expect("spawn"));
        }
        for (actor, _) in &actors {
            actor.stop(None);
        }
        for (_, handle) in actors {
            handle.await.expect("the actor stopped");
        }
        started.elapsed()
    })
}

/// RSS growth over spawning `count` idle actors (we keep their refs and join handles).
pub(crate) fn idle_memory(count: usize) -> std::io::Result<u64> {
    runtime().block_on(async move {
        let (warm, _) = Actor::spawn(None, Idle, None).await.expect("spawn");
        warm.cast(1).expect("warm-up actor");

        let mut slots = IdleSlots::new(count)?;
        for i in 0..count {
            let started = Some(slots.started.clone());
            slots.put(i, Actor::spawn(None, Idle, started).await.expect("spawn"));
        }
        slots.started.wait().await;
        slots.growth()
    })
}

//! The shootout's workloads on raw tokio: each "actor" is a task looping on an unbounded mpsc
//! receiver, on the multi-thread runtime with its default worker count (one per core). No
//! framework at all, so this is the floor of what a tokio-based actor library can do.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{FAN_IN_CHUNK, IdleSlots};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// `pairs` pairs of tasks, each pair doing `round_trips` round trips, all at once.
pub(crate) fn pairs(pairs: usize, round_trips: u64) -> Duration {
    runtime().block_on(async move {
        let mut kicks = Vec::with_capacity(pairs);
        let mut pingers: Vec<JoinHandle<()>> = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            let (to_ponger, mut ponger_inbox) = mpsc::unbounded_channel::<u64>();
            let (to_pinger, mut pinger_inbox) = mpsc::unbounded_channel::<u64>();
            tokio::spawn(async move {
                while let Some(n) = ponger_inbox.recv().await {
                    if to_pinger.send(n).is_err() {
                        break;
                    }
                }
            });
            let (kick, kicked) = oneshot::channel::<()>();
            kicks.push(kick);
            pingers.push(tokio::spawn(async move {
                kicked.await.expect("kicked off");
                for n in (0..round_trips).rev() {
                    to_ponger.send(n).expect("the ponger is alive");
                    let pong = pinger_inbox.recv().await.expect("a pong");
                    debug_assert_eq!(pong, n, "the pong answers the last ping");
                }
            }));
        }
        let started = Instant::now();
        for kick in kicks {
            kick.send(()).expect("the pinger waits");
        }
        for pinger in pingers {
            pinger.await.expect("a pinger finished");
        }
        started.elapsed()
    })
}

/// `senders` tasks, `per_sender` messages each, to one receiving task.
pub(crate) fn fan_in(senders: usize, per_sender: u64) -> Duration {
    runtime().block_on(async move {
        let (to_receiver, mut inbox) = mpsc::unbounded_channel::<u64>();
        let expected = per_sender * senders as u64;
        let receiver = tokio::spawn(async move {
            let mut sum = 0u64;
            for _ in 0..expected {
                sum = sum.wrapping_add(inbox.recv().await.expect("a message"));
            }
            sum
        });
        let mut kicks = Vec::with_capacity(senders);
        for _ in 0..senders {
            let to_receiver = to_receiver.clone();
            let (kick, kicked) = oneshot::channel::<()>();
            kicks.push(kick);
            tokio::spawn(async move {
                kicked.await.expect("kicked off");
                let mut left = per_sender;
                while left > 0 {
                    let n = left.min(FAN_IN_CHUNK);
                    for i in 0..n {
                        to_receiver.send(i).expect("the receiver is alive");
                    }
                    left -= n;
                    tokio::task::yield_now().await;
                }
            });
        }
        drop(to_receiver);
        let started = Instant::now();
        for kick in kicks {
            kick.send(()).expect("the sender waits");
        }
        receiver.await.expect("the receiver got every message");
        started.elapsed()
    })
}

/// Spawns `count` tasks each waiting on its channel, closes every channel, joins them all.
pub(crate) fn spawn_stop(count: usize) -> Duration {
    runtime().block_on(async move {
        let started = Instant::now();
        let actors: Vec<(mpsc::UnboundedSender<u64>, JoinHandle<()>)> = (0..count)
            .map(|_| {
                let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
                let task = tokio::spawn(async move { while rx.recv().await.is_some() {} });
                (tx, task)
            })
            .collect();
        let mut tasks = Vec::with_capacity(count);
        for (tx, task) in actors {
            drop(tx);
            tasks.push(task);
        }
        for task in tasks {
            task.await.expect("the task stopped");
        }
        started.elapsed()
    })
}

/// RSS growth over spawning `count` idle tasks (each keeps its receiver; we keep the senders).
pub(crate) fn idle_memory(count: usize) -> std::io::Result<u64> {
    let runtime = runtime();
    runtime.block_on(async move {
        let (warm, mut warm_rx) = mpsc::unbounded_channel::<u64>();
        let echo = tokio::spawn(async move { warm_rx.recv().await });
        warm.send(1).expect("warm-up task is alive");
        echo.await.expect("warm-up task");

        let mut slots = IdleSlots::new(count)?;
        for i in 0..count {
            let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
            let started = slots.started.clone();
            tokio::spawn(async move {
                started.count_down();
                while rx.recv().await.is_some() {}
            });
            slots.put(i, tx);
        }
        slots.started.wait().await;
        slots.growth()
    })
}

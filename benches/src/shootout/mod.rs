//! The shootout: the same actor workloads on our runtime (libprocess) and, as yardsticks, on
//! raw tokio tasks with mpsc channels, actix, ractor and kameo.
//!
//! Every measurement starts a fresh runtime (or actix `System`), sets its actors up, and
//! times only the workload itself; the runtime is dropped afterwards. The shapes are the same
//! on every system:
//!
//! - **ping-pong** / **pairs-1000**: a pinger and a ponger that know each other's address
//!   from the start and send each other a `u64` fire-and-forget (`dispatch`, `do_send`,
//!   `cast`, `tell`, `send`); a round trip is one ping and its pong. All pairs are set up,
//!   then kicked off together; timed until every pinger has seen its last pong.
//! - **fan-in-N**: N sender actors send `u64`s to one receiver, in chunks of [`FAN_IN_CHUNK`]
//!   before re-queueing themselves (a message to self, or a task yield), so senders
//!   interleave. Timed from the kick-off until the receiver has counted every message.
//! - **spawn-stop**: spawn `count` actors, then ask each to stop (libprocess `terminate`,
//!   actix/ractor/kameo's stop, tokio: drop the channel's sender), then wait until every one
//!   has stopped (libprocess `wait`, join handles, `wait_for_shutdown`, actix's `stopped`
//!   hook). Timed over the whole.
//! - **idle-memory**: RSS delta over spawning `count` actors that count themselves started
//!   and then wait for messages, with their handles kept; the handle vector is allocated and
//!   touched before the baseline is read, so it is not counted.

mod ours_libprocess;
mod peer_actix;
mod peer_kameo;
mod peer_ractor;
mod peer_tokio_mpsc;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::measure::{rate, rss_bytes};
use crate::report::Better;

/// Messages a fan-in sender sends before it lets the others run.
pub const FAN_IN_CHUNK: u64 = 1000;

/// A system measured by the shootout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum System {
    /// Our runtime.
    Libprocess,
    /// Raw tokio tasks and unbounded mpsc channels on the multi-thread runtime.
    TokioMpsc,
    /// actix actors on one actix `System` (a single-threaded arbiter).
    Actix,
    /// ractor actors on the tokio multi-thread runtime.
    Ractor,
    /// kameo actors on the tokio multi-thread runtime.
    Kameo,
}

impl System {
    /// Every system, ours first.
    pub const ALL: [System; 5] = [
        System::Libprocess,
        System::TokioMpsc,
        System::Actix,
        System::Ractor,
        System::Kameo,
    ];

    /// Its name in tables, JSON and `--systems`.
    pub fn name(self) -> &'static str {
        match self {
            System::Libprocess => "libprocess",
            System::TokioMpsc => "tokio-mpsc",
            System::Actix => "actix",
            System::Ractor => "ractor",
            System::Kameo => "kameo",
        }
    }

    /// The system called `name`.
    pub fn from_name(name: &str) -> Option<System> {
        System::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A workload of the shootout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    /// One pair, round trips per second.
    PingPong,
    /// One sender to one receiver, messages per second.
    FanIn1,
    /// Ten senders to one receiver.
    FanIn10,
    /// A hundred senders to one receiver.
    FanIn100,
    /// Many pairs at once, total round trips per second.
    Pairs,
    /// Spawning and stopping actors, per second.
    SpawnStop,
    /// Bytes of RSS per idle actor.
    IdleMemory,
}

impl Workload {
    /// Every workload, in the order they run and print.
    pub const ALL: [Workload; 7] = [
        Workload::PingPong,
        Workload::FanIn1,
        Workload::FanIn10,
        Workload::FanIn100,
        Workload::Pairs,
        Workload::SpawnStop,
        Workload::IdleMemory,
    ];

    /// Its name in tables, JSON and `--only`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::PingPong => "ping-pong",
            Workload::FanIn1 => "fan-in-1",
            Workload::FanIn10 => "fan-in-10",
            Workload::FanIn100 => "fan-in-100",
            Workload::Pairs => "pairs-1000",
            Workload::SpawnStop => "spawn-stop",
            Workload::IdleMemory => "idle-memory",
        }
    }

    /// The workload called `name`.
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The unit of its figure.
    pub fn unit(self) -> &'static str {
        match self {
            Workload::PingPong | Workload::Pairs => "rt/s",
            Workload::FanIn1 | Workload::FanIn10 | Workload::FanIn100 => "msg/s",
            Workload::SpawnStop => "proc/s",
            Workload::IdleMemory => "B",
        }
    }

    /// Whether more or less is better.
    pub fn better(self) -> Better {
        match self {
            Workload::IdleMemory => Better::Lower,
            _ => Better::Higher,
        }
    }
}

/// How much work each measurement does. The message counts are starting points:
/// [`calibrate`] resizes them per system so that each measurement lasts about the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Round trips of the single pair.
    pub round_trips: u64,
    /// Messages of each fan-in, split evenly over the senders.
    pub fan_in_messages: u64,
    /// Pairs of `pairs-1000` (the name says 1000; a scaled run may use fewer).
    pub pairs: usize,
    /// Round trips of each of those pairs.
    pub pair_round_trips: u64,
    /// Actors spawned and stopped.
    pub spawn_stop: usize,
    /// Idle actors whose memory is measured.
    pub idle: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            round_trips: 2_000_000,
            fan_in_messages: 4_000_000,
            pairs: 1000,
            pair_round_trips: 2_000,
            spawn_stop: 100_000,
            idle: 100_000,
        }
    }
}

impl Sizes {
    /// The count that sizes a message workload (round trips, messages, or round trips per
    /// pair); `None` for the workloads with a fixed number of actors.
    pub fn count(&self, workload: Workload) -> Option<u64> {
        match workload {
            Workload::PingPong => Some(self.round_trips),
            Workload::FanIn1 | Workload::FanIn10 | Workload::FanIn100 => Some(self.fan_in_messages),
            Workload::Pairs => Some(self.pair_round_trips),
            Workload::SpawnStop | Workload::IdleMemory => None,
        }
    }

    /// These sizes with `workload`'s count set to `count` (unchanged for fixed-size ones).
    pub fn with_count(mut self, workload: Workload, count: u64) -> Sizes {
        match workload {
            Workload::PingPong => self.round_trips = count,
            Workload::FanIn1 | Workload::FanIn10 | Workload::FanIn100 => {
                self.fan_in_messages = count
            }
            Workload::Pairs => self.pair_round_trips = count,
            Workload::SpawnStop | Workload::IdleMemory => {}
        }
        self
    }

    /// The defaults times `factor` (at least one of everything), for quick smoke runs.
    pub fn scaled(factor: f64) -> Sizes {
        let d = Sizes::default();
        let n = |v: u64| ((v as f64 * factor).round() as u64).max(1);
        Sizes {
            round_trips: n(d.round_trips),
            fan_in_messages: n(d.fan_in_messages),
            pairs: d.pairs,
            pair_round_trips: n(d.pair_round_trips),
            spawn_stop: n(d.spawn_stop as u64) as usize,
            idle: n(d.idle as u64) as usize,
        }
    }
}

/// Runs one measurement of `workload` on `system` and gives its figure in the workload's
/// unit. Idle memory is measured in this process: call it in a fresh process for a clean
/// heap (the `shootout` binary does).
pub fn measure(system: System, workload: Workload, sizes: &Sizes) -> std::io::Result<f64> {
    let fan_in = |senders: usize| {
        let per_sender = (sizes.fan_in_messages / senders as u64).max(1);
        let elapsed = match system {
            System::Libprocess => ours_libprocess::fan_in(senders, per_sender),
            System::TokioMpsc => peer_tokio_mpsc::fan_in(senders, per_sender),
            System::Actix => peer_actix::fan_in(senders, per_sender),
            System::Ractor => peer_ractor::fan_in(senders, per_sender),
            System::Kameo => peer_kameo::fan_in(senders, per_sender),
        };
        rate(per_sender * senders as u64, elapsed)
    };
    let pairs = |pairs: usize, round_trips: u64| {
        let elapsed = match system {
            System::Libprocess => ours_libprocess::pairs(pairs, round_trips),
            System::TokioMpsc => peer_tokio_mpsc::pairs(pairs, round_trips),
            System::Actix => peer_actix::pairs(pairs, round_trips),
            System::Ractor => peer_ractor::pairs(pairs, round_trips),
            System::Kameo => peer_kameo::pairs(pairs, round_trips),
        };
        rate(round_trips * pairs as u64, elapsed)
    };
    Ok(match workload {
        Workload::PingPong => pairs(1, sizes.round_trips),
        Workload::FanIn1 => fan_in(1),
        Workload::FanIn10 => fan_in(10),
        Workload::FanIn100 => fan_in(100),
        Workload::Pairs => pairs(sizes.pairs, sizes.pair_round_trips),
        Workload::SpawnStop => {
            let count = sizes.spawn_stop;
            let elapsed = match system {
                System::Libprocess => ours_libprocess::spawn_stop(count),
                System::TokioMpsc => peer_tokio_mpsc::spawn_stop(count),
                System::Actix => peer_actix::spawn_stop(count),
                System::Ractor => peer_ractor::spawn_stop(count),
                System::Kameo => peer_kameo::spawn_stop(count),
            };
            rate(count as u64, elapsed)
        }
        Workload::IdleMemory => {
            let count = sizes.idle;
            let bytes = match system {
                System::Libprocess => ours_libprocess::idle_memory(count)?,
                System::TokioMpsc => peer_tokio_mpsc::idle_memory(count)?,
                System::Actix => peer_actix::idle_memory(count)?,
                System::Ractor => peer_ractor::idle_memory(count)?,
                System::Kameo => peer_kameo::idle_memory(count)?,
            };
            bytes as f64 / count as f64
        }
    })
}

/// Sizes `workload` on `system` so that one measurement lasts about `target`: a probe at a
/// tenth of the count in `sizes` gives the rate, which gives the count (between the probe's
/// and twice the given one, so that a system whose rate falls with load, such as raw tokio
/// fan-in, does not run for many seconds). Workloads with a fixed number of actors keep
/// theirs.
pub fn calibrate(
    system: System,
    workload: Workload,
    sizes: &Sizes,
    target: Duration,
) -> std::io::Result<Sizes> {
    let Some(count) = sizes.count(workload) else {
        return Ok(*sizes);
    };
    let probe = (count / 10).max(1);
    let rate = measure(system, workload, &sizes.with_count(workload, probe))?;
    let per_count = match workload {
        Workload::Pairs => sizes.pairs.max(1) as f64,
        _ => 1.0,
    };
    let wanted = (rate * target.as_secs_f64() / per_count).round() as u64;
    Ok(sizes.with_count(workload, wanted.clamp(probe, count.saturating_mul(2))))
}

/// How idle-memory measurements hold their actors: the handles, in a vector allocated and
/// touched before the baseline is read so that it does not count.
pub(crate) struct IdleSlots<H> {
    slots: Vec<Option<H>>,
    baseline: u64,
    /// Counts down as actors start (each counts itself in its start hook).
    pub(crate) started: Arc<Countdown>,
}

impl<H> IdleSlots<H> {
    /// `count` empty slots; reads the baseline RSS last.
    pub(crate) fn new(count: usize) -> std::io::Result<Self> {
        let slots: Vec<Option<H>> = (0..count).map(|_| None).collect();
        let started = Countdown::new(count);
        Ok(IdleSlots {
            slots,
            started,
            baseline: rss_bytes()?,
        })
    }

    pub(crate) fn put(&mut self, index: usize, handle: H) {
        self.slots[index] = Some(handle);
    }

    /// The RSS growth since the baseline, in bytes (0 if it shrank). The handles are dropped
    /// by the caller afterwards, outside the measurement.
    pub(crate) fn growth(&self) -> std::io::Result<u64> {
        Ok(rss_bytes()?.saturating_sub(self.baseline))
    }
}

/// Counts events (stops, starts) down to zero and then wakes its waiter: one async waiter,
/// or threads blocked in `wait_blocking`.
pub(crate) struct Countdown {
    left: AtomicUsize,
    done: tokio::sync::Notify,
    zero: (std::sync::Mutex<()>, std::sync::Condvar),
}

impl Countdown {
    pub(crate) fn new(count: usize) -> Arc<Countdown> {
        Arc::new(Countdown {
            left: AtomicUsize::new(count),
            done: tokio::sync::Notify::new(),
            zero: (std::sync::Mutex::new(()), std::sync::Condvar::new()),
        })
    }

    pub(crate) fn count_down(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Stores a permit if nobody waits yet.
            self.done.notify_one();
            let _zero = self.zero.0.lock().expect("countdown lock");
            self.zero.1.notify_all();
        }
    }

    /// Blocks the calling thread until the count reaches zero (not from async code).
    pub(crate) fn wait_blocking(&self) {
        let mut guard = self.zero.0.lock().expect("countdown lock");
        while self.left.load(Ordering::Acquire) > 0 {
            guard = self.zero.1.wait(guard).expect("countdown lock");
        }
    }

    pub(crate) async fn wait(&self) {
        if self.left.load(Ordering::Acquire) == 0 {
            return;
        }
        self.done.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Sizes {
        Sizes {
            round_trips: 200,
            fan_in_messages: 2_000,
            pairs: 20,
            pair_round_trips: 50,
            spawn_stop: 200,
            idle: 200,
        }
    }

    #[test]
    fn every_workload_runs_on_every_system() {
        let sizes = tiny();
        for system in System::ALL {
            for workload in Workload::ALL {
                let value = measure(system, workload, &sizes).unwrap();
                assert!(
                    value.is_finite() && value >= 0.0,
                    "{} on {}: {value}",
                    workload.name(),
                    system.name()
                );
                if workload != Workload::IdleMemory {
                    assert!(value > 0.0, "{} on {}", workload.name(), system.name());
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for system in System::ALL {
            assert_eq!(System::from_name(system.name()), Some(system));
        }
        for workload in Workload::ALL {
            assert_eq!(Workload::from_name(workload.name()), Some(workload));
        }
        assert_eq!(System::from_name("erlang"), None);
    }

    #[test]
    fn calibration_sizes_message_workloads_only() {
        let sizes = tiny();
        let target = Duration::from_millis(5);
        let calibrated = calibrate(System::Libprocess, Workload::PingPong, &sizes, target).unwrap();
        assert!((20..=400).contains(&calibrated.round_trips));
        assert_eq!(calibrated.with_count(Workload::PingPong, 200), sizes);
        let fixed = calibrate(System::Libprocess, Workload::SpawnStop, &sizes, target).unwrap();
        assert_eq!(fixed, sizes);
    }

    #[test]
    fn scaled_sizes_stay_positive() {
        let sizes = Sizes::scaled(0.0);
        assert_eq!(sizes.round_trips, 1);
        assert_eq!(sizes.pairs, 1000);
        assert_eq!(sizes.spawn_stop, 1);
    }
}

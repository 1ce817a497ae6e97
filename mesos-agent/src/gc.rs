//! The agent's garbage collector (upstream `src/slave/gc.cpp`): removes sandboxes, meta
//! directories and other paths some time after the agent is done with them.
//!
//! [`GarbageCollector`] is the handle; [`GarbageCollectorProcess`] owns the schedule.
//!
//! Protocol (from the agent and the [disk watcher](crate::disk_watcher)):
//! - `schedule(delay, path)`: remove `path` once `delay` has passed on the runtime's clock;
//!   the future completes when it is gone (fails if it could not be removed, is discarded
//!   if it is unscheduled or rescheduled). Scheduling a path again replaces its old schedule.
//! - `unschedule(path)`: `true` if the path was scheduled and is now kept; `false` if it was
//!   not scheduled, or its removal has already started (as upstream).
//! - `prune(d)`: removes now every path whose removal is due within `d` (upstream's
//!   `prune`: the disk watcher passes `gc_delay - max_allowed_age`, so that every path
//!   scheduled with `gc_delay` at least `max_allowed_age` ago goes).
//!
//! One timer (a [`delay`]) is armed for the earliest removal time. Removal runs on a
//! separate thread (as upstream runs it on its own executor) so that deleting a large tree
//! never holds a worker; its results come back as a dispatch.
//!
//! Metrics (as upstream): `gc/path_removals_succeeded`, `gc/path_removals_failed`,
//! `gc/path_removals_pending`.
//!
//! Invariants: a path is in `due` (under its removal time) iff it is in `removal_times`;
//! a path whose removal has started stays in both until the removal thread answers, and
//! cannot be unscheduled meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use libprocess::metrics::{Counter, PushGauge};
use libprocess::{Context, Future, Pid, Process, Promise, Timer, call, delay, dispatch};
use tracing::{debug, info, warn};

/// Upstream's `--gc_delay` default (one week).
pub const DEFAULT_GC_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Upstream's `--gc_disk_headroom` default.
pub const DEFAULT_GC_DISK_HEADROOM: f64 = 0.1;

/// The handle: clone freely; every method dispatches to the [`GarbageCollectorProcess`].
#[derive(Clone, Debug)]
pub struct GarbageCollector {
    pid: Pid<GarbageCollectorProcess>,
}

impl GarbageCollector {
    /// Spawns the collector on the current runtime.
    pub fn new() -> GarbageCollector {
        GarbageCollector {
            pid: libprocess::spawn(GarbageCollectorProcess::default()),
        }
    }

    /// Spawns the collector on `runtime`.
    pub fn spawn_on(runtime: &libprocess::Handle) -> GarbageCollector {
        GarbageCollector {
            pid: runtime.spawn(GarbageCollectorProcess::default()),
        }
    }

    /// Removes `path` once `delay` has passed; the future completes when it is gone.
    pub fn schedule(&self, delay: Duration, path: PathBuf) -> Future<()> {
        libprocess::call_future(&self.pid, move |p: &mut GarbageCollectorProcess| {
            p.schedule(delay, path)
        })
    }

    /// Keeps a scheduled path: `true` if it was scheduled and its removal had not started.
    pub fn unschedule(&self, path: PathBuf) -> Future<bool> {
        libprocess::call_future(&self.pid, move |p: &mut GarbageCollectorProcess| {
            p.unschedule(&path)
        })
    }

    /// Removes now every path whose removal is due within `d`.
    pub fn prune(&self, d: Duration) {
        dispatch(&self.pid, move |p: &mut GarbageCollectorProcess| p.prune(d));
    }

    /// The scheduled paths with the time left before each is removed (zero when overdue),
    /// soonest first.
    pub fn scheduled(&self) -> Future<Vec<(PathBuf, Duration)>> {
        call(&self.pid, |p: &mut GarbageCollectorProcess| p.scheduled())
    }

    /// Stops the collector; futures of paths still scheduled are discarded.
    pub fn terminate(&self) -> Future<()> {
        libprocess::terminate(&self.pid);
        libprocess::wait(&self.pid)
    }
}

impl Default for GarbageCollector {
    fn default() -> Self {
        GarbageCollector::new()
    }
}

struct PathInfo {
    path: PathBuf,
    promise: Promise<()>,
    removing: bool,
}

struct Metrics {
    succeeded: Counter,
    failed: Counter,
    pending: PushGauge,
}

/// The collector's state: paths by removal time, and the one timer.
#[derive(Default)]
pub struct GarbageCollectorProcess {
    /// Paths by removal time (on the runtime's clock).
    due: BTreeMap<SystemTime, Vec<PathInfo>>,
    /// Each scheduled path's removal time.
    removal_times: HashMap<PathBuf, SystemTime>,
    /// The armed timer and the removal time it fires for.
    timer: Option<(SystemTime, Timer)>,
    metrics: Option<Metrics>,
    me: Option<Pid<GarbageCollectorProcess>>,
}

impl Process for GarbageCollectorProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
        let metrics = ctx.runtime().metrics();
        self.metrics = Some(Metrics {
            succeeded: metrics.counter("gc/path_removals_succeeded"),
            failed: metrics.counter("gc/path_removals_failed"),
            pending: metrics.push_gauge("gc/path_removals_pending"),
        });
    }

    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
        for infos in self.due.values() {
            for info in infos {
                info.promise.discard();
            }
        }
        if let Some((_, timer)) = self.timer.take() {
            timer.cancel();
        }
    }
}

impl GarbageCollectorProcess {
    fn me(&self) -> Pid<GarbageCollectorProcess> {
        self.me.clone().expect("initialize runs first")
    }

    fn update_pending(&self) {
        if let Some(metrics) = &self.metrics {
            metrics.pending.set(self.removal_times.len() as f64);
        }
    }

    fn schedule(&mut self, delay: Duration, path: PathBuf) -> Future<()> {
        info!(path = %path.display(), ?delay, "scheduling path for gc");
        if self.removal_times.contains_key(&path) {
            // Replace the old schedule, unless its removal has started: then the new
            // schedule waits for that removal to end (as upstream's unschedule-then-schedule).
            let pending = self.unschedule(&path);
            let me = self.me();
            return pending.then(move |_| {
                libprocess::call_future(&me, move |p: &mut GarbageCollectorProcess| {
                    p.schedule(delay, path)
                })
            });
        }
        let when = libprocess::clock::now() + delay;
        let promise = Promise::new();
        let future = promise.future();
        self.removal_times.insert(path.clone(), when);
        self.due.entry(when).or_default().push(PathInfo {
            path,
            promise,
            removing: false,
        });
        self.update_pending();
        self.reset();
        future
    }

    fn unschedule(&mut self, path: &Path) -> Future<bool> {
        let Some(&when) = self.removal_times.get(path) else {
            return Future::ready(false);
        };
        let infos = self
            .due
            .get_mut(&when)
            .expect("removal_times and due agree");
        let index = infos
            .iter()
            .position(|info| info.path == path)
            .expect("removal_times and due agree");
        if infos[index].removing {
            // Too late: wait for the removal and answer as if it had already happened.
            return infos[index].promise.future().then(|_| Future::ready(false));
        }
        info!(path = %path.display(), "unscheduling path from gc");
        let info = infos.remove(index);
        if infos.is_empty() {
            self.due.remove(&when);
        }
        self.removal_times.remove(path);
        info.promise.discard();
        self.update_pending();
        self.reset();
        Future::ready(true)
    }

    fn prune(&mut self, d: Duration) {
        let horizon = libprocess::clock::now() + d;
        let times: Vec<SystemTime> = self.due.range(..=horizon).map(|(t, _)| *t).collect();
        for when in times {
            info!(remaining = ?remaining(when), "pruning paths due within {d:?}");
            self.remove(when);
        }
    }

    fn scheduled(&self) -> Vec<(PathBuf, Duration)> {
        self.due
            .iter()
            .flat_map(|(when, infos)| {
                infos
                    .iter()
                    .map(move |info| (info.path.clone(), remaining(*when)))
            })
            .collect()
    }

    /// Arms the timer for the earliest removal time (if it is not armed for it already).
    fn reset(&mut self) {
        let first = self
            .due
            .iter()
            .find(|(_, infos)| infos.iter().any(|i| !i.removing))
            .map(|(when, _)| *when);
        if let Some((armed, _)) = &self.timer
            && Some(*armed) == first
        {
            return;
        }
        if let Some((_, timer)) = self.timer.take() {
            timer.cancel();
        }
        if let Some(when) = first {
            let timer = delay(remaining(when), &self.me(), move |p: &mut Self| {
                p.timer = None;
                p.remove(when);
            });
            self.timer = Some((when, timer));
        }
    }

    /// Starts removing the paths due at `when` (on a separate thread).
    fn remove(&mut self, when: SystemTime) {
        let Some(infos) = self.due.get_mut(&when) else {
            debug!("gc event for paths already removed or unscheduled");
            self.reset();
            return;
        };
        let mut batch = Vec::new();
        for info in infos.iter_mut().filter(|i| !i.removing) {
            info.removing = true;
            batch.push(info.path.clone());
        }
        self.reset();
        if batch.is_empty() {
            return;
        }
        let me = self.me();
        let spawned = std::thread::Builder::new()
            .name("gc-remove".to_owned())
            .spawn(move || {
                let results: Vec<(PathBuf, Result<(), String>)> = batch
                    .into_iter()
                    .map(|path| {
                        let result = remove_path(&path);
                        (path, result)
                    })
                    .collect();
                dispatch(&me, move |p: &mut GarbageCollectorProcess| {
                    p.removed(results)
                });
            });
        if let Err(error) = spawned {
            warn!(%error, "cannot start a gc thread; removing inline");
            let paths: Vec<PathBuf> = self.due[&when]
                .iter()
                .filter(|i| i.removing)
                .map(|i| i.path.clone())
                .collect();
            let results = paths
                .into_iter()
                .map(|path| {
                    let result = remove_path(&path);
                    (path, result)
                })
                .collect();
            self.removed(results);
        }
    }

    fn removed(&mut self, results: Vec<(PathBuf, Result<(), String>)>) {
        for (path, result) in results {
            let Some(when) = self.removal_times.remove(&path) else {
                continue;
            };
            let Some(infos) = self.due.get_mut(&when) else {
                continue;
            };
            let Some(index) = infos.iter().position(|i| i.path == path) else {
                continue;
            };
            let info = infos.remove(index);
            if infos.is_empty() {
                self.due.remove(&when);
            }
            match result {
                Ok(()) => {
                    info!(path = %path.display(), "deleted");
                    if let Some(metrics) = &self.metrics {
                        metrics.succeeded.inc();
                    }
                    info.promise.set(());
                }
                Err(message) => {
                    warn!(path = %path.display(), %message, "cannot delete");
                    if let Some(metrics) = &self.metrics {
                        metrics.failed.inc();
                    }
                    info.promise.fail(message);
                }
            }
        }
        self.update_pending();
        self.reset();
    }
}

/// The time left until `when` on the current runtime's clock (zero when past).
fn remaining(when: SystemTime) -> Duration {
    when.duration_since(libprocess::clock::now())
        .unwrap_or(Duration::ZERO)
}

/// Removes `path` (a tree or a file), carrying on past errors so that as much as possible
/// goes (as upstream's `rmdir(continueOnError)`); a path already gone is a success.
fn remove_path(path: &Path) -> Result<(), String> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            debug!(path = %path.display(), "skipped: does not exist");
            return Ok(());
        }
        Err(error) => return Err(format!("cannot stat '{}': {error}", path.display())),
    };
    if !metadata.is_dir() {
        return std::fs::remove_file(path)
            .map_err(|e| format!("cannot remove '{}': {e}", path.display()));
    }
    let mut errors = Vec::new();
    remove_tree(path, &mut errors);
    match errors.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "cannot remove '{}': {first}{}",
            path.display(),
            if errors.len() > 1 {
                format!(" (and {} more errors)", errors.len() - 1)
            } else {
                String::new()
            }
        )),
    }
}

fn remove_tree(dir: &Path, errors: &mut Vec<String>) {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(error) => {
                        errors.push(format!("{}: {error}", dir.display()));
                        continue;
                    }
                };
                let path = entry.path();
                let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
                if is_dir {
                    remove_tree(&path, errors);
                } else if let Err(error) = std::fs::remove_file(&path)
                    && error.kind() != std::io::ErrorKind::NotFound
                {
                    errors.push(format!("{}: {error}", path.display()));
                }
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return,
        Err(error) => errors.push(format!("{}: {error}", dir.display())),
    }
    if let Err(error) = std::fs::remove_dir(dir)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        errors.push(format!("{}: {error}", dir.display()));
    }
}

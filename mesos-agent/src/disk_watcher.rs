//! The disk watcher (upstream `Slave::checkDiskUsage` / `_checkDiskUsage` in
//! `src/slave/slave.cpp`): every `--disk_watch_interval` it measures how full the
//! filesystem holding the work directory is and has the [garbage
//! collector](crate::gc::GarbageCollector) remove early what a fuller disk can no longer keep.
//!
//! With `usage` the used fraction of the filesystem (statvfs: `1 - free / total` blocks),
//! the executor directories' *max allowed age* is
//! `gc_delay * max(0, 1 - gc_disk_headroom - usage)`, and every path due within
//! `gc_delay - max allowed age` is pruned now: since sandboxes are scheduled `gc_delay`
//! ahead, those at least *max allowed age* old go. The first check runs one interval after
//! start (as upstream); the timer runs on the runtime's clock.
//!
//! The last figures are kept for the agent: [`DiskWatcher::max_allowed_age`] (the agent
//! schedules executor directories found at recovery with it) and [`DiskWatcher::usage`];
//! the gauge `slave/executor_directory_max_allowed_age_secs` (upstream's agent metric) is
//! registered here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use libprocess::metrics::PushGauge;
use libprocess::{Context, Future, Pid, Process, call, delay};
use tracing::{error, info};

use crate::gc::{DEFAULT_GC_DELAY, DEFAULT_GC_DISK_HEADROOM, GarbageCollector};

/// Upstream's `--disk_watch_interval` default (one minute).
pub const DEFAULT_DISK_WATCH_INTERVAL: Duration = Duration::from_secs(60);

/// Where the usage figure comes from: statvfs of the work directory normally; tests inject
/// their own.
pub type UsageSource = Box<dyn FnMut(&Path) -> Result<f64, String> + Send>;

/// The agent flags the watcher follows.
#[derive(Clone, Debug)]
pub struct DiskWatcherOptions {
    /// `--work_dir`: the filesystem measured is the one holding it.
    pub work_dir: PathBuf,
    /// `--disk_watch_interval`.
    pub interval: Duration,
    /// `--gc_delay`.
    pub gc_delay: Duration,
    /// `--gc_disk_headroom` (0.0 to 1.0).
    pub gc_disk_headroom: f64,
}

impl DiskWatcherOptions {
    /// Upstream's defaults for `work_dir`.
    pub fn new(work_dir: impl Into<PathBuf>) -> DiskWatcherOptions {
        DiskWatcherOptions {
            work_dir: work_dir.into(),
            interval: DEFAULT_DISK_WATCH_INTERVAL,
            gc_delay: DEFAULT_GC_DELAY,
            gc_disk_headroom: DEFAULT_GC_DISK_HEADROOM,
        }
    }

    /// The max allowed age of executor directories at disk usage `usage` (0.0 to 1.0):
    /// `gc_delay * max(0, 1 - gc_disk_headroom - usage)` (upstream's `Slave::age`).
    pub fn age(&self, usage: f64) -> Duration {
        let factor = (1.0 - self.gc_disk_headroom - usage).max(0.0);
        self.gc_delay.mul_f64(factor)
    }
}

/// The used fraction of the filesystem holding `path`, from statvfs (as stout's
/// `fs::usage`: `(blocks - free blocks) / blocks`).
pub fn filesystem_usage(path: &Path) -> Result<f64, String> {
    let stat = nix::sys::statvfs::statvfs(path)
        .map_err(|e| format!("cannot statvfs '{}': {e}", path.display()))?;
    let blocks = stat.blocks() as f64;
    if blocks == 0.0 {
        return Err(format!(
            "'{}' is on a filesystem of no blocks",
            path.display()
        ));
    }
    Ok((blocks - stat.blocks_free() as f64) / blocks)
}

/// The handle: clone freely.
#[derive(Clone, Debug)]
pub struct DiskWatcher {
    pid: Pid<DiskWatcherProcess>,
}

impl DiskWatcher {
    /// Spawns a watcher on the current runtime measuring with statvfs.
    pub fn new(options: DiskWatcherOptions, gc: GarbageCollector) -> DiskWatcher {
        DiskWatcher::with_usage_source(options, gc, Box::new(filesystem_usage))
    }

    /// Spawns a watcher on the current runtime taking its usage figures from `source`.
    pub fn with_usage_source(
        options: DiskWatcherOptions,
        gc: GarbageCollector,
        source: UsageSource,
    ) -> DiskWatcher {
        let max_allowed_age = options.age(0.0);
        DiskWatcher {
            pid: libprocess::spawn(DiskWatcherProcess {
                options,
                gc,
                source,
                usage: None,
                max_allowed_age,
                gauge: None,
                pid: None,
            }),
        }
    }

    /// The executor directories' max allowed age after the last check (`gc_delay` scaled
    /// for an empty disk before the first one).
    pub fn max_allowed_age(&self) -> Future<Duration> {
        call(&self.pid, |p: &mut DiskWatcherProcess| p.max_allowed_age)
    }

    /// The used fraction of the disk at the last check, if one succeeded.
    pub fn usage(&self) -> Future<Option<f64>> {
        call(&self.pid, |p: &mut DiskWatcherProcess| p.usage)
    }

    /// Stops the watcher.
    pub fn terminate(&self) -> Future<()> {
        libprocess::terminate(&self.pid);
        libprocess::wait(&self.pid)
    }
}

/// The watcher's state.
pub struct DiskWatcherProcess {
    options: DiskWatcherOptions,
    gc: GarbageCollector,
    source: UsageSource,
    usage: Option<f64>,
    max_allowed_age: Duration,
    gauge: Option<PushGauge>,
    pid: Option<Pid<DiskWatcherProcess>>,
}

impl Process for DiskWatcherProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        let gauge = ctx
            .runtime()
            .metrics()
            .push_gauge("slave/executor_directory_max_allowed_age_secs");
        gauge.set(self.max_allowed_age.as_secs_f64());
        self.gauge = Some(gauge);
        self.pid = Some(ctx.pid());
        delay(self.options.interval, &ctx.pid(), |p: &mut Self| p.check());
    }
}

impl DiskWatcherProcess {
    fn check(&mut self) {
        match (self.source)(&self.options.work_dir) {
            Ok(usage) => {
                self.usage = Some(usage);
                self.max_allowed_age = self.options.age(usage);
                if let Some(gauge) = &self.gauge {
                    gauge.set(self.max_allowed_age.as_secs_f64());
                }
                info!(
                    "current disk usage {:.2}%, max allowed age {:?}",
                    usage * 100.0,
                    self.max_allowed_age
                );
                self.gc
                    .prune(self.options.gc_delay.saturating_sub(self.max_allowed_age));
            }
            Err(message) => error!(%message, "failed to get disk usage"),
        }
        let me = self.me();
        delay(self.options.interval, &me, |p: &mut Self| p.check());
    }

    fn me(&self) -> Pid<DiskWatcherProcess> {
        self.pid.clone().expect("initialize runs first")
    }
}

//! The garbage collector and the disk watcher on a paused clock: paths go when due, can be
//! kept or rescheduled, and go sooner when the disk fills up.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libprocess::Runtime;
use mesos_agent::disk_watcher::{DiskWatcher, DiskWatcherOptions};
use mesos_agent::gc::GarbageCollector;

const WAIT: Duration = Duration::from_secs(10);
const HOUR: Duration = Duration::from_secs(3600);

fn paused_runtime() -> Runtime {
    let runtime = Runtime::builder().workers(2).build();
    runtime.clock().pause();
    runtime
}

/// A sandbox-like directory with a file in a subdirectory.
fn sandbox(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/stdout"), b"output").unwrap();
    std::fs::write(dir.join("stderr"), b"errors").unwrap();
    dir
}

fn temp_root(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("mesos-agent-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    root
}

#[test]
fn paths_are_removed_when_due_in_order() {
    let runtime = paused_runtime();
    let _guard = runtime.enter();
    let root = temp_root("gc-due");
    let early = sandbox(&root, "early");
    let late = sandbox(&root, "late");
    let single_file = root.join("file");
    std::fs::write(&single_file, b"x").unwrap();

    let gc = GarbageCollector::new();
    let early_removed = gc.schedule(HOUR, early.clone());
    let late_removed = gc.schedule(3 * HOUR, late.clone());
    let file_removed = gc.schedule(HOUR, single_file.clone());
    runtime.clock().settle();
    assert_eq!(gc.scheduled().get().unwrap().len(), 3);

    runtime.clock().advance(HOUR - Duration::from_secs(1));
    runtime.clock().settle();
    assert!(early.exists() && late.exists() && single_file.exists());
    assert!(early_removed.is_pending());

    runtime.clock().advance(Duration::from_secs(1));
    runtime.clock().settle();
    assert!(early_removed.await_for(WAIT), "early path not removed");
    assert!(file_removed.await_for(WAIT), "file not removed");
    assert_eq!(early_removed.get(), Ok(()));
    assert!(!early.exists() && !single_file.exists());
    assert!(late.exists());
    assert!(late_removed.is_pending());

    runtime.clock().advance(2 * HOUR);
    runtime.clock().settle();
    assert!(late_removed.await_for(WAIT));
    assert!(!late.exists());
    assert!(gc.scheduled().get().unwrap().is_empty());

    let snapshot = runtime.metrics().snapshot(None).get().unwrap();
    assert_eq!(snapshot["gc/path_removals_succeeded"], 3.0);
    assert_eq!(snapshot["gc/path_removals_failed"], 0.0);
    assert_eq!(snapshot["gc/path_removals_pending"], 0.0);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn unscheduled_paths_are_kept_and_rescheduling_replaces() {
    let runtime = paused_runtime();
    let _guard = runtime.enter();
    let root = temp_root("gc-unschedule");
    let kept = sandbox(&root, "kept");
    let moved = sandbox(&root, "moved");

    let gc = GarbageCollector::new();
    let kept_removed = gc.schedule(HOUR, kept.clone());
    let first = gc.schedule(HOUR, moved.clone());
    assert_eq!(gc.unschedule(kept.clone()).get(), Ok(true));
    assert!(kept_removed.is_discarded());
    assert_eq!(gc.unschedule(root.join("never-scheduled")).get(), Ok(false));

    // Rescheduling: the first future is discarded, the new delay counts.
    let second = gc.schedule(5 * HOUR, moved.clone());
    runtime.clock().settle();
    assert!(first.is_discarded());
    let scheduled = gc.scheduled().get().unwrap();
    assert_eq!(scheduled, vec![(moved.clone(), 5 * HOUR)]);

    runtime.clock().advance(2 * HOUR);
    runtime.clock().settle();
    assert!(kept.exists() && moved.exists());
    assert!(second.is_pending());

    runtime.clock().advance(3 * HOUR);
    runtime.clock().settle();
    assert!(second.await_for(WAIT));
    assert!(!moved.exists());
    assert!(kept.exists());
    // Once removed, a path is no longer scheduled.
    assert_eq!(gc.unschedule(moved).get(), Ok(false));
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn prune_removes_what_is_due_within_the_horizon() {
    let runtime = paused_runtime();
    let _guard = runtime.enter();
    let root = temp_root("gc-prune");
    let soon = sandbox(&root, "soon");
    let later = sandbox(&root, "later");
    let gc = GarbageCollector::new();
    let soon_removed = gc.schedule(2 * HOUR, soon.clone());
    let later_removed = gc.schedule(10 * HOUR, later.clone());

    gc.prune(3 * HOUR);
    assert!(soon_removed.await_for(WAIT));
    assert!(!soon.exists());
    assert!(later.exists());
    assert!(later_removed.is_pending());

    // The timer still fires for what is left.
    runtime.clock().advance(10 * HOUR);
    runtime.clock().settle();
    assert!(later_removed.await_for(WAIT));
    assert!(!later.exists());
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_path_already_gone_counts_as_removed() {
    let runtime = paused_runtime();
    let _guard = runtime.enter();
    let root = temp_root("gc-gone");
    let gc = GarbageCollector::new();
    let removed = gc.schedule(Duration::from_secs(1), root.join("does-not-exist"));
    runtime.clock().settle();
    runtime.clock().advance(Duration::from_secs(1));
    runtime.clock().settle();
    assert!(removed.await_for(WAIT));
    assert_eq!(removed.get(), Ok(()));
    let _ = std::fs::remove_dir_all(root);
}

/// A usage figure the test sets, and how often it was read.
#[derive(Clone, Default)]
struct FakeDisk {
    usage: Arc<Mutex<f64>>,
    reads: Arc<Mutex<u32>>,
}

impl FakeDisk {
    fn set(&self, usage: f64) {
        *self.usage.lock().unwrap() = usage;
    }

    fn reads(&self) -> u32 {
        *self.reads.lock().unwrap()
    }

    fn source(&self) -> mesos_agent::disk_watcher::UsageSource {
        let disk = self.clone();
        Box::new(move |_path: &Path| {
            *disk.reads.lock().unwrap() += 1;
            Ok(*disk.usage.lock().unwrap())
        })
    }
}

fn watcher_options(work_dir: &Path) -> DiskWatcherOptions {
    let mut options = DiskWatcherOptions::new(work_dir);
    options.interval = Duration::from_secs(60);
    options.gc_delay = 100 * HOUR;
    options.gc_disk_headroom = 0.1;
    options
}

#[test]
fn age_follows_upstream_formula() {
    let options = watcher_options(Path::new("/"));
    assert_eq!(options.age(0.0), 90 * HOUR);
    assert_eq!(options.age(0.5), 40 * HOUR);
    assert_eq!(options.age(0.9), Duration::ZERO);
    assert_eq!(options.age(1.0), Duration::ZERO);
}

#[test]
fn a_fuller_disk_removes_old_sandboxes_sooner() {
    let runtime = paused_runtime();
    let _guard = runtime.enter();
    let root = temp_root("gc-disk");
    let old = sandbox(&root, "old");
    let young = sandbox(&root, "young");
    let options = watcher_options(&root);
    let gc_delay = options.gc_delay;

    let gc = GarbageCollector::new();
    let disk = FakeDisk::default();
    disk.set(0.2);
    let watcher = DiskWatcher::with_usage_source(options, gc.clone(), disk.source());

    // `old` is scheduled 50 hours before `young`, both with gc_delay.
    let old_removed = gc.schedule(gc_delay, old.clone());
    runtime.clock().settle();
    runtime.clock().advance(50 * HOUR);
    runtime.clock().settle();
    let young_removed = gc.schedule(gc_delay, young.clone());
    runtime.clock().settle();
    // A check ran meanwhile, at 20% usage: max age 70 h, nothing that old.
    assert!(disk.reads() >= 1);
    assert_eq!(watcher.usage().get(), Ok(Some(0.2)));
    assert_eq!(watcher.max_allowed_age().get(), Ok(70 * HOUR));
    assert!(old.exists() && young.exists());

    // At 50% usage the max age is 40 h: `old` (50 h) goes at the next check, `young` stays.
    disk.set(0.5);
    runtime.clock().advance(Duration::from_secs(60));
    runtime.clock().settle();
    assert!(old_removed.await_for(WAIT), "old sandbox not pruned");
    assert!(!old.exists());
    assert!(young.exists());
    assert!(young_removed.is_pending());
    assert_eq!(watcher.max_allowed_age().get(), Ok(40 * HOUR));
    let snapshot = runtime.metrics().snapshot(None).get().unwrap();
    assert_eq!(
        snapshot["slave/executor_directory_max_allowed_age_secs"],
        (40 * HOUR).as_secs_f64()
    );

    // Past the headroom everything goes.
    disk.set(0.95);
    runtime.clock().advance(Duration::from_secs(60));
    runtime.clock().settle();
    assert!(young_removed.await_for(WAIT), "young sandbox not pruned");
    assert!(!young.exists());
    assert_eq!(watcher.max_allowed_age().get(), Ok(Duration::ZERO));
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn statvfs_usage_of_a_real_filesystem_is_a_fraction() {
    let usage = mesos_agent::disk_watcher::filesystem_usage(&std::env::temp_dir()).unwrap();
    assert!((0.0..=1.0).contains(&usage), "usage {usage}");
    assert!(mesos_agent::disk_watcher::filesystem_usage(Path::new("/no/such/dir")).is_err());
}

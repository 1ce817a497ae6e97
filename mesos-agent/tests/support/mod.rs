//! Shared fixtures of the containerizer tests: a runtime entered for the test, a private
//! work directory, a unique cgroups root, and a guard that destroys leftover containers and
//! cgroups and removes the directory even when the test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use libprocess::{EnterGuard, Runtime};
use mesos_agent::containerizer::cgroups::{self, Hierarchies};
use mesos_agent::containerizer::usage;
use mesos_agent::containerizer::{Containerizer, ContainerizerBuilder};
use mesos_core::v0::ContainerId;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Bounded wait for a future (a wedged container must fail the test, not hang it).
pub const WAIT: Duration = Duration::from_secs(20);

/// Everything a test needs, cleaned up on drop.
pub struct Fixture {
    containerizers: Vec<Containerizer>,
    pub dir: PathBuf,
    pub cgroups_root: String,
    _enter: EnterGuard,
    pub runtime: Runtime,
}

impl Fixture {
    pub fn new() -> Fixture {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("mesos-test-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let runtime = Runtime::new();
        let enter = runtime.handle().enter();
        Fixture {
            containerizers: Vec::new(),
            dir,
            cgroups_root: name,
            _enter: enter,
            runtime,
        }
    }

    /// A builder pointing at this fixture's runtime directory and cgroups root.
    pub fn builder(&self) -> ContainerizerBuilder {
        Containerizer::builder()
            .runtime_dir(self.dir.join("runtime"))
            .cgroups_root(self.cgroups_root.clone())
    }

    /// Builds a containerizer and remembers it for clean-up.
    pub fn containerizer(&mut self, builder: ContainerizerBuilder) -> Containerizer {
        let containerizer = builder.build().expect("containerizer builds");
        self.containerizers.push(containerizer.clone());
        containerizer
    }

    /// A fresh sandbox directory.
    pub fn sandbox(&self, name: &str) -> PathBuf {
        let dir = self.dir.join("sandboxes").join(name);
        std::fs::create_dir_all(&dir).expect("sandbox");
        dir
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for containerizer in &self.containerizers {
            if let Ok(ids) = containerizer.containers().get() {
                for id in ids {
                    let _ = containerizer.destroy(id).await_for(WAIT);
                }
            }
        }
        if let Ok(hierarchies) = Hierarchies::detect() {
            for controller in ["cpu", "cpuacct", "memory", "devices", "freezer"] {
                if let Some(root) = hierarchies.root_cgroup(controller, &self.cgroups_root) {
                    let _ = root.destroy();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A container ID.
pub fn id(value: &str) -> ContainerId {
    ContainerId {
        value: value.to_owned(),
        parent: None,
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// The contents of a file, or empty.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The living members of the session led by `sid`.
pub fn session(sid: i32) -> Vec<i32> {
    usage::session_members(&usage::processes(), usage::Session::recovered(sid))
}

/// `Ok` if cgroups under `controller` can be created here; else the reason to skip.
pub fn cgroups_allowed(controllers: &[&'static str]) -> Result<Hierarchies, String> {
    let hierarchies = Hierarchies::detect().map_err(|e| e.to_string())?;
    for controller in controllers {
        cgroups::writable(&hierarchies, controller)?;
    }
    Ok(hierarchies)
}

/// Returns from the test, saying why, when the host does not allow cgroups.
#[macro_export]
macro_rules! require_cgroups {
    ($($controller:expr),+) => {
        match support::cgroups_allowed(&[$($controller),+]) {
            Ok(hierarchies) => hierarchies,
            Err(reason) => {
                eprintln!("skipping {}: {reason}", module_path!());
                return;
            }
        }
    };
}

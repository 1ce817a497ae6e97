//! Shared by the `e2e_*` tests: the real binaries as child processes on free loopback ports,
//! a guard that kills every process a test started (children, their process groups, and the
//! executors and tasks found running in the test's directory) even when the test fails, and
//! small HTTP and framework helpers.
//!
//! `mesos-master`, `mesos-agent` and `mesos-executor` belong to other packages: they are
//! looked up next to this test binary's directory (`target/<profile>/`), where
//! `cargo test --workspace` builds them. When one is missing, [`Bins::find`] says why and
//! the test returns early.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use libprocess::Runtime;
use libprocess::http::client;
use mesos_client::ContentType;
use mesos_client::scheduler::{
    MasterDetector, Scheduler, SchedulerConfig, SchedulerEvent, StaticDetector,
};
use mesos_core::v1;
use mesos_core::v1::scheduler::event;
use serde_json::Value;

/// How long a test waits for anything before failing.
pub const WAIT: Duration = Duration::from_secs(30);

/// The binaries of the other packages.
#[derive(Clone, Debug)]
pub struct Bins {
    /// `mesos-master`.
    pub master: PathBuf,
    /// `mesos-agent`.
    pub agent: PathBuf,
    /// The directory holding `mesos-executor` (the agents' `--launcher_dir`).
    pub launcher_dir: PathBuf,
}

impl Bins {
    /// The binaries next to this test's directory, or `None` (after printing why).
    pub fn find() -> Option<Bins> {
        let exe = std::env::current_exe().ok()?;
        // target/<profile>/deps/<test>-<hash>
        let dir = exe.parent()?.parent()?.to_path_buf();
        let mut missing = Vec::new();
        for name in ["mesos-master", "mesos-agent", "mesos-executor"] {
            if !dir.join(name).is_file() {
                missing.push(name);
            }
        }
        if !missing.is_empty() {
            eprintln!(
                "skipped: {} not built in {} (run `cargo build -p mesos-master -p mesos-agent` \
                 with the same target directory, or `cargo test --workspace`)",
                missing.join(", "),
                dir.display()
            );
            return None;
        }
        Some(Bins {
            master: dir.join("mesos-master"),
            agent: dir.join("mesos-agent"),
            launcher_dir: dir,
        })
    }
}

/// A free port on 127.0.0.1 (free when asked: the OS gives another to the next caller).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("local address").port()
}

/// One child process, started in its own process group, its output in a log file.
#[derive(Debug)]
pub struct Proc {
    /// A name for messages.
    pub name: String,
    child: Child,
    log: PathBuf,
    /// Once reaped, its pid (and group id) may belong to someone else: never signal it again.
    reaped: bool,
}

impl Proc {
    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL to its whole process group, then reaps it.
    pub fn kill(&mut self) {
        if self.reaped {
            return;
        }
        // Not reaped yet, so the pid still names this child (a zombie at worst) and its group.
        let pgid = self.child.id() as i32;
        if pgid > 1 {
            unsafe {
                libc_kill(-pgid, SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }

    /// True while it runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let bytes = std::fs::read(&self.log).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

const SIGKILL: i32 = 9;

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

/// A test's directory and every process it started. On drop (also when the test panics):
/// kills the children's process groups, then every process whose working directory lies
/// under the directory (executors and tasks run in their own sessions, in
/// sandboxes under the agents' work directories), prints the children's logs if the test
/// failed, and removes the directory.
pub struct Harness {
    /// The test's directory.
    pub dir: PathBuf,
    procs: BTreeMap<String, Proc>,
    bins: Bins,
    /// The agents' `--cgroups_root`: each test its own, or an agent starting would take the
    /// containers of another test's agents for its orphans and destroy them (the Linux
    /// launcher recovers every container under its cgroups root).
    cgroups_root: String,
}

impl Harness {
    /// A fresh directory for test `name`; `None` when the binaries are missing.
    pub fn new(name: &str) -> Option<Harness> {
        let bins = Bins::find()?;
        let dir = std::env::temp_dir().join(format!("mesos-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the test directory");
        Some(Harness {
            dir,
            procs: BTreeMap::new(),
            bins,
            cgroups_root: format!("mesos-e2e-{name}-{}", std::process::id()),
        })
    }

    /// The binaries.
    pub fn bins(&self) -> &Bins {
        &self.bins
    }

    /// Starts `command` as the child `name` (replacing a dead one of that name).
    pub fn spawn(&mut self, name: &str, mut command: Command) -> &mut Proc {
        if let Some(mut old) = self.procs.remove(name) {
            old.kill();
        }
        let log = self.dir.join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("opening a log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .env("RUST_LOG", "info")
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.procs.insert(
            name.to_string(),
            Proc {
                name: name.to_string(),
                child,
                log,
                reaped: false,
            },
        );
        self.procs.get_mut(name).expect("just inserted")
    }

    /// The child `name`.
    pub fn proc(&mut self, name: &str) -> &mut Proc {
        self.procs
            .get_mut(name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    /// Starts a master on `port` with its registry under the test directory.
    pub fn start_master(&mut self, name: &str, port: u16, extra: &[&str]) -> SocketAddr {
        self.start_master_on(name, "127.0.0.1", port, extra)
    }

    /// As [`Harness::start_master`], listening on `ip`.
    pub fn start_master_on(
        &mut self,
        name: &str,
        ip: &str,
        port: u16,
        extra: &[&str],
    ) -> SocketAddr {
        let mut command = Command::new(&self.bins.master);
        command
            .arg(format!("--ip={ip}"))
            .arg(format!("--port={port}"))
            .arg(format!("--work_dir={}", self.dir.join(name).display()))
            .arg("--allocation_interval=50ms")
            .args(extra);
        self.spawn(name, command);
        let address: SocketAddr = format!("{ip}:{port}").parse().expect("address");
        wait_until(WAIT, &format!("{name} serving /health"), || {
            client::get(&format!("http://{address}/health"))
                .get()
                .is_ok_and(|r| r.status.as_u16() == 200)
        });
        address
    }

    /// Starts an agent `name` of `master` on `port`, with its work directory under the test
    /// directory (the same one on a restart) and short intervals.
    pub fn start_agent(
        &mut self,
        name: &str,
        master: SocketAddr,
        port: u16,
        extra: &[&str],
    ) -> SocketAddr {
        let command = self.agent_command(name, &master.to_string(), "127.0.0.1", port, extra);
        self.spawn(name, command);
        format!("127.0.0.1:{port}").parse().expect("address")
    }

    /// The command line of an agent (for callers that wrap it, e.g. in `ip netns exec`).
    pub fn agent_command(
        &self,
        name: &str,
        master: &str,
        ip: &str,
        port: u16,
        extra: &[&str],
    ) -> Command {
        let work_dir = self.dir.join(name);
        let mut command = Command::new(&self.bins.agent);
        command
            .arg(format!("--master={master}"))
            .arg(format!("--ip={ip}"))
            .arg(format!("--port={port}"))
            .arg(format!("--work_dir={}", work_dir.display()))
            .arg(format!("--runtime_dir={}", work_dir.join("run").display()))
            .arg(format!(
                "--launcher_dir={}",
                self.bins.launcher_dir.display()
            ))
            .arg("--resources=cpus:8;mem:4096;disk:4096;ports:[31000-31100]")
            .arg(format!("--cgroups_root={}", self.cgroups_root))
            .arg("--registration_backoff_factor=10ms")
            .arg("--executor_registration_timeout=20secs")
            .arg("--executor_shutdown_grace_period=1secs")
            .arg(format!(
                "--fetcher_cache_dir={}",
                self.dir.join("fetch").display()
            ))
            .args(extra);
        command
    }

    /// Kills every process whose working directory lies under the test directory (executors
    /// and tasks run in their sandboxes).
    pub fn kill_strays(&self) {
        let me = std::process::id();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == me {
                continue;
            }
            let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
                continue;
            };
            if pid > 1 && cwd.starts_with(&self.dir) {
                unsafe {
                    libc_kill(pid as i32, SIGKILL);
                }
            }
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        for proc in self.procs.values_mut() {
            proc.kill();
        }
        self.kill_strays();
        remove_cgroups(&self.cgroups_root);
        if failed {
            for proc in self.procs.values() {
                eprintln!(
                    "---- last lines of {} ----\n{}",
                    proc.name,
                    proc.log_tail(40)
                );
            }
            eprintln!("(test directory kept: {})", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Removes the (empty, once their processes are dead) cgroups under `root` in every
/// hierarchy of `/sys/fs/cgroup`, deepest first.
fn remove_cgroups(root: &str) {
    fn remove(dir: &Path) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    remove(&entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let dirs: Vec<PathBuf> = hierarchies
        .flatten()
        .map(|h| h.path().join(root))
        .filter(|d| d.is_dir())
        .collect();
    // A killed process leaves its cgroup only once it is gone: retry for a moment.
    for _ in 0..20 {
        for dir in &dirs {
            remove(dir);
        }
        if dirs.iter().all(|d| !d.exists()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let unified = Path::new("/sys/fs/cgroup").join(root);
    if unified.is_dir() {
        remove(&unified);
    }
}

/// Polls `check` every 20 ms until it holds; panics after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET url` as JSON; `None` on any failure.
pub fn get_json(url: &str) -> Option<Value> {
    let response = client::get(url).get().ok()?;
    if response.status.as_u16() != 200 {
        return None;
    }
    serde_json::from_slice(response.body_bytes()?).ok()
}

/// `POST` of a JSON `body` to `url`: the status and the JSON answer (`Null` if none).
pub fn post_json(url: &str, body: &Value) -> (u16, Value) {
    let response = client::post(url, "application/json", body.to_string())
        .get()
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let value = response
        .body_bytes()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or(Value::Null);
    (response.status.as_u16(), value)
}

/// The master's `/master/state`.
pub fn master_state(master: SocketAddr) -> Option<Value> {
    get_json(&format!("http://{master}/master/state"))
}

/// How many agents `/master/state` lists as active.
pub fn active_agents(master: SocketAddr) -> usize {
    master_state(master)
        .and_then(|s| {
            s["slaves"].as_array().map(|agents| {
                agents
                    .iter()
                    .filter(|a| a["active"].as_bool() == Some(true))
                    .count()
            })
        })
        .unwrap_or(0)
}

/// The state of task `id` in `/master/state` (live or completed), e.g. `"TASK_RUNNING"`.
pub fn task_state_in_master(master: SocketAddr, id: &str) -> Option<String> {
    let state = master_state(master)?;
    for framework in state["frameworks"].as_array().into_iter().flatten() {
        for list in ["tasks", "unreachable_tasks", "completed_tasks"] {
            for task in framework[list].as_array().into_iter().flatten() {
                if task["id"] == id {
                    return task["state"].as_str().map(str::to_owned);
                }
            }
        }
    }
    None
}

/// A scalar resource for role `*` (the allocation a MULTI_ROLE framework names).
pub fn scalar(name: &str, value: f64) -> v1::Resource {
    v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        allocation_info: Some(v1::resource::AllocationInfo {
            role: Some("*".into()),
        }),
        ..Default::default()
    }
}

/// A command task of `cpus:0.1;mem:16` on `agent`.
pub fn command_task(id: &str, agent: &v1::AgentId, command: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: agent.clone(),
        resources: vec![scalar("cpus", 0.1), scalar("mem", 16.0)],
        command: Some(v1::CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A `FrameworkInfo` of a MULTI_ROLE framework in role `*`, run as root.
pub fn framework_info(name: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        roles: vec!["*".into()],
        capabilities: vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        }],
        ..Default::default()
    }
}

/// One status update as the framework saw it.
#[derive(Clone, Debug)]
pub struct Update {
    /// The task.
    pub task: String,
    /// Its state.
    pub state: v1::TaskState,
    /// The reason, if any.
    pub reason: Option<v1::task_status::Reason>,
    /// The message, if any.
    pub message: String,
    /// The agent, if any.
    pub agent: Option<String>,
}

/// A framework driven through the scheduler library, on its own runtime. Updates are
/// acknowledged as they arrive and recorded in order; offers are kept until used.
pub struct Framework {
    /// The library's handle.
    pub scheduler: Scheduler,
    events: Receiver<SchedulerEvent>,
    /// Offers received and not yet used or declined.
    pub offers: Vec<v1::Offer>,
    /// Every update received, in order.
    pub updates: Vec<Update>,
    /// `SUBSCRIBED` events seen (framework ids).
    pub subscribed: Vec<String>,
    /// How many times the library reported a disconnection.
    pub disconnections: usize,
    /// `ERROR` events.
    pub errors: Vec<String>,
    runtime: Option<Runtime>,
}

impl Framework {
    /// Subscribes `info` to `master` (JSON; reconnections after 50 to 200 ms).
    pub fn subscribe(master: SocketAddr, info: v1::FrameworkInfo) -> Framework {
        let detector = StaticDetector::new(&master.to_string()).expect("master address");
        Framework::subscribe_with(detector, info)
    }

    /// Subscribes `info` to the master that `detector` finds (JSON; reconnections after 50 to
    /// 200 ms).
    pub fn subscribe_with(detector: impl MasterDetector, info: v1::FrameworkInfo) -> Framework {
        let runtime = Runtime::new();
        let config = SchedulerConfig::new(info)
            .content_type(ContentType::Json)
            .backoff(Duration::from_millis(50), Duration::from_millis(200));
        let (scheduler, events) = Scheduler::with_channel(runtime.handle(), config, detector);
        let mut framework = Framework {
            scheduler,
            events,
            offers: Vec::new(),
            updates: Vec::new(),
            subscribed: Vec::new(),
            disconnections: 0,
            errors: Vec::new(),
            runtime: Some(runtime),
        };
        framework.wait("SUBSCRIBED", |f| !f.subscribed.is_empty());
        framework
    }

    /// The framework id the master gave.
    pub fn id(&self) -> String {
        self.subscribed.last().cloned().expect("subscribed")
    }

    /// Handles one event (waiting up to `timeout`); false when none came.
    pub fn step(&mut self, timeout: Duration) -> bool {
        let item = match self.events.recv_timeout(timeout) {
            Ok(item) => item,
            Err(RecvTimeoutError::Timeout) => return false,
            Err(RecvTimeoutError::Disconnected) => panic!("the scheduler library stopped"),
        };
        let event = match item {
            SchedulerEvent::Event(event) => *event,
            SchedulerEvent::Disconnected => {
                self.disconnections += 1;
                self.offers.clear();
                return true;
            }
            SchedulerEvent::Connected => return true,
        };
        match event.r#type() {
            event::Type::Subscribed => {
                let id = event.subscribed.expect("subscribed").framework_id.value;
                self.subscribed.push(id);
            }
            event::Type::Offers => {
                self.offers
                    .extend(event.offers.map(|o| o.offers).unwrap_or_default());
            }
            event::Type::Rescind => {
                if let Some(rescind) = event.rescind {
                    self.offers.retain(|o| o.id != rescind.offer_id);
                }
            }
            event::Type::Update => {
                let status = event.update.expect("update").status;
                if let Some(ack) = self.scheduler.acknowledge(&status) {
                    // Answered asynchronously; a failure shows up as a retried update.
                    drop(ack);
                }
                self.updates.push(Update {
                    task: status.task_id.value.clone(),
                    state: status.state(),
                    reason: status
                        .reason
                        .and_then(|r| v1::task_status::Reason::try_from(r).ok()),
                    message: status.message.clone().unwrap_or_default(),
                    agent: status.agent_id.as_ref().map(|a| a.value.clone()),
                });
            }
            event::Type::Error => {
                self.errors
                    .push(event.error.map(|e| e.message).unwrap_or_default());
            }
            _ => {}
        }
        true
    }

    /// Handles events until `done` holds; panics after [`WAIT`].
    pub fn wait(&mut self, what: &str, mut done: impl FnMut(&Framework) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let mut states: BTreeMap<&str, usize> = BTreeMap::new();
                for update in &self.updates {
                    *states.entry(update.state.as_str_name()).or_default() += 1;
                }
                let last: Vec<&Update> = self.updates.iter().rev().take(5).collect();
                panic!(
                    "timed out waiting for {what}; {} updates by state: {states:?}; the last \
                     ones: {last:?}; errors: {:?}",
                    self.updates.len(),
                    self.errors
                );
            }
            self.step(left.min(Duration::from_millis(200)));
        }
    }

    /// Handles events for `duration`.
    pub fn pump(&mut self, duration: Duration) {
        let deadline = Instant::now() + duration;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            self.step(left);
        }
    }

    /// Takes an offer (waiting for one), optionally on agent `agent`.
    pub fn take_offer(&mut self, agent: Option<&str>) -> v1::Offer {
        let matches = |o: &v1::Offer| agent.is_none_or(|a| o.agent_id.value == a);
        self.wait("an offer", |f| f.offers.iter().any(matches));
        let index = self.offers.iter().position(matches).expect("an offer");
        self.offers.remove(index)
    }

    /// Launches `tasks` with `offer` and checks the master took the call.
    pub fn launch(&mut self, offer: &v1::Offer, tasks: Vec<v1::TaskInfo>) {
        let operation = v1::offer::Operation {
            r#type: Some(v1::offer::operation::Type::Launch as i32),
            launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
            ..Default::default()
        };
        let answer = self
            .scheduler
            .accept(vec![offer.id.clone()], vec![operation], None)
            .get()
            .expect("ACCEPT answered");
        assert_eq!(answer.status.as_u16(), 202, "ACCEPT refused");
    }

    /// The states task `id` went through, in order.
    pub fn states(&self, id: &str) -> Vec<v1::TaskState> {
        self.updates
            .iter()
            .filter(|u| u.task == id)
            .map(|u| u.state)
            .collect()
    }

    /// True once task `id` got an update with `state`.
    pub fn saw(&self, id: &str, state: v1::TaskState) -> bool {
        self.updates
            .iter()
            .any(|u| u.task == id && u.state == state)
    }

    /// Waits for task `id` to reach `state`.
    pub fn wait_state(&mut self, id: &str, state: v1::TaskState) {
        let what = format!("{id} {}", state.as_str_name());
        self.wait(&what, |f| f.saw(id, state));
    }

    /// Stops the library (no TEARDOWN: the framework may fail over) and its runtime.
    pub fn stop(mut self) {
        let _ = self.scheduler.stop().await_for(Duration::from_secs(5));
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

impl Drop for Framework {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            let _ = self.scheduler.stop().await_for(Duration::from_secs(5));
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// The directory of agent `name`'s sandboxes, for messages.
pub fn agent_dir(harness: &Harness, name: &str) -> PathBuf {
    harness.dir.join(name)
}

/// True if `path` exists.
pub fn exists(path: &Path) -> bool {
    path.exists()
}

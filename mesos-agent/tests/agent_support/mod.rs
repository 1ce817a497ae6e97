//! Shared fixtures of the agent tests: a test master (a process named `master` speaking the
//! internal master ↔ agent messages), a cluster fixture (a listening runtime, a private work
//! directory, an agent started in-process, `mesos-executor` as the command executor) and a
//! small blocking HTTP client.

#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use libprocess::{Context, Pid, Process, Runtime, Upid};
use mesos_agent::{Agent, Flags};
use mesos_core::internal::{
    ExecutorToFrameworkMessage, ExitedExecutorMessage, KillTaskMessage, MasterSlaveConnection,
    PingSlaveMessage, PongSlaveMessage, RegisterSlaveMessage, ReregisterSlaveMessage,
    RunTaskMessage, ShutdownFrameworkMessage, SlaveRegisteredMessage, SlaveReregisteredMessage,
    StatusUpdate, StatusUpdateAcknowledgementMessage, StatusUpdateMessage,
};
use mesos_core::resources::Resources;
use mesos_core::v0::{
    CommandInfo, FrameworkId, FrameworkInfo, KillPolicy, SlaveId, TaskId, TaskInfo, TaskState,
};
use parking_lot::{Condvar, Mutex};
use prost::{Message, Name};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(30);

/// What the test master received.
#[derive(Clone, Debug)]
pub enum Received {
    Register(RegisterSlaveMessage),
    Reregister(ReregisterSlaveMessage),
    Update(StatusUpdate),
    Exited(ExitedExecutorMessage),
    ExecutorMessage(ExecutorToFrameworkMessage),
    Pong,
}

#[derive(Default)]
pub struct Log {
    received: Mutex<Vec<Received>>,
    changed: Condvar,
}

/// The test master's state.
pub struct TestMasterProcess {
    log: Arc<Log>,
    agent_id: String,
    auto_ack: bool,
    ping_timeout: Option<f64>,
    answering: bool,
}

impl TestMasterProcess {
    fn record(&self, received: Received) {
        self.log.received.lock().push(received);
        self.log.changed.notify_all();
    }
}

impl Process for TestMasterProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.install_protobuf(|m: &mut Self, ctx, from, message: RegisterSlaveMessage| {
            m.record(Received::Register(message));
            if !m.answering {
                return;
            }
            ctx.send_protobuf(
                &from,
                &SlaveRegisteredMessage {
                    slave_id: SlaveId {
                        value: m.agent_id.clone(),
                    },
                    connection: Some(MasterSlaveConnection {
                        total_ping_timeout_seconds: m.ping_timeout,
                    }),
                },
            );
        });
        ctx.install_protobuf(|m: &mut Self, ctx, from, message: ReregisterSlaveMessage| {
            let id = message.slave.id.clone().unwrap_or_default();
            m.record(Received::Reregister(message));
            if !m.answering {
                return;
            }
            ctx.send_protobuf(
                &from,
                &SlaveReregisteredMessage {
                    slave_id: id,
                    reconciliations: Vec::new(),
                    connection: Some(MasterSlaveConnection {
                        total_ping_timeout_seconds: m.ping_timeout,
                    }),
                },
            );
        });
        ctx.install_protobuf(|m: &mut Self, ctx, from, message: StatusUpdateMessage| {
            let update = message.update;
            m.record(Received::Update(update.clone()));
            if m.auto_ack
                && let Some(uuid) = update.uuid.clone()
            {
                ctx.send_protobuf(
                    &from,
                    &StatusUpdateAcknowledgementMessage {
                        slave_id: update.slave_id.clone().unwrap_or_default(),
                        framework_id: update.framework_id.clone(),
                        task_id: update.status.task_id.clone(),
                        uuid,
                    },
                );
            }
        });
        ctx.install_protobuf(|m: &mut Self, _, _, message: ExitedExecutorMessage| {
            m.record(Received::Exited(message))
        });
        ctx.install_protobuf(|m: &mut Self, _, _, message: ExecutorToFrameworkMessage| {
            m.record(Received::ExecutorMessage(message))
        });
        ctx.install_protobuf(|m: &mut Self, _, _, _: PongSlaveMessage| m.record(Received::Pong));
    }
}

/// The test master's handle.
#[derive(Clone)]
pub struct TestMaster {
    pub pid: Pid<TestMasterProcess>,
    pub log: Arc<Log>,
    runtime: libprocess::Handle,
}

impl TestMaster {
    /// Spawns `master` on `runtime`.
    pub fn spawn(runtime: &libprocess::Handle, agent_id: &str, auto_ack: bool) -> TestMaster {
        let log = Arc::new(Log::default());
        let pid = runtime
            .spawn_with_id(
                "master",
                TestMasterProcess {
                    log: log.clone(),
                    agent_id: agent_id.to_owned(),
                    auto_ack,
                    ping_timeout: None,
                    answering: true,
                },
            )
            .expect("spawn the test master");
        TestMaster {
            pid,
            log,
            runtime: runtime.clone(),
        }
    }

    pub fn upid(&self) -> &Upid {
        self.pid.upid()
    }

    /// The ping timeout the master gives agents when they (re-)register.
    pub fn set_ping_timeout(&self, secs: f64) {
        libprocess::call(&self.pid, move |m: &mut TestMasterProcess| {
            m.ping_timeout = Some(secs)
        })
        .get()
        .unwrap();
    }

    /// Whether the master answers registrations.
    pub fn set_answering(&self, answering: bool) {
        libprocess::call(&self.pid, move |m: &mut TestMasterProcess| {
            m.answering = answering
        })
        .get()
        .unwrap();
    }

    /// Sends a message to the agent as the master.
    pub fn send<M: Message + Name>(&self, to: &Upid, message: &M) {
        self.runtime
            .send(self.pid.upid(), to, M::full_name(), message.encode_to_vec());
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.received.lock().clone()
    }

    /// Waits until `find` finds something in what was received.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        mut find: impl FnMut(&[Received]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut received = self.log.received.lock();
        loop {
            if let Some(found) = find(&received) {
                return Some(found);
            }
            if self
                .log
                .changed
                .wait_until(&mut received, deadline)
                .timed_out()
            {
                return find(&received);
            }
        }
    }

    /// The updates received for a task, in order.
    pub fn updates(&self, task: &str) -> Vec<StatusUpdate> {
        self.received()
            .into_iter()
            .filter_map(|r| match r {
                Received::Update(u) if u.status.task_id.value == task => Some(u),
                _ => None,
            })
            .collect()
    }

    /// Waits for an update of `task` in `state`.
    pub fn wait_for_update(&self, task: &str, state: TaskState) -> StatusUpdate {
        self.wait_for(WAIT, |received| {
            received.iter().find_map(|r| match r {
                Received::Update(u)
                    if u.status.task_id.value == task && u.status.state() == state =>
                {
                    Some(u.clone())
                }
                _ => None,
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "no {state:?} update for task {task}; updates: {:?}",
                self.updates(task)
                    .iter()
                    .map(|u| (u.status.state(), u.status.message.clone()))
                    .collect::<Vec<_>>()
            )
        })
    }

    /// Acknowledges an update as the scheduler would.
    pub fn acknowledge(&self, agent: &Upid, update: &StatusUpdate) {
        self.send(
            agent,
            &StatusUpdateAcknowledgementMessage {
                slave_id: update.slave_id.clone().unwrap_or_default(),
                framework_id: update.framework_id.clone(),
                task_id: update.status.task_id.clone(),
                uuid: update.uuid.clone().unwrap_or_default(),
            },
        );
    }

    pub fn run_task(&self, agent: &Upid, framework: &FrameworkInfo, task: TaskInfo) {
        self.send(
            agent,
            &RunTaskMessage {
                framework: framework.clone(),
                task,
                pid: Some(String::new()),
                ..Default::default()
            },
        );
    }

    pub fn kill_task(
        &self,
        agent: &Upid,
        framework: &FrameworkInfo,
        task: &str,
        grace: Option<Duration>,
    ) {
        self.send(
            agent,
            &KillTaskMessage {
                framework_id: framework.id.clone().unwrap_or_default(),
                task_id: TaskId {
                    value: task.to_owned(),
                },
                kill_policy: grace.map(|g| KillPolicy {
                    grace_period: Some(mesos_core::v0::DurationInfo {
                        nanoseconds: g.as_nanos() as i64,
                    }),
                }),
            },
        );
    }

    pub fn shutdown_framework(&self, agent: &Upid, framework: &FrameworkInfo) {
        self.send(
            agent,
            &ShutdownFrameworkMessage {
                framework_id: framework.id.clone().unwrap_or_default(),
            },
        );
    }

    pub fn ping(&self, agent: &Upid) {
        self.send(agent, &PingSlaveMessage { connected: true });
    }
}

/// A framework's info.
pub fn framework(id: &str, checkpoint: bool) -> FrameworkInfo {
    FrameworkInfo {
        id: Some(FrameworkId {
            value: id.to_owned(),
        }),
        name: format!("framework {id}"),
        user: String::new(),
        checkpoint: Some(checkpoint),
        roles: vec!["*".to_owned()],
        ..Default::default()
    }
}

/// A command task.
pub fn command_task(id: &str, command: &str, resources: &str) -> TaskInfo {
    TaskInfo {
        name: format!("task {id}"),
        task_id: TaskId {
            value: id.to_owned(),
        },
        slave_id: SlaveId::default(),
        resources: Resources::parse(resources, "*")
            .expect("resources")
            .to_vec(),
        command: Some(CommandInfo {
            shell: Some(true),
            value: Some(command.to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A runtime listening on localhost, a test master on it, a private directory.
pub struct Cluster {
    pub agents: Vec<Agent>,
    pub dir: PathBuf,
    pub master: TestMaster,
    pub runtime: Runtime,
}

impl Cluster {
    pub fn new(auto_ack: bool) -> Cluster {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("mesos-agent-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let runtime = Runtime::builder()
            .ip("127.0.0.1".parse().unwrap())
            .port(0)
            .try_build()
            .expect("runtime listens");
        let master = TestMaster::spawn(runtime.handle(), "agent-1", auto_ack);
        Cluster {
            agents: Vec::new(),
            dir,
            master,
            runtime,
        }
    }

    /// Flags for an agent of this cluster: its master, a private work and runtime
    /// directory, the posix launcher, short timeouts, and this package's `mesos-executor`.
    pub fn flags(&self) -> Flags {
        let mut flags = Flags::new(self.dir.join("work"));
        flags.master = Some(self.master.upid().address().to_string());
        flags.runtime_dir = self.dir.join("runtime");
        flags.launcher = Some("posix".to_owned());
        flags.registration_backoff_factor = stout::Duration::from_millis(10);
        flags.executor_registration_timeout = stout::Duration::from_secs(20);
        flags.executor_shutdown_grace_period = stout::Duration::from_secs(2);
        flags.resources = Some("cpus:2;mem:1024;disk:1024".to_owned());
        flags.launcher_dir = Some(
            Path::new(env!("CARGO_BIN_EXE_mesos-executor"))
                .parent()
                .expect("the binaries' directory")
                .to_path_buf(),
        );
        flags
    }

    pub fn start(&mut self, flags: Flags) -> Agent {
        let agent = Agent::start(flags, self.runtime.handle()).expect("agent starts");
        self.agents.push(agent.clone());
        agent
    }

    /// Starts an agent and waits until it registered.
    pub fn start_registered(&mut self, flags: Flags) -> Agent {
        let agent = self.start(flags);
        assert!(
            eventually(WAIT, || agent.state().get().ok()
                == Some(mesos_agent::AgentState::Running)),
            "the agent registers"
        );
        agent
    }

    /// The agent's address as `ip:port`.
    pub fn address(&self) -> std::net::SocketAddr {
        self.runtime.handle().address()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for agent in &self.agents {
            if let Ok(ids) = agent.containerizer().containers().get() {
                for id in ids {
                    let _ = agent.containerizer().destroy(id).await_for(WAIT);
                }
            }
            // Stopped before the directory goes, so that nothing writes into it after.
            let _ = agent.stop().await_for(WAIT);
        }
        if std::thread::panicking() {
            eprintln!("keeping {} for inspection", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

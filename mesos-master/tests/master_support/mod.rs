//! Shared by the master tests: a master on a paused clock, fake agents (test processes
//! speaking the internal messages) and HTTP schedulers (JSON or protobuf) on the real
//! socket, as upstream's `MesosTest` with `StartMaster`, `StartSlave` and `v1::scheduler`
//! mocks.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libprocess::http::client::{self, ClientRequest};
use libprocess::http::{Body, PipeReader, Response, StatusCode};
use libprocess::{Context, Message, Pid, Process, Runtime, Upid, dispatch_with};
use mesos_core::internal;
use mesos_core::v1::scheduler::{call, event};
use mesos_core::{v0, v1};
use mesos_master::master::Options;
use mesos_master::{Master, MasterFlags};
use prost::{Message as _, Name};

/// Waits (on wall time, for network IO) until `f` holds; panics after 10 seconds.
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A master on a runtime listening on 127.0.0.1, clock paused.
pub struct Cluster {
    pub runtime: Runtime,
    pub master: Master,
    pub address: SocketAddr,
}

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory for a test's work_dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mesos-master-test-{}-{name}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Cluster {
    /// A master with an in-memory registry and the flags `configure` sets.
    pub fn new(configure: impl FnOnce(&mut MasterFlags)) -> Cluster {
        let mut flags = MasterFlags::default();
        flags.registry = "in_memory".into();
        configure(&mut flags);
        Cluster::with_flags(flags)
    }

    pub fn with_flags(flags: MasterFlags) -> Cluster {
        Cluster::with_body_limit(flags, None)
    }

    /// A master whose runtime refuses bodies over `limit` bytes.
    pub fn with_body_limit(flags: MasterFlags, limit: Option<usize>) -> Cluster {
        let mut builder = Runtime::builder()
            .ip("127.0.0.1".parse().unwrap())
            .port(0)
            .workers(2);
        if let Some(limit) = limit {
            builder = builder.max_message_body(limit);
        }
        let runtime = builder.build();
        runtime.clock().pause();
        let mut options = Options::default();
        options.allocator_seed = Some(7);
        let master = Master::start_with(flags, options, runtime.handle()).expect("master starts");
        assert!(master.recovered().get().unwrap(), "master recovers");
        let address = runtime.address();
        Cluster {
            runtime,
            master,
            address,
        }
    }

    /// Restarts the master on the same runtime (a master failover on the same work_dir).
    pub fn restart_master(&mut self, flags: MasterFlags) {
        self.master.stop();
        self.master.wait().get().unwrap();
        self.settle();
        let mut options = Options::default();
        options.allocator_seed = Some(7);
        self.master =
            Master::start_with(flags, options, self.runtime.handle()).expect("master restarts");
        assert!(self.master.recovered().get().unwrap(), "master recovers");
    }

    pub fn master_upid(&self) -> Upid {
        self.master.pid().upid().clone()
    }

    pub fn scheduler_url(&self) -> String {
        format!("http://{}/api/v1/scheduler", self.address)
    }

    pub fn settle(&self) {
        self.runtime.clock().settle();
    }

    pub fn advance(&self, duration: Duration) {
        self.runtime.clock().advance(duration);
        self.runtime.clock().settle();
    }

    /// Reads the master's state.
    pub fn inspect<R: Clone + Send + Sync + 'static>(
        &self,
        f: impl FnOnce(&mesos_master::MasterProcess) -> R + Send + 'static,
    ) -> R {
        self.master.inspect(f).get().unwrap()
    }

    /// Spawns a fake agent with these resources (`cpus:2;mem:1024`).
    pub fn agent(&self, hostname: &str, resources: &str) -> FakeAgent {
        FakeAgent::spawn(&self.runtime, self.master_upid(), hostname, resources)
    }

    /// Posts raw bytes to the scheduler endpoint.
    pub fn post(
        &self,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Response {
        let mut request = ClientRequest::post(&self.scheduler_url()).unwrap();
        for (name, value) in headers {
            request = request.header(*name, *value).unwrap();
        }
        let request = match content_type {
            Some(ct) => request.body(ct, body),
            None => request.body("", body),
        };
        client::request(request).get().expect("an answer")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.master.stop();
    }
}

/// What a fake agent received, and how it behaves.
#[derive(Default)]
pub struct AgentShared {
    pub messages: Mutex<Vec<Message>>,
    pub agent_id: Mutex<Option<String>>,
    pub pong: AtomicBool,
}

/// A test process standing in for an agent.
pub struct FakeAgentProcess {
    master: Upid,
    shared: Arc<AgentShared>,
}

impl Process for FakeAgentProcess {
    fn message(&mut self, ctx: &mut Context<'_, Self>, message: Message) {
        if message.name == internal::PingSlaveMessage::full_name() {
            if self.shared.pong.load(Ordering::SeqCst) {
                ctx.send_protobuf(&message.from, &internal::PongSlaveMessage {});
            }
        } else if message.name == internal::SlaveRegisteredMessage::full_name() {
            let registered =
                internal::SlaveRegisteredMessage::decode(message.body.clone()).unwrap();
            *self.shared.agent_id.lock().unwrap() = Some(registered.slave_id.value);
        } else if message.name == internal::SlaveReregisteredMessage::full_name() {
            let registered =
                internal::SlaveReregisteredMessage::decode(message.body.clone()).unwrap();
            *self.shared.agent_id.lock().unwrap() = Some(registered.slave_id.value);
        }
        self.shared.messages.lock().unwrap().push(message);
    }
}

static NEXT_AGENT: AtomicUsize = AtomicUsize::new(1);

/// A fake agent's handle.
#[derive(Clone)]
pub struct FakeAgent {
    pub pid: Pid<FakeAgentProcess>,
    pub shared: Arc<AgentShared>,
    pub info: v0::SlaveInfo,
    pub master: Upid,
}

impl FakeAgent {
    pub fn spawn(runtime: &Runtime, master: Upid, hostname: &str, resources: &str) -> FakeAgent {
        let shared = Arc::new(AgentShared::default());
        shared.pong.store(true, Ordering::SeqCst);
        let id = format!("slave({})", NEXT_AGENT.fetch_add(1, Ordering::Relaxed));
        let pid = runtime
            .spawn_with_id(
                id,
                FakeAgentProcess {
                    master: master.clone(),
                    shared: shared.clone(),
                },
            )
            .unwrap();
        let resources = mesos_core::resources::Resources::parse(resources, "*")
            .unwrap()
            .to_vec();
        let mut resources = resources;
        mesos_core::resources::format::downgrade_resources(&mut resources).unwrap();
        let info = v0::SlaveInfo {
            hostname: hostname.into(),
            port: Some(5051),
            resources,
            ..Default::default()
        };
        FakeAgent {
            pid,
            shared,
            info,
            master,
        }
    }

    pub fn upid(&self) -> Upid {
        self.pid.upid().clone()
    }

    /// Sends a message to the master from this agent.
    pub fn send<M: prost::Message + Name + Send + 'static>(&self, message: M) {
        let master = self.master.clone();
        dispatch_with(&self.pid, move |_: &mut FakeAgentProcess, ctx| {
            ctx.send_protobuf(&master, &message)
        });
    }

    pub fn capabilities() -> Vec<v0::slave_info::Capability> {
        use v0::slave_info::capability::Type;
        [
            Type::MultiRole,
            Type::HierarchicalRole,
            Type::ReservationRefinement,
        ]
        .into_iter()
        .map(|t| {
            let mut c = v0::slave_info::Capability::default();
            c.set_type(t);
            c
        })
        .collect()
    }

    pub fn register(&self) {
        self.send(internal::RegisterSlaveMessage {
            slave: self.info.clone(),
            version: Some("1.11.0".into()),
            agent_capabilities: Self::capabilities(),
            ..Default::default()
        });
    }

    /// Reregisters with `tasks` and the frameworks they belong to.
    pub fn reregister(&self, tasks: Vec<v0::Task>, frameworks: Vec<v0::FrameworkInfo>) {
        let mut info = self.info.clone();
        info.id = Some(v0::SlaveId {
            value: self.agent_id().expect("registered before"),
        });
        self.send(internal::ReregisterSlaveMessage {
            slave: info,
            tasks,
            frameworks,
            version: Some("1.11.0".into()),
            agent_capabilities: Self::capabilities(),
            ..Default::default()
        });
    }

    pub fn agent_id(&self) -> Option<String> {
        self.shared.agent_id.lock().unwrap().clone()
    }

    pub fn set_pong(&self, pong: bool) {
        self.shared.pong.store(pong, Ordering::SeqCst);
    }

    /// The messages of type `M` received so far.
    pub fn received<M: prost::Message + Name + Default>(&self) -> Vec<M> {
        self.shared
            .messages
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.name == M::full_name())
            .map(|m| M::decode(m.body.clone()).unwrap())
            .collect()
    }

    /// Sends a status update for a task, as the agent's status update manager does.
    pub fn status_update(
        &self,
        framework_id: &str,
        task_id: &str,
        state: v0::TaskState,
    ) -> Vec<u8> {
        let uuid = stout::uuid::Uuid::random().as_bytes().to_vec();
        let agent_id = v0::SlaveId {
            value: self.agent_id().unwrap(),
        };
        let mut status = v0::TaskStatus {
            task_id: v0::TaskId {
                value: task_id.into(),
            },
            slave_id: Some(agent_id.clone()),
            executor_id: Some(v0::ExecutorId {
                value: task_id.into(),
            }),
            timestamp: Some(1.0),
            uuid: Some(uuid.clone()),
            ..Default::default()
        };
        status.set_state(state);
        status.set_source(v0::task_status::Source::Executor);
        self.send(internal::StatusUpdateMessage {
            update: internal::StatusUpdate {
                framework_id: v0::FrameworkId {
                    value: framework_id.into(),
                },
                executor_id: status.executor_id.clone(),
                slave_id: Some(agent_id),
                status,
                timestamp: 1.0,
                uuid: Some(uuid.clone()),
                latest_state: None,
            },
            pid: Some(self.upid().to_string()),
        });
        uuid
    }
}

/// The encoding a scheduler speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Protobuf,
}

impl Encoding {
    pub fn media_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Protobuf => "application/x-protobuf",
        }
    }

    pub fn encode_call(self, call: &v1::scheduler::Call) -> Vec<u8> {
        match self {
            Encoding::Json => mesos_core::json::to_string(call).into_bytes(),
            Encoding::Protobuf => call.encode_to_vec(),
        }
    }

    fn decode_event(self, record: &[u8]) -> v1::scheduler::Event {
        match self {
            Encoding::Json => {
                let text = std::str::from_utf8(record).unwrap();
                assert!(!text.contains('\n'), "JSON records are one line");
                mesos_core::json::from_str(text).unwrap()
            }
            Encoding::Protobuf => v1::scheduler::Event::decode(record).unwrap(),
        }
    }
}

/// A v1 HTTP scheduler: one subscription stream (read on a thread) and calls.
pub struct Scheduler {
    pub url: String,
    pub encoding: Encoding,
    pub stream_id: String,
    pub framework_id: String,
    pub events: Arc<Mutex<Vec<v1::scheduler::Event>>>,
    pub closed: Arc<AtomicBool>,
    reader: PipeReader,
}

/// A framework info for tests.
pub fn framework_info(name: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        ..Default::default()
    }
}

/// Adds capabilities to a framework info.
pub fn with_capabilities(
    mut info: v1::FrameworkInfo,
    types: &[v1::framework_info::capability::Type],
) -> v1::FrameworkInfo {
    for t in types {
        let mut c = v1::framework_info::Capability::default();
        c.set_type(*t);
        info.capabilities.push(c);
    }
    info
}

/// A SUBSCRIBE call.
pub fn subscribe_call(info: v1::FrameworkInfo) -> v1::scheduler::Call {
    let mut call = v1::scheduler::Call {
        framework_id: info.id.clone(),
        subscribe: Some(call::Subscribe {
            framework_info: info,
            ..Default::default()
        }),
        ..Default::default()
    };
    call.set_type(call::Type::Subscribe);
    call
}

impl Scheduler {
    /// Subscribes and waits for SUBSCRIBED.
    pub fn subscribe(cluster: &Cluster, info: v1::FrameworkInfo, encoding: Encoding) -> Scheduler {
        let scheduler = Scheduler::try_subscribe(cluster, info, encoding).expect("a stream");
        scheduler.wait_for("SUBSCRIBED", |e| e.r#type() == event::Type::Subscribed);
        scheduler
    }

    /// Subscribes; the stream, whatever its first event, or the answer when it is not `200`
    /// (boxed: a response is large).
    pub fn try_subscribe(
        cluster: &Cluster,
        info: v1::FrameworkInfo,
        encoding: Encoding,
    ) -> Result<Scheduler, Box<Response>> {
        let call = subscribe_call(info);
        let request = ClientRequest::post(&cluster.scheduler_url())
            .unwrap()
            .header("Accept", encoding.media_type())
            .unwrap()
            .body(encoding.media_type(), encoding.encode_call(&call));
        let response = client::streaming(request).get().expect("an answer");
        if response.status != StatusCode::OK {
            return Err(Box::new(response));
        }
        assert_eq!(response.header("content-type"), Some(encoding.media_type()));
        let stream_id = response
            .header("mesos-stream-id")
            .expect("Mesos-Stream-Id")
            .to_owned();
        let Body::Stream(reader) = response.body else {
            panic!("SUBSCRIBE answers a stream");
        };
        let events = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        {
            let reader = reader.clone();
            let events = events.clone();
            let closed = closed.clone();
            std::thread::spawn(move || {
                let mut decoder = stout::recordio::Decoder::new();
                while let Ok(Some(chunk)) = reader.read().get() {
                    for record in decoder.decode(&chunk).expect("RecordIO") {
                        events.lock().unwrap().push(encoding.decode_event(&record));
                    }
                }
                closed.store(true, Ordering::SeqCst);
            });
        }
        let scheduler = Scheduler {
            url: cluster.scheduler_url(),
            encoding,
            stream_id,
            framework_id: String::new(),
            events,
            closed,
            reader,
        };
        let mut scheduler = scheduler;
        wait_until("the first event", || {
            !scheduler.events.lock().unwrap().is_empty()
        });
        let first = scheduler.events.lock().unwrap()[0].clone();
        if let Some(subscribed) = first.subscribed {
            scheduler.framework_id = subscribed.framework_id.value;
        }
        Ok(scheduler)
    }

    pub fn framework_id(&self) -> v1::FrameworkId {
        v1::FrameworkId {
            value: self.framework_id.clone(),
        }
    }

    /// Waits for an event matching `f` and returns it.
    pub fn wait_for(
        &self,
        what: &str,
        f: impl Fn(&v1::scheduler::Event) -> bool,
    ) -> v1::scheduler::Event {
        let mut found = None;
        wait_until(what, || {
            found = self.events.lock().unwrap().iter().find(|e| f(e)).cloned();
            found.is_some()
        });
        found.unwrap()
    }

    /// Events of a type so far.
    pub fn events_of(&self, kind: event::Type) -> Vec<v1::scheduler::Event> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.r#type() == kind)
            .cloned()
            .collect()
    }

    /// Waits until `n` events of a type have come.
    pub fn wait_count(&self, kind: event::Type, n: usize) -> Vec<v1::scheduler::Event> {
        wait_until(&format!("{n} {kind:?} events"), || {
            self.events_of(kind).len() >= n
        });
        self.events_of(kind)
    }

    /// The offers received so far.
    pub fn offers(&self) -> Vec<v1::Offer> {
        self.events_of(event::Type::Offers)
            .into_iter()
            .flat_map(|e| e.offers.unwrap().offers)
            .collect()
    }

    /// The task statuses received so far.
    pub fn updates(&self) -> Vec<v1::TaskStatus> {
        self.events_of(event::Type::Update)
            .into_iter()
            .map(|e| e.update.unwrap().status)
            .collect()
    }

    /// Sends a call (framework id and stream id filled in).
    pub fn call(&self, mut call: v1::scheduler::Call) -> Response {
        if call.framework_id.is_none() {
            call.framework_id = Some(self.framework_id());
        }
        let request = ClientRequest::post(&self.url)
            .unwrap()
            .header("Mesos-Stream-Id", self.stream_id.as_str())
            .unwrap()
            .body(self.encoding.media_type(), self.encoding.encode_call(&call));
        client::request(request).get().expect("an answer")
    }

    /// Closes the subscription stream (the scheduler goes away).
    pub fn disconnect(&self) {
        self.reader.close();
    }
}

/// A call of a type with nothing else set.
pub fn call_of(kind: call::Type) -> v1::scheduler::Call {
    let mut call = v1::scheduler::Call::default();
    call.set_type(kind);
    call
}

/// ACCEPT of `offers` launching `tasks`.
pub fn accept_launch(offer_ids: Vec<v1::OfferId>, tasks: Vec<v1::TaskInfo>) -> v1::scheduler::Call {
    let mut operation = v1::offer::Operation {
        launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
        ..Default::default()
    };
    operation.set_type(v1::offer::operation::Type::Launch);
    let mut call = call_of(call::Type::Accept);
    call.accept = Some(call::Accept {
        offer_ids,
        operations: vec![operation],
        filters: None,
    });
    call
}

/// DECLINE of `offers` refusing them for `refuse_seconds`.
pub fn decline(offer_ids: Vec<v1::OfferId>, refuse_seconds: f64) -> v1::scheduler::Call {
    let mut call = call_of(call::Type::Decline);
    call.decline = Some(call::Decline {
        offer_ids,
        filters: Some(v1::Filters {
            refuse_seconds: Some(refuse_seconds),
        }),
    });
    call
}

/// A command task using `resources` on the offer's agent.
pub fn command_task(id: &str, offer: &v1::Offer, resources: &str) -> v1::TaskInfo {
    let resources: Vec<v1::Resource> = mesos_core::resources::Resources::parse(resources, "*")
        .unwrap()
        .to_vec()
        .iter()
        .map(mesos_core::convert::evolve)
        .collect();
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: offer.agent_id.clone(),
        resources,
        command: Some(v1::CommandInfo {
            value: Some("sleep 1000".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// ACKNOWLEDGE of a status.
pub fn acknowledge(status: &v1::TaskStatus) -> v1::scheduler::Call {
    let mut call = call_of(call::Type::Acknowledge);
    call.acknowledge = Some(call::Acknowledge {
        agent_id: status.agent_id.clone().unwrap(),
        task_id: status.task_id.clone(),
        uuid: status.uuid.clone().unwrap(),
    });
    call
}

pub fn body_text(response: &Response) -> String {
    String::from_utf8_lossy(response.body_bytes().map(|b| &b[..]).unwrap_or(&[])).into_owned()
}

//! The v1 executor library: an executor's side of `/api/v1/executor` on its agent, as Mesos's
//! `mesos::v1::executor::Mesos` class.
//!
//! [`Executor`] is the handle; [`ExecutorProcess`] owns the connections and the state. It is
//! configured from the agent's `MESOS_*` environment ([`ExecutorConfig`]).
//!
//! Protocol:
//! - on start it opens two persistent connections to the agent: one carries `SUBSCRIBE` and its
//!   answer, a chunked RecordIO stream of events; the other carries every other call, each
//!   answered `202 Accepted`. Once both are open, `connected` is called and the library
//!   subscribes on its own, re-sending the updates and tasks the agent has not acknowledged
//!   yet (`Call.Subscribe.unacknowledged_updates` / `unacknowledged_tasks`); an unanswered or
//!   refused subscription (`503` while the agent recovers, `404` before its routes exist) is
//!   retried every second.
//! - events reach the callbacks in batches, in order ([`ExecutorCallbacks::received`]); the
//!   library itself watches `LAUNCH`/`LAUNCH_GROUP` (tasks to remember) and `ACKNOWLEDGED`
//!   (updates and tasks to forget).
//! - calls go through [`Executor::send`]; an `UPDATE` is remembered until acknowledged, so one
//!   sent while disconnected goes with the next `SUBSCRIBE`.
//! - when the agent goes away (a connection or the stream closes): with checkpointing
//!   (`MESOS_CHECKPOINT=1`) the library reconnects, waiting a random time up to
//!   `MESOS_SUBSCRIPTION_BACKOFF_MAX` between attempts, and gives up after
//!   `MESOS_RECOVERY_TIMEOUT`; without it, it gives up at once. Giving up delivers a `SHUTDOWN`
//!   event, as a `SHUTDOWN` from the agent does; then, unless `MESOS_LOCAL` is set, the
//!   executor's process group is killed after `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`.
//! - a `HEARTBEAT` call goes to the agent every 30 minutes.
//!
//! Invariants: a connection attempt is identified by a counter, and answers, events and
//! closures of an older attempt are ignored; callbacks run one at a time, inside the process.
//!
//! ```no_run
//! use libprocess::Runtime;
//! use mesos_client::executor::{Executor, ExecutorConfig, ExecutorEvent};
//! use mesos_core::v1::{self, executor::event};
//!
//! let runtime = Runtime::new();
//! let config = ExecutorConfig::from_env().expect("launched by an agent");
//! let (executor, events) = Executor::with_channel(runtime.handle(), config);
//! for item in events {
//!     let ExecutorEvent::Event(e) = item else { continue };
//!     if let Some(launch) = e.launch {
//!         // Runs the task at once, and tells.
//!         let _ = executor.update(v1::TaskStatus {
//!             task_id: launch.task.task_id,
//!             state: v1::TaskState::TaskFinished as i32,
//!             ..Default::default()
//!         });
//!     }
//!     if e.r#type == Some(event::Type::Shutdown as i32) {
//!         break;
//!     }
//! }
//! ```

mod config;

use std::sync::mpsc;
use std::time::Duration;

use libprocess::http::client::{self, ClientRequest, Connection};
use libprocess::http::{Response, StatusCode};
use libprocess::{Context, Future, Handle, Pid, Process, Timer, defer, delay};
use mesos_core::v1;
use mesos_core::v1::executor::{Call, Event, call, event};
use tracing::{debug, info, warn};

pub use self::config::{ConfigError, DEFAULT_SHUTDOWN_GRACE_PERIOD, ExecutorConfig};
use crate::calls::CallQueue;
use crate::codec::{ContentType, RecordStream, body_text, random_fraction};

/// How often a `HEARTBEAT` call goes to the agent (Mesos's `DEFAULT_HEARTBEAT_CALL_INTERVAL`).
pub const HEARTBEAT_CALL_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// How long a subscription waits before it is tried again when the agent did not take it.
pub const SUBSCRIBE_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// What the library tells the executor. Each method runs inside the library's process: do not
/// block in it; hand work to your own process (e.g. with `dispatch`).
pub trait ExecutorCallbacks: Send + 'static {
    /// Both connections to the agent are open; the library is subscribing.
    fn connected(&mut self) {}
    /// The agent went away (called once per loss of a connection that was open).
    fn disconnected(&mut self) {}
    /// Events, in the order the agent sent them (plus `SHUTDOWN`/`ERROR` the library makes).
    fn received(&mut self, events: Vec<Event>);
}

/// What [`Executor::with_channel`] sends down its channel.
#[derive(Clone, Debug, PartialEq)]
pub enum ExecutorEvent {
    /// See [`ExecutorCallbacks::connected`].
    Connected,
    /// See [`ExecutorCallbacks::disconnected`].
    Disconnected,
    /// One event (boxed: events are large).
    Event(Box<Event>),
}

impl ExecutorCallbacks for mpsc::Sender<ExecutorEvent> {
    fn connected(&mut self) {
        let _ = self.send(ExecutorEvent::Connected);
    }

    fn disconnected(&mut self) {
        let _ = self.send(ExecutorEvent::Disconnected);
    }

    fn received(&mut self, events: Vec<Event>) {
        for event in events {
            let _ = self.send(ExecutorEvent::Event(Box::new(event)));
        }
    }
}

/// Where the library stands with the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// No connection (or one of the two broke).
    Disconnected,
    /// Opening the two connections.
    Connecting,
    /// Both connections open, not subscribed.
    Connected,
    /// `SUBSCRIBE` sent, no answer yet.
    Subscribing,
    /// The event stream is open.
    Subscribed,
}

/// Handle on the executor library; clones share it. Dropping handles does not stop it: call
/// [`Executor::stop`].
#[derive(Clone, Debug)]
pub struct Executor {
    pid: Pid<ExecutorProcess>,
}

impl Executor {
    /// Starts the library on `runtime`: it connects to the agent and subscribes.
    pub fn new(
        runtime: &Handle,
        config: ExecutorConfig,
        callbacks: impl ExecutorCallbacks,
    ) -> Executor {
        let pid = runtime.spawn(ExecutorProcess::new(config, Box::new(callbacks)));
        Executor { pid }
    }

    /// Starts the library with a channel for callbacks: the events come out of the receiver.
    pub fn with_channel(
        runtime: &Handle,
        config: ExecutorConfig,
    ) -> (Executor, mpsc::Receiver<ExecutorEvent>) {
        let (tx, rx) = mpsc::channel();
        (Executor::new(runtime, config, tx), rx)
    }

    /// Sends `call`. `executor_id` and `framework_id` are filled in when empty; an `UPDATE`
    /// gets a `uuid`, `source: SOURCE_EXECUTOR`, a `timestamp` and the `executor_id` when it
    /// has none. The future is ready once the agent accepted the call (`202`), or at once for
    /// an `UPDATE` made while not subscribed (it goes with the next `SUBSCRIBE`); it fails when
    /// the call is dropped or refused. `SUBSCRIBE` is the library's own business and fails.
    pub fn send(&self, call: Call) -> Future<()> {
        libprocess::call_future(&self.pid, move |p: &mut ExecutorProcess| p.send(call))
    }

    /// Sends an `UPDATE` of `status` (see [`Executor::send`]).
    pub fn update(&self, status: v1::TaskStatus) -> Future<()> {
        self.send(Call {
            r#type: Some(call::Type::Update as i32),
            update: Some(call::Update { status }),
            ..Default::default()
        })
    }

    /// Sends a `MESSAGE` to the framework.
    pub fn message(&self, data: impl Into<Vec<u8>>) -> Future<()> {
        self.send(Call {
            r#type: Some(call::Type::Message as i32),
            message: Some(call::Message { data: data.into() }),
            ..Default::default()
        })
    }

    /// Where the library stands.
    pub fn state(&self) -> Future<State> {
        libprocess::call(&self.pid, |p: &mut ExecutorProcess| p.state)
    }

    /// The updates not acknowledged yet, in the order sent.
    pub fn unacknowledged_updates(&self) -> Future<Vec<call::Update>> {
        libprocess::call(&self.pid, |p: &mut ExecutorProcess| {
            p.unacknowledged_updates.clone()
        })
    }

    /// Closes the connections and stops the library; the future completes once it stopped.
    pub fn stop(&self) -> Future<()> {
        libprocess::terminate(&self.pid);
        libprocess::wait(&self.pid)
    }
}

/// The library's state (see the module docs).
pub struct ExecutorProcess {
    config: ExecutorConfig,
    callbacks: Box<dyn ExecutorCallbacks>,
    me: Option<Pid<ExecutorProcess>>,
    state: State,
    /// Identifies the current connection attempt; bumped by every `connect`.
    attempt: u64,
    connections: Option<Connections>,
    stream: Option<RecordStream>,
    /// Updates sent and not acknowledged, in order.
    unacknowledged_updates: Vec<call::Update>,
    /// Tasks launched and without an acknowledged update, in order.
    unacknowledged_tasks: Vec<v1::TaskInfo>,
    /// Set while reconnecting after a loss: gives up when it fires.
    recovery_timer: Option<Timer>,
    shutting_down: bool,
    /// The uuids of the updates the last `SUBSCRIBE` carried.
    subscribed_with: Vec<Vec<u8>>,
}

struct Connections {
    subscribe: Connection,
    calls: Connection,
    queue: CallQueue,
}

impl Process for ExecutorProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
        info!(
            executor_id = %self.config.executor_id.value,
            framework_id = %self.config.framework_id.value,
            agent = %self.config.url(),
            checkpoint = self.config.checkpoint,
            "executor library starting"
        );
        self.connect();
        self.heartbeat();
    }

    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
        self.disconnect();
    }
}

impl ExecutorProcess {
    fn new(config: ExecutorConfig, callbacks: Box<dyn ExecutorCallbacks>) -> ExecutorProcess {
        ExecutorProcess {
            config,
            callbacks,
            me: None,
            state: State::Disconnected,
            attempt: 0,
            connections: None,
            stream: None,
            unacknowledged_updates: Vec::new(),
            unacknowledged_tasks: Vec::new(),
            recovery_timer: None,
            shutting_down: false,
            subscribed_with: Vec::new(),
        }
    }

    fn me(&self) -> &Pid<ExecutorProcess> {
        self.me.as_ref().expect("set in initialize")
    }

    fn content_type(&self) -> ContentType {
        self.config.content_type
    }

    fn connect(&mut self) {
        self.attempt += 1;
        self.state = State::Connecting;
        let attempt = self.attempt;
        let address = match resolve(&self.config.agent_endpoint) {
            Ok(address) => address,
            Err(message) => {
                // Report it as a failed attempt, from a fresh event.
                let me = self.me().clone();
                libprocess::dispatch(&me, move |p: &mut ExecutorProcess| {
                    p.disconnected(attempt, &message)
                });
                return;
            }
        };
        debug!(%address, attempt, "connecting to the agent");
        let me = self.me().clone();
        client::connect(address).on_any(defer(
            self.me(),
            move |_: &mut ExecutorProcess, first: Future<Connection>| {
                client::connect(address).on_any(defer(
                    &me,
                    move |p: &mut ExecutorProcess, second: Future<Connection>| {
                        p.connected(attempt, first, second)
                    },
                ));
            },
        ));
    }

    fn connected(&mut self, attempt: u64, first: Future<Connection>, second: Future<Connection>) {
        if attempt != self.attempt || self.state != State::Connecting {
            for connection in [&first, &second] {
                if let Some(connection) = connection.value() {
                    connection.disconnect();
                }
            }
            return;
        }
        let (subscribe, calls) = match (first.value(), second.value()) {
            (Some(a), Some(b)) => (a.clone(), b.clone()),
            _ => {
                for connection in [&first, &second] {
                    if let Some(connection) = connection.value() {
                        connection.disconnect();
                    }
                }
                let reason = first
                    .failure()
                    .or(second.failure())
                    .unwrap_or("connection attempt discarded")
                    .to_string();
                self.disconnected(attempt, &reason);
                return;
            }
        };
        debug!(attempt, "connected to the agent");
        self.state = State::Connected;
        for (connection, what) in [(&subscribe, "subscribe"), (&calls, "call")] {
            connection.disconnected().on_any(defer(
                self.me(),
                move |p: &mut ExecutorProcess, _: Future<()>| {
                    p.disconnected(attempt, &format!("the {what} connection closed"))
                },
            ));
        }
        self.connections = Some(Connections {
            subscribe,
            calls,
            queue: CallQueue::default(),
        });
        if let Some(timer) = self.recovery_timer.take() {
            timer.cancel();
        }
        self.callbacks.connected();
        self.subscribe();
    }

    fn disconnected(&mut self, attempt: u64, reason: &str) {
        if attempt != self.attempt || self.state == State::Disconnected {
            return;
        }
        let was_connected = self.state >= State::Connected;
        warn!(reason, state = ?self.state, "disconnected from the agent");
        self.disconnect();
        // The state (timers included) is settled before the callback runs.
        if self.recovery_timer.is_some() {
            // Already reconnecting: the backoff loop goes on.
            return;
        }
        match (self.config.checkpoint, self.config.recovery_timeout) {
            (true, Some(timeout)) if was_connected => {
                info!(?timeout, "reconnecting to the agent");
                let timer = delay(timeout, self.me(), move |p: &mut ExecutorProcess| {
                    p.recovery_timed_out(timeout)
                });
                self.recovery_timer = Some(timer);
                self.backoff();
                self.callbacks.disconnected();
            }
            _ => {
                if was_connected {
                    self.callbacks.disconnected();
                }
                self.give_up(&format!("disconnected from the agent: {reason}"));
            }
        }
    }

    /// One reconnection attempt, then the next after a random wait up to the maximum backoff.
    fn backoff(&mut self) {
        if self.state >= State::Connected || self.recovery_timer.is_none() {
            return;
        }
        let max = self
            .config
            .subscription_backoff_max
            .unwrap_or(Duration::from_secs(2));
        let wait = max.mul_f64(random_fraction());
        debug!(?wait, "retrying the connection to the agent");
        self.connect();
        delay(wait, self.me(), |p: &mut ExecutorProcess| p.backoff());
    }

    fn recovery_timed_out(&mut self, timeout: Duration) {
        if self.recovery_timer.take().is_none() || self.state >= State::Connected {
            return;
        }
        info!(?timeout, "recovery timeout exceeded; shutting down");
        // Stop the backoff loop and ignore the attempt in flight.
        self.attempt += 1;
        self.disconnect();
        self.give_up("recovery timeout exceeded");
    }

    /// Drops the connections and the stream.
    fn disconnect(&mut self) {
        if let Some(connections) = self.connections.take() {
            connections.subscribe.disconnect();
            connections.calls.disconnect();
        }
        if let Some(stream) = self.stream.take() {
            stream.reader.close();
        }
        self.state = State::Disconnected;
    }

    /// Delivers a `SHUTDOWN` of the library's own making.
    fn give_up(&mut self, reason: &str) {
        warn!(reason, "the executor shuts down");
        self.deliver(vec![Event {
            r#type: Some(event::Type::Shutdown as i32),
            ..Default::default()
        }]);
    }

    fn subscribe(&mut self) {
        if self.state != State::Connected {
            return;
        }
        let Some(connections) = &self.connections else {
            return;
        };
        let call = Call {
            executor_id: self.config.executor_id.clone(),
            framework_id: self.config.framework_id.clone(),
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                unacknowledged_tasks: self.unacknowledged_tasks.clone(),
                unacknowledged_updates: self.unacknowledged_updates.clone(),
            }),
            ..Default::default()
        };
        self.subscribed_with = self
            .unacknowledged_updates
            .iter()
            .filter_map(|u| u.status.uuid.clone())
            .collect();
        let request = match self.request(&call) {
            Ok(request) => request,
            Err(message) => {
                self.error(message);
                return;
            }
        };
        debug!(
            updates = self.unacknowledged_updates.len(),
            tasks = self.unacknowledged_tasks.len(),
            "subscribing"
        );
        self.state = State::Subscribing;
        let attempt = self.attempt;
        connections.subscribe.send_streaming(request).on_any(defer(
            self.me(),
            move |p: &mut ExecutorProcess, response: Future<Response>| {
                p.subscribe_answered(attempt, response)
            },
        ));
    }

    fn subscribe_answered(&mut self, attempt: u64, response: Future<Response>) {
        if attempt != self.attempt || self.state != State::Subscribing {
            return;
        }
        let response = match response.result() {
            Some(Ok(response)) => response.clone(),
            _ => {
                // The connection broke: its `disconnected` tells.
                warn!(failure = ?response.failure(), "SUBSCRIBE failed");
                self.state = State::Connected;
                return;
            }
        };
        if response.status == StatusCode::OK
            && let Some(reader) = response.body.reader()
        {
            info!("subscribed with the agent");
            self.state = State::Subscribed;
            self.stream = Some(RecordStream::new(reader.clone()));
            self.read();
            self.send_updates_made_while_subscribing();
            return;
        }
        self.state = State::Connected;
        let body = body_text(&response);
        if let Some(reader) = response.body.reader() {
            reader.close();
        }
        match response.status {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::NOT_FOUND => {
                warn!(status = %response.status, body, "agent not ready for SUBSCRIBE; retrying")
            }
            status => self.error(format!(
                "Received unexpected '{status}' ({body}) for SUBSCRIBE"
            )),
        }
        delay(
            SUBSCRIBE_RETRY_INTERVAL,
            self.me(),
            |p: &mut ExecutorProcess| p.subscribe(),
        );
    }

    /// Updates made after the `SUBSCRIBE` left are not in it: send them now.
    fn send_updates_made_while_subscribing(&mut self) {
        let included = std::mem::take(&mut self.subscribed_with);
        let late: Vec<call::Update> = self
            .unacknowledged_updates
            .iter()
            .filter(|u| {
                u.status
                    .uuid
                    .as_ref()
                    .is_none_or(|id| !included.contains(id))
            })
            .cloned()
            .collect();
        for update in late {
            debug!("sending an update made while subscribing");
            let call = Call {
                r#type: Some(call::Type::Update as i32),
                update: Some(update),
                ..Default::default()
            };
            self.send(call)
                .on_failed(|error: &str| warn!(error, "update not sent"));
        }
    }

    fn read(&mut self) {
        let Some(stream) = &self.stream else {
            return;
        };
        let attempt = self.attempt;
        stream.reader.read().on_any(defer(
            self.me(),
            move |p: &mut ExecutorProcess, chunk: Future<Option<bytes::Bytes>>| {
                p.chunk(attempt, chunk)
            },
        ));
    }

    fn chunk(&mut self, attempt: u64, chunk: Future<Option<bytes::Bytes>>) {
        if attempt != self.attempt || self.state != State::Subscribed {
            return;
        }
        let content_type = self.content_type();
        let Some(stream) = &mut self.stream else {
            return;
        };
        let events = match stream.events(&chunk, content_type, "agent", error_event) {
            Ok(events) => events,
            Err(reason) => {
                self.disconnected(attempt, &reason);
                return;
            }
        };
        for event in &events {
            self.observe(event);
        }
        self.deliver(events);
        // Go on reading after a SHUTDOWN too: acknowledgements of the last updates follow.
        self.read();
    }

    /// What the library itself learns from an event from the agent.
    fn observe(&mut self, event: &Event) {
        match event.r#type.and_then(|t| event::Type::try_from(t).ok()) {
            Some(event::Type::Launch) => {
                if let Some(launch) = &event.launch {
                    self.remember_task(launch.task.clone());
                }
            }
            Some(event::Type::LaunchGroup) => {
                if let Some(group) = &event.launch_group {
                    for task in &group.task_group.tasks {
                        self.remember_task(task.clone());
                    }
                }
            }
            Some(event::Type::Acknowledged) => {
                if let Some(ack) = &event.acknowledged {
                    self.unacknowledged_updates
                        .retain(|u| u.status.uuid.as_deref() != Some(&ack.uuid[..]));
                    self.unacknowledged_tasks
                        .retain(|t| t.task_id != ack.task_id);
                }
            }
            _ => {}
        }
    }

    fn remember_task(&mut self, task: v1::TaskInfo) {
        self.unacknowledged_tasks
            .retain(|t| t.task_id != task.task_id);
        self.unacknowledged_tasks.push(task);
    }

    fn deliver(&mut self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let shutdown = events
            .iter()
            .any(|e| e.r#type == Some(event::Type::Shutdown as i32));
        self.callbacks.received(events);
        if shutdown {
            self.shutdown();
        }
    }

    fn error(&mut self, message: String) {
        warn!(message, "executor library error");
        self.deliver(vec![error_event(message)]);
    }

    /// After a `SHUTDOWN`: unless local, the process group is killed after the grace period,
    /// in case the executor does not exit by itself.
    fn shutdown(&mut self) {
        if self.shutting_down {
            return;
        }
        self.shutting_down = true;
        if self.config.local {
            return;
        }
        let grace = self.config.shutdown_grace_period;
        info!(?grace, "scheduling the end of the executor's process group");
        delay(grace, self.me(), |_: &mut ExecutorProcess| {
            warn!("shutdown grace period elapsed; killing the process group");
            let _ = nix::sys::signal::killpg(nix::unistd::getpgrp(), nix::sys::signal::SIGKILL);
            std::thread::sleep(Duration::from_secs(5));
            std::process::exit(1);
        });
    }

    fn heartbeat(&mut self) {
        if self.state == State::Subscribed {
            let call = Call {
                r#type: Some(call::Type::Heartbeat as i32),
                ..Default::default()
            };
            self.send(call)
                .on_failed(|error: &str| debug!(error, "heartbeat not sent"));
        }
        delay(
            HEARTBEAT_CALL_INTERVAL,
            self.me(),
            |p: &mut ExecutorProcess| p.heartbeat(),
        );
    }

    fn send(&mut self, mut call: Call) -> Future<()> {
        let Some(kind) = call.r#type.and_then(|t| call::Type::try_from(t).ok()) else {
            return Future::failed("the call has no known type");
        };
        if kind == call::Type::Subscribe {
            return Future::failed("the library subscribes by itself; SUBSCRIBE is not sent");
        }
        if call.executor_id.value.is_empty() {
            call.executor_id = self.config.executor_id.clone();
        }
        if call.framework_id.value.is_empty() {
            call.framework_id = self.config.framework_id.clone();
        }
        match kind {
            call::Type::Update => {
                let Some(update) = &mut call.update else {
                    return Future::failed("an UPDATE call needs 'update'");
                };
                let status = &mut update.status;
                if status.uuid.is_none() {
                    let uuid: [u8; 16] = stout::Uuid::random().into();
                    status.uuid = Some(uuid.to_vec());
                }
                if status.source.is_none() {
                    status.source = Some(v1::task_status::Source::Executor as i32);
                }
                if status.executor_id.is_none() {
                    status.executor_id = Some(self.config.executor_id.clone());
                }
                if status.timestamp.is_none() {
                    status.timestamp = Some(now_secs());
                }
                let uuid = status.uuid.clone();
                self.unacknowledged_updates
                    .retain(|u| u.status.uuid != uuid);
                self.unacknowledged_updates.push(update.clone());
                if self.state != State::Subscribed {
                    debug!("not subscribed: the update goes with the next SUBSCRIBE");
                    return Future::ready(());
                }
            }
            call::Type::Message if call.message.is_none() => {
                return Future::failed("a MESSAGE call needs 'message'");
            }
            _ => {}
        }
        if self.state != State::Subscribed {
            return Future::failed(format!(
                "dropping {}: the executor is not subscribed ({:?})",
                kind.as_str_name(),
                self.state
            ));
        }
        let request = match self.request(&call) {
            Ok(request) => request,
            Err(message) => return Future::failed(message),
        };
        let Some(connections) = &mut self.connections else {
            return Future::failed("no connection to the agent");
        };
        debug!(call = kind.as_str_name(), "sending call");
        connections
            .queue
            .send(&connections.calls, request)
            .then(move |response| {
                if response.status == StatusCode::ACCEPTED {
                    Future::ready(())
                } else {
                    Future::failed(format!(
                        "the agent answered '{}' ({}) to {}",
                        response.status,
                        body_text(&response),
                        kind.as_str_name()
                    ))
                }
            })
    }

    fn request(&self, call: &Call) -> Result<ClientRequest, String> {
        let content_type = self.content_type();
        let mut request = ClientRequest::post(&self.config.url())
            .and_then(|r| r.header("accept", content_type.as_str()))
            .map_err(|e| e.to_string())?;
        if let Some(token) = &self.config.authentication_token {
            request = request
                .header("authorization", format!("Bearer {token}"))
                .map_err(|e| e.to_string())?;
        }
        Ok(request.body(content_type.as_str(), content_type.encode(call)))
    }
}

fn error_event(message: String) -> Event {
    Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error { message }),
        ..Default::default()
    }
}

/// Seconds since the epoch on the runtime's clock, as Mesos stamps updates.
fn now_secs() -> f64 {
    libprocess::clock::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The first address `host:port` resolves to.
fn resolve(endpoint: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    endpoint
        .to_socket_addrs()
        .map_err(|e| format!("failed to resolve '{endpoint}': {e}"))?
        .next()
        .ok_or_else(|| format!("no address for '{endpoint}'"))
}

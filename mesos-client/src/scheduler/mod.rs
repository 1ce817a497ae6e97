//! The v1 scheduler library: a framework's side of `/api/v1/scheduler` on the leading
//! master, as Mesos's `mesos::v1::scheduler::Mesos` class (plus the subscription bookkeeping
//! that pymesos does for its users).
//!
//! [`Scheduler`] is the handle; [`SchedulerProcess`] owns the connections and the state.
//!
//! Protocol:
//! - the [`MasterDetector`] names the leading master (`host:port`); the library opens two
//!   persistent connections to it, one for `SUBSCRIBE` and its stream of events, one for every
//!   other call, then calls `connected` and subscribes with the configured `FrameworkInfo`
//!   (with its `id` once the master gave one, so a reconnection is a failover of the same
//!   framework).
//! - `200`: the stream is open; its `Mesos-Stream-Id` goes with every later call. `307`: the
//!   master is not the leader; its `Location` (`//host:port/api/v1/scheduler`) names the one
//!   to try next, at once. Anything else (`503` while the master recovers, ...): retry after a
//!   backoff, an error status being also delivered as an `ERROR` event.
//! - events reach the callbacks in batches, in order. `SUBSCRIBED` gives the framework id and
//!   the heartbeat interval: when no event arrives for `heartbeat_interval_seconds` ×
//!   [`SchedulerConfig::heartbeat_timeout_factor`], the connection counts as lost.
//! - when the stream ends or a connection breaks: `disconnected`, then a new attempt after a
//!   backoff that doubles from [`SchedulerConfig::backoff_min`] up to
//!   [`SchedulerConfig::backoff_max`] (randomised, reset once subscribed), unless the
//!   framework was torn down.
//! - calls ([`Scheduler::send`] and the helpers) go on the call connection with the stream id;
//!   the future is the master's answer (`202`, `200` for `UPDATE_FRAMEWORK`, or an error
//!   status); it fails when not subscribed or when the connection breaks.
//!
//! Invariant: each connection attempt has a number; answers, events and closures of an older
//! attempt are ignored.
//!
//! ```no_run
//! use libprocess::Runtime;
//! use mesos_client::ContentType;
//! use mesos_client::scheduler::{Scheduler, SchedulerConfig, SchedulerEvent, StaticDetector};
//! use mesos_core::v1;
//!
//! let runtime = Runtime::new();
//! let framework = v1::FrameworkInfo {
//!     user: "root".into(),
//!     name: "decliner".into(),
//!     ..Default::default()
//! };
//! let config = SchedulerConfig::new(framework).content_type(ContentType::Json);
//! let master = StaticDetector::new("http://127.0.0.1:5050").unwrap();
//! let (scheduler, events) = Scheduler::with_channel(runtime.handle(), config, master);
//! for item in events {
//!     let SchedulerEvent::Event(e) = item else { continue };
//!     if let Some(offers) = e.offers {
//!         let ids = offers.offers.into_iter().map(|o| o.id).collect();
//!         let _ = scheduler.decline(ids, None);
//!     }
//!     if let Some(update) = e.update {
//!         let _ = scheduler.acknowledge(&update.status);
//!     }
//! }
//! ```

mod detector;

use std::sync::{Arc, mpsc};
use std::time::Duration;

use bytes::Bytes;
use libprocess::http::client::{self, ClientRequest, Connection};
use libprocess::http::{Response, StatusCode};
use libprocess::{Context, Future, Handle, Pid, Process, defer, delay};
use mesos_core::v1;
use mesos_core::v1::scheduler::{Call, Event, call, event};
use tracing::{debug, info, warn};

pub use self::detector::{
    DEFAULT_MASTER_PORT, MasterAddressError, MasterDetector, StaticDetector, ZooKeeperDetector,
    detector_for, master_endpoint, parse_master,
};
use crate::calls::CallQueue;
use crate::codec::{ContentType, RecordStream, body_text, random_fraction};

/// The header that names a subscription's stream.
pub const STREAM_ID_HEADER: &str = "mesos-stream-id";

/// What the library tells the scheduler. Each method runs inside the library's process: do
/// not block in it; hand work to your own process.
pub trait SchedulerCallbacks: Send + 'static {
    /// Both connections to the master are open; the library is subscribing.
    fn connected(&mut self) {}
    /// The master went away (or stayed silent past the heartbeat timeout).
    fn disconnected(&mut self) {}
    /// Events, in the order the master sent them.
    fn received(&mut self, events: Vec<Event>);
}

/// What [`Scheduler::with_channel`] sends down its channel.
#[derive(Clone, Debug, PartialEq)]
pub enum SchedulerEvent {
    /// See [`SchedulerCallbacks::connected`].
    Connected,
    /// See [`SchedulerCallbacks::disconnected`].
    Disconnected,
    /// One event (boxed: events are large).
    Event(Box<Event>),
}

impl SchedulerCallbacks for mpsc::Sender<SchedulerEvent> {
    fn connected(&mut self) {
        let _ = self.send(SchedulerEvent::Connected);
    }

    fn disconnected(&mut self) {
        let _ = self.send(SchedulerEvent::Disconnected);
    }

    fn received(&mut self, events: Vec<Event>) {
        for event in events {
            let _ = self.send(SchedulerEvent::Event(Box::new(event)));
        }
    }
}

/// How the library subscribes and behaves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SchedulerConfig {
    /// The framework to subscribe (its `id` is filled in once the master gives one).
    pub framework_info: v1::FrameworkInfo,
    /// Roles to subscribe suppressed.
    pub suppressed_roles: Vec<String>,
    /// The encoding of calls and events.
    pub content_type: ContentType,
    /// Missed heartbeats (as a multiple of the interval) before the connection counts as lost.
    pub heartbeat_timeout_factor: f64,
    /// The first wait before reconnecting.
    pub backoff_min: Duration,
    /// The longest wait before reconnecting.
    pub backoff_max: Duration,
    /// `Authorization: Basic` credentials (principal, secret).
    pub credential: Option<(String, String)>,
}

impl SchedulerConfig {
    /// Defaults: protobuf, 5 missed heartbeats, backoff from 1 to 16 seconds.
    pub fn new(framework_info: v1::FrameworkInfo) -> SchedulerConfig {
        SchedulerConfig {
            framework_info,
            suppressed_roles: Vec::new(),
            content_type: ContentType::default(),
            heartbeat_timeout_factor: 5.0,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(16),
            credential: None,
        }
    }

    /// With another content type.
    pub fn content_type(mut self, content_type: ContentType) -> SchedulerConfig {
        self.content_type = content_type;
        self
    }

    /// With another heartbeat timeout factor.
    pub fn heartbeat_timeout_factor(mut self, factor: f64) -> SchedulerConfig {
        self.heartbeat_timeout_factor = factor;
        self
    }

    /// With other reconnection backoff bounds.
    pub fn backoff(mut self, min: Duration, max: Duration) -> SchedulerConfig {
        self.backoff_min = min;
        self.backoff_max = max.max(min);
        self
    }

    /// With Basic authentication.
    pub fn credential(
        mut self,
        principal: impl Into<String>,
        secret: impl Into<String>,
    ) -> SchedulerConfig {
        self.credential = Some((principal.into(), secret.into()));
        self
    }

    /// Subscribing with `roles` suppressed.
    pub fn suppressed_roles(mut self, roles: Vec<String>) -> SchedulerConfig {
        self.suppressed_roles = roles;
        self
    }
}

/// Where the library stands with the master.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// No connection.
    Disconnected,
    /// Finding the master and opening the connections.
    Connecting,
    /// Both connections open, not subscribed.
    Connected,
    /// `SUBSCRIBE` sent, no answer yet.
    Subscribing,
    /// The event stream is open.
    Subscribed,
}

/// Handle on the scheduler library; clones share it. Call [`Scheduler::stop`] to end it.
#[derive(Clone, Debug)]
pub struct Scheduler {
    pid: Pid<SchedulerProcess>,
}

impl Scheduler {
    /// Starts the library on `runtime`: it finds the master, connects and subscribes.
    pub fn new(
        runtime: &Handle,
        config: SchedulerConfig,
        detector: impl MasterDetector,
        callbacks: impl SchedulerCallbacks,
    ) -> Scheduler {
        let process = SchedulerProcess::new(config, Arc::new(detector), Box::new(callbacks));
        Scheduler {
            pid: runtime.spawn(process),
        }
    }

    /// Starts the library with a channel for callbacks.
    pub fn with_channel(
        runtime: &Handle,
        config: SchedulerConfig,
        detector: impl MasterDetector,
    ) -> (Scheduler, mpsc::Receiver<SchedulerEvent>) {
        let (tx, rx) = mpsc::channel();
        (Scheduler::new(runtime, config, detector, tx), rx)
    }

    /// Sends `call` (its `framework_id` is filled in when absent). The future is the master's
    /// answer; it fails when not subscribed or when the call connection breaks. `SUBSCRIBE`
    /// is the library's own business and fails.
    pub fn send(&self, call: Call) -> Future<Response> {
        libprocess::call_future(&self.pid, move |p: &mut SchedulerProcess| p.send(call))
    }

    /// Where the library stands.
    pub fn state(&self) -> Future<State> {
        libprocess::call(&self.pid, |p: &mut SchedulerProcess| p.state)
    }

    /// The framework id the master gave, once subscribed.
    pub fn framework_id(&self) -> Future<Option<v1::FrameworkId>> {
        libprocess::call(&self.pid, |p: &mut SchedulerProcess| {
            p.config.framework_info.id.clone()
        })
    }

    /// Closes the connections and stops the library (no `TEARDOWN`: the framework may fail
    /// over to another scheduler).
    pub fn stop(&self) -> Future<()> {
        libprocess::terminate(&self.pid);
        libprocess::wait(&self.pid)
    }

    /// `ACCEPT` of `offer_ids` with `operations`.
    pub fn accept(
        &self,
        offer_ids: Vec<v1::OfferId>,
        operations: Vec<v1::offer::Operation>,
        filters: Option<v1::Filters>,
    ) -> Future<Response> {
        self.send(with_type(
            call::Type::Accept,
            Call {
                accept: Some(call::Accept {
                    offer_ids,
                    operations,
                    filters,
                }),
                ..Default::default()
            },
        ))
    }

    /// `DECLINE` of `offer_ids`.
    pub fn decline(
        &self,
        offer_ids: Vec<v1::OfferId>,
        filters: Option<v1::Filters>,
    ) -> Future<Response> {
        self.send(with_type(
            call::Type::Decline,
            Call {
                decline: Some(call::Decline { offer_ids, filters }),
                ..Default::default()
            },
        ))
    }

    /// `REVIVE` of `roles` (all when empty).
    pub fn revive(&self, roles: Vec<String>) -> Future<Response> {
        self.send(with_type(
            call::Type::Revive,
            Call {
                revive: Some(call::Revive { roles }),
                ..Default::default()
            },
        ))
    }

    /// `SUPPRESS` of `roles` (all when empty).
    pub fn suppress(&self, roles: Vec<String>) -> Future<Response> {
        self.send(with_type(
            call::Type::Suppress,
            Call {
                suppress: Some(call::Suppress { roles }),
                ..Default::default()
            },
        ))
    }

    /// `KILL` of a task.
    pub fn kill(
        &self,
        task_id: v1::TaskId,
        agent_id: Option<v1::AgentId>,
        kill_policy: Option<v1::KillPolicy>,
    ) -> Future<Response> {
        self.send(with_type(
            call::Type::Kill,
            Call {
                kill: Some(call::Kill {
                    task_id,
                    agent_id,
                    kill_policy,
                }),
                ..Default::default()
            },
        ))
    }

    /// `SHUTDOWN` of an executor.
    pub fn shutdown(&self, executor_id: v1::ExecutorId, agent_id: v1::AgentId) -> Future<Response> {
        self.send(with_type(
            call::Type::Shutdown,
            Call {
                shutdown: Some(call::Shutdown {
                    executor_id,
                    agent_id,
                }),
                ..Default::default()
            },
        ))
    }

    /// `ACKNOWLEDGE` of an update; `None` (nothing to send) when the status has no `uuid` or
    /// no `agent_id`, as updates that need no acknowledgement.
    pub fn acknowledge(&self, status: &v1::TaskStatus) -> Option<Future<Response>> {
        let uuid = status.uuid.clone()?;
        let agent_id = status.agent_id.clone()?;
        Some(self.send(with_type(
            call::Type::Acknowledge,
            Call {
                acknowledge: Some(call::Acknowledge {
                    agent_id,
                    task_id: status.task_id.clone(),
                    uuid,
                }),
                ..Default::default()
            },
        )))
    }

    /// `RECONCILE` of `tasks` (all of the framework's when empty).
    pub fn reconcile(&self, tasks: Vec<call::reconcile::Task>) -> Future<Response> {
        self.send(with_type(
            call::Type::Reconcile,
            Call {
                reconcile: Some(call::Reconcile { tasks }),
                ..Default::default()
            },
        ))
    }

    /// `MESSAGE` to an executor.
    pub fn message(
        &self,
        agent_id: v1::AgentId,
        executor_id: v1::ExecutorId,
        data: impl Into<Vec<u8>>,
    ) -> Future<Response> {
        self.send(with_type(
            call::Type::Message,
            Call {
                message: Some(call::Message {
                    agent_id,
                    executor_id,
                    data: data.into(),
                }),
                ..Default::default()
            },
        ))
    }

    /// `REQUEST` of resources.
    pub fn request(&self, requests: Vec<v1::Request>) -> Future<Response> {
        self.send(with_type(
            call::Type::Request,
            Call {
                request: Some(call::Request { requests }),
                ..Default::default()
            },
        ))
    }

    /// `TEARDOWN`: the master removes the framework; the library stops reconnecting.
    pub fn teardown(&self) -> Future<Response> {
        self.send(with_type(call::Type::Teardown, Call::default()))
    }

    /// `UPDATE_FRAMEWORK`; on `200` later subscriptions use `framework_info`.
    pub fn update_framework(
        &self,
        framework_info: v1::FrameworkInfo,
        suppressed_roles: Vec<String>,
    ) -> Future<Response> {
        self.send(with_type(
            call::Type::UpdateFramework,
            Call {
                update_framework: Some(call::UpdateFramework {
                    framework_info,
                    suppressed_roles,
                    offer_constraints: None,
                }),
                ..Default::default()
            },
        ))
    }
}

fn with_type(kind: call::Type, mut call: Call) -> Call {
    call.r#type = Some(kind as i32);
    call
}

/// The library's state (see the module docs).
pub struct SchedulerProcess {
    config: SchedulerConfig,
    detector: Arc<dyn MasterDetector>,
    callbacks: Box<dyn SchedulerCallbacks>,
    me: Option<Pid<SchedulerProcess>>,
    state: State,
    attempt: u64,
    /// The master a redirect named, tried next instead of asking the detector.
    redirect: Option<String>,
    /// What the detector last answered (a redirect may have taken us elsewhere).
    detected: Option<String>,
    /// Redirects followed in a row; past a few, they wait a backoff too.
    redirects: u32,
    master: Option<String>,
    connections: Option<Connections>,
    stream: Option<RecordStream>,
    stream_id: Option<String>,
    heartbeat_interval: Option<Duration>,
    /// Counts events, so that a heartbeat check knows whether any arrived since it was set.
    events_seen: u64,
    /// Failed attempts since the last subscription, for the backoff.
    failures: u32,
    reconnect_scheduled: bool,
    torn_down: bool,
}

struct Connections {
    subscribe: Connection,
    calls: Connection,
    queue: CallQueue,
}

impl Process for SchedulerProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
        info!(framework = %self.config.framework_info.name, "scheduler library starting");
        self.connect();
    }

    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
        self.disconnect();
    }
}

impl SchedulerProcess {
    fn new(
        config: SchedulerConfig,
        detector: Arc<dyn MasterDetector>,
        callbacks: Box<dyn SchedulerCallbacks>,
    ) -> SchedulerProcess {
        SchedulerProcess {
            config,
            detector,
            callbacks,
            me: None,
            state: State::Disconnected,
            attempt: 0,
            redirect: None,
            detected: None,
            redirects: 0,
            master: None,
            connections: None,
            stream: None,
            stream_id: None,
            heartbeat_interval: None,
            events_seen: 0,
            failures: 0,
            reconnect_scheduled: false,
            torn_down: false,
        }
    }

    fn me(&self) -> &Pid<SchedulerProcess> {
        self.me.as_ref().expect("set in initialize")
    }

    fn connect(&mut self) {
        self.reconnect_scheduled = false;
        if self.torn_down || self.state != State::Disconnected {
            return;
        }
        self.attempt += 1;
        self.state = State::Connecting;
        let attempt = self.attempt;
        let (master, redirected) = match self.redirect.take() {
            Some(master) => (Future::ready(Some(master)), true),
            None => (self.detector.detect(None), false),
        };
        master.on_any(defer(
            self.me(),
            move |p: &mut SchedulerProcess, master: Future<Option<String>>| {
                p.detected(attempt, master, redirected)
            },
        ));
    }

    fn detected(&mut self, attempt: u64, master: Future<Option<String>>, redirected: bool) {
        if attempt != self.attempt || self.state != State::Connecting {
            return;
        }
        let master = match master.result() {
            Some(Ok(Some(master))) => master.clone(),
            Some(Ok(None)) => {
                self.lost(attempt, "no leading master");
                return;
            }
            _ => {
                let reason = format!(
                    "failed to detect a master: {}",
                    master.failure().unwrap_or("discarded")
                );
                self.lost(attempt, &reason);
                return;
            }
        };
        if !redirected {
            self.detected = Some(master.clone());
        }
        let address = match resolve(&master) {
            Ok(address) => address,
            Err(reason) => {
                self.lost(attempt, &reason);
                return;
            }
        };
        debug!(%master, %address, attempt, "connecting to the master");
        self.master = Some(master);
        let me = self.me().clone();
        client::connect(address).on_any(defer(
            self.me(),
            move |_: &mut SchedulerProcess, first: Future<Connection>| {
                client::connect(address).on_any(defer(
                    &me,
                    move |p: &mut SchedulerProcess, second: Future<Connection>| {
                        p.connected(attempt, first, second)
                    },
                ));
            },
        ));
    }

    fn connected(&mut self, attempt: u64, first: Future<Connection>, second: Future<Connection>) {
        let both = match (first.value(), second.value()) {
            (Some(a), Some(b)) => Some((a.clone(), b.clone())),
            _ => None,
        };
        if attempt != self.attempt || self.state != State::Connecting || both.is_none() {
            for connection in [&first, &second] {
                if let Some(connection) = connection.value() {
                    connection.disconnect();
                }
            }
            if attempt == self.attempt && self.state == State::Connecting {
                let reason = first
                    .failure()
                    .or(second.failure())
                    .unwrap_or("connection attempt discarded")
                    .to_string();
                self.lost(attempt, &reason);
            }
            return;
        }
        let (subscribe, calls) = both.expect("checked");
        debug!(attempt, "connected to the master");
        self.state = State::Connected;
        for (connection, what) in [(&subscribe, "subscribe"), (&calls, "call")] {
            connection.disconnected().on_any(defer(
                self.me(),
                move |p: &mut SchedulerProcess, _: Future<()>| {
                    p.lost(attempt, &format!("the {what} connection closed"))
                },
            ));
        }
        self.connections = Some(Connections {
            subscribe,
            calls,
            queue: CallQueue::default(),
        });
        self.watch_leader();
        self.callbacks.connected();
        self.subscribe();
    }

    /// While connected, a change of leader ends this attempt; the next goes to the new one.
    fn watch_leader(&mut self) {
        let attempt = self.attempt;
        self.detector.detect(self.detected.as_deref()).on_any(defer(
            self.me(),
            move |p: &mut SchedulerProcess, leader: Future<Option<String>>| {
                if attempt != p.attempt || p.state < State::Connected {
                    return;
                }
                match leader.result() {
                    Some(Ok(leader)) if leader.as_deref() != p.detected.as_deref() => {
                        info!(?leader, "the leading master changed");
                        p.detected = None;
                        p.lost(attempt, "the leading master changed");
                    }
                    // The same leader (against the contract), a failure or no news: nothing to do.
                    _ => {}
                }
            },
        ));
    }

    fn subscribe(&mut self) {
        let Some(connections) = &self.connections else {
            return;
        };
        let framework_info = self.config.framework_info.clone();
        let call = Call {
            framework_id: framework_info.id.clone(),
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info,
                suppressed_roles: self.config.suppressed_roles.clone(),
                offer_constraints: None,
            }),
            ..Default::default()
        };
        let request = match self.request(&call, false) {
            Ok(request) => request,
            Err(message) => {
                self.deliver(vec![error_event(message)]);
                return;
            }
        };
        info!(framework_id = ?call.framework_id.as_ref().map(|id| &id.value), "subscribing");
        self.state = State::Subscribing;
        let attempt = self.attempt;
        connections.subscribe.send_streaming(request).on_any(defer(
            self.me(),
            move |p: &mut SchedulerProcess, response: Future<Response>| {
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
                let reason = format!(
                    "SUBSCRIBE failed: {}",
                    response.failure().unwrap_or("discarded")
                );
                self.lost(attempt, &reason);
                return;
            }
        };
        if response.status == StatusCode::OK
            && let Some(reader) = response.body.reader()
        {
            let Some(stream_id) = response.header(STREAM_ID_HEADER) else {
                reader.close();
                self.deliver(vec![error_event(
                    "the master's SUBSCRIBE answer has no Mesos-Stream-Id".into(),
                )]);
                self.lost(attempt, "no Mesos-Stream-Id");
                return;
            };
            info!(stream_id, master = ?self.master, "subscription stream open");
            self.stream_id = Some(stream_id.to_string());
            self.state = State::Subscribed;
            self.redirects = 0;
            self.stream = Some(RecordStream::new(reader.clone()));
            self.read();
            return;
        }
        if let Some(reader) = response.body.reader() {
            reader.close();
        }
        let body = body_text(&response);
        if response.status == StatusCode::TEMPORARY_REDIRECT {
            let location = response.header("location").unwrap_or_default();
            match detector::redirect_endpoint(location) {
                Ok(leader) => {
                    info!(%leader, "redirected to the leading master");
                    self.redirect = Some(leader);
                    self.redirects += 1;
                }
                Err(reason) => warn!(location, reason, "unusable redirect"),
            }
            self.lost(attempt, "redirected");
            return;
        }
        if response.status != StatusCode::SERVICE_UNAVAILABLE {
            self.deliver(vec![error_event(format!(
                "Received unexpected '{}' ({body}) for SUBSCRIBE",
                response.status
            ))]);
        }
        self.lost(
            attempt,
            &format!("SUBSCRIBE answered '{}' ({body})", response.status),
        );
    }

    fn read(&mut self) {
        let Some(stream) = &self.stream else {
            return;
        };
        let attempt = self.attempt;
        stream.reader.read().on_any(defer(
            self.me(),
            move |p: &mut SchedulerProcess, chunk: Future<Option<Bytes>>| p.chunk(attempt, chunk),
        ));
    }

    fn chunk(&mut self, attempt: u64, chunk: Future<Option<Bytes>>) {
        if attempt != self.attempt || self.state != State::Subscribed {
            return;
        }
        let content_type = self.config.content_type;
        let Some(stream) = &mut self.stream else {
            return;
        };
        let events = match stream.events(&chunk, content_type, "master", error_event) {
            Ok(events) => events,
            Err(reason) => {
                self.lost(attempt, &reason);
                return;
            }
        };
        if !events.is_empty() {
            self.events_seen += 1;
            for event in &events {
                self.observe(event);
            }
            self.watch_heartbeats();
        }
        self.deliver(events);
        self.read();
    }

    fn observe(&mut self, event: &Event) {
        if event.r#type == Some(event::Type::Subscribed as i32)
            && let Some(subscribed) = &event.subscribed
        {
            info!(framework_id = %subscribed.framework_id.value, "subscribed");
            self.config.framework_info.id = Some(subscribed.framework_id.clone());
            self.heartbeat_interval = subscribed
                .heartbeat_interval_seconds
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64);
            self.failures = 0;
        }
    }

    /// Counts the connection as lost if no event arrives within the heartbeat timeout.
    fn watch_heartbeats(&mut self) {
        let Some(interval) = self.heartbeat_interval else {
            return;
        };
        let timeout = interval.mul_f64(self.config.heartbeat_timeout_factor.max(1.0));
        let (attempt, seen) = (self.attempt, self.events_seen);
        delay(timeout, self.me(), move |p: &mut SchedulerProcess| {
            if p.attempt == attempt && p.events_seen == seen && p.state == State::Subscribed {
                p.lost(
                    attempt,
                    &format!("no event from the master for {timeout:?}"),
                );
            }
        });
    }

    fn deliver(&mut self, events: Vec<Event>) {
        if !events.is_empty() {
            self.callbacks.received(events);
        }
    }

    /// The current attempt is over: tell, clean up, and try again after a backoff.
    fn lost(&mut self, attempt: u64, reason: &str) {
        if attempt != self.attempt || self.state == State::Disconnected {
            return;
        }
        let was_connected = self.state >= State::Connected;
        warn!(reason, state = ?self.state, "lost the master");
        self.disconnect();
        // The reconnection is scheduled before the callback runs.
        self.schedule_reconnect();
        if was_connected {
            self.callbacks.disconnected();
        }
    }

    fn schedule_reconnect(&mut self) {
        if self.torn_down || self.reconnect_scheduled {
            return;
        }
        self.reconnect_scheduled = true;
        if self.redirect.is_some() && self.redirects <= 3 {
            let me = self.me().clone();
            libprocess::dispatch(&me, |p: &mut SchedulerProcess| p.connect());
            return;
        }
        let exponent = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let ceiling = self
            .config
            .backoff_min
            .saturating_mul(1_u32 << exponent)
            .min(self.config.backoff_max);
        // Between half the ceiling and all of it.
        let wait = ceiling.mul_f64(0.5 + 0.5 * random_fraction());
        debug!(?wait, "reconnecting after a backoff");
        delay(wait, self.me(), |p: &mut SchedulerProcess| p.connect());
    }

    fn disconnect(&mut self) {
        if let Some(connections) = self.connections.take() {
            connections.subscribe.disconnect();
            connections.calls.disconnect();
        }
        if let Some(stream) = self.stream.take() {
            stream.reader.close();
        }
        self.stream_id = None;
        self.state = State::Disconnected;
    }

    fn send(&mut self, mut call: Call) -> Future<Response> {
        let Some(kind) = call.r#type.and_then(|t| call::Type::try_from(t).ok()) else {
            return Future::failed("the call has no known type");
        };
        if kind == call::Type::Subscribe {
            return Future::failed("the library subscribes by itself; SUBSCRIBE is not sent");
        }
        if self.state != State::Subscribed {
            return Future::failed(format!(
                "dropping {}: the scheduler is not subscribed ({:?})",
                kind.as_str_name(),
                self.state
            ));
        }
        if call.framework_id.is_none() {
            call.framework_id = self.config.framework_info.id.clone();
        }
        let request = match self.request(&call, true) {
            Ok(request) => request,
            Err(message) => return Future::failed(message),
        };
        let Some(connections) = &mut self.connections else {
            return Future::failed("no connection to the master");
        };
        debug!(call = kind.as_str_name(), "sending call");
        let response = connections.queue.send(&connections.calls, request);
        match kind {
            call::Type::Teardown => {
                response.on_any(defer(
                    self.me(),
                    |p: &mut SchedulerProcess, response: Future<Response>| {
                        if response.value().is_some_and(|r| r.status.is_success()) {
                            info!("framework torn down");
                            p.torn_down = true;
                        }
                    },
                ));
            }
            call::Type::UpdateFramework => {
                let update = call.update_framework.clone();
                response.on_any(defer(
                    self.me(),
                    move |p: &mut SchedulerProcess, response: Future<Response>| {
                        if response.value().is_some_and(|r| r.status == StatusCode::OK)
                            && let Some(update) = update
                        {
                            p.config.framework_info = update.framework_info;
                            p.config.suppressed_roles = update.suppressed_roles;
                        }
                    },
                ));
            }
            _ => {}
        }
        response
    }

    fn request(&self, call: &Call, with_stream_id: bool) -> Result<ClientRequest, String> {
        let master = self.master.as_deref().ok_or("no master")?;
        let content_type = self.config.content_type;
        let mut request = ClientRequest::post(&format!("http://{master}/api/v1/scheduler"))
            .and_then(|r| r.header("accept", content_type.as_str()))
            .map_err(|e| e.to_string())?;
        if with_stream_id && let Some(stream_id) = &self.stream_id {
            request = request
                .header(STREAM_ID_HEADER, stream_id.as_str())
                .map_err(|e| e.to_string())?;
        }
        if let Some((principal, secret)) = &self.config.credential {
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{principal}:{secret}").as_bytes());
            request = request
                .header("authorization", format!("Basic {token}"))
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

/// The first address `host:port` resolves to.
fn resolve(endpoint: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    endpoint
        .to_socket_addrs()
        .map_err(|e| format!("failed to resolve '{endpoint}': {e}"))?
        .next()
        .ok_or_else(|| format!("no address for '{endpoint}'"))
}

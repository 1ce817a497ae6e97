//! Subscribers of the operator event stream (`SUBSCRIBE` on `/api/v1`, upstream
//! `Master::subscribe` and `Master::Subscribers`): each gets a RecordIO stream of
//! `mesos.v1.master.Event`s in the encoding it accepted, starting with `SUBSCRIBED` (the
//! whole state, as `GET_STATE`), then `TASK_ADDED`, `TASK_UPDATED`, `AGENT_ADDED`,
//! `AGENT_REMOVED`, `FRAMEWORK_ADDED`, `FRAMEWORK_UPDATED`, `FRAMEWORK_REMOVED` as the
//! master changes, and a `HEARTBEAT` from its own [`OperatorHeartbeater`] every 15 seconds.
//! A subscriber is forgotten as soon as its reader goes away.
//!
//! The master calls the `operator_*` hooks below where its state changes; they cost one
//! check while nobody subscribes. At most
//! `--max_operator_event_stream_subscribers` streams are open at once; one more is refused
//! with `503`.

use std::time::Duration;

use libprocess::http::{Pipe, PipeWriter, Response};
use libprocess::{Context, Pid, Process, delay};
use mesos_core::convert::evolve;
use mesos_core::v1::master::event::{self, Type as EventType};
use mesos_core::{v0, v1};

use super::MasterProcess;
use super::state::{AgentId, FrameworkId};
use super::stream::ContentType;

/// How often operator streams get a HEARTBEAT.
pub const OPERATOR_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

struct Subscriber {
    id: u64,
    writer: PipeWriter,
    content_type: ContentType,
    heartbeater: Pid<OperatorHeartbeater>,
}

/// The open operator event streams.
#[derive(Default)]
pub struct OperatorEvents {
    subscribers: Vec<Subscriber>,
    next_id: u64,
}

impl std::fmt::Debug for OperatorEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorEvents")
            .field("subscribers", &self.subscribers.len())
            .finish()
    }
}

impl OperatorEvents {
    /// How many streams are open.
    pub fn len(&self) -> usize {
        self.subscribers.len()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }

    /// Forgets subscriber `id` (its reader went away).
    fn remove(&mut self, id: u64) {
        self.subscribers.retain(|subscriber| {
            if subscriber.id == id {
                libprocess::terminate(&subscriber.heartbeater);
            }
            subscriber.id != id
        });
    }

    /// Sends `event` to every subscriber, encoded once per encoding; drops those gone.
    pub fn send(&mut self, event: &v1::master::Event) {
        let mut json = None;
        let mut protobuf = None;
        self.subscribers.retain(|subscriber| {
            let slot = match subscriber.content_type {
                ContentType::Json => &mut json,
                ContentType::Protobuf => &mut protobuf,
            };
            let record = slot
                .get_or_insert_with(|| {
                    stout::recordio::encode(&subscriber.content_type.encode(event))
                })
                .clone();
            let alive = subscriber.writer.write(record);
            if !alive {
                libprocess::terminate(&subscriber.heartbeater);
            }
            alive
        });
    }
}

impl OperatorEvents {
    /// Hook: a task was launched.
    pub fn task_added(&mut self, task: &v0::Task) {
        if self.is_empty() {
            return;
        }
        let event = event_of(EventType::TaskAdded, |e| {
            e.task_added = Some(event::TaskAdded { task: evolve(task) })
        });
        self.send(&event);
    }

    /// Hook: a task got a status update (`task` already records it).
    pub fn task_updated(&mut self, task: &v0::Task, status: &v0::TaskStatus) {
        if self.is_empty() {
            return;
        }
        let mut status = status.clone();
        status.data = None;
        let event = event_of(EventType::TaskUpdated, |e| {
            e.task_updated = Some(event::TaskUpdated {
                framework_id: v1::FrameworkId {
                    value: task.framework_id.value.clone(),
                },
                state: task.state,
                status: evolve(&status),
            })
        });
        self.send(&event);
    }
}

impl Drop for OperatorEvents {
    fn drop(&mut self) {
        for subscriber in self.subscribers.drain(..) {
            subscriber.writer.close();
            libprocess::terminate(&subscriber.heartbeater);
        }
    }
}

fn event_of(kind: EventType, fill: impl FnOnce(&mut v1::master::Event)) -> v1::master::Event {
    let mut event = v1::master::Event::default();
    event.set_type(kind);
    fill(&mut event);
    event
}

/// Writes a HEARTBEAT to one operator stream every interval until the stream is gone.
#[derive(Debug)]
pub struct OperatorHeartbeater {
    writer: PipeWriter,
    content_type: ContentType,
    interval: Duration,
    me: Option<Pid<OperatorHeartbeater>>,
}

impl OperatorHeartbeater {
    fn beat(&mut self) {
        let event = event_of(EventType::Heartbeat, |_| {});
        let record = stout::recordio::encode(&self.content_type.encode(&event));
        if !self.writer.write(record) {
            if let Some(me) = self.me.take() {
                libprocess::terminate(&me);
            }
            return;
        }
        if let Some(me) = &self.me {
            delay(self.interval, me, OperatorHeartbeater::beat);
        }
    }
}

impl Process for OperatorHeartbeater {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
        // The first beat follows SUBSCRIBED by one interval.
        delay(self.interval, &ctx.pid(), OperatorHeartbeater::beat);
    }

    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
        self.me = None;
    }
}

impl MasterProcess {
    /// Opens an operator event stream: `SUBSCRIBED` with the state first.
    pub(crate) fn operator_subscribe(&mut self, content_type: ContentType) -> Response {
        let limit = self.flags.max_operator_event_stream_subscribers;
        if self.operator_events.len() >= limit {
            return Response::service_unavailable(format!(
                "Operator API connections are at capacity ({limit})"
            ));
        }
        let Pipe { writer, reader } = Pipe::new();
        let subscribed = event_of(EventType::Subscribed, |e| {
            e.subscribed = Some(event::Subscribed {
                get_state: Some(crate::http::operator::get_state(self)),
                heartbeat_interval_seconds: Some(OPERATOR_HEARTBEAT_INTERVAL.as_secs_f64()),
            })
        });
        writer.write(stout::recordio::encode(&content_type.encode(&subscribed)));
        let heartbeater = self.runtime.spawn(OperatorHeartbeater {
            writer: writer.clone(),
            content_type,
            interval: OPERATOR_HEARTBEAT_INTERVAL,
            me: None,
        });
        let id = self.operator_events.next_id;
        self.operator_events.next_id += 1;
        let me = self.pid();
        writer.reader_closed().on_any(move |_| {
            libprocess::dispatch(&me, move |m: &mut MasterProcess| {
                m.operator_events.remove(id)
            });
        });
        self.operator_events.subscribers.push(Subscriber {
            id,
            writer,
            content_type,
            heartbeater,
        });
        Response::stream(reader, content_type.as_str())
    }

    /// Hook: an agent registered or reregistered.
    pub(crate) fn operator_agent_added(&mut self, agent_id: &AgentId) {
        if self.operator_events.is_empty() {
            return;
        }
        let Some(agent) = self.state.agents.get(agent_id) else {
            return;
        };
        let event = event_of(EventType::AgentAdded, |e| {
            e.agent_added = Some(event::AgentAdded {
                agent: crate::http::operator::agent_model(agent),
            })
        });
        self.operator_events.send(&event);
    }

    /// Hook: an agent was removed (unreachable, unregistered, gone).
    pub(crate) fn operator_agent_removed(&mut self, agent_id: &AgentId) {
        if self.operator_events.is_empty() {
            return;
        }
        let event = event_of(EventType::AgentRemoved, |e| {
            e.agent_removed = Some(event::AgentRemoved {
                agent_id: v1::AgentId {
                    value: agent_id.0.clone(),
                },
            })
        });
        self.operator_events.send(&event);
    }

    /// Hook: a framework subscribed (FRAMEWORK_ADDED the first time, FRAMEWORK_UPDATED when
    /// it resubscribes).
    pub(crate) fn operator_framework_subscribed(&mut self, framework_id: &FrameworkId) {
        let resubscribed = self
            .state
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.reregistered_time.is_some());
        self.operator_framework_event(framework_id, !resubscribed);
    }

    /// Hook: a framework resubscribed, disconnected or changed its info.
    pub(crate) fn operator_framework_updated(&mut self, framework_id: &FrameworkId) {
        self.operator_framework_event(framework_id, false);
    }

    fn operator_framework_event(&mut self, framework_id: &FrameworkId, added: bool) {
        if self.operator_events.is_empty() {
            return;
        }
        let Some(framework) = self.state.frameworks.get(framework_id) else {
            return;
        };
        let model = crate::http::operator::framework_model(self, framework);
        let event = if added {
            event_of(EventType::FrameworkAdded, |e| {
                e.framework_added = Some(event::FrameworkAdded { framework: model })
            })
        } else {
            event_of(EventType::FrameworkUpdated, |e| {
                e.framework_updated = Some(event::FrameworkUpdated { framework: model })
            })
        };
        self.operator_events.send(&event);
    }

    /// Hook: a framework was removed (torn down, or failed over too late).
    pub(crate) fn operator_framework_removed(&mut self, info: &v0::FrameworkInfo) {
        if self.operator_events.is_empty() {
            return;
        }
        let event = event_of(EventType::FrameworkRemoved, |e| {
            e.framework_removed = Some(event::FrameworkRemoved {
                framework_info: evolve(info),
            })
        });
        self.operator_events.send(&event);
    }
}

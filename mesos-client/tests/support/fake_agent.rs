//! A stand-in for the agent's `/api/v1/executor`: a libprocess process with the route, served
//! over real HTTP, that records the calls it gets and streams the events a test tells it to.
//! Shared by `mesos-client/tests` and `mesos-agent/tests/command_executor.rs`.

#![allow(dead_code)]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use libprocess::http::{Pipe, PipeWriter, Request, Response};
use libprocess::{Context, Future, Pid, Process, Promise, Runtime};
use mesos_client::ContentType;
use mesos_core::v1;
use mesos_core::v1::executor::{Call, Event, call, event};

/// The fake agent's id, as `slave(1)`.
pub const AGENT_ID: &str = "slave(1)";

/// How the fake answers a `SUBSCRIBE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscribeAnswer {
    /// `200` and a stream that starts with `SUBSCRIBED`.
    Stream,
    /// `503`, as an agent still recovering.
    Unavailable,
}

/// One call as the fake got it.
#[derive(Clone, Debug)]
pub struct Received {
    pub call: Call,
    pub content_type: ContentType,
    pub accept: Option<String>,
    pub authorization: Option<String>,
}

pub struct FakeAgent {
    pub calls: Vec<Received>,
    pub stream: Option<(PipeWriter, ContentType)>,
    pub subscribe_answer: SubscribeAnswer,
    /// Answer every UPDATE with an ACKNOWLEDGED on the stream.
    pub auto_ack: bool,
    /// Events sent after SUBSCRIBED on every new stream.
    pub on_subscribe: Vec<Event>,
    /// Calls are also sent here as they arrive.
    pub tap: Option<mpsc::Sender<Call>>,
    pub framework_capabilities: Vec<v1::framework_info::capability::Type>,
    /// Answer MESSAGE calls `403`.
    pub refuse_messages: bool,
    /// Keep the next SUBSCRIBE unanswered until [`FakeAgent::release`].
    pub hold_subscribe: bool,
    held: Option<(Promise<Response>, Response)>,
}

impl FakeAgent {
    pub fn new() -> FakeAgent {
        FakeAgent {
            calls: Vec::new(),
            stream: None,
            subscribe_answer: SubscribeAnswer::Stream,
            auto_ack: true,
            on_subscribe: Vec::new(),
            tap: None,
            framework_capabilities: Vec::new(),
            refuse_messages: false,
            hold_subscribe: false,
            held: None,
        }
    }

    /// Answers the SUBSCRIBE held back; false if none is.
    pub fn release(&mut self) -> bool {
        match self.held.take() {
            Some((promise, response)) => promise.set(response),
            None => false,
        }
    }

    pub fn is_holding(&self) -> bool {
        self.held.is_some()
    }

    /// Writes `event` on the open stream; false without one.
    pub fn push(&mut self, event: &Event) -> bool {
        match &self.stream {
            Some((writer, content_type)) => {
                writer.write(stout::recordio::encode(&content_type.encode(event)))
            }
            None => false,
        }
    }

    /// Ends the open stream, as an agent that goes away.
    pub fn close_stream(&mut self) {
        if let Some((writer, _)) = self.stream.take() {
            writer.close();
        }
    }

    pub fn calls_of(&self, kind: call::Type) -> Vec<Call> {
        self.calls
            .iter()
            .filter(|r| r.call.r#type == Some(kind as i32))
            .map(|r| r.call.clone())
            .collect()
    }

    fn handle(&mut self, request: Request) -> Response {
        let Some(content_type) = request
            .header("content-type")
            .and_then(ContentType::from_header)
        else {
            return Response::bad_request("Expecting 'Content-Type' to be present");
        };
        let body = request.body_bytes().cloned().unwrap_or_default();
        let call: Call = match content_type.decode(&body) {
            Ok(call) => call,
            Err(e) => return Response::bad_request(format!("Failed to parse body: {e}")),
        };
        self.calls.push(Received {
            call: call.clone(),
            content_type,
            accept: request.header("accept").map(str::to_string),
            authorization: request.header("authorization").map(str::to_string),
        });
        if let Some(tap) = &self.tap {
            let _ = tap.send(call.clone());
        }
        match call.r#type.and_then(|t| call::Type::try_from(t).ok()) {
            Some(call::Type::Subscribe) => {
                if self.subscribe_answer == SubscribeAnswer::Unavailable {
                    return Response::service_unavailable("Agent has not finished recovery");
                }
                let accept = request
                    .header("accept")
                    .and_then(ContentType::from_header)
                    .unwrap_or(ContentType::Json);
                self.close_stream();
                let Pipe { writer, reader } = Pipe::new();
                self.stream = Some((writer, accept));
                let subscribed = Event {
                    r#type: Some(event::Type::Subscribed as i32),
                    subscribed: Some(event::Subscribed {
                        executor_info: v1::ExecutorInfo {
                            executor_id: call.executor_id.clone(),
                            framework_id: Some(call.framework_id.clone()),
                            ..Default::default()
                        },
                        framework_info: v1::FrameworkInfo {
                            id: Some(call.framework_id.clone()),
                            user: "root".into(),
                            name: "fake".into(),
                            capabilities: self
                                .framework_capabilities
                                .iter()
                                .map(|c| v1::framework_info::Capability {
                                    r#type: Some(*c as i32),
                                })
                                .collect(),
                            ..Default::default()
                        },
                        agent_info: v1::AgentInfo {
                            hostname: "localhost".into(),
                            id: Some(v1::AgentId {
                                value: "agent-1".into(),
                            }),
                            ..Default::default()
                        },
                        container_id: None,
                    }),
                    ..Default::default()
                };
                self.push(&subscribed);
                for event in self.on_subscribe.clone() {
                    self.push(&event);
                }
                Response::stream(reader, accept.as_str())
            }
            Some(call::Type::Update) => {
                if self.auto_ack
                    && let Some(update) = &call.update
                {
                    let ack = acknowledged(&update.status);
                    self.push(&ack);
                }
                Response::accepted()
            }
            Some(call::Type::Message) if self.refuse_messages => {
                Response::forbidden("Executor is not subscribed")
            }
            Some(call::Type::Message) if call.message.is_none() => {
                Response::bad_request("Expecting 'message' to be present")
            }
            _ => Response::accepted(),
        }
    }
}

impl Process for FakeAgent {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/api/v1/executor", |me: &mut FakeAgent, _ctx, request| {
            let response = me.handle(request);
            if me.hold_subscribe && response.body.reader().is_some() {
                me.hold_subscribe = false;
                let promise = Promise::new();
                let future = promise.future();
                me.held = Some((promise, response));
                return future;
            }
            Future::ready(response)
        });
    }
}

/// The ACKNOWLEDGED event for `status`.
pub fn acknowledged(status: &v1::TaskStatus) -> Event {
    Event {
        r#type: Some(event::Type::Acknowledged as i32),
        acknowledged: Some(event::Acknowledged {
            task_id: status.task_id.clone(),
            uuid: status.uuid.clone().unwrap_or_default(),
        }),
        ..Default::default()
    }
}

/// A LAUNCH of `task`.
pub fn launch(task: v1::TaskInfo) -> Event {
    Event {
        r#type: Some(event::Type::Launch as i32),
        launch: Some(event::Launch { task }),
        ..Default::default()
    }
}

/// A KILL of `task_id`, with a grace period when given.
pub fn kill(task_id: &str, grace: Option<Duration>) -> Event {
    Event {
        r#type: Some(event::Type::Kill as i32),
        kill: Some(event::Kill {
            task_id: v1::TaskId {
                value: task_id.into(),
            },
            kill_policy: grace.map(|grace| v1::KillPolicy {
                grace_period: Some(v1::DurationInfo {
                    nanoseconds: grace.as_nanos() as i64,
                }),
            }),
        }),
        ..Default::default()
    }
}

/// A SHUTDOWN.
pub fn shutdown() -> Event {
    Event {
        r#type: Some(event::Type::Shutdown as i32),
        ..Default::default()
    }
}

/// A runtime listening on 127.0.0.1 with the fake agent as `slave(1)`, its delegate.
pub fn start() -> (Runtime, Pid<FakeAgent>) {
    start_with(FakeAgent::new())
}

pub fn start_with(agent: FakeAgent) -> (Runtime, Pid<FakeAgent>) {
    let runtime = Runtime::builder()
        .ip("127.0.0.1".parse().unwrap())
        .port(0)
        .workers(2)
        .build();
    let pid = runtime
        .handle()
        .spawn_with_id(AGENT_ID, agent)
        .expect("spawn the fake agent");
    runtime.handle().set_delegate(AGENT_ID);
    (runtime, pid)
}

/// Runs `f` on the fake agent and returns its result.
pub fn with<R: Send + Sync + Clone + 'static>(
    pid: &Pid<FakeAgent>,
    f: impl FnOnce(&mut FakeAgent) -> R + Send + 'static,
) -> R {
    libprocess::call(pid, f).get().expect("the fake agent runs")
}

/// Waits (wall time: real sockets are involved) until `f` holds on the fake agent.
pub fn wait_until(
    pid: &Pid<FakeAgent>,
    what: &str,
    f: impl Fn(&FakeAgent) -> bool + Send + Sync + Clone + 'static,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let f = f.clone();
        if with(pid, move |agent| f(agent)) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The TaskInfo of a command task.
pub fn command_task(id: &str, command: v1::CommandInfo) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId {
            value: "agent-1".into(),
        },
        command: Some(command),
        ..Default::default()
    }
}

/// A shell command.
pub fn shell(value: &str) -> v1::CommandInfo {
    v1::CommandInfo {
        shell: Some(true),
        value: Some(value.into()),
        ..Default::default()
    }
}

//! A stand-in for the master's `/api/v1/scheduler`: a libprocess process with the route,
//! served over real HTTP, that records calls with their headers, answers `SUBSCRIBE` with a
//! RecordIO stream (and a `Mesos-Stream-Id`), redirects or refuses when told to, and checks
//! the stream id of later calls as the master does.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use libprocess::http::{Pipe, PipeWriter, Request, Response};
use libprocess::{Context, Future, Pid, Process, Runtime};
use mesos_client::ContentType;
use mesos_core::v1;
use mesos_core::v1::scheduler::{Call, Event, call, event};

/// One call as the fake got it.
#[derive(Clone, Debug)]
pub struct Received {
    pub call: Call,
    pub content_type: ContentType,
    pub accept: Option<String>,
    pub stream_id: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Default)]
pub struct FakeMaster {
    pub calls: Vec<Received>,
    pub stream: Option<(PipeWriter, ContentType)>,
    pub stream_id: Option<String>,
    /// Answer everything `307` to this `Location`.
    pub redirect_to: Option<String>,
    /// Answer `SUBSCRIBE` with `503`.
    pub unavailable: bool,
    pub heartbeat_interval_seconds: f64,
    pub streams_opened: u32,
}

impl FakeMaster {
    pub fn new() -> FakeMaster {
        FakeMaster {
            heartbeat_interval_seconds: 15.0,
            ..Default::default()
        }
    }

    pub fn push(&mut self, event: &Event) -> bool {
        match &self.stream {
            Some((writer, content_type)) => {
                writer.write(stout::recordio::encode(&content_type.encode(event)))
            }
            None => false,
        }
    }

    pub fn close_stream(&mut self) {
        if let Some((writer, _)) = self.stream.take() {
            writer.close();
        }
    }

    pub fn calls_of(&self, kind: call::Type) -> Vec<Received> {
        self.calls
            .iter()
            .filter(|r| r.call.r#type == Some(kind as i32))
            .cloned()
            .collect()
    }

    fn handle(&mut self, request: Request) -> Response {
        if let Some(location) = &self.redirect_to {
            return Response::temporary_redirect(location);
        }
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
        let stream_id = request.header("mesos-stream-id").map(str::to_string);
        self.calls.push(Received {
            call: call.clone(),
            content_type,
            accept: request.header("accept").map(str::to_string),
            stream_id: stream_id.clone(),
            authorization: request.header("authorization").map(str::to_string),
        });
        match call.r#type.and_then(|t| call::Type::try_from(t).ok()) {
            Some(call::Type::Subscribe) => {
                if self.unavailable {
                    return Response::service_unavailable("Master has not finished recovery");
                }
                if stream_id.is_some() {
                    return Response::bad_request(
                        "Subscribe calls should not include the 'Mesos-Stream-Id' header",
                    );
                }
                let accept = request
                    .header("accept")
                    .and_then(ContentType::from_header)
                    .unwrap_or(ContentType::Json);
                self.close_stream();
                let Pipe { writer, reader } = Pipe::new();
                self.stream = Some((writer, accept));
                let id = stout::Uuid::random().to_string();
                self.stream_id = Some(id.clone());
                self.streams_opened += 1;
                let framework_id = call.framework_id.clone().unwrap_or(v1::FrameworkId {
                    value: "master-0000".into(),
                });
                self.push(&Event {
                    r#type: Some(event::Type::Subscribed as i32),
                    subscribed: Some(event::Subscribed {
                        framework_id,
                        heartbeat_interval_seconds: Some(self.heartbeat_interval_seconds),
                        master_info: None,
                    }),
                    ..Default::default()
                });
                self.push(&heartbeat());
                Response::stream(reader, accept.as_str()).with_header("Mesos-Stream-Id", id)
            }
            _ => {
                if stream_id.is_none() || stream_id != self.stream_id {
                    return Response::bad_request(
                        "The stream ID included in this request didn't match the stream ID currently associated with framework ID",
                    );
                }
                if call.r#type == Some(call::Type::UpdateFramework as i32) {
                    Response::new(libprocess::http::StatusCode::OK)
                } else {
                    Response::accepted()
                }
            }
        }
    }
}

impl Process for FakeMaster {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/api/v1/scheduler", |me: &mut FakeMaster, _ctx, request| {
            Future::ready(me.handle(request))
        });
    }
}

pub fn heartbeat() -> Event {
    Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    }
}

/// A runtime listening on 127.0.0.1 with the fake as `master`, its delegate.
pub fn start(master: FakeMaster) -> (Runtime, Pid<FakeMaster>) {
    let runtime = Runtime::builder()
        .ip("127.0.0.1".parse().unwrap())
        .port(0)
        .workers(2)
        .build();
    let pid = runtime
        .handle()
        .spawn_with_id("master", master)
        .expect("spawn the fake master");
    runtime.handle().set_delegate("master");
    (runtime, pid)
}

pub fn with<R: Send + Sync + Clone + 'static>(
    pid: &Pid<FakeMaster>,
    f: impl FnOnce(&mut FakeMaster) -> R + Send + 'static,
) -> R {
    libprocess::call(pid, f)
        .get()
        .expect("the fake master runs")
}

/// Waits (wall time: real sockets) until `f` holds on the fake master.
pub fn wait_until(
    pid: &Pid<FakeMaster>,
    what: &str,
    f: impl Fn(&FakeMaster) -> bool + Send + Sync + Clone + 'static,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let f = f.clone();
        if with(pid, move |m| f(m)) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

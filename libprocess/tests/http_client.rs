//! The HTTP client against routes of our own runtime: whole answers, streamed answers, a
//! persistent connection, and failures.

use std::time::Duration;

use libprocess::http::client::{self, ClientRequest};
use libprocess::http::{Method, Pipe, PipeWriter, Response, StatusCode};
use libprocess::{Context, Future, Process, Runtime, call};

const WAIT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Server {
    requests: u64,
    subscribers: Vec<PipeWriter>,
    recorded: Vec<String>,
}

impl Process for Server {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/echo", |me: &mut Server, _ctx, request| {
            me.requests += 1;
            let body = request.body_bytes().cloned().unwrap_or_default();
            let answer = format!(
                "{} {} {} {}",
                request.method,
                request.path,
                request.header("content-type").unwrap_or("-"),
                String::from_utf8_lossy(&body)
            );
            Future::ready(
                Response::ok(answer)
                    .with_header("x-count", me.requests.to_string())
                    .with_header("x-host", request.header("host").unwrap_or("-")),
            )
        });
        ctx.route("/record", |me: &mut Server, _ctx, request| {
            let body = request.body_bytes().cloned().unwrap_or_default();
            me.recorded
                .push(String::from_utf8_lossy(&body).into_owned());
            Future::ready(Response::accepted())
        });
        ctx.route("/moved", |_: &mut Server, _ctx, _request| {
            Future::ready(Response::temporary_redirect("//elsewhere:5050/moved"))
        });
        ctx.route("/events", |me: &mut Server, _ctx, _request| {
            let Pipe { writer, reader } = Pipe::new();
            writer.write("first\n");
            me.subscribers.push(writer);
            Future::ready(Response::stream(reader, "application/recordio"))
        });
    }
}

fn server() -> (Runtime, libprocess::Pid<Server>, String) {
    let runtime = Runtime::builder()
        .ip("127.0.0.1".parse().unwrap())
        .port(0)
        .build();
    let pid = runtime.spawn_with_id("server", Server::default()).unwrap();
    let base = format!("http://{}/server", runtime.address());
    (runtime, pid, base)
}

fn text(response: &Response) -> String {
    String::from_utf8_lossy(response.body_bytes().expect("a whole body")).into_owned()
}

#[test]
fn get_and_post_read_the_whole_answer() {
    let (_runtime, _pid, base) = server();

    let response = client::get(&format!("{base}/echo?x=1")).get().unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(text(&response), "GET /server/echo - ");
    assert!(response.header("x-host").unwrap().starts_with("127.0.0.1:"));

    let response = client::post(&format!("{base}/echo"), "application/json", "{}")
        .get()
        .unwrap();
    assert_eq!(text(&response), "POST /server/echo application/json {}");

    let request = ClientRequest::new(Method::PUT, &format!("{base}/echo"))
        .unwrap()
        .header("x-extra", "1")
        .unwrap()
        .body("text/plain", "body");
    let response = client::request(request).get().unwrap();
    assert_eq!(text(&response), "PUT /server/echo text/plain body");
}

#[test]
fn redirects_are_returned_to_the_caller() {
    let (_runtime, _pid, base) = server();
    let response = client::get(&format!("{base}/moved")).get().unwrap();
    assert_eq!(response.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(response.header("location"), Some("//elsewhere:5050/moved"));
}

#[test]
fn a_streamed_answer_arrives_chunk_by_chunk_and_closing_it_hangs_up() {
    let (_runtime, pid, base) = server();
    let response = client::streaming(ClientRequest::post(&format!("{base}/events")).unwrap())
        .get()
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.header("content-type"),
        Some("application/recordio")
    );
    let reader = response.body.reader().expect("a stream").clone();
    assert_eq!(reader.read().get().unwrap().unwrap(), "first\n");

    let writer = call(&pid, |me: &mut Server| me.subscribers[0].clone())
        .get()
        .unwrap();
    writer.write("second\n");
    assert_eq!(reader.read().get().unwrap().unwrap(), "second\n");

    // The client closes its end: the server's writer learns it.
    reader.close();
    assert!(writer.reader_closed().await_for(WAIT));
}

#[test]
fn a_streamed_answer_ends_when_the_server_closes_it() {
    let (_runtime, pid, base) = server();
    let response = client::streaming(ClientRequest::get(&format!("{base}/events")).unwrap())
        .get()
        .unwrap();
    let reader = response.body.reader().unwrap().clone();
    let writer = call(&pid, |me: &mut Server| me.subscribers[0].clone())
        .get()
        .unwrap();
    writer.write("last\n");
    writer.close();
    assert_eq!(reader.read_all().get().unwrap(), "first\nlast\n");
}

#[test]
fn a_connection_carries_requests_in_turn_next_to_a_stream() {
    let (runtime, pid, base) = server();
    let events = client::connect(runtime.address()).get().unwrap();
    let calls = client::connect(runtime.address()).get().unwrap();
    assert_eq!(calls.peer(), runtime.address());

    let subscribed = events
        .send_streaming(ClientRequest::post(&format!("{base}/events")).unwrap())
        .get()
        .unwrap();
    let reader = subscribed.body.reader().unwrap().clone();
    assert_eq!(reader.read().get().unwrap().unwrap(), "first\n");

    let answers: Vec<Future<Response>> = (0..3)
        .map(|i| {
            calls.send(
                ClientRequest::post(&format!("{base}/echo"))
                    .unwrap()
                    .body("text/plain", format!("call {i}")),
            )
        })
        .collect();
    for (i, answer) in answers.iter().enumerate() {
        let response = answer.get().unwrap();
        assert_eq!(
            text(&response),
            format!("POST /server/echo text/plain call {i}")
        );
    }

    // The server hangs up the stream's connection (its runtime shuts down): both
    // connections learn it, and the stream fails or ends.
    let writer = call(&pid, |me: &mut Server| me.subscribers[0].clone())
        .get()
        .unwrap();
    writer.write("bye\n");
    assert_eq!(reader.read().get().unwrap().unwrap(), "bye\n");
    calls.disconnect();
    assert!(calls.disconnected().await_for(WAIT));
    assert!(
        calls
            .send(ClientRequest::get(&format!("{base}/echo")).unwrap())
            .await_for(WAIT)
    );
    drop(runtime);
    assert!(events.disconnected().await_for(WAIT));
}

#[test]
fn failures_fail_the_future() {
    // Nothing listens on a port we just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = client::get(&format!("http://127.0.0.1:{port}/x"));
    assert!(refused.await_for(WAIT));
    assert!(refused.failure().unwrap().contains("failed to connect"));

    let bad = client::get("ftp://127.0.0.1/x");
    assert!(bad.failure().unwrap().contains("not supported"));
    assert!(client::get("/relative").is_failed());
    assert!(
        ClientRequest::get("http://h/")
            .unwrap()
            .header("bad header", "v")
            .is_err()
    );
}

#[test]
fn requests_on_a_connection_arrive_in_the_order_sent() {
    let (runtime, pid, base) = server();
    let connection = client::connect(runtime.address()).get().unwrap();
    let answers: Vec<Future<Response>> = (0..300)
        .map(|i| {
            let request = ClientRequest::post(&format!("{base}/record"))
                .unwrap()
                .body("text/plain", i.to_string());
            connection.send(request)
        })
        .collect();
    for answer in &answers {
        assert_eq!(answer.get().unwrap().status, StatusCode::ACCEPTED);
    }
    let recorded = call(&pid, |me: &mut Server| me.recorded.clone())
        .get()
        .unwrap();
    let expected: Vec<String> = (0..300).map(|i| i.to_string()).collect();
    assert_eq!(recorded, expected);
}

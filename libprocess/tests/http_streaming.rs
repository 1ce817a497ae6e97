//! Streamed responses (chunked, written over time by the handler, which learns when the
//! client goes away) and streamed request bodies.

mod http_support;

use bytes::Bytes;
use http_support::{Client, listening, wait_until};
use libprocess::http::{Body, Pipe, PipeWriter, Request, Response, RouteOptions};
use libprocess::{Context, Future, Pid, Process, Promise, call};

#[derive(Default)]
struct Streamer {
    subscribers: Vec<PipeWriter>,
    disconnected: usize,
    uploads_started: usize,
    parked: Vec<Promise<Response>>,
}

impl Process for Streamer {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/subscribe", |me: &mut Streamer, ctx, _request| {
            let Pipe { writer, reader } = Pipe::new();
            writer.write("subscribed\n");
            let pid = ctx.pid();
            writer.reader_closed().on_any(move |_| {
                libprocess::dispatch(&pid, |me: &mut Streamer| me.disconnected += 1);
            });
            me.subscribers.push(writer);
            Future::ready(Response::stream(reader, "application/recordio"))
        });
        ctx.route("/later", |me: &mut Streamer, _ctx, _request| {
            let promise = Promise::new();
            let future = promise.future();
            me.parked.push(promise);
            future
        });
        ctx.route_with(
            "/upload",
            RouteOptions::new().request_streaming(true),
            |me: &mut Streamer, _ctx, request: Request| {
                me.uploads_started += 1;
                let Body::Stream(reader) = request.body else {
                    return Future::ready(Response::internal_server_error("not a stream"));
                };
                reader
                    .read_all()
                    .map(|body: Bytes| Response::ok(format!("got {} bytes", body.len())))
            },
        );
    }
}

fn publish(pid: &Pid<Streamer>, event: &'static str) -> Vec<bool> {
    call(pid, move |me: &mut Streamer| {
        me.subscribers.iter().map(|w| w.write(event)).collect()
    })
    .get()
    .unwrap()
}

#[test]
fn streamed_response_is_read_chunk_by_chunk_and_the_handler_learns_of_disconnects() {
    let rt = listening();
    let pid = rt.spawn_with_id("master", Streamer::default()).unwrap();
    let mut client = Client::connect(rt.address());
    client.send_get("/master/subscribe", &[]);
    let (status, headers) = client.head();
    assert_eq!(status, 200);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("transfer-encoding"), Some("chunked"));
    assert_eq!(header("content-type"), Some("application/recordio"));
    assert_eq!(client.chunk().unwrap(), b"subscribed\n");
    for event in ["one", "two", "three"] {
        assert_eq!(publish(&pid, event), vec![true]);
        assert_eq!(client.chunk().unwrap(), event.as_bytes());
    }

    // A second subscriber, then the first goes away.
    let mut second = Client::connect(rt.address());
    second.send_get("/master/subscribe", &[]);
    assert_eq!(second.head().0, 200);
    assert_eq!(second.chunk().unwrap(), b"subscribed\n");
    client.shutdown();
    wait_until(|| {
        call(&pid, |me: &mut Streamer| me.disconnected)
            .get()
            .unwrap()
            == 1
    });
    assert_eq!(publish(&pid, "four"), vec![false, true]);
    assert_eq!(second.chunk().unwrap(), b"four");

    // Closing the writer ends the stream; the connection serves the next request.
    call(&pid, |me: &mut Streamer| {
        me.subscribers[1].close();
    })
    .get()
    .unwrap();
    assert_eq!(second.chunk(), None);
    second.send_get("/master/subscribe", &[]);
    assert_eq!(second.head().0, 200);
    assert_eq!(second.chunk().unwrap(), b"subscribed\n");
}

#[test]
fn streamed_request_body_reaches_the_handler_before_it_ends() {
    let rt = listening();
    let pid = rt.spawn_with_id("agent", Streamer::default()).unwrap();
    let mut client = Client::connect(rt.address());
    assert_eq!(client.get("/agent/nothing").status, 404);
    client.send(
        b"POST /agent/upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n",
    );
    // The handler runs while the body is still coming.
    wait_until(|| {
        call(&pid, |me: &mut Streamer| me.uploads_started)
            .get()
            .unwrap()
            == 1
    });
    let rest = "w".repeat(100_000);
    client.send(format!("{:x}\r\n{rest}\r\n0\r\n\r\n", rest.len()).as_bytes());
    let response = client.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "got 100005 bytes");

    // A small body of known length arrives as a finished stream.
    client.send(b"POST /agent/upload HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(client.response().text(), "got 3 bytes");
}

#[test]
fn a_stream_answered_after_the_client_left_is_closed() {
    let rt = listening();
    let pid = rt.spawn_with_id("master", Streamer::default()).unwrap();
    let mut client = Client::connect(rt.address());
    client.send_get("/master/later", &[]);
    wait_until(|| {
        call(&pid, |me: &mut Streamer| me.parked.len())
            .get()
            .unwrap()
            == 1
    });
    client.shutdown();
    // The handler is asked to give up...
    wait_until(|| {
        call(&pid, |me: &mut Streamer| me.parked[0].has_discard())
            .get()
            .unwrap()
    });
    // ...and if it answers with a stream anyway, its writer learns nobody reads it.
    let writer = call(&pid, |me: &mut Streamer| {
        let Pipe { writer, reader } = Pipe::new();
        me.parked[0].set(Response::stream(reader, "text/plain"));
        writer
    })
    .get()
    .unwrap();
    assert!(
        writer
            .reader_closed()
            .await_for(std::time::Duration::from_secs(10))
    );
    assert!(!writer.write("anyone?"));
}

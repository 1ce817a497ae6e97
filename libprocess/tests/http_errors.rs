//! Bad requests get a 4xx and never take the runtime down: malformed requests (400),
//! oversized heads (431) and bodies over the runtime's limit (413), both on a fresh connection
//! (the message fast path) and on one that began with an ordinary request (hyper).

mod http_support;

use http_support::{Client, get};
use libprocess::http::{Request, Response};
use libprocess::{Context, Future, Process, Runtime};

const LIMIT: usize = 1024;

struct Echo;

impl Process for Echo {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/echo", |_: &mut Echo, _ctx, request: Request| {
            let body = request.body_bytes().cloned().unwrap_or_default();
            Future::ready(Response::ok(body))
        });
    }
}

fn runtime() -> Runtime {
    let rt = Runtime::builder()
        .workers(2)
        .ip("127.0.0.1".parse().unwrap())
        .port(0)
        .max_message_body(LIMIT)
        .build();
    rt.spawn_with_id("echo", Echo).unwrap();
    rt
}

/// A connection on which hyper serves (it began with an ordinary request).
fn http_connection(rt: &Runtime) -> Client {
    let mut client = Client::connect(rt.address());
    assert_eq!(client.get("/echo/echo").status, 200);
    client
}

fn post(client: &mut Client, body: &str) {
    client.send(
        format!(
            "POST /echo/echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

#[test]
fn malformed_requests_get_400() {
    let rt = runtime();
    for first in [true, false] {
        let mut client = if first {
            Client::connect(rt.address())
        } else {
            http_connection(&rt)
        };
        client.send(b"THIS IS NOT HTTP\r\n\r\n");
        let response = client.response();
        assert_eq!(response.status, 400, "fresh connection: {first}");
    }
    let mut client = http_connection(&rt);
    client.send(b"GET /echo/echo HTTP/1.1\r\nContent-Length: nope\r\n\r\n");
    assert_eq!(client.response().status, 400);
    let mut client = http_connection(&rt);
    client.send(b"GET /echo/echo?x=%zz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.response().status, 400);
    // Still serving.
    assert_eq!(get(rt.address(), "/echo/echo").status, 200);
}

#[test]
fn oversized_heads_get_431() {
    let rt = runtime();
    let big = "x".repeat(80 * 1024);
    for first in [true, false] {
        let mut client = if first {
            Client::connect(rt.address())
        } else {
            http_connection(&rt)
        };
        client.send(format!("GET /echo/echo HTTP/1.1\r\nX-Big: {big}\r\n\r\n").as_bytes());
        assert_eq!(client.response().status, 431, "fresh connection: {first}");
    }
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let mut client = http_connection(&rt);
    client.send(format!("GET /echo/echo HTTP/1.1\r\n{many}\r\n").as_bytes());
    assert_eq!(client.response().status, 431);
    assert_eq!(get(rt.address(), "/echo/echo").status, 200);
}

#[test]
fn bodies_over_the_limit_get_413() {
    let rt = runtime();
    let mut client = http_connection(&rt);
    post(&mut client, "small");
    assert_eq!(client.response().text(), "small");

    // Known length over the limit.
    let big = "y".repeat(LIMIT + 1);
    post(&mut client, &big);
    assert_eq!(client.response().status, 413);

    // Chunked, growing over the limit.
    let mut client = http_connection(&rt);
    let mut request =
        b"POST /echo/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..4 {
        request.extend_from_slice(format!("{:x}\r\n{}\r\n", 512, "z".repeat(512)).as_bytes());
    }
    request.extend_from_slice(b"0\r\n\r\n");
    client.send(&request);
    assert_eq!(client.response().status, 413);

    // A chunked body within the limit is served whole.
    let mut client = http_connection(&rt);
    client.send(
        b"POST /echo/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    );
    assert_eq!(client.response().text(), "abcde");

    // A message over the limit on the fast path.
    let mut client = Client::connect(rt.address());
    client.send(
        format!(
            "POST /echo/hello HTTP/1.1\r\nLibprocess-From: p@127.0.0.1:1\r\nContent-Length: {}\r\n\r\n",
            LIMIT + 1
        )
        .as_bytes(),
    );
    assert_eq!(client.response().status, 413);
    assert_eq!(get(rt.address(), "/echo/echo").status, 200);
}

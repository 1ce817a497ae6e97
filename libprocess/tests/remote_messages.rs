//! Remote messages between two runtimes on 127.0.0.1, and the exact bytes on the wire.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use libprocess::{Context, Pid, Process, Runtime, Upid, call, dispatch_with};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn listening() -> Runtime {
    Runtime::builder().workers(2).ip(LOCALHOST).port(0).build()
}

/// Keeps every message it gets and answers `ping` with `pong`.
#[derive(Default)]
struct Peer {
    got: Vec<(String, Upid, Bytes)>,
    exits: Vec<Upid>,
}

impl Process for Peer {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.install("ping", |me: &mut Peer, ctx, from, body: Bytes| {
            ctx.send(&from, "pong", body.clone());
            me.got.push(("ping".into(), from, body));
        });
    }

    fn message(&mut self, _ctx: &mut Context<'_, Self>, message: libprocess::Message) {
        self.got.push((message.name, message.from, message.body));
    }

    fn exited(&mut self, _ctx: &mut Context<'_, Self>, pid: &Upid) {
        self.exits.push(pid.clone());
    }
}

fn got(pid: &Pid<Peer>) -> Vec<(String, Upid, Bytes)> {
    call(pid, |p: &mut Peer| p.got.clone()).get().unwrap()
}

/// Accepts a connection, failing the test after 10 s instead of hanging.
fn accept_within(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    for _ in 0..2000 {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                return stream;
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::park_timeout(Duration::from_millis(5));
            }
            Err(error) => panic!("accept failed: {error}"),
        }
    }
    panic!("no connection in 10 s");
}

fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if done() {
            return;
        }
        std::thread::park_timeout(Duration::from_millis(5));
    }
    panic!("condition not reached in 10 s");
}

#[test]
fn two_runtimes_exchange_messages_in_order() {
    let a = listening();
    let b = listening();
    let alice = a.spawn(Peer::default());
    let bob = b.spawn(Peer::default());
    let bob_upid = bob.upid().clone();
    dispatch_with(&alice, move |_p: &mut Peer, ctx: &mut Context<'_, Peer>| {
        for i in 0..1000u32 {
            ctx.send(&bob_upid, "ping", i.to_be_bytes().to_vec());
        }
    });
    wait_until(|| got(&alice).len() == 1000);
    let pongs = got(&alice);
    for (i, (name, from, body)) in pongs.iter().enumerate() {
        assert_eq!(name, "pong");
        assert_eq!(from, bob.upid());
        assert_eq!(&body[..], &(i as u32).to_be_bytes());
    }
    assert_eq!(got(&bob).len(), 1000);
    assert!(got(&bob).iter().all(|(_, from, _)| from == alice.upid()));
}

#[test]
fn sends_exactly_the_bytes_cpp_libprocess_sends() {
    let rt = listening();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sender = rt.spawn_with_id("server", Peer::default()).unwrap();
    let to: Upid = format!("probe@127.0.0.1:{port}").parse().unwrap();
    let t = to.clone();
    dispatch_with(
        &sender,
        move |_p: &mut Peer, ctx: &mut Context<'_, Peer>| ctx.send(&t, "pong", "hello"),
    );
    let mut conn = accept_within(&listener);
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let expected = format!(
        "POST /probe/pong HTTP/1.1\r\nUser-Agent: libprocess/{from}\r\nLibprocess-From: {from}\r\n\
         Connection: Keep-Alive\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nhello\r\n0\r\n\r\n",
        from = sender.upid()
    );
    let mut got = vec![0u8; expected.len()];
    conn.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8(got).unwrap(), expected);
    // The answer is drained; the same connection carries the next message.
    conn.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let t = to.clone();
    dispatch_with(
        &sender,
        move |_p: &mut Peer, ctx: &mut Context<'_, Peer>| ctx.send(&t, "empty", ""),
    );
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "POST /probe/empty HTTP/1.1\r\n");
}

#[test]
fn accepts_what_cpp_libprocess_and_other_peers_send() {
    let rt = listening();
    let pid = rt.spawn_with_id("receiver", Peer::default()).unwrap();
    let mut conn = TcpStream::connect(rt.address()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let requests = [
        // C++ libprocess: chunked, both headers.
        "POST /receiver/a HTTP/1.1\r\nUser-Agent: libprocess/s@127.0.0.1:1\r\nLibprocess-From: s@127.0.0.1:1\r\nConnection: Keep-Alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n0\r\n\r\n",
        // mesos-go style: Content-Length, Libprocess-From only.
        "POST /receiver/b HTTP/1.1\r\nLibprocess-From: go@127.0.0.1:2\r\nContent-Type: application/x-protobuf\r\nContent-Length: 3\r\n\r\ntwo",
        // Old peers: User-Agent only, empty body.
        "POST /receiver/c HTTP/1.1\r\nUser-Agent: libprocess/old@127.0.0.1:3\r\n\r\n",
        // Unknown process: 404.
        "POST /nobody/d HTTP/1.1\r\nLibprocess-From: s@127.0.0.1:1\r\nContent-Length: 0\r\n\r\n",
        // A garbage sender is still accepted (as libprocess does).
        "POST /receiver/e HTTP/1.1\r\nLibprocess-From: garbage\r\nContent-Length: 0\r\n\r\n",
    ];
    conn.write_all(requests.concat().as_bytes()).unwrap();
    let mut reader = BufReader::new(conn);
    let mut statuses = Vec::new();
    while statuses.len() < requests.len() {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.starts_with("HTTP/1.1") {
            statuses.push(line.split_whitespace().nth(1).unwrap().to_string());
        }
        if line.starts_with("Content-Length: 14") {
            let mut skip = String::new();
            reader.read_line(&mut skip).unwrap();
            let mut body = [0u8; 14];
            reader.read_exact(&mut body).unwrap();
            assert_eq!(&body, b"404 Not Found.");
        }
    }
    assert_eq!(statuses, ["202", "202", "202", "404", "202"]);
    wait_until(|| got(&pid).len() == 4);
    let got = got(&pid);
    assert_eq!(got[0].0, "a");
    assert_eq!(&got[0].2[..], b"one");
    assert_eq!(got[0].1.to_string(), "s@127.0.0.1:1");
    assert_eq!((&got[1].0[..], &got[1].2[..]), ("b", &b"two"[..]));
    assert_eq!(got[2].1.to_string(), "old@127.0.0.1:3");
    assert_eq!(got[3].1, Upid::none());
}

#[test]
fn remote_links_fire_exited_when_the_peer_goes_away() {
    let a = listening();
    let b = listening();
    let watcher = a.spawn(Peer::default());
    let target = b.spawn(Peer::default());
    let t = target.upid().clone();
    dispatch_with(
        &watcher,
        move |_p: &mut Peer, ctx: &mut Context<'_, Peer>| ctx.link(&t),
    );
    // A round trip proves the link's connection is up.
    let t = target.upid().clone();
    dispatch_with(
        &watcher,
        move |_p: &mut Peer, ctx: &mut Context<'_, Peer>| ctx.send(&t, "ping", "x"),
    );
    wait_until(|| !got(&watcher).is_empty());
    drop(b);
    wait_until(|| call(&watcher, |p: &mut Peer| p.exits.len()).get().unwrap() == 1);
    let exits = call(&watcher, |p: &mut Peer| p.exits.clone())
        .get()
        .unwrap();
    assert_eq!(&exits[0], target.upid());

    // Linking to an address where nobody listens fires exited too.
    let nowhere: Upid = "ghost@127.0.0.1:1".parse().unwrap();
    dispatch_with(
        &watcher,
        move |_p: &mut Peer, ctx: &mut Context<'_, Peer>| ctx.link(&nowhere),
    );
    wait_until(|| call(&watcher, |p: &mut Peer| p.exits.len()).get().unwrap() == 2);
}

#[test]
fn messages_stay_in_order_across_a_reconnect() {
    let a = listening();
    let b = listening();
    let port = b.address().port();
    let sink_upid = b
        .spawn_with_id("sink", Peer::default())
        .unwrap()
        .upid()
        .clone();
    let sender = a.spawn(Peer::default());
    let send_range = |range: std::ops::Range<u32>| {
        let to = sink_upid.clone();
        dispatch_with(
            &sender,
            move |_p: &mut Peer, ctx: &mut Context<'_, Peer>| {
                for i in range {
                    ctx.send(&to, "n", i.to_be_bytes().to_vec());
                }
            },
        );
    };
    let numbers = |pid: &Pid<Peer>| -> Vec<u32> {
        got(pid)
            .iter()
            .map(|(_, _, body)| u32::from_be_bytes(body[..4].try_into().unwrap()))
            .collect()
    };

    send_range(0..1000);
    wait_until(|| {
        b.processes()
            .iter()
            .any(|p| p.upid.id() == "sink" && p.events_processed >= 1000)
    });
    drop(b);

    // Sent while the peer is down: kept (or lost if written to the dying socket), in order.
    send_range(1000..2000);
    let b2 = Runtime::builder()
        .workers(2)
        .ip(LOCALHOST)
        .port(port)
        .build();
    let sink2 = b2.spawn_with_id("sink", Peer::default()).unwrap();
    send_range(2000..3000);
    wait_until(|| numbers(&sink2).last() == Some(&2999));
    let seen = numbers(&sink2);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "out of order or duplicated"
    );
    assert!(
        (2000..3000).all(|i| seen.contains(&i)),
        "lost a message sent after the reconnect"
    );
}

#[test]
fn filters_see_remote_messages_both_ways() {
    use libprocess::filter::Matcher;
    let a = listening();
    let b = listening();
    let alice = a.spawn(Peer::default());
    let bob = b.spawn(Peer::default());
    // The sender's runtime sees the outgoing message; the receiver's drops it on arrival.
    let outgoing = a.future_message(Matcher::name("ping").to(bob.upid()));
    let dropped = b.drop_message(Matcher::name("ping").from(alice.upid()));
    let to = bob.upid().clone();
    dispatch_with(&alice, move |_p: &mut Peer, ctx: &mut Context<'_, Peer>| {
        ctx.send(&to, "ping", "first");
        ctx.send(&to, "ping", "second");
    });
    assert_eq!(&outgoing.get().unwrap().body[..], b"first");
    assert_eq!(&dropped.get().unwrap().body[..], b"first");
    wait_until(|| got(&alice).len() == 1);
    assert_eq!(&got(&alice)[0].2[..], b"second");
    assert_eq!(got(&bob).len(), 1);
}

#[test]
fn relink_replaces_the_connection_without_an_exit() {
    let rt = listening();
    let watcher = rt.spawn(Peer::default());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let far: Upid = format!("far@{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let f = far.clone();
    dispatch_with(
        &watcher,
        move |_p: &mut Peer, ctx: &mut Context<'_, Peer>| ctx.link(&f),
    );
    let mut first = accept_within(&listener);
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let f = far.clone();
    dispatch_with(
        &watcher,
        move |_p: &mut Peer, ctx: &mut Context<'_, Peer>| ctx.relink(&f),
    );
    let second = accept_within(&listener);
    // The old connection is closed by us; the linker was not told anything.
    assert_eq!(first.read(&mut [0u8; 16]).unwrap(), 0);
    assert!(
        call(&watcher, |p: &mut Peer| p.exits.clone())
            .get()
            .unwrap()
            .is_empty()
    );

    // The new connection is the linked one: losing it fires exited.
    drop(second);
    wait_until(|| call(&watcher, |p: &mut Peer| p.exits.len()).get().unwrap() == 1);
}

//! The receiving side of remote messages: the fast path every accepted connection starts on.
//!
//! Requests are parsed straight from the socket buffer with httparse; each libprocess message
//! (a `POST` with `Libprocess-From`, or a `User-Agent: libprocess/...`) is delivered to its
//! process and answered, in order, with `202 Accepted` (or `404 Not Found` when no such process
//! lives here). Answers to everything parsed from one read go out in one write. The first
//! request that is not a message hands the connection, with the unread bytes, to the HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::message::Message;
use crate::pid::Upid;
use crate::remote::wire::{self, Head, WireError};
use crate::runtime::RtShared;
use crate::runtime::scheduler;

/// The largest request head we accept.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// Serves one accepted connection.
pub(crate) async fn serve(mut stream: TcpStream, peer: SocketAddr, shared: Arc<RtShared>) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut out: Vec<u8> = Vec::with_capacity(4 * 1024);
    let mut senders = SenderCache::default();
    loop {
        // The first process this read makes runnable is run right here, on the IO thread,
        // for one bounded batch: a reply then leaves without waking a worker (on a VM, a
        // wake-up costs more than the whole handler). What it dispatches goes to the pool.
        let (next, inline) = scheduler::capture_inline(&shared.scheduler, || {
            process_buffer(&mut buf, &mut out, &mut senders, &shared, peer)
        });
        if let Some(task) = inline {
            // The handler runs as if on a worker of this runtime: `current()` is this one.
            let _current = crate::runtime::Handle {
                shared: shared.clone(),
            }
            .enter();
            scheduler::run_inline(task);
        }
        // Answers go out after the handler, so that its reply is not queued behind them.
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        match next {
            Next::Read => {}
            Next::Close => {
                let _ = stream.shutdown().await;
                return;
            }
            Next::Http => {
                crate::http::serve(stream, buf, peer, shared).await;
                return;
            }
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// What a connection does after the complete requests in its buffer are handled.
enum Next {
    /// Read more.
    Read,
    /// Answer what was answered, then close (a bad request, or no keep-alive).
    Close,
    /// The next request is not a message: hand the connection to the HTTP server.
    Http,
}

/// Delivers every complete message at the front of `buf`, appending the answers to `out`.
fn process_buffer(
    buf: &mut BytesMut,
    out: &mut Vec<u8>,
    senders: &mut SenderCache,
    shared: &RtShared,
    peer: SocketAddr,
) -> Next {
    loop {
        let head = match wire::parse_head(buf, MAX_HEAD) {
            Ok(Some(head)) => head,
            Ok(None) => return Next::Read,
            Err(error) => {
                reject(out, &error);
                return Next::Close;
            }
        };
        if !wire::is_message(&head) {
            return Next::Http;
        }
        let (body, used) =
            match wire::parse_body(head.body, &buf[head.head_len..], shared.max_message_body) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return Next::Read,
                Err(error) => {
                    reject(out, &error);
                    return Next::Close;
                }
            };
        let status = deliver(shared, &head, body, senders, peer);
        respond(out, status);
        buf.advance(head.head_len + used);
        if !head.keep_alive {
            return Next::Close;
        }
    }
}

/// The status a message gets: delivered (202), no such process (404), no sender (500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    Accepted,
    NotFound,
    NoSender,
}

/// Recently parsed senders and receivers of one connection, to skip re-parsing `Upid`s.
#[derive(Default)]
struct SenderCache {
    from: Option<(String, Upid)>,
    to: Option<(String, Upid)>,
}

fn deliver(
    shared: &RtShared,
    head: &Head,
    body: bytes::Bytes,
    cache: &mut SenderCache,
    peer: SocketAddr,
) -> Delivery {
    let from_text = match (&head.libprocess_from, &head.user_agent) {
        (Some(from), _) => from.as_str(),
        (None, Some(ua)) => ua.strip_prefix("libprocess/").unwrap_or_default(),
        (None, None) => return Delivery::NoSender,
    };
    let from = match &cache.from {
        Some((text, upid)) if text == from_text => upid.clone(),
        _ => {
            // As libprocess: an unparsable sender is delivered as the empty `Upid`.
            let upid = from_text.parse::<Upid>().unwrap_or_else(|_| Upid::none());
            cache.from = Some((from_text.to_string(), upid.clone()));
            upid
        }
    };
    let Some((to_id, name)) = wire::split_message_path(&head.path) else {
        return Delivery::NotFound;
    };
    let to = match &cache.to {
        Some((id, upid)) if *id == to_id => upid.clone(),
        _ => {
            let upid = Upid::new(to_id.clone(), shared.address);
            cache.to = Some((to_id, upid.clone()));
            upid
        }
    };
    let message = Message {
        name: name.to_string(),
        from,
        to,
        body,
    };
    if shared.filters.is_active() && shared.filters.on_message(&message) {
        return Delivery::Accepted;
    }
    if shared.deliver_local(message) {
        Delivery::Accepted
    } else {
        tracing::debug!(%peer, path = %head.path, "message for an unknown process");
        Delivery::NotFound
    }
}

/// Delivers a message that arrived through the HTTP server (a connection that began with
/// ordinary HTTP requests); `None` if the request is not a libprocess message.
pub(crate) fn deliver_http_message(
    shared: &RtShared,
    path: &str,
    libprocess_from: Option<&str>,
    user_agent: Option<&str>,
    body: bytes::Bytes,
) -> Option<Delivery> {
    let head = Head {
        method_post: true,
        path: path.to_string(),
        libprocess_from: libprocess_from.map(|s| s.trim().to_string()),
        user_agent: user_agent.map(|s| s.trim().to_string()),
        keep_alive: true,
        body: wire::BodyKind::Empty,
        head_len: 0,
    };
    if !wire::is_message(&head) {
        return None;
    }
    let peer = SocketAddr::from(([0, 0, 0, 0], 0));
    Some(deliver(
        shared,
        &head,
        body,
        &mut SenderCache::default(),
        peer,
    ))
}

fn respond(out: &mut Vec<u8>, status: Delivery) {
    let (line, body): (&str, &str) = match status {
        Delivery::Accepted => ("202 Accepted", ""),
        Delivery::NotFound => ("404 Not Found", "404 Not Found."),
        Delivery::NoSender => ("500 Internal Server Error", ""),
    };
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
    DATE.with(|date| out.extend_from_slice(date.borrow_mut().get().as_bytes()));
    out.extend_from_slice(format!("\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
}

fn reject(out: &mut Vec<u8>, error: &WireError) {
    tracing::debug!(%error, "bad request on a message connection");
    let body = error.to_string();
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            error.status_line(),
            body.len()
        )
        .as_bytes(),
    );
}

/// The `Date` header value, formatted at most once a second per thread.
struct DateCache {
    second: u64,
    text: String,
}

impl DateCache {
    fn get(&mut self) -> &str {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}

thread_local! {
    static DATE: std::cell::RefCell<DateCache> =
        const { std::cell::RefCell::new(DateCache { second: 0, text: String::new() }) };
}

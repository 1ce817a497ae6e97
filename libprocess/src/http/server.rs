//! The HTTP/1.1 server of a connection handed over by the message fast path.
//!
//! hyper serves the connection (keep-alive; pipelined requests are answered in order, one at
//! a time), reading first the bytes the fast path had already read ([`Rewind`]). Each request
//! is, in order:
//!
//! 1. a libprocess message (`POST` with `Libprocess-From` or `User-Agent: libprocess/...`):
//!    delivered, answered `202`, `404` (no such process) or `500` (no sender);
//! 2. a path that does not start with `/` gets `400`, one with `/..` gets `404`;
//! 3. routed: the first path segment, percent-decoded, names the process; if it is not a live
//!    process id the request goes to the delegate with the whole path as the route (`/` goes
//!    to the delegate too); no process: `404`;
//! 4. checked by the firewall (first rule that answers wins);
//! 5. queued as an HTTP event of the process ([`super::route`]), whose answer is sent.
//!    A body of known length up to [`EAGER_BODY`] is read before queueing, a larger or chunked
//!    one is forwarded through a [`Pipe`] with backpressure.
//!
//! A failed response future answers `500`, a discarded one `500` (both as libprocess), an
//! abandoned one (the process terminated first) `503`. When the client goes away before the
//! answer, the answer's future gets a discard request and a streamed answer's reader is closed. `?jsonp=cb` wraps `200` JSON answers.
//! Malformed requests get `400`, heads over [`MAX_HEAD`] bytes `431`, bodies over the
//! runtime's `max_message_body` `413`, and the connection is closed.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use ::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING, USER_AGENT};
use ::http::{Method, StatusCode};
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::pipe::{Pipe, PipeError, PipeReader, PipeWriter};
use super::request::{Body, Request, decode, decode_query};
use super::response::Response;
use crate::future::FutureError;
use crate::remote::inbound::{self, Delivery};
use crate::runtime::{Handle, RtShared};

/// The largest request head (request line and headers) accepted, as on the fast path.
pub(crate) const MAX_HEAD: usize = inbound::MAX_HEAD;

/// Bodies of known length up to this size are read before the request is queued.
const EAGER_BODY: u64 = 64 * 1024;

/// Bytes of a streamed request body buffered ahead of the handler before reading pauses.
const STREAM_HIGH_WATER: usize = 256 * 1024;

/// Serves the HTTP requests of a connection; `prefix` holds bytes already read from it.
pub(crate) async fn serve(
    stream: TcpStream,
    prefix: BytesMut,
    peer: SocketAddr,
    shared: Arc<RtShared>,
) {
    let weak = Arc::downgrade(&shared);
    drop(shared);
    let io = TokioIo::new(Rewind {
        prefix: prefix.freeze(),
        stream,
    });
    let service = service_fn(move |request| {
        let shared = weak.clone();
        async move { Ok::<_, Infallible>(answer(request, shared, peer).await) }
    });
    let result = http1::Builder::new()
        .max_header_size(MAX_HEAD)
        .keep_alive(true)
        .half_close(false)
        .serve_connection(io, service)
        .await;
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "HTTP connection ended with an error");
    }
}

/// Answers one request (never fails: errors become statuses).
async fn answer(
    request: hyper::Request<Incoming>,
    shared: Weak<RtShared>,
    peer: SocketAddr,
) -> hyper::Response<ResponseBody> {
    let Some(shared) = shared.upgrade() else {
        return into_hyper(Response::service_unavailable(
            "The runtime is shutting down",
        ));
    };
    let jsonp = request
        .uri()
        .query()
        .and_then(|q| decode_query(q).ok())
        .and_then(|mut q| q.remove("jsonp"));
    let response = route(request, &shared, peer).await;
    tracing::trace!(%peer, status = %response.status, "HTTP response");
    match jsonp {
        Some(callback) => into_hyper(response.apply_jsonp(&callback)),
        None => into_hyper(response),
    }
}

fn is_message(request: &hyper::Request<Incoming>) -> bool {
    request.method() == Method::POST
        && (request.headers().contains_key("libprocess-from")
            || request
                .headers()
                .get(USER_AGENT)
                .and_then(|ua| ua.to_str().ok())
                .is_some_and(|ua| ua.trim().starts_with("libprocess/")))
}

async fn route(
    request: hyper::Request<Incoming>,
    shared: &Arc<RtShared>,
    peer: SocketAddr,
) -> Response {
    if is_message(&request) {
        return deliver_message(request, shared).await;
    }
    let (parts, incoming) = request.into_parts();
    let raw_path = parts.uri.path();
    if !raw_path.starts_with('/') {
        return Response::bad_request("Request URL path must start with '/'");
    }
    let query = match decode_query(parts.uri.query().unwrap_or_default()) {
        Ok(query) => query,
        Err(error) => return Response::bad_request(format!("Malformed query: {error}")),
    };
    if raw_path.contains("/..") {
        tracing::debug!(path = raw_path, "relative path; answering 404");
        return Response::not_found();
    }
    let delegate = shared.http.delegate();
    let first = raw_path.split('/').find(|t| !t.is_empty());
    let mut receiver = first
        .and_then(|token| decode(token).ok())
        .and_then(|id| shared.registry.get(&id));
    let mut path = raw_path.to_string();
    if receiver.is_none()
        && let Some(delegate) = &delegate
    {
        path = if first.is_none() {
            format!("/{delegate}")
        } else {
            format!("/{delegate}{raw_path}")
        };
        receiver = shared.registry.get(delegate);
    }
    let keep_alive = wants_keep_alive(&parts);
    let mut request = Request {
        method: parts.method,
        uri: parts.uri,
        path,
        query,
        headers: parts.headers,
        body: Body::empty(),
        client: Some(peer),
        principal: None,
        keep_alive,
    };
    let rules = shared.http.firewall();
    if !rules.is_empty() {
        let handle = Handle {
            shared: shared.clone(),
        };
        for rule in rules.iter() {
            if let Some(response) = rule.apply(&handle, &request) {
                tracing::debug!(path = %request.path, status = %response.status, "firewall rule forbids request");
                return response;
            }
        }
    }
    let Some(cell) = receiver else {
        tracing::debug!(path = %request.path, "no process for path; answering 404");
        return Response::not_found();
    };
    request.body = match read_body(incoming, shared.max_message_body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let answer = cell.http(request);
    let guard = Unanswered(Some(answer.clone()));
    let answer = answer.await;
    guard.disarm();
    match answer {
        Ok(response) => response,
        Err(FutureError::Failed(message)) => Response::internal_server_error(message),
        Err(FutureError::Discarded) => Response::internal_server_error("discarded future"),
        Err(FutureError::Abandoned) => {
            Response::service_unavailable("The process terminated before it answered")
        }
    }
}

/// Dropped while the answer is pending (the client went away): asks the handler to give up
/// (a discard request, as libprocess's `HttpProxy::finalize`) and closes the stream of a
/// response that still comes, so its writer learns nobody reads it.
struct Unanswered(Option<crate::future::Future<Response>>);

impl Unanswered {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(answer) = self.0.take() {
            answer.discard();
            answer.on_ready(|response| {
                if let Body::Stream(reader) = &response.body {
                    reader.close();
                }
            });
        }
    }
}

fn wants_keep_alive(parts: &::http::request::Parts) -> bool {
    let connection = parts
        .headers
        .get(::http::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    match connection.as_deref() {
        Some(c) if c.contains("close") => false,
        Some(c) if c.contains("keep-alive") => true,
        _ => parts.version >= ::http::Version::HTTP_11,
    }
}

/// The body as the HTTP event carries it: whole when small and of known length, else a stream.
async fn read_body(incoming: Incoming, limit: usize) -> Result<Body, Response> {
    if hyper::body::Body::is_end_stream(&incoming) {
        return Ok(Body::empty());
    }
    match hyper::body::Body::size_hint(&incoming).exact() {
        Some(length) if length <= EAGER_BODY.min(limit as u64) => {
            collect(incoming, limit).await.map(Body::Full)
        }
        _ => {
            let Pipe { writer, reader } = Pipe::new();
            tokio::spawn(forward(incoming, writer));
            Ok(Body::Stream(reader))
        }
    }
}

/// Reads a whole body, up to `limit` bytes.
async fn collect(mut incoming: Incoming, limit: usize) -> Result<Bytes, Response> {
    let mut body = BytesMut::new();
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|error| {
            Response::bad_request(format!("Failed to read the request body: {error}"))
        })?;
        if let Ok(data) = frame.into_data() {
            if body.len() + data.len() > limit {
                return Err(Response::payload_too_large(format!(
                    "Request body larger than {limit} bytes"
                )));
            }
            body.extend_from_slice(&data);
        }
    }
    Ok(body.freeze())
}

/// Copies a request body into a pipe, pausing while the reader is behind; stops when the
/// reader is closed.
async fn forward(mut incoming: Incoming, writer: PipeWriter) {
    loop {
        if !std::future::poll_fn(|cx| writer.poll_writable(cx, STREAM_HIGH_WATER)).await {
            return;
        }
        match incoming.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data()
                    && !writer.write(data)
                {
                    return;
                }
            }
            Some(Err(error)) => {
                writer.fail(error.to_string());
                return;
            }
            None => {
                writer.close();
                return;
            }
        }
    }
}

/// Delivers a libprocess message that came on an HTTP connection.
async fn deliver_message(request: hyper::Request<Incoming>, shared: &Arc<RtShared>) -> Response {
    let (parts, incoming) = request.into_parts();
    let body = match collect(incoming, shared.max_message_body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let delivery = inbound::deliver_http_message(
        shared,
        parts.uri.path(),
        header("libprocess-from"),
        header("user-agent"),
        body,
    );
    match delivery {
        Some(Delivery::Accepted) => Response::accepted(),
        Some(Delivery::NotFound) => Response::not_found(),
        Some(Delivery::NoSender) | None => {
            Response::internal_server_error("Failed to determine the sender of the message")
        }
    }
}

fn into_hyper(response: Response) -> hyper::Response<ResponseBody> {
    let Response {
        status,
        mut headers,
        body,
    } = response;
    headers.remove(CONTENT_LENGTH);
    headers.remove(TRANSFER_ENCODING);
    let body = match body {
        Body::Full(bytes) => ResponseBody::Full(Some(bytes)),
        Body::Stream(reader) => ResponseBody::Pipe(reader),
    };
    let mut out = hyper::Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    if status == StatusCode::NO_CONTENT {
        *out.body_mut() = ResponseBody::Full(None);
    }
    out
}

/// A response body for hyper: whole bytes or a pipe. Dropping it (the response was sent, or
/// the client went away) closes the pipe's reader, which tells the writer.
pub(crate) enum ResponseBody {
    Full(Option<Bytes>),
    Pipe(PipeReader),
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let ResponseBody::Pipe(reader) = self {
            reader.close();
        }
    }
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = PipeError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, PipeError>>> {
        match self.get_mut() {
            ResponseBody::Full(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            ResponseBody::Pipe(reader) => reader
                .poll_chunk(cx)
                .map(|chunk| chunk.map(|chunk| chunk.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            ResponseBody::Pipe(reader) => reader.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            ResponseBody::Pipe(_) => SizeHint::default(),
        }
    }
}

/// The connection's stream, with the bytes the fast path already read in front.
struct Rewind {
    prefix: Bytes,
    stream: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

//! An HTTP/1.1 client, as libprocess's `http::get`, `http::post`, `http::request`,
//! `http::streaming` and `http::Connection`.
//!
//! Requests run on a small tokio runtime of their own (one IO thread, started on first use),
//! so they can be made from a process handler, a plain thread or a test alike; the answer is a
//! [`Future`] of a [`Response`], to chain with `then`/`defer` or to `.await`.
//!
//! - [`get`], [`post`], [`request`]: one request on a fresh connection, the whole body read
//!   into [`Body::Full`].
//! - [`streaming`]: the answer as soon as its head arrives, the body as a [`Body::Stream`]
//!   whose chunks come as the server sends them (a RecordIO event stream, say). Closing or
//!   dropping the reader closes the connection.
//! - [`connect`]: one persistent connection for several requests in turn, as a scheduler
//!   keeps one for its subscription and another for its calls. [`Connection::disconnected`]
//!   tells when the server or the network closed it.
//!
//! Failures (a refused connection, a reset, an answer that is not HTTP) fail the future with a
//! message. Redirects are returned as they are, for the caller to follow. There is no timeout
//! of its own: use [`Future::after`].
//!
//! ```
//! use libprocess::http::client;
//! use libprocess::http::{Response, StatusCode};
//! use libprocess::{Future, Process, Runtime};
//!
//! struct Hello;
//! impl Process for Hello {
//!     fn initialize(&mut self, ctx: &mut libprocess::Context<'_, Self>) {
//!         ctx.route("/hi", |_: &mut Hello, _ctx, _request| Future::ready(Response::ok("hello")));
//!     }
//! }
//!
//! let runtime = Runtime::builder().ip("127.0.0.1".parse().unwrap()).port(0).build();
//! runtime.spawn_with_id("hello", Hello).unwrap();
//!
//! let url = format!("http://{}/hello/hi", runtime.address());
//! let response = client::get(&url).get().unwrap();
//! assert_eq!(response.status, StatusCode::OK);
//! assert_eq!(response.body_bytes().unwrap(), "hello");
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use ::http::header::{CONTENT_TYPE, HOST, HeaderName};
use ::http::uri::{Authority, Scheme};
use ::http::{HeaderMap, HeaderValue, Method, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::pipe::{Pipe, PipeWriter};
use super::request::Body;
use super::response::Response;
use crate::future::{Future, Promise};

/// Bytes of a streamed answer buffered ahead of its reader before reading pauses.
const STREAM_HIGH_WATER: usize = 256 * 1024;

/// Why a request could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL does not parse.
    #[error("invalid URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name or value is not valid HTTP.
    #[error("invalid header '{0}'")]
    InvalidHeader(String),
}

/// A request to send: a method, an absolute `http://` URL, headers and a body.
#[derive(Clone)]
pub struct ClientRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL (`http://host:port/path?query`).
    pub uri: Uri,
    /// Headers to send; `Host` is added from the URL when absent.
    pub headers: HeaderMap,
    /// The body (`Content-Length` is set from it).
    pub body: Bytes,
}

impl fmt::Debug for ClientRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRequest")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("body", &self.body.len())
            .finish()
    }
}

impl ClientRequest {
    /// A request of `method` to `url`, which must be `http://host[:port]/...` (port 80 when not
    /// given).
    pub fn new(method: Method, url: &str) -> Result<ClientRequest, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: ::http::uri::InvalidUri| invalid(&e.to_string()))?;
        match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTP => {}
            Some(scheme) => return Err(invalid(&format!("scheme '{scheme}' is not supported"))),
            None => return Err(invalid("not an absolute http:// URL")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        Ok(ClientRequest {
            method,
            uri,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        })
    }

    /// A `GET` of `url`.
    pub fn get(url: &str) -> Result<ClientRequest, ClientError> {
        ClientRequest::new(Method::GET, url)
    }

    /// A `POST` to `url`.
    pub fn post(url: &str) -> Result<ClientRequest, ClientError> {
        ClientRequest::new(Method::POST, url)
    }

    /// Adds header `name: value` (earlier values of the name are kept).
    pub fn header<K, V>(mut self, name: K, value: V) -> Result<ClientRequest, ClientError>
    where
        K: TryInto<HeaderName> + fmt::Display + Clone,
        V: TryInto<HeaderValue>,
    {
        let shown = name.to_string();
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
                Ok(self)
            }
            _ => Err(ClientError::InvalidHeader(shown)),
        }
    }

    /// Sets the body and its `Content-Type`.
    pub fn body(mut self, content_type: &str, body: impl Into<Bytes>) -> ClientRequest {
        match HeaderValue::from_str(content_type) {
            Ok(value) => {
                self.headers.insert(CONTENT_TYPE, value);
            }
            Err(_) => tracing::warn!(content_type, "invalid content type skipped"),
        }
        self.body = body.into();
        self
    }

    fn authority(&self) -> Authority {
        self.uri.authority().cloned().expect("checked in new")
    }

    fn port(&self) -> u16 {
        self.uri.port_u16().unwrap_or(80)
    }

    /// The request as hyper sends it on a connection: origin-form target, `Host` set.
    fn into_hyper(self) -> ::http::Request<Full<Bytes>> {
        let target = self
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let host = self.authority();
        let mut request = ::http::Request::new(Full::new(self.body));
        *request.method_mut() = self.method;
        *request.uri_mut() = target.parse().unwrap_or_else(|_| Uri::from_static("/"));
        *request.headers_mut() = self.headers;
        if !request.headers().contains_key(HOST)
            && let Ok(value) = HeaderValue::from_str(host.as_str())
        {
            request.headers_mut().insert(HOST, value);
        }
        request
    }
}

/// The tokio runtime that drives client connections.
fn io() -> &'static tokio::runtime::Runtime {
    static IO: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    IO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("libprocess-http-client")
            .enable_all()
            .build()
            .expect("cannot start the HTTP client's IO thread")
    })
}

/// Runs `task` on the client's IO thread; its result completes the returned future.
fn run<T, F>(task: F) -> Future<T>
where
    T: Send + Sync + 'static,
    F: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let promise = Promise::new();
    let future = promise.future();
    let handle = io().spawn(async move {
        match task.await {
            Ok(value) => promise.set(value),
            Err(message) => promise.fail(message),
        };
    });
    future.on_discard(move || handle.abort());
    future
}

/// `GET url`, the whole answer read.
pub fn get(url: &str) -> Future<Response> {
    match ClientRequest::get(url) {
        Ok(request) => self::request(request),
        Err(error) => Future::failed(error.to_string()),
    }
}

/// `POST url` with `body` of `content_type`, the whole answer read.
pub fn post(url: &str, content_type: &str, body: impl Into<Bytes>) -> Future<Response> {
    match ClientRequest::post(url) {
        Ok(request) => self::request(request.body(content_type, body)),
        Err(error) => Future::failed(error.to_string()),
    }
}

/// Sends `request` on a fresh connection; the answer comes with its whole body.
pub fn request(request: ClientRequest) -> Future<Response> {
    run(async move {
        let (mut sender, connection) = open(&request).await?;
        let driver = tokio::spawn(connection);
        let response = exchange(&mut sender, request).await?;
        let response = buffered(response).await;
        drop(sender);
        let _ = driver.await;
        response
    })
}

/// Sends `request` on a fresh connection; the answer comes once its head arrives, its body
/// streamed ([`Body::Stream`]). The connection closes at the end of the body or when the reader
/// is closed.
pub fn streaming(request: ClientRequest) -> Future<Response> {
    run(async move {
        let (mut sender, connection) = open(&request).await?;
        let driver = tokio::spawn(connection);
        let response = exchange(&mut sender, request).await?;
        Ok(stream(response, move || {
            drop(sender);
            drop(driver);
        }))
    })
}

/// Opens one persistent connection to `address`.
pub fn connect(address: SocketAddr) -> Future<Connection> {
    run(async move {
        let stream = TcpStream::connect(address)
            .await
            .map_err(|e| format!("failed to connect to {address}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("failed to connect to {address}: {e}"))?;
        let closed = Promise::new();
        let disconnected = closed.future();
        let driver = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%address, %error, "HTTP connection closed");
            }
            closed.set(());
        });
        let (queue, jobs) = tokio::sync::mpsc::unbounded_channel();
        let dispatcher = tokio::spawn(dispatch(sender, jobs));
        Ok(Connection {
            inner: Arc::new(ConnectionInner {
                address,
                queue,
                driver,
                dispatcher,
                disconnected,
            }),
        })
    })
}

/// One persistent HTTP/1.1 connection; requests go one at a time, in the order sent. Clones
/// share the connection; it closes when [`Connection::disconnect`] is called, when the last
/// clone is dropped, or when the peer closes it.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<ConnectionInner>,
}

struct ConnectionInner {
    address: SocketAddr,
    /// Requests in the order they were sent, for the dispatcher.
    queue: tokio::sync::mpsc::UnboundedSender<Job>,
    driver: tokio::task::JoinHandle<()>,
    dispatcher: tokio::task::JoinHandle<()>,
    disconnected: Future<()>,
}

/// A request waiting for its turn on a connection.
struct Job {
    request: ClientRequest,
    streaming: bool,
    promise: Promise<Response>,
}

impl Drop for ConnectionInner {
    fn drop(&mut self) {
        self.dispatcher.abort();
        self.driver.abort();
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.inner.address)
            .field("disconnected", &!self.inner.disconnected.is_pending())
            .finish()
    }
}

impl Connection {
    /// The address connected to.
    pub fn peer(&self) -> SocketAddr {
        self.inner.address
    }

    /// Sends `request` once the requests sent before it are answered; the answer comes with
    /// its whole body.
    pub fn send(&self, request: ClientRequest) -> Future<Response> {
        self.enqueue(request, false)
    }

    /// Sends `request` in turn; the answer comes once its head arrives, its body streamed.
    /// Later requests on this connection wait until that body ends.
    pub fn send_streaming(&self, request: ClientRequest) -> Future<Response> {
        self.enqueue(request, true)
    }

    fn enqueue(&self, request: ClientRequest, streaming: bool) -> Future<Response> {
        let promise = Promise::new();
        let future = promise.future();
        let job = Job {
            request,
            streaming,
            promise,
        };
        if let Err(rejected) = self.inner.queue.send(job) {
            rejected
                .0
                .promise
                .fail(format!("connection to {} closed", self.inner.address));
        }
        future
    }

    /// Closes the connection; requests in flight fail and a streamed body ends with a failure.
    pub fn disconnect(&self) {
        self.inner.dispatcher.abort();
        self.inner.driver.abort();
    }

    /// Completes when the connection is closed, by either side.
    pub fn disconnected(&self) -> Future<()> {
        self.inner.disconnected.clone()
    }
}

/// Sends the connection's requests one after the other, in the order they were queued; a
/// whole answer's body is read on a task of its own while the next request waits its turn.
async fn dispatch(
    mut sender: http1::SendRequest<Full<Bytes>>,
    mut jobs: tokio::sync::mpsc::UnboundedReceiver<Job>,
) {
    while let Some(job) = jobs.recv().await {
        match exchange(&mut sender, job.request).await {
            Ok(response) if job.streaming => {
                job.promise.set(stream(response, || {}));
            }
            Ok(response) => {
                tokio::spawn(async move {
                    match buffered(response).await {
                        Ok(response) => job.promise.set(response),
                        Err(message) => job.promise.fail(message),
                    };
                });
            }
            Err(message) => {
                job.promise.fail(message);
            }
        }
    }
}

type Handshake = (
    http1::SendRequest<Full<Bytes>>,
    http1::Connection<TokioIo<TcpStream>, Full<Bytes>>,
);

/// Resolves the request's host and opens a connection to the first address that answers.
async fn open(request: &ClientRequest) -> Result<Handshake, String> {
    let authority = request.authority();
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let addresses = tokio::net::lookup_host((host, request.port()))
        .await
        .map_err(|e| format!("failed to resolve '{host}': {e}"))?;
    let mut last = format!("no address for '{host}'");
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| format!("failed to connect to {address}: {e}"));
            }
            Err(error) => last = format!("failed to connect to {address}: {error}"),
        }
    }
    Err(last)
}

async fn exchange(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    request: ClientRequest,
) -> Result<::http::Response<Incoming>, String> {
    let target = request.uri.clone();
    sender
        .ready()
        .await
        .map_err(|e| format!("connection to {} closed: {e}", target))?;
    sender
        .send_request(request.into_hyper())
        .await
        .map_err(|e| format!("request to {target} failed: {e}"))
}

async fn buffered(response: ::http::Response<Incoming>) -> Result<Response, String> {
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| format!("failed to read the answer's body: {e}"))?
        .to_bytes();
    Ok(Response {
        status: parts.status,
        headers: parts.headers,
        body: Body::Full(bytes),
    })
}

/// The answer with a streamed body, fed by a task on the IO thread; `finished` runs when the
/// body ends, fails or its reader goes away.
fn stream(
    response: ::http::Response<Incoming>,
    finished: impl FnOnce() + Send + 'static,
) -> Response {
    let (parts, incoming) = response.into_parts();
    let Pipe { writer, reader } = Pipe::new();
    tokio::spawn(async move {
        pump(incoming, writer).await;
        finished();
    });
    Response {
        status: parts.status,
        headers: parts.headers,
        body: Body::Stream(reader),
    }
}

async fn pump(mut incoming: Incoming, writer: PipeWriter) {
    let reader_closed = writer.reader_closed();
    loop {
        if !std::future::poll_fn(|cx| writer.poll_writable(cx, STREAM_HIGH_WATER)).await {
            return;
        }
        let frame = tokio::select! {
            frame = incoming.frame() => frame,
            _ = reader_closed.clone() => return,
        };
        match frame {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data()
                    && !data.is_empty()
                    && !writer.write(data)
                {
                    return;
                }
            }
            Some(Err(error)) => {
                writer.fail(format!("the answer's body broke off: {error}"));
                return;
            }
            None => {
                writer.close();
                return;
            }
        }
    }
}

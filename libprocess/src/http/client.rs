//! An HTTP/1.1 client, over plain TCP (`http://`) or TLS (`https://`), as libprocess's
//! `http::get`, `http::post`, `http::request`, `http::streaming` and `http::Connection`.
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
//! `https://host[:port]/...` (port 443 when not given) connects, does a TLS handshake with
//! `host` as the server name (SNI) and checks the server's certificate chain and name, then
//! speaks the same HTTP/1.1. TLS is rustls (pure Rust, the `ring` provider: no OpenSSL). The
//! certificates trusted are:
//! - the Mozilla root store built in (`webpki-roots`);
//! - the PEM certificates in the file named by the `SSL_CERT_FILE` environment variable, when
//!   it is set at the first `https://` request, so operators can trust a private CA;
//! - those given to [`add_root_certificate_pem`], from then on.
//!
//! A certificate that does not chain to one of these, or is not for the host of the URL,
//! fails the request with "certificate ... not trusted for host ...".
//!
//! Failures (a refused connection, a reset, a failed TLS handshake, an answer that is not HTTP)
//! fail the future with a message. Redirects are returned as they are, for the caller to follow. There is no timeout
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
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};

use ::http::header::{CONTENT_TYPE, HOST, HeaderName};
use ::http::uri::{Authority, Scheme};
use ::http::{HeaderMap, HeaderValue, Method, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

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
    /// Certificates given to trust could not be used.
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
}

/// A request to send: a method, an absolute `http://` or `https://` URL, headers and a body.
#[derive(Clone)]
pub struct ClientRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL (`http://host:port/path?query`, or `https://...`).
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
    /// given) or `https://host[:port]/...` (port 443).
    pub fn new(method: Method, url: &str) -> Result<ClientRequest, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: ::http::uri::InvalidUri| invalid(&e.to_string()))?;
        match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS => {}
            Some(scheme) => return Err(invalid(&format!("scheme '{scheme}' is not supported"))),
            None => return Err(invalid("not an absolute http:// or https:// URL")),
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

    fn is_tls(&self) -> bool {
        self.uri.scheme() == Some(&Scheme::HTTPS)
    }

    fn port(&self) -> u16 {
        self.uri
            .port_u16()
            .unwrap_or(if self.is_tls() { 443 } else { 80 })
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

/// Opens one persistent plain-TCP connection to `address`.
pub fn connect(address: SocketAddr) -> Future<Connection> {
    run(async move {
        let stream = TcpStream::connect(address)
            .await
            .map_err(|e| format!("failed to connect to {address}: {e}"))?;
        let _ = stream.set_nodelay(true);
        persistent(address, Stream::Plain(stream)).await
    })
}

/// Opens one persistent TLS connection to `host:port`, as for `https://host:port/`: the
/// server's certificate must be trusted for `host`.
pub fn connect_tls(host: &str, port: u16) -> Future<Connection> {
    let host = host.to_string();
    run(async move {
        let (address, stream) = dial(&host, port, true).await?;
        persistent(address, stream).await
    })
}

/// Starts HTTP/1.1 on `stream` (connected to `address`) as a persistent [`Connection`].
async fn persistent(address: SocketAddr, stream: Stream) -> Result<Connection, String> {
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
    http1::Connection<TokioIo<Stream>, Full<Bytes>>,
);

/// Resolves the request's host, connects to the first address that answers (with TLS for
/// `https://`) and starts HTTP/1.1 on it.
async fn open(request: &ClientRequest) -> Result<Handshake, String> {
    let authority = request.authority();
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let (address, stream) = dial(host, request.port(), request.is_tls()).await?;
    http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("failed to connect to {address}: {e}"))
}

/// Resolves `host`, connects to the first of its addresses that answers and, when `tls`, does
/// the TLS handshake on that connection with `host` as the server name.
async fn dial(host: &str, port: u16, tls: bool) -> Result<(SocketAddr, Stream), String> {
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("failed to resolve '{host}': {e}"))?;
    let mut last = format!("no address for '{host}'");
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                if !tls {
                    return Ok((address, Stream::Plain(stream)));
                }
                let stream = handshake(host, address, stream).await?;
                return Ok((address, Stream::Tls(Box::new(stream))));
            }
            Err(error) => last = format!("failed to connect to {address}: {error}"),
        }
    }
    Err(last)
}

/// The TLS handshake as the client of `host` (reached at `address`).
async fn handshake(
    host: &str,
    address: SocketAddr,
    stream: TcpStream,
) -> Result<TlsStream<TcpStream>, String> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("invalid TLS server name '{host}': {e}"))?;
    TlsConnector::from(tls_config())
        .connect(name, stream)
        .await
        .map_err(|error| {
            let tls = error
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            match tls {
                Some(rustls::Error::InvalidCertificate(reason)) => format!(
                    "TLS handshake with {address} failed: the server's certificate is not \
                     trusted for host '{host}': {}",
                    certificate_problem(reason)
                ),
                _ => format!("TLS handshake with {address} (host '{host}') failed: {error}"),
            }
        })
}

/// A reader's words for why a certificate was refused.
fn certificate_problem(error: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    match error {
        E::UnknownIssuer | E::BadSignature => format!(
            "it is not signed by a trusted authority ({error}; trust its CA with SSL_CERT_FILE)"
        ),
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            format!("it is issued for other names ({error})")
        }
        E::Expired | E::ExpiredContext { .. } => format!("it has expired ({error})"),
        E::NotValidYet | E::NotValidYetContext { .. } => {
            format!("it is not valid yet ({error})")
        }
        E::Revoked => "it is revoked".to_string(),
        other => other.to_string(),
    }
}

/// Certificates trusted besides the built-in roots, from [`add_root_certificate_pem`].
static EXTRA_ROOTS: Mutex<Vec<CertificateDer<'static>>> = Mutex::new(Vec::new());

/// The TLS settings of `https://` requests, built on first use and again after
/// [`add_root_certificate_pem`].
static TLS_CONFIG: Mutex<Option<Arc<rustls::ClientConfig>>> = Mutex::new(None);

/// The `SSL_CERT_FILE` certificates, read once.
fn ssl_cert_file_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) else {
            return Vec::new();
        };
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|pem| parse_pem(&pem).map_err(|e| e.to_string()))
        {
            Ok(roots) => {
                tracing::info!(path = %path.to_string_lossy(), count = roots.len(),
                    "trusting the certificates of SSL_CERT_FILE");
                roots
            }
            Err(error) => {
                tracing::warn!(path = %path.to_string_lossy(), %error,
                    "cannot read SSL_CERT_FILE; its certificates are not trusted");
                Vec::new()
            }
        }
    })
}

fn parse_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::InvalidCertificate(format!("bad PEM: {e}")))?;
    if certificates.is_empty() {
        return Err(ClientError::InvalidCertificate(
            "no CERTIFICATE in the PEM text".to_string(),
        ));
    }
    Ok(certificates)
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut cached = TLS_CONFIG.lock();
    if let Some(config) = cached.as_ref() {
        return config.clone();
    }
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let (_, ignored) = roots.add_parsable_certificates(ssl_cert_file_roots().iter().cloned());
    if ignored > 0 {
        tracing::warn!(
            ignored,
            "certificates of SSL_CERT_FILE ignored: not usable as roots"
        );
    }
    roots.add_parsable_certificates(EXTRA_ROOTS.lock().iter().cloned());
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    *cached = Some(config.clone());
    config
}

/// Trusts, for the `https://` requests made from now on in this process, the certificates of
/// `pem` (one or more `-----BEGIN CERTIFICATE-----` blocks) as root authorities, besides the
/// built-in ones and those of `SSL_CERT_FILE`. Returns how many were added; an error, and
/// nothing trusted, when the text holds no certificate or one that cannot be a root.
pub fn add_root_certificate_pem(pem: &[u8]) -> Result<usize, ClientError> {
    let certificates = parse_pem(pem)?;
    let mut check = rustls::RootCertStore::empty();
    for certificate in &certificates {
        check
            .add(certificate.clone())
            .map_err(|e| ClientError::InvalidCertificate(e.to_string()))?;
    }
    let count = certificates.len();
    EXTRA_ROOTS.lock().extend(certificates);
    *TLS_CONFIG.lock() = None;
    Ok(count)
}

/// A connection's byte stream: plain TCP or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(stream) => stream.is_write_vectored(),
            Stream::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
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

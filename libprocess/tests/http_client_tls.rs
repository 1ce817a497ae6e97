//! `https://` in the HTTP client, against a TLS server run by the test with a certificate made
//! at test time (rcgen). Each test makes its own certificate and trusts it (or not) through
//! `client::add_root_certificate_pem`, so the tests do not depend on one another.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use libprocess::http::client::{self, ClientRequest};
use libprocess::http::{Method, StatusCode};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A TLS HTTP server on 127.0.0.1 that answers `<method> <path> <body>` to every request.
struct TlsServer {
    address: SocketAddr,
    /// Its certificate, PEM.
    pem: String,
    _runtime: tokio::runtime::Runtime,
}

impl TlsServer {
    /// A server whose self-signed certificate names `names`.
    fn start(names: &[&str]) -> TlsServer {
        let (certificate, key) = self_signed(names);
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![certificate.der().clone()], key)
        .expect("server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let address = listener.local_addr().expect("address");
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(answer);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        TlsServer {
            address,
            pem: certificate.pem(),
            _runtime: runtime,
        }
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.address.port())
    }
}

/// A self-signed certificate for `names` and its key. Each has a distinguished name of its own:
/// a client that trusts one certificate and meets another of the same name would take it for
/// a forgery (a bad signature) rather than an unknown issuer.
fn self_signed(names: &[&str]) -> (rcgen::Certificate, PrivateKeyDer<'static>) {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).expect("names");
    let unique = format!(
        "libprocess test {} {}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    );
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, unique);
    let key = rcgen::KeyPair::generate().expect("key");
    let certificate = params.self_signed(&key).expect("certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (certificate, key)
}

async fn answer(
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = format!("{method} {path} {}", String::from_utf8_lossy(&body));
    Ok(hyper::Response::new(Full::new(Bytes::from(text))))
}

fn text(response: &libprocess::http::Response) -> String {
    String::from_utf8(response.body_bytes().expect("whole body").to_vec()).expect("utf-8")
}

fn failure<T: Send + Sync + Clone + 'static>(future: libprocess::Future<T>) -> String {
    assert!(future.await_for(Duration::from_secs(10)), "no answer");
    match future.get() {
        Ok(_) => panic!("the request should have failed"),
        Err(message) => message.to_string(),
    }
}

#[test]
fn get_post_streaming_and_a_connection_over_https() {
    let server = TlsServer::start(&["localhost"]);
    assert_eq!(
        client::add_root_certificate_pem(server.pem.as_bytes()).unwrap(),
        1
    );

    let response = client::get(&server.url("localhost", "/hello"))
        .get()
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(text(&response), "GET /hello ");

    let response = client::post(&server.url("localhost", "/in"), "text/plain", "payload")
        .get()
        .unwrap();
    assert_eq!(text(&response), "POST /in payload");

    let request = ClientRequest::new(Method::GET, &server.url("localhost", "/s")).unwrap();
    let response = client::streaming(request).get().unwrap();
    let libprocess::http::Body::Stream(reader) = response.body else {
        panic!("a streamed body");
    };
    let mut streamed = Vec::new();
    while let Some(chunk) = reader.read().get().unwrap() {
        streamed.extend_from_slice(&chunk);
    }
    assert_eq!(streamed, b"GET /s ");

    let connection = client::connect_tls("localhost", server.address.port())
        .get()
        .unwrap();
    for path in ["/one", "/two"] {
        let request = ClientRequest::get(&server.url("localhost", path)).unwrap();
        let response = connection.send(request).get().unwrap();
        assert_eq!(text(&response), format!("GET {path} "));
    }
    connection.disconnect();
}

#[test]
fn an_untrusted_certificate_fails_clearly() {
    let server = TlsServer::start(&["localhost"]);
    let message = failure(client::get(&server.url("localhost", "/")));
    assert!(
        message.contains("certificate is not trusted for host 'localhost'"),
        "{message}"
    );
    assert!(
        message.contains("not signed by a trusted authority"),
        "{message}"
    );
}

#[test]
fn a_certificate_for_another_host_fails_clearly() {
    let server = TlsServer::start(&["other.example"]);
    client::add_root_certificate_pem(server.pem.as_bytes()).unwrap();
    let message = failure(client::get(&server.url("localhost", "/")));
    assert!(
        message.contains("certificate is not trusted for host 'localhost'"),
        "{message}"
    );
    assert!(message.contains("issued for other names"), "{message}");

    let message = failure(client::connect_tls("127.0.0.1", server.address.port()));
    assert!(
        message.contains("not trusted for host '127.0.0.1'"),
        "{message}"
    );
}

#[test]
fn bad_certificates_to_trust_are_refused() {
    let error = client::add_root_certificate_pem(b"not a certificate").unwrap_err();
    assert!(error.to_string().contains("no CERTIFICATE"), "{error}");
    let error = client::add_root_certificate_pem(
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap_err();
    assert!(
        error.to_string().starts_with("invalid certificate"),
        "{error}"
    );
}

#[test]
fn https_urls_are_accepted_and_other_schemes_refused() {
    assert!(ClientRequest::get("https://localhost/x").is_ok());
    let error = ClientRequest::get("ftp://localhost/x").unwrap_err();
    assert!(error.to_string().contains("not supported"), "{error}");
    // Nothing listens on this port: the failure is the connection, not the scheme.
    let message = failure(client::get("https://127.0.0.1:1/"));
    assert!(message.contains("failed to connect"), "{message}");
}

/// `SSL_CERT_FILE` is read once per process, at the first `https://` request: this test runs
/// the next one in a child process of this test binary, with the variable set to a PEM file
/// holding the server's certificate.
#[test]
fn the_certificates_of_ssl_cert_file_are_trusted() {
    let server = TlsServer::start(&["localhost"]);
    let dir = std::env::temp_dir().join(format!("libprocess-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("ca.pem");
    std::fs::write(&pem, &server.pem).unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "ssl_cert_file_child", "--ignored", "--nocapture"])
        .env("SSL_CERT_FILE", &pem)
        .env("TLS_TEST_URL", server.url("localhost", "/env"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

/// Run by the test above only.
#[test]
#[ignore = "run by the_certificates_of_ssl_cert_file_are_trusted, with SSL_CERT_FILE set"]
fn ssl_cert_file_child() {
    let url = std::env::var("TLS_TEST_URL").expect("TLS_TEST_URL");
    let response = client::get(&url).get().unwrap();
    assert_eq!(text(&response), "GET /env ");
}

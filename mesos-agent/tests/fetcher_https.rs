//! The fetcher over `https://`: a local TLS server (tokio-rustls, its certificate made at test
//! time) serves a `.tar.gz`, directly and through a redirect; the fetch puts it in the sandbox
//! and extracts it. A server whose certificate is not trusted fails the fetch and says why.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use libprocess::Runtime;
use libprocess::http::client;
use mesos_agent::fetcher::{Fetcher, FetcherOptions};
use mesos_core::v0::command_info::Uri;
use mesos_core::v0::{CommandInfo, ContainerId};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

/// An HTTPS server on 127.0.0.1 for the name `localhost`: `/files/app.tar.gz` is the archive,
/// `/moved` redirects to it, anything else is a 404. One request per connection.
struct HttpsServer {
    address: SocketAddr,
    /// Its self-signed certificate, PEM.
    pem: String,
    _runtime: tokio::runtime::Runtime,
}

impl HttpsServer {
    fn start(archive: Vec<u8>) -> HttpsServer {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        // A name of its own, so that trusting one test server's certificate does not make
        // another's look forged.
        let unique = format!(
            "fetcher test {} {}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, unique);
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![certificate.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        let archive = Arc::new(archive);
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let archive = archive.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = serve(tls, &archive).await;
                    }
                });
            }
        });
        HttpsServer {
            address,
            pem: certificate.pem(),
            _runtime: runtime,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.address.port())
    }
}

/// Reads one request's head and writes a fixed answer for its path, then closes.
async fn serve<S>(mut stream: S, archive: &[u8]) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let (status, extra, body): (&str, &str, &[u8]) = match path.as_str() {
        "/files/app.tar.gz" => ("200 OK", "", archive),
        "/moved" => ("302 Found", "Location: /files/app.tar.gz\r\n", b""),
        _ => ("404 Not Found", "", b""),
    };
    let answer = format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(answer.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// A `.tar.gz` of `app/run.sh` (0755) and `app/data.txt`.
fn archive() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, mode, data) in [
        ("app/run.sh", 0o755, &b"#!/bin/sh\necho hi\n"[..]),
        ("app/data.txt", 0o644, &b"payload"[..]),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        builder.append_data(&mut header, path, data).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&tar).unwrap();
    encoder.finish().unwrap()
}

/// A libprocess runtime, a fetcher on it and a scratch directory removed at the end.
struct Setup {
    runtime: Runtime,
    base: PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

impl Setup {
    fn new(name: &str) -> Setup {
        let runtime = Runtime::builder()
            .workers(2)
            .ip("127.0.0.1".parse().unwrap())
            .port(0)
            .build();
        let base =
            std::env::temp_dir().join(format!("mesos-fetch-https-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        Setup { runtime, base }
    }

    fn fetcher(&self) -> Fetcher {
        let _guard = self.runtime.enter();
        Fetcher::new(FetcherOptions {
            cache_dir: self.base.join("cache"),
            stall_timeout: Duration::from_secs(5),
            ..FetcherOptions::default()
        })
    }

    fn sandbox(&self, name: &str) -> PathBuf {
        let dir = self.base.join("sandboxes").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

fn fetch(fetcher: &Fetcher, url: &str, sandbox: &Path) -> Result<(), String> {
    let id = ContainerId {
        value: format!("c-{}", sandbox.display()),
        ..Default::default()
    };
    let command = CommandInfo {
        uris: vec![Uri {
            value: url.to_owned(),
            ..Default::default()
        }],
        value: Some("true".into()),
        ..Default::default()
    };
    let future = fetcher.fetch(&id, &command, sandbox, None);
    assert!(
        future.await_for(Duration::from_secs(30)),
        "fetch did not finish"
    );
    future.get().map_err(|e| e.to_string())
}

fn assert_extracted(sandbox: &Path, archive_name: &str) {
    assert!(sandbox.join(archive_name).is_file(), "the archive stays");
    assert_eq!(
        std::fs::read(sandbox.join("app/data.txt")).unwrap(),
        b"payload"
    );
    let mode = std::fs::metadata(sandbox.join("app/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn an_https_archive_is_downloaded_and_extracted() {
    let bytes = archive();
    let server = HttpsServer::start(bytes.clone());
    client::add_root_certificate_pem(server.pem.as_bytes()).unwrap();
    let setup = Setup::new("direct");
    let fetcher = setup.fetcher();

    let sandbox = setup.sandbox("direct");
    fetch(&fetcher, &server.url("/files/app.tar.gz"), &sandbox).unwrap();
    assert_extracted(&sandbox, "app.tar.gz");

    // Through a redirect: the file is named after the URI asked for, as over http://.
    let sandbox = setup.sandbox("redirected");
    fetch(&fetcher, &server.url("/moved"), &sandbox).unwrap();
    assert_eq!(std::fs::read(sandbox.join("moved")).unwrap(), bytes);

    let sandbox = setup.sandbox("missing");
    let missing = fetch(&fetcher, &server.url("/files/none.tar.gz"), &sandbox).unwrap_err();
    assert!(missing.contains("HTTP return code 404"), "{missing}");
}

#[test]
fn an_untrusted_https_server_fails_the_fetch() {
    let server = HttpsServer::start(archive());
    let setup = Setup::new("untrusted");
    let fetcher = setup.fetcher();
    let sandbox = setup.sandbox("untrusted");
    let error = fetch(&fetcher, &server.url("/files/app.tar.gz"), &sandbox).unwrap_err();
    assert!(
        error.contains("certificate is not trusted for host 'localhost'"),
        "{error}"
    );
    assert!(error.contains("app.tar.gz"), "{error}");
    assert!(!sandbox.join("app").exists(), "nothing extracted");
}

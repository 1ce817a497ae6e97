//! The fetcher against a local HTTP server (a libprocess route in the test) and local
//! files: extraction of every archive kind, `executable`, `output_file`, the cache (hits,
//! LRU eviction, size bound), and failures that say what went wrong.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use libprocess::http::{Response, StatusCode};
use libprocess::{Context, Future, Process, Promise, Runtime};
use mesos_agent::fetcher::{Fetcher, FetcherOptions};
use mesos_core::v0::command_info::Uri;
use mesos_core::v0::{CommandInfo, ContainerId};

/// Serves `/artifacts/files/<name>`, counting requests per name; `/artifacts/files/slow`
/// never answers; `/artifacts/files/moved` redirects to `hello.sh`.
struct Artifacts {
    files: Arc<Mutex<HashMap<String, Bytes>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    stalled: Vec<Promise<Response>>,
}

impl Process for Artifacts {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/files", |me: &mut Artifacts, _ctx, request| {
            let name = request
                .path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            *me.hits.lock().unwrap().entry(name.clone()).or_default() += 1;
            if name == "slow" {
                let promise = Promise::new();
                let future = promise.future();
                me.stalled.push(promise);
                return future;
            }
            if name == "moved" {
                return Future::ready(Response::temporary_redirect("/artifacts/files/hello.sh"));
            }
            match me.files.lock().unwrap().get(&name) {
                Some(bytes) => Future::ready(
                    Response::new(StatusCode::OK)
                        .with_body(libprocess::http::Body::Full(bytes.clone())),
                ),
                None => Future::ready(Response::not_found()),
            }
        });
    }
}

struct Setup {
    runtime: Runtime,
    base: PathBuf,
    files: Arc<Mutex<HashMap<String, Bytes>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
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
        let files: Arc<Mutex<HashMap<String, Bytes>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        runtime
            .spawn_with_id(
                "artifacts",
                Artifacts {
                    files: files.clone(),
                    hits: hits.clone(),
                    stalled: Vec::new(),
                },
            )
            .unwrap();
        let base = std::env::temp_dir().join(format!("mesos-fetch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        Setup {
            runtime,
            base,
            files,
            hits,
        }
    }

    fn serve(&self, name: &str, bytes: Vec<u8>) -> String {
        self.files
            .lock()
            .unwrap()
            .insert(name.to_owned(), bytes.into());
        self.url(name)
    }

    fn url(&self, name: &str) -> String {
        format!("http://{}/artifacts/files/{name}", self.runtime.address())
    }

    fn hits(&self, name: &str) -> usize {
        self.hits.lock().unwrap().get(name).copied().unwrap_or(0)
    }

    fn options(&self) -> FetcherOptions {
        FetcherOptions {
            cache_dir: self.base.join("cache"),
            stall_timeout: Duration::from_secs(5),
            ..FetcherOptions::default()
        }
    }

    fn fetcher(&self, options: FetcherOptions) -> Fetcher {
        let _guard = self.runtime.enter();
        Fetcher::new(options)
    }

    fn sandbox(&self, name: &str) -> PathBuf {
        let dir = self.base.join("sandboxes").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

fn uri(value: &str) -> Uri {
    Uri {
        value: value.to_owned(),
        ..Default::default()
    }
}

fn command(uris: Vec<Uri>) -> CommandInfo {
    CommandInfo {
        uris,
        value: Some("true".into()),
        ..Default::default()
    }
}

fn container(name: &str) -> ContainerId {
    ContainerId {
        value: name.to_owned(),
        ..Default::default()
    }
}

fn fetch(fetcher: &Fetcher, uris: Vec<Uri>, sandbox: &Path) -> Result<(), String> {
    let id = container(&format!("c-{}", sandbox.display()));
    let future = fetcher.fetch(&id, &command(uris), sandbox, None);
    assert!(
        future.await_for(Duration::from_secs(30)),
        "fetch did not finish"
    );
    future.get().map_err(|e| e.to_string())
}

/// A tar of `app/run.sh` (0755) and `app/data.txt`.
fn tar_bytes() -> Vec<u8> {
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
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn bzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn zip_bytes() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    writer.start_file("zipped/tool", options).unwrap();
    writer.write_all(b"#!/bin/sh\n").unwrap();
    writer.finish().unwrap().into_inner()
}

fn assert_app_extracted(sandbox: &Path) {
    let run = sandbox.join("app/run.sh");
    assert_eq!(
        std::fs::read(&run).unwrap(),
        b"#!/bin/sh\necho hi\n",
        "{}",
        run.display()
    );
    assert_eq!(
        std::fs::metadata(&run).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        std::fs::read(sandbox.join("app/data.txt")).unwrap(),
        b"payload"
    );
}

#[test]
fn a_tar_gz_over_http_is_downloaded_and_extracted() {
    let setup = Setup::new("targz");
    let url = setup.serve("app.tar.gz", gzip(&tar_bytes()));
    let fetcher = setup.fetcher(setup.options());
    let sandbox = setup.sandbox("one");
    fetch(&fetcher, vec![uri(&url)], &sandbox).unwrap();
    assert_app_extracted(&sandbox);
    // The archive stays beside what it held, as upstream.
    assert!(sandbox.join("app.tar.gz").is_file());

    // extract=false keeps the archive only.
    let plain = setup.sandbox("plain");
    let mut no_extract = uri(&url);
    no_extract.extract = Some(false);
    fetch(&fetcher, vec![no_extract], &plain).unwrap();
    assert!(plain.join("app.tar.gz").is_file());
    assert!(!plain.join("app").exists());
}

#[test]
fn executable_and_output_file_are_honoured() {
    let setup = Setup::new("exec");
    let url = setup.serve("hello.sh", b"#!/bin/sh\necho hello\n".to_vec());
    let fetcher = setup.fetcher(setup.options());
    let sandbox = setup.sandbox("exec");
    let mut executable = uri(&url);
    executable.executable = Some(true);
    executable.output_file = Some("bin/tool".into());
    let mut renamed = uri(&url);
    renamed.output_file = Some("copy.txt".into());
    fetch(&fetcher, vec![executable, renamed], &sandbox).unwrap();
    let tool = sandbox.join("bin/tool");
    assert_eq!(std::fs::read(&tool).unwrap(), b"#!/bin/sh\necho hello\n");
    assert_eq!(
        std::fs::metadata(&tool).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(sandbox.join("copy.txt").is_file());
    assert!(!sandbox.join("hello.sh").exists());

    // A redirect is followed.
    let moved = setup.sandbox("moved");
    fetch(&fetcher, vec![uri(&setup.url("moved"))], &moved).unwrap();
    assert_eq!(
        std::fs::read(moved.join("moved")).unwrap(),
        b"#!/bin/sh\necho hello\n"
    );
}

#[test]
fn local_archives_of_every_kind_are_extracted() {
    let setup = Setup::new("local");
    let source = setup.base.join("source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("app.tar"), tar_bytes()).unwrap();
    std::fs::write(source.join("app.tar.bz2"), bzip(&tar_bytes())).unwrap();
    std::fs::write(source.join("app.tgz"), gzip(&tar_bytes())).unwrap();
    std::fs::write(source.join("tools.zip"), zip_bytes()).unwrap();
    std::fs::write(source.join("notes.txt.gz"), gzip(b"just text")).unwrap();
    let fetcher = setup.fetcher(setup.options());

    for name in ["app.tar", "app.tar.bz2", "app.tgz"] {
        let sandbox = setup.sandbox(name);
        fetch(
            &fetcher,
            vec![uri(source.join(name).to_str().unwrap())],
            &sandbox,
        )
        .unwrap();
        assert_app_extracted(&sandbox);
    }

    let sandbox = setup.sandbox("zip");
    let file_uri = format!("file://{}", source.join("tools.zip").display());
    fetch(&fetcher, vec![uri(&file_uri)], &sandbox).unwrap();
    let tool = sandbox.join("zipped/tool");
    assert_eq!(std::fs::read(&tool).unwrap(), b"#!/bin/sh\n");
    assert_eq!(
        std::fs::metadata(&tool).unwrap().permissions().mode() & 0o777,
        0o755
    );

    let sandbox = setup.sandbox("gz");
    fetch(
        &fetcher,
        vec![uri(source.join("notes.txt.gz").to_str().unwrap())],
        &sandbox,
    )
    .unwrap();
    assert_eq!(
        std::fs::read(sandbox.join("notes.txt")).unwrap(),
        b"just text"
    );

    // .tar.xz, made with the system's xz when there is one.
    let xz = std::process::Command::new("xz")
        .args(["-z", "-k", "-f"])
        .arg(source.join("app.tar"))
        .status();
    match xz {
        Ok(status) if status.success() => {
            let sandbox = setup.sandbox("xz");
            fetch(
                &fetcher,
                vec![uri(source.join("app.tar.xz").to_str().unwrap())],
                &sandbox,
            )
            .unwrap();
            assert_app_extracted(&sandbox);
        }
        _ => eprintln!("skipping the .tar.xz case: no xz program to make the archive"),
    }
}

#[test]
fn cached_uris_are_downloaded_once_and_evicted_least_recently_used_first() {
    let setup = Setup::new("cache");
    let archive = gzip(&tar_bytes());
    let archive_size = archive.len() as u64;
    let url = setup.serve("app.tar.gz", archive);
    let other = setup.serve("other.bin", vec![7u8; 1000]);
    let mut options = setup.options();
    // Room for the archive or the other file, not both.
    options.cache_size = archive_size.max(1000) + 100;
    let fetcher = setup.fetcher(options);
    let cached = |value: &str| {
        let mut uri = uri(value);
        uri.cache = Some(true);
        uri
    };

    for name in ["first", "second", "third"] {
        let sandbox = setup.sandbox(name);
        fetch(&fetcher, vec![cached(&url)], &sandbox).unwrap();
        assert_app_extracted(&sandbox);
        // From the cache the archive is extracted, not copied (as upstream).
        assert!(!sandbox.join("app.tar.gz").exists());
    }
    assert_eq!(setup.hits("app.tar.gz"), 1);
    let _guard = setup.runtime.enter();
    assert_eq!(fetcher.cache_space().get().unwrap().0, archive_size);

    // Another URI needs the room: the archive (least recently used) goes.
    let sandbox = setup.sandbox("other");
    fetch(&fetcher, vec![cached(&other)], &sandbox).unwrap();
    assert_eq!(
        std::fs::read(sandbox.join("other.bin")).unwrap().len(),
        1000
    );
    assert_eq!(fetcher.cache_space().get().unwrap().0, 1000);
    assert_eq!(fetcher.cache_entries().get().unwrap(), 1);
    let sandbox = setup.sandbox("again");
    fetch(&fetcher, vec![cached(&url)], &sandbox).unwrap();
    assert_app_extracted(&sandbox);
    assert_eq!(setup.hits("app.tar.gz"), 2);

    // Too large for the cache: fetched all the same, not kept.
    let big = setup.serve("big.bin", vec![1u8; 5000]);
    let sandbox = setup.sandbox("big");
    fetch(&fetcher, vec![cached(&big)], &sandbox).unwrap();
    assert_eq!(std::fs::read(sandbox.join("big.bin")).unwrap().len(), 5000);
    let cache_files = std::fs::read_dir(setup.base.join("cache")).unwrap().count();
    assert_eq!(cache_files, fetcher.cache_entries().get().unwrap());

    let snapshot = setup.runtime.metrics().snapshot(None).get().unwrap();
    assert_eq!(
        snapshot["containerizer/fetcher/task_fetches_succeeded"],
        6.0
    );
    assert_eq!(snapshot["containerizer/fetcher/task_fetches_failed"], 0.0);
    assert_eq!(
        snapshot["containerizer/fetcher/cache_size_used_bytes"],
        fetcher.cache_space().get().unwrap().0 as f64
    );
}

#[test]
fn failures_say_what_went_wrong() {
    let setup = Setup::new("failures");
    let mut options = setup.options();
    options.stall_timeout = Duration::from_millis(300);
    let fetcher = setup.fetcher(options);
    let sandbox = setup.sandbox("failures");

    let missing = fetch(&fetcher, vec![uri(&setup.url("nothing.tar.gz"))], &sandbox).unwrap_err();
    assert!(missing.contains("HTTP return code 404"), "{missing}");
    assert!(missing.contains("nothing.tar.gz"), "{missing}");

    let local = fetch(&fetcher, vec![uri("/no/such/file.txt")], &sandbox).unwrap_err();
    assert!(
        local.contains("Failed to fetch '/no/such/file.txt'"),
        "{local}"
    );

    let ftp = fetch(&fetcher, vec![uri("ftp://example.invalid/x.tgz")], &sandbox).unwrap_err();
    assert!(ftp.contains("not supported"), "{ftp}");

    let stalled = fetch(&fetcher, vec![uri(&setup.url("slow"))], &sandbox).unwrap_err();
    assert!(stalled.contains("no answer within"), "{stalled}");

    let mut escape = uri(&setup.url("anything"));
    escape.output_file = Some("../outside".into());
    let invalid = fetch(&fetcher, vec![escape], &sandbox).unwrap_err();
    assert!(invalid.starts_with("Could not fetch"), "{invalid}");

    // A corrupt archive fails extraction.
    setup.serve("broken.tar.gz", b"not gzip at all".to_vec());
    let broken = fetch(&fetcher, vec![uri(&setup.url("broken.tar.gz"))], &sandbox).unwrap_err();
    assert!(broken.contains("Failed to extract archive"), "{broken}");

    // A failed cached download leaves no cache entry behind.
    let mut cached = uri(&setup.url("gone.bin"));
    cached.cache = Some(true);
    assert!(fetch(&fetcher, vec![cached], &sandbox).is_err());
    let _guard = setup.runtime.enter();
    assert_eq!(fetcher.cache_entries().get().unwrap(), 0);
    let snapshot = setup.runtime.metrics().snapshot(None).get().unwrap();
    assert_eq!(snapshot["containerizer/fetcher/task_fetches_failed"], 7.0);
}

#[test]
fn fetched_files_belong_to_the_user() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: chown needs root");
        return;
    }
    let Some(nobody) = nix::unistd::User::from_name("nobody").ok().flatten() else {
        eprintln!("skipping: no user 'nobody'");
        return;
    };
    let setup = Setup::new("user");
    let url = setup.serve("app.tar.gz", gzip(&tar_bytes()));
    let fetcher = setup.fetcher(setup.options());
    let sandbox = setup.sandbox("user");
    let id = container("user");
    let future = fetcher.fetch(&id, &command(vec![uri(&url)]), &sandbox, Some("nobody"));
    assert!(future.await_for(Duration::from_secs(30)));
    future.get().unwrap();
    for path in ["app", "app/run.sh", "app.tar.gz"] {
        let metadata = std::fs::metadata(sandbox.join(path)).unwrap();
        assert_eq!(metadata.uid(), nobody.uid.as_raw(), "{path}");
    }
    let unknown = fetcher.fetch(
        &container("unknown-user"),
        &command(vec![uri(&url)]),
        &setup.sandbox("unknown"),
        Some("no-such-user-x"),
    );
    assert!(unknown.await_for(Duration::from_secs(30)));
    let message = unknown.get().unwrap_err().to_string();
    assert!(message.contains("no such user"), "{message}");
}

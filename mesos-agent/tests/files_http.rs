//! The files process through real HTTP: `/files/browse`, `/files/read`, `/files/download`,
//! `/files/debug`, with Mesos's JSON shapes and status codes, and no way out of the
//! attached directories.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use libprocess::http::client;
use libprocess::http::{Response, StatusCode};
use libprocess::{Future, Runtime};
use mesos_agent::files::{Files, FilesError, MAX_READ_LENGTH};
use serde_json::{Value, json};

struct Setup {
    runtime: Runtime,
    files: Files,
    root: PathBuf,
    outside: PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_dir_all(&self.outside);
    }
}

/// A runtime serving `files`, with a sandbox attached at `/sandbox`:
/// `stdout` (10 bytes), `sub/data.json`, `inside` -> `sub` and `escape` -> a directory
/// outside the sandbox; and `log.txt` attached alone at `/agent/log`.
fn setup(name: &str) -> Setup {
    let runtime = Runtime::builder()
        .workers(2)
        .ip("127.0.0.1".parse().unwrap())
        .port(0)
        .build();
    let _guard = runtime.enter();
    let base = std::env::temp_dir().join(format!("mesos-files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("sandbox");
    let outside = base.join("outside");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("stdout"), b"0123456789").unwrap();
    std::fs::write(root.join("sub/data.json"), b"{\"a\":1}").unwrap();
    std::fs::write(outside.join("secret"), b"do not read").unwrap();
    std::fs::write(base.join("log.txt"), b"agent log\n").unwrap();
    symlink(root.join("sub"), root.join("inside")).unwrap();
    symlink(&outside, root.join("escape")).unwrap();

    let files = Files::new().unwrap();
    files.attach(&root, "/sandbox/").get().unwrap();
    files
        .attach(base.join("log.txt"), "/agent/log")
        .get()
        .unwrap();
    Setup {
        runtime,
        files,
        root: base,
        outside,
    }
}

fn get(setup: &Setup, target: &str) -> Response {
    let url = format!("http://{}/files/{target}", setup.runtime.address());
    client::get(&url).get().unwrap()
}

fn json(response: &Response) -> Value {
    serde_json::from_slice(response.body_bytes().unwrap()).unwrap()
}

fn text(response: &Response) -> String {
    String::from_utf8_lossy(response.body_bytes().unwrap()).into_owned()
}

#[test]
fn browse_lists_a_directory_sorted_with_mesos_fields() {
    let setup = setup("browse");
    let response = get(&setup, "browse?path=/sandbox");
    assert_eq!(response.status, StatusCode::OK);
    let listing = json(&response);
    let paths: Vec<&str> = listing
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        vec![
            "/sandbox/escape",
            "/sandbox/inside",
            "/sandbox/stdout",
            "/sandbox/sub"
        ]
    );
    let stdout = &listing[2];
    assert_eq!(stdout["size"], 10);
    assert_eq!(stdout["nlink"], 1);
    assert!(stdout["mode"].as_str().unwrap().starts_with("-rw"));
    assert_eq!(stdout["mode"].as_str().unwrap().len(), 10);
    assert!(stdout["mtime"].as_i64().unwrap() > 1_600_000_000);
    assert!(stdout["uid"].is_string() && stdout["gid"].is_string());
    assert!(listing[3]["mode"].as_str().unwrap().starts_with('d'));

    // A trailing slash and a subdirectory.
    let sub = json(&get(&setup, "browse?path=/sandbox/sub/"));
    assert_eq!(sub[0]["path"], "/sandbox/sub/data.json");
    // A file lists nothing (as upstream).
    assert_eq!(json(&get(&setup, "browse?path=/sandbox/stdout")), json!([]));
    // A symlink to a directory inside the sandbox is followed.
    let inside = json(&get(&setup, "browse?path=/sandbox/inside"));
    assert_eq!(inside[0]["path"], "/sandbox/inside/data.json");
}

#[test]
fn browse_errors_use_mesos_status_codes() {
    let setup = setup("browse-errors");
    let missing = get(&setup, "browse");
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(text(&missing), "Expecting 'path=value' in query.\n");
    assert_eq!(get(&setup, "browse?path=").status, StatusCode::BAD_REQUEST);
    assert_eq!(
        get(&setup, "browse?path=/unknown").status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&setup, "browse?path=/sandbox/nothing-here").status,
        StatusCode::NOT_FOUND
    );
    // Escapes: `..` and a symlink out of the sandbox.
    let dotdot = get(&setup, "browse?path=/sandbox/../outside");
    assert_eq!(dotdot.status, StatusCode::BAD_REQUEST);
    assert!(text(&dotdot).contains("is inaccessible"));
    assert_eq!(
        get(&setup, "browse?path=/sandbox/escape").status,
        StatusCode::BAD_REQUEST
    );
    // jsonp wraps the answer.
    let wrapped = get(&setup, "browse?path=/sandbox/sub&jsonp=cb");
    assert!(text(&wrapped).starts_with("cb("));
}

#[test]
fn read_pages_through_a_file() {
    let setup = setup("read");
    // No offset, or -1: the size (as the pailer asks first).
    assert_eq!(
        json(&get(&setup, "read?path=/sandbox/stdout&offset=-1")),
        json!({"data": "", "offset": 10})
    );
    assert_eq!(
        json(&get(&setup, "read?path=/sandbox/stdout")),
        json!({"data": "", "offset": 10})
    );
    assert_eq!(
        json(&get(&setup, "read?path=/sandbox/stdout&offset=2&length=3")),
        json!({"data": "234", "offset": 2})
    );
    assert_eq!(
        json(&get(&setup, "read?path=/sandbox/stdout&offset=7")),
        json!({"data": "789", "offset": 7})
    );
    assert_eq!(
        json(&get(&setup, "read?path=/sandbox/stdout&offset=4&length=-1")),
        json!({"data": "456789", "offset": 4})
    );
    assert_eq!(
        json(&get(&setup, "read?path=/sandbox/stdout&offset=50")),
        json!({"data": "", "offset": 50})
    );
    // An attached file, and a file through an inside symlink.
    assert_eq!(
        json(&get(&setup, "read?path=/agent/log&offset=0")),
        json!({"data": "agent log\n", "offset": 0})
    );
    assert_eq!(
        json(&get(&setup, "read?path=/sandbox/inside/data.json&offset=0"))["data"],
        "{\"a\":1}"
    );
    // A long file is read at most 16 pages at a time.
    let big = vec![b'x'; 3 * MAX_READ_LENGTH as usize];
    std::fs::write(setup.root.join("sandbox/big"), &big).unwrap();
    let page = json(&get(&setup, "read?path=/sandbox/big&offset=0"));
    assert_eq!(page["data"].as_str().unwrap().len() as u64, MAX_READ_LENGTH);
}

#[test]
fn read_errors_use_mesos_status_codes() {
    let setup = setup("read-errors");
    let cases = [
        ("read?offset=0", StatusCode::BAD_REQUEST),
        (
            "read?path=/sandbox/stdout&offset=x",
            StatusCode::BAD_REQUEST,
        ),
        (
            "read?path=/sandbox/stdout&offset=-5",
            StatusCode::BAD_REQUEST,
        ),
        (
            "read?path=/sandbox/stdout&offset=0&length=-2",
            StatusCode::BAD_REQUEST,
        ),
        (
            "read?path=/sandbox/stdout&offset=0&length=z",
            StatusCode::BAD_REQUEST,
        ),
        ("read?path=/sandbox/sub&offset=0", StatusCode::BAD_REQUEST),
        ("read?path=/sandbox/missing&offset=0", StatusCode::NOT_FOUND),
        ("read?path=/agent/log/child&offset=0", StatusCode::NOT_FOUND),
        (
            "read?path=/sandbox/escape/secret&offset=0",
            StatusCode::BAD_REQUEST,
        ),
        (
            "read?path=/sandbox/../outside/secret&offset=0",
            StatusCode::BAD_REQUEST,
        ),
        (
            "read?path=/sandbox/stdout/child&offset=0",
            StatusCode::NOT_FOUND,
        ),
    ];
    for (target, status) in cases {
        let response = get(&setup, target);
        assert_eq!(response.status, status, "{target}: {}", text(&response));
        assert!(!text(&response).contains("do not read"));
    }
}

#[test]
fn download_serves_files_whole_or_streamed() {
    let setup = setup("download");
    let response = get(&setup, "download?path=/sandbox/sub/data.json");
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body_bytes().unwrap(), "{\"a\":1}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.header("content-disposition"),
        Some("attachment; filename=data.json")
    );
    let stdout = get(&setup, "download?path=/sandbox/stdout");
    assert_eq!(
        stdout.header("content-type"),
        Some("application/octet-stream")
    );

    // Larger than a whole body: streamed, the same bytes arrive.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(setup.root.join("sandbox/big.bin"), &big).unwrap();
    let streamed = get(&setup, "download?path=/sandbox/big.bin");
    assert_eq!(streamed.status, StatusCode::OK);
    assert_eq!(streamed.body_bytes().unwrap().as_ref(), big.as_slice());

    assert_eq!(
        get(&setup, "download?path=/sandbox/sub").status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&setup, "download?path=/sandbox/nope").status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&setup, "download?path=/sandbox/escape/secret").status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(get(&setup, "download").status, StatusCode::BAD_REQUEST);
}

#[test]
fn debug_shows_attachments_and_detach_removes_them() {
    let setup = setup("debug");
    let debug = json(&get(&setup, "debug"));
    let real_root = std::fs::canonicalize(setup.root.join("sandbox")).unwrap();
    assert_eq!(debug["/sandbox"], real_root.display().to_string());
    assert!(debug["/agent/log"].as_str().unwrap().ends_with("log.txt"));

    setup.files.detach("/sandbox");
    let _guard = setup.runtime.enter();
    assert!(
        !setup
            .files
            .attached()
            .get()
            .unwrap()
            .contains_key("/sandbox")
    );
    assert_eq!(
        get(&setup, "browse?path=/sandbox").status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&setup, "read?path=/agent/log").status, StatusCode::OK);
}

#[test]
fn attaching_a_missing_path_fails_and_changes_nothing() {
    let setup = setup("attach-missing");
    let _guard = setup.runtime.enter();
    let result = setup
        .files
        .attach(Path::new("/no/such/dir"), "/nothing")
        .get();
    assert!(result.is_err());
    assert!(
        !setup
            .files
            .attached()
            .get()
            .unwrap()
            .contains_key("/nothing")
    );
}

#[test]
fn authorization_callbacks_answer_forbidden() {
    let setup = setup("authz");
    let _guard = setup.runtime.enter();
    let private = setup.root.join("private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::write(private.join("f"), b"x").unwrap();
    setup
        .files
        .attach_authorized(
            &private,
            "/private",
            Arc::new(|principal: Option<&str>| Future::ready(principal == Some("ops"))),
        )
        .get()
        .unwrap();
    assert_eq!(
        get(&setup, "browse?path=/private").status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&setup, "read?path=/private/f&offset=0").status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&setup, "download?path=/private/f").status,
        StatusCode::FORBIDDEN
    );
    // Through the API, as the v1 LIST_FILES / READ_FILE calls use it.
    assert!(matches!(
        setup.files.browse("/private").get().unwrap(),
        Err(FilesError::Unauthorized(_))
    ));
    let listing = setup
        .files
        .browse_as("/private", Some("ops".into()))
        .get()
        .unwrap()
        .unwrap();
    assert_eq!(listing.len(), 1);
    assert_eq!(listing[0].path, "/private/f");
}

#[test]
fn the_api_gives_typed_results() {
    let setup = setup("api");
    let _guard = setup.runtime.enter();
    let read = setup
        .files
        .read("/sandbox/stdout", 3, Some(2))
        .get()
        .unwrap()
        .unwrap();
    assert_eq!(read.size, 10);
    assert_eq!(read.data, "34");
    let size_only = setup
        .files
        .read("/sandbox/stdout", 0, Some(0))
        .get()
        .unwrap()
        .unwrap();
    assert_eq!((size_only.size, size_only.data.len()), (10, 0));
    let error = setup
        .files
        .read("/sandbox/missing", 0, None)
        .get()
        .unwrap()
        .unwrap_err();
    assert_eq!(error.status(), StatusCode::NOT_FOUND);
    let escape = setup.files.browse("/sandbox/escape").get().unwrap();
    assert!(matches!(escape, Err(FilesError::Invalid(_))));
    let listing = setup.files.browse("/sandbox").get().unwrap().unwrap();
    assert_eq!(listing.len(), 4);
    assert_eq!(listing[2].size, Some(10));
}

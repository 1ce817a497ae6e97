//! The files process (upstream `src/files/files.cpp`): serves the sandboxes and logs the
//! agent *attaches* under virtual paths, at `/files/browse`, `/files/read`,
//! `/files/download` and `/files/debug` (the endpoints the web UI, the CLIs and `dcos task
//! log` use), and backs the v1 `LIST_FILES` / `READ_FILE` calls.
//!
//! [`Files`] is the handle; [`FilesProcess`] (id `files`) owns the map of virtual paths to
//! real paths.
//!
//! - `attach(path, virtual_path)`: makes the real `path` (canonicalised now; it must exist
//!   and be readable) visible as `virtual_path` (trailing `/` ignored), replacing what was
//!   there; optionally with an authorization callback for the principal (403 when it says
//!   no, also for everything below that virtual path). `detach(virtual_path)`.
//! - A virtual path resolves by its longest attached prefix; the rest is joined to the real
//!   directory, canonicalised (symlinks followed), and must still lie under that directory
//!   (so `..` and symlinks cannot escape). As upstream: no attached prefix, or a file that
//!   does not exist, is `404`; a path that escapes is `400` ("... is inaccessible"); a
//!   missing or bad parameter is `400`.
//!
//! Endpoints (query parameters percent-decoded; `?jsonp=` is applied by the server):
//! - `browse?path=P`: a JSON array of `{path, nlink, size, mtime, mode, uid, gid}` for the
//!   entries of directory `P`, sorted by path (`mode` as `ls -l` prints it, `uid`/`gid`
//!   as names when known); a file gives `[]`.
//! - `read?path=P&offset=N&length=M`: `{"data": "...", "offset": N}`, at most 16 pages
//!   (64 KiB) per read; without `offset` (or with `offset=-1`) the answer is
//!   `{"data": "", "offset": <size>}`, how the UI's pailer and the CLIs learn a file's
//!   length before tailing it; `length=-1` means to the end. Reading past the end gives
//!   empty data.
//! - `download?path=P`: the file, `Content-Disposition: attachment; filename=<name>`,
//!   typed by extension (`application/octet-stream` otherwise).
//! - `debug`: a JSON object of virtual path to real path.

mod resolve;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use libprocess::http::{Pipe, Request, Response, RouteOptions, StatusCode};
use libprocess::{Context, Future, Pid, Process, SpawnError, call, call_future, defer_future};
use mesos_core::v0::{FileInfo, TimeInfo};
use thiserror::Error;
use tracing::{debug, warn};

pub use resolve::clean_virtual_path;

/// The id the process is spawned with (routes are `/files/...`).
pub const FILES_PROCESS_ID: &str = "files";
/// The most a single read returns (upstream: 16 pages).
pub const MAX_READ_LENGTH: u64 = 16 * 4096;
/// Files up to this size are downloaded in one body; larger ones are streamed.
const WHOLE_DOWNLOAD_LIMIT: u64 = 1 << 20;
/// How far a streamed download may run ahead of the client.
const DOWNLOAD_BUFFER: usize = 4 << 20;
const DOWNLOAD_CHUNK: usize = 256 << 10;

/// Decides whether a principal (`None`: unauthenticated) may see an attached path.
pub type Authorization = Arc<dyn Fn(Option<&str>) -> Future<bool> + Send + Sync>;

/// Why a browse or read failed; each maps to the HTTP status upstream answers with.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilesError {
    /// Bad request: a path that escapes its attached directory, reading a directory (400).
    #[error("{0}")]
    Invalid(String),
    /// No such attached path or file (404).
    #[error("{0}")]
    NotFound(String),
    /// The attachment's authorization refused the principal (403).
    #[error("{0}")]
    Unauthorized(String),
    /// Anything else (500).
    #[error("{0}")]
    Unknown(String),
}

impl FilesError {
    /// The status upstream answers this error with.
    pub fn status(&self) -> StatusCode {
        match self {
            FilesError::Invalid(_) => StatusCode::BAD_REQUEST,
            FilesError::NotFound(_) => StatusCode::NOT_FOUND,
            FilesError::Unauthorized(_) => StatusCode::FORBIDDEN,
            FilesError::Unknown(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error as an HTTP response.
    pub fn to_response(&self) -> Response {
        Response::text(self.status(), self.to_string())
    }
}

/// What a read returns: the file's size and the bytes read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadResult {
    /// The file's size.
    pub size: u64,
    /// The bytes at the offset asked for (empty past the end, or for a size query).
    pub data: Bytes,
}

/// The handle: clone freely.
#[derive(Clone, Debug)]
pub struct Files {
    pid: Pid<FilesProcess>,
}

impl Files {
    /// Spawns the process as `files` on the current runtime, without authentication.
    pub fn new() -> Result<Files, SpawnError> {
        Files::with_realm(None)
    }

    /// Spawns the process as `files` on the current runtime; requests are authenticated
    /// with `realm`'s authenticator when the runtime has one.
    pub fn with_realm(realm: Option<String>) -> Result<Files, SpawnError> {
        let pid = libprocess::spawn_with_id(
            FILES_PROCESS_ID,
            FilesProcess {
                realm,
                paths: BTreeMap::new(),
                authorizations: BTreeMap::new(),
                me: None,
            },
        )?;
        Ok(Files { pid })
    }

    /// Makes the real `path` visible as `virtual_path`.
    pub fn attach(&self, path: impl Into<PathBuf>, virtual_path: impl Into<String>) -> Future<()> {
        let (path, virtual_path) = (path.into(), virtual_path.into());
        call_future(&self.pid, move |p: &mut FilesProcess| {
            p.attach(&path, &virtual_path, None)
        })
    }

    /// As [`Files::attach`], with an authorization callback for requests under it.
    pub fn attach_authorized(
        &self,
        path: impl Into<PathBuf>,
        virtual_path: impl Into<String>,
        authorization: Authorization,
    ) -> Future<()> {
        let (path, virtual_path) = (path.into(), virtual_path.into());
        call_future(&self.pid, move |p: &mut FilesProcess| {
            p.attach(&path, &virtual_path, Some(authorization))
        })
    }

    /// Removes the attachment at `virtual_path`.
    pub fn detach(&self, virtual_path: impl Into<String>) {
        let virtual_path = virtual_path.into();
        libprocess::dispatch(&self.pid, move |p: &mut FilesProcess| {
            p.detach(&virtual_path)
        });
    }

    /// The attachments: virtual path to real path.
    pub fn attached(&self) -> Future<BTreeMap<String, PathBuf>> {
        call(&self.pid, |p: &mut FilesProcess| p.paths.clone())
    }

    /// The entries of the directory at virtual `path`, sorted by path.
    pub fn browse(&self, path: impl Into<String>) -> Future<Result<Vec<FileInfo>, FilesError>> {
        self.browse_as(path, None)
    }

    /// As [`Files::browse`] for `principal`.
    pub fn browse_as(
        &self,
        path: impl Into<String>,
        principal: Option<String>,
    ) -> Future<Result<Vec<FileInfo>, FilesError>> {
        let path = path.into();
        call_future(&self.pid, move |p: &mut FilesProcess| {
            p.browse(path, principal)
        })
    }

    /// Up to `length` bytes (all when `None`, at most [`MAX_READ_LENGTH`]) of the file at
    /// virtual `path`, from `offset`; `length` 0 gives only the size.
    pub fn read(
        &self,
        path: impl Into<String>,
        offset: u64,
        length: Option<u64>,
    ) -> Future<Result<ReadResult, FilesError>> {
        self.read_as(path, offset, length, None)
    }

    /// As [`Files::read`] for `principal`.
    pub fn read_as(
        &self,
        path: impl Into<String>,
        offset: u64,
        length: Option<u64>,
        principal: Option<String>,
    ) -> Future<Result<ReadResult, FilesError>> {
        let path = path.into();
        call_future(&self.pid, move |p: &mut FilesProcess| {
            p.read(path, offset, length, principal)
        })
    }

    /// Stops the process.
    pub fn terminate(&self) -> Future<()> {
        libprocess::terminate(&self.pid);
        libprocess::wait(&self.pid)
    }
}

/// The files process's state: attachments and their authorizations.
pub struct FilesProcess {
    realm: Option<String>,
    /// Cleaned virtual path -> canonical real path.
    paths: BTreeMap<String, PathBuf>,
    authorizations: BTreeMap<String, Authorization>,
    me: Option<Pid<FilesProcess>>,
}

impl fmt::Debug for FilesProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilesProcess")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

type Handler = fn(&mut FilesProcess, Request) -> Future<Response>;

impl Process for FilesProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
        let routes: [(&str, Handler); 4] = [
            ("/browse", FilesProcess::browse_route),
            ("/read", FilesProcess::read_route),
            ("/download", FilesProcess::download_route),
            ("/debug", FilesProcess::debug_route),
        ];
        for (path, handler) in routes {
            let options = match &self.realm {
                Some(realm) => RouteOptions::new().realm(realm.clone()),
                None => RouteOptions::new(),
            };
            ctx.route_with(
                path,
                options,
                move |me: &mut FilesProcess, _ctx, request| {
                    debug!(path = %request.uri, client = ?request.client, "files request");
                    handler(me, request)
                },
            );
        }
    }
}

impl FilesProcess {
    fn me(&self) -> Pid<FilesProcess> {
        self.me.clone().expect("initialize runs first")
    }

    fn attach(
        &mut self,
        path: &Path,
        virtual_path: &str,
        authorization: Option<Authorization>,
    ) -> Future<()> {
        let path = resolve::strip_file_scheme(&path.to_string_lossy()).to_owned();
        let real = match std::fs::canonicalize(&path) {
            Ok(real) => real,
            Err(error) => return Future::failed(format!("cannot attach '{path}': {error}")),
        };
        if nix::unistd::access(&real, nix::unistd::AccessFlags::R_OK).is_err() {
            return Future::failed(format!("Failed to access '{path}': Access denied"));
        }
        let key = clean_virtual_path(virtual_path);
        debug!(virtual_path = %key, path = %real.display(), "attached");
        self.paths.insert(key.clone(), real);
        match authorization {
            Some(authorization) => {
                self.authorizations.insert(key, authorization);
            }
            None => {
                self.authorizations.remove(&key);
            }
        }
        Future::ready(())
    }

    fn detach(&mut self, virtual_path: &str) {
        let key = clean_virtual_path(virtual_path);
        self.paths.remove(&key);
        self.authorizations.remove(&key);
    }

    /// Asks the authorization of the closest attached ancestor of `path` (if any).
    fn authorize(&self, path: &str, principal: Option<&str>) -> Future<bool> {
        let cleaned = clean_virtual_path(path);
        for prefix in resolve::prefixes(&cleaned) {
            if let Some(authorization) = self.authorizations.get(prefix) {
                return authorization(principal);
            }
        }
        Future::ready(true)
    }

    /// Runs `then` on this process once `path` is authorized for `principal`.
    fn authorized<T: Clone + Send + Sync + 'static>(
        &mut self,
        path: String,
        principal: Option<String>,
        then: impl FnOnce(&mut FilesProcess, String) -> Result<T, FilesError> + Send + 'static,
    ) -> Future<Result<T, FilesError>> {
        let verdict = self.authorize(&path, principal.as_deref());
        if verdict.value() == Some(&true) {
            return Future::ready(then(self, path));
        }
        let me = self.me();
        verdict
            .then(defer_future(&me, move |p: &mut FilesProcess, ok: bool| {
                Future::ready(if ok {
                    then(p, path)
                } else {
                    Err(FilesError::Unauthorized(format!(
                        "not authorized to access '{path}'"
                    )))
                })
            }))
            .repair(|message| {
                Future::ready(Err(FilesError::Unknown(format!(
                    "authorization failed: {message}"
                ))))
            })
    }

    fn resolve(&self, path: &str) -> Result<PathBuf, FilesError> {
        resolve::resolve(&self.paths, path)
    }

    fn browse(
        &mut self,
        path: String,
        principal: Option<String>,
    ) -> Future<Result<Vec<FileInfo>, FilesError>> {
        self.authorized(path, principal, |p, path| {
            let real = p.resolve(&path)?;
            Ok(list_directory(&path, &real))
        })
    }

    fn read(
        &mut self,
        path: String,
        offset: u64,
        length: Option<u64>,
        principal: Option<String>,
    ) -> Future<Result<ReadResult, FilesError>> {
        self.authorized(path, principal, move |p, path| {
            let real = p.resolve(&path)?;
            read_file(&real, offset, length)
        })
    }

    fn browse_route(&mut self, request: Request) -> Future<Response> {
        let Some(path) = request.query("path").filter(|p| !p.is_empty()) else {
            return Future::ready(Response::bad_request("Expecting 'path=value' in query.\n"));
        };
        self.browse(path.to_owned(), request.principal.clone())
            .map(|result| match result {
                Ok(listing) => {
                    let entries: Vec<serde_json::Value> = listing.iter().map(file_json).collect();
                    Response::json(&serde_json::Value::Array(entries))
                }
                Err(error) => error.to_response(),
            })
    }

    fn read_route(&mut self, request: Request) -> Future<Response> {
        let Some(path) = request.query("path").filter(|p| !p.is_empty()) else {
            return Future::ready(Response::bad_request("Expecting 'path=value' in query.\n"));
        };
        let offset = match request.query("offset") {
            None => -1,
            Some(value) => match value.parse::<i64>() {
                Err(error) => {
                    return Future::ready(Response::bad_request(format!(
                        "Failed to parse offset: {error}.\n"
                    )));
                }
                Ok(n) if n < -1 => {
                    return Future::ready(Response::bad_request(format!(
                        "Negative offset provided: {n}.\n"
                    )));
                }
                Ok(n) => n,
            },
        };
        let mut length = match request.query("length") {
            None => None,
            Some(value) => match value.parse::<i64>() {
                Err(error) => {
                    return Future::ready(Response::bad_request(format!(
                        "Failed to parse length: {error}.\n"
                    )));
                }
                Ok(-1) => None,
                Ok(n) if n < 0 => {
                    return Future::ready(Response::bad_request(format!(
                        "Negative length provided: {n}.\n"
                    )));
                }
                Ok(n) => Some(n as u64),
            },
        };
        // Without an offset (or with -1) the answer is the file's size.
        let start = if offset == -1 {
            length = Some(0);
            0
        } else {
            offset as u64
        };
        self.read(path.to_owned(), start, length, request.principal.clone())
            .map(move |result| match result {
                Ok(read) => {
                    let answered = if offset == -1 {
                        read.size
                    } else {
                        offset as u64
                    };
                    Response::json(&serde_json::json!({
                        "data": bytes_as_string(&read.data),
                        "offset": answered,
                    }))
                }
                Err(error) => error.to_response(),
            })
    }

    fn download_route(&mut self, request: Request) -> Future<Response> {
        let Some(path) = request.query("path").filter(|p| !p.is_empty()) else {
            return Future::ready(Response::bad_request("Expecting 'path=value' in query.\n"));
        };
        self.authorized(path.to_owned(), request.principal.clone(), |p, path| {
            let real = p.resolve(&path)?;
            if real.is_dir() {
                return Err(FilesError::Invalid("Cannot download a directory.\n".into()));
            }
            Ok(real)
        })
        .map(|result| match result {
            Ok(real) => download(&real),
            Err(error) => error.to_response(),
        })
    }

    fn debug_route(&mut self, _request: Request) -> Future<Response> {
        let object: serde_json::Map<String, serde_json::Value> = self
            .paths
            .iter()
            .map(|(virtual_path, real)| {
                (
                    virtual_path.clone(),
                    serde_json::Value::String(real.display().to_string()),
                )
            })
            .collect();
        Future::ready(Response::json(&serde_json::Value::Object(object)))
    }
}

/// The entries of `real` (a directory; a file lists nothing), named under the virtual
/// `path`, sorted.
fn list_directory(path: &str, real: &Path) -> Vec<FileInfo> {
    let Ok(entries) = std::fs::read_dir(real) else {
        return Vec::new();
    };
    let base = path.trim_end_matches('/');
    let mut listing: BTreeMap<String, FileInfo> = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // As `stat`: a symlink is listed as what it points to.
        let metadata = match std::fs::metadata(entry.path()) {
            Ok(metadata) => metadata,
            Err(error) => {
                warn!(path = %entry.path().display(), %error, "listed but cannot stat");
                continue;
            }
        };
        let virtual_path = format!("{base}/{name}");
        listing.insert(virtual_path.clone(), file_info(virtual_path, &metadata));
    }
    listing.into_values().collect()
}

/// A [`FileInfo`] from `stat` data (upstream `protobuf::createFileInfo`).
pub fn file_info(path: String, metadata: &std::fs::Metadata) -> FileInfo {
    let uid = metadata.uid();
    let gid = metadata.gid();
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| gid.to_string());
    FileInfo {
        path,
        nlink: Some(metadata.nlink() as i32),
        size: Some(metadata.size()),
        mtime: Some(TimeInfo {
            nanoseconds: metadata.mtime() * 1_000_000_000,
        }),
        mode: Some(metadata.permissions().mode()),
        uid: Some(user),
        gid: Some(group),
    }
}

/// `ls -l`'s mode string: the type, then rwx for owner, group and others.
pub fn mode_string(mode: u32) -> String {
    let kind = match mode & libc::S_IFMT {
        libc::S_IFDIR => 'd',
        libc::S_IFCHR => 'c',
        libc::S_IFBLK => 'b',
        libc::S_IFIFO => 'p',
        libc::S_IFLNK => 'l',
        libc::S_IFSOCK => 's',
        _ => '-',
    };
    let mut out = String::with_capacity(10);
    out.push(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        out.push(if bits & 4 != 0 { 'r' } else { '-' });
        out.push(if bits & 2 != 0 { 'w' } else { '-' });
        out.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    out
}

/// The JSON of a browse entry (upstream `model(FileInfo)`).
pub fn file_json(info: &FileInfo) -> serde_json::Value {
    serde_json::json!({
        "path": info.path,
        "nlink": info.nlink.unwrap_or(0),
        "size": info.size.unwrap_or(0),
        "mtime": info.mtime.as_ref().map_or(0, |t| t.nanoseconds / 1_000_000_000),
        "mode": mode_string(info.mode.unwrap_or(0)),
        "uid": info.uid.clone().unwrap_or_default(),
        "gid": info.gid.clone().unwrap_or_default(),
    })
}

/// Reads up to `length` bytes (capped at [`MAX_READ_LENGTH`]) of `real` from `offset`.
fn read_file(real: &Path, offset: u64, length: Option<u64>) -> Result<ReadResult, FilesError> {
    if real.is_dir() {
        return Err(FilesError::Invalid("Cannot read a directory.\n".into()));
    }
    let unknown = |error: std::io::Error| {
        warn!(path = %real.display(), %error, "cannot read");
        FilesError::Unknown(format!("Failed to read '{}': {error}.\n", real.display()))
    };
    let mut file = std::fs::File::open(real).map_err(unknown)?;
    let size = file.seek(SeekFrom::End(0)).map_err(unknown)?;
    if offset >= size {
        return Ok(ReadResult {
            size,
            data: Bytes::new(),
        });
    }
    let length = length.unwrap_or(size - offset).min(MAX_READ_LENGTH);
    if length == 0 {
        return Ok(ReadResult {
            size,
            data: Bytes::new(),
        });
    }
    file.seek(SeekFrom::Start(offset)).map_err(unknown)?;
    let mut data = Vec::with_capacity(length as usize);
    file.take(length).read_to_end(&mut data).map_err(unknown)?;
    Ok(ReadResult {
        size,
        data: data.into(),
    })
}

/// Bytes as a JSON string: UTF-8 as is; otherwise each byte as the character of that code
/// point, so that the character count still equals the byte count the offsets use.
fn bytes_as_string(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) => text.to_owned(),
        Err(_) => data.iter().map(|&b| b as char).collect(),
    }
}

/// The content type for a file name's extension (a subset of libprocess's mime table).
pub fn mime_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "txt" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" => "application/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "csv" => "text/csv",
        "gz" | "tgz" => "application/x-gzip",
        "tar" => "application/x-tar",
        "bz2" => "application/x-bzip2",
        "zip" => "application/zip",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// The file as a download: whole when small, streamed from a thread otherwise.
fn download(real: &Path) -> Response {
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let disposition = format!("attachment; filename={name}");
    let content_type = mime_type(real);
    let mut file = match std::fs::File::open(real) {
        Ok(file) => file,
        Err(error) => {
            return FilesError::Unknown(format!("Failed to open '{}': {error}.\n", real.display()))
                .to_response();
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size <= WHOLE_DOWNLOAD_LIMIT {
        let mut data = Vec::with_capacity(size as usize);
        if let Err(error) = file.read_to_end(&mut data) {
            return FilesError::Unknown(format!("Failed to read '{}': {error}.\n", real.display()))
                .to_response();
        }
        return Response::new(StatusCode::OK)
            .with_content_type(content_type)
            .with_header("content-disposition", disposition.as_str())
            .with_body(libprocess::http::Body::Full(data.into()));
    }
    let Pipe { writer, reader } = Pipe::new();
    let path = real.to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("files-download".into())
        .spawn(move || {
            let mut buffer = vec![0u8; DOWNLOAD_CHUNK];
            loop {
                while writer.buffered() > DOWNLOAD_BUFFER && !writer.is_reader_closed() {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                match file.read(&mut buffer) {
                    Ok(0) => {
                        writer.close();
                        return;
                    }
                    Ok(n) => {
                        if !writer.write(Bytes::copy_from_slice(&buffer[..n])) {
                            return; // The client left.
                        }
                    }
                    Err(error) => {
                        warn!(path = %path.display(), %error, "download failed");
                        writer.fail(format!("cannot read {}: {error}", path.display()));
                        return;
                    }
                }
            }
        });
    if let Err(error) = spawned {
        return FilesError::Unknown(format!("cannot start a download thread: {error}"))
            .to_response();
    }
    Response::stream(reader, content_type).with_header("content-disposition", disposition.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_print_as_ls_does() {
        assert_eq!(mode_string(libc::S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(libc::S_IFREG | 0o640), "-rw-r-----");
        assert_eq!(mode_string(libc::S_IFLNK | 0o777), "lrwxrwxrwx");
    }

    #[test]
    fn binary_data_keeps_one_character_per_byte() {
        assert_eq!(bytes_as_string(b"plain"), "plain");
        let s = bytes_as_string(&[0x61, 0xff, 0x62]);
        assert_eq!(s.chars().count(), 3);
        assert_eq!(s.chars().nth(1), Some('\u{ff}'));
    }

    #[test]
    fn mime_types_follow_extensions() {
        assert_eq!(mime_type(Path::new("/a/b.json")), "application/json");
        assert_eq!(
            mime_type(Path::new("/a/stdout")),
            "application/octet-stream"
        );
    }
}

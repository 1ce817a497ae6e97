//! The fetcher (upstream `src/slave/containerizer/fetcher.cpp` and the `mesos-fetcher`
//! program, `src/launcher/fetcher.cpp`): before a container starts, puts the URIs of its
//! `CommandInfo` into its sandbox.
//!
//! [`Fetcher`] is the handle the agent holds; [`FetcherProcess`] owns the cache's
//! bookkeeping. `fetch(container_id, command, sandbox, user)` completes once every URI is in
//! place, or fails with a message saying which URI and why (the agent turns that into
//! `TASK_FAILED`). Each URI, in order:
//! - its bytes come from a local path (`/abs/path`, `file://`, or a path relative to
//!   `--frameworks_home`) or an `http://` or `https://` URL (redirects followed; the server's
//!   certificate must chain to the built-in roots or to one in `SSL_CERT_FILE`; other
//!   schemes fail with "not supported"), into `<sandbox>/<output_file>` (directories
//!   created) or `<sandbox>/<base name of the URI>`;
//! - `executable`: the file is made `rwxr-xr-x` (and not extracted); otherwise with
//!   `extract` (the default) a `.tar`, `.tgz`/`.tar.gz`, `.tbz2`/`.tar.bz2`,
//!   `.txz`/`.tar.xz` or `.zip` is unpacked into the sandbox (the archive stays, as
//!   upstream), a bare `.gz` is decompressed beside it;
//! - `cache`: the download goes into the cache (`--fetcher_cache_dir`, per user, at most
//!   `--fetcher_cache_size` bytes, least recently used entries evicted) and is copied or
//!   extracted from there; a URI already cached (or being downloaded by another fetch) for
//!   the same user is not downloaded again. A download the cache cannot hold is used once
//!   and dropped; a cache entry whose download failed makes later fetches download
//!   themselves.
//!
//! Then, if `user` (or the command's `user`) is given and the agent runs as root, the
//! sandbox's contents are chowned to that user (upstream runs the fetcher as the user).
//!
//! The file work runs on a thread per fetch (as upstream runs a `mesos-fetcher` process
//! per container), which asks the process (by `call`) when it needs the cache; `kill(id)`
//! stops a running fetch at its next step. Metrics, as upstream:
//! `containerizer/fetcher/task_fetches_succeeded`, `.../task_fetches_failed`,
//! `.../cache_size_total_bytes`, `.../cache_size_used_bytes`.

mod cache;
mod download;
mod extract;
pub mod uri;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use libprocess::metrics::{Counter, PushGauge};
use libprocess::{Context, Future, Pid, Process, Promise, call, dispatch};
use mesos_core::v0::command_info::Uri;
use mesos_core::v0::{CommandInfo, ContainerId};
use tracing::{debug, info, warn};

pub use cache::key as cache_key;
pub use extract::{extract, is_archive};

use crate::paths::container_id_string;
use cache::Cache;
use download::{DownloadContext, download};

/// Upstream's `--fetcher_cache_size` default (2 GB).
pub const DEFAULT_FETCHER_CACHE_SIZE: u64 = 2 * 1024 * 1024 * 1024;
/// Upstream's `--fetcher_stall_timeout` default (one minute).
pub const DEFAULT_FETCHER_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The agent flags the fetcher follows.
#[derive(Clone, Debug)]
pub struct FetcherOptions {
    /// `--fetcher_cache_dir` (default `<tmp>/mesos/fetch`). Cache files left there by an
    /// earlier run are removed at start, as upstream clears the directory.
    pub cache_dir: PathBuf,
    /// `--fetcher_cache_size` in bytes (default 2 GB).
    pub cache_size: u64,
    /// `--fetcher_stall_timeout` (default one minute).
    pub stall_timeout: Duration,
    /// `--frameworks_home`: where relative local URIs are taken from.
    pub frameworks_home: Option<PathBuf>,
}

impl Default for FetcherOptions {
    fn default() -> Self {
        FetcherOptions {
            cache_dir: std::env::temp_dir().join("mesos").join("fetch"),
            cache_size: DEFAULT_FETCHER_CACHE_SIZE,
            stall_timeout: DEFAULT_FETCHER_STALL_TIMEOUT,
            frameworks_home: None,
        }
    }
}

impl FetcherOptions {
    /// The options of the agent's flags (the stall timeout keeps its default when the
    /// flags have none).
    pub fn from_flags(flags: &crate::flags::Flags) -> FetcherOptions {
        FetcherOptions {
            cache_dir: flags.fetcher_cache_dir.clone(),
            cache_size: flags.fetcher_cache_size.into(),
            ..FetcherOptions::default()
        }
    }
}

/// The handle: clone freely.
#[derive(Clone, Debug)]
pub struct Fetcher {
    pid: Pid<FetcherProcess>,
}

impl Fetcher {
    /// Spawns the fetcher on the current runtime.
    pub fn new(options: FetcherOptions) -> Fetcher {
        clear_cache_dir(&options.cache_dir);
        let cache = Cache::new(options.cache_size);
        Fetcher {
            pid: libprocess::spawn(FetcherProcess {
                options,
                cache,
                running: HashMap::new(),
                metrics: None,
                me: None,
            }),
        }
    }

    /// Fetches `command`'s URIs into `sandbox` for `user`; completes when all are there.
    pub fn fetch(
        &self,
        container_id: &ContainerId,
        command: &CommandInfo,
        sandbox: &Path,
        user: Option<&str>,
    ) -> Future<()> {
        let container_id = container_id.clone();
        let command = command.clone();
        let sandbox = sandbox.to_path_buf();
        let user = user.map(str::to_owned);
        libprocess::call_future(&self.pid, move |p: &mut FetcherProcess| {
            p.fetch(container_id, command, sandbox, user)
        })
    }

    /// Stops the container's fetch, if one runs (its future fails).
    pub fn kill(&self, container_id: &ContainerId) {
        let id = container_id_string(container_id);
        dispatch(&self.pid, move |p: &mut FetcherProcess| {
            if let Some(cancelled) = p.running.get(&id) {
                info!(container_id = %id, "killing the fetch");
                cancelled.store(true, Ordering::Relaxed);
            }
        });
    }

    /// The bytes the cache holds now, and its size.
    pub fn cache_space(&self) -> Future<(u64, u64)> {
        call(&self.pid, |p: &mut FetcherProcess| {
            (p.cache.used_space(), p.cache.total_space())
        })
    }

    /// How many entries the cache has (downloads in progress included).
    pub fn cache_entries(&self) -> Future<usize> {
        call(&self.pid, |p: &mut FetcherProcess| p.cache.len())
    }

    /// Stops the process (running fetches finish on their threads, unanswered).
    pub fn terminate(&self) -> Future<()> {
        libprocess::terminate(&self.pid);
        libprocess::wait(&self.pid)
    }
}

struct Metrics {
    succeeded: Counter,
    failed: Counter,
    total: PushGauge,
    used: PushGauge,
}

/// What one URI of a fetch does.
enum Action {
    /// Straight into the sandbox.
    Bypass,
    /// Download into the cache file, then from there.
    Download { key: String, path: PathBuf },
    /// Wait for the cache entry, then from its file.
    Retrieve {
        key: String,
        path: PathBuf,
        completion: Future<()>,
    },
}

struct Item {
    uri: Uri,
    action: Action,
}

/// The fetcher's state: the cache and the fetches running.
pub struct FetcherProcess {
    options: FetcherOptions,
    cache: Cache,
    /// Running fetches by container id, with their kill switches.
    running: HashMap<String, Arc<AtomicBool>>,
    metrics: Option<Metrics>,
    me: Option<Pid<FetcherProcess>>,
}

impl Process for FetcherProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
        let metrics = ctx.runtime().metrics();
        let prefix = "containerizer/fetcher/";
        let m = Metrics {
            succeeded: metrics.counter(format!("{prefix}task_fetches_succeeded")),
            failed: metrics.counter(format!("{prefix}task_fetches_failed")),
            total: metrics.push_gauge(format!("{prefix}cache_size_total_bytes")),
            used: metrics.push_gauge(format!("{prefix}cache_size_used_bytes")),
        };
        m.total.set(self.cache.total_space() as f64);
        m.used.set(0.0);
        self.metrics = Some(m);
    }
}

impl FetcherProcess {
    fn me(&self) -> Pid<FetcherProcess> {
        self.me.clone().expect("initialize runs first")
    }

    fn update_used(&self) {
        if let Some(metrics) = &self.metrics {
            metrics.used.set(self.cache.used_space() as f64);
        }
    }

    fn count(&self, ok: bool) {
        if let Some(metrics) = &self.metrics {
            if ok {
                metrics.succeeded.inc();
            } else {
                metrics.failed.inc();
            }
        }
    }

    fn fetch(
        &mut self,
        container_id: ContainerId,
        command: CommandInfo,
        sandbox: PathBuf,
        user: Option<String>,
    ) -> Future<()> {
        let id = container_id_string(&container_id);
        if command.uris.is_empty() {
            return Future::ready(());
        }
        for uri in &command.uris {
            let valid = uri::validate_uri(&uri.value).and_then(|()| match &uri.output_file {
                Some(output) => uri::validate_output_file(output),
                None => Ok(()),
            });
            if let Err(error) = valid {
                self.count(false);
                return Future::failed(format!("Could not fetch: {error}"));
            }
        }
        if self.running.contains_key(&id) {
            return Future::failed(format!("a fetch for container {id} is already running"));
        }
        let user = command.user.clone().or(user);
        let cache_dir = match &user {
            Some(user) => self.options.cache_dir.join(user),
            None => self.options.cache_dir.clone(),
        };
        debug!(container_id = %id, sandbox = %sandbox.display(), "fetching URIs");

        let mut items = Vec::with_capacity(command.uris.len());
        for uri in command.uris {
            let action = if !uri.cache() {
                Action::Bypass
            } else {
                let key = cache::key(user.as_deref(), &uri.value);
                if let Some(entry) = self.cache.acquire(&key) {
                    Action::Retrieve {
                        path: entry.path.clone(),
                        completion: entry.completion(),
                        key,
                    }
                } else {
                    let basename = uri::basename(&uri.value).expect("validated above");
                    let entry = self.cache.create(key.clone(), cache_dir.clone(), &basename);
                    Action::Download {
                        path: entry.path.clone(),
                        key,
                    }
                }
            };
            items.push(Item { uri, action });
        }

        let cancelled = Arc::new(AtomicBool::new(false));
        self.running.insert(id.clone(), cancelled.clone());
        let context = DownloadContext {
            frameworks_home: self.options.frameworks_home.clone(),
            stall_timeout: self.options.stall_timeout,
            cancelled,
        };
        let promise = Promise::new();
        let future = promise.future();
        let me = self.me();
        let keys: Vec<String> = items
            .iter()
            .filter_map(|item| match &item.action {
                Action::Bypass => None,
                Action::Download { key, .. } | Action::Retrieve { key, .. } => Some(key.clone()),
            })
            .collect();
        let thread_id = id.clone();
        let spawned = std::thread::Builder::new()
            .name("fetcher".to_owned())
            .spawn(move || {
                let result = run(&items, &sandbox, &cache_dir, user.as_deref(), &context, &me);
                dispatch(&me, move |p: &mut FetcherProcess| {
                    p.finished(&thread_id, &keys, &result);
                    match result {
                        Ok(()) => promise.set(()),
                        Err(message) => promise.fail(message),
                    };
                });
            });
        if let Err(error) = spawned {
            self.running.remove(&id);
            self.count(false);
            return Future::failed(format!("cannot start a fetcher thread: {error}"));
        }
        future
    }

    fn finished(&mut self, id: &str, keys: &[String], result: &Result<(), String>) {
        self.running.remove(id);
        for key in keys {
            self.cache.release(key);
        }
        match result {
            Ok(()) => info!(container_id = %id, "fetched all URIs"),
            Err(message) => warn!(container_id = %id, %message, "fetch failed"),
        }
        self.count(result.is_ok());
    }

    /// Completes a cache entry after its download; evicts to make room. On `Err` the entry
    /// is gone from the cache but its file stays for the caller to use once and delete.
    fn complete_entry(&mut self, key: &str, size: u64) -> Result<(), String> {
        match self.cache.complete(key, size) {
            Ok(evicted) => {
                for path in evicted {
                    info!(path = %path.display(), "evicting from the fetcher cache");
                    if let Err(error) = std::fs::remove_file(&path) {
                        warn!(path = %path.display(), %error, "cannot delete a cache file");
                    }
                }
                self.update_used();
                Ok(())
            }
            Err(why) => {
                warn!(%key, %why, "not caching the download");
                self.cache.remove(key, &why);
                Err(why)
            }
        }
    }

    /// Forgets a cache entry whose download failed, with its partial file.
    fn drop_entry(&mut self, key: &str, why: &str) {
        if let Some(path) = self.cache.remove(key, why) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A fetch's work, on its own thread.
fn run(
    items: &[Item],
    sandbox: &Path,
    cache_dir: &Path,
    user: Option<&str>,
    context: &DownloadContext,
    me: &Pid<FetcherProcess>,
) -> Result<(), String> {
    if !sandbox.is_dir() {
        return Err(format!(
            "Failed to fetch: the sandbox '{}' is not a directory",
            sandbox.display()
        ));
    }
    let owner = match user {
        Some(user) if nix::unistd::geteuid().is_root() => Some(lookup_user(user)?),
        _ => None,
    };
    for item in items {
        if context.cancelled.load(Ordering::Relaxed) {
            return Err("the fetch was killed".to_owned());
        }
        let uri = &item.uri;
        info!(uri = %uri.value, "fetching URI");
        let fetched = match &item.action {
            Action::Bypass => fetch_bypassing_cache(uri, sandbox, context),
            Action::Download { key, path } => {
                download_into_cache(uri, key, path, cache_dir, sandbox, context, me)
            }
            Action::Retrieve {
                path, completion, ..
            } => match completion.get() {
                Ok(()) => fetch_from_file(uri, path, sandbox),
                Err(error) => {
                    warn!(uri = %uri.value, %error,
                        "reverting to fetching directly into the sandbox: the cache entry failed");
                    fetch_bypassing_cache(uri, sandbox, context)
                }
            },
        };
        fetched.map_err(|error| format!("Failed to fetch '{}': {error}", uri.value))?;
    }
    if let Some((uid, gid)) = owner {
        chown_tree(sandbox, uid, gid)?;
    }
    Ok(())
}

fn download_into_cache(
    uri: &Uri,
    key: &str,
    path: &Path,
    cache_dir: &Path,
    sandbox: &Path,
    context: &DownloadContext,
    me: &Pid<FetcherProcess>,
) -> Result<(), String> {
    let downloaded = std::fs::create_dir_all(cache_dir)
        .map_err(|e| {
            format!(
                "cannot create the cache directory '{}': {e}",
                cache_dir.display()
            )
        })
        .and_then(|()| download(&uri.value, path, context))
        .and_then(|()| {
            std::fs::metadata(path)
                .map(|m| m.len())
                .map_err(|e| format!("cannot stat '{}': {e}", path.display()))
        });
    let size = match downloaded {
        Ok(size) => size,
        Err(error) => {
            let (key, why) = (key.to_owned(), error.clone());
            let _ = call(me, move |p: &mut FetcherProcess| p.drop_entry(&key, &why)).get();
            return Err(error);
        }
    };
    let key = key.to_owned();
    let cached = call(me, move |p: &mut FetcherProcess| {
        p.complete_entry(&key, size)
    })
    .get()
    .map_err(|e| format!("the fetcher process is gone: {e}"))?;
    let result = fetch_from_file(uri, path, sandbox);
    if cached.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Where a URI lands in the sandbox (creating `output_file`'s directories).
fn destination(uri: &Uri, sandbox: &Path) -> Result<PathBuf, String> {
    let name = match &uri.output_file {
        Some(output) => {
            let parent = Path::new(output)
                .parent()
                .filter(|p| !p.as_os_str().is_empty());
            if let Some(parent) = parent {
                std::fs::create_dir_all(sandbox.join(parent)).map_err(|e| {
                    format!(
                        "Unable to create subdirectory {} in sandbox: {e}",
                        parent.display()
                    )
                })?;
            }
            output.clone()
        }
        None => uri::basename(&uri.value)?,
    };
    Ok(sandbox.join(name))
}

fn fetch_bypassing_cache(
    uri: &Uri,
    sandbox: &Path,
    context: &DownloadContext,
) -> Result<(), String> {
    let path = destination(uri, sandbox)?;
    download(&uri.value, &path, context)?;
    if uri.executable() {
        return make_executable(&path);
    }
    if uri.extract() && !extract::extract(&path, sandbox)? {
        debug!(uri = %uri.value, "not an archive: kept as is");
    }
    Ok(())
}

/// Into the sandbox from a downloaded (cache) file.
fn fetch_from_file(uri: &Uri, source: &Path, sandbox: &Path) -> Result<(), String> {
    let path = destination(uri, sandbox)?;
    if uri.executable() {
        copy(source, &path)?;
        return make_executable(&path);
    }
    if uri.extract() && extract::extract(source, sandbox)? {
        return Ok(());
    }
    copy(source, &path)
}

fn copy(source: &Path, destination: &Path) -> Result<(), String> {
    std::fs::copy(source, destination)
        .map(|_| ())
        .map_err(|e| format!("Failed to copy '{}': {e}", source.display()))
}

fn make_executable(path: &Path) -> Result<(), String> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("Failed to chmod executable '{}': {e}", path.display()))
}

fn lookup_user(user: &str) -> Result<(u32, u32), String> {
    let found = nix::unistd::User::from_name(user)
        .map_err(|e| format!("cannot look up user '{user}': {e}"))?
        .ok_or_else(|| format!("Failed to fetch: no such user '{user}'"))?;
    Ok((found.uid.as_raw(), found.gid.as_raw()))
}

/// Chowns `dir`'s contents (not following symlinks) to `uid:gid`.
fn chown_tree(dir: &Path, uid: u32, gid: u32) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list '{}': {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
            .map_err(|e| format!("Failed to chown '{}': {e}", path.display()))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            chown_tree(&path, uid, gid)?;
        }
    }
    Ok(())
}

/// Removes cache files (`c<N>-...`) an earlier run left in `dir` and its per-user
/// subdirectories.
fn clear_cache_dir(dir: &Path) {
    let is_cache_file = |name: &str| {
        name.strip_prefix('c')
            .and_then(|rest| rest.split_once('-'))
            .is_some_and(|(serial, _)| {
                !serial.is_empty() && serial.bytes().all(|b| b.is_ascii_digit())
            })
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_file() && is_cache_file(&name) {
            let _ = std::fs::remove_file(&path);
        } else if kind.is_dir()
            && let Ok(inner) = std::fs::read_dir(&path)
        {
            for file in inner.flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                if file.file_type().is_ok_and(|t| t.is_file()) && is_cache_file(&name) {
                    let _ = std::fs::remove_file(file.path());
                }
            }
        }
    }
}

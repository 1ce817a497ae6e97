//! Getting a URI's bytes into a file: a copy for local paths and `file://`, an HTTP GET
//! (through `libprocess::http::client`, redirects followed) for `http://` and `https://`.
//! Runs on the fetch's own thread and blocks it.
//!
//! A download fails if the answer is not `200`, or *stalls*: no byte arrives for
//! `--fetcher_stall_timeout` (upstream aborts when the speed stays under one byte per
//! second for that long). `https://` checks the server's certificate against the built-in
//! roots and those of the `SSL_CERT_FILE` PEM file (see `libprocess::http::client`); an
//! untrusted one fails the download with the reason. `ftp://`, `ftps://` and other schemes
//! (upstream hands those to the Hadoop client) fail with a clear message.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use libprocess::http::client::{self, ClientRequest};
use libprocess::http::{Body, Method};
use tracing::info;

use super::uri;

/// How many redirects a download follows.
const MAX_REDIRECTS: usize = 5;

/// What a download needs besides the URI and the destination.
#[derive(Clone, Debug)]
pub struct DownloadContext {
    /// `--frameworks_home`, for relative local paths.
    pub frameworks_home: Option<std::path::PathBuf>,
    /// `--fetcher_stall_timeout`.
    pub stall_timeout: Duration,
    /// Set when the fetch is killed.
    pub cancelled: Arc<AtomicBool>,
}

/// Puts the bytes of `source_uri` into the file `destination`.
pub fn download(
    source_uri: &str,
    destination: &Path,
    context: &DownloadContext,
) -> Result<(), String> {
    let source_uri = source_uri.trim_start();
    uri::validate_uri(source_uri)?;
    if let Some(path) = uri::local_path(source_uri, context.frameworks_home.as_deref())? {
        info!(source = %path.display(), destination = %destination.display(), "copying resource");
        if path.is_dir() {
            return Err(format!(
                "Failed to copy '{}': it is a directory",
                path.display()
            ));
        }
        std::fs::copy(&path, destination)
            .map_err(|e| format!("Failed to copy '{}': {e}", path.display()))?;
        return Ok(());
    }
    if is_http(source_uri) {
        return http_download(source_uri, destination, context);
    }
    let scheme = source_uri.split("://").next().unwrap_or_default();
    if uri::is_net_uri(source_uri) {
        return Err(format!(
            "Error downloading resource '{source_uri}': the {scheme}:// scheme is not supported \
             by this fetcher (http://, https:// and local paths are)"
        ));
    }
    Err(format!(
        "Error downloading resource '{source_uri}': no fetcher for the {scheme}:// scheme \
         (http://, https:// and local paths are supported)"
    ))
}

fn http_download(url: &str, destination: &Path, context: &DownloadContext) -> Result<(), String> {
    info!(%url, destination = %destination.display(), "downloading resource");
    let mut current = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let request = ClientRequest::new(Method::GET, &current)
            .map_err(|e| format!("Error downloading resource: {e}"))?;
        let answer = client::streaming(request);
        if !answer.await_for(context.stall_timeout) {
            answer.discard();
            return Err(format!(
                "Error downloading resource '{current}': no answer within {:?}",
                context.stall_timeout
            ));
        }
        let response = answer
            .get()
            .map_err(|e| format!("Error downloading resource '{current}': {e}"))?;
        let status = response.status.as_u16();
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            let location = response.header("location").ok_or_else(|| {
                format!("Error downloading resource: {status} without a Location")
            })?;
            current = resolve_location(&current, location);
            if !is_http(&current) {
                return Err(format!(
                    "Error downloading resource '{url}': redirected to '{current}', whose scheme \
                     is not supported"
                ));
            }
            continue;
        }
        if status != 200 {
            return Err(format!(
                "Error downloading resource '{current}', received HTTP return code {status}"
            ));
        }
        return write_body(response.body, destination, context)
            .map_err(|e| format!("Error downloading resource '{current}': {e}"));
    }
    Err(format!(
        "Error downloading resource '{url}': too many redirects"
    ))
}

/// True for the URLs downloaded over HTTP: `http://` and `https://`.
fn is_http(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// An absolute URL for a `Location` that may be relative to `base`.
fn resolve_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    if location.starts_with('/') {
        format!("{}{location}", &base[..host_end])
    } else {
        let dir_end = base
            .rfind('/')
            .filter(|&i| i >= host_end)
            .unwrap_or(host_end);
        format!("{}/{location}", &base[..dir_end])
    }
}

fn write_body(body: Body, destination: &Path, context: &DownloadContext) -> Result<(), String> {
    let mut file = File::create(destination)
        .map_err(|e| format!("cannot create '{}': {e}", destination.display()))?;
    let write = |file: &mut File, chunk: &[u8]| {
        file.write_all(chunk)
            .map_err(|e| format!("cannot write '{}': {e}", destination.display()))
    };
    match body {
        Body::Full(bytes) => write(&mut file, &bytes)?,
        Body::Stream(reader) => loop {
            if context.cancelled.load(Ordering::Relaxed) {
                reader.close();
                return Err("the fetch was killed".to_owned());
            }
            let next = reader.read();
            if !next.await_for(context.stall_timeout) {
                reader.close();
                return Err(format!(
                    "the download stalled: nothing received for {:?}",
                    context.stall_timeout
                ));
            }
            match next.get() {
                Ok(Some(chunk)) => write(&mut file, &chunk)?,
                Ok(None) => break,
                Err(error) => return Err(format!("the connection failed: {error}")),
            }
        },
    }
    file.sync_all()
        .map_err(|e| format!("cannot write '{}': {e}", destination.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_locations_resolve_against_the_url() {
        assert_eq!(resolve_location("http://h:1/a/b", "/c"), "http://h:1/c");
        assert_eq!(resolve_location("http://h:1/a/b", "c"), "http://h:1/a/c");
        assert_eq!(
            resolve_location("http://h:1/a/b", "http://x/y"),
            "http://x/y"
        );
        assert_eq!(resolve_location("http://h", "c"), "http://h/c");
    }
}

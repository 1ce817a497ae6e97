//! What a URI names: its base name, whether it is local, and validation (upstream
//! `Fetcher::basename`, `validateUri`, `validateOutputFile`, `uriToLocalPath`,
//! `isNetUri`). URIs are treated like paths, as upstream does: the base name of
//! `http://host/a/b.tar.gz?x=1` is `b.tar.gz?x=1`.

use std::path::{Path, PathBuf};

/// The last path segment of `uri`; an error for characters upstream refuses, or a URI with
/// a scheme but no path.
pub fn basename(uri: &str) -> Result<String, String> {
    if uri.contains(['\\', '\'', '\0']) {
        return Err("Illegal characters in URI".to_owned());
    }
    if let Some(index) = uri.find("://")
        && index > 1
    {
        let rest = &uri[index + 3..];
        return match rest.find('/') {
            Some(slash) if slash + 1 < rest.len() => {
                Ok(rest[rest.rfind('/').expect("has a slash") + 1..].to_owned())
            }
            _ => Err(format!("Malformed URI (missing path): {uri}")),
        };
    }
    let trimmed = uri.trim_end_matches('/');
    Ok(match trimmed.rfind('/') {
        Some(i) => trimmed[i + 1..].to_owned(),
        None if trimmed.is_empty() && uri.starts_with('/') => "/".to_owned(),
        None => trimmed.to_owned(),
    })
}

/// Checks that a URI can be fetched into a file name.
pub fn validate_uri(uri: &str) -> Result<(), String> {
    basename(uri).map(|_| ())
}

/// Checks an `output_file`: not empty, relative, and not climbing out of the sandbox.
pub fn validate_output_file(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("URI output file path is empty".to_owned());
    }
    if path.starts_with('/') {
        return Err("URI output file must be within the sandbox directory".to_owned());
    }
    if Path::new(path)
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err("URI output file must be within the sandbox directory".to_owned());
    }
    basename(path).map(|_| ())
}

/// The local path of `uri` when it is local (`file://` or no scheme), `None` otherwise.
/// Relative paths are taken from `frameworks_home`, and are an error without it.
pub fn local_path(uri: &str, frameworks_home: Option<&Path>) -> Result<Option<PathBuf>, String> {
    let file_uri = uri.starts_with("file://");
    if !file_uri && uri.contains("://") {
        return Ok(None);
    }
    let mut path = uri.strip_prefix("file://").unwrap_or(uri);
    path = path.strip_prefix("localhost").unwrap_or(path);
    if path.starts_with('/') {
        return Ok(Some(PathBuf::from(path)));
    }
    if file_uri {
        return Err("File URI only supports absolute paths".to_owned());
    }
    match frameworks_home {
        Some(home) if !home.as_os_str().is_empty() => Ok(Some(home.join(path))),
        _ => Err(
            "A relative path was passed for the resource but the Mesos framework home \
                  was not specified. Please either provide this config option or avoid \
                  using a relative path"
                .to_owned(),
        ),
    }
}

/// True for the schemes downloaded over the network.
pub fn is_net_uri(uri: &str) -> bool {
    ["http://", "https://", "ftp://", "ftps://"]
        .iter()
        .any(|scheme| uri.starts_with(scheme))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basenames_as_upstream() {
        assert_eq!(basename("http://host/a/b.tar.gz").unwrap(), "b.tar.gz");
        assert_eq!(basename("http://host/a/b?x=1").unwrap(), "b?x=1");
        assert_eq!(basename("/tmp/x/file.zip").unwrap(), "file.zip");
        assert_eq!(basename("file:///tmp/x").unwrap(), "x");
        assert_eq!(basename("relative/name").unwrap(), "name");
        assert!(basename("http://host").is_err());
        assert!(basename("http://host/").is_err());
        assert!(basename("/tmp/it's").is_err());
    }

    #[test]
    fn output_files_stay_in_the_sandbox() {
        assert!(validate_output_file("dir/name").is_ok());
        assert!(validate_output_file("").is_err());
        assert!(validate_output_file("/etc/passwd").is_err());
        assert!(validate_output_file("../escape").is_err());
        assert!(validate_output_file("a/../../escape").is_err());
    }

    #[test]
    fn local_paths() {
        assert_eq!(
            local_path("/a/b", None).unwrap(),
            Some(PathBuf::from("/a/b"))
        );
        assert_eq!(
            local_path("file:///a/b", None).unwrap(),
            Some(PathBuf::from("/a/b"))
        );
        assert_eq!(
            local_path("file://localhost/a/b", None).unwrap(),
            Some(PathBuf::from("/a/b"))
        );
        assert_eq!(local_path("http://h/a", None).unwrap(), None);
        assert!(local_path("file://rel", None).is_err());
        assert!(local_path("rel/x", None).is_err());
        assert_eq!(
            local_path("rel/x", Some(Path::new("/home"))).unwrap(),
            Some(PathBuf::from("/home/rel/x"))
        );
    }
}

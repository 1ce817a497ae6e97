//! From a virtual path to a real one: the longest attached prefix, the rest joined and
//! canonicalised, and a check that the result stays inside the attached directory.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::FilesError;

/// A path without a `file://` scheme.
pub(super) fn strip_file_scheme(path: &str) -> &str {
    path.strip_prefix("file://").unwrap_or(path)
}

/// A virtual path as attachments are keyed: no `file://`, no repeated or trailing `/`
/// (`/` itself stays `/`).
pub fn clean_virtual_path(path: &str) -> String {
    let path = strip_file_scheme(path);
    let absolute = path.starts_with('/');
    let joined = path
        .split('/')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// `path` (cleaned) and its ancestors, longest first.
pub(super) fn prefixes(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.rfind('/') {
            Some(0) if current.len() > 1 => Some("/"),
            Some(0) | None => None,
            Some(i) => Some(&current[..i]),
        };
        Some(current)
    })
}

/// Resolves virtual `path` against `attached` (cleaned virtual path -> canonical real path).
pub(super) fn resolve(
    attached: &BTreeMap<String, PathBuf>,
    path: &str,
) -> Result<PathBuf, FilesError> {
    let cleaned = clean_virtual_path(path);
    let not_found = || FilesError::NotFound(format!("No such file or directory '{path}'.\n"));
    for prefix in prefixes(&cleaned) {
        let Some(root) = attached.get(prefix) else {
            continue;
        };
        let suffix = cleaned[prefix.len()..].trim_start_matches('/');
        if !root.is_dir() {
            // An attached file has no children.
            return if suffix.is_empty() {
                Ok(root.clone())
            } else {
                Err(not_found())
            };
        }
        let joined = if suffix.is_empty() {
            root.clone()
        } else {
            root.join(suffix)
        };
        let real = match std::fs::canonicalize(&joined) {
            Ok(real) => real,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(not_found());
            }
            Err(error) if error.raw_os_error() == Some(libc::ENOTDIR) => {
                return Err(not_found());
            }
            Err(error) => {
                return Err(FilesError::Invalid(format!(
                    "Failed to determine canonical path of '{}': {error}.\n",
                    joined.display()
                )));
            }
        };
        if !real.starts_with(root) {
            return Err(FilesError::Invalid(format!(
                "'{}' is inaccessible.\n",
                joined.display()
            )));
        }
        return Ok(real);
    }
    Err(not_found())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_paths_are_cleaned() {
        assert_eq!(clean_virtual_path("/a//b/"), "/a/b");
        assert_eq!(clean_virtual_path("file:///a/b"), "/a/b");
        assert_eq!(clean_virtual_path("/"), "/");
        assert_eq!(clean_virtual_path("a/b/"), "a/b");
    }

    #[test]
    fn prefixes_go_from_longest_to_root() {
        assert_eq!(
            prefixes("/a/b/c").collect::<Vec<_>>(),
            vec!["/a/b/c", "/a/b", "/a", "/"]
        );
        assert_eq!(prefixes("a/b").collect::<Vec<_>>(), vec!["a/b", "a"]);
        assert_eq!(prefixes("/").collect::<Vec<_>>(), vec!["/"]);
    }
}

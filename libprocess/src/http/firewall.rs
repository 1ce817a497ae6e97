//! The HTTP firewall: rules consulted, in order, before a request reaches its process; the
//! first rule that answers wins (libprocess's `firewall::install`). Libprocess messages do not
//! go through it.
//!
//! [`DisabledEndpoints`] is libprocess's `DisabledEndpointsFirewallRule` (Mesos's
//! `--firewall_rules`): a set of endpoint paths answered `403`. Paths are made absolute as
//! libprocess's `absolutePath` does (a path whose first segment is not a live process id gets
//! the delegate's id in front), so `/state` and `/master/state` name the same endpoint when
//! `master` is the delegate. Unlike libprocess, the comparison also ignores a trailing `/` and
//! percent-encoding of the process id, which routing ignores too; otherwise `/master/state/`
//! would reach a disabled `/master/state`.

use std::collections::HashSet;
use std::sync::Arc;

use super::request::{Request, decode};
use super::response::Response;
use crate::runtime::{Handle, RtShared};

/// A rule of the HTTP firewall.
///
/// ```
/// use libprocess::Handle;
/// use libprocess::http::{FirewallRule, Request, Response};
///
/// /// Only lets in GETs.
/// struct ReadOnly;
/// impl FirewallRule for ReadOnly {
///     fn apply(&self, _runtime: &Handle, request: &Request) -> Option<Response> {
///         (request.method != "GET").then(|| Response::forbidden("read-only"))
///     }
/// }
/// ```
pub trait FirewallRule: Send + Sync + 'static {
    /// The answer to give instead of serving `request` (whose `path` is as routed, see
    /// [`Request::path`]), or `None` to let it through.
    fn apply(&self, runtime: &Handle, request: &Request) -> Option<Response>;
}

/// Answers `403` to requests for a set of endpoints (exact paths).
///
/// ```
/// use std::sync::Arc;
/// use libprocess::Runtime;
/// use libprocess::http::DisabledEndpoints;
///
/// let runtime = Runtime::new();
/// runtime.set_firewall(vec![Arc::new(DisabledEndpoints::new(["/state", "/metrics/snapshot"]))]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct DisabledEndpoints {
    paths: HashSet<String>,
}

impl DisabledEndpoints {
    /// A rule disabling these paths.
    pub fn new<I, S>(paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        DisabledEndpoints {
            paths: paths.into_iter().map(Into::into).collect(),
        }
    }
}

impl FirewallRule for DisabledEndpoints {
    fn apply(&self, runtime: &Handle, request: &Request) -> Option<Response> {
        let requested = canonical(&request.path);
        self.paths
            .iter()
            .any(|path| canonical(&runtime.shared.absolute_path(path)) == requested)
            .then(|| Response::forbidden(format!("Endpoint '{}' is disabled", request.path)))
    }
}

/// `path` with its first segment percent-decoded and without a trailing `/`.
fn canonical(path: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    let (first, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let first = decode(first).unwrap_or_else(|_| first.to_string());
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        format!("/{first}")
    } else {
        format!("/{first}/{rest}")
    }
}

impl RtShared {
    /// libprocess's `absolutePath`: `path` with the delegate's id in front when its first
    /// segment is not the id of a live process (`/` becomes `/<delegate>`).
    pub(crate) fn absolute_path(&self, path: &str) -> String {
        let Some(delegate) = self.http.delegate() else {
            return path.to_string();
        };
        let Some(first) = path.split('/').find(|t| !t.is_empty()) else {
            return format!("/{delegate}");
        };
        match decode(first) {
            Err(_) => path.to_string(),
            Ok(id) if self.registry.get(&id).is_some() => path.to_string(),
            Ok(_) => format!("/{delegate}{path}"),
        }
    }
}

impl Handle {
    /// Installs the HTTP firewall's rules, replacing earlier ones. Requests a rule answers
    /// (typically `403`) never reach their process; libprocess messages are not checked.
    pub fn set_firewall(&self, rules: Vec<Arc<dyn FirewallRule>>) {
        *self.shared.http.firewall.write() = rules.into();
    }

    /// libprocess's `absolutePath`: `path` as the runtime routes it. With a delegate `master`
    /// and no process `state`, `/state` is `/master/state`.
    ///
    /// ```
    /// use libprocess::{Process, Runtime};
    /// struct Master;
    /// impl Process for Master {}
    ///
    /// let runtime = Runtime::new();
    /// runtime.spawn_with_id("master", Master).unwrap();
    /// assert_eq!(runtime.absolute_path("/state"), "/state");
    /// runtime.set_delegate("master");
    /// assert_eq!(runtime.absolute_path("/state"), "/master/state");
    /// assert_eq!(runtime.absolute_path("/master/state"), "/master/state");
    /// assert_eq!(runtime.absolute_path("/"), "/master");
    /// ```
    pub fn absolute_path(&self, path: &str) -> String {
        self.shared.absolute_path(path)
    }
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn canonical_paths() {
        assert_eq!(canonical("/master/state/"), "/master/state");
        assert_eq!(canonical("/slave%281%29/state"), "/slave(1)/state");
        assert_eq!(canonical("/metrics"), "/metrics");
        assert_eq!(canonical("/"), "/");
    }
}

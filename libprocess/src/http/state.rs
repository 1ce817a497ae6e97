//! The HTTP settings of one runtime: the delegate, the firewall, the authenticators and the
//! metrics registry. Read on every request from the IO threads, written rarely.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use super::auth::Authenticator;
use super::firewall::FirewallRule;
use crate::metrics::Registry;
use crate::runtime::Handle;

pub(crate) struct HttpState {
    delegate: RwLock<Option<Arc<str>>>,
    pub(crate) firewall: RwLock<Arc<[Arc<dyn FirewallRule>]>>,
    pub(crate) authenticators: RwLock<HashMap<String, Arc<dyn Authenticator>>>,
    pub(crate) metrics: Arc<Registry>,
}

impl HttpState {
    pub(crate) fn new() -> HttpState {
        HttpState {
            delegate: RwLock::new(None),
            firewall: RwLock::new(Arc::new([])),
            authenticators: RwLock::new(HashMap::new()),
            metrics: Arc::new(Registry::default()),
        }
    }

    pub(crate) fn delegate(&self) -> Option<Arc<str>> {
        self.delegate.read().clone()
    }

    pub(crate) fn firewall(&self) -> Arc<[Arc<dyn FirewallRule>]> {
        self.firewall.read().clone()
    }

    pub(crate) fn authenticator(&self, realm: &str) -> Option<Arc<dyn Authenticator>> {
        self.authenticators.read().get(realm).cloned()
    }
}

impl Handle {
    /// Sends HTTP requests whose first path segment is not a live process id to process `id`,
    /// with the whole path as the route (libprocess's delegate): with `master` as delegate,
    /// `/state` is served as `/master/state` and `/` as `/master`.
    ///
    /// ```
    /// let runtime = libprocess::Runtime::new();
    /// runtime.set_delegate("master");
    /// assert_eq!(runtime.delegate().as_deref(), Some("master"));
    /// runtime.clear_delegate();
    /// assert_eq!(runtime.delegate(), None);
    /// ```
    pub fn set_delegate(&self, id: impl Into<String>) {
        *self.shared.http.delegate.write() = Some(Arc::from(id.into()));
    }

    /// Removes the delegate: requests for unknown process ids get `404`.
    pub fn clear_delegate(&self) {
        *self.shared.http.delegate.write() = None;
    }

    /// The delegate's process id, if set.
    pub fn delegate(&self) -> Option<String> {
        self.shared.http.delegate().map(|d| d.to_string())
    }
}

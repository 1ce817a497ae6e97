//! Message filters for tests: see, catch or drop messages and dispatches between processes.
//!
//! Rust counterparts of Mesos's `FUTURE_MESSAGE`, `DROP_MESSAGES` and `FUTURE_DISPATCH`: a test
//! asks a runtime for a future of the next message matching a [`Matcher`], or to drop such
//! messages, and the runtime consults its filters on every local and remote message and every
//! dispatch before queuing it. With no filter installed the cost is one relaxed load.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::future::Promise;
use crate::message::Message;
use crate::pid::Upid;

/// What a filter sees.
#[derive(Debug)]
#[non_exhaustive]
pub enum FilterEvent<'a> {
    /// A named message about to be delivered (or sent to another runtime).
    Message(&'a Message),
    /// A dispatch about to be queued: the target and the type name of the dispatched closure,
    /// which names the function that created it, e.g. `my_crate::Master::add_agent::{{closure}}`.
    Dispatch {
        /// The target process.
        to: &'a Upid,
        /// The closure's type name.
        name: &'static str,
    },
}

/// Which messages a rule applies to. Unset parts match anything.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    name: Option<String>,
    from: Option<Upid>,
    to: Option<Upid>,
}

impl Matcher {
    /// Matches every message.
    pub fn any() -> Self {
        Matcher::default()
    }

    /// Matches messages with this name.
    pub fn name(name: impl Into<String>) -> Self {
        Matcher {
            name: Some(name.into()),
            ..Matcher::default()
        }
    }

    /// Matches protobuf messages of type `M`.
    pub fn protobuf<M: prost::Name>() -> Self {
        Matcher::name(M::full_name())
    }

    /// Only messages from `from`.
    pub fn from(mut self, from: &Upid) -> Self {
        self.from = Some(from.clone());
        self
    }

    /// Only messages to `to`.
    pub fn to(mut self, to: &Upid) -> Self {
        self.to = Some(to.clone());
        self
    }

    /// True if `message` matches.
    pub fn matches(&self, message: &Message) -> bool {
        self.name.as_ref().is_none_or(|n| *n == message.name)
            && self.from.as_ref().is_none_or(|f| *f == message.from)
            && self.to.as_ref().is_none_or(|t| *t == message.to)
    }
}

#[cfg_attr(not(feature = "test-util"), allow(dead_code))]
enum Action {
    /// Let it through; hand a copy to the promise (once).
    Observe(Promise<Message>),
    /// Drop it; hand it to the promise (once).
    DropOnce(Promise<Message>),
    /// Drop every match while installed.
    DropAll,
    /// Observe a dispatch (once).
    ObserveDispatch(Promise<()>),
    /// Drop every matching dispatch while installed.
    DropDispatches,
    /// A user-supplied rule: returns true to drop.
    Custom(Box<dyn Fn(&FilterEvent<'_>) -> bool + Send + Sync>),
}

#[cfg_attr(not(feature = "test-util"), allow(dead_code))]
enum Rule {
    Message(Matcher),
    Dispatch { to: Upid, name: String },
    Any,
}

#[cfg_attr(not(feature = "test-util"), allow(dead_code))]
struct Entry {
    id: u64,
    rule: Rule,
    action: Action,
}

#[cfg_attr(not(feature = "test-util"), allow(dead_code))]
pub(crate) struct Filters {
    active: AtomicBool,
    next_id: AtomicU64,
    entries: Mutex<Vec<Entry>>,
}

impl Filters {
    pub(crate) fn new() -> Self {
        Filters {
            active: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(Vec::new()),
        }
    }

    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Consults the filters about a message; true means drop it.
    pub(crate) fn on_message(&self, message: &Message) -> bool {
        self.consult(&FilterEvent::Message(message))
    }

    /// Consults the filters about a dispatch; true means drop it.
    pub(crate) fn on_dispatch(&self, to: &Upid, name: &'static str) -> bool {
        self.consult(&FilterEvent::Dispatch { to, name })
    }

    fn consult(&self, event: &FilterEvent<'_>) -> bool {
        let mut drop_it = false;
        let mut completions: Vec<Box<dyn FnOnce() + Send>> = Vec::new();
        {
            let mut entries = self.entries.lock();
            let mut i = 0;
            while i < entries.len() {
                let entry = &entries[i];
                let matched = match (&entry.rule, event) {
                    (Rule::Message(m), FilterEvent::Message(message)) => m.matches(message),
                    (
                        Rule::Dispatch { to, name },
                        FilterEvent::Dispatch {
                            to: target,
                            name: closure,
                        },
                    ) => to == *target && closure.contains(name.as_str()),
                    (Rule::Any, _) => true,
                    _ => false,
                };
                if !matched {
                    i += 1;
                    continue;
                }
                let once = match &entry.action {
                    Action::Observe(_) | Action::DropOnce(_) | Action::ObserveDispatch(_) => true,
                    Action::DropAll | Action::DropDispatches => {
                        drop_it = true;
                        false
                    }
                    Action::Custom(f) => {
                        drop_it |= f(event);
                        false
                    }
                };
                if once {
                    let entry = entries.remove(i);
                    match (entry.action, event) {
                        (Action::Observe(p), FilterEvent::Message(m)) => {
                            let m = (*m).clone();
                            completions.push(Box::new(move || {
                                p.set(m);
                            }));
                        }
                        (Action::DropOnce(p), FilterEvent::Message(m)) => {
                            drop_it = true;
                            let m = (*m).clone();
                            completions.push(Box::new(move || {
                                p.set(m);
                            }));
                        }
                        (Action::ObserveDispatch(p), _) => completions.push(Box::new(move || {
                            p.set(());
                        })),
                        _ => {}
                    }
                    // An observer takes only the first match; stop if this was a drop.
                    if drop_it {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            self.active.store(!entries.is_empty(), Ordering::Relaxed);
        }
        for complete in completions {
            complete();
        }
        drop_it
    }

    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    fn add(&self, rule: Rule, action: Action) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.entries.lock();
        entries.push(Entry { id, rule, action });
        self.active.store(true, Ordering::Relaxed);
        id
    }

    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    fn remove(&self, id: u64) {
        let mut entries = self.entries.lock();
        entries.retain(|e| e.id != id);
        self.active.store(!entries.is_empty(), Ordering::Relaxed);
    }
}

#[cfg(feature = "test-util")]
pub use api::FilterGuard;

#[cfg(feature = "test-util")]
mod api {
    use super::*;
    use crate::future::Future;
    use crate::runtime::{Handle, RtShared};
    use std::sync::Arc;

    /// Removes its filter when dropped.
    #[must_use = "the filter is removed when the guard is dropped"]
    pub struct FilterGuard {
        shared: Arc<RtShared>,
        id: u64,
    }

    impl std::fmt::Debug for FilterGuard {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("FilterGuard").field("id", &self.id).finish()
        }
    }

    impl Drop for FilterGuard {
        fn drop(&mut self) {
            self.shared.filters.remove(self.id);
        }
    }

    impl Handle {
        /// A future of the next message matching `matcher` (which is still delivered), like
        /// Mesos's `FUTURE_MESSAGE`.
        pub fn future_message(&self, matcher: Matcher) -> Future<Message> {
            let promise = Promise::new();
            let future = promise.future();
            self.shared
                .filters
                .add(Rule::Message(matcher), Action::Observe(promise));
            future
        }

        /// Drops the next message matching `matcher`; the future gets it (`DROP_MESSAGE`).
        pub fn drop_message(&self, matcher: Matcher) -> Future<Message> {
            let promise = Promise::new();
            let future = promise.future();
            self.shared
                .filters
                .add(Rule::Message(matcher), Action::DropOnce(promise));
            future
        }

        /// Drops every message matching `matcher` while the guard lives (`DROP_MESSAGES`).
        pub fn drop_messages(&self, matcher: Matcher) -> FilterGuard {
            let id = self
                .shared
                .filters
                .add(Rule::Message(matcher), Action::DropAll);
            FilterGuard {
                shared: self.shared.clone(),
                id,
            }
        }

        /// A future that completes when a closure whose type name contains `name` (e.g. the
        /// method that dispatches it) is dispatched to `to` (`FUTURE_DISPATCH`).
        pub fn future_dispatch(&self, to: &Upid, name: &str) -> Future<()> {
            let promise = Promise::new();
            let future = promise.future();
            let rule = Rule::Dispatch {
                to: to.clone(),
                name: name.to_string(),
            };
            self.shared
                .filters
                .add(rule, Action::ObserveDispatch(promise));
            future
        }

        /// Drops every such dispatch while the guard lives (`DROP_DISPATCHES`).
        pub fn drop_dispatches(&self, to: &Upid, name: &str) -> FilterGuard {
            let rule = Rule::Dispatch {
                to: to.clone(),
                name: name.to_string(),
            };
            let id = self.shared.filters.add(rule, Action::DropDispatches);
            FilterGuard {
                shared: self.shared.clone(),
                id,
            }
        }

        /// Installs a filter that sees every message and dispatch and returns true to drop it.
        pub fn install_filter(
            &self,
            filter: impl Fn(&FilterEvent<'_>) -> bool + Send + Sync + 'static,
        ) -> FilterGuard {
            let id = self
                .shared
                .filters
                .add(Rule::Any, Action::Custom(Box::new(filter)));
            FilterGuard {
                shared: self.shared.clone(),
                id,
            }
        }
    }
}

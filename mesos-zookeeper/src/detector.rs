//! Who leads (Mesos's `ZooKeeperMasterDetector`).
//!
//! A task on the IO runtime keeps a session, lists the children of the URL's path with a watch,
//! and takes the `json.info_*` child with the lowest sequence as the leader, reading its data as
//! a `MasterInfo` in Mesos's JSON mapping. Other children (`log_replicas`, `registry`, protobuf
//! `info_` nodes of old masters, anything else) are ignored. A missing path means no leader yet.
//!
//! While the connection is lost the last leader stays (the session may come back); when the
//! session expires the detector reports "no leader" and starts over with a new session.
//! [`ZkMasterDetector::detect`] answers once the leader differs from what the caller knows.
//! The task stops when the last clone of the detector is dropped.

use std::sync::Arc;
use std::time::Duration;

use libprocess::{Future, Promise};
use mesos_core::v0;
use parking_lot::Mutex;
use tracing::{debug, info, warn};
use zookeeper_client as zk;

use crate::session::{self, RETRY_INTERVAL};
use crate::url::ZkUrl;

/// Follows the leading master of the group at a URL's path.
#[derive(Clone)]
pub struct ZkMasterDetector {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<Mutex<State>>,
    task: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
struct State {
    /// Whether the group was read at least once (before that, nobody is told "no leader").
    known: bool,
    leader: Option<v0::MasterInfo>,
    waiters: Vec<(Option<v0::MasterInfo>, Promise<Option<v0::MasterInfo>>)>,
}

impl State {
    /// Records `leader`; returns the waiters it answers, to be completed once the lock is
    /// released (their callbacks may ask the detector again).
    fn update(&mut self, leader: Option<v0::MasterInfo>) -> Vec<Promise<Option<v0::MasterInfo>>> {
        if self.known && same(self.leader.as_ref(), leader.as_ref()) {
            return Vec::new();
        }
        match &leader {
            Some(info) => {
                info!(leader = %info.pid(), id = %info.id, "detected a new leading master")
            }
            None => info!("no leading master"),
        }
        self.known = true;
        self.leader = leader;
        let waiters = std::mem::take(&mut self.waiters);
        let mut answered = Vec::new();
        for (previous, promise) in waiters {
            if same(previous.as_ref(), self.leader.as_ref()) {
                self.waiters.push((previous, promise));
            } else {
                answered.push(promise);
            }
        }
        answered
    }
}

/// Records `leader` in `state` and answers the waiters it concerns, outside the lock.
fn publish(state: &Mutex<State>, leader: Option<v0::MasterInfo>) {
    let (answered, leader) = {
        let mut state = state.lock();
        let answered = state.update(leader);
        (answered, state.leader.clone())
    };
    for promise in answered {
        promise.set(leader.clone());
    }
}

/// Leaders are the same master when their `id` and `pid` are.
fn same(a: Option<&v0::MasterInfo>, b: Option<&v0::MasterInfo>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.id == b.id && a.pid == b.pid,
        _ => false,
    }
}

impl ZkMasterDetector {
    /// Starts following the group at `url.path()`.
    pub fn new(url: ZkUrl, session_timeout: Duration) -> ZkMasterDetector {
        let state = Arc::new(Mutex::new(State::default()));
        let task = session::io().spawn(follow(url, session_timeout, state.clone()));
        ZkMasterDetector {
            inner: Arc::new(Inner {
                state,
                task: task.abort_handle(),
            }),
        }
    }

    /// The leader once it differs from `previous` (compared by `id` and `pid`); `None`: no
    /// leader. With `previous = None` and a leader known, ready at once.
    pub fn detect(&self, previous: Option<&v0::MasterInfo>) -> Future<Option<v0::MasterInfo>> {
        let mut state = self.inner.state.lock();
        if state.known && !same(previous, state.leader.as_ref()) {
            return Future::ready(state.leader.clone());
        }
        let promise = Promise::new();
        let future = promise.future();
        state.waiters.push((previous.cloned(), promise));
        future
    }

    /// For callers that know a master by something derived from its `MasterInfo` (an agent by
    /// its UPID, a scheduler by its `host:port`): the leader's `key` once it differs from
    /// `previous` (`None`: no leader, or one without a key). A leader whose key is `previous`
    /// (a restarted master at the same address) is waited past.
    pub fn detect_by<K>(
        &self,
        previous: Option<K>,
        key: fn(&v0::MasterInfo) -> Option<K>,
    ) -> Future<Option<K>>
    where
        K: Clone + PartialEq + Send + Sync + 'static,
    {
        // No real master equals an empty MasterInfo: this answers as soon as the group is read.
        let this = self.clone();
        self.detect(Some(&v0::MasterInfo::default()))
            .then(move |leader| this.changed_from(leader, previous, key))
    }

    fn changed_from<K>(
        &self,
        leader: Option<v0::MasterInfo>,
        previous: Option<K>,
        key: fn(&v0::MasterInfo) -> Option<K>,
    ) -> Future<Option<K>>
    where
        K: Clone + PartialEq + Send + Sync + 'static,
    {
        let current = leader.as_ref().and_then(key);
        if current != previous {
            return Future::ready(current);
        }
        let this = self.clone();
        self.detect(leader.as_ref())
            .then(move |next| this.changed_from(next, previous, key))
    }
}

/// The detector's task: one session after another, each followed until it expires.
async fn follow(url: ZkUrl, session_timeout: Duration, state: Arc<Mutex<State>>) {
    loop {
        let client = session::connect_until_established(&url, session_timeout).await;
        follow_session(&client, &url, &state).await;
        warn!(
            servers = url.servers(),
            "ZooKeeper session expired, starting over"
        );
        publish(&state, None);
    }
}

/// Reads the leader and waits for changes until the session ends.
async fn follow_session(client: &zk::Client, url: &ZkUrl, state: &Mutex<State>) {
    let mut states = client.state_watcher();
    loop {
        if session::is_terminal(client.state()) {
            return;
        }
        match read_leader(client, url).await {
            Ok((leader, watcher)) => {
                publish(state, leader);
                tokio::select! {
                    event = watcher.changed() => {
                        debug!(?event.event_type, ?event.session_state, "group changed");
                    }
                    changed = states.changed() => {
                        if session::is_terminal(changed) {
                            return;
                        }
                    }
                }
            }
            Err(error) if session::is_session_over(&error) => return,
            Err(error) => {
                debug!(%error, "cannot read the masters' group now, retrying");
                tokio::select! {
                    _ = states.changed() => {}
                    _ = tokio::time::sleep(RETRY_INTERVAL) => {}
                }
            }
        }
    }
}

/// The current leader, with a watch that fires when the group (or the path) changes.
async fn read_leader(
    client: &zk::Client,
    url: &ZkUrl,
) -> Result<(Option<v0::MasterInfo>, zk::OneshotWatcher), zk::Error> {
    loop {
        let (children, _, watcher) = match client.get_and_watch_children(url.path()).await {
            Ok(found) => found,
            Err(zk::Error::NoNode) => {
                // No group yet: watch for the path to appear.
                let (stat, watcher) = client.check_and_watch_stat(url.path()).await?;
                if stat.is_some() {
                    continue;
                }
                return Ok((None, watcher));
            }
            Err(error) => return Err(error),
        };
        let Some(leader) = lowest_member(&children) else {
            return Ok((None, watcher));
        };
        let path = url.child_path(leader);
        let data = match client.get_data(&path).await {
            Ok((data, _)) => data,
            // Gone between the listing and the read: read the group again.
            Err(zk::Error::NoNode) => continue,
            Err(error) => return Err(error),
        };
        let info = parse_master_info(&data)
            .inspect_err(|error| warn!(znode = %path, %error, "the leader's znode does not hold a MasterInfo"))
            .ok();
        return Ok((info, watcher));
    }
}

/// The `json.info_` child with the lowest sequence.
pub(crate) fn lowest_member(children: &[String]) -> Option<&str> {
    let prefix = format!("{}_", crate::MASTER_INFO_JSON_LABEL);
    children
        .iter()
        .filter_map(|child| {
            let sequence = child.strip_prefix(&prefix)?;
            if sequence.is_empty() || !sequence.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((sequence.parse::<u64>().ok()?, child.as_str()))
        })
        .min()
        .map(|(_, child)| child)
}

/// A `MasterInfo` from a member's data: Mesos's JSON mapping.
pub(crate) fn parse_master_info(data: &[u8]) -> Result<v0::MasterInfo, String> {
    let text = std::str::from_utf8(data).map_err(|e| format!("not UTF-8: {e}"))?;
    mesos_core::json::from_str::<v0::MasterInfo>(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_json_member_leads_and_others_are_ignored() {
        let children: Vec<String> = [
            "log_replicas",
            "json.info_0000000007",
            "info_0000000001",
            "json.info_0000000003",
            "registry",
            "json.info_x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(lowest_member(&children), Some("json.info_0000000003"));
        assert_eq!(lowest_member(&children[4..]), None);
    }
}

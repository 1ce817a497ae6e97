//! A master's candidacy (Mesos's `ZooKeeperMasterContender`).
//!
//! [`ZkMasterContender::contend`] opens a session, creates the URL's path when missing and joins
//! the group there as an ephemeral sequential znode `json.info_NNNNNNNNNN` whose data is the
//! master's `MasterInfo` in Mesos's JSON mapping. The outer future is ready once the znode
//! exists; the inner one becomes ready when the candidacy is lost: the session expired, it
//! stayed disconnected for two thirds of the session timeout (so that it steps down before the
//! server can expire it and let another master lead), the znode was deleted, or
//! [`ZkMasterContender::withdraw`] was called. Losing the connection only briefly loses
//! nothing: the client reconnects with the same session and the znode stays.
//!
//! Contending again withdraws the previous candidacy first. Each candidacy has its own session.

use std::sync::Arc;
use std::time::Duration;

use libprocess::{Future, Promise};
use mesos_core::v0;
use parking_lot::Mutex;
use tracing::{info, warn};
use zookeeper_client as zk;

use crate::session::{self, RETRY_INTERVAL};
use crate::url::ZkUrl;

/// A master's candidacy in the ZooKeeper group at a URL's path.
#[derive(Clone)]
pub struct ZkMasterContender {
    inner: Arc<Inner>,
}

struct Inner {
    url: ZkUrl,
    session_timeout: Duration,
    candidacy: Mutex<Option<Candidacy>>,
}

/// One call to `contend`, until it is withdrawn or lost.
struct Candidacy {
    /// The task that joins and then watches; aborted by `withdraw`.
    task: tokio::task::AbortHandle,
    /// The session and our znode, once it exists.
    joined: Arc<Mutex<Option<(zk::Client, String)>>>,
    /// Fired when the candidacy is lost.
    lost: Arc<Signal>,
    /// Completed once the znode exists.
    entered: Arc<Mutex<Option<Promise<Future<()>>>>>,
}

/// A promise of `()` that may be set from several places, once.
struct Signal(Mutex<Option<Promise<()>>>);

impl Signal {
    fn new() -> (Arc<Signal>, Future<()>) {
        let promise = Promise::new();
        let future = promise.future();
        (Arc::new(Signal(Mutex::new(Some(promise)))), future)
    }

    fn fire(&self) {
        if let Some(promise) = self.0.lock().take() {
            promise.set(());
        }
    }
}

impl ZkMasterContender {
    /// A contender for the group at `url.path()`; nothing happens until [`Self::contend`].
    pub fn new(url: ZkUrl, session_timeout: Duration) -> ZkMasterContender {
        ZkMasterContender {
            inner: Arc::new(Inner {
                url,
                session_timeout,
                candidacy: Mutex::new(None),
            }),
        }
    }

    /// Joins the group with `info`. The outer future is ready once the znode exists; the inner
    /// one becomes ready when the candidacy is lost (session expired, znode deleted, withdrawn).
    pub fn contend(&self, info: v0::MasterInfo) -> Future<Future<()>> {
        self.withdraw();
        let data = mesos_core::json::to_string(&info);
        let (lost, lost_future) = Signal::new();
        let entered_promise = Promise::new();
        let entered_future = entered_promise.future();
        let entered = Arc::new(Mutex::new(Some(entered_promise)));
        let joined = Arc::new(Mutex::new(None));

        let url = self.inner.url.clone();
        let session_timeout = self.inner.session_timeout;
        let task = {
            let lost = lost.clone();
            let entered = entered.clone();
            let joined = joined.clone();
            session::io().spawn(async move {
                let (client, path) = join(&url, session_timeout, data.as_bytes()).await;
                info!(znode = %path, session = %client.session_id(), "joined the masters' group");
                *joined.lock() = Some((client.clone(), path.clone()));
                if let Some(promise) = entered.lock().take() {
                    promise.set(lost_future);
                }
                watch(&client, &path, session_timeout).await;
                warn!(znode = %path, "lost the candidacy");
                joined.lock().take();
                lost.fire();
            })
        };
        *self.inner.candidacy.lock() = Some(Candidacy {
            task: task.abort_handle(),
            joined,
            lost,
            entered,
        });
        entered_future
    }

    /// Leaves the group: deletes our znode and closes the session. Ready with `true` when there
    /// was a candidacy to withdraw. The candidacy's inner future becomes ready.
    pub fn withdraw(&self) -> Future<bool> {
        let Some(candidacy) = self.inner.candidacy.lock().take() else {
            return Future::ready(false);
        };
        candidacy.task.abort();
        if let Some(promise) = candidacy.entered.lock().take() {
            promise.fail("the candidacy was withdrawn before it joined the group");
        }
        candidacy.lost.fire();
        let joined = candidacy.joined.lock().take();
        session::run(async move {
            if let Some((client, path)) = joined {
                match client.delete(&path, None).await {
                    Ok(()) | Err(zk::Error::NoNode) => {
                        info!(znode = %path, "withdrew from the masters' group")
                    }
                    // The session closes below, which removes the ephemeral znode anyway.
                    Err(error) => warn!(znode = %path, %error, "cannot delete our znode"),
                }
            }
            true
        })
    }
}

/// Opens sessions until one has created our znode: returns the session and the znode's path.
async fn join(url: &ZkUrl, session_timeout: Duration, data: &[u8]) -> (zk::Client, String) {
    loop {
        let client = session::connect_until_established(url, session_timeout).await;
        match create_member(&client, url, data).await {
            Ok(path) => return (client, path),
            Err(error) => {
                warn!(%error, group = url.path(), "cannot join the masters' group, retrying");
                tokio::time::sleep(RETRY_INTERVAL).await;
            }
        }
    }
}

/// Creates our ephemeral sequential znode with this session. A lost connection is retried
/// while the session lives (finding the znode if the server created it before the loss); an
/// error ending the session is returned.
async fn create_member(client: &zk::Client, url: &ZkUrl, data: &[u8]) -> Result<String, zk::Error> {
    let prefix = url.child_path(&format!("{}_", crate::MASTER_INFO_JSON_LABEL));
    let options = zk::CreateMode::EphemeralSequential.with_acls(session::acls(url));
    let mut maybe_created = false;
    loop {
        if session::is_terminal(client.state()) {
            return Err(zk::Error::SessionExpired);
        }
        if maybe_created {
            match find_own_member(client, url).await {
                Ok(Some(path)) => return Ok(path),
                Ok(None) => maybe_created = false,
                Err(error) if session::is_session_over(&error) => return Err(error),
                Err(_) => {
                    tokio::time::sleep(RETRY_INTERVAL).await;
                    continue;
                }
            }
        }
        match client.create(&prefix, data, &options).await {
            Ok((_, sequence)) => return Ok(format!("{prefix}{sequence}")),
            Err(zk::Error::NoNode) => {
                if let Err(error) = session::ensure_path(client, url, url.path()).await {
                    if session::is_session_over(&error) {
                        return Err(error);
                    }
                    tokio::time::sleep(RETRY_INTERVAL).await;
                }
            }
            Err(zk::Error::ConnectionLoss) => {
                maybe_created = true;
                tokio::time::sleep(RETRY_INTERVAL).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The `json.info_*` znode this session owns, if any.
async fn find_own_member(client: &zk::Client, url: &ZkUrl) -> Result<Option<String>, zk::Error> {
    let prefix = format!("{}_", crate::MASTER_INFO_JSON_LABEL);
    let children = match client.list_children(url.path()).await {
        Ok(children) => children,
        Err(zk::Error::NoNode) => return Ok(None),
        Err(error) => return Err(error),
    };
    for child in children.iter().filter(|child| child.starts_with(&prefix)) {
        let path = url.child_path(child);
        if let Some(stat) = client.check_stat(&path).await?
            && stat.ephemeral_owner == client.session_id().0
        {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// The part of the session timeout a contender may stay disconnected before it gives its
/// candidacy up. The server expires the session a session timeout after it last heard from
/// us, and only then may another master lead: a candidacy given up earlier means two masters
/// never both believe they lead (Mesos's group gives up after the whole timeout, which leaves
/// a window where both do).
fn disconnection_limit(session_timeout: Duration) -> Duration {
    session_timeout * 2 / 3
}

/// Returns when the candidacy is lost: the session ended, our znode is gone, or the session
/// stayed disconnected for longer than [`disconnection_limit`] (it cannot learn that the
/// server expired it until it reaches the server again).
async fn watch(client: &zk::Client, path: &str, session_timeout: Duration) {
    let mut states = client.state_watcher();
    let limit = disconnection_limit(session_timeout);
    let mut disconnected_since: Option<tokio::time::Instant> = None;
    loop {
        let state = client.state();
        if session::is_terminal(state) {
            return;
        }
        if state == zk::SessionState::Disconnected {
            let since = *disconnected_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= limit {
                warn!(
                    znode = %path,
                    disconnected_for = ?since.elapsed(),
                    "disconnected from ZooKeeper for too long: giving the candidacy up"
                );
                return;
            }
            tokio::select! {
                _ = states.changed() => {}
                _ = tokio::time::sleep_until(since + limit) => {}
            }
            continue;
        }
        disconnected_since = None;
        let watcher = match client.check_and_watch_stat(path).await {
            Ok((Some(_), watcher)) => watcher,
            Ok((None, _)) => return,
            Err(error) if session::is_session_over(&error) => return,
            Err(_) => {
                // Disconnected for now: wait for the session to come back or end.
                tokio::select! {
                    _ = states.changed() => {}
                    _ = tokio::time::sleep(RETRY_INTERVAL) => {}
                }
                continue;
            }
        };
        tokio::select! {
            event = watcher.changed() => {
                if event.event_type == zk::EventType::NodeDeleted {
                    return;
                }
            }
            state = states.changed() => {
                if session::is_terminal(state) {
                    return;
                }
                // Disconnected: the loop times the disconnection.
            }
        }
    }
}

impl Drop for Inner {
    // A contender dropped without withdrawing closes its session, which removes its znode.
    fn drop(&mut self) {
        if let Some(candidacy) = self.candidacy.get_mut().take() {
            candidacy.task.abort();
            candidacy.lost.fire();
        }
    }
}

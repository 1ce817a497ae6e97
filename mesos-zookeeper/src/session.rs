//! What the contender, the detector and the store share: the IO runtime the ZooKeeper client
//! runs on, opening a session for a URL, the ACLs of the nodes we create.

use std::sync::OnceLock;
use std::time::Duration;

use libprocess::{Future, Promise};
use tracing::{debug, warn};
use zookeeper_client as zk;

use crate::url::ZkUrl;

/// The tokio runtime the ZooKeeper clients and our tasks run on (one IO thread).
pub(crate) fn io() -> &'static tokio::runtime::Runtime {
    static IO: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    IO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mesos-zookeeper")
            .enable_all()
            .build()
            .expect("cannot start the ZooKeeper client's IO thread")
    })
}

/// Runs `task` on the IO runtime; its output completes the returned future.
pub(crate) fn run<T, F>(task: F) -> Future<T>
where
    T: Send + Sync + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let promise = Promise::new();
    let future = promise.future();
    io().spawn(async move {
        promise.set(task.await);
    });
    future
}

/// How long to wait before trying again after a failed attempt to reach ZooKeeper.
pub(crate) const RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// Opens one session: returns once it is established, or fails after about the session
/// timeout when no server answers.
pub(crate) async fn connect(
    url: &ZkUrl,
    session_timeout: Duration,
) -> Result<zk::Client, zk::Error> {
    let mut connector = zk::Client::connector().with_session_timeout(session_timeout);
    if let Some((user, password)) = url.credentials() {
        connector = connector.with_auth("digest", format!("{user}:{password}").as_bytes());
    }
    let client = connector.connect(url.servers()).await?;
    debug!(session = %client.session_id(), servers = url.servers(), "ZooKeeper session established");
    Ok(client)
}

/// Opens a session, trying again until one is established.
pub(crate) async fn connect_until_established(
    url: &ZkUrl,
    session_timeout: Duration,
) -> zk::Client {
    loop {
        match connect(url, session_timeout).await {
            Ok(client) => return client,
            Err(error) => {
                warn!(servers = url.servers(), %error, "cannot open a ZooKeeper session, retrying");
                tokio::time::sleep(RETRY_INTERVAL).await;
            }
        }
    }
}

/// The ACLs of the nodes we create: with credentials, anyone may read and only the creator
/// may change them (as Mesos does); without, anyone may do anything.
pub(crate) fn acls(url: &ZkUrl) -> zk::Acls<'static> {
    static CREATOR_ALL_ANYONE_READ: OnceLock<Vec<zk::Acl>> = OnceLock::new();
    if url.credentials().is_some() {
        let acls = CREATOR_ALL_ANYONE_READ.get_or_init(|| {
            let mut acls = zk::Acls::creator_all().to_vec();
            acls.extend(zk::Acls::anyone_read().iter().cloned());
            acls
        });
        zk::Acls::new(acls)
    } else {
        zk::Acls::anyone_all()
    }
}

/// Creates `path` and its missing ancestors as persistent nodes (none of it when they exist).
pub(crate) async fn ensure_path(
    client: &zk::Client,
    url: &ZkUrl,
    path: &str,
) -> Result<(), zk::Error> {
    if path == "/" {
        return Ok(());
    }
    let options = zk::CreateMode::Persistent.with_acls(acls(url));
    client.mkdir(path, &options).await
}

/// Whether the session can no longer be used (expired, closed, authentication failed).
pub(crate) fn is_terminal(state: zk::SessionState) -> bool {
    matches!(
        state,
        zk::SessionState::Expired | zk::SessionState::Closed | zk::SessionState::AuthFailed
    )
}

/// Whether an operation's error means the session is over.
pub(crate) fn is_session_over(error: &zk::Error) -> bool {
    matches!(
        error,
        zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed
    )
}

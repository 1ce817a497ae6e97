//! Contending for leadership (upstream `src/master/contender/`): a master enters the race
//! with its `MasterInfo`; the answer says when it is in, and then when its candidacy is
//! lost. Whether it leads is the [detector](super::detector)'s to say.
//!
//! [`StandaloneMasterContender`] is the single-master case (no `--zk`): the candidacy is
//! never lost. [`ZooKeeperMasterContender`] joins the ZooKeeper group at the `--zk` path.

use std::sync::Mutex;

use libprocess::{Future, Promise};
use mesos_core::v0;

/// A master's candidacy for leadership.
pub trait MasterContender: Send + Sync + 'static {
    /// Enters the race with `info`. The outer future is ready once this master is a
    /// candidate; the inner one becomes ready (or fails) when the candidacy is lost. A
    /// master may contend again after losing.
    fn contend(&self, info: v0::MasterInfo) -> Future<Future<()>>;

    /// Leaves the race (the master stops); `true` if there was a candidacy to withdraw.
    fn withdraw(&self) -> Future<bool> {
        Future::ready(false)
    }
}

/// The ZooKeeper contender: an ephemeral sequential `json.info_` znode in the group at the
/// `--zk` path; the candidacy is lost when the session expires.
pub type ZooKeeperMasterContender = mesos_zookeeper::ZkMasterContender;

impl MasterContender for mesos_zookeeper::ZkMasterContender {
    fn contend(&self, info: v0::MasterInfo) -> Future<Future<()>> {
        mesos_zookeeper::ZkMasterContender::contend(self, info)
    }

    fn withdraw(&self) -> Future<bool> {
        mesos_zookeeper::ZkMasterContender::withdraw(self)
    }
}

/// The contender of a lone master: it is a candidate at once and for ever.
#[derive(Debug, Default)]
pub struct StandaloneMasterContender {
    /// Kept alive so that the candidacy future stays pending (a dropped promise would
    /// abandon it); [`StandaloneMasterContender::lose`] completes it.
    candidacy: Mutex<Option<Promise<()>>>,
}

impl StandaloneMasterContender {
    /// A contender.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends the current candidacy (tests).
    pub fn lose(&self) {
        if let Some(promise) = self.candidacy.lock().expect("not poisoned").take() {
            promise.set(());
        }
    }
}

impl MasterContender for StandaloneMasterContender {
    fn contend(&self, _info: v0::MasterInfo) -> Future<Future<()>> {
        let promise = Promise::new();
        let candidacy = promise.future();
        *self.candidacy.lock().expect("not poisoned") = Some(promise);
        Future::ready(candidacy)
    }
}

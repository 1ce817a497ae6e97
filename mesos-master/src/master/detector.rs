//! Who leads (upstream `src/master/detector/`): a master asks its detector for the leader
//! and asks again each time the answer changes.
//!
//! [`StandaloneMasterDetector`] is the single-master case: the leader is appointed (a lone
//! master appoints itself). [`ZooKeeperMasterDetector`] watches the ZooKeeper group.

use std::sync::Mutex;

use libprocess::{Future, Promise};
use mesos_core::v0;

/// Detects the leading master.
pub trait MasterDetector: Send + Sync + 'static {
    /// The leader once it differs from `previous` (`None`: no leader known). With a
    /// `previous` different from the current leader the answer is ready at once.
    fn detect(&self, previous: Option<&v0::MasterInfo>) -> Future<Option<v0::MasterInfo>>;
}

/// The ZooKeeper detector: the lowest `json.info_` znode in the group at the `--zk` path
/// leads.
pub type ZooKeeperMasterDetector = mesos_zookeeper::ZkMasterDetector;

impl MasterDetector for mesos_zookeeper::ZkMasterDetector {
    fn detect(&self, previous: Option<&v0::MasterInfo>) -> Future<Option<v0::MasterInfo>> {
        mesos_zookeeper::ZkMasterDetector::detect(self, previous)
    }
}

/// Whether two answers name the same master (same id and pid).
pub fn same_master(a: Option<&v0::MasterInfo>, b: Option<&v0::MasterInfo>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.id == b.id && a.pid == b.pid,
        _ => false,
    }
}

/// A detector whose leader is appointed.
#[derive(Debug, Default)]
pub struct StandaloneMasterDetector {
    inner: Mutex<Appointed>,
}

#[derive(Debug, Default)]
struct Appointed {
    leader: Option<v0::MasterInfo>,
    waiters: Vec<Promise<Option<v0::MasterInfo>>>,
}

impl StandaloneMasterDetector {
    /// A detector that knows no leader yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A detector whose leader is `leader`.
    pub fn with_leader(leader: v0::MasterInfo) -> Self {
        let detector = Self::new();
        detector.appoint(Some(leader));
        detector
    }

    /// Appoints `leader` (`None`: no leader); waiting detections learn of a change.
    pub fn appoint(&self, leader: Option<v0::MasterInfo>) {
        let mut inner = self.inner.lock().expect("not poisoned");
        if same_master(inner.leader.as_ref(), leader.as_ref()) {
            inner.leader = leader;
            return;
        }
        inner.leader = leader.clone();
        for waiter in inner.waiters.drain(..) {
            waiter.set(leader.clone());
        }
    }
}

impl MasterDetector for StandaloneMasterDetector {
    fn detect(&self, previous: Option<&v0::MasterInfo>) -> Future<Option<v0::MasterInfo>> {
        let mut inner = self.inner.lock().expect("not poisoned");
        if !same_master(inner.leader.as_ref(), previous) {
            return Future::ready(inner.leader.clone());
        }
        let promise = Promise::new();
        let future = promise.future();
        inner.waiters.push(promise);
        future
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str) -> v0::MasterInfo {
        v0::MasterInfo {
            id: id.into(),
            pid: Some(format!("master@127.0.0.1:{}", id.len())),
            ..Default::default()
        }
    }

    #[test]
    fn standalone_detector_answers_changes_only() {
        let detector = StandaloneMasterDetector::new();
        let none = detector.detect(None);
        assert!(none.is_pending(), "no leader and none known: wait");
        detector.appoint(Some(info("a")));
        assert_eq!(none.get().unwrap().unwrap().id, "a");
        assert_eq!(detector.detect(None).get().unwrap().unwrap().id, "a");
        let next = detector.detect(Some(&info("a")));
        assert!(next.is_pending());
        detector.appoint(Some(info("a")));
        assert!(next.is_pending(), "the same leader is no change");
        detector.appoint(None);
        assert_eq!(next.get().unwrap(), None);
    }
}

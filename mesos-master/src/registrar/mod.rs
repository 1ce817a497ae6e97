//! Registrar: owns the registry (admitted, unreachable and gone agents, role weights; not
//! frameworks or tasks) and persists every change before it takes effect (upstream
//! `src/master/registrar.cpp`).
//!
//! Protocol: the master calls [`Registrar::recover`] once at start-up (the stored registry
//! comes back, with this master's info recorded), then [`Registrar::apply`] with one
//! [`Operation`] at a time. Operations queue up; the registrar applies everything queued to a
//! copy of the registry, stores that copy once (one batch), and only then answers each
//! operation's future: `true` if it changed the registry, `false` if it did not apply (e.g.
//! the agent was already there), failed if storing failed. Operations are answered in the
//! order they were applied. Invariant: the registry in memory is always what is stored.

mod storage;
mod zookeeper;

use std::collections::VecDeque;

use libprocess::{Context, Future, Handle, Pid, Process, Promise, call_future, dispatch};
use mesos_core::registry::{
    self, GoneSlave, GoneSlaves, Registry, Slaves, UnreachableSlave, UnreachableSlaves,
};
use mesos_core::v0;
use tracing::{debug, error, info};

pub use storage::{FileStorage, InMemoryStorage, Storage, StorageError, StorageFuture};
pub use zookeeper::ZooKeeperStorage;

/// A change to the registry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Operation {
    /// Admits a new agent (fails if its ID is already admitted).
    AdmitAgent(v0::SlaveInfo),
    /// An agent reregistered: it is admitted again (from unreachable, or as it was) with
    /// this info. No change if it is already admitted with the same info.
    ReadmitAgent(v0::SlaveInfo),
    /// An admitted agent became unreachable at `time` (nanoseconds since the epoch).
    MarkUnreachable {
        /// The agent.
        agent_id: v0::SlaveId,
        /// When.
        time: i64,
    },
    /// An agent is removed (it unregistered, or did not come back after a failover).
    RemoveAgent(v0::SlaveId),
    /// An agent is gone for good.
    MarkGone {
        /// The agent.
        agent_id: v0::SlaveId,
        /// When.
        time: i64,
    },
    /// Sets role weights (replacing those of the same roles).
    UpdateWeights(Vec<v0::WeightInfo>),
}

impl Operation {
    /// Applies the operation to `registry`: `Ok(true)` if it changed it, `Ok(false)` if it
    /// had nothing to do, `Err` if it cannot apply.
    pub fn apply(&self, registry: &mut Registry) -> Result<bool, String> {
        let slaves = &mut registry.slaves.get_or_insert_with(Slaves::default).slaves;
        let unreachable = &mut registry
            .unreachable
            .get_or_insert_with(UnreachableSlaves::default)
            .slaves;
        let id_of = |info: &v0::SlaveInfo| info.id.clone().map(|id| id.value).unwrap_or_default();
        match self {
            Operation::AdmitAgent(info) => {
                let id = id_of(info);
                if slaves.iter().any(|s| id_of(&s.info) == id) {
                    return Err(format!("agent {id} is already admitted"));
                }
                slaves.push(registry::Slave {
                    info: info.clone(),
                    ..Default::default()
                });
                Ok(true)
            }
            Operation::ReadmitAgent(info) => {
                let id = id_of(info);
                let before = unreachable.len();
                unreachable.retain(|u| u.id.value != id);
                let was_unreachable = before != unreachable.len();
                if let Some(slave) = slaves.iter_mut().find(|s| id_of(&s.info) == id) {
                    if slave.info == *info {
                        return Ok(was_unreachable);
                    }
                    slave.info = info.clone();
                    return Ok(true);
                }
                slaves.push(registry::Slave {
                    info: info.clone(),
                    ..Default::default()
                });
                Ok(true)
            }
            Operation::MarkUnreachable { agent_id, time } => {
                let Some(index) = slaves.iter().position(|s| id_of(&s.info) == agent_id.value)
                else {
                    return Err(format!("agent {} is not admitted", agent_id.value));
                };
                slaves.remove(index);
                unreachable.push(UnreachableSlave {
                    id: agent_id.clone(),
                    timestamp: v0::TimeInfo { nanoseconds: *time },
                    ..Default::default()
                });
                Ok(true)
            }
            Operation::RemoveAgent(agent_id) => {
                let before = slaves.len() + unreachable.len();
                slaves.retain(|s| id_of(&s.info) != agent_id.value);
                unreachable.retain(|u| u.id.value != agent_id.value);
                Ok(before != slaves.len() + unreachable.len())
            }
            Operation::MarkGone { agent_id, time } => {
                slaves.retain(|s| id_of(&s.info) != agent_id.value);
                unreachable.retain(|u| u.id.value != agent_id.value);
                let gone = &mut registry.gone.get_or_insert_with(GoneSlaves::default).slaves;
                if gone.iter().any(|g| g.id.value == agent_id.value) {
                    return Ok(false);
                }
                gone.push(GoneSlave {
                    id: agent_id.clone(),
                    timestamp: v0::TimeInfo { nanoseconds: *time },
                });
                Ok(true)
            }
            Operation::UpdateWeights(weights) => {
                let mut changed = false;
                for weight in weights {
                    match registry
                        .weights
                        .iter_mut()
                        .find(|w| w.info.role == weight.role)
                    {
                        Some(existing) if existing.info == *weight => {}
                        Some(existing) => {
                            existing.info = weight.clone();
                            changed = true;
                        }
                        None => {
                            registry.weights.push(registry::Weight {
                                info: weight.clone(),
                            });
                            changed = true;
                        }
                    }
                }
                Ok(changed)
            }
        }
    }
}

/// The registrar's handle: clone freely, it only dispatches.
#[derive(Clone, Debug)]
pub struct Registrar {
    pid: Pid<RegistrarProcess>,
    fenced: Future<String>,
}

impl Registrar {
    /// Spawns a registrar keeping the registry in `storage`.
    pub fn spawn(runtime: &Handle, storage: Box<dyn Storage>) -> Registrar {
        let fenced = Promise::new();
        let future = fenced.future();
        let pid = runtime.spawn(RegistrarProcess {
            storage,
            registry: None,
            pending: VecDeque::new(),
            update_scheduled: false,
            storing: false,
            fenced,
            fenced_reason: None,
            me: None,
        });
        Registrar {
            pid,
            fenced: future,
        }
    }

    /// Reads the stored registry, records `master` in it and stores it back. Fails if the
    /// registry cannot be read (e.g. a corrupt file) or stored.
    pub fn recover(&self, master: v0::MasterInfo) -> Future<Registry> {
        call_future(&self.pid, move |p| p.recover(master))
    }

    /// Applies `operation` once the registry is recovered; see the module docs.
    pub fn apply(&self, operation: Operation) -> Future<bool> {
        call_future(&self.pid, move |p| p.apply(operation))
    }

    /// The registry as stored now.
    pub fn registry(&self) -> Future<Option<Registry>> {
        libprocess::call(&self.pid, |p: &mut RegistrarProcess| p.registry.clone())
    }

    /// Ready (with the reason) once the storage refused a write because another writer
    /// stored since this registrar read: from then on every operation fails and nothing is
    /// written again. The master steps down when it fires.
    pub fn fenced(&self) -> Future<String> {
        self.fenced.clone()
    }

    /// Terminates the registrar.
    pub fn terminate(&self) {
        libprocess::terminate(&self.pid);
    }
}

type Batch = Vec<(Operation, Promise<bool>)>;

struct RegistrarProcess {
    storage: Box<dyn Storage>,
    /// `None` until recovered.
    registry: Option<Registry>,
    pending: VecDeque<(Operation, Promise<bool>)>,
    update_scheduled: bool,
    /// A store is in flight (one at a time).
    storing: bool,
    fenced: Promise<String>,
    /// Set once a write was refused as stale: everything fails from then on.
    fenced_reason: Option<String>,
    me: Option<Pid<RegistrarProcess>>,
}

impl Process for RegistrarProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
    }

    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
        for (_, promise) in self.pending.drain(..) {
            promise.fail("registrar terminated");
        }
    }
}

impl RegistrarProcess {
    fn me(&self) -> Pid<RegistrarProcess> {
        self.me.clone().expect("the registrar is initialized")
    }

    /// Remembers that the storage was taken over by another writer.
    fn fence(&mut self, error: &StorageError) {
        if error.is_conflict() && self.fenced_reason.is_none() {
            let reason = error.to_string();
            error!(%reason, "the registry was written by another master; this registrar stops");
            self.fenced_reason = Some(reason.clone());
            self.fenced.set(reason);
            for (_, promise) in self.pending.drain(..) {
                promise.fail("registrar fenced: another master wrote the registry");
            }
        }
    }

    fn recover(&mut self, master: v0::MasterInfo) -> Future<Registry> {
        if let Some(reason) = &self.fenced_reason {
            return Future::failed(format!("failed to recover registry: {reason}"));
        }
        let promise = Promise::new();
        let future = promise.future();
        let me = self.me();
        self.storage.fetch().on_any(move |fetched| {
            dispatch(&me, move |p: &mut RegistrarProcess| {
                p.fetched(master, fetched, promise)
            });
        });
        future
    }

    fn fetched(
        &mut self,
        master: v0::MasterInfo,
        fetched: Future<Result<Option<Registry>, StorageError>>,
        promise: Promise<Registry>,
    ) {
        let mut registry = match fetched.get() {
            Ok(Ok(registry)) => registry.unwrap_or_default(),
            Ok(Err(err)) => {
                error!(%err, "failed to recover the registry");
                promise.fail(format!("failed to recover registry: {err}"));
                return;
            }
            Err(err) => {
                promise.fail(format!("failed to recover registry: {err}"));
                return;
            }
        };
        registry.master = Some(registry::Master { info: master });
        let me = self.me();
        self.storing = true;
        let stored = self.storage.store(&registry);
        stored.on_any(move |stored| {
            dispatch(&me, move |p: &mut RegistrarProcess| {
                p.storing = false;
                let error = match stored.get() {
                    Ok(Ok(())) => None,
                    Ok(Err(err)) => {
                        p.fence(&err);
                        Some(err.to_string())
                    }
                    Err(err) => Some(err.to_string()),
                };
                if let Some(err) = error {
                    promise.fail(format!("failed to store registry: {err}"));
                    return;
                }
                let agents = registry.slaves.as_ref().map_or(0, |s| s.slaves.len());
                info!(agents, "recovered the registry");
                p.registry = Some(registry.clone());
                if !p.pending.is_empty() {
                    p.schedule_update();
                }
                promise.set(registry);
            });
        });
    }

    fn apply(&mut self, operation: Operation) -> Future<bool> {
        if self.fenced_reason.is_some() {
            return Future::failed("registrar fenced: another master wrote the registry");
        }
        let promise = Promise::new();
        let future = promise.future();
        self.pending.push_back((operation, promise));
        if self.registry.is_some() {
            self.schedule_update();
        }
        future
    }

    /// Runs the update after the events already queued, so that they join the batch.
    fn schedule_update(&mut self) {
        if !self.update_scheduled && !self.storing {
            self.update_scheduled = true;
            if let Some(pid) = &self.me {
                dispatch(pid, |p: &mut RegistrarProcess| p.update());
            } else {
                self.update();
            }
        }
    }

    fn update(&mut self) {
        self.update_scheduled = false;
        if self.storing || self.pending.is_empty() {
            return;
        }
        let Some(current) = &self.registry else {
            return;
        };
        let mut next = current.clone();
        let batch: Batch = self.pending.drain(..).collect();
        let results: Vec<_> = batch
            .iter()
            .map(|(operation, _)| operation.apply(&mut next))
            .collect();
        let changed = results.iter().any(|r| matches!(r, Ok(true)));
        if !changed {
            self.answer(batch, results);
            return;
        }
        self.storing = true;
        let me = self.me();
        self.storage.store(&next).on_any(move |stored| {
            dispatch(&me, move |p: &mut RegistrarProcess| {
                p.stored(batch, results, next, stored)
            });
        });
    }

    fn stored(
        &mut self,
        batch: Batch,
        results: Vec<Result<bool, String>>,
        next: Registry,
        stored: Future<Result<(), StorageError>>,
    ) {
        self.storing = false;
        let error = match stored.get() {
            Ok(Ok(())) => None,
            Ok(Err(err)) => {
                self.fence(&err);
                Some(err.to_string())
            }
            Err(err) => Some(err.to_string()),
        };
        if let Some(err) = error {
            error!(%err, "failed to store the registry");
            for (_, promise) in batch {
                promise.fail(format!("failed to update registry: {err}"));
            }
        } else {
            self.registry = Some(next);
            self.answer(batch, results);
        }
        if !self.pending.is_empty() {
            self.schedule_update();
        }
    }

    fn answer(&mut self, batch: Batch, results: Vec<Result<bool, String>>) {
        debug!(operations = batch.len(), "registry updated");
        for ((_, promise), result) in batch.into_iter().zip(results) {
            match result {
                Ok(applied) => promise.set(applied),
                Err(message) => promise.fail(message),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use libprocess::Runtime;

    use super::*;

    /// Counts stores; fails them when told to.
    struct Counting {
        inner: InMemoryStorage,
        stores: Arc<AtomicUsize>,
        fail: bool,
    }

    impl Storage for Counting {
        fn fetch(&mut self) -> StorageFuture<Option<Registry>> {
            self.inner.fetch()
        }

        fn store(&mut self, registry: &Registry) -> StorageFuture<()> {
            if self.fail {
                return Future::ready(Err(StorageError::Corrupt {
                    path: "test".into(),
                    reason: "disk on fire".into(),
                }));
            }
            self.stores.fetch_add(1, Ordering::SeqCst);
            self.inner.store(registry)
        }
    }

    fn agent(id: &str) -> v0::SlaveInfo {
        v0::SlaveInfo {
            hostname: "h".into(),
            id: Some(v0::SlaveId { value: id.into() }),
            ..Default::default()
        }
    }

    #[test]
    fn operations_queued_together_are_stored_once_and_answered_in_order() {
        let runtime = Runtime::new();
        let stores = Arc::new(AtomicUsize::new(0));
        let registrar = Registrar::spawn(
            &runtime,
            Box::new(Counting {
                inner: InMemoryStorage::default(),
                stores: stores.clone(),
                fail: false,
            }),
        );
        // Applied before recovery: they wait, then go as one batch.
        let a = registrar.apply(Operation::AdmitAgent(agent("a")));
        let b = registrar.apply(Operation::AdmitAgent(agent("b")));
        let again = registrar.apply(Operation::AdmitAgent(agent("a")));
        let unknown = registrar.apply(Operation::MarkUnreachable {
            agent_id: v0::SlaveId { value: "z".into() },
            time: 1,
        });
        registrar.recover(v0::MasterInfo::default()).get().unwrap();
        assert_eq!(a.get(), Ok(true));
        assert_eq!(b.get(), Ok(true));
        assert!(again.get().is_err(), "admitting twice fails");
        assert!(unknown.get().is_err());
        // One store for recovery, one for the batch.
        assert_eq!(stores.load(Ordering::SeqCst), 2);

        let unreachable = registrar.apply(Operation::MarkUnreachable {
            agent_id: v0::SlaveId { value: "a".into() },
            time: 5,
        });
        assert_eq!(unreachable.get(), Ok(true));
        let registry = registrar.registry().get().unwrap().unwrap();
        assert_eq!(registry.slaves.unwrap().slaves.len(), 1);
        assert_eq!(registry.unreachable.unwrap().slaves[0].id.value, "a");
        // Readmitting an unreachable agent moves it back.
        assert_eq!(
            registrar.apply(Operation::ReadmitAgent(agent("a"))).get(),
            Ok(true)
        );
        // Nothing to do: no store.
        let before = stores.load(Ordering::SeqCst);
        assert_eq!(
            registrar
                .apply(Operation::RemoveAgent(v0::SlaveId { value: "q".into() }))
                .get(),
            Ok(false)
        );
        assert_eq!(stores.load(Ordering::SeqCst), before);
    }

    #[test]
    fn a_failed_store_fails_the_operations_and_keeps_the_old_registry() {
        let runtime = Runtime::new();
        let registrar = Registrar::spawn(&runtime, Box::new(InMemoryStorage::default()));
        registrar.recover(v0::MasterInfo::default()).get().unwrap();
        let failing = Registrar::spawn(
            &runtime,
            Box::new(Counting {
                inner: InMemoryStorage::default(),
                stores: Arc::new(AtomicUsize::new(0)),
                fail: true,
            }),
        );
        assert!(failing.recover(v0::MasterInfo::default()).get().is_err());
        let ok = registrar.apply(Operation::UpdateWeights(vec![v0::WeightInfo {
            weight: 2.0,
            role: Some("r".into()),
        }]));
        assert_eq!(ok.get(), Ok(true));
        assert_eq!(
            registrar.registry().get().unwrap().unwrap().weights.len(),
            1
        );
    }

    /// Refuses every store after the first recovery, as a registry taken over by another
    /// master does.
    struct TakenOver {
        inner: InMemoryStorage,
        stores: usize,
    }

    impl Storage for TakenOver {
        fn fetch(&mut self) -> StorageFuture<Option<Registry>> {
            self.inner.fetch()
        }

        fn store(&mut self, registry: &Registry) -> StorageFuture<()> {
            self.stores += 1;
            if self.stores > 1 {
                return Future::ready(Err(StorageError::Conflict("version moved".into())));
            }
            self.inner.store(registry)
        }
    }

    #[test]
    fn a_conflicting_store_fences_the_registrar_for_good() {
        let runtime = Runtime::new();
        let registrar = Registrar::spawn(
            &runtime,
            Box::new(TakenOver {
                inner: InMemoryStorage::default(),
                stores: 0,
            }),
        );
        registrar.recover(v0::MasterInfo::default()).get().unwrap();
        assert!(registrar.fenced().is_pending());
        let refused = registrar.apply(Operation::AdmitAgent(agent("a")));
        assert!(refused.get().unwrap_err().to_string().contains("refused"));
        assert!(registrar.fenced().get().unwrap().contains("version moved"));
        // Nothing changed in memory, and nothing is tried again.
        let registry = registrar.registry().get().unwrap().unwrap();
        assert!(registry.slaves.is_none_or(|s| s.slaves.is_empty()));
        let later = registrar.apply(Operation::AdmitAgent(agent("b")));
        assert!(later.get().unwrap_err().to_string().contains("fenced"));
    }
}

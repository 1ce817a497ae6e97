//! The Master process: admits agents, subscribes frameworks, turns the allocator's offers
//! into OFFERS events, launches tasks and relays status updates (upstream
//! `src/master/master.cpp`).
//!
//! Actors around it: the [`Registrar`] (the registry, persisted), the allocator (through the
//! [`Allocator`] trait: offers come back through a callback that dispatches here), one
//! [`AgentObserver`](observer::AgentObserver) per agent (pings), one
//! [`Heartbeater`](heartbeater::Heartbeater) per subscribed scheduler.
//!
//! Messages it serves (libprocess messages from agents): `RegisterSlaveMessage`,
//! `ReregisterSlaveMessage`, `UnregisterSlaveMessage`, `StatusUpdateMessage`,
//! `ExitedExecutorMessage`, `ExecutorToFrameworkMessage`. Routes: `/api/v1/scheduler`
//! ([`crate::http::scheduler`]). Timers: framework failover timeouts, offer timeouts, the
//! agent reregistration timeout after recovery, the agent removal rate limit.
//!
//! The code is split by concern, one `impl MasterProcess` block per file: [`agents`]
//! (registration, removal), [`frameworks`] (subscription, failover, teardown), [`offers`]
//! (offers, ACCEPT/DECLINE, launch validation), [`updates`] (status updates, acks, kill,
//! reconciliation, messages). The state is [`MasterState`] (see [`state`]).
//!
//! Invariant: the master answers no scheduler call and admits no agent before the registry
//! is recovered (`recovered`); until then the scheduler API answers `503`.

pub mod agents;
pub mod contender;
pub mod detector;
pub mod frameworks;
pub mod heartbeater;
pub mod leadership;
pub mod metrics;
pub mod observer;
pub mod offers;
pub mod operator_events;
pub mod state;
pub mod stream;
pub mod updates;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libprocess::http::{BasicAuthenticator, DisabledEndpoints};
use libprocess::{Context, Future, Handle, Pid, Process, Promise, Upid, call};
use mesos_core::internal;
use mesos_core::registry::Registry;
use mesos_core::v0;
use prost::Message;
use thiserror::Error;
use tracing::{error, info};

use crate::allocator::{self, Allocator, HierarchicalAllocator};
use crate::flags::{MasterFlags, RegistryKind, Settings};
use crate::registrar::{FileStorage, InMemoryStorage, Registrar, Storage, ZooKeeperStorage};
use contender::{MasterContender, StandaloneMasterContender};
use detector::{MasterDetector, StandaloneMasterDetector};
pub use state::{
    AgentId, Capabilities, Connection, ExecutorId, FrameworkId, MasterState, OfferId, TaskId,
};

/// The Mesos version the master reports.
pub const MESOS_VERSION: &str = "1.11.0";

/// Why a master could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StartError {
    /// The flags are not acceptable.
    #[error(transparent)]
    Flags(#[from] crate::flags::FlagsError),
    /// The process id `master` is taken on this runtime.
    #[error("cannot spawn the master process: {0}")]
    Spawn(String),
}

/// Timing knobs that are not flags upstream (tests shorten them).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// How often schedulers get a HEARTBEAT (15 seconds).
    pub heartbeat_interval: Duration,
    /// The allocator's seed (deterministic offers in tests).
    pub allocator_seed: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            heartbeat_interval: heartbeater::DEFAULT_HEARTBEAT_INTERVAL,
            allocator_seed: None,
        }
    }
}

/// The master's handle: clone freely.
#[derive(Clone)]
pub struct Master {
    pid: Pid<MasterProcess>,
    registrar: Registrar,
    allocator: HierarchicalAllocator,
    lost_leadership: Future<String>,
    contender: Arc<dyn MasterContender>,
}

impl std::fmt::Debug for Master {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Master")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// How a master takes part in leader election: its contender and its detector.
#[derive(Clone)]
pub struct Election {
    /// Enters this master in the race.
    pub contender: Arc<dyn MasterContender>,
    /// Names the leader.
    pub detector: Arc<dyn MasterDetector>,
}

impl std::fmt::Debug for Election {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Election").finish_non_exhaustive()
    }
}

impl Election {
    /// A lone master: it contends alone and the detector names it at once.
    pub fn standalone(info: &v0::MasterInfo) -> Election {
        Election {
            contender: Arc::new(StandaloneMasterContender::new()),
            detector: Arc::new(StandaloneMasterDetector::with_leader(info.clone())),
        }
    }

    /// Through the ZooKeeper group at `url` (`--zk`).
    pub fn zookeeper(url: &mesos_zookeeper::ZkUrl, session_timeout: Duration) -> Election {
        Election {
            contender: Arc::new(contender::ZooKeeperMasterContender::new(
                url.clone(),
                session_timeout,
            )),
            detector: Arc::new(detector::ZooKeeperMasterDetector::new(
                url.clone(),
                session_timeout,
            )),
        }
    }
}

impl Master {
    /// Starts a master on `runtime` (which should listen on the address to advertise) with
    /// the allocator, registrar and routes; recovery from the registry begins at once.
    pub fn start(flags: MasterFlags, runtime: &Handle) -> Result<Master, StartError> {
        Master::start_with(flags, Options::default(), runtime)
    }

    /// As [`Master::start`], with [`Options`].
    pub fn start_with(
        flags: MasterFlags,
        options: Options,
        runtime: &Handle,
    ) -> Result<Master, StartError> {
        Master::start_elected_by(flags, options, runtime, None)
    }

    /// As [`Master::start_with`], with the contender and detector to use (`None`: from the
    /// flags: ZooKeeper with `--zk`, else standalone, the master electing itself at once).
    pub fn start_elected_by(
        flags: MasterFlags,
        options: Options,
        runtime: &Handle,
        election: Option<Election>,
    ) -> Result<Master, StartError> {
        let settings = flags.validate()?;
        let info = Master::info_for(&flags, runtime);
        let storage: Box<dyn Storage> = match &settings.registry {
            RegistryKind::InMemory => Box::new(InMemoryStorage::default()),
            RegistryKind::File(path) => Box::new(FileStorage::new(path.clone())),
            RegistryKind::ZooKeeper(url) => Box::new(ZooKeeperStorage::new(
                url.clone(),
                settings.zk_session_timeout,
            )),
        };
        let election = election.unwrap_or_else(|| match &settings.zk {
            Some(url) => Election::zookeeper(url, settings.zk_session_timeout),
            None => Election::standalone(&info),
        });
        let registrar = Registrar::spawn(runtime, storage);
        let hierarchical = HierarchicalAllocator::spawn(runtime);
        let allocator: Arc<dyn Allocator> = Arc::new(hierarchical.clone());

        if !settings.disabled_endpoints.is_empty() {
            runtime.set_firewall(vec![Arc::new(DisabledEndpoints::new(
                settings.disabled_endpoints.clone(),
            ))]);
        }
        if flags.authenticate_http_frameworks {
            let credentials = settings
                .credentials
                .iter()
                .map(|c| (c.principal.clone(), c.secret.clone()))
                .collect();
            runtime.set_authenticator(
                crate::http::scheduler::REALM,
                Arc::new(BasicAuthenticator::new(
                    crate::http::scheduler::REALM,
                    credentials,
                )),
            );
        }

        let now = runtime.clock().now();
        let lost_leadership = Promise::new();
        let lost_leadership_future = lost_leadership.future();
        let contender = election.contender.clone();
        let process = MasterProcess {
            contender: election.contender,
            detector: election.detector,
            leader: None,
            lost_leadership,
            lost_leadership_reason: None,
            registry_agents: 0,
            state: MasterState::default(),
            flags,
            settings,
            options,
            info,
            upid: Upid::none(),
            runtime: runtime.clone(),
            me: None,
            allocator: allocator.clone(),
            registrar: registrar.clone(),
            recovered: false,
            start_time: now,
            elected_time: None,
            next_framework_id: 0,
            next_agent_id: 0,
            next_offer_id: 0,
            registering: Default::default(),
            reregistering: Default::default(),
            removal_queue: VecDeque::new(),
            removal_next: None,
            removal_draining: false,
            recovery_waiters: Vec::new(),
            recovery_failed: None,
            operator_events: Default::default(),
        };
        let pid = runtime
            .spawn_with_id("master", process)
            .map_err(|e| StartError::Spawn(e.to_string()))?;
        runtime.set_delegate("master");
        Ok(Master {
            pid,
            registrar,
            allocator: hierarchical,
            lost_leadership: lost_leadership_future,
            contender,
        })
    }

    /// Ready, with the reason, once this master stopped acting as leader for good: it lost
    /// its candidacy or the detector named another master after it led, its registry was
    /// written by another master, recovery failed, or too many agents failed to come back
    /// after a failover. The binary exits with failure then; a master that never led and
    /// keeps waiting does not complete it.
    pub fn lost_leadership(&self) -> Future<String> {
        self.lost_leadership.clone()
    }

    /// The `MasterInfo` a master started with `flags` on `runtime` announces (a new id each
    /// call): the advertised address, else the listening one (`127.0.0.1` for `0.0.0.0`).
    pub fn info_for(flags: &MasterFlags, runtime: &Handle) -> v0::MasterInfo {
        let address = runtime.address();
        let ip = flags.advertise_ip.unwrap_or_else(|| {
            flags.ip.unwrap_or(if address.ip().is_unspecified() {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                address.ip()
            })
        });
        let port = flags.advertise_port.unwrap_or(address.port());
        let hostname = flags.hostname.clone().unwrap_or_else(|| ip.to_string());
        let master_id = stout::uuid::Uuid::random().to_string();
        master_info(&master_id, SocketAddr::new(ip, port), &hostname)
    }

    /// The master process.
    pub fn pid(&self) -> &Pid<MasterProcess> {
        &self.pid
    }

    /// The registrar.
    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// Runs `f` on the master's state (tests, tools).
    pub fn inspect<R, F>(&self, f: F) -> Future<R>
    where
        R: Send + Sync + 'static,
        F: FnOnce(&MasterProcess) -> R + Send + 'static,
    {
        call(&self.pid, move |m: &mut MasterProcess| f(m))
    }

    /// Resolves once the registry is recovered (true) or recovery failed (false).
    pub fn recovered(&self) -> Future<bool> {
        libprocess::call_future(&self.pid, |m: &mut MasterProcess| m.wait_recovered())
    }

    /// Stops the master and the processes it started.
    pub fn stop(&self) {
        // Leave the race first, so that another master is elected at once.
        self.contender.withdraw();
        libprocess::terminate(&self.pid);
        self.registrar.terminate();
        self.allocator.terminate();
    }

    /// Waits until the master process has finalized.
    pub fn wait(&self) -> Future<()> {
        libprocess::wait(&self.pid)
    }
}

/// Builds `MasterInfo`: id, ip (IPv4 in network byte order), port, pid, hostname, version,
/// address, capabilities.
fn master_info(id: &str, address: SocketAddr, hostname: &str) -> v0::MasterInfo {
    use v0::master_info::{Capability, capability::Type};
    let ip = match address.ip() {
        IpAddr::V4(v4) => u32::from_le_bytes(v4.octets()),
        IpAddr::V6(_) => 0,
    };
    let capabilities = [Type::AgentUpdate, Type::AgentDraining, Type::QuotaV2]
        .into_iter()
        .map(|t| {
            let mut c = Capability::default();
            c.set_type(t);
            c
        })
        .collect();
    v0::MasterInfo {
        id: id.to_owned(),
        ip,
        port: u32::from(address.port()),
        pid: Some(format!("master@{address}")),
        hostname: Some(hostname.to_owned()),
        version: Some(MESOS_VERSION.to_owned()),
        address: Some(v0::Address {
            hostname: Some(hostname.to_owned()),
            ip: Some(address.ip().to_string()),
            port: i32::from(address.port()),
        }),
        domain: None,
        capabilities,
    }
}

/// The master's state and machinery. Route handlers installed on the master (the scheduler
/// API here, the operator API and JSON endpoints elsewhere) receive `&mut MasterProcess`.
pub struct MasterProcess {
    /// Frameworks, agents, tasks, offers.
    pub state: MasterState,
    /// The flags it started with.
    pub flags: MasterFlags,
    /// The flags, checked and typed.
    pub settings: Settings,
    /// Timing knobs.
    pub options: Options,
    /// This master's info (id, address, version).
    pub info: v0::MasterInfo,
    /// Its address.
    pub upid: Upid,
    /// The runtime it runs on.
    pub runtime: Handle,
    me: Option<Pid<MasterProcess>>,
    /// The allocator.
    pub allocator: Arc<dyn Allocator>,
    /// The registrar.
    pub registrar: Registrar,
    /// Whether the registry is recovered (the master serves requests).
    pub recovered: bool,
    /// When the master started.
    pub start_time: SystemTime,
    /// When it became leader (it recovered).
    pub elected_time: Option<SystemTime>,
    next_framework_id: u64,
    next_agent_id: u64,
    next_offer_id: u64,
    /// Agent pids whose registration is in the registrar.
    registering: std::collections::HashSet<Upid>,
    /// Agents whose reregistration is in the registrar.
    reregistering: std::collections::HashSet<AgentId>,
    /// Agents waiting for a permit of `--agent_removal_rate_limit`.
    removal_queue: VecDeque<AgentId>,
    removal_next: Option<SystemTime>,
    removal_draining: bool,
    recovery_waiters: Vec<Promise<bool>>,
    /// Why recovery failed, if it did.
    pub recovery_failed: Option<String>,
    /// Open operator event streams.
    pub operator_events: operator_events::OperatorEvents,
    contender: Arc<dyn MasterContender>,
    detector: Arc<dyn MasterDetector>,
    /// The leading master as last detected (this one when it leads).
    pub leader: Option<v0::MasterInfo>,
    lost_leadership: Promise<String>,
    /// Why this master stepped down, once it did.
    pub lost_leadership_reason: Option<String>,
    /// Agents in the registry when it was recovered.
    registry_agents: usize,
}

impl std::fmt::Debug for MasterProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterProcess")
            .field("id", &self.info.id)
            .field("frameworks", &self.state.frameworks.len())
            .field("agents", &self.state.agents.len())
            .finish()
    }
}

impl Process for MasterProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.upid = ctx.upid().clone();
        let me = ctx.pid();
        self.me = Some(me.clone());
        info!(master_id = %self.info.id, pid = %self.upid, "master started");

        ctx.install_protobuf(
            |m: &mut MasterProcess, _ctx, from, msg: internal::RegisterSlaveMessage| {
                if m.leading_or_drop(&from, "RegisterSlaveMessage") {
                    m.register_agent(from, msg)
                }
            },
        );
        ctx.install_protobuf(
            |m: &mut MasterProcess, _ctx, from, msg: internal::ReregisterSlaveMessage| {
                if m.leading_or_drop(&from, "ReregisterSlaveMessage") {
                    m.reregister_agent(from, msg)
                }
            },
        );
        ctx.install_protobuf(
            |m: &mut MasterProcess, _ctx, from, msg: internal::UnregisterSlaveMessage| {
                if m.leading_or_drop(&from, "UnregisterSlaveMessage") {
                    m.unregister_agent(from, msg)
                }
            },
        );
        ctx.install_protobuf(
            |m: &mut MasterProcess, _ctx, from, msg: internal::StatusUpdateMessage| {
                if m.leading_or_drop(&from, "StatusUpdateMessage") {
                    m.status_update(from, msg)
                }
            },
        );
        ctx.install_protobuf(
            |m: &mut MasterProcess, _ctx, from, msg: internal::ExitedExecutorMessage| {
                if m.leading_or_drop(&from, "ExitedExecutorMessage") {
                    m.exited_executor(from, msg)
                }
            },
        );
        ctx.install_protobuf(
            |m: &mut MasterProcess, _ctx, from, msg: internal::ExecutorToFrameworkMessage| {
                if m.leading_or_drop(&from, "ExecutorToFrameworkMessage") {
                    m.executor_message(from, msg)
                }
            },
        );
        crate::http::scheduler::install(ctx);
        crate::http::endpoints::install(ctx);
        crate::http::operator::install(ctx);

        // The allocator hands offers back to this process.
        let mut options = allocator::Options::default()
            .allocation_interval(
                self.flags
                    .allocation_interval
                    .try_into()
                    .unwrap_or(Duration::from_secs(1)),
            )
            .filter_gpu_resources(self.flags.filter_gpu_resources)
            .min_allocatable_resources(self.settings.min_allocatable_resources.clone())
            .fairness_exclude_resource_names(
                self.settings
                    .fairness_excluded
                    .clone()
                    .map(|names| names.into_iter().collect()),
            );
        if let Some(seed) = self.options.allocator_seed {
            options = options.seed(seed);
        }
        self.allocator.initialize(
            options,
            allocator::offer_sink(me.clone(), |m: &mut MasterProcess, framework, offers| {
                m.offer(framework, offers)
            }),
            Box::new(|_, _| {}),
        );

        // Contend and detect; the registry is recovered once this master is elected.
        self.start_election();
    }

    fn exited(&mut self, _ctx: &mut Context<'_, Self>, pid: &Upid) {
        self.agent_exited(pid);
    }

    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
        for framework in self.state.frameworks.values_mut() {
            if let Some(stream) = framework.stream.take() {
                stream.close();
            }
            if let Some(h) = framework.heartbeater.take() {
                libprocess::terminate(&h);
            }
        }
        for agent in self.state.agents.values_mut() {
            if let Some(o) = agent.observer.take() {
                libprocess::terminate(&o);
            }
        }
        self.me = None;
    }
}

impl MasterProcess {
    /// This process's typed pid.
    pub fn pid(&self) -> Pid<MasterProcess> {
        self.me.clone().expect("the master is initialized")
    }

    /// Now, on the runtime's clock (virtual in tests).
    pub fn now(&self) -> SystemTime {
        self.runtime.clock().now()
    }

    /// Now, as seconds since the epoch (status update timestamps).
    pub fn now_secs(&self) -> f64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }

    /// Now, as a `TimeInfo`.
    pub fn now_time_info(&self) -> v0::TimeInfo {
        let nanos = self
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        v0::TimeInfo { nanoseconds: nanos }
    }

    /// Sends a protobuf message from the master.
    pub fn send<M: Message + prost::Name>(&self, to: &Upid, message: &M) {
        self.runtime
            .send(&self.upid, to, M::full_name(), message.encode_to_vec());
    }

    fn wait_recovered(&mut self) -> Future<bool> {
        if self.recovered {
            return Future::ready(true);
        }
        if self.recovery_failed.is_some() {
            return Future::ready(false);
        }
        let promise = Promise::new();
        let future = promise.future();
        self.recovery_waiters.push(promise);
        future
    }

    fn recovered_registry(&mut self, outcome: Result<Registry, String>) {
        let registry = match outcome {
            Ok(registry) => registry,
            Err(message) => {
                error!(%message, "master cannot recover its registry; it will not serve");
                for waiter in self.recovery_waiters.drain(..) {
                    waiter.set(false);
                }
                let reason = format!("cannot recover the registry: {message}");
                self.recovery_failed = Some(message);
                self.step_down(reason);
                return;
            }
        };
        for slave in registry.slaves.iter().flat_map(|s| &s.slaves) {
            if let Some(id) = &slave.info.id {
                self.state
                    .recovered_agents
                    .insert(AgentId::from(id), slave.info.clone());
            }
        }
        for unreachable in registry.unreachable.iter().flat_map(|u| &u.slaves) {
            self.state
                .unreachable_agents
                .insert(AgentId::from(&unreachable.id), unreachable.timestamp);
        }
        for gone in registry.gone.iter().flat_map(|g| &g.slaves) {
            self.state
                .gone_agents
                .insert(AgentId::from(&gone.id), gone.timestamp);
        }
        // Weights: the registry's, else the flag's.
        let mut weights: Vec<v0::WeightInfo> =
            registry.weights.iter().map(|w| w.info.clone()).collect();
        if weights.is_empty() {
            weights = self
                .settings
                .weights
                .iter()
                .map(|(role, weight)| v0::WeightInfo {
                    weight: *weight,
                    role: Some(role.clone()),
                })
                .collect();
        }
        for w in &weights {
            if let Some(role) = &w.role {
                self.state.weights.insert(role.clone(), w.weight);
            }
        }
        if !weights.is_empty() {
            self.allocator.update_weights(weights);
        }
        if !self.elected() {
            return;
        }
        self.recovered = true;
        for waiter in self.recovery_waiters.drain(..) {
            waiter.set(true);
        }
        info!(
            recovered_agents = self.state.recovered_agents.len(),
            "master recovered; agents have {} to reregister", self.flags.agent_reregister_timeout
        );
        self.schedule_recovered_agents_timeout();
    }

    pub(crate) fn new_framework_id(&mut self) -> FrameworkId {
        let id = FrameworkId(format!("{}-{:04}", self.info.id, self.next_framework_id));
        self.next_framework_id += 1;
        id
    }

    pub(crate) fn new_agent_id(&mut self) -> AgentId {
        let id = AgentId(format!("{}-S{}", self.info.id, self.next_agent_id));
        self.next_agent_id += 1;
        id
    }

    pub(crate) fn new_offer_id(&mut self) -> OfferId {
        let id = OfferId(format!("{}-O{}", self.info.id, self.next_offer_id));
        self.next_offer_id += 1;
        id
    }
}

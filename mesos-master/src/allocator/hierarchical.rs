//! The hierarchical DRF allocator (upstream `src/master/allocator/mesos/hierarchical.cpp`).
//!
//! [`HierarchicalAllocator`] is the handle: cheap to clone, its methods only dispatch to
//! [`HierarchicalAllocatorProcess`], which owns all the state:
//!
//! * agents: total, offered or allocated per framework, available (see `agent.rs`);
//! * frameworks: subscribed and suppressed roles, capabilities, offer filters;
//! * roles: each role with a tracked framework has a framework sorter, and is a client
//!   of the role sorter. A framework is tracked under a role while it is subscribed to it
//!   or holds resources allocated to it.
//!
//! Both levels are mesos-core DRF sorters (weights, hierarchical role names); their order
//! is kept current through a run by `order::SortedClients`.
//!
//! Protocol: the master's calls arrive as dispatches. Events that may allow new offers
//! (a framework added, activated or revived, an agent added or updated) mark agents as
//! candidates and queue one allocation run behind the events already queued, so a burst
//! of events costs one run. A timer runs an allocation over every agent each
//! `allocation_interval`. Offer filters (declined resources, `refuse_seconds`) expire
//! through timers of the runtime's clock.
//!
//! An allocation run (`cycle.rs`) shuffles the candidate agents, and for each agent walks
//! the roles in DRF order and, within a role, its active frameworks in DRF order, offering
//! what is available to the role (unreserved, or reserved to the role or an ancestor) to
//! the first framework that can take it: one that does not filter it, is capable of it
//! (GPU agents go to `GPU_RESOURCES` frameworks only) and is offered at least the minimum
//! allocatable resources. Quota (stage one of upstream's run) is not implemented.
//!
//! What a run learns is cached until it may change: an agent's *generation* names what
//! it can offer (available resources, capabilities, filters on it dropped), a role's
//! *epoch* changes when its frameworks' filters are dropped or their capabilities change,
//! and its framework sorter counts changes to its active frameworks. Filter verdicts and
//! "no framework of this role can take anything here" hold while those stay the same.
//!
//! Invariants: per agent, `available + unallocated(offered or allocated) == total`
//! (shared resources stay available); what the sorters record as allocated to a framework
//! is the scalar part of that framework's offered or allocated resources, by role.

mod cycle;
mod metrics;

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use libprocess::{Context, Future, Handle, Pid, Process, Timer, call, delay, dispatch};
use mesos_core::resources::Attributes;
use mesos_core::resources::{Quantity, ResourceConversion, ResourceQuantities, Resources};
use mesos_core::sorter::SplitMix64;
use mesos_core::v0;
use mesos_core::v0::framework_info::capability::Type as FrameworkCapability;
use slab::Slab;
use tracing::{debug, error, info, warn};

use super::agent::{Agent, AgentCapabilities};
use super::order::SortedClients;
use super::{
    AgentId, Allocator, AllocatorError, AllocatorMetrics, FrameworkId, FrameworkOptions,
    InverseOfferCallback, OfferCallback, Options,
};

/// The longest an offer filter lasts, as upstream.
const MAX_REFUSE: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The built-in allocator: a handle to its process. Clone it freely.
///
/// ```
/// use libprocess::Runtime;
/// use mesos_master::allocator::{Allocator, HierarchicalAllocator, Options};
///
/// let runtime = Runtime::new();
/// let allocator = HierarchicalAllocator::spawn(runtime.handle());
/// allocator.initialize(Options::default(), Box::new(|_, _| {}), Box::new(|_, _| {}));
/// let metrics = allocator.metrics().get().unwrap();
/// assert_eq!(metrics.agents, 0);
/// ```
#[derive(Clone, Debug)]
pub struct HierarchicalAllocator {
    pid: Pid<HierarchicalAllocatorProcess>,
    /// Calls dispatched through handles and not yet served
    /// (`allocator/mesos/event_queue_dispatches`).
    queued: Arc<AtomicUsize>,
}

impl HierarchicalAllocator {
    /// Spawns the allocator's process on `runtime`, as `hierarchical-allocator(N)`, and
    /// registers its metrics in the runtime's registry (`allocator/mesos/...`, see
    /// `metrics.rs`); they are removed when the process terminates.
    pub fn spawn(runtime: &Handle) -> Self {
        let id = runtime.generate_id("hierarchical-allocator");
        let pid = runtime
            .spawn_with_id(id, HierarchicalAllocatorProcess::new())
            .expect("generated ids are unique");
        let queued = Arc::new(AtomicUsize::new(0));
        let registry = metrics::AllocatorMetricsRegistry::register(
            runtime.metrics(),
            pid.clone(),
            queued.clone(),
        );
        // The first event the process serves: every call finds the registry in place.
        dispatch(&pid, move |p| p.registry = Some(registry));
        HierarchicalAllocator { pid, queued }
    }

    /// Dispatches a call of the master, counted in `event_queue_dispatches` until served.
    fn dispatch(&self, f: impl FnOnce(&mut HierarchicalAllocatorProcess) + Send + 'static) {
        let queued = self.queued.clone();
        queued.fetch_add(1, Ordering::Relaxed);
        dispatch(&self.pid, move |p| {
            queued.fetch_sub(1, Ordering::Relaxed);
            f(p)
        });
    }

    /// The allocator's process.
    pub fn pid(&self) -> &Pid<HierarchicalAllocatorProcess> {
        &self.pid
    }

    /// Terminates the allocator's process; later calls are dropped.
    pub fn terminate(&self) {
        libprocess::terminate(&self.pid);
    }
}

impl Allocator for HierarchicalAllocator {
    fn initialize(
        &self,
        options: Options,
        offer_callback: OfferCallback,
        inverse_offer_callback: InverseOfferCallback,
    ) {
        self.dispatch(move |p| {
            p.initialize_allocator(options, offer_callback, inverse_offer_callback)
        });
    }

    fn add_framework(
        &self,
        framework_id: FrameworkId,
        info: v0::FrameworkInfo,
        used: HashMap<AgentId, Resources>,
        active: bool,
        options: FrameworkOptions,
    ) {
        self.dispatch(move |p| p.add_framework(framework_id, info, used, active, options));
    }

    fn remove_framework(&self, framework_id: FrameworkId) {
        self.dispatch(move |p| p.remove_framework(framework_id));
    }

    fn activate_framework(&self, framework_id: FrameworkId) {
        self.dispatch(move |p| p.activate_framework(framework_id));
    }

    fn deactivate_framework(&self, framework_id: FrameworkId) {
        self.dispatch(move |p| p.deactivate_framework(framework_id));
    }

    fn update_framework(
        &self,
        framework_id: FrameworkId,
        info: v0::FrameworkInfo,
        options: FrameworkOptions,
    ) {
        self.dispatch(move |p| p.update_framework(framework_id, info, options));
    }

    fn add_agent(
        &self,
        agent_id: AgentId,
        info: v0::SlaveInfo,
        capabilities: Vec<v0::slave_info::Capability>,
        total: Resources,
        used: HashMap<FrameworkId, Resources>,
    ) {
        self.dispatch(move |p| p.add_agent(agent_id, info, capabilities, total, used));
    }

    fn remove_agent(&self, agent_id: AgentId) {
        self.dispatch(move |p| p.remove_agent(agent_id));
    }

    fn update_agent(
        &self,
        agent_id: AgentId,
        info: v0::SlaveInfo,
        total: Option<Resources>,
        capabilities: Option<Vec<v0::slave_info::Capability>>,
    ) {
        self.dispatch(move |p| p.update_agent(agent_id, info, total, capabilities));
    }

    fn activate_agent(&self, agent_id: AgentId) {
        self.dispatch(move |p| p.set_agent_activated(agent_id, true));
    }

    fn deactivate_agent(&self, agent_id: AgentId) {
        self.dispatch(move |p| p.set_agent_activated(agent_id, false));
    }

    fn request_resources(&self, framework_id: FrameworkId, requests: Vec<v0::Request>) {
        self.dispatch(move |_p| {
            info!(%framework_id, requests = requests.len(), "received resource request");
        });
    }

    fn update_allocation(
        &self,
        framework_id: FrameworkId,
        agent_id: AgentId,
        offered: Resources,
        conversions: Vec<ResourceConversion>,
    ) {
        self.dispatch(move |p| p.update_allocation(framework_id, agent_id, offered, conversions));
    }

    fn update_available(
        &self,
        agent_id: AgentId,
        conversions: Vec<ResourceConversion>,
    ) -> Future<Result<(), AllocatorError>> {
        call(&self.pid, move |p| {
            p.update_available(agent_id, conversions)
        })
    }

    fn transition_offered_to_allocated(&self, agent_id: AgentId, resources: Resources) {
        self.dispatch(move |p| p.transition_offered_to_allocated(agent_id, resources));
    }

    fn recover_resources(
        &self,
        framework_id: FrameworkId,
        agent_id: AgentId,
        resources: Resources,
        filters: Option<v0::Filters>,
        is_allocated: bool,
    ) {
        self.dispatch(move |p| {
            p.recover_resources(framework_id, agent_id, resources, filters, is_allocated)
        });
    }

    fn suppress_offers(&self, framework_id: FrameworkId, roles: BTreeSet<String>) {
        self.dispatch(move |p| p.suppress_offers(framework_id, roles));
    }

    fn revive_offers(&self, framework_id: FrameworkId, roles: BTreeSet<String>) {
        self.dispatch(move |p| p.revive_offers(framework_id, roles));
    }

    fn update_weights(&self, weights: Vec<v0::WeightInfo>) {
        self.dispatch(move |p| p.update_weights(weights));
    }

    fn pause(&self) {
        self.dispatch(|p| p.set_paused(true));
    }

    fn resume(&self) {
        self.dispatch(|p| p.set_paused(false));
    }

    fn metrics(&self) -> Future<AllocatorMetrics> {
        call(&self.pid, |p| p.metrics())
    }
}

/// An agent's slot in the allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct AgentKey(usize);

/// A framework's slot in the allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct FrameworkKey(usize);

/// A role's slot in the allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RoleKey(usize);

/// The framework capabilities the allocator looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct FrameworkCapabilities {
    gpu_resources: bool,
    shared_resources: bool,
    revocable_resources: bool,
    multi_role: bool,
    reservation_refinement: bool,
}

impl FrameworkCapabilities {
    fn new(info: &v0::FrameworkInfo) -> Self {
        let mut result = FrameworkCapabilities::default();
        for capability in &info.capabilities {
            match capability.r#type() {
                FrameworkCapability::GpuResources => result.gpu_resources = true,
                FrameworkCapability::SharedResources => result.shared_resources = true,
                FrameworkCapability::RevocableResources => result.revocable_resources = true,
                FrameworkCapability::MultiRole => result.multi_role = true,
                FrameworkCapability::ReservationRefinement => result.reservation_refinement = true,
                _ => {}
            }
        }
        result
    }
}

/// The roles of a framework: `roles` for a MULTI_ROLE framework, else its one `role`
/// (upstream `protobuf::framework::getRoles`).
fn framework_roles(
    info: &v0::FrameworkInfo,
    capabilities: FrameworkCapabilities,
) -> BTreeSet<String> {
    if capabilities.multi_role {
        info.roles.iter().cloned().collect()
    } else {
        BTreeSet::from([info.role().to_owned()])
    }
}

/// The per-role minimum allocatable resources a framework asked for.
fn min_allocatable_of(info: &v0::FrameworkInfo) -> HashMap<String, Vec<ResourceQuantities>> {
    info.offer_filters
        .iter()
        .filter_map(|(role, filters)| {
            let min = filters.min_allocatable_resources.as_ref()?;
            let quantities = min
                .quantities
                .iter()
                .map(|q| {
                    q.quantities
                        .iter()
                        .map(|(name, scalar)| (name.as_str(), Quantity::from_f64(scalar.value)))
                        .collect()
                })
                .collect();
            Some((role.clone(), quantities))
        })
        .collect()
}

/// How long a framework refuses what it declined: `refuse_seconds` of its filters, at
/// most a year, the default 5 seconds if negative or not a number.
fn refuse_timeout(filters: &v0::Filters) -> Duration {
    let default = Duration::from_secs(5);
    let seconds = filters.refuse_seconds();
    if seconds > MAX_REFUSE.as_secs_f64() {
        warn!(
            seconds,
            "using 365 days for an offer filter whose timeout is too large"
        );
        MAX_REFUSE
    } else if seconds < 0.0 {
        warn!(
            seconds,
            "using the default offer filter timeout instead of a negative one"
        );
        default
    } else {
        Duration::try_from_secs_f64(seconds).unwrap_or(default)
    }
}

/// What the sorters record of offered or allocated resources: their scalar quantities,
/// which is all a share needs (the agents keep the resources themselves).
pub(crate) fn for_sorter(resources: &Resources) -> ResourceQuantities {
    ResourceQuantities::from_scalar_resources(resources)
}

/// Declined resources a framework does not want offered again on an agent, for a role,
/// until its timer fires (upstream `RefusedOfferFilter`).
#[derive(Debug)]
struct OfferFilter {
    id: u64,
    /// The declined resources (unallocated): an offer they contain is filtered.
    refused: Resources,
    timer: Timer,
    /// The last verdict, with the agent's generation and the role's epoch it holds for
    /// (the offer it was about is the same while they are).
    verdict: Cell<Option<(u64, u64, bool)>>,
}

impl OfferFilter {
    /// Whether the filter holds `offer` back; `key` (the agent's generation and the
    /// role's epoch) lets the verdict be reused while the offer cannot have changed.
    fn refuses(&self, offer: &Resources, key: Option<(u64, u64)>) -> bool {
        if let (Some((generation, epoch)), Some((g, e, verdict))) = (key, self.verdict.get())
            && g == generation
            && e == epoch
        {
            return verdict;
        }
        let verdict = self.refused.contains(offer);
        if let Some((generation, epoch)) = key {
            self.verdict.set(Some((generation, epoch, verdict)));
        }
        verdict
    }
}

impl Drop for OfferFilter {
    fn drop(&mut self) {
        // A filter removed early (revive, removal) leaves no timer behind.
        self.timer.cancel();
    }
}

/// Offer filters of a framework: per role, per agent.
type FilterMap = foldhash::HashMap<String, foldhash::HashMap<AgentKey, Vec<OfferFilter>>>;

#[derive(Debug)]
struct Framework {
    id: FrameworkId,
    info: v0::FrameworkInfo,
    roles: BTreeSet<String>,
    suppressed_roles: BTreeSet<String>,
    capabilities: FrameworkCapabilities,
    active: bool,
    offer_filters: FilterMap,
    /// Per-role minimum allocatable resources that replace the allocator's.
    min_allocatable: HashMap<String, Vec<ResourceQuantities>>,
}

impl Framework {
    fn new(
        id: FrameworkId,
        info: v0::FrameworkInfo,
        active: bool,
        suppressed_roles: BTreeSet<String>,
    ) -> Self {
        let capabilities = FrameworkCapabilities::new(&info);
        Framework {
            id,
            roles: framework_roles(&info, capabilities),
            suppressed_roles,
            capabilities,
            active,
            offer_filters: FilterMap::default(),
            min_allocatable: min_allocatable_of(&info),
            info,
        }
    }
}

/// A role with at least one tracked framework.
#[derive(Debug)]
struct Role {
    name: std::sync::Arc<str>,
    /// Unique to this role and changed when its frameworks' filters are dropped or their
    /// capabilities change: cached verdicts about the role hold while it stays.
    epoch: u64,
    /// Frameworks subscribed to the role or holding resources allocated to it.
    frameworks: foldhash::HashSet<FrameworkKey>,
    /// Orders those frameworks (their allocations within the role).
    sorter: SortedClients<FrameworkKey, AgentKey>,
}

/// The agents the next allocation run looks at.
#[derive(Debug, Default)]
struct Candidates {
    all: bool,
    agents: foldhash::HashSet<AgentKey>,
}

impl Candidates {
    fn clear(&mut self) {
        self.all = false;
        self.agents.clear();
    }
}

/// The allocator's state; see the [module docs](self).
pub struct HierarchicalAllocatorProcess {
    me: Option<Pid<HierarchicalAllocatorProcess>>,
    initialized: bool,
    paused: bool,
    options: Options,
    offer_callback: Option<OfferCallback>,
    /// Kept for maintenance (not implemented), which will send inverse offers.
    #[allow(dead_code)]
    inverse_offer_callback: Option<InverseOfferCallback>,
    frameworks: Slab<Framework>,
    framework_keys: foldhash::HashMap<FrameworkId, FrameworkKey>,
    agents: Slab<Agent>,
    agent_keys: foldhash::HashMap<AgentId, AgentKey>,
    roles: Slab<Role>,
    role_keys: foldhash::HashMap<String, RoleKey>,
    role_sorter: SortedClients<RoleKey, AgentKey>,
    /// The scalar resources of all agents.
    total_scalar_quantities: ResourceQuantities,
    candidates: Candidates,
    /// An allocation run is queued.
    allocation_pending: bool,
    rng: SplitMix64,
    next_filter_id: u64,
    /// The next role epoch (see `Role::epoch`).
    next_epoch: u64,
    allocation_runs: u64,
    last_allocation_run: Option<Duration>,
    /// When the queued allocation run was asked for.
    allocation_requested: Option<Instant>,
    /// The metrics in the runtime's registry (set first thing after spawn).
    registry: Option<metrics::AllocatorMetricsRegistry>,
}

impl std::fmt::Debug for HierarchicalAllocatorProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HierarchicalAllocatorProcess")
            .field("frameworks", &self.frameworks.len())
            .field("agents", &self.agents.len())
            .field("roles", &self.roles.len())
            .finish_non_exhaustive()
    }
}

impl Process for HierarchicalAllocatorProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
    }

    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
        if let Some(registry) = self.registry.take() {
            for (_, role) in &self.roles {
                registry.remove_role(&role.name);
            }
        }
    }
}

impl HierarchicalAllocatorProcess {
    fn new() -> Self {
        let options = Options::default();
        HierarchicalAllocatorProcess {
            me: None,
            initialized: false,
            paused: true,
            rng: SplitMix64::new(options.seed),
            role_sorter: SortedClients::new(None),
            options,
            offer_callback: None,
            inverse_offer_callback: None,
            frameworks: Slab::new(),
            framework_keys: Default::default(),
            agents: Slab::new(),
            agent_keys: Default::default(),
            roles: Slab::new(),
            role_keys: Default::default(),
            total_scalar_quantities: ResourceQuantities::new(),
            candidates: Candidates::default(),
            allocation_pending: false,
            next_filter_id: 0,
            next_epoch: 0,
            allocation_runs: 0,
            last_allocation_run: None,
            allocation_requested: None,
            registry: None,
        }
    }

    fn me(&self) -> &Pid<Self> {
        self.me.as_ref().expect("the process has initialized")
    }

    fn initialize_allocator(
        &mut self,
        options: Options,
        offer_callback: OfferCallback,
        inverse_offer_callback: InverseOfferCallback,
    ) {
        if self.initialized {
            error!("allocator initialized twice; ignored");
            return;
        }
        self.rng = SplitMix64::new(options.seed);
        self.role_sorter = SortedClients::new(options.fairness_exclude_resource_names.clone());
        self.options = options;
        self.offer_callback = Some(offer_callback);
        self.inverse_offer_callback = Some(inverse_offer_callback);
        self.initialized = true;
        self.paused = false;
        debug!(interval = ?self.options.allocation_interval, "initialized hierarchical allocator");
        self.arm_periodic_allocation();
    }

    /// Runs an allocation over every agent each `allocation_interval` (none if zero).
    fn arm_periodic_allocation(&mut self) {
        let interval = self.options.allocation_interval;
        if interval.is_zero() {
            return;
        }
        delay(interval, self.me(), |p: &mut Self| {
            p.schedule_allocation(None);
            p.arm_periodic_allocation();
        });
    }

    /// Whether a call may proceed: the allocator must be initialized.
    fn ready(&self, call: &str) -> bool {
        if !self.initialized {
            error!(call, "allocator called before initialize; ignored");
        }
        self.initialized
    }

    fn framework_key(&self, id: &FrameworkId, call: &str) -> Option<FrameworkKey> {
        let key = self.framework_keys.get(id).copied();
        if key.is_none() {
            error!(framework_id = %id, call, "unknown framework; ignored");
        }
        key
    }

    fn agent_key(&self, id: &AgentId, call: &str) -> Option<AgentKey> {
        let key = self.agent_keys.get(id).copied();
        if key.is_none() {
            error!(agent_id = %id, call, "unknown agent; ignored");
        }
        key
    }

    /// Queues one allocation run (if none is queued) for `agent`, or all agents.
    fn schedule_allocation(&mut self, agent: Option<AgentKey>) {
        if self.paused {
            debug!("allocation skipped: the allocator is paused");
            return;
        }
        match agent {
            None => self.candidates.all = true,
            Some(key) => {
                self.candidates.agents.insert(key);
            }
        }
        if !self.allocation_pending {
            self.allocation_pending = true;
            self.allocation_requested = Some(Instant::now());
            dispatch(self.me(), |p: &mut Self| p.run_allocation());
        }
    }

    fn run_allocation(&mut self) {
        self.allocation_pending = false;
        if self.paused {
            debug!("allocation skipped: the allocator is paused");
            return;
        }
        self.allocation_runs += 1;
        let started = Instant::now();
        let latency = self
            .allocation_requested
            .take()
            .map(|requested| started.duration_since(requested));
        let offers = self.allocate();
        let elapsed = started.elapsed();
        self.last_allocation_run = Some(elapsed);
        if let Some(registry) = &self.registry {
            registry.allocation_runs.inc();
            registry
                .allocation_run
                .lock()
                .expect("timer lock")
                .record(elapsed);
            if let Some(latency) = latency {
                registry
                    .allocation_run_latency
                    .lock()
                    .expect("timer lock")
                    .record(latency);
            }
        }
        debug!(offers, elapsed = ?elapsed, "performed allocation");
        self.candidates.clear();
    }

    fn set_paused(&mut self, paused: bool) {
        if self.paused != paused {
            debug!(paused, "allocation paused or resumed");
        }
        self.paused = paused;
    }

    // ------------------------------------------------------------------ frameworks

    fn add_framework(
        &mut self,
        id: FrameworkId,
        info: v0::FrameworkInfo,
        used: HashMap<AgentId, Resources>,
        active: bool,
        options: FrameworkOptions,
    ) {
        if !self.ready("add_framework") {
            return;
        }
        if self.framework_keys.contains_key(&id) {
            error!(framework_id = %id, "framework added twice; ignored");
            return;
        }
        let framework = Framework::new(id.clone(), info, active, options.suppressed_roles);
        let roles: Vec<String> = framework.roles.iter().cloned().collect();
        let suppressed = framework.suppressed_roles.clone();
        let key = FrameworkKey(self.frameworks.insert(framework));
        self.framework_keys.insert(id.clone(), key);

        for role in &roles {
            let role_key = self.track_framework_under_role(key, role);
            let sorter = &mut self.roles[role_key.0].sorter;
            if suppressed.contains(role) {
                sorter.deactivate(key);
            } else {
                sorter.activate(key);
            }
        }

        // The agents know what the framework uses already; the sorters learn it here.
        for (agent_id, resources) in &used {
            if self.agent_keys.contains_key(agent_id) {
                self.track_allocated(key, resources);
            }
        }

        info!(framework_id = %id, ?roles, active, "added framework");
        if active {
            self.schedule_allocation(None);
        } else {
            self.deactivate(key);
        }
    }

    fn remove_framework(&mut self, id: FrameworkId) {
        if !self.ready("remove_framework") {
            return;
        }
        let Some(key) = self.framework_key(&id, "remove_framework") else {
            return;
        };
        let held: Vec<(AgentKey, Resources)> = self
            .agents
            .iter()
            .filter_map(|(k, agent)| {
                agent
                    .offered_or_allocated()
                    .get(&id)
                    .map(|r| (AgentKey(k), r.clone()))
            })
            .collect();
        for (agent, resources) in held {
            self.untrack_allocated(key, &resources);
            let recovered = self.agents[agent.0].increase_available(&id, &resources);
            debug_assert!(recovered, "an agent's own record of the framework");
        }
        let roles: Vec<String> = self.frameworks[key.0].roles.iter().cloned().collect();
        for role in roles {
            if let Some(&role_key) = self.role_keys.get(&role) {
                let untracked = self.try_untrack_framework_under_role(key, role_key);
                debug_assert!(untracked, "nothing left allocated to {id} in role {role}");
            }
        }
        self.frameworks.remove(key.0);
        self.framework_keys.remove(&id);
        info!(framework_id = %id, "removed framework");
    }

    fn activate_framework(&mut self, id: FrameworkId) {
        if !self.ready("activate_framework") {
            return;
        }
        let Some(key) = self.framework_key(&id, "activate_framework") else {
            return;
        };
        let framework = &mut self.frameworks[key.0];
        framework.active = true;
        for role in &framework.roles {
            if framework.suppressed_roles.contains(role) {
                continue;
            }
            if let Some(&role_key) = self.role_keys.get(role) {
                self.roles[role_key.0].sorter.activate(key);
            }
        }
        info!(framework_id = %id, "activated framework");
        self.schedule_allocation(None);
    }

    fn deactivate_framework(&mut self, id: FrameworkId) {
        if !self.ready("deactivate_framework") {
            return;
        }
        if let Some(key) = self.framework_key(&id, "deactivate_framework") {
            self.deactivate(key);
            info!(framework_id = %id, "deactivated framework");
        }
    }

    fn deactivate(&mut self, key: FrameworkKey) {
        let framework = &mut self.frameworks[key.0];
        for role in &framework.roles {
            if let Some(&role_key) = self.role_keys.get(role) {
                // Its allocation stays in the sorter: it still counts when it comes back.
                self.roles[role_key.0].sorter.deactivate(key);
            }
        }
        framework.active = false;
        framework.offer_filters.clear();
    }

    fn update_framework(
        &mut self,
        id: FrameworkId,
        info: v0::FrameworkInfo,
        options: FrameworkOptions,
    ) {
        if !self.ready("update_framework") {
            return;
        }
        let Some(key) = self.framework_key(&id, "update_framework") else {
            return;
        };
        let capabilities = FrameworkCapabilities::new(&info);
        let new_roles = framework_roles(&info, capabilities);
        let framework = &self.frameworks[key.0];
        let old_roles = framework.roles.clone();
        let old_suppressed = framework.suppressed_roles.clone();
        let active = framework.active;

        for role in new_roles.difference(&old_roles) {
            // It may still be tracked: a framework can leave a role and keep resources.
            let role_key = match self.role_keys.get(role) {
                Some(&k) if self.roles[k.0].frameworks.contains(&key) => k,
                _ => self.track_framework_under_role(key, role),
            };
            if active {
                self.roles[role_key.0].sorter.activate(key);
            }
        }
        for role in old_roles.difference(&new_roles) {
            if let Some(&role_key) = self.role_keys.get(role) {
                self.roles[role_key.0].sorter.deactivate(key);
                self.try_untrack_framework_under_role(key, role_key);
            }
            let framework = &mut self.frameworks[key.0];
            framework.offer_filters.remove(role);
            framework.suppressed_roles.remove(role);
        }

        // Its capabilities and minimums may change what it can take in all its roles.
        for role in old_roles.union(&new_roles) {
            self.bump_role(role);
        }
        let framework = &mut self.frameworks[key.0];
        framework.roles = new_roles.clone();
        framework.capabilities = capabilities;
        framework.min_allocatable = min_allocatable_of(&info);
        framework.info = info;

        let suppress: BTreeSet<String> = options
            .suppressed_roles
            .difference(&old_suppressed)
            .cloned()
            .collect();
        let revive: BTreeSet<String> = old_suppressed
            .difference(&options.suppressed_roles)
            .filter(|r| new_roles.contains(*r))
            .cloned()
            .collect();
        self.suppress_roles(key, &suppress);
        self.revive_roles(key, &revive);
        debug!(framework_id = %id, roles = ?new_roles, "updated framework");
    }

    fn suppress_offers(&mut self, id: FrameworkId, roles: BTreeSet<String>) {
        if !self.ready("suppress_offers") {
            return;
        }
        let Some(key) = self.framework_key(&id, "suppress_offers") else {
            return;
        };
        let roles = if roles.is_empty() {
            self.frameworks[key.0].roles.clone()
        } else {
            roles
        };
        self.suppress_roles(key, &roles);
        info!(framework_id = %id, ?roles, "suppressed offers");
    }

    fn suppress_roles(&mut self, key: FrameworkKey, roles: &BTreeSet<String>) {
        for role in roles {
            match self.role_keys.get(role) {
                Some(&role_key) if self.roles[role_key.0].sorter.contains(key) => {
                    self.roles[role_key.0].sorter.deactivate(key);
                    self.frameworks[key.0].suppressed_roles.insert(role.clone());
                }
                _ => warn!(
                    framework_id = %self.frameworks[key.0].id,
                    role,
                    "cannot suppress a role the framework is not subscribed to"
                ),
            }
        }
    }

    fn revive_offers(&mut self, id: FrameworkId, roles: BTreeSet<String>) {
        if !self.ready("revive_offers") {
            return;
        }
        let Some(key) = self.framework_key(&id, "revive_offers") else {
            return;
        };
        let roles = if roles.is_empty() {
            self.frameworks[key.0].roles.clone()
        } else {
            roles
        };
        self.revive_roles(key, &roles);
        info!(framework_id = %id, ?roles, "revived offers and cleared filters");
        self.schedule_allocation(None);
    }

    fn revive_roles(&mut self, key: FrameworkKey, roles: &BTreeSet<String>) {
        for role in roles {
            // Its filters go: verdicts cached about the role no longer hold.
            self.bump_role(role);
        }
        let framework = &mut self.frameworks[key.0];
        for role in roles {
            framework.offer_filters.remove(role);
            framework.suppressed_roles.remove(role);
            if !framework.active {
                continue;
            }
            if let Some(&role_key) = self.role_keys.get(role)
                && self.roles[role_key.0].sorter.contains(key)
            {
                self.roles[role_key.0].sorter.activate(key);
            }
        }
    }

    // ------------------------------------------------------------------ agents

    fn add_agent(
        &mut self,
        id: AgentId,
        info: v0::SlaveInfo,
        capabilities: Vec<v0::slave_info::Capability>,
        total: Resources,
        used: HashMap<FrameworkId, Resources>,
    ) {
        if !self.ready("add_agent") {
            return;
        }
        if self.agent_keys.contains_key(&id) {
            error!(agent_id = %id, "agent added twice; ignored");
            return;
        }
        let quantities = ResourceQuantities::from_scalar_resources(&total);
        let agent = Agent::new(
            id.clone(),
            info,
            AgentCapabilities::new(&capabilities),
            total,
            &used,
        );
        let key = AgentKey(self.agents.insert(agent));
        self.agent_keys.insert(id.clone(), key);

        self.total_scalar_quantities += &quantities;
        self.role_sorter.add_agent(key, quantities.clone());
        for (_, role) in &mut self.roles {
            role.sorter.add_agent(key, quantities.clone());
        }

        // What frameworks not yet added use is tracked when they are added.
        for (framework_id, resources) in &used {
            if let Some(&framework) = self.framework_keys.get(framework_id) {
                self.track_allocated(framework, resources);
            }
        }

        debug!(agent_id = %id, total = %self.agents[key.0].total(), "added agent");
        self.schedule_allocation(Some(key));
    }

    fn remove_agent(&mut self, id: AgentId) {
        if !self.ready("remove_agent") {
            return;
        }
        let Some(key) = self.agent_key(&id, "remove_agent") else {
            return;
        };
        let held: Vec<(FrameworkId, Resources)> = self.agents[key.0]
            .offered_or_allocated()
            .iter()
            .map(|(f, r)| (f.clone(), r.clone()))
            .collect();
        for (framework_id, resources) in held {
            if let Some(&framework) = self.framework_keys.get(&framework_id) {
                self.untrack_allocated(framework, &resources);
            }
        }
        self.role_sorter.remove_agent(key);
        for (_, role) in &mut self.roles {
            role.sorter.remove_agent(key);
        }
        let agent = self.agents.remove(key.0);
        self.total_scalar_quantities -= &ResourceQuantities::from_scalar_resources(agent.total());
        self.agent_keys.remove(&id);
        self.candidates.agents.remove(&key);
        self.remove_filters(key);
        info!(agent_id = %id, "removed agent");
    }

    /// Drops every offer filter on an agent.
    fn remove_filters(&mut self, agent: AgentKey) {
        if let Some(agent) = self.agents.get_mut(agent.0) {
            agent.touch();
        }
        for (_, framework) in &mut self.frameworks {
            for filters in framework.offer_filters.values_mut() {
                filters.remove(&agent);
            }
            framework
                .offer_filters
                .retain(|_, filters| !filters.is_empty());
        }
    }

    fn update_agent(
        &mut self,
        id: AgentId,
        info: v0::SlaveInfo,
        total: Option<Resources>,
        capabilities: Option<Vec<v0::slave_info::Capability>>,
    ) {
        if !self.ready("update_agent") {
            return;
        }
        let Some(key) = self.agent_key(&id, "update_agent") else {
            return;
        };
        let mut updated = false;
        let agent = &mut self.agents[key.0];
        // Frameworks may have declined it for lacking attributes it now has.
        let attributes_changed = Attributes::from(info.attributes.clone())
            != Attributes::from(agent.info.attributes.clone());
        if agent.info != info {
            updated = true;
            agent.info = info;
        }
        if let Some(capabilities) = capabilities {
            let capabilities = AgentCapabilities::new(&capabilities);
            if capabilities != agent.capabilities {
                updated = true;
                agent.capabilities = capabilities;
            }
        }
        if attributes_changed {
            self.remove_filters(key);
        }
        if updated {
            self.agents[key.0].touch();
        }
        if let Some(total) = total {
            updated |= self.update_agent_total(key, total);
        }
        if updated {
            debug!(agent_id = %id, "updated agent");
            self.schedule_allocation(Some(key));
        }
    }

    /// Sets an agent's total, in the sorters too; false if it did not change.
    fn update_agent_total(&mut self, key: AgentKey, total: Resources) -> bool {
        let agent = &mut self.agents[key.0];
        if *agent.total() == total {
            return false;
        }
        let old = ResourceQuantities::from_scalar_resources(agent.total());
        let new = ResourceQuantities::from_scalar_resources(&total);
        agent.update_total(total);
        self.total_scalar_quantities -= &old;
        self.total_scalar_quantities += &new;
        self.role_sorter.remove_agent(key);
        self.role_sorter.add_agent(key, new.clone());
        for (_, role) in &mut self.roles {
            role.sorter.remove_agent(key);
            role.sorter.add_agent(key, new.clone());
        }
        true
    }

    fn set_agent_activated(&mut self, id: AgentId, activated: bool) {
        if !self.ready("activate_agent") {
            return;
        }
        if let Some(key) = self.agent_key(&id, "activate_agent") {
            self.agents[key.0].activated = activated;
            info!(agent_id = %id, activated, "agent activated or deactivated");
        }
    }

    // ------------------------------------------------------------------ resources

    fn update_allocation(
        &mut self,
        framework_id: FrameworkId,
        agent_id: AgentId,
        offered: Resources,
        conversions: Vec<ResourceConversion>,
    ) {
        if !self.ready("update_allocation") {
            return;
        }
        let (Some(framework), Some(agent)) = (
            self.framework_key(&framework_id, "update_allocation"),
            self.agent_key(&agent_id, "update_allocation"),
        ) else {
            return;
        };
        let allocations = offered.allocations();
        let [role] = allocations.keys().collect::<Vec<_>>()[..] else {
            error!(%framework_id, %agent_id, "updated allocation is not allocated to one role; ignored");
            return;
        };
        let Some(&role_key) = self.role_keys.get(role) else {
            error!(%framework_id, role, "allocation update for an unknown role; ignored");
            return;
        };
        let mut updated = offered.clone();
        for conversion in &conversions {
            match updated.apply(conversion) {
                Ok(next) => updated = next,
                Err(error) => {
                    error!(%framework_id, %agent_id, %error, "cannot update allocation; ignored");
                    return;
                }
            }
        }
        if !self.agents[agent.0].increase_available(&framework_id, &offered) {
            error!(%framework_id, %agent_id, %offered, "updated resources are not offered to the framework; ignored");
            return;
        }
        self.agents[agent.0].decrease_available(&framework_id, &updated);
        let (old, new) = (for_sorter(&offered), for_sorter(&updated));
        if old.is_empty() {
            if !new.is_empty() {
                self.roles[role_key.0].sorter.allocated(framework, &new);
                self.role_sorter.allocated(role_key, &new);
            }
        } else {
            self.roles[role_key.0].sorter.update(framework, &old, &new);
            self.role_sorter.update(role_key, &old, &new);
        }

        // The agent's total follows, without allocation info and without the extra
        // copies of shared resources (conversions that consume nothing).
        let mut total = self.agents[agent.0].total().clone();
        for conversion in conversions.iter().filter(|c| !c.consumed.is_empty()) {
            let mut consumed = conversion.consumed.clone();
            let mut converted = conversion.converted.clone();
            consumed.unallocate();
            converted.unallocate();
            match total.apply(&ResourceConversion::new(consumed, converted)) {
                Ok(next) => total = next,
                Err(error) => {
                    error!(%agent_id, %error, "agent total does not follow an allocation update");
                    return;
                }
            }
        }
        self.update_agent_total(agent, total);
        debug!(%framework_id, %agent_id, %offered, %updated, "updated allocation");
    }

    fn update_available(
        &mut self,
        agent_id: AgentId,
        conversions: Vec<ResourceConversion>,
    ) -> Result<(), AllocatorError> {
        let Some(&key) = self.agent_keys.get(&agent_id).filter(|_| self.initialized) else {
            return Err(AllocatorError::UnknownAgent { agent_id });
        };
        let agent = &self.agents[key.0];
        let conversion_error = |source| AllocatorError::Conversion {
            agent_id: agent_id.clone(),
            source,
        };
        // An allocation run may have offered them since the master asked.
        let mut available = agent.available().clone();
        let mut total = agent.total().clone();
        for conversion in &conversions {
            available = available.apply(conversion).map_err(conversion_error)?;
            total = total.apply(conversion).map_err(conversion_error)?;
        }
        self.update_agent_total(key, total);
        Ok(())
    }

    fn transition_offered_to_allocated(&mut self, agent_id: AgentId, resources: Resources) {
        if let Some(key) = self.agent_key(&agent_id, "transition_offered_to_allocated") {
            self.agents[key.0].total_allocated += resources;
        }
    }

    fn recover_resources(
        &mut self,
        framework_id: FrameworkId,
        agent_id: AgentId,
        resources: Resources,
        filters: Option<v0::Filters>,
        is_allocated: bool,
    ) {
        if !self.ready("recover_resources") || resources.is_empty() {
            return;
        }
        let agent = self.agent_keys.get(&agent_id).copied();
        if is_allocated && let Some(agent) = agent {
            let agent = &mut self.agents[agent.0];
            debug_assert!(agent.total_allocated.contains(&resources));
            agent.total_allocated -= &resources;
        }
        // Either may be gone already: then its resources were recovered with it.
        let (Some(agent), Some(&framework)) = (agent, self.framework_keys.get(&framework_id))
        else {
            return;
        };
        if !self.agents[agent.0].increase_available(&framework_id, &resources) {
            error!(%framework_id, %agent_id, %resources, "recovered resources are not offered or allocated to the framework; ignored");
            return;
        }
        debug!(%framework_id, %agent_id, %resources, "recovered resources");
        self.untrack_allocated(framework, &resources);

        let Some(filters) = filters else {
            return;
        };
        let timeout = refuse_timeout(&filters);
        if timeout.is_zero() {
            return;
        }
        // The filter must outlive the next allocation run for the agent (MESOS-4302).
        let timeout = timeout.max(self.options.allocation_interval);
        for (role, mut refused) in resources.allocations() {
            refused.unallocate();
            let id = self.next_filter_id;
            self.next_filter_id += 1;
            let (expire_framework, expire_role) = (framework_id.clone(), role.clone());
            let timer = delay(timeout, self.me(), move |p: &mut Self| {
                // One more hop, as the periodic allocation takes one after its timer: a
                // filter never expires just before the allocation run due with it.
                dispatch(p.me(), move |p: &mut Self| {
                    p.expire_filter(&expire_framework, &expire_role, agent, id)
                });
            });
            debug!(%framework_id, %agent_id, role, ?timeout, "framework filtered agent");
            self.frameworks[framework.0]
                .offer_filters
                .entry(role)
                .or_default()
                .entry(agent)
                .or_default()
                .push(OfferFilter {
                    id,
                    refused,
                    timer,
                    verdict: Cell::new(None),
                });
        }
    }

    fn expire_filter(&mut self, framework_id: &FrameworkId, role: &str, agent: AgentKey, id: u64) {
        // The filter may be gone already (revive, removal): then this is a no-op.
        let Some(&key) = self.framework_keys.get(framework_id) else {
            return;
        };
        let filters = &mut self.frameworks[key.0].offer_filters;
        let Some(by_agent) = filters.get_mut(role) else {
            return;
        };
        if let Some(list) = by_agent.get_mut(&agent) {
            list.retain(|f| f.id != id);
            if list.is_empty() {
                by_agent.remove(&agent);
            }
        }
        if by_agent.is_empty() {
            filters.remove(role);
        }
        // What was cached about the agent may no longer hold.
        if let Some(agent) = self.agents.get_mut(agent.0) {
            agent.touch();
        }
    }

    fn update_weights(&mut self, weights: Vec<v0::WeightInfo>) {
        if !self.ready("update_weights") {
            return;
        }
        for weight in weights {
            let Some(role) = &weight.role else {
                warn!("weight without a role; ignored");
                continue;
            };
            if !(weight.weight.is_finite() && weight.weight > 0.0) {
                warn!(
                    role,
                    weight = weight.weight,
                    "weights must be positive; ignored"
                );
                continue;
            }
            self.role_sorter.update_weight(role, weight.weight);
            info!(role, weight = weight.weight, "updated weight");
        }
        // As upstream, a new weight shows in later runs; it triggers none.
    }

    /// The total of a scalar resource over all agents (a gauge).
    fn resource_total(&self, name: &str) -> f64 {
        self.total_scalar_quantities.get(name).as_f64()
    }

    /// How much of a scalar resource is offered or allocated (a gauge).
    fn resource_offered_or_allocated(&self, name: &str) -> f64 {
        self.agents
            .iter()
            .flat_map(|(_, agent)| agent.offered_or_allocated().values())
            .map(|resources| resources.get_scalar(name).map_or(0.0, |q| q.as_f64()))
            .sum()
    }

    /// The weighted dominant share of a role, if it exists (a gauge).
    fn dominant_share(&self, role: &str) -> Option<f64> {
        let key = *self.role_keys.get(role)?;
        Some(self.role_sorter.share(key))
    }

    /// The offer filters of all frameworks for a role (a gauge).
    fn offer_filters_active(&self, role: &str) -> usize {
        self.frameworks
            .iter()
            .filter_map(|(_, framework)| framework.offer_filters.get(role))
            .flat_map(|by_agent| by_agent.values())
            .map(Vec::len)
            .sum()
    }

    fn metrics(&self) -> AllocatorMetrics {
        let mut metrics = AllocatorMetrics {
            allocation_runs: self.allocation_runs,
            allocation_run_ms: self.last_allocation_run.map(|d| d.as_secs_f64() * 1e3),
            frameworks: self.frameworks.len(),
            agents: self.agents.len(),
            ..AllocatorMetrics::default()
        };
        for (_, framework) in &self.frameworks {
            for (role, by_agent) in &framework.offer_filters {
                let count: usize = by_agent.values().map(Vec::len).sum();
                *metrics
                    .offer_filters_active
                    .entry(role.clone())
                    .or_default() += count as u64;
            }
        }
        for (name, quantity) in self.total_scalar_quantities.iter() {
            metrics
                .resources_total
                .insert(name.to_owned(), quantity.as_f64());
        }
        let mut offered = ResourceQuantities::new();
        for (_, agent) in &self.agents {
            offered +=
                &ResourceQuantities::from_scalar_resources(&agent.total_offered_or_allocated());
        }
        for (name, quantity) in offered.iter() {
            metrics
                .resources_offered_or_allocated
                .insert(name.to_owned(), quantity.as_f64());
        }
        for (key, role) in &self.roles {
            metrics
                .dominant_shares
                .insert(role.name.to_string(), self.role_sorter.share(RoleKey(key)));
        }
        metrics
    }

    // ------------------------------------------------------------------ tracking

    /// Tracks `framework` under `role`, creating the role (its framework sorter, its entry
    /// in the role sorter) for its first framework.
    fn track_framework_under_role(&mut self, framework: FrameworkKey, role: &str) -> RoleKey {
        let key = match self.role_keys.get(role) {
            Some(&key) => key,
            None => {
                let mut sorter =
                    SortedClients::new(self.options.fairness_exclude_resource_names.clone());
                for (agent, state) in &self.agents {
                    sorter.add_agent(
                        AgentKey(agent),
                        ResourceQuantities::from_scalar_resources(state.total()),
                    );
                }
                self.next_epoch += 1;
                let key = RoleKey(self.roles.insert(Role {
                    name: role.into(),
                    epoch: self.next_epoch,
                    frameworks: Default::default(),
                    sorter,
                }));
                self.role_keys.insert(role.to_owned(), key);
                if let Some(registry) = &self.registry {
                    registry.add_role(role);
                }
                self.role_sorter.add(key, role);
                self.role_sorter.activate(key);
                key
            }
        };
        let state = &mut self.roles[key.0];
        state.frameworks.insert(framework);
        state
            .sorter
            .add(framework, self.frameworks[framework.0].id.as_str());
        // A framework key may be reused: nothing cached about the key still holds.
        self.next_epoch += 1;
        state.epoch = self.next_epoch;
        key
    }

    /// Invalidates what was cached about `role`'s frameworks (filters dropped,
    /// capabilities changed).
    fn bump_role(&mut self, role: &str) {
        if let Some(&key) = self.role_keys.get(role) {
            self.next_epoch += 1;
            self.roles[key.0].epoch = self.next_epoch;
        }
    }

    /// Stops tracking `framework` under a role if nothing is allocated to it there;
    /// removes the role with its last framework. Returns whether it was untracked.
    fn try_untrack_framework_under_role(&mut self, framework: FrameworkKey, key: RoleKey) -> bool {
        let role = &mut self.roles[key.0];
        if role.sorter.has_allocation(framework) {
            return false;
        }
        role.frameworks.remove(&framework);
        role.sorter.remove(framework);
        if role.frameworks.is_empty() {
            self.role_sorter.remove(key);
            let role = self.roles.remove(key.0);
            self.role_keys.remove(&*role.name);
            if let Some(registry) = &self.registry {
                registry.remove_role(&role.name);
            }
        }
        true
    }

    /// Records resources offered or allocated to a framework (on any agent) in the
    /// sorters, by role.
    fn track_allocated(&mut self, framework: FrameworkKey, resources: &Resources) {
        for (role, allocation) in resources.allocations() {
            let key = match self.role_keys.get(&role) {
                Some(&key) if self.roles[key.0].frameworks.contains(&framework) => key,
                _ => self.track_framework_under_role(framework, &role),
            };
            let recorded = for_sorter(&allocation);
            if recorded.is_empty() {
                continue;
            }
            self.role_sorter.allocated(key, &recorded);
            self.roles[key.0].sorter.allocated(framework, &recorded);
        }
    }

    /// Takes resources a framework gave back out of the sorters, by role; a role the
    /// framework is no longer subscribed to may stop tracking it.
    fn untrack_allocated(&mut self, framework: FrameworkKey, resources: &Resources) {
        for (role, allocation) in resources.allocations() {
            let recorded = for_sorter(&allocation);
            if recorded.is_empty() {
                continue;
            }
            let Some(&key) = self.role_keys.get(&role) else {
                error!(role, "resources allocated to an unknown role; ignored");
                continue;
            };
            self.roles[key.0].sorter.unallocated(framework, &recorded);
            self.role_sorter.unallocated(key, &recorded);
            if !self.frameworks[framework.0].roles.contains(&role) {
                self.try_untrack_framework_under_role(framework, key);
            }
        }
    }
}

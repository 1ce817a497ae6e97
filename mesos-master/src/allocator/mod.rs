//! The master's allocator: turns agents' resources into offers for frameworks (upstream
//! `include/mesos/allocator/allocator.hpp` and `src/master/allocator/mesos/`).
//!
//! [`Allocator`] is the interface the master talks to; [`HierarchicalAllocator`] is the
//! built-in implementation, a cheap-to-clone handle whose methods only dispatch to its
//! libprocess process (hierarchical DRF over roles, then over the frameworks of each role;
//! see [`hierarchical`]).
//!
//! The protocol, as upstream: the master calls [`Allocator::initialize`] once, with the
//! [`Options`] and the callbacks through which offers come back, then tells the allocator
//! about frameworks and agents as they come and go, about resources that come back (a
//! declined offer, a finished task: [`Allocator::recover_resources`]) and about operations
//! that change them. The allocator answers with offers, through the callback: an
//! allocation run happens every [`Options::allocation_interval`] and, batched, soon after
//! any event that may make new offers possible.
//!
//! Identifiers are the small newtypes [`FrameworkId`] and [`AgentId`]; they convert from
//! and to the v0 protobuf IDs at the boundary. Resources are `mesos_core`'s [`Resources`];
//! offered resources carry the role they are offered to in their `allocation_info`.

mod agent;
pub mod hierarchical;
mod order;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use libprocess::{Future, Pid, Process, dispatch};
use mesos_core::resources::{ConversionError, ResourceConversion, ResourceQuantities, Resources};
use mesos_core::v0;
use thiserror::Error;

pub use hierarchical::HierarchicalAllocator;

/// A framework's ID: the value of a `v0::FrameworkId`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameworkId(pub String);

/// An agent's ID: the value of a `v0::SlaveId`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(pub String);

macro_rules! id_conversions {
    ($id:ident, $proto:ty) => {
        impl $id {
            /// An ID with this value.
            pub fn new(value: impl Into<String>) -> Self {
                $id(value.into())
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The protobuf form.
            pub fn to_proto(&self) -> $proto {
                <$proto>::from(self.clone())
            }
        }

        impl fmt::Display for $id {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$proto> for $id {
            fn from(id: $proto) -> Self {
                $id(id.value)
            }
        }

        impl From<&$proto> for $id {
            fn from(id: &$proto) -> Self {
                $id(id.value.clone())
            }
        }

        impl From<$id> for $proto {
            fn from(id: $id) -> Self {
                <$proto>::from_value(id.0)
            }
        }

        impl From<&str> for $id {
            fn from(value: &str) -> Self {
                $id(value.to_owned())
            }
        }
    };
}

/// Builds the protobuf ID types from a value (prost gives them no constructor).
trait FromValue {
    fn from_value(value: String) -> Self;
}

impl FromValue for v0::FrameworkId {
    fn from_value(value: String) -> Self {
        v0::FrameworkId { value }
    }
}

impl FromValue for v0::SlaveId {
    fn from_value(value: String) -> Self {
        v0::SlaveId { value }
    }
}

id_conversions!(FrameworkId, v0::FrameworkId);
id_conversions!(AgentId, v0::SlaveId);

/// What one framework is offered in one allocation run: per role, per agent.
pub type Offers = HashMap<String, HashMap<AgentId, Resources>>;

/// Receives the offers of an allocation run, one call per framework. It runs on the
/// allocator's worker thread, so it should only hand the offers on (e.g. with
/// [`offer_sink`], which dispatches them to a process).
pub type OfferCallback = Box<dyn FnMut(FrameworkId, Offers) + Send>;

/// Resources an agent will lose to maintenance (upstream `UnavailableResources`).
#[derive(Debug, Clone, PartialEq)]
pub struct UnavailableResources {
    /// What becomes unavailable (empty: the whole agent).
    pub resources: Resources,
    /// When, and for how long.
    pub unavailability: v0::Unavailability,
}

/// Receives inverse offers (resources a framework should give back), one call per
/// framework. Maintenance is not implemented yet, so the hierarchical allocator never
/// calls it; it is part of the interface so that the master's wiring does not change
/// when maintenance lands.
pub type InverseOfferCallback =
    Box<dyn FnMut(FrameworkId, HashMap<AgentId, UnavailableResources>) + Send>;

/// An [`OfferCallback`] that dispatches every framework's offers to `pid`, where `handler`
/// runs with them: how the master receives offers.
///
/// ```
/// use libprocess::{Process, Runtime};
/// use mesos_master::allocator::{FrameworkId, Offers, offer_sink};
///
/// struct Master { offers: Vec<(FrameworkId, Offers)> }
/// impl Process for Master {}
///
/// let runtime = Runtime::new();
/// let master = runtime.spawn(Master { offers: vec![] });
/// let _callback = offer_sink(master, |m: &mut Master, framework, offers| {
///     m.offers.push((framework, offers))
/// });
/// ```
pub fn offer_sink<P, F>(pid: Pid<P>, handler: F) -> OfferCallback
where
    P: Process,
    F: Fn(&mut P, FrameworkId, Offers) + Clone + Send + 'static,
{
    Box::new(move |framework, offers| {
        let handler = handler.clone();
        dispatch(&pid, move |p: &mut P| handler(p, framework, offers));
    })
}

/// The minimum allocatable resources the master uses unless told otherwise
/// (`--min_allocatable_resources=cpus:0.01|mem:32`): an offer must hold at least 0.01
/// cpus or at least 32 MB of memory.
pub fn default_min_allocatable_resources() -> Vec<ResourceQuantities> {
    ["cpus:0.01", "mem:32"]
        .iter()
        .map(|text| ResourceQuantities::from_string(text).expect("a valid quantity"))
        .collect()
}

/// How the allocator is configured (upstream `mesos::allocator::Options`). Build it from
/// [`Options::default`] with the chained setters.
///
/// ```
/// use std::time::Duration;
/// use mesos_master::allocator::Options;
/// let options = Options::default()
///     .allocation_interval(Duration::from_millis(500))
///     .filter_gpu_resources(false);
/// assert_eq!(options.allocation_interval, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Options {
    /// How often a periodic allocation runs (default 1 second).
    pub allocation_interval: Duration,
    /// Resource names left out of fair-share computations (e.g. `gpus`).
    pub fairness_exclude_resource_names: Option<BTreeSet<String>>,
    /// Offer agents with GPUs only to frameworks with the `GPU_RESOURCES` capability
    /// (default true).
    pub filter_gpu_resources: bool,
    /// An offer must contain at least one of these; empty means any non-empty offer
    /// (default [`default_min_allocatable_resources`]).
    pub min_allocatable_resources: Vec<ResourceQuantities>,
    /// The seed of the agent shuffle of each allocation run (runs are deterministic given
    /// the seed and the sequence of calls).
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allocation_interval: Duration::from_secs(1),
            fairness_exclude_resource_names: None,
            filter_gpu_resources: true,
            min_allocatable_resources: default_min_allocatable_resources(),
            seed: mesos_core::sorter::DEFAULT_SEED,
        }
    }
}

impl Options {
    /// Sets [`Options::allocation_interval`].
    pub fn allocation_interval(mut self, interval: Duration) -> Self {
        self.allocation_interval = interval;
        self
    }

    /// Sets [`Options::fairness_exclude_resource_names`].
    pub fn fairness_exclude_resource_names(mut self, names: Option<BTreeSet<String>>) -> Self {
        self.fairness_exclude_resource_names = names;
        self
    }

    /// Sets [`Options::filter_gpu_resources`].
    pub fn filter_gpu_resources(mut self, filter: bool) -> Self {
        self.filter_gpu_resources = filter;
        self
    }

    /// Sets [`Options::min_allocatable_resources`].
    pub fn min_allocatable_resources(mut self, quantities: Vec<ResourceQuantities>) -> Self {
        self.min_allocatable_resources = quantities;
        self
    }

    /// Sets [`Options::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// Per-framework options that are not part of its `FrameworkInfo` (upstream
/// `mesos::allocator::FrameworkOptions`; offer constraints are not supported yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameworkOptions {
    /// Roles for which the framework wants no offers (as after SUPPRESS).
    pub suppressed_roles: BTreeSet<String>,
}

impl FrameworkOptions {
    /// Options with these suppressed roles.
    pub fn with_suppressed_roles<S: Into<String>>(roles: impl IntoIterator<Item = S>) -> Self {
        FrameworkOptions {
            suppressed_roles: roles.into_iter().map(Into::into).collect(),
        }
    }
}

/// Why an allocator call failed.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum AllocatorError {
    /// The agent is not known to the allocator.
    #[error("unknown agent {agent_id}")]
    UnknownAgent {
        /// The agent.
        agent_id: AgentId,
    },
    /// An operation cannot be applied to the agent's available resources (e.g. an
    /// allocation run offered them in the meantime).
    #[error("cannot apply operation on agent {agent_id}")]
    Conversion {
        /// The agent.
        agent_id: AgentId,
        /// Why.
        #[source]
        source: ConversionError,
    },
}

/// The allocator's figures, as the master will publish them under `allocator/mesos/`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AllocatorMetrics {
    /// Allocation runs so far (`allocator/mesos/allocation_runs`).
    pub allocation_runs: u64,
    /// How long the last allocation run took, in milliseconds of wall time
    /// (`allocator/mesos/allocation_run_ms`); `None` before the first run.
    pub allocation_run_ms: Option<f64>,
    /// The frameworks known to the allocator.
    pub frameworks: usize,
    /// The agents known to the allocator.
    pub agents: usize,
    /// Active offer filters, per role (`allocator/mesos/offer_filters/roles/<role>/active`).
    pub offer_filters_active: BTreeMap<String, u64>,
    /// Scalar resources of all agents, by name (`allocator/mesos/resources/<name>/total`).
    pub resources_total: BTreeMap<String, f64>,
    /// Scalar resources offered or allocated, by name
    /// (`allocator/mesos/resources/<name>/offered_or_allocated`).
    pub resources_offered_or_allocated: BTreeMap<String, f64>,
    /// The dominant share of each role (`allocator/mesos/roles/<role>/shares/dominant`).
    pub dominant_shares: BTreeMap<String, f64>,
}

impl AllocatorMetrics {
    /// The figures under their upstream metric names, as `/metrics/snapshot` shows them.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        const PREFIX: &str = "allocator/mesos/";
        let mut map = BTreeMap::new();
        map.insert(
            format!("{PREFIX}allocation_runs"),
            self.allocation_runs as f64,
        );
        if let Some(ms) = self.allocation_run_ms {
            map.insert(format!("{PREFIX}allocation_run_ms"), ms);
        }
        for (role, count) in &self.offer_filters_active {
            map.insert(
                format!("{PREFIX}offer_filters/roles/{role}/active"),
                *count as f64,
            );
        }
        for (name, value) in &self.resources_total {
            map.insert(format!("{PREFIX}resources/{name}/total"), *value);
        }
        for (name, value) in &self.resources_offered_or_allocated {
            map.insert(
                format!("{PREFIX}resources/{name}/offered_or_allocated"),
                *value,
            );
        }
        for (role, share) in &self.dominant_shares {
            map.insert(format!("{PREFIX}roles/{role}/shares/dominant"), *share);
        }
        map
    }
}

/// The allocator interface the master uses (upstream `mesos::allocator::Allocator`).
///
/// Every call is asynchronous: it is queued to the allocator and served in order, so a
/// caller never waits (except on the futures some calls return). Calls about frameworks
/// or agents the allocator does not know are bugs of the caller; the allocator logs them
/// and ignores them (upstream aborts).
pub trait Allocator: Send + Sync + fmt::Debug {
    /// Starts the allocator: offers go to `offer_callback`, inverse offers to
    /// `inverse_offer_callback`; periodic allocation starts. Call once, first.
    fn initialize(
        &self,
        options: Options,
        offer_callback: OfferCallback,
        inverse_offer_callback: InverseOfferCallback,
    );

    /// Adds a framework. `used` is what it already has on agents the allocator may know
    /// (tracked for fairness, not offered again). Inactive frameworks get no offers.
    fn add_framework(
        &self,
        framework_id: FrameworkId,
        info: v0::FrameworkInfo,
        used: HashMap<AgentId, Resources>,
        active: bool,
        options: FrameworkOptions,
    );

    /// Removes a framework; whatever it was offered or allocated becomes available.
    fn remove_framework(&self, framework_id: FrameworkId);

    /// Makes a framework eligible for offers again (its suppressed roles stay suppressed).
    fn activate_framework(&self, framework_id: FrameworkId);

    /// Stops offers to a framework and clears its offer filters; its allocation still
    /// counts for fairness.
    fn deactivate_framework(&self, framework_id: FrameworkId);

    /// Replaces a framework's info (roles, capabilities, offer filters) and options.
    fn update_framework(
        &self,
        framework_id: FrameworkId,
        info: v0::FrameworkInfo,
        options: FrameworkOptions,
    );

    /// Adds an agent with its `total` resources (static and checkpointed) and what known
    /// or soon-known frameworks already use on it.
    fn add_agent(
        &self,
        agent_id: AgentId,
        info: v0::SlaveInfo,
        capabilities: Vec<v0::slave_info::Capability>,
        total: Resources,
        used: HashMap<FrameworkId, Resources>,
    );

    /// Removes an agent: its resources leave the pool, its offer filters are dropped.
    fn remove_agent(&self, agent_id: AgentId);

    /// Updates an agent's info and, if given, its total resources and capabilities.
    fn update_agent(
        &self,
        agent_id: AgentId,
        info: v0::SlaveInfo,
        total: Option<Resources>,
        capabilities: Option<Vec<v0::slave_info::Capability>>,
    );

    /// Offers an agent's resources again (it reregistered).
    fn activate_agent(&self, agent_id: AgentId);

    /// Stops offering an agent's resources (it disconnected); nothing is recovered.
    fn deactivate_agent(&self, agent_id: AgentId);

    /// A framework's resource request; the hierarchical allocator only logs it.
    fn request_resources(&self, framework_id: FrameworkId, requests: Vec<v0::Request>);

    /// Applies conversions (RESERVE, CREATE, ...) to resources offered to a framework on
    /// an agent; `offered` must be allocated to a single role.
    fn update_allocation(
        &self,
        framework_id: FrameworkId,
        agent_id: AgentId,
        offered: Resources,
        conversions: Vec<ResourceConversion>,
    );

    /// Applies conversions (operator RESERVE, ...) to an agent's available resources; the
    /// future fails (inner `Err`) if they are no longer available.
    fn update_available(
        &self,
        agent_id: AgentId,
        conversions: Vec<ResourceConversion>,
    ) -> Future<Result<(), AllocatorError>>;

    /// Offered resources became allocated (a task was launched with them).
    fn transition_offered_to_allocated(&self, agent_id: AgentId, resources: Resources);

    /// Resources offered or allocated to a framework came back: a declined offer
    /// (`is_allocated` false), a finished task (true). With `filters`, the framework is
    /// not offered them again on that agent, for that role, for `refuse_seconds`.
    fn recover_resources(
        &self,
        framework_id: FrameworkId,
        agent_id: AgentId,
        resources: Resources,
        filters: Option<v0::Filters>,
        is_allocated: bool,
    );

    /// Stops offers to a framework for these roles (all its roles if empty).
    fn suppress_offers(&self, framework_id: FrameworkId, roles: BTreeSet<String>);

    /// Resumes offers to a framework for these roles (all its roles if empty) and clears
    /// its offer filters for them.
    fn revive_offers(&self, framework_id: FrameworkId, roles: BTreeSet<String>);

    /// Sets the weights of roles; roles left out keep theirs.
    fn update_weights(&self, weights: Vec<v0::WeightInfo>);

    /// Stops allocation runs until [`Allocator::resume`].
    fn pause(&self);

    /// Resumes allocation runs.
    fn resume(&self);

    /// The allocator's figures.
    fn metrics(&self) -> Future<AllocatorMetrics>;
}

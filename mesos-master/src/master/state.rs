//! The master's in-memory state: frameworks, agents, tasks, executors, offers and what
//! completed, in plain structs owned by the master process (no locks: only the master's
//! handlers touch them). Route handlers on the master process read them directly.
//!
//! Indexes: a task lives in its framework (`Framework::tasks`); its agent lists it by id
//! (`Agent::tasks`). Executors are kept per agent and per framework. An offer lives in
//! `MasterState::offers`; its framework and agent list its id. Resources are kept in the
//! post-refinement format with their `allocation_info` (the role they are allocated to).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::SystemTime;

use libprocess::{Pid, Timer, Upid};
use mesos_core::resources::Resources;
use mesos_core::v0;
use mesos_core::v0::framework_info::capability::Type as FrameworkCapability;

use super::heartbeater::Heartbeater;
use super::observer::AgentObserver;
use super::stream::EventStream;
pub use crate::allocator::{AgentId, FrameworkId};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $proto:ty) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub String);

        impl $name {
            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The protobuf form.
            pub fn to_proto(&self) -> $proto {
                <$proto>::from(self.clone())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&$proto> for $name {
            fn from(id: &$proto) -> Self {
                $name(id.value.clone())
            }
        }

        impl From<$name> for $proto {
            fn from(id: $name) -> Self {
                <$proto>::default_with(id.0)
            }
        }
    };
}

/// Builds protobuf IDs from a value.
trait DefaultWith {
    fn default_with(value: String) -> Self;
}

macro_rules! default_with {
    ($($t:ty),*) => {$(
        impl DefaultWith for $t {
            fn default_with(value: String) -> Self {
                Self { value }
            }
        }
    )*};
}
default_with!(v0::TaskId, v0::OfferId, v0::ExecutorId);

string_id!(
    /// A task's ID (unique within its framework).
    TaskId,
    v0::TaskId
);
string_id!(
    /// An offer's ID, `<master id>-O<n>`.
    OfferId,
    v0::OfferId
);
string_id!(
    /// An executor's ID (unique within its framework).
    ExecutorId,
    v0::ExecutorId
);

/// What a framework declared it can do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `MULTI_ROLE`: offers carry `allocation_info`.
    pub multi_role: bool,
    /// `PARTITION_AWARE`: sees UNREACHABLE/DROPPED/GONE/UNKNOWN rather than LOST.
    pub partition_aware: bool,
    /// `GPU_RESOURCES`.
    pub gpu_resources: bool,
    /// `RESERVATION_REFINEMENT`: resources in the post-refinement format.
    pub reservation_refinement: bool,
    /// `REVOCABLE_RESOURCES`.
    pub revocable_resources: bool,
    /// `TASK_KILLING_STATE`.
    pub task_killing_state: bool,
}

impl Capabilities {
    /// The capabilities of `info`.
    pub fn of(info: &v0::FrameworkInfo) -> Capabilities {
        let mut caps = Capabilities::default();
        for capability in &info.capabilities {
            match capability.r#type() {
                FrameworkCapability::MultiRole => caps.multi_role = true,
                FrameworkCapability::PartitionAware => caps.partition_aware = true,
                FrameworkCapability::GpuResources => caps.gpu_resources = true,
                FrameworkCapability::ReservationRefinement => caps.reservation_refinement = true,
                FrameworkCapability::RevocableResources => caps.revocable_resources = true,
                FrameworkCapability::TaskKillingState => caps.task_killing_state = true,
                _ => {}
            }
        }
        caps
    }
}

/// The roles a framework subscribes to: `roles` with MULTI_ROLE, else its single `role`
/// (default `*`).
#[allow(deprecated)]
pub fn framework_roles(info: &v0::FrameworkInfo) -> BTreeSet<String> {
    if Capabilities::of(info).multi_role {
        info.roles.iter().cloned().collect()
    } else {
        std::iter::once(info.role.clone().unwrap_or_else(|| "*".to_owned())).collect()
    }
}

/// A record's JSON as `/state` writes it, rendered on the first `/state` after the record
/// changed and copied as is by the next ones (`http::state_json`). Whoever changes the
/// record calls [`JsonCache::invalidate`]; the cache also keeps a key of the fields that
/// change most (a task's state and number of statuses, an agent's reregistration time), so
/// that a fragment whose key no longer matches is rendered afresh rather than served.
#[derive(Debug, Default, Clone)]
pub struct JsonCache(std::sync::OnceLock<CachedJson>);

/// A rendered fragment: the key it was rendered at, the bytes, and where its second part
/// begins (an agent's fragment comes in two parts, with live fields between them).
#[derive(Debug, Clone)]
pub struct CachedJson {
    /// The key of the record when rendered.
    pub key: u64,
    /// The JSON (ASCII).
    pub bytes: Box<[u8]>,
    /// Where the second part begins in `bytes` (`bytes.len()` when there is one part).
    pub split: usize,
}

impl JsonCache {
    /// Forgets the fragment: the record changed.
    pub fn invalidate(&mut self) {
        self.0.take();
    }

    /// The fragment, if rendered at `key`.
    pub fn get(&self, key: u64) -> Option<&CachedJson> {
        self.0.get().filter(|c| c.key == key)
    }

    /// Keeps a fragment (unless one is kept already).
    pub fn set(&self, cached: CachedJson) {
        let _ = self.0.set(cached);
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.0.get().map_or(0, |c| c.bytes.len())
    }
}

/// A task the master knows: the `v0::Task` record (state, statuses, resources with their
/// allocation) as `/state` and `GET_TASKS` show it.
#[derive(Debug, Clone)]
pub struct Task {
    /// The record.
    pub info: v0::Task,
    /// `info.resources` as a `Resources`.
    pub resources: Resources,
    /// Its `/state` JSON; invalidate when `info` changes.
    pub json: JsonCache,
}

impl Task {
    /// A task with nothing cached.
    pub fn new(info: v0::Task, resources: Resources) -> Task {
        Task {
            info,
            resources,
            json: JsonCache::default(),
        }
    }

    /// The task's ID.
    pub fn id(&self) -> TaskId {
        TaskId::from(&self.info.task_id)
    }

    /// The task's agent.
    pub fn agent_id(&self) -> AgentId {
        AgentId::from(&self.info.slave_id)
    }

    /// The task's state.
    pub fn state(&self) -> v0::TaskState {
        self.info.state()
    }
}

/// How a framework is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Subscribed through the v1 HTTP API, with a live event stream.
    Http,
    /// Its stream broke; it may resubscribe before its failover timeout.
    Disconnected,
    /// Known only from agents that reregistered (after a master failover); it has not
    /// subscribed to this master yet.
    Recovered,
}

/// A framework the master knows.
#[derive(Debug)]
pub struct Framework {
    /// Its ID.
    pub id: FrameworkId,
    /// Its info (with `id` set).
    pub info: v0::FrameworkInfo,
    /// Its capabilities, from `info`.
    pub capabilities: Capabilities,
    /// Its roles, from `info`.
    pub roles: BTreeSet<String>,
    /// Roles it asked not to be offered.
    pub suppressed_roles: BTreeSet<String>,
    /// How it is connected.
    pub connection: Connection,
    /// Whether it gets offers (connected and not deactivated).
    pub active: bool,
    /// Its event stream, while connected over HTTP.
    pub stream: Option<EventStream>,
    /// Its heartbeater, while connected.
    pub heartbeater: Option<Pid<Heartbeater>>,
    /// When it first subscribed.
    pub registered_time: SystemTime,
    /// When it last resubscribed.
    pub reregistered_time: Option<SystemTime>,
    /// When it disconnected or was removed.
    pub unregistered_time: Option<SystemTime>,
    /// Its live tasks.
    pub tasks: HashMap<TaskId, Task>,
    /// Its unreachable tasks (on unreachable agents), oldest first.
    pub unreachable_tasks: VecDeque<Task>,
    /// Its terminal, acknowledged tasks, oldest first (at most
    /// `--max_completed_tasks_per_framework`).
    pub completed_tasks: VecDeque<Task>,
    /// Its executors, per agent.
    pub executors: HashMap<AgentId, HashMap<ExecutorId, v0::ExecutorInfo>>,
    /// Its outstanding offers.
    pub offers: HashSet<OfferId>,
    /// Resources its tasks and executors use, per agent.
    pub used: HashMap<AgentId, Resources>,
    /// Resources it is offered, in total.
    pub offered: Resources,
    /// The failover timer, while disconnected.
    pub failover_timer: Option<Timer>,
    /// Counts subscriptions and disconnections: a failover timer set at one epoch does
    /// nothing at another.
    pub(crate) epoch: u64,
}

impl Framework {
    pub(crate) fn new(id: FrameworkId, info: v0::FrameworkInfo, now: SystemTime) -> Framework {
        Framework {
            capabilities: Capabilities::of(&info),
            roles: framework_roles(&info),
            id,
            info,
            suppressed_roles: BTreeSet::new(),
            connection: Connection::Recovered,
            active: false,
            stream: None,
            heartbeater: None,
            registered_time: now,
            reregistered_time: None,
            unregistered_time: None,
            tasks: HashMap::new(),
            unreachable_tasks: VecDeque::new(),
            completed_tasks: VecDeque::new(),
            executors: HashMap::new(),
            offers: HashSet::new(),
            used: HashMap::new(),
            offered: Resources::default(),
            failover_timer: None,
            epoch: 0,
        }
    }

    /// Whether it is connected with a live stream.
    pub fn connected(&self) -> bool {
        self.connection == Connection::Http
    }

    /// All resources its tasks and executors use.
    pub fn total_used(&self) -> Resources {
        let mut total = Resources::default();
        for used in self.used.values() {
            total += used;
        }
        total
    }
}

/// A framework that was removed: what `completed_frameworks` shows.
#[derive(Debug, Clone)]
pub struct CompletedFramework {
    /// Its info.
    pub info: v0::FrameworkInfo,
    /// When it first subscribed.
    pub registered_time: SystemTime,
    /// When it was removed.
    pub unregistered_time: SystemTime,
    /// Its tasks, terminal.
    pub completed_tasks: Vec<Task>,
}

/// An agent registered with the master.
#[derive(Debug)]
pub struct Agent {
    /// Its ID, `<master id>-S<n>`.
    pub id: AgentId,
    /// Its info (with `id` set).
    pub info: v0::SlaveInfo,
    /// Its process, `slave(1)@ip:port`.
    pub pid: Upid,
    /// The Mesos version it runs.
    pub version: String,
    /// Its capabilities.
    pub capabilities: Vec<v0::slave_info::Capability>,
    /// When it registered.
    pub registered_time: SystemTime,
    /// When it last reregistered.
    pub reregistered_time: Option<SystemTime>,
    /// Whether its connection is up.
    pub connected: bool,
    /// Whether its resources are offered.
    pub active: bool,
    /// Its total resources (info resources and checkpointed ones).
    pub total: Resources,
    /// What frameworks use on it.
    pub used: HashMap<FrameworkId, Resources>,
    /// What is offered on it.
    pub offered: Resources,
    /// Its tasks, per framework.
    pub tasks: HashMap<FrameworkId, HashSet<TaskId>>,
    /// Its executors, per framework.
    pub executors: HashMap<FrameworkId, HashMap<ExecutorId, v0::ExecutorInfo>>,
    /// Its outstanding offers.
    pub offers: HashSet<OfferId>,
    /// The process pinging it.
    pub observer: Option<Pid<AgentObserver>>,
    /// Its `/state` JSON (the fields from `info`, `pid`, the times and `total`); invalidate
    /// when one of them changes.
    pub json: JsonCache,
}

impl Agent {
    /// All resources used on it.
    pub fn total_used(&self) -> Resources {
        let mut total = Resources::default();
        for used in self.used.values() {
            total += used;
        }
        total
    }
}

/// An outstanding offer.
#[derive(Debug)]
pub struct Offer {
    /// Its ID.
    pub id: OfferId,
    /// To whom.
    pub framework_id: FrameworkId,
    /// On which agent.
    pub agent_id: AgentId,
    /// For which role.
    pub role: String,
    /// What (post-refinement format, allocated to `role`).
    pub resources: Resources,
    /// The offer as sent (in the framework's resource format).
    pub info: v0::Offer,
    /// Rescinds it after `--offer_timeout`.
    pub timer: Option<Timer>,
}

/// Everything the master knows about the cluster.
#[derive(Debug, Default)]
pub struct MasterState {
    /// Frameworks subscribed, disconnected within their failover timeout, or recovered from
    /// agents.
    pub frameworks: HashMap<FrameworkId, Framework>,
    /// Removed frameworks, oldest first (at most `--max_completed_frameworks`).
    pub completed_frameworks: VecDeque<CompletedFramework>,
    /// Registered agents.
    pub agents: HashMap<AgentId, Agent>,
    /// Agents in the registry that have not reregistered since this master recovered.
    pub recovered_agents: HashMap<AgentId, v0::SlaveInfo>,
    /// Unreachable agents and when they became so.
    pub unreachable_agents: HashMap<AgentId, v0::TimeInfo>,
    /// Agents marked gone.
    pub gone_agents: HashMap<AgentId, v0::TimeInfo>,
    /// Outstanding offers.
    pub offers: HashMap<OfferId, Offer>,
    /// Role weights.
    pub weights: HashMap<String, f64>,
    /// Cumulative counters (`master/tasks_finished`, `master/messages_*`, ...).
    pub counters: super::metrics::Counters,
}

impl MasterState {
    /// The framework with this ID, if known and not removed.
    pub fn framework(&self, id: &FrameworkId) -> Option<&Framework> {
        self.frameworks.get(id)
    }

    /// The agent with this ID, if registered.
    pub fn agent(&self, id: &AgentId) -> Option<&Agent> {
        self.agents.get(id)
    }

    /// The task, if live.
    pub fn task(&self, framework_id: &FrameworkId, task_id: &TaskId) -> Option<&Task> {
        self.frameworks.get(framework_id)?.tasks.get(task_id)
    }

    /// Whether a framework with this ID was removed.
    pub fn is_completed_framework(&self, id: &FrameworkId) -> bool {
        self.completed_frameworks
            .iter()
            .any(|f| f.info.id.as_ref().is_some_and(|i| i.value == id.0))
    }
}

/// Whether `state` is terminal.
pub fn is_terminal(state: v0::TaskState) -> bool {
    use v0::TaskState::*;
    matches!(
        state,
        TaskFinished
            | TaskFailed
            | TaskKilled
            | TaskLost
            | TaskError
            | TaskDropped
            | TaskGone
            | TaskGoneByOperator
    )
}

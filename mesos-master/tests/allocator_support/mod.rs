//! Shared by the allocator tests: a paused runtime, a hierarchical allocator driven through
//! the `Allocator` trait, and the offers it made, collected and sorted.

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libprocess::Runtime;
use mesos_core::resources::Resources;
use mesos_core::v0;
use mesos_core::v0::framework_info::capability::Type as FrameworkCapability;
use mesos_core::v0::slave_info::capability::Type as AgentCapability;
use mesos_master::allocator::{
    AgentId, Allocator, AllocatorMetrics, FrameworkId, FrameworkOptions, HierarchicalAllocator,
    Options,
};

/// One offer: what a framework was offered on an agent, for a role.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub framework: FrameworkId,
    pub role: String,
    pub agent: AgentId,
    pub resources: Resources,
}

impl Offer {
    /// The offer as `(framework, role, agent)`, for compact assertions.
    pub fn key(&self) -> (&str, &str, &str) {
        (
            self.framework.as_str(),
            self.role.as_str(),
            self.agent.as_str(),
        )
    }
}

/// An allocator on a runtime whose clock is paused.
pub struct Harness {
    pub runtime: Runtime,
    /// The allocator, as the master sees it.
    pub allocator: Box<dyn Allocator>,
    /// The same allocator, for what tests do besides (holding its process).
    pub handle: HierarchicalAllocator,
    offers: Arc<Mutex<Vec<Offer>>>,
    callbacks: Arc<Mutex<Vec<FrameworkId>>>,
}

impl Harness {
    /// The allocator with default options.
    pub fn new() -> Self {
        Harness::with_options(Options::default())
    }

    pub fn with_options(options: Options) -> Self {
        let runtime = Runtime::builder().workers(2).build();
        runtime.clock().pause();
        let allocator = HierarchicalAllocator::spawn(runtime.handle());
        let offers = Arc::new(Mutex::new(Vec::new()));
        let callbacks = Arc::new(Mutex::new(Vec::new()));
        let (sink, calls) = (offers.clone(), callbacks.clone());
        allocator.initialize(
            options,
            Box::new(move |framework: FrameworkId, by_role| {
                calls.lock().unwrap().push(framework.clone());
                let mut sink = sink.lock().unwrap();
                for (role, by_agent) in by_role {
                    for (agent, resources) in by_agent {
                        sink.push(Offer {
                            framework: framework.clone(),
                            role: role.clone(),
                            agent,
                            resources,
                        });
                    }
                }
            }),
            Box::new(|_, _| {}),
        );
        let harness = Harness {
            runtime,
            allocator: Box::new(allocator.clone()),
            handle: allocator,
            offers,
            callbacks,
        };
        harness.settle();
        harness
    }

    pub fn settle(&self) {
        self.runtime.clock().settle();
    }

    /// Keeps the allocator's process busy until the returned guard is dropped, so that
    /// calls made meanwhile are all queued before it serves any of them.
    pub fn hold(&self) -> Hold {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        libprocess::dispatch(self.handle.pid(), move |_| {
            started.send(()).unwrap();
            let _ = wait.recv();
        });
        running.recv().unwrap();
        Hold { _release: release }
    }

    /// Moves the paused clock and lets what came due run.
    pub fn advance(&self, duration: Duration) {
        self.runtime.clock().advance(duration);
        self.settle();
    }

    /// The offers made since the last call, sorted by framework, role and agent.
    pub fn offers(&self) -> Vec<Offer> {
        self.settle();
        let mut offers = std::mem::take(&mut *self.offers.lock().unwrap());
        offers.sort_by(|a, b| a.key().cmp(&b.key()));
        offers
    }

    /// The `(framework, role, agent)` of the offers made since the last call.
    pub fn offer_keys(&self) -> Vec<(String, String, String)> {
        self.offers()
            .iter()
            .map(|o| {
                let (f, r, a) = o.key();
                (f.to_owned(), r.to_owned(), a.to_owned())
            })
            .collect()
    }

    /// How many times the offer callback ran since the last call.
    pub fn callbacks(&self) -> Vec<FrameworkId> {
        self.settle();
        std::mem::take(&mut *self.callbacks.lock().unwrap())
    }

    pub fn metrics(&self) -> AllocatorMetrics {
        self.settle();
        self.allocator.metrics().get().expect("metrics")
    }

    /// Adds an active framework without suppressed roles or used resources.
    pub fn add_framework(&self, info: v0::FrameworkInfo) {
        let id = FrameworkId::from(info.id.clone().expect("framework with an id"));
        self.allocator
            .add_framework(id, info, HashMap::new(), true, FrameworkOptions::default());
    }

    /// Adds an agent with the capabilities of a current agent and nothing used.
    pub fn add_agent(&self, info: v0::SlaveInfo) {
        self.add_agent_using(info, HashMap::new());
    }

    pub fn add_agent_using(&self, info: v0::SlaveInfo, used: HashMap<FrameworkId, Resources>) {
        let id = AgentId::from(info.id.clone().expect("agent with an id"));
        let total = Resources::from(info.resources.clone());
        self.allocator
            .add_agent(id, info, agent_capabilities(), total, used);
    }

    /// Declines an offer: its resources come back, filtered for `refuse` if given.
    pub fn decline(&self, offer: &Offer, refuse: Option<f64>) {
        self.allocator.recover_resources(
            offer.framework.clone(),
            offer.agent.clone(),
            offer.resources.clone(),
            refuse.map(|seconds| v0::Filters {
                refuse_seconds: Some(seconds),
            }),
            false,
        );
    }
}

/// Releases the allocator's process when dropped (see [`Harness::hold`]).
pub struct Hold {
    _release: std::sync::mpsc::Sender<()>,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

/// Parses resources in the agent's `--resources` form, unreserved by default.
pub fn res(text: &str) -> Resources {
    Resources::parse(text, "*").expect("valid resources")
}

/// Resources offered or allocated to `role`.
pub fn allocated(text: &str, role: &str) -> Resources {
    let mut resources = res(text);
    resources.allocate(role);
    resources
}

/// A framework subscribed to `roles` (MULTI_ROLE), with the given capabilities too.
pub fn framework_with(
    name: &str,
    roles: &[&str],
    capabilities: &[FrameworkCapability],
) -> v0::FrameworkInfo {
    let mut all: BTreeSet<i32> = capabilities.iter().map(|c| *c as i32).collect();
    all.insert(FrameworkCapability::MultiRole as i32);
    v0::FrameworkInfo {
        user: "user".into(),
        name: name.into(),
        id: Some(FrameworkId::new(name).into()),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        capabilities: all
            .into_iter()
            .map(|t| v0::framework_info::Capability { r#type: Some(t) })
            .collect(),
        ..Default::default()
    }
}

/// A framework subscribed to `roles`.
pub fn framework(name: &str, roles: &[&str]) -> v0::FrameworkInfo {
    framework_with(name, roles, &[])
}

/// An agent named `name` with these resources.
pub fn agent(name: &str, resources: &str) -> v0::SlaveInfo {
    v0::SlaveInfo {
        hostname: format!("{name}.example.invalid"),
        id: Some(AgentId::new(name).into()),
        resources: res(resources).to_vec(),
        ..Default::default()
    }
}

/// The capabilities of a current agent: MULTI_ROLE, HIERARCHICAL_ROLE,
/// RESERVATION_REFINEMENT.
pub fn agent_capabilities() -> Vec<v0::slave_info::Capability> {
    [
        AgentCapability::MultiRole,
        AgentCapability::HierarchicalRole,
        AgentCapability::ReservationRefinement,
    ]
    .into_iter()
    .map(|t| v0::slave_info::Capability {
        r#type: Some(t as i32),
    })
    .collect()
}

pub fn fid(name: &str) -> FrameworkId {
    FrameworkId::new(name)
}

pub fn aid(name: &str) -> AgentId {
    AgentId::new(name)
}

pub fn roles(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|r| r.to_string()).collect()
}

/// `(framework, role, agent)` as owned strings.
pub fn key(framework: &str, role: &str, agent: &str) -> (String, String, String) {
    (framework.into(), role.into(), agent.into())
}

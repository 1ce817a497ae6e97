//! What the allocator knows of one agent (upstream `Slave` in `hierarchical.hpp`): its
//! total, what is offered or allocated on it per framework, and what is left.
//!
//! Invariant: `available == total - unallocated(sum of offered_or_allocated)` (shared
//! resources stay available however often they are offered). An agent may be
//! over-allocated (its total shrank under running tasks); then nothing is available.
//! `available` is recomputed when resources come back or the total changes, and shrinks
//! in place when an allocation run offers part of it (the hot path).

use std::collections::HashMap;

use mesos_core::resources::{ResourceQuantities, Resources};
use mesos_core::v0;
use mesos_core::v0::slave_info::capability::Type as AgentCapability;

use super::{AgentId, FrameworkId};

/// The agent capabilities the allocator looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AgentCapabilities {
    pub(crate) multi_role: bool,
    pub(crate) hierarchical_role: bool,
    pub(crate) reservation_refinement: bool,
}

impl AgentCapabilities {
    pub(crate) fn new(capabilities: &[v0::slave_info::Capability]) -> Self {
        let mut result = AgentCapabilities::default();
        for capability in capabilities {
            match capability.r#type() {
                AgentCapability::MultiRole => result.multi_role = true,
                AgentCapability::HierarchicalRole => result.hierarchical_role = true,
                AgentCapability::ReservationRefinement => result.reservation_refinement = true,
                _ => {}
            }
        }
        result
    }
}

#[derive(Debug)]
pub(crate) struct Agent {
    pub(crate) id: AgentId,
    pub(crate) info: v0::SlaveInfo,
    pub(crate) capabilities: AgentCapabilities,
    /// Whether its resources are offered.
    pub(crate) activated: bool,
    /// Offered or allocated resources that are used by tasks (to untrack on removal).
    pub(crate) total_allocated: Resources,
    total: Resources,
    offered_or_allocated: foldhash::HashMap<FrameworkId, Resources>,
    available: Resources,
    shared: Resources,
    has_gpu: bool,
    /// Names what the agent could offer (its available resources, its capabilities, the
    /// filters on it): cached verdicts about the agent hold while it stays the same. When
    /// the available resources come back to what they were (an offer declined), so does
    /// the generation.
    generation: u64,
    /// The last generation handed out.
    last_generation: u64,
    /// The last available resources given a generation, and that generation.
    remembered: Option<(Resources, u64)>,
    /// Roles none of whose frameworks could take anything from the agent, as last seen:
    /// the role's epoch and framework membership then, and this agent's generation.
    pub(crate) blocked: foldhash::HashMap<super::hierarchical::RoleKey, Blocked>,
    /// Per role, the frameworks found unable to take anything from the agent (filtered,
    /// not capable, below their minimum), under the generation and role epoch named.
    pub(crate) refusing: foldhash::HashMap<super::hierarchical::RoleKey, Refusing>,
    /// The last offer of all its available resources: for the generation and role named,
    /// the resources allocated to the role and their scalar quantities. An offer declined
    /// brings the same generation back, and offering it again then copies nothing.
    whole_offer: Option<WholeOffer>,
    /// The last role all of whose available resources were allocatable to it: the
    /// generation, the role's epoch (unique to a role, unlike its key) and whether some
    /// need a framework capability.
    whole_view: std::cell::Cell<Option<(u64, u64, bool)>>,
    /// The quantities of the available resources (ranges and sets counted), for the
    /// generation named.
    available_quantities: std::cell::RefCell<Option<(u64, ResourceQuantities)>>,
}

#[derive(Debug)]
struct WholeOffer {
    generation: u64,
    /// The role's epoch: unique to the role (a role's key may be reused by another).
    role_epoch: u64,
    resources: Resources,
    quantities: ResourceQuantities,
}

/// A set of small keys (slab indices) as bits.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    words: Vec<u64>,
}

impl KeySet {
    pub(crate) fn insert(&mut self, key: usize) {
        let word = key / 64;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << (key % 64);
    }

    pub(crate) fn contains(&self, key: usize) -> bool {
        self.words
            .get(key / 64)
            .is_some_and(|word| word & (1 << (key % 64)) != 0)
    }

    pub(crate) fn clear(&mut self) {
        self.words.clear();
    }
}

/// Frameworks of a role that cannot take anything from an agent (see
/// [`Agent::refusing`]), valid while the agent's generation and the role's epoch are these.
#[derive(Debug, Default)]
pub(crate) struct Refusing {
    pub(crate) generation: u64,
    pub(crate) role_epoch: u64,
    pub(crate) frameworks: KeySet,
}

/// When a role was found unable to take anything from an agent (see [`Agent::blocked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocked {
    pub(crate) generation: u64,
    pub(crate) role_epoch: u64,
    pub(crate) membership: u64,
}

impl Agent {
    pub(crate) fn new(
        id: AgentId,
        info: v0::SlaveInfo,
        capabilities: AgentCapabilities,
        total: Resources,
        used: &HashMap<FrameworkId, Resources>,
    ) -> Self {
        let mut agent = Agent {
            id,
            info,
            capabilities,
            activated: true,
            total_allocated: Resources::sum(used.values()),
            shared: total.shared(),
            has_gpu: total.gpus().unwrap_or(0.0) > 0.0,
            total,
            offered_or_allocated: used
                .iter()
                .filter(|(_, r)| !r.is_empty())
                .map(|(f, r)| (f.clone(), r.clone()))
                .collect(),
            available: Resources::new(),
            generation: 0,
            last_generation: 0,
            remembered: None,
            blocked: Default::default(),
            refusing: Default::default(),
            whole_offer: None,
            whole_view: std::cell::Cell::new(None),
            available_quantities: std::cell::RefCell::new(None),
        };
        agent.update_available();
        agent
    }

    pub(crate) fn total(&self) -> &Resources {
        &self.total
    }

    pub(crate) fn available(&self) -> &Resources {
        &self.available
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Something about the agent changed that may change what frameworks it suits.
    pub(crate) fn touch(&mut self) {
        self.remembered = None;
        self.new_generation();
    }

    fn new_generation(&mut self) {
        self.last_generation += 1;
        self.generation = self.last_generation;
    }

    pub(crate) fn has_gpu(&self) -> bool {
        self.has_gpu
    }

    pub(crate) fn has_shared(&self) -> bool {
        !self.shared.is_empty()
    }

    pub(crate) fn offered_or_allocated(&self) -> &foldhash::HashMap<FrameworkId, Resources> {
        &self.offered_or_allocated
    }

    /// Everything offered or allocated on the agent.
    pub(crate) fn total_offered_or_allocated(&self) -> Resources {
        Resources::sum(self.offered_or_allocated.values())
    }

    pub(crate) fn update_total(&mut self, total: Resources) {
        self.shared = total.shared();
        self.has_gpu = total.gpus().unwrap_or(0.0) > 0.0;
        self.total = total;
        // Whether it has GPUs may change what frameworks it suits, whatever is available.
        self.remembered = None;
        self.update_available();
    }

    /// `resources` offered to or allocated by `framework` came back. Returns false, and
    /// changes nothing, if they are not offered or allocated to it (a bug of the caller).
    #[must_use]
    pub(crate) fn increase_available(
        &mut self,
        framework: &FrameworkId,
        resources: &Resources,
    ) -> bool {
        if resources.is_empty() {
            return true;
        }
        let Some(held) = self.offered_or_allocated.get_mut(framework) else {
            return false;
        };
        if !held.contains(resources) {
            return false;
        }
        *held -= resources;
        if held.is_empty() {
            self.offered_or_allocated.remove(framework);
        }
        self.update_available();
        true
    }

    /// `resources` are now offered to (or used by) `framework`.
    pub(crate) fn decrease_available(&mut self, framework: &FrameworkId, resources: &Resources) {
        if resources.is_empty() {
            return;
        }
        self.hold(framework, resources);
        self.update_available();
    }

    /// An allocation run offers all the available resources to `framework`, for `role`:
    /// they move into the offer (so marking them allocated copies nothing) and nothing is
    /// left. Not for agents with shared resources, which stay available.
    /// Its scalar quantities are then [`Agent::whole_offer_quantities`].
    pub(crate) fn offer_all(
        &mut self,
        framework: &FrameworkId,
        role_epoch: u64,
        role: &str,
    ) -> Resources {
        debug_assert!(!self.has_shared());
        let available = std::mem::take(&mut self.available);
        let cached = self
            .whole_offer
            .as_ref()
            .is_some_and(|w| w.generation == self.generation && w.role_epoch == role_epoch);
        if !cached {
            let mut resources = available;
            resources.allocate(role);
            self.whole_offer = Some(WholeOffer {
                generation: self.generation,
                role_epoch,
                quantities: ResourceQuantities::from_scalar_resources(&resources),
                resources,
            });
        }
        self.new_generation();
        let whole = self.whole_offer.as_ref().expect("just set");
        let offer = whole.resources.clone();
        match self.offered_or_allocated.get_mut(framework) {
            Some(held) => *held += &offer,
            None => {
                self.offered_or_allocated
                    .insert(framework.clone(), offer.clone());
            }
        }
        debug_assert_eq!(self.computed_available(), Resources::new());
        offer
    }

    /// Whether, at `generation`, all the available resources are allocatable to the
    /// role, as last seen: `Some(needs_capabilities)` if so and still known.
    pub(crate) fn whole_view(&self, generation: u64, role_epoch: u64) -> Option<bool> {
        match self.whole_view.get() {
            Some((g, e, needs_capabilities)) if g == generation && e == role_epoch => {
                Some(needs_capabilities)
            }
            _ => None,
        }
    }

    pub(crate) fn remember_whole_view(
        &self,
        generation: u64,
        role_epoch: u64,
        needs_capabilities: bool,
    ) {
        self.whole_view
            .set(Some((generation, role_epoch, needs_capabilities)));
    }

    /// Runs `f` with the quantities of the available resources (scalars by value,
    /// ranges and sets by count), computed once per generation.
    pub(crate) fn with_available_quantities<R>(
        &self,
        f: impl FnOnce(&ResourceQuantities) -> R,
    ) -> R {
        let mut cached = self.available_quantities.borrow_mut();
        match &*cached {
            Some((generation, _)) if *generation == self.generation => {}
            _ => {
                *cached = Some((
                    self.generation,
                    ResourceQuantities::from_resources(&self.available),
                ));
            }
        }
        f(&cached.as_ref().expect("just set").1)
    }

    /// The scalar quantities of the last [`Agent::offer_all`].
    pub(crate) fn whole_offer_quantities(&self) -> &ResourceQuantities {
        &self
            .whole_offer
            .as_ref()
            .expect("an offer of all the agent's resources")
            .quantities
    }

    /// An allocation run offered `offer` to `framework`: `taken` (the same resources
    /// without allocation info) out of the available ones, which shrink by it rather than
    /// being recomputed.
    pub(crate) fn offer_part(
        &mut self,
        framework: &FrameworkId,
        offer: &Resources,
        taken: &Resources,
    ) {
        self.hold(framework, offer);
        self.new_generation();
        if self.has_shared() {
            self.update_available();
        } else {
            self.available -= taken;
        }
        debug_assert_eq!(self.available, self.computed_available());
    }

    fn hold(&mut self, framework: &FrameworkId, resources: &Resources) {
        match self.offered_or_allocated.get_mut(framework) {
            Some(held) => *held += resources,
            None => {
                self.offered_or_allocated
                    .insert(framework.clone(), resources.clone());
            }
        }
    }

    fn update_available(&mut self) {
        self.available = self.computed_available();
        match &self.remembered {
            Some((resources, generation)) if *resources == self.available => {
                self.generation = *generation;
                // Share the remembered copy: the next offer of it then frees nothing.
                self.available = resources.clone();
            }
            _ => {
                self.new_generation();
                self.remembered = Some((self.available.clone(), self.generation));
            }
        }
    }

    fn computed_available(&self) -> Resources {
        let mut used = self.total_offered_or_allocated();
        used.unallocate();
        if self.shared.is_empty() {
            &self.total - &used
        } else {
            // Shared resources stay available however often they are offered.
            (self.total.non_shared() - used.non_shared()) + &self.shared
        }
    }
}

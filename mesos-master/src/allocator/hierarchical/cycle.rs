//! One allocation run of the hierarchical allocator (upstream `__generateOffers`, its
//! second stage: quota is not implemented).
//!
//! For each candidate agent, in a shuffled order: for each role in DRF order, for each of
//! the role's active frameworks in DRF order, offer the agent's resources available to
//! the role to the framework, unless the framework cannot take them (GPU agent, minimum
//! allocatable resources) or filters them. Each offer is recorded at once (the agent's
//! available resources shrink, the framework and role grow in the sorters), so the next
//! agent sees the new DRF order. Offers are handed to the callback at the end, one call
//! per framework.
//!
//! Cost: the walk over a role's frameworks reads the order kept by `SortedClients`
//! in place (no copy, no string), and what the agent offers the role (its available
//! resources, their quantities) is computed once per agent and role, not per framework.

use mesos_core::resources::resource;
use mesos_core::resources::{ResourceQuantities, Resources};
use mesos_core::sorter::SplitMix64;
use tracing::trace;

use super::{
    AgentKey, Framework, FrameworkCapabilities, FrameworkKey, HierarchicalAllocatorProcess, RoleKey,
};
use crate::allocator::Offers;
use crate::allocator::agent::Agent;

/// What an agent can offer one role now.
struct RoleView {
    /// Available resources allocatable to the role (shared ones already offered in this
    /// run left out).
    available: Resources,
    /// Their quantities, for the minimum allocatable check.
    quantities: ResourceQuantities,
    /// Whether some of them need a capability (shared, revocable, refined reservations).
    needs_capabilities: bool,
}

impl RoleView {
    fn new(agent: &Agent, role: &str, offered_shared: &Resources) -> RoleView {
        let mut available = agent.available().allocatable_to(role);
        if !offered_shared.is_empty() {
            available -= offered_shared;
        }
        let needs_capabilities = available.iter().any(|r| {
            resource::is_shared(r)
                || resource::is_revocable(r)
                || resource::has_refined_reservations(r)
        });
        RoleView {
            quantities: ResourceQuantities::from_resources(&available),
            available,
            needs_capabilities,
        }
    }
}

/// Whether resources of these quantities make an offer: they contain one of `minimums`
/// (any non-empty resources if there are none).
fn allocatable(quantities: &ResourceQuantities, minimums: &[ResourceQuantities]) -> bool {
    !quantities.is_empty()
        && (minimums.is_empty() || minimums.iter().any(|m| quantities.contains(m)))
}

/// The resources a framework without some capabilities may not be offered are removed
/// (upstream `stripIncapableResources`).
fn strip_incapable(resources: &Resources, capabilities: FrameworkCapabilities) -> Resources {
    resources.filter(|r| {
        (capabilities.shared_resources || !resource::is_shared(r))
            && (capabilities.revocable_resources || !resource::is_revocable(r))
            && (capabilities.reservation_refinement || !resource::has_refined_reservations(r))
    })
}

/// Shuffles `items` (Fisher-Yates) with a deterministic generator.
fn shuffle<T>(items: &mut [T], rng: &mut SplitMix64) {
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

impl HierarchicalAllocatorProcess {
    /// What `framework` would be offered from `view` on `agent` for `role`, or `None` if
    /// it cannot take it or filters it.
    fn offer_for(
        &self,
        framework: &Framework,
        agent_key: AgentKey,
        agent: &Agent,
        role: &str,
        view: &RoleView,
    ) -> Option<Resources> {
        let minimums = framework
            .min_allocatable
            .get(role)
            .unwrap_or(&self.options.min_allocatable_resources);
        if !allocatable(&view.quantities, minimums) {
            return None;
        }
        // Agents with GPUs only go to frameworks that can use them (MESOS-5634).
        if self.options.filter_gpu_resources
            && !framework.capabilities.gpu_resources
            && agent.has_gpu()
        {
            return None;
        }
        let offer = if view.needs_capabilities {
            let stripped = strip_incapable(&view.available, framework.capabilities);
            if !allocatable(&ResourceQuantities::from_resources(&stripped), minimums) {
                return None;
            }
            stripped
        } else {
            view.available.clone()
        };
        // A MULTI_ROLE framework gets nothing from an agent that is not; a hierarchical
        // role nothing from an agent that does not know hierarchical roles.
        if framework.capabilities.multi_role && !agent.capabilities.multi_role {
            return None;
        }
        if role.contains('/') && !agent.capabilities.hierarchical_role {
            return None;
        }
        let filtered = framework
            .offer_filters
            .get(role)
            .and_then(|by_agent| by_agent.get(&agent_key))
            .is_some_and(|filters| filters.iter().any(|f| f.refused.contains(&offer)));
        if filtered {
            trace!(framework_id = %framework.id, agent_id = %agent.id, role, "offer filtered");
            return None;
        }
        Some(offer)
    }

    /// The agents this run looks at, active ones only, shuffled.
    fn candidate_agents(&mut self) -> Vec<AgentKey> {
        let mut keys: Vec<AgentKey> = if self.candidates.all {
            self.agents
                .iter()
                .filter(|(_, agent)| agent.activated)
                .map(|(key, _)| AgentKey(key))
                .collect()
        } else {
            let mut keys: Vec<AgentKey> = self
                .candidates
                .agents
                .iter()
                .copied()
                .filter(|key| self.agents.get(key.0).is_some_and(|a| a.activated))
                .collect();
            keys.sort_unstable();
            keys
        };
        shuffle(&mut keys, &mut self.rng);
        keys
    }

    /// Runs the allocation over the candidate agents and hands the offers out; returns
    /// how many (framework, role, agent) offers were made.
    pub(super) fn allocate(&mut self) -> usize {
        let agent_keys = self.candidate_agents();
        let mut offers: foldhash::HashMap<FrameworkKey, Offers> = Default::default();
        let mut made = 0;
        let mut role_order: Vec<RoleKey> = Vec::new();
        let mut offered_here: Vec<FrameworkKey> = Vec::new();
        let mut snapshot: Vec<FrameworkKey> = Vec::new();

        for agent_key in agent_keys {
            // Shared resources are offered once per run.
            let mut offered_shared = Resources::new();
            role_order.clear();
            role_order.extend(self.role_sorter.keys());
            for &role_key in &role_order {
                if self.agents[agent_key.0].available().is_empty() {
                    break;
                }
                let role_name = self.roles[role_key.0].name.clone();
                let mut view =
                    RoleView::new(&self.agents[agent_key.0], &role_name, &offered_shared);
                if view.available.is_empty() {
                    continue;
                }
                // A flat framework sorter keeps its order current as we allocate: the
                // walk reads it in place. Otherwise walk a copy, as upstream does.
                let in_place = self.roles[role_key.0].sorter.is_flat();
                if !in_place {
                    snapshot.clear();
                    snapshot.extend(self.roles[role_key.0].sorter.keys());
                }
                offered_here.clear();
                let mut position = 0;
                loop {
                    let framework_key = if in_place {
                        self.roles[role_key.0].sorter.at(position)
                    } else {
                        snapshot.get(position).copied()
                    };
                    let Some(framework_key) = framework_key else {
                        break;
                    };
                    if in_place && offered_here.contains(&framework_key) {
                        // Moved back after its offer; the walk goes on past it.
                        position += 1;
                        continue;
                    }
                    let framework = &self.frameworks[framework_key.0];
                    let agent = &self.agents[agent_key.0];
                    let Some(mut offer) =
                        self.offer_for(framework, agent_key, agent, &role_name, &view)
                    else {
                        position += 1;
                        continue;
                    };
                    offer.allocate(&role_name);
                    trace!(framework_id = %framework.id, agent_id = %agent.id, role = %role_name, %offer, "offering");
                    let framework_id = framework.id.clone();

                    let by_role = offers.entry(framework_key).or_default();
                    let by_agent = match by_role.get_mut(&role_name) {
                        Some(by_agent) => by_agent,
                        None => by_role.entry(role_name.clone()).or_default(),
                    };
                    match by_agent.get_mut(&agent.id) {
                        Some(resources) => *resources += &offer,
                        None => {
                            by_agent.insert(agent.id.clone(), offer.clone());
                        }
                    }
                    made += 1;

                    let agent = &mut self.agents[agent_key.0];
                    if agent.has_shared() {
                        offered_shared += offer.shared();
                    }
                    agent.decrease_available(&framework_id, &offer);
                    let sorter = &mut self.roles[role_key.0].sorter;
                    if in_place {
                        sorter.allocated_at(position, &agent_key, &offer);
                    } else {
                        sorter.allocated(framework_key, &agent_key, &offer);
                        position += 1;
                    }
                    self.role_sorter
                        .allocated_find(role_key, &agent_key, &offer);
                    offered_here.push(framework_key);

                    view = RoleView::new(&self.agents[agent_key.0], &role_name, &offered_shared);
                    if view.available.is_empty() {
                        break;
                    }
                }
            }
        }

        let mut offers: Vec<(FrameworkKey, Offers)> = offers.into_iter().collect();
        offers.sort_unstable_by_key(|(key, _)| *key);
        if let Some(callback) = self.offer_callback.as_mut() {
            for (key, offers) in offers {
                callback(self.frameworks[key.0].id.clone(), offers);
            }
        }
        made
    }
}

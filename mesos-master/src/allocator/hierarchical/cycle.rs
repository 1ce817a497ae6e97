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
//! Cost: the walk over a role's frameworks reads the order kept by `SortedClients` in
//! place (no copy, no string). An agent's available resources are read in place and
//! copied only into an offer (or moved into it, when one framework takes them all). An
//! offer filter caches its verdict under the agent's generation and the role's epoch;
//! an agent remembers, per role, the frameworks that refuse what it offers (skipped with
//! one lookup) and the roles none of whose frameworks can take anything from it (a run
//! over agents every framework has declined costs a lookup per agent and role).

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use mesos_core::resources::{Quantity, ResourceQuantities, Resources, resource, values};
use mesos_core::sorter::SplitMix64;
use mesos_core::v0::value;
use tracing::trace;

use super::{
    AgentKey, Framework, FrameworkCapabilities, FrameworkKey, HierarchicalAllocatorProcess, RoleKey,
};
use crate::allocator::Offers;
use crate::allocator::agent::{Agent, Blocked};

/// What an agent can offer one role now.
struct RoleView {
    /// Whether that is all of the agent's available resources (the usual case: no
    /// reservations for other roles, no shared resources offered already).
    whole: bool,
    /// Otherwise, the available resources allocatable to the role (shared ones already
    /// offered in this run left out).
    part: Resources,
    /// Whether some of them need a capability (shared, revocable, refined reservations).
    needs_capabilities: bool,
    /// The agent's generation and the role's epoch, under which verdicts about this view
    /// may be cached; `None` while shared resources offered in this run are left out.
    cache_key: Option<(u64, u64)>,
}

impl RoleView {
    fn new(agent: &Agent, role: &str, epoch: u64, offered_shared: &Resources) -> RoleView {
        let cache_key = offered_shared
            .is_empty()
            .then_some((agent.generation(), epoch));
        // The agent remembers the last view that was all its available resources.
        if let Some((generation, _)) = cache_key
            && let Some(needs_capabilities) = agent.whole_view(generation, epoch)
        {
            return RoleView {
                whole: true,
                part: Resources::new(),
                needs_capabilities,
                cache_key,
            };
        }
        let available = agent.available();
        let whole = offered_shared.is_empty()
            && available
                .iter()
                .all(|r| resource::is_allocatable_to(r, role));
        let part = if whole {
            Resources::new()
        } else {
            let mut part = available.allocatable_to(role);
            if !offered_shared.is_empty() {
                part -= offered_shared;
            }
            part
        };
        let mut view = RoleView {
            whole,
            part,
            needs_capabilities: false,
            cache_key: offered_shared
                .is_empty()
                .then_some((agent.generation(), epoch)),
        };
        view.needs_capabilities = view.available(agent).iter().any(|r| {
            resource::is_shared(r)
                || resource::is_revocable(r)
                || resource::has_refined_reservations(r)
        });
        if whole && let Some((generation, _)) = cache_key {
            agent.remember_whole_view(generation, epoch, view.needs_capabilities);
        }
        view
    }

    fn available<'a>(&'a self, agent: &'a Agent) -> &'a Resources {
        if self.whole {
            agent.available()
        } else {
            &self.part
        }
    }
}

/// The quantity of `name` in `resources`: scalars by value, ranges by number of
/// elements, sets by number of items (as `ResourceQuantities::from_resources`).
fn quantity_of(resources: &Resources, name: &str) -> Quantity {
    let mut total = Quantity::ZERO;
    for r in resources.iter().filter(|r| r.name == name) {
        total += match resource::value_type(r) {
            Some(value::Type::Scalar) => resource::scalar_of(r),
            Some(value::Type::Ranges) => {
                let n = values::count(r.ranges.as_ref().map_or(&[][..], |x| &x.range));
                Quantity::from_units(i64::try_from(n).unwrap_or(i64::MAX / 1000))
            }
            Some(value::Type::Set) => Quantity::from_units(
                r.set
                    .as_ref()
                    .map_or(0, |s| i64::try_from(s.item.len()).unwrap_or(0)),
            ),
            _ => Quantity::ZERO,
        };
    }
    total
}

/// Whether resources make an offer: they are not empty and contain one of `minimums`
/// (upstream `allocatable`). Reads the resources in place: no quantities are built.
fn allocatable(resources: &Resources, minimums: &[ResourceQuantities]) -> bool {
    !resources.is_empty()
        && (minimums.is_empty()
            || minimums
                .iter()
                .any(|m| m.iter().all(|(name, q)| quantity_of(resources, name) >= q)))
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
    fn offer_for<'a>(
        &self,
        framework: &Framework,
        agent_key: AgentKey,
        agent: &'a Agent,
        role: &str,
        view: &'a RoleView,
    ) -> Option<Cow<'a, Resources>> {
        let minimums = framework
            .min_allocatable
            .get(role)
            .unwrap_or(&self.options.min_allocatable_resources);
        let available = view.available(agent);
        let enough = if view.whole && view.cache_key.is_some() {
            // All the agent's available resources: their quantities are kept per generation.
            !available.is_empty()
                && agent.with_available_quantities(|have| {
                    minimums.is_empty() || minimums.iter().any(|m| have.contains(m))
                })
        } else {
            allocatable(available, minimums)
        };
        if !enough {
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
            let stripped = strip_incapable(available, framework.capabilities);
            if !allocatable(&stripped, minimums) {
                return None;
            }
            Cow::Owned(stripped)
        } else {
            Cow::Borrowed(available)
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
            .is_some_and(|filters| filters.iter().any(|f| f.refuses(&offer, view.cache_key)));
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
        // Offers as they are made; grouped per framework at the end.
        let mut made: Vec<(FrameworkKey, RoleKey, AgentKey, Resources)> = Vec::new();
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
                // Nothing changed since no framework of the role could take anything here.
                let agent = &self.agents[agent_key.0];
                let role = &self.roles[role_key.0];
                let blocked = Blocked {
                    generation: agent.generation(),
                    role_epoch: role.epoch,
                    membership: role.sorter.membership(),
                };
                if offered_shared.is_empty() && agent.blocked.get(&role_key) == Some(&blocked) {
                    continue;
                }
                let role_name = role.name.clone();
                let epoch = role.epoch;
                let mut view = RoleView::new(agent, &role_name, epoch, &offered_shared);
                if view.available(agent).is_empty() {
                    continue;
                }
                let cacheable = offered_shared.is_empty();
                // The frameworks known to refuse what the agent offers now are skipped.
                let mut refusing = cacheable.then(|| {
                    let mut known = self.agents[agent_key.0]
                        .refusing
                        .remove(&role_key)
                        .unwrap_or_default();
                    if (known.generation, known.role_epoch) != (blocked.generation, epoch) {
                        known.frameworks.clear();
                        known.generation = blocked.generation;
                        known.role_epoch = epoch;
                    }
                    known
                });
                // A flat framework sorter keeps its order current as we allocate: the
                // walk reads it in place. Otherwise walk a copy, as upstream does.
                let in_place = self.roles[role_key.0].sorter.is_flat();
                if !in_place {
                    snapshot.clear();
                    snapshot.extend(self.roles[role_key.0].sorter.keys());
                }
                offered_here.clear();
                let mut position = 0;
                let mut offered = false;
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
                    // (What is known holds for what the agent offered before this walk.)
                    let known = refusing.as_ref().filter(|_| !offered);
                    if known.is_some_and(|known| known.frameworks.contains(framework_key.0)) {
                        position += 1;
                        continue;
                    }
                    let framework = &self.frameworks[framework_key.0];
                    let agent = &self.agents[agent_key.0];
                    let Some(taken) =
                        self.offer_for(framework, agent_key, agent, &role_name, &view)
                    else {
                        if let Some(known) = refusing.as_mut().filter(|_| !offered) {
                            known.frameworks.insert(framework_key.0);
                        }
                        position += 1;
                        continue;
                    };
                    let whole =
                        view.whole && matches!(taken, Cow::Borrowed(_)) && !agent.has_shared();
                    let taken = if whole {
                        None
                    } else {
                        Some(taken.into_owned())
                    };
                    let framework_id = &self.frameworks[framework_key.0].id;
                    let agent = &mut self.agents[agent_key.0];
                    let (offer, part_recorded);
                    match taken {
                        None => {
                            // The framework takes everything: the offer is the agent's
                            // last whole offer again if nothing changed since.
                            offer = agent.offer_all(framework_id, epoch, &role_name);
                            part_recorded = None;
                        }
                        Some(taken) => {
                            let mut part = taken.clone();
                            part.allocate(&role_name);
                            if agent.has_shared() {
                                offered_shared += part.shared();
                            }
                            agent.offer_part(framework_id, &part, &taken);
                            part_recorded = Some(super::for_sorter(&part));
                            offer = part;
                        }
                    };
                    let agent = &self.agents[agent_key.0];
                    let recorded = part_recorded
                        .as_ref()
                        .unwrap_or_else(|| agent.whole_offer_quantities());
                    trace!(%framework_id, agent_id = %agent.id, role = %role_name, %offer, "offering");

                    let sorter = &mut self.roles[role_key.0].sorter;
                    if recorded.is_empty() {
                        // Nothing the sorters count (e.g. only ports): the order stays.
                        position += 1;
                    } else if in_place {
                        sorter.allocated_at(position, recorded);
                    } else {
                        sorter.allocated(framework_key, recorded);
                        position += 1;
                    }
                    if !recorded.is_empty() {
                        self.role_sorter.allocated_find(role_key, recorded);
                    }
                    made.push((framework_key, role_key, agent_key, offer));
                    offered_here.push(framework_key);
                    offered = true;

                    let agent = &self.agents[agent_key.0];
                    if agent.available().is_empty() {
                        break;
                    }
                    view = RoleView::new(agent, &role_name, epoch, &offered_shared);
                    if view.available(agent).is_empty() {
                        break;
                    }
                }
                let agent = &mut self.agents[agent_key.0];
                if let Some(known) = refusing {
                    agent.refusing.insert(role_key, known);
                }
                if !offered && cacheable {
                    // Remember, so that later runs skip the walk until something changes.
                    agent.blocked.insert(role_key, blocked);
                }
            }
        }

        let count = made.len();
        self.hand_out(made);
        count
    }

    /// Hands the offers of a run to the callback, one call per framework with its offers
    /// by role and agent.
    fn hand_out(&mut self, mut made: Vec<(FrameworkKey, RoleKey, AgentKey, Resources)>) {
        made.sort_unstable_by_key(|(framework, role, agent, _)| (*framework, *role, *agent));
        let Some(callback) = self.offer_callback.as_mut() else {
            return;
        };
        let mut rest = &mut made[..];
        while let Some(&(framework, ..)) = rest.first() {
            let mut offers = Offers::new();
            let in_framework = rest.iter().take_while(|(f, ..)| *f == framework).count();
            let (mine, others) = rest.split_at_mut(in_framework);
            let mut group = &mut mine[..];
            while let Some(&(_, role, ..)) = group.first() {
                let in_role = group.iter().take_while(|(_, r, ..)| *r == role).count();
                let (these, after) = group.split_at_mut(in_role);
                let mut by_agent = HashMap::with_capacity(in_role);
                for (_, _, agent, offer) in these.iter_mut() {
                    let offer = std::mem::take(offer);
                    match by_agent.entry(self.agents[agent.0].id.clone()) {
                        Entry::Occupied(mut entry) => *entry.get_mut() += &offer,
                        Entry::Vacant(entry) => {
                            entry.insert(offer);
                        }
                    }
                }
                offers.insert(self.roles[role.0].name.to_string(), by_agent);
                group = after;
            }
            callback(self.frameworks[framework.0].id.clone(), offers);
            rest = others;
        }
    }
}

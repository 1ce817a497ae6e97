//! The master's "model" JSON (upstream `src/common/http.cpp` and
//! `src/master/readonly_handler.cpp`): the hand-shaped documents of `/state`,
//! `/state-summary`, `/frameworks`, `/slaves`, `/tasks` and `/roles`, written in one pass into
//! one buffer with [`JsonWriter`].
//!
//! These are not the protobuf JSON mapping: resources are objects of totals
//! (`{"cpus":1.0,"gpus":0.0,"mem":128.0,"disk":0.0,"ports":"[31000-32000]"}`), times are
//! seconds since the epoch as doubles, IDs are plain strings. A few nested records (a task's
//! `discovery`, `container`, `health_check`) are written in the protobuf mapping, as Mesos
//! does.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use mesos_core::v0;
use mesos_core::v0::value::Type as ValueType;

use super::json_writer::JsonWriter;
use crate::master::MasterProcess;
use crate::master::state::{Agent, CachedJson, CompletedFramework, Connection, Framework, Task};

/// Seconds since the epoch.
pub fn secs(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A resource's name and whether it is revocable.
type ResourceName<'a> = (&'a str, bool);

/// Writes resources as an object of totals: `cpus`, `gpus`, `mem`, `disk` always (0 when
/// absent), other scalars, ranges as `"[a-b, c-d]"`, sets as `"{x, y}"`; revocable resources
/// under `<name>_revocable`.
pub fn write_resources<'a>(
    w: &mut JsonWriter,
    resources: impl IntoIterator<Item = &'a v0::Resource>,
) {
    // Few names: linear search beats hashing; names are borrowed (with a revocable flag), so
    // that the common case allocates nothing but the ranges' items.
    let mut scalars: Vec<(ResourceName<'_>, f64)> = Vec::new();
    let mut base = [0.0f64; 4]; // cpus, gpus, mem, disk
    let mut ranges: Vec<(ResourceName<'_>, Vec<(u64, u64)>)> = Vec::new();
    let mut sets: Vec<(ResourceName<'_>, Vec<&str>)> = Vec::new();
    for resource in resources {
        let revocable = resource.revocable.is_some();
        let name = (resource.name.as_str(), revocable);
        let kind = ValueType::try_from(resource.r#type).unwrap_or(ValueType::Text);
        match kind {
            ValueType::Scalar => {
                let value = resource.scalar.as_ref().map_or(0.0, |s| s.value);
                let slot = if revocable {
                    None
                } else {
                    match resource.name.as_str() {
                        "cpus" => Some(0),
                        "gpus" => Some(1),
                        "mem" => Some(2),
                        "disk" => Some(3),
                        _ => None,
                    }
                };
                match slot {
                    Some(i) => base[i] += value,
                    None => match scalars.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, total)) => *total += value,
                        None => scalars.push((name, value)),
                    },
                }
            }
            ValueType::Ranges => {
                let items = resource
                    .ranges
                    .iter()
                    .flat_map(|r| &r.range)
                    .map(|r| (r.begin, r.end));
                match ranges.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, all)) => all.extend(items),
                    None => ranges.push((name, items.collect())),
                }
            }
            ValueType::Set => {
                let items = resource
                    .set
                    .iter()
                    .flat_map(|s| s.item.iter().map(String::as_str));
                match sets.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, all)) => all.extend(items),
                    None => sets.push((name, items.collect())),
                }
            }
            ValueType::Text => {}
        }
    }
    w.begin_object();
    w.field_f64("cpus", base[0]);
    w.field_f64("disk", base[3]);
    w.field_f64("gpus", base[1]);
    w.field_f64("mem", base[2]);
    for ((name, revocable), value) in &scalars {
        resource_key(w, name, *revocable);
        w.f64(*value);
    }
    for ((name, revocable), items) in &mut ranges {
        resource_key(w, name, *revocable);
        w.ranges(items);
    }
    for ((name, revocable), items) in &mut sets {
        items.sort_unstable();
        items.dedup();
        resource_key(w, name, *revocable);
        w.str(&format!("{{{}}}", items.join(", ")));
    }
    w.end_object();
}

fn resource_key(w: &mut JsonWriter, name: &str, revocable: bool) {
    if revocable {
        w.key(&revocable_name(name, true));
    } else {
        w.key(name);
    }
}

fn revocable_name(name: &str, revocable: bool) -> String {
    if revocable {
        format!("{name}_revocable")
    } else {
        name.to_owned()
    }
}

/// `[a-b, c-d]`, ranges sorted and coalesced.
pub fn format_ranges(items: &mut [(u64, u64)]) -> String {
    items.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(items.len());
    for &(begin, end) in items.iter() {
        match merged.last_mut() {
            Some(last) if begin <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => merged.push((begin, end)),
        }
    }
    let parts: Vec<String> = merged.iter().map(|(b, e)| format!("{b}-{e}")).collect();
    format!("[{}]", parts.join(", "))
}

fn write_labels(w: &mut JsonWriter, labels: &v0::Labels) {
    w.begin_array();
    for label in &labels.labels {
        w.begin_object();
        w.field_str("key", &label.key);
        if let Some(value) = &label.value {
            w.field_str("value", value);
        }
        w.end_object();
    }
    w.end_array();
}

fn write_status(w: &mut JsonWriter, status: &v0::TaskStatus) {
    w.begin_object();
    w.field_str("state", status.state().as_str_name());
    w.field_f64("timestamp", status.timestamp.unwrap_or(0.0));
    if let Some(labels) = &status.labels {
        w.key("labels");
        write_labels(w, labels);
    }
    if let Some(container) = &status.container_status {
        w.key("container_status");
        w.begin_object();
        if let Some(id) = &container.container_id {
            w.key("container_id");
            w.raw(&mesos_core::json::to_string(id));
        }
        if !container.network_infos.is_empty() {
            w.key("network_infos");
            w.begin_array();
            for info in &container.network_infos {
                w.raw(&mesos_core::json::to_string(info));
            }
            w.end_array();
        }
        if let Some(cgroup) = &container.cgroup_info {
            w.key("cgroup_info");
            w.raw(&mesos_core::json::to_string(cgroup));
        }
        w.end_object();
    }
    if let Some(healthy) = status.healthy {
        w.field_bool("healthy", healthy);
    }
    w.end_object();
}

/// The fields of a task that change most, for its cache's key.
fn task_key(task: &v0::Task) -> u64 {
    (u64::from(task.state as u32) << 32) | task.statuses.len() as u64
}

/// Writes a task from its cached fragment, rendering (and keeping) it first if needed.
pub fn write_cached_task(w: &mut JsonWriter, task: &Task) {
    let key = task_key(&task.info);
    if let Some(cached) = task.json.get(key) {
        w.raw_bytes(&cached.bytes);
        return;
    }
    let mut fragment = JsonWriter::with_capacity(512);
    write_task(&mut fragment, &task.info);
    let bytes = fragment.into_bytes().into_boxed_slice();
    w.raw_bytes(&bytes);
    let split = bytes.len();
    task.json.set(CachedJson { key, bytes, split });
}

/// Writes a task (upstream `json(Task)`).
pub fn write_task(w: &mut JsonWriter, task: &v0::Task) {
    w.begin_object();
    w.field_str("id", &task.task_id.value);
    w.field_str("name", &task.name);
    w.field_str("framework_id", &task.framework_id.value);
    w.field_str(
        "executor_id",
        task.executor_id.as_ref().map_or("", |e| e.value.as_str()),
    );
    w.field_str("slave_id", &task.slave_id.value);
    w.field_str("state", task.state().as_str_name());
    w.key("resources");
    write_resources(w, &task.resources);
    if !task.limits.is_empty() {
        w.key("limits");
        w.begin_object();
        for (name, scalar) in &task.limits {
            w.field_f64(name, scalar.value);
        }
        w.end_object();
    }
    let role = task
        .resources
        .first()
        .and_then(|r| r.allocation_info.as_ref())
        .and_then(|a| a.role.as_deref())
        .unwrap_or("*");
    w.field_str("role", role);
    w.key("statuses");
    w.begin_array();
    for status in &task.statuses {
        write_status(w, status);
    }
    w.end_array();
    if let Some(user) = &task.user {
        w.field_str("user", user);
    }
    if let Some(labels) = &task.labels {
        w.key("labels");
        write_labels(w, labels);
    }
    if let Some(discovery) = &task.discovery {
        w.key("discovery");
        w.raw(&mesos_core::json::to_string(discovery));
    }
    if let Some(container) = &task.container {
        w.key("container");
        w.raw(&mesos_core::json::to_string(container));
    }
    if let Some(health_check) = &task.health_check {
        w.key("health_check");
        w.raw(&mesos_core::json::to_string(health_check));
    }
    w.end_object();
}

fn write_command(w: &mut JsonWriter, command: &v0::CommandInfo) {
    w.begin_object();
    if let Some(shell) = command.shell {
        w.field_bool("shell", shell);
    }
    if let Some(value) = &command.value {
        w.field_str("value", value);
    }
    w.key("argv");
    w.begin_array();
    for arg in &command.arguments {
        w.str(arg);
    }
    w.end_array();
    if let Some(environment) = &command.environment {
        w.key("environment");
        w.raw(&mesos_core::json::to_string(environment));
    }
    w.key("uris");
    w.begin_array();
    for uri in &command.uris {
        w.begin_object();
        w.field_str("value", &uri.value);
        w.field_bool("executable", uri.executable.unwrap_or(false));
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

/// Writes an executor's fields into the current object (upstream `json(ExecutorInfo)`).
fn write_executor_fields(w: &mut JsonWriter, executor: &v0::ExecutorInfo) {
    w.field_str("executor_id", &executor.executor_id.value);
    w.field_str("name", executor.name.as_deref().unwrap_or(""));
    w.field_str(
        "framework_id",
        executor
            .framework_id
            .as_ref()
            .map_or("", |f| f.value.as_str()),
    );
    w.key("command");
    write_command(w, &executor.command.clone().unwrap_or_default());
    w.key("resources");
    write_resources(w, &executor.resources);
    if let Some(role) = executor
        .resources
        .first()
        .and_then(|r| r.allocation_info.as_ref())
        .and_then(|a| a.role.as_deref())
    {
        w.field_str("role", role);
    }
    if let Some(labels) = &executor.labels {
        w.key("labels");
        write_labels(w, labels);
    }
    if let Some(kind) = executor.r#type {
        let name = v0::executor_info::Type::try_from(kind)
            .unwrap_or(v0::executor_info::Type::Unknown)
            .as_str_name();
        w.field_str("type", name);
    }
}

/// Writes an agent's info fields into the current object (upstream `json(SlaveInfo)`).
fn write_agent_info_fields(w: &mut JsonWriter, info: &v0::SlaveInfo) {
    w.field_str("id", info.id.as_ref().map_or("", |id| id.value.as_str()));
    w.field_str("hostname", &info.hostname);
    w.field_u64(
        "port",
        u64::try_from(info.port.unwrap_or(5051)).unwrap_or(0),
    );
    w.key("attributes");
    w.begin_object();
    for attribute in &info.attributes {
        match ValueType::try_from(attribute.r#type).unwrap_or(ValueType::Text) {
            ValueType::Scalar => w.field_f64(
                &attribute.name,
                attribute.scalar.as_ref().map_or(0.0, |s| s.value),
            ),
            ValueType::Ranges => {
                let mut items: Vec<(u64, u64)> = attribute
                    .ranges
                    .iter()
                    .flat_map(|r| &r.range)
                    .map(|r| (r.begin, r.end))
                    .collect();
                w.field_str(&attribute.name, &format_ranges(&mut items));
            }
            ValueType::Set => {
                let items: Vec<&str> = attribute
                    .set
                    .iter()
                    .flat_map(|s| s.item.iter().map(String::as_str))
                    .collect();
                w.field_str(&attribute.name, &format!("{{{}}}", items.join(", ")));
            }
            ValueType::Text => w.field_str(
                &attribute.name,
                attribute.text.as_ref().map_or("", |t| t.value.as_str()),
            ),
        }
    }
    w.end_object();
    if let Some(domain) = &info.domain {
        w.key("domain");
        w.raw(&mesos_core::json::to_string(domain));
    }
}

/// Writes a registered agent (upstream `SlaveWriter`).
pub fn write_agent(w: &mut JsonWriter, agent: &Agent) {
    w.begin_object();
    write_agent_fields(w, agent);
    w.end_object();
}

/// The fields of an agent that change most, for its cache's key.
fn agent_key(agent: &Agent) -> u64 {
    let registered = secs(agent.registered_time).to_bits();
    let reregistered = agent.reregistered_time.map_or(0, |t| secs(t).to_bits());
    registered ^ reregistered.rotate_left(17) ^ agent.total.len() as u64
}

fn write_agent_fields(w: &mut JsonWriter, agent: &Agent) {
    let key = agent_key(agent);
    if let Some(cached) = agent.json.get(key) {
        w.raw_bytes(&cached.bytes[..cached.split]);
        write_agent_live_fields(w, agent);
        w.raw_bytes(&cached.bytes[cached.split..]);
    } else {
        // The fields that change rarely are rendered apart and kept: those before the
        // live ones, then those after them.
        let mut fragment = JsonWriter::with_capacity(1024);
        write_agent_head_fields(&mut fragment, agent);
        let mut bytes = fragment.into_bytes();
        let split = bytes.len();
        let mut fragment = JsonWriter::with_capacity(512);
        write_agent_tail_fields(&mut fragment, agent);
        bytes.extend_from_slice(&fragment.into_bytes());
        w.raw_bytes(&bytes[..split]);
        write_agent_live_fields(w, agent);
        w.raw_bytes(&bytes[split..]);
        agent.json.set(CachedJson {
            key,
            bytes: bytes.into_boxed_slice(),
            split,
        });
    }
    w.field_bool("active", agent.active);
    w.field_bool("deactivated", !agent.active);
    w.field_str("version", &agent.version);
    w.key("capabilities");
    w.begin_array();
    for capability in &agent.capabilities {
        w.str(capability.r#type().as_str_name());
    }
    w.end_array();
}

/// `used_resources` and `offered_resources`: what changes with every task and offer.
fn write_agent_live_fields(w: &mut JsonWriter, agent: &Agent) {
    w.key("used_resources");
    write_resources(w, agent.used.values().flat_map(|r| r.iter()));
    w.key("offered_resources");
    write_resources(w, agent.offered.iter());
}

/// From `id` to `resources` (the info, pid, times and total).
fn write_agent_head_fields(w: &mut JsonWriter, agent: &Agent) {
    write_agent_info_fields(w, &agent.info);
    w.field_str("pid", &agent.pid.to_string());
    w.field_f64("registered_time", secs(agent.registered_time));
    if let Some(time) = agent.reregistered_time {
        w.field_f64("reregistered_time", secs(time));
    }
    w.key("resources");
    write_resources(w, agent.total.iter());
}

/// `reserved_resources` and `unreserved_resources` (from the total).
fn write_agent_tail_fields(w: &mut JsonWriter, agent: &Agent) {
    w.key("reserved_resources");
    w.begin_object();
    if agent.total.iter().all(|r| r.reservations.is_empty()) {
        // Nothing reserved (the common case): no need to split.
        w.end_object();
        w.key("unreserved_resources");
        write_resources(w, agent.total.iter());
    } else {
        let reservations: BTreeMap<String, _> = agent.total.reservations().into_iter().collect();
        for (role, reserved) in &reservations {
            w.key(role);
            write_resources(w, reserved.iter());
        }
        w.end_object();
        w.key("unreserved_resources");
        write_resources(w, agent.total.unreserved().iter());
    }
}

fn write_framework_capabilities(w: &mut JsonWriter, info: &v0::FrameworkInfo) {
    w.key("capabilities");
    w.begin_array();
    for capability in &info.capabilities {
        w.str(capability.r#type().as_str_name());
    }
    w.end_array();
}

/// Writes a framework's summary fields (upstream `Summary<Framework>`).
fn write_framework_summary_fields(w: &mut JsonWriter, framework: &Framework) {
    let mut used = JsonWriter::new();
    write_resources(&mut used, framework.used.values().flat_map(|r| r.iter()));
    write_framework_summary_fields_with(w, framework, used.as_str());
}

/// The summary fields, with `used_resources` already written (`used`).
fn write_framework_summary_fields_with(w: &mut JsonWriter, framework: &Framework, used: &str) {
    w.field_str("id", framework.id.as_str());
    w.field_str("name", &framework.info.name);
    w.key("used_resources");
    w.raw(used);
    w.key("offered_resources");
    write_resources(w, framework.offered.iter());
    write_framework_capabilities(w, &framework.info);
    w.field_str("hostname", framework.info.hostname.as_deref().unwrap_or(""));
    w.field_str(
        "webui_url",
        framework.info.webui_url.as_deref().unwrap_or(""),
    );
    w.field_bool("active", framework.active);
    w.field_bool("connected", framework.connected());
    w.field_bool("recovered", framework.connection == Connection::Recovered);
}

#[allow(deprecated)]
fn write_framework_role(w: &mut JsonWriter, info: &v0::FrameworkInfo, multi_role: bool) {
    if multi_role {
        w.key("roles");
        w.begin_array();
        for role in &info.roles {
            w.str(role);
        }
        w.end_array();
    } else {
        w.field_str("role", info.role.as_deref().unwrap_or("*"));
    }
}

/// Writes a framework in full (upstream `FullFrameworkWriter`).
pub fn write_framework(w: &mut JsonWriter, master: &MasterProcess, framework: &Framework) {
    let info = &framework.info;
    // The total used is written twice (`used_resources`, and `resources` when nothing is
    // offered): it is summed once.
    let mut used = JsonWriter::new();
    write_resources(&mut used, framework.used.values().flat_map(|r| r.iter()));
    w.begin_object();
    write_framework_summary_fields_with(w, framework, used.as_str());
    w.field_str("user", &info.user);
    w.field_f64("failover_timeout", info.failover_timeout.unwrap_or(0.0));
    w.field_bool("checkpoint", info.checkpoint.unwrap_or(false));
    w.field_f64("registered_time", secs(framework.registered_time));
    w.field_f64(
        "unregistered_time",
        framework.unregistered_time.map_or(0.0, secs),
    );
    if let Some(principal) = &info.principal {
        w.field_str("principal", principal);
    }
    w.key("resources");
    if framework.offered.is_empty() {
        w.raw(used.as_str());
    } else {
        write_resources(
            w,
            framework
                .used
                .values()
                .flat_map(|r| r.iter())
                .chain(framework.offered.iter()),
        );
    }
    if let Some(time) = framework.reregistered_time {
        w.field_f64("reregistered_time", secs(time));
    }
    write_framework_role(w, info, framework.capabilities.multi_role);
    w.key("tasks");
    w.begin_array();
    for task in framework.tasks.values() {
        write_cached_task(w, task);
    }
    w.end_array();
    w.key("unreachable_tasks");
    w.begin_array();
    for task in &framework.unreachable_tasks {
        write_cached_task(w, task);
    }
    w.end_array();
    w.key("completed_tasks");
    w.begin_array();
    for task in &framework.completed_tasks {
        write_cached_task(w, task);
    }
    w.end_array();
    w.key("offers");
    w.begin_array();
    for offer_id in &framework.offers {
        if let Some(offer) = master.state.offers.get(offer_id) {
            w.begin_object();
            w.field_str("id", offer.id.as_str());
            w.field_str("framework_id", offer.framework_id.as_str());
            w.key("allocation_info");
            w.begin_object();
            w.field_str("role", &offer.role);
            w.end_object();
            w.field_str("slave_id", offer.agent_id.as_str());
            w.key("resources");
            write_resources(w, offer.resources.iter());
            w.end_object();
        }
    }
    w.end_array();
    w.key("executors");
    w.begin_array();
    for (agent_id, executors) in &framework.executors {
        for executor in executors.values() {
            w.begin_object();
            write_executor_fields(w, executor);
            w.field_str("slave_id", agent_id.as_str());
            w.end_object();
        }
    }
    w.end_array();
    if let Some(labels) = &info.labels {
        w.key("labels");
        write_labels(w, labels);
    }
    w.key("offer_constraints");
    w.begin_object();
    w.end_object();
    w.end_object();
}

/// Writes a removed framework in full.
pub fn write_completed_framework(w: &mut JsonWriter, framework: &CompletedFramework) {
    let info = &framework.info;
    let multi_role = crate::master::state::Capabilities::of(info).multi_role;
    w.begin_object();
    w.field_str("id", info.id.as_ref().map_or("", |id| id.value.as_str()));
    w.field_str("name", &info.name);
    w.key("used_resources");
    write_resources(w, []);
    w.key("offered_resources");
    write_resources(w, []);
    write_framework_capabilities(w, info);
    w.field_str("hostname", info.hostname.as_deref().unwrap_or(""));
    w.field_str("webui_url", info.webui_url.as_deref().unwrap_or(""));
    w.field_bool("active", false);
    w.field_bool("connected", false);
    w.field_bool("recovered", false);
    w.field_str("user", &info.user);
    w.field_f64("failover_timeout", info.failover_timeout.unwrap_or(0.0));
    w.field_bool("checkpoint", info.checkpoint.unwrap_or(false));
    w.field_f64("registered_time", secs(framework.registered_time));
    w.field_f64("unregistered_time", secs(framework.unregistered_time));
    if let Some(principal) = &info.principal {
        w.field_str("principal", principal);
    }
    w.key("resources");
    write_resources(w, []);
    write_framework_role(w, info, multi_role);
    w.field_empty_array("tasks");
    w.field_empty_array("unreachable_tasks");
    w.key("completed_tasks");
    w.begin_array();
    for task in &framework.completed_tasks {
        write_cached_task(w, task);
    }
    w.end_array();
    w.field_empty_array("offers");
    w.field_empty_array("executors");
    if let Some(labels) = &info.labels {
        w.key("labels");
        write_labels(w, labels);
    }
    w.key("offer_constraints");
    w.begin_object();
    w.end_object();
    w.end_object();
}

fn write_recovered_agents(w: &mut JsonWriter, master: &MasterProcess, filter: Option<&str>) {
    w.key("recovered_slaves");
    w.begin_array();
    for (id, info) in &master.state.recovered_agents {
        if filter.is_some_and(|f| f != id.0) {
            continue;
        }
        w.begin_object();
        write_agent_info_fields(w, info);
        w.end_object();
    }
    w.end_array();
}

fn write_flags(w: &mut JsonWriter, master: &MasterProcess) {
    w.key("flags");
    w.begin_object();
    for (name, value) in master.flags.to_pairs() {
        w.field_str(&name, &value);
    }
    w.end_object();
}

fn write_master_capabilities(w: &mut JsonWriter, master: &MasterProcess) {
    w.key("capabilities");
    w.begin_array();
    for capability in &master.info.capabilities {
        w.str(capability.r#type().as_str_name());
    }
    w.end_array();
}

/// The number of registered agents that are active and that are not.
pub fn agent_counts(master: &MasterProcess) -> (u64, u64) {
    let active = master.state.agents.values().filter(|a| a.active).count() as u64;
    (active, master.state.agents.len() as u64 - active)
}

/// Writes the build fields (`version`, `build_date`, `build_time`, `build_user`).
pub fn write_build_fields(w: &mut JsonWriter) {
    w.field_str("version", crate::master::MESOS_VERSION);
    w.field_str("build_date", BUILD_DATE);
    w.field_f64("build_time", BUILD_TIME);
    w.field_str("build_user", BUILD_USER);
}

/// The build date we report (a fixed string: our builds are reproducible).
pub const BUILD_DATE: &str = "2026-01-01 00:00:00";
/// The build time we report, seconds since the epoch.
pub const BUILD_TIME: f64 = 1_767_225_600.0;
/// The build user we report.
pub const BUILD_USER: &str = "mesos-rs";

/// `/master/state`.
pub fn state(master: &MasterProcess) -> Vec<u8> {
    let tasks: usize = master
        .state
        .frameworks
        .values()
        .map(|f| f.tasks.len() + f.completed_tasks.len() + f.unreachable_tasks.len())
        .sum();
    let estimate = 4096 + 1200 * master.state.agents.len() + 320 * tasks;
    let last = LAST_STATE_SIZE.load(Ordering::Relaxed);
    let mut w = JsonWriter::with_capacity(estimate.max(last + last / 16));
    w.begin_object();
    write_build_fields(&mut w);
    w.field_f64("start_time", secs(master.start_time));
    if let Some(time) = master.elected_time {
        w.field_f64("elected_time", secs(time));
    }
    w.field_str("id", &master.info.id);
    w.field_str("pid", &master.upid.to_string());
    w.field_str("hostname", master.info.hostname.as_deref().unwrap_or(""));
    write_master_capabilities(&mut w, master);
    let (active, inactive) = agent_counts(master);
    w.field_u64("activated_slaves", active);
    w.field_u64("deactivated_slaves", inactive);
    w.field_u64(
        "unreachable_slaves",
        master.state.unreachable_agents.len() as u64,
    );
    if let Some(domain) = &master.info.domain {
        w.key("domain");
        w.raw(&mesos_core::json::to_string(domain));
    }
    if let Some(leader) = &master.leader {
        w.field_str("leader", leader.pid.as_deref().unwrap_or(""));
        w.key("leader_info");
        write_master_info(&mut w, leader);
    }
    if let Some(cluster) = &master.flags.cluster {
        w.field_str("cluster", cluster);
    }
    if let Some(log_dir) = &master.flags.log_dir {
        w.field_str("log_dir", &log_dir.to_string_lossy());
    }
    write_flags(&mut w, master);
    w.key("slaves");
    w.begin_array();
    for agent in master.state.agents.values() {
        write_agent(&mut w, agent);
    }
    w.end_array();
    write_recovered_agents(&mut w, master, None);
    w.key("frameworks");
    w.begin_array();
    for framework in master.state.frameworks.values() {
        write_framework(&mut w, master, framework);
    }
    w.end_array();
    w.key("completed_frameworks");
    w.begin_array();
    for framework in &master.state.completed_frameworks {
        write_completed_framework(&mut w, framework);
    }
    w.end_array();
    w.field_empty_array("orphan_tasks");
    w.field_empty_array("unregistered_frameworks");
    w.end_object();
    LAST_STATE_SIZE.store(w.len(), Ordering::Relaxed);
    w.into_bytes()
}

/// The size of the last `/state`, to size the next one's buffer (one allocation, no
/// copying as it grows).
static LAST_STATE_SIZE: AtomicUsize = AtomicUsize::new(0);

/// Bytes of `/state` JSON kept in the caches of tasks and agents.
pub fn cache_size(master: &MasterProcess) -> usize {
    let agents: usize = master.state.agents.values().map(|a| a.json.size()).sum();
    let tasks: usize = master
        .state
        .frameworks
        .values()
        .flat_map(|f| {
            f.tasks
                .values()
                .chain(f.unreachable_tasks.iter())
                .chain(f.completed_tasks.iter())
        })
        .map(|t| t.json.size())
        .sum();
    let completed: usize = master
        .state
        .completed_frameworks
        .iter()
        .flat_map(|f| f.completed_tasks.iter())
        .map(|t| t.json.size())
        .sum();
    agents + tasks + completed
}

/// Writes `MasterInfo` as the model does (`id`, `pid`, `port`, `hostname`, `domain`?).
pub fn write_master_info(w: &mut JsonWriter, info: &v0::MasterInfo) {
    w.begin_object();
    w.field_str("id", &info.id);
    w.field_str("pid", info.pid.as_deref().unwrap_or(""));
    w.field_u64("port", u64::from(info.port));
    w.field_str("hostname", info.hostname.as_deref().unwrap_or(""));
    if let Some(domain) = &info.domain {
        w.key("domain");
        w.raw(&mesos_core::json::to_string(domain));
    }
    w.end_object();
}

/// Counts of tasks by state, for `/state-summary`.
#[derive(Default, Clone, Copy)]
struct TaskSummary {
    staging: u64,
    starting: u64,
    running: u64,
    killing: u64,
    finished: u64,
    killed: u64,
    failed: u64,
    lost: u64,
    error: u64,
    unreachable: u64,
}

impl TaskSummary {
    fn count(&mut self, state: v0::TaskState) {
        use v0::TaskState::*;
        match state {
            TaskStaging => self.staging += 1,
            TaskStarting => self.starting += 1,
            TaskRunning => self.running += 1,
            TaskKilling => self.killing += 1,
            TaskFinished => self.finished += 1,
            TaskKilled => self.killed += 1,
            TaskFailed => self.failed += 1,
            TaskLost => self.lost += 1,
            TaskError => self.error += 1,
            TaskUnreachable => self.unreachable += 1,
            _ => {}
        }
    }

    fn write(&self, w: &mut JsonWriter) {
        w.field_u64("TASK_STAGING", self.staging);
        w.field_u64("TASK_STARTING", self.starting);
        w.field_u64("TASK_RUNNING", self.running);
        w.field_u64("TASK_KILLING", self.killing);
        w.field_u64("TASK_FINISHED", self.finished);
        w.field_u64("TASK_KILLED", self.killed);
        w.field_u64("TASK_FAILED", self.failed);
        w.field_u64("TASK_LOST", self.lost);
        w.field_u64("TASK_ERROR", self.error);
        w.field_u64("TASK_UNREACHABLE", self.unreachable);
    }
}

/// `/master/state-summary`: agents and frameworks with task counts, no tasks.
pub fn state_summary(master: &MasterProcess) -> Vec<u8> {
    let mut by_agent: HashMap<&str, TaskSummary> = HashMap::new();
    let mut by_framework: HashMap<&str, TaskSummary> = HashMap::new();
    let mut agent_frameworks: HashMap<&str, Vec<&str>> = HashMap::new();
    for framework in master.state.frameworks.values() {
        let all = framework
            .tasks
            .values()
            .chain(framework.unreachable_tasks.iter())
            .chain(framework.completed_tasks.iter());
        for task in all {
            let state = task.state();
            by_agent
                .entry(task.info.slave_id.value.as_str())
                .or_default()
                .count(state);
            by_framework
                .entry(framework.id.as_str())
                .or_default()
                .count(state);
        }
        for agent_id in framework.used.keys() {
            agent_frameworks
                .entry(agent_id.as_str())
                .or_default()
                .push(framework.id.as_str());
        }
    }
    let mut w = JsonWriter::with_capacity(4096 + 1500 * master.state.agents.len());
    w.begin_object();
    w.field_str("hostname", master.info.hostname.as_deref().unwrap_or(""));
    if let Some(cluster) = &master.flags.cluster {
        w.field_str("cluster", cluster);
    }
    w.key("slaves");
    w.begin_array();
    for agent in master.state.agents.values() {
        w.begin_object();
        write_agent_fields(&mut w, agent);
        by_agent
            .get(agent.id.as_str())
            .copied()
            .unwrap_or_default()
            .write(&mut w);
        w.key("framework_ids");
        w.begin_array();
        for id in agent_frameworks
            .get(agent.id.as_str())
            .into_iter()
            .flatten()
        {
            w.str(id);
        }
        w.end_array();
        w.end_object();
    }
    w.end_array();
    w.key("frameworks");
    w.begin_array();
    for framework in master.state.frameworks.values() {
        w.begin_object();
        write_framework_summary_fields(&mut w, framework);
        by_framework
            .get(framework.id.as_str())
            .copied()
            .unwrap_or_default()
            .write(&mut w);
        w.key("slave_ids");
        w.begin_array();
        for agent_id in framework.used.keys() {
            w.str(agent_id.as_str());
        }
        w.end_array();
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.into_bytes()
}

/// `/master/frameworks`, optionally only `framework_id`.
pub fn frameworks(master: &MasterProcess, filter: Option<&str>) -> Vec<u8> {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("frameworks");
    w.begin_array();
    for framework in master.state.frameworks.values() {
        if filter.is_some_and(|f| f != framework.id.0) {
            continue;
        }
        write_framework(&mut w, master, framework);
    }
    w.end_array();
    w.key("completed_frameworks");
    w.begin_array();
    for framework in &master.state.completed_frameworks {
        let id = framework.info.id.as_ref().map_or("", |i| i.value.as_str());
        if filter.is_some_and(|f| f != id) {
            continue;
        }
        write_completed_framework(&mut w, framework);
    }
    w.end_array();
    w.field_empty_array("unregistered_frameworks");
    w.end_object();
    w.into_bytes()
}

/// `/master/slaves`, optionally only `slave_id`.
pub fn slaves(master: &MasterProcess, filter: Option<&str>) -> Vec<u8> {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("slaves");
    w.begin_array();
    for agent in master.state.agents.values() {
        if filter.is_some_and(|f| f != agent.id.0) {
            continue;
        }
        write_agent(&mut w, agent);
    }
    w.end_array();
    write_recovered_agents(&mut w, master, filter);
    w.end_object();
    w.into_bytes()
}

/// The query of `/master/tasks`.
#[derive(Debug, Clone, Default)]
pub struct TasksQuery {
    /// At most this many (default 100; negative: no limit).
    pub limit: Option<String>,
    /// Skip this many.
    pub offset: Option<String>,
    /// `asc` or (default) descending, by the first status's timestamp.
    pub order: Option<String>,
    /// Only this framework's.
    pub framework_id: Option<String>,
    /// Only this task.
    pub task_id: Option<String>,
}

/// Parses as Mesos does: an int, negative values wrapping into a huge `size_t`; anything else
/// falls back to `default`.
fn size_param(value: Option<&str>, default: usize) -> usize {
    match value.and_then(|v| v.trim().parse::<i32>().ok()) {
        Some(n) if n < 0 => usize::MAX,
        Some(n) => n as usize,
        None => default,
    }
}

/// `/master/tasks`.
pub fn tasks(master: &MasterProcess, query: &TasksQuery) -> Vec<u8> {
    let limit = size_param(query.limit.as_deref(), 100);
    let offset = size_param(query.offset.as_deref(), 0);
    let ascending = query.order.as_deref() == Some("asc");
    let framework_ok = |id: &str| query.framework_id.as_deref().is_none_or(|f| f == id);
    let task_ok = |task: &Task| {
        query
            .task_id
            .as_deref()
            .is_none_or(|t| t == task.info.task_id.value)
    };
    let mut selected: Vec<&v0::Task> = Vec::new();
    for framework in master.state.frameworks.values() {
        if !framework_ok(framework.id.as_str()) {
            continue;
        }
        let all = framework
            .tasks
            .values()
            .chain(framework.unreachable_tasks.iter())
            .chain(framework.completed_tasks.iter());
        selected.extend(all.filter(|t| task_ok(t)).map(|t| &t.info));
    }
    for framework in &master.state.completed_frameworks {
        let id = framework.info.id.as_ref().map_or("", |i| i.value.as_str());
        if !framework_ok(id) {
            continue;
        }
        selected.extend(
            framework
                .completed_tasks
                .iter()
                .filter(|t| task_ok(t))
                .map(|t| &t.info),
        );
    }
    // By the first status's time (tasks without statuses first when ascending, last when
    // descending); ties by task ID so that pages are stable.
    let first = |t: &v0::Task| t.statuses.first().map(|s| s.timestamp.unwrap_or(0.0));
    selected.sort_by(|a, b| {
        let order = match (first(a), first(b)) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.total_cmp(&y),
        };
        let order = if ascending { order } else { order.reverse() };
        order.then_with(|| a.task_id.value.cmp(&b.task_id.value))
    });
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("tasks");
    w.begin_array();
    for task in selected.iter().skip(offset).take(limit) {
        write_task(&mut w, task);
    }
    w.end_array();
    w.end_object();
    w.into_bytes()
}

/// The roles the master knows: with weights, with frameworks subscribed, with resources
/// allocated or offered, sorted.
pub fn known_roles(master: &MasterProcess) -> Vec<String> {
    let mut roles: std::collections::BTreeSet<String> =
        master.state.weights.keys().cloned().collect();
    for framework in master.state.frameworks.values() {
        roles.extend(framework.roles.iter().cloned());
    }
    roles.extend(master.settings.roles.iter().flatten().cloned());
    roles.into_iter().collect()
}

/// Per role: the frameworks subscribed to it, and its allocated and offered resources.
pub fn role_breakdown(
    master: &MasterProcess,
    role: &str,
) -> (Vec<String>, Vec<v0::Resource>, Vec<v0::Resource>) {
    let mut frameworks = Vec::new();
    let mut allocated = Vec::new();
    let mut offered = Vec::new();
    let in_role = |r: &v0::Resource| {
        r.allocation_info
            .as_ref()
            .and_then(|a| a.role.as_deref())
            .is_some_and(|a| a == role)
    };
    for framework in master.state.frameworks.values() {
        if framework.roles.contains(role) {
            frameworks.push(framework.id.0.clone());
        }
        for used in framework.used.values() {
            allocated.extend(used.iter().filter(|r| in_role(r)).cloned());
        }
        offered.extend(framework.offered.iter().filter(|r| in_role(r)).cloned());
    }
    frameworks.sort();
    (frameworks, allocated, offered)
}

fn write_quantities(w: &mut JsonWriter, resources: &[v0::Resource]) {
    let mut totals: BTreeMap<&str, f64> = BTreeMap::new();
    for r in resources {
        if let Some(scalar) = &r.scalar {
            *totals.entry(r.name.as_str()).or_default() += scalar.value;
        }
    }
    w.begin_object();
    for (name, value) in totals {
        w.field_f64(name, value);
    }
    w.end_object();
}

/// `/master/roles`.
pub fn roles(master: &MasterProcess) -> Vec<u8> {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("roles");
    w.begin_array();
    for name in known_roles(master) {
        let (frameworks, allocated, offered) = role_breakdown(master, &name);
        w.begin_object();
        w.field_str("name", &name);
        w.field_f64(
            "weight",
            master.state.weights.get(&name).copied().unwrap_or(1.0),
        );
        w.key("quota");
        w.begin_object();
        w.field_str("role", &name);
        w.key("guarantee");
        w.begin_object();
        w.end_object();
        w.key("limit");
        w.begin_object();
        w.end_object();
        w.key("consumed");
        write_quantities(&mut w, &allocated);
        w.end_object();
        let both: Vec<v0::Resource> = allocated.iter().chain(offered.iter()).cloned().collect();
        w.key("resources");
        write_quantities(&mut w, &both);
        w.key("allocated");
        write_quantities(&mut w, &allocated);
        w.key("offered");
        write_quantities(&mut w, &offered);
        w.key("reserved");
        w.begin_object();
        w.end_object();
        w.key("frameworks");
        w.begin_array();
        for id in &frameworks {
            w.str(id);
        }
        w.end_array();
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.into_bytes()
}

//! The master's JSON endpoints (upstream `Master::Http` in `src/master/http.cpp` and
//! `src/master/readonly_handler.cpp`), served on the master process, plus `/version` (a
//! process of its own, as in libprocess) and the master's metrics in `/metrics/snapshot`.
//!
//! Routes (each also reachable without the `/master` prefix, the runtime delegating to the
//! master): `/state` (= `/state.json`), `/state-summary`, `/frameworks`, `/slaves`, `/tasks`
//! (`limit`, `offset`, `order`, `framework_id`, `task_id`), `/roles`, `/flags`, `/health`,
//! `/redirect`, `/teardown`. Every JSON answer honours `?jsonp=` (the runtime wraps it).
//! A master that does not lead redirects them (and `/teardown`) to the leader with `307`
//! (`503` when no leader is known); until the registry is recovered they answer `503`, as
//! Mesos does.
//!
//! The documents themselves are written by [`super::state_json`].

use libprocess::http::{Method, Request, Response, StatusCode};
use libprocess::{Context, Future, Handle, Pid, Process, call, call_future};
use mesos_core::v0;

use super::json_writer::JsonWriter;
use super::state_json;
use crate::master::MasterProcess;
use crate::master::state::FrameworkId;

/// Installs the JSON endpoints on the master, spawns `/version` and registers the metrics.
pub(crate) fn install(ctx: &mut Context<'_, MasterProcess>) {
    fn read_only(
        ctx: &mut Context<'_, MasterProcess>,
        path: &str,
        render: fn(&MasterProcess, &Request) -> Vec<u8>,
    ) {
        ctx.route(path, move |master: &mut MasterProcess, _ctx, request| {
            if let Some(redirect) = master.not_leading(&request) {
                return Future::ready(redirect);
            }
            if !master.recovered {
                return Future::ready(Response::service_unavailable(
                    "Master has not finished recovery",
                ));
            }
            Future::ready(Response::json_body(render(master, &request)))
        });
    }
    read_only(ctx, "/state", |m, _| state_json::state(m));
    read_only(ctx, "/state.json", |m, _| state_json::state(m));
    read_only(ctx, "/state-summary", |m, _| state_json::state_summary(m));
    read_only(ctx, "/frameworks", |m, r| {
        state_json::frameworks(m, r.query("framework_id"))
    });
    read_only(ctx, "/slaves", |m, r| {
        state_json::slaves(m, r.query("slave_id"))
    });
    read_only(ctx, "/tasks", |m, r| {
        let query = state_json::TasksQuery {
            limit: r.query("limit").map(str::to_owned),
            offset: r.query("offset").map(str::to_owned),
            order: r.query("order").map(str::to_owned),
            framework_id: r.query("framework_id").map(str::to_owned),
            task_id: r.query("task_id").map(str::to_owned),
        };
        state_json::tasks(m, &query)
    });
    read_only(ctx, "/roles", |m, _| state_json::roles(m));
    ctx.route("/flags", |master: &mut MasterProcess, _ctx, _request| {
        let mut w = JsonWriter::new();
        w.begin_object();
        w.key("flags");
        w.begin_object();
        for (name, value) in master.flags.to_pairs() {
            w.field_str(&name, &value);
        }
        w.end_object();
        w.end_object();
        Future::ready(Response::json_body(w.into_bytes()))
    });
    ctx.route("/health", |_: &mut MasterProcess, _ctx, _request| {
        Future::ready(Response::new(StatusCode::OK))
    });
    ctx.route("/redirect", |master: &mut MasterProcess, _ctx, request| {
        Future::ready(master.redirect(&request))
    });
    ctx.route("/teardown", |master: &mut MasterProcess, _ctx, request| {
        Future::ready(teardown(master, &request))
    });

    let runtime = ctx.runtime();
    // `/version` is its own process; a master restarted on the same runtime finds it there.
    let _ = runtime.spawn_with_id("version", VersionProcess);
    install_metrics(&runtime, &ctx.pid());
}

/// `/master/teardown`: POST with the form field `frameworkId`.
fn teardown(master: &mut MasterProcess, request: &Request) -> Response {
    if let Some(redirect) = master.not_leading(request) {
        return redirect;
    }
    if !master.recovered {
        return Response::service_unavailable("Master has not finished recovery");
    }
    if request.method != Method::POST {
        return Response::method_not_allowed(&["POST"], &request.method);
    }
    let body = request.body_bytes().cloned().unwrap_or_default();
    let form = String::from_utf8_lossy(&body);
    let Some(id) = form_value(&form, "frameworkId") else {
        return Response::bad_request("Missing 'frameworkId' query parameter in the request body");
    };
    let id = FrameworkId(id);
    if !master.state.frameworks.contains_key(&id) {
        return Response::bad_request("No framework found with specified ID");
    }
    master.remove_framework(&id);
    Response::new(StatusCode::OK)
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
pub(crate) fn form_value(form: &str, name: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key) == name).then(|| percent_decode(value))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = || {
            s.get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        };
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if hex().is_some() => {
                out.push(hex().expect("checked"));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serves `/version` (libprocess's `version` process, route `/`).
struct VersionProcess;

impl Process for VersionProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/", |_: &mut VersionProcess, _ctx, _request| {
            Future::ready(Response::json_body(version_json()))
        });
    }
}

/// `{"version":"1.11.0","build_date":...,"build_time":...,"build_user":...}`.
pub fn version_json() -> Vec<u8> {
    let mut w = JsonWriter::new();
    w.begin_object();
    state_json::write_build_fields(&mut w);
    w.end_object();
    w.into_bytes()
}

/// The master's gauges, by their upstream names (`docs/monitoring.md`); its counters
/// (`master/tasks_finished`, `master/messages_*`, ...) are
/// [`COUNTER_METRICS`](crate::master::metrics::COUNTER_METRICS).
pub const MASTER_METRICS: &[&str] = &[
    "master/uptime_secs",
    "master/elected",
    "master/slaves_connected",
    "master/slaves_disconnected",
    "master/slaves_active",
    "master/slaves_inactive",
    "master/slaves_unreachable",
    "master/recovery_slave_removals",
    "master/frameworks_connected",
    "master/frameworks_disconnected",
    "master/frameworks_active",
    "master/frameworks_inactive",
    "master/outstanding_offers",
    "master/tasks_staging",
    "master/tasks_starting",
    "master/tasks_running",
    "master/tasks_killing",
    "master/tasks_unreachable",
    "master/cpus_total",
    "master/cpus_used",
    "master/cpus_percent",
    "master/mem_total",
    "master/mem_used",
    "master/mem_percent",
    "master/disk_total",
    "master/disk_used",
    "master/disk_percent",
    "master/gpus_total",
    "master/gpus_used",
    "master/gpus_percent",
    "master/cpus_revocable_total",
    "master/cpus_revocable_used",
    "master/cpus_revocable_percent",
    "master/mem_revocable_total",
    "master/mem_revocable_used",
    "master/mem_revocable_percent",
    "master/disk_revocable_total",
    "master/disk_revocable_used",
    "master/disk_revocable_percent",
    "master/gpus_revocable_total",
    "master/gpus_revocable_used",
    "master/gpus_revocable_percent",
    "master/operator_event_stream_subscribers",
];

/// The allocator's gauges that exist whatever the cluster.
pub const ALLOCATOR_METRICS: &[&str] = &[
    "allocator/mesos/allocation_runs",
    "allocator/mesos/allocation_run_ms",
    "allocator/mesos/resources/cpus/total",
    "allocator/mesos/resources/cpus/offered_or_allocated",
    "allocator/mesos/resources/mem/total",
    "allocator/mesos/resources/mem/offered_or_allocated",
    "allocator/mesos/resources/disk/total",
    "allocator/mesos/resources/disk/offered_or_allocated",
    "allocator/mesos/resources/gpus/total",
    "allocator/mesos/resources/gpus/offered_or_allocated",
];

fn install_metrics(runtime: &Handle, pid: &Pid<MasterProcess>) {
    let metrics = runtime.metrics();
    for name in MASTER_METRICS {
        let pid = pid.clone();
        metrics.gauge_future(*name, move || {
            call(&pid, move |m: &mut MasterProcess| master_metric(m, name))
        });
    }
    for name in crate::master::metrics::COUNTER_METRICS {
        let pid = pid.clone();
        metrics.gauge_future(*name, move || {
            call(&pid, move |m: &mut MasterProcess| {
                m.state.counters.get(name).unwrap_or(0.0)
            })
        });
    }
    for name in ALLOCATOR_METRICS {
        let pid = pid.clone();
        metrics.gauge_future(*name, move || {
            call_future(&pid, move |m: &mut MasterProcess| {
                m.allocator.metrics().map(move |figures| {
                    let map = figures.to_map();
                    map.get(*name).copied().unwrap_or(0.0)
                })
            })
        });
    }
}

/// The value of master metric `name` now.
pub fn master_metric(master: &MasterProcess, name: &str) -> f64 {
    let state = &master.state;
    let name = name.strip_prefix("master/").unwrap_or(name);
    let count = |n: usize| n as f64;
    let tasks_in = |wanted: v0::TaskState| {
        let mut n = 0usize;
        for framework in state.frameworks.values() {
            let all = framework
                .tasks
                .values()
                .chain(framework.unreachable_tasks.iter())
                .chain(framework.completed_tasks.iter());
            n += all.filter(|t| t.state() == wanted).count();
        }
        for framework in &state.completed_frameworks {
            n += framework
                .completed_tasks
                .iter()
                .filter(|t| t.state() == wanted)
                .count();
        }
        n as f64
    };
    if let Some(resource) = name
        .strip_suffix("_total")
        .or_else(|| name.strip_suffix("_used"))
        .or_else(|| name.strip_suffix("_percent"))
    {
        let (resource, revocable) = match resource.strip_suffix("_revocable") {
            Some(r) => (r, true),
            None => (resource, false),
        };
        let sum = |resources: &mut dyn Iterator<Item = &v0::Resource>| -> f64 {
            resources
                .filter(|r| r.name == resource && r.revocable.is_some() == revocable)
                .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
                .sum()
        };
        let total = sum(&mut state.agents.values().flat_map(|a| a.total.iter()));
        let used = sum(&mut state
            .agents
            .values()
            .flat_map(|a| a.used.values().flat_map(|r| r.iter())));
        if name.ends_with("_total") {
            return total;
        }
        if name.ends_with("_used") {
            return used;
        }
        return if total > 0.0 { used / total } else { 0.0 };
    }
    match name {
        "uptime_secs" => master
            .now()
            .duration_since(master.start_time)
            .map_or(0.0, |d| d.as_secs_f64()),
        "elected" => f64::from(u8::from(master.elected())),
        "slaves_connected" => count(state.agents.values().filter(|a| a.connected).count()),
        "slaves_disconnected" => count(state.agents.values().filter(|a| !a.connected).count()),
        "slaves_active" => count(state.agents.values().filter(|a| a.active).count()),
        "slaves_inactive" => count(state.agents.values().filter(|a| !a.active).count()),
        "slaves_unreachable" => count(state.unreachable_agents.len()),
        "recovery_slave_removals" => 0.0,
        "frameworks_connected" => {
            count(state.frameworks.values().filter(|f| f.connected()).count())
        }
        "frameworks_disconnected" => {
            count(state.frameworks.values().filter(|f| !f.connected()).count())
        }
        "frameworks_active" => count(state.frameworks.values().filter(|f| f.active).count()),
        "frameworks_inactive" => count(state.frameworks.values().filter(|f| !f.active).count()),
        "outstanding_offers" => count(state.offers.len()),
        "tasks_staging" => tasks_in(v0::TaskState::TaskStaging),
        "tasks_starting" => tasks_in(v0::TaskState::TaskStarting),
        "tasks_running" => tasks_in(v0::TaskState::TaskRunning),
        "tasks_killing" => tasks_in(v0::TaskState::TaskKilling),
        "tasks_unreachable" => tasks_in(v0::TaskState::TaskUnreachable),
        "operator_event_stream_subscribers" => count(master.operator_events.len()),
        // Counters: events since the master started.
        _ => state.counters.get(name).unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_percent_decoded() {
        assert_eq!(
            form_value("a=1&frameworkId=x%2Dy+z", "frameworkId").as_deref(),
            Some("x-y z")
        );
        assert_eq!(
            form_value("frameworkId", "frameworkId").as_deref(),
            Some("")
        );
        assert_eq!(form_value("a=%zz%", "a").as_deref(), Some("%zz%"));
        assert_eq!(form_value("a=1", "b"), None);
    }
}

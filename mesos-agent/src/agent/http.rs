//! The agent's HTTP endpoints (upstream `src/slave/http.cpp`): `/state`, `/flags`,
//! `/health`, `/monitor/statistics`, the v1 operator API (`POST /api/v1`), and the agent's
//! metrics in the runtime's `/metrics/snapshot`.
//!
//! `/state` uses Mesos's "model" JSON (resources as an object of totals, tasks with their
//! statuses), not the protobuf mapping; the operator API answers v1 protobufs in JSON or
//! binary as negotiated.

use std::collections::BTreeMap;

use libprocess::http::{Method, Request, Response};
use libprocess::{Context, Future, Handle, Pid, await_all, call};
use mesos_core::resources::Resources;
use mesos_core::v0::{ExecutorInfo, Resource, ResourceStatistics, Task, TaskState, value};
use mesos_core::v1::agent::{Call, call, response};
use prost::Message;
use serde_json::{Value, json};

use super::executor_api::{negotiate, request_content_type};
use super::state::{ContentType, Executor, ExecutorState, Framework, create_task};
use super::{AgentProcess, AgentState, MESOS_VERSION, now_secs};

pub(super) fn install(ctx: &mut Context<'_, AgentProcess>) {
    ctx.route("/state", |a: &mut AgentProcess, _, request| {
        Future::ready(json_response(&request, &a.state_model()))
    });
    ctx.route("/state.json", |a: &mut AgentProcess, _, request| {
        Future::ready(json_response(&request, &a.state_model()))
    });
    ctx.route("/flags", |a: &mut AgentProcess, _, request| {
        Future::ready(json_response(
            &request,
            &json!({ "flags": a.flags.to_map() }),
        ))
    });
    ctx.route("/health", |_: &mut AgentProcess, _, _| {
        Future::ready(Response::new(libprocess::http::StatusCode::OK))
    });
    ctx.route("/monitor/statistics", |a: &mut AgentProcess, _, request| {
        a.statistics()
            .map(move |entries| json_response(&request, &Value::Array(entries.clone())))
    });
    ctx.route(
        "/monitor/statistics.json",
        |a: &mut AgentProcess, _, request| {
            a.statistics()
                .map(move |entries| json_response(&request, &Value::Array(entries.clone())))
        },
    );
    ctx.route("/api/v1", |a: &mut AgentProcess, _, request| {
        a.operator_api(request)
    });
}

/// A JSON response, wrapped for `?jsonp=`.
fn json_response(request: &Request, value: &Value) -> Response {
    match request.query("jsonp") {
        Some(callback) => {
            Response::ok(format!("{callback}({value})")).with_content_type("text/javascript")
        }
        None => Response::json(value),
    }
}

/// Registers the agent's metrics (upstream names) with the runtime.
pub(super) fn install_metrics(runtime: &Handle, pid: &Pid<AgentProcess>) {
    let metrics = runtime.metrics();
    let names: &[&str] = &[
        "slave/uptime_secs",
        "slave/registered",
        "slave/recovery_errors",
        "slave/frameworks_active",
        "slave/tasks_staging",
        "slave/tasks_starting",
        "slave/tasks_running",
        "slave/tasks_killing",
        "slave/tasks_finished",
        "slave/tasks_failed",
        "slave/tasks_killed",
        "slave/tasks_lost",
        "slave/tasks_gone",
        "slave/executors_registering",
        "slave/executors_running",
        "slave/executors_terminating",
        "slave/executors_terminated",
        "slave/valid_status_updates",
        "slave/invalid_status_updates",
        "slave/valid_framework_messages",
        "slave/invalid_framework_messages",
        "slave/container_launch_errors",
        "slave/cpus_total",
        "slave/cpus_used",
        "slave/cpus_percent",
        "slave/mem_total",
        "slave/mem_used",
        "slave/mem_percent",
        "slave/disk_total",
        "slave/disk_used",
        "slave/disk_percent",
        "slave/gpus_total",
        "slave/gpus_used",
        "slave/gpus_percent",
        "containerizer/mesos/container_destroy_errors",
    ];
    for name in names {
        let pid = pid.clone();
        let key = name.to_string();
        metrics.gauge_future(*name, move || {
            let key = key.clone();
            call(&pid, move |a: &mut AgentProcess| a.metric(&key))
        });
    }
}

fn scalar(resources: &Resources, name: &str) -> f64 {
    resources
        .get_scalar(name)
        .map(|q| q.as_f64())
        .unwrap_or(0.0)
}

impl AgentProcess {
    fn tasks_in(&self, state: TaskState) -> usize {
        self.frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .map(|e| {
                let queued = if state == TaskState::TaskStaging {
                    e.queued_tasks.len()
                } else {
                    0
                };
                queued
                    + e.launched_tasks
                        .values()
                        .filter(|t| t.state() == state)
                        .count()
            })
            .sum()
    }

    fn executors_in(&self, state: ExecutorState) -> usize {
        self.frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .filter(|e| e.state == state)
            .count()
    }

    fn used(&self) -> Resources {
        let mut used = Resources::new();
        for executor in self.frameworks.values().flat_map(|f| f.executors.values()) {
            used += executor.allocated();
        }
        used
    }

    fn metric(&self, name: &str) -> f64 {
        let percent = |resource: &str| {
            let total = scalar(&self.total, resource);
            if total > 0.0 {
                scalar(&self.used(), resource) / total
            } else {
                0.0
            }
        };
        match name {
            "slave/uptime_secs" => now_secs() - self.start_time,
            "slave/registered" => f64::from(u8::from(self.state == AgentState::Running)),
            "slave/recovery_errors" => self.recovery_errors as f64,
            "slave/frameworks_active" => self.frameworks.len() as f64,
            "slave/tasks_staging" => self.tasks_in(TaskState::TaskStaging) as f64,
            "slave/tasks_starting" => self.tasks_in(TaskState::TaskStarting) as f64,
            "slave/tasks_running" => self.tasks_in(TaskState::TaskRunning) as f64,
            "slave/tasks_killing" => self.tasks_in(TaskState::TaskKilling) as f64,
            "slave/tasks_finished" => self.stats.tasks_finished as f64,
            "slave/tasks_failed" => self.stats.tasks_failed as f64,
            "slave/tasks_killed" => self.stats.tasks_killed as f64,
            "slave/tasks_lost" => self.stats.tasks_lost as f64,
            "slave/tasks_gone" => self.stats.tasks_gone as f64,
            "slave/executors_registering" => self.executors_in(ExecutorState::Registering) as f64,
            "slave/executors_running" => self.executors_in(ExecutorState::Running) as f64,
            "slave/executors_terminating" => self.executors_in(ExecutorState::Terminating) as f64,
            "slave/executors_terminated" => self.stats.executors_terminated as f64,
            "slave/valid_status_updates" => self.stats.valid_status_updates as f64,
            "slave/invalid_status_updates" => self.stats.invalid_status_updates as f64,
            "slave/valid_framework_messages" => self.stats.valid_framework_messages as f64,
            "slave/invalid_framework_messages" => self.stats.invalid_framework_messages as f64,
            "slave/container_launch_errors" => self.stats.container_launch_errors as f64,
            "slave/cpus_total" => scalar(&self.total, "cpus"),
            "slave/cpus_used" => scalar(&self.used(), "cpus"),
            "slave/cpus_percent" => percent("cpus"),
            "slave/mem_total" => scalar(&self.total, "mem"),
            "slave/mem_used" => scalar(&self.used(), "mem"),
            "slave/mem_percent" => percent("mem"),
            "slave/disk_total" => scalar(&self.total, "disk"),
            "slave/disk_used" => scalar(&self.used(), "disk"),
            "slave/disk_percent" => percent("disk"),
            "slave/gpus_total" => scalar(&self.total, "gpus"),
            "slave/gpus_used" => scalar(&self.used(), "gpus"),
            "slave/gpus_percent" => percent("gpus"),
            _ => 0.0,
        }
    }

    /// `/state` (upstream `Http::state`, model JSON).
    pub(super) fn state_model(&self) -> Value {
        let mut attributes = serde_json::Map::new();
        for attribute in &self.info.attributes {
            attributes.insert(attribute.name.clone(), attribute_value(attribute));
        }
        let unreserved = self.total.unreserved();
        let mut reserved = serde_json::Map::new();
        for (role, resources) in self.total.reservations() {
            reserved.insert(role, resources_model(&resources.to_vec()));
        }
        json!({
            "version": MESOS_VERSION,
            "build_date": "",
            "build_time": 0,
            "build_user": "",
            "start_time": self.start_time,
            "id": self.info.id.as_ref().map(|i| i.value.clone()).unwrap_or_default(),
            "pid": self.upid.to_string(),
            "hostname": self.info.hostname,
            "port": self.info.port.unwrap_or(5051),
            "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT", "TASK_RESOURCE_LIMITS"],
            "resources": resources_model(&self.info.resources),
            "attributes": attributes,
            "master_hostname": self.master.as_ref().map(|m| m.address().ip().to_string()),
            "flags": self.flags.to_map(),
            "reserved_resources": reserved,
            "unreserved_resources": resources_model(&unreserved.to_vec()),
            "reserved_resources_full": {},
            "unreserved_resources_full": unreserved.to_vec().iter().map(resource_json).collect::<Vec<_>>(),
            "frameworks": self.frameworks.values().map(framework_model).collect::<Vec<_>>(),
            "completed_frameworks": self.completed_frameworks.iter().map(framework_model).collect::<Vec<_>>(),
        })
    }

    /// `/monitor/statistics`: each live executor's usage.
    fn statistics(&self) -> Future<Vec<Value>> {
        let mut entries = Vec::new();
        let mut futures = Vec::new();
        for framework in self.frameworks.values() {
            for executor in framework.executors.values() {
                if executor.state == ExecutorState::Terminated {
                    continue;
                }
                entries.push(json!({
                    "executor_id": executor.id.value,
                    "executor_name": executor.info.name.clone().unwrap_or_default(),
                    "framework_id": framework.id.value,
                    "source": executor.info.source.clone().unwrap_or_default(),
                }));
                futures.push(self.containerizer.usage(executor.container_id.clone()));
            }
        }
        await_all(futures).map(move |results| {
            let mut out = Vec::new();
            for (mut entry, result) in entries.clone().into_iter().zip(results.iter()) {
                if let Ok(statistics) = result.get() {
                    entry["statistics"] = statistics_json(&statistics);
                    out.push(entry);
                }
            }
            out
        })
    }

    /// `POST /api/v1` (upstream `Http::api`).
    fn operator_api(&mut self, request: Request) -> Future<Response> {
        if request.method != Method::POST {
            return Future::ready(Response::method_not_allowed(&["POST"], &request.method));
        }
        let content_type = match request_content_type(&request) {
            Ok(t) => t,
            Err(response) => return Future::ready(response),
        };
        let Some(accept) = negotiate(request.header("accept")) else {
            return Future::ready(Response::not_acceptable(
                "Expecting 'Accept' to allow application/json or application/x-protobuf",
            ));
        };
        let body = request.body_bytes().cloned().unwrap_or_default();
        let parsed: Result<Call, String> = match content_type {
            ContentType::Protobuf => Call::decode(body.as_ref())
                .map_err(|e| format!("Failed to parse body into Call protobuf: {e}")),
            ContentType::Json => std::str::from_utf8(&body)
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    mesos_core::json::from_str(text)
                        .map_err(|e| format!("Failed to convert JSON into Call protobuf: {e}"))
                }),
        };
        let call = match parsed {
            Ok(call) => call,
            Err(message) => return Future::ready(Response::bad_request(message)),
        };
        let Some(kind) = call.r#type.and_then(|t| call::Type::try_from(t).ok()) else {
            return Future::ready(Response::bad_request(
                "Failed to validate agent::Call: Expecting 'type' to be present",
            ));
        };
        let reply = move |r: mesos_core::v1::agent::Response| encode_response(&r, accept);
        let mut response = mesos_core::v1::agent::Response::default();
        match kind {
            call::Type::GetHealth => {
                response.set_type(response::Type::GetHealth);
                response.get_health = Some(response::GetHealth { healthy: true });
                Future::ready(reply(response))
            }
            call::Type::GetFlags => {
                response.set_type(response::Type::GetFlags);
                response.get_flags = Some(response::GetFlags {
                    flags: self
                        .flags
                        .to_map()
                        .into_iter()
                        .map(|(name, value)| mesos_core::v1::Flag {
                            name,
                            value: Some(value),
                        })
                        .collect(),
                });
                Future::ready(reply(response))
            }
            call::Type::GetVersion => {
                response.set_type(response::Type::GetVersion);
                response.get_version = Some(response::GetVersion {
                    version_info: mesos_core::v1::VersionInfo {
                        version: MESOS_VERSION.to_owned(),
                        ..Default::default()
                    },
                });
                Future::ready(reply(response))
            }
            call::Type::GetMetrics => {
                let runtime = libprocess::current();
                runtime.metrics().snapshot(None).map(move |snapshot| {
                    let mut response = mesos_core::v1::agent::Response::default();
                    response.set_type(response::Type::GetMetrics);
                    response.get_metrics = Some(response::GetMetrics {
                        metrics: snapshot
                            .iter()
                            .map(|(name, value)| mesos_core::v1::Metric {
                                name: name.clone(),
                                value: Some(*value),
                            })
                            .collect(),
                    });
                    reply(response)
                })
            }
            call::Type::GetState => {
                response.set_type(response::Type::GetState);
                response.get_state = Some(response::GetState {
                    get_tasks: Some(self.get_tasks()),
                    get_executors: Some(self.get_executors()),
                    get_frameworks: Some(self.get_frameworks()),
                });
                Future::ready(reply(response))
            }
            call::Type::GetTasks => {
                response.set_type(response::Type::GetTasks);
                response.get_tasks = Some(self.get_tasks());
                Future::ready(reply(response))
            }
            call::Type::GetExecutors => {
                response.set_type(response::Type::GetExecutors);
                response.get_executors = Some(self.get_executors());
                Future::ready(reply(response))
            }
            call::Type::GetFrameworks => {
                response.set_type(response::Type::GetFrameworks);
                response.get_frameworks = Some(self.get_frameworks());
                Future::ready(reply(response))
            }
            call::Type::GetAgent => {
                response.set_type(response::Type::GetAgent);
                response.get_agent = Some(response::GetAgent {
                    agent_info: Some(recode(&self.info)),
                    ..Default::default()
                });
                Future::ready(reply(response))
            }
            call::Type::GetContainers => self.get_containers().map(move |containers| {
                let mut response = mesos_core::v1::agent::Response::default();
                response.set_type(response::Type::GetContainers);
                response.get_containers = Some(containers.clone());
                reply(response)
            }),
            call::Type::ListFiles | call::Type::ReadFile => self.files_call(kind, call, accept),
            other => Future::ready(Response::not_implemented(format!(
                "Call type {} is not supported by this agent",
                other.as_str_name()
            ))),
        }
    }

    /// LIST_FILES and READ_FILE, through the files process.
    fn files_call(&self, kind: call::Type, call: Call, accept: ContentType) -> Future<Response> {
        let Some(files) = self.files.clone() else {
            return Future::ready(Response::service_unavailable(
                "No files process on this agent",
            ));
        };
        if kind == call::Type::ListFiles {
            let Some(list) = call.list_files else {
                return Future::ready(Response::bad_request(
                    "Failed to validate agent::Call: Expecting 'list_files' to be present",
                ));
            };
            return files.browse(list.path).map(move |result| match result {
                Ok(infos) => {
                    let mut response = mesos_core::v1::agent::Response::default();
                    response.set_type(response::Type::ListFiles);
                    response.list_files = Some(response::ListFiles {
                        file_infos: infos.iter().map(recode).collect(),
                    });
                    encode_response(&response, accept)
                }
                Err(error) => error.to_response(),
            });
        }
        let Some(read) = call.read_file else {
            return Future::ready(Response::bad_request(
                "Failed to validate agent::Call: Expecting 'read_file' to be present",
            ));
        };
        files
            .read(read.path, read.offset, read.length)
            .map(move |result| match result {
                Ok(read) => {
                    let mut response = mesos_core::v1::agent::Response::default();
                    response.set_type(response::Type::ReadFile);
                    response.read_file = Some(response::ReadFile {
                        size: read.size,
                        data: read.data.to_vec(),
                    });
                    encode_response(&response, accept)
                }
                Err(error) => error.to_response(),
            })
    }

    fn get_tasks(&self) -> response::GetTasks {
        let mut out = response::GetTasks::default();
        for framework in self.frameworks.values() {
            for executor in framework.executors.values() {
                let exposed = (!executor.command_executor).then(|| executor.id.clone());
                for task in executor.queued_tasks.values() {
                    let task =
                        create_task(task, TaskState::TaskStaging, &framework.id, exposed.clone());
                    out.queued_tasks.push(recode(&task));
                }
                out.launched_tasks
                    .extend(executor.launched_tasks.values().map(recode));
                out.terminated_tasks
                    .extend(executor.terminated_tasks.values().map(recode));
                out.completed_tasks
                    .extend(executor.completed_tasks.iter().map(recode));
            }
            for executor in &framework.completed_executors {
                out.completed_tasks
                    .extend(executor.completed_tasks.iter().map(recode));
            }
        }
        out
    }

    fn get_executors(&self) -> response::GetExecutors {
        let executor = |e: &Executor| response::get_executors::Executor {
            executor_info: recode(&e.info),
        };
        let mut out = response::GetExecutors::default();
        for framework in self.frameworks.values() {
            out.executors
                .extend(framework.executors.values().map(executor));
            out.completed_executors
                .extend(framework.completed_executors.iter().map(executor));
        }
        out
    }

    fn get_frameworks(&self) -> response::GetFrameworks {
        let framework = |f: &Framework| response::get_frameworks::Framework {
            framework_info: recode(&f.info),
        };
        response::GetFrameworks {
            frameworks: self.frameworks.values().map(framework).collect(),
            completed_frameworks: self.completed_frameworks.iter().map(framework).collect(),
        }
    }

    fn get_containers(&self) -> Future<response::GetContainers> {
        let mut containers = Vec::new();
        let mut futures = Vec::new();
        for framework in self.frameworks.values() {
            for executor in framework.executors.values() {
                if executor.state == ExecutorState::Terminated {
                    continue;
                }
                containers.push(response::get_containers::Container {
                    framework_id: Some(recode(&framework.id)),
                    executor_id: Some(recode(&executor.id)),
                    executor_name: executor.info.name.clone(),
                    container_id: recode(&executor.container_id),
                    container_status: None,
                    resource_statistics: None,
                });
                futures.push(self.containerizer.usage(executor.container_id.clone()));
            }
        }
        await_all(futures).map(move |results| {
            let mut containers = containers.clone();
            for (container, result) in containers.iter_mut().zip(results.iter()) {
                if let Ok(statistics) = result.get() {
                    container.resource_statistics = Some(recode(&statistics));
                }
            }
            response::GetContainers { containers }
        })
    }
}

fn recode<A: Message, B: Message + Default>(message: &A) -> B {
    mesos_core::convert::recode(message).expect("v0 and v1 twins share a wire format")
}

fn encode_response(response: &mesos_core::v1::agent::Response, accept: ContentType) -> Response {
    match accept {
        ContentType::Json => Response::json_body(mesos_core::json::to_string(response)),
        ContentType::Protobuf => {
            Response::ok(response.encode_to_vec()).with_content_type(accept.as_str())
        }
    }
}

fn resource_json(resource: &Resource) -> Value {
    let v1: mesos_core::v1::Resource = recode(resource);
    serde_json::from_str(&mesos_core::json::to_string(&v1)).unwrap_or(Value::Null)
}

fn statistics_json(statistics: &ResourceStatistics) -> Value {
    serde_json::from_str(&mesos_core::json::to_string(statistics)).unwrap_or(Value::Null)
}

fn attribute_value(attribute: &mesos_core::v0::Attribute) -> Value {
    match attribute.r#type() {
        value::Type::Scalar => json!(attribute.scalar.as_ref().map(|s| s.value).unwrap_or(0.0)),
        value::Type::Text => json!(
            attribute
                .text
                .as_ref()
                .map(|t| t.value.clone())
                .unwrap_or_default()
        ),
        value::Type::Ranges => json!(ranges_text(attribute.ranges.as_ref())),
        value::Type::Set => json!(format!(
            "{{{}}}",
            attribute
                .set
                .as_ref()
                .map(|s| s.item.join(", "))
                .unwrap_or_default()
        )),
    }
}

fn ranges_text(ranges: Option<&value::Ranges>) -> String {
    let parts: Vec<String> = ranges
        .map(|r| {
            r.range
                .iter()
                .map(|r| format!("{}-{}", r.begin, r.end))
                .collect()
        })
        .unwrap_or_default();
    format!("[{}]", parts.join(", "))
}

/// Resources as Mesos's model: an object of totals (`cpus`, `mem`, `disk`, `gpus` always).
pub fn resources_model(resources: &[Resource]) -> Value {
    let resources = Resources::from(resources.to_vec());
    let mut out = serde_json::Map::new();
    for name in ["cpus", "gpus", "mem", "disk"] {
        out.insert(name.to_owned(), json!(scalar(&resources, name)));
    }
    let mut names: BTreeMap<String, value::Type> = BTreeMap::new();
    for (name, kind) in resources.types() {
        names.insert(name.to_owned(), kind);
    }
    for (name, kind) in names {
        match kind {
            value::Type::Scalar => {
                out.insert(name.clone(), json!(scalar(&resources, &name)));
            }
            value::Type::Ranges => {
                let ranges = resources.get_ranges(&name).unwrap_or_default();
                let parts: Vec<String> = ranges
                    .iter()
                    .map(|r| format!("{}-{}", r.begin, r.end))
                    .collect();
                out.insert(name, json!(format!("[{}]", parts.join(", "))));
            }
            value::Type::Set => {
                let items = resources.get_set(&name).unwrap_or_default();
                out.insert(name, json!(format!("{{{}}}", items.join(", "))));
            }
            value::Type::Text => {}
        }
    }
    Value::Object(out)
}

/// A task as Mesos's model JSON.
pub fn task_model(task: &Task) -> Value {
    let statuses: Vec<Value> = task
        .statuses
        .iter()
        .map(|s| {
            let mut status = json!({
                "state": s.state().as_str_name(),
                "timestamp": s.timestamp.unwrap_or(0.0),
            });
            if let Some(container_status) = &s.container_status {
                let v1: mesos_core::v1::ContainerStatus = recode(container_status);
                status["container_status"] =
                    serde_json::from_str(&mesos_core::json::to_string(&v1)).unwrap_or(Value::Null);
            }
            if let Some(healthy) = s.healthy {
                status["healthy"] = json!(healthy);
            }
            status
        })
        .collect();
    let role = task
        .resources
        .first()
        .and_then(|r| r.allocation_info.as_ref())
        .and_then(|a| a.role.clone())
        .unwrap_or_else(|| "*".to_owned());
    json!({
        "id": task.task_id.value,
        "name": task.name,
        "framework_id": task.framework_id.value,
        "executor_id": task.executor_id.as_ref().map(|e| e.value.clone()).unwrap_or_default(),
        "slave_id": task.slave_id.value,
        "state": task.state().as_str_name(),
        "resources": resources_model(&task.resources),
        "role": role,
        "statuses": statuses,
    })
}

fn executor_model(executor: &Executor) -> Value {
    let info: &ExecutorInfo = &executor.info;
    let queued: Vec<Value> = executor
        .queued_tasks
        .values()
        .map(|t| {
            let exposed = (!executor.command_executor).then(|| executor.id.clone());
            task_model(&create_task(
                t,
                TaskState::TaskStaging,
                &executor.framework_id,
                exposed,
            ))
        })
        .collect();
    let tasks: Vec<Value> = executor
        .launched_tasks
        .values()
        .chain(executor.terminated_tasks.values())
        .map(task_model)
        .collect();
    json!({
        "id": executor.id.value,
        "name": info.name.clone().unwrap_or_default(),
        "source": info.source.clone().unwrap_or_default(),
        "container": executor.container_id.value,
        "directory": executor.directory.display().to_string(),
        "resources": resources_model(&executor.allocated().to_vec()),
        "role": info.resources.first().and_then(|r| r.allocation_info.as_ref()).and_then(|a| a.role.clone()).unwrap_or_else(|| "*".to_owned()),
        "type": if executor.command_executor { "COMMAND" } else { "CUSTOM" },
        "tasks": tasks,
        "queued_tasks": queued,
        "completed_tasks": executor.completed_tasks.iter().map(task_model).collect::<Vec<_>>(),
    })
}

fn framework_model(framework: &Framework) -> Value {
    let info = &framework.info;
    json!({
        "id": framework.id.value,
        "name": info.name,
        "user": info.user,
        "failover_timeout": info.failover_timeout.unwrap_or(0.0),
        "checkpoint": info.checkpoint.unwrap_or(false),
        "hostname": info.hostname.clone().unwrap_or_default(),
        "role": info.role.clone().unwrap_or_else(|| "*".to_owned()),
        "roles": info.roles,
        "principal": info.principal,
        "executors": framework.executors.values().map(executor_model).collect::<Vec<_>>(),
        "completed_executors": framework.completed_executors.iter().map(executor_model).collect::<Vec<_>>(),
    })
}

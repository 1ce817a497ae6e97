//! `mesos-execute`: Mesos's CLI that runs one command (or one task group) on a cluster,
//! printing its status updates as they come, and exits with the outcome: 0 when every task
//! finished, 1 otherwise.
//!
//! ```text
//! mesos-execute --master=127.0.0.1:5050 --name=hello --command='echo hello'
//! mesos-execute --master=127.0.0.1:5050 --name=sleepy --command='sleep 100' --kill_after=5secs
//! mesos-execute --master=127.0.0.1:5050 --name=many --command=true --count=10
//! ```
//!
//! It subscribes as the framework "mesos-execute instance" through the scheduler library,
//! launches on the first offers that hold the task's resources, acknowledges every update,
//! kills the tasks `--kill_after` their TASK_RUNNING, and tears the framework down at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use clap::Parser;
use libprocess::Runtime;
use mesos_client::ContentType;
use mesos_client::scheduler::{Scheduler, SchedulerConfig, SchedulerEvent, detector_for};
use mesos_core::convert::{devolve, evolve};
use mesos_core::resources::Resources;
use mesos_core::v1;
use mesos_core::v1::scheduler::event;

#[derive(Parser, Debug)]
#[command(
    name = "mesos-execute",
    rename_all = "snake_case",
    about = "Runs a command (or a task group) on a Mesos cluster and reports its status updates"
)]
struct Flags {
    /// The master: `host:port` (or `http://host:port`).
    #[arg(long)]
    master: String,
    /// The task's name (and ID); required unless --task or --task_group.
    #[arg(long)]
    name: Option<String>,
    /// The command to run; required unless --task or --task_group.
    #[arg(long)]
    command: Option<String>,
    /// Run the command through `/bin/sh -c` (false: the command is the program to exec).
    #[arg(long, default_value_t = true)]
    shell: bool,
    /// Environment of the command: a JSON object of names to values (or `file://path`).
    #[arg(long = "env")]
    environment: Option<String>,
    /// The task's resources.
    #[arg(long, default_value = "cpus:1;mem:128")]
    resources: String,
    /// A whole `TaskInfo` in JSON (or `file://path`), instead of --name/--command.
    #[arg(long)]
    task: Option<String>,
    /// A `TaskGroupInfo` in JSON (or `file://path`), launched with the default executor.
    #[arg(long)]
    task_group: Option<String>,
    /// Comma-separated framework capabilities to add (e.g. `PARTITION_AWARE,GPU_RESOURCES`).
    #[arg(long)]
    framework_capabilities: Option<String>,
    /// The role to subscribe with.
    #[arg(long, default_value = "*")]
    role: String,
    /// Enable checkpointing for the framework.
    #[arg(long, default_value_t = false)]
    checkpoint: bool,
    /// Kill the task this long after it is TASK_RUNNING (e.g. `10secs`).
    #[arg(long)]
    kill_after: Option<stout::Duration>,
    /// Launch this many copies of the task (named `<name>-<i>` when more than one).
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// The principal of the framework.
    #[arg(long)]
    principal: Option<String>,
    /// The secret for Basic authentication, with --principal.
    #[arg(long)]
    secret: Option<String>,
    /// `protobuf` or `json`.
    #[arg(long, default_value = "protobuf")]
    content_type: String,
    /// Make the framework PARTITION_AWARE.
    #[arg(long, default_value_t = false)]
    partition_aware: bool,
    /// The containerizer to use; only `mesos` exists here.
    #[arg(long, default_value = "mesos")]
    containerizer: String,
}

/// What to launch.
enum Launch {
    Tasks(Vec<v1::TaskInfo>),
    Group(v1::TaskGroupInfo),
}

impl Launch {
    fn tasks(&self) -> Vec<&v1::TaskInfo> {
        match self {
            Launch::Tasks(tasks) => tasks.iter().collect(),
            Launch::Group(group) => group.tasks.iter().collect(),
        }
    }
}

fn main() -> ExitCode {
    let flags: Flags = match stout::flags::try_parse_from("MESOS_EXECUTE_", std::env::args_os()) {
        Ok(flags) => flags,
        Err(error) => error.exit(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MESOS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(flags) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("mesos-execute: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(flags: Flags) -> Result<bool, String> {
    let content_type = match flags.content_type.to_ascii_lowercase().as_str() {
        "protobuf" => ContentType::Protobuf,
        "json" => ContentType::Json,
        other => return Err(format!("invalid content type '{other}' (json or protobuf)")),
    };
    if flags.containerizer != "mesos" {
        return Err(format!(
            "containerizer '{}' is not supported (only 'mesos')",
            flags.containerizer
        ));
    }
    if flags.count == 0 {
        return Err("--count must be at least 1".into());
    }
    let launch = build_launch(&flags)?;
    let framework = framework_info(&flags)?;
    let detector = detector_for(&flags.master).map_err(|e| e.to_string())?;
    let mut config = SchedulerConfig::new(framework).content_type(content_type);
    if let (Some(principal), Some(secret)) = (&flags.principal, &flags.secret) {
        config = config.credential(principal.clone(), secret.clone());
    }

    let runtime = Runtime::new();
    let (scheduler, events) = Scheduler::with_channel(runtime.handle(), config, detector);
    let outcome = drive(&scheduler, &events, &launch, &flags);
    let _ = scheduler.teardown().await_for(Duration::from_secs(5));
    let _ = scheduler.stop().await_for(Duration::from_secs(5));
    outcome
}

/// Runs the framework until every task is terminal; true if all finished.
fn drive(
    scheduler: &Scheduler,
    events: &std::sync::mpsc::Receiver<SchedulerEvent>,
    launch: &Launch,
    flags: &Flags,
) -> Result<bool, String> {
    let wanted: BTreeSet<String> = launch
        .tasks()
        .iter()
        .map(|t| t.task_id.value.clone())
        .collect();
    let mut pending: Vec<v1::TaskInfo> = match launch {
        Launch::Tasks(tasks) => tasks.clone(),
        Launch::Group(_) => Vec::new(),
    };
    let mut group_pending = matches!(launch, Launch::Group(_));
    let mut outcomes: BTreeMap<String, v1::TaskState> = BTreeMap::new();
    let mut kills: Vec<(Instant, v1::TaskId, v1::AgentId)> = Vec::new();

    while outcomes.len() < wanted.len() {
        let now = Instant::now();
        kills.retain(|(at, task_id, agent_id)| {
            if *at > now {
                return true;
            }
            println!("Asked to kill task '{}'", task_id.value);
            scheduler.kill(task_id.clone(), Some(agent_id.clone()), None);
            false
        });
        let wait = kills
            .iter()
            .map(|(at, _, _)| at.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(1));
        let event = match events.recv_timeout(wait) {
            Ok(SchedulerEvent::Event(event)) => *event,
            Ok(SchedulerEvent::Connected) | Ok(SchedulerEvent::Disconnected) => continue,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Err("the scheduler stopped".into()),
        };
        match event.r#type() {
            event::Type::Subscribed => {
                if let Some(id) = event.subscribed.as_ref().map(|s| &s.framework_id) {
                    println!("Subscribed with ID {}", id.value);
                }
            }
            event::Type::Offers => {
                for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
                    let operations = place(&mut pending, &mut group_pending, launch, &offer);
                    if operations.is_empty() {
                        scheduler.decline(vec![offer.id.clone()], None);
                    } else {
                        scheduler.accept(vec![offer.id.clone()], operations, None);
                    }
                }
            }
            event::Type::Update => {
                let Some(status) = event.update.map(|u| u.status) else {
                    continue;
                };
                report(&status);
                // The answer of the acknowledgement is not waited for: a lost one is sent
                // again by the agent and acknowledged then.
                let _ = scheduler.acknowledge(&status);
                let state = status.state();
                if state == v1::TaskState::TaskRunning
                    && let (Some(after), Some(agent_id)) = (flags.kill_after, &status.agent_id)
                {
                    let delay = Duration::from_secs_f64(after.as_secs_f64().max(0.0));
                    kills.push((
                        Instant::now() + delay,
                        status.task_id.clone(),
                        agent_id.clone(),
                    ));
                }
                if is_terminal(state) && wanted.contains(&status.task_id.value) {
                    outcomes.insert(status.task_id.value.clone(), state);
                }
            }
            event::Type::Error => {
                let message = event.error.map(|e| e.message).unwrap_or_default();
                return Err(format!("the master sent an error: {message}"));
            }
            event::Type::Failure => {
                if let Some(failure) = event.failure {
                    if let Some(status) = failure.status {
                        println!("Executor exited with status {status}");
                    } else if let Some(agent) = failure.agent_id {
                        println!("Agent {} was lost", agent.value);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(outcomes
        .values()
        .all(|state| *state == v1::TaskState::TaskFinished))
}

/// The launch operations that fit into `offer`, taking from what is still pending.
fn place(
    pending: &mut Vec<v1::TaskInfo>,
    group_pending: &mut bool,
    launch: &Launch,
    offer: &v1::Offer,
) -> Vec<v1::offer::Operation> {
    use v1::offer::operation::{Launch as LaunchOp, LaunchGroup, Type};
    let mut available: Resources = offer.resources.iter().map(devolve).collect();
    let role = offer
        .resources
        .iter()
        .find_map(|r| r.allocation_info.as_ref().and_then(|a| a.role.clone()));
    let mut take = |task: &v1::TaskInfo| -> Option<v1::TaskInfo> {
        let mut needed: Resources = task.resources.iter().map(devolve).collect();
        if let Some(role) = &role {
            needed.allocate(role);
        }
        if !available.contains(&needed) {
            return None;
        }
        available -= &needed;
        let mut placed = task.clone();
        placed.agent_id = offer.agent_id.clone();
        placed.resources = needed.iter().map(evolve).collect();
        Some(placed)
    };

    match launch {
        Launch::Tasks(_) => {
            let mut placed = Vec::new();
            let mut left = Vec::new();
            for task in pending.drain(..) {
                match take(&task) {
                    Some(task) => placed.push(task),
                    None => left.push(task),
                }
            }
            *pending = left;
            for task in &placed {
                println!(
                    "Submitted task '{}' to agent '{}'",
                    task.name, offer.agent_id.value
                );
            }
            if placed.is_empty() {
                return Vec::new();
            }
            vec![v1::offer::Operation {
                r#type: Some(Type::Launch as i32),
                launch: Some(LaunchOp { task_infos: placed }),
                ..Default::default()
            }]
        }
        Launch::Group(group) => {
            if !*group_pending {
                return Vec::new();
            }
            let placed: Option<Vec<v1::TaskInfo>> = group.tasks.iter().map(&mut take).collect();
            let Some(tasks) = placed else {
                return Vec::new();
            };
            *group_pending = false;
            let ids: Vec<&str> = tasks.iter().map(|t| t.task_id.value.as_str()).collect();
            println!(
                "Submitted task group with tasks [ {} ] to agent '{}'",
                ids.join(", "),
                offer.agent_id.value
            );
            let executor = v1::ExecutorInfo {
                r#type: Some(v1::executor_info::Type::Default as i32),
                executor_id: v1::ExecutorId {
                    value: format!("default-executor-{}", ids.join("-")),
                },
                framework_id: None,
                resources: {
                    let mut r: Resources = Resources::parse("cpus:0.1;mem:32;disk:32", "*")
                        .expect("constant resources parse");
                    if let Some(role) = &role {
                        r.allocate(role);
                    }
                    r.iter().map(evolve).collect()
                },
                ..Default::default()
            };
            vec![v1::offer::Operation {
                r#type: Some(Type::LaunchGroup as i32),
                launch_group: Some(LaunchGroup {
                    executor,
                    task_group: v1::TaskGroupInfo { tasks },
                }),
                ..Default::default()
            }]
        }
    }
}

fn report(status: &v1::TaskStatus) {
    println!(
        "Received status update {} for task '{}'",
        status.state().as_str_name(),
        status.task_id.value
    );
    if let Some(message) = &status.message {
        println!("  message: '{message}'");
    }
    if status.source.is_some() {
        println!("  source: {}", status.source().as_str_name());
    }
    if status.reason.is_some() {
        println!("  reason: {}", status.reason().as_str_name());
    }
    if let Some(healthy) = status.healthy {
        println!("  healthy?: {healthy}");
    }
}

fn is_terminal(state: v1::TaskState) -> bool {
    use v1::TaskState::*;
    matches!(
        state,
        TaskFinished
            | TaskFailed
            | TaskKilled
            | TaskError
            | TaskLost
            | TaskDropped
            | TaskGone
            | TaskGoneByOperator
    )
}

fn framework_info(flags: &Flags) -> Result<v1::FrameworkInfo, String> {
    use v1::framework_info::{Capability, capability::Type};
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .map_err(|e| format!("failed to get the user name: {e}"))?
        .map(|u| u.name)
        .ok_or("no user name for the current user")?;
    let mut capabilities = vec![Type::ReservationRefinement, Type::TaskKillingState];
    if flags.partition_aware {
        capabilities.push(Type::PartitionAware);
    }
    if let Some(list) = &flags.framework_capabilities {
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let capability = Type::from_str_name(&name.to_ascii_uppercase())
                .filter(|c| *c != Type::Unknown)
                .ok_or_else(|| format!("unknown framework capability '{name}'"))?;
            if capability == Type::MultiRole {
                return Err("MULTI_ROLE is not supported by mesos-execute (use --role)".into());
            }
            if !capabilities.contains(&capability) {
                capabilities.push(capability);
            }
        }
    }
    #[allow(deprecated)]
    let info = v1::FrameworkInfo {
        user,
        name: "mesos-execute instance".into(),
        role: Some(flags.role.clone()),
        checkpoint: Some(flags.checkpoint),
        principal: flags.principal.clone(),
        capabilities: capabilities
            .into_iter()
            .map(|c| Capability {
                r#type: Some(c as i32),
            })
            .collect(),
        ..Default::default()
    };
    Ok(info)
}

/// A flag value given inline or as `file://path`.
fn inline_or_file(value: &str) -> Result<String, String> {
    stout::flags::resolve_file_value(value).map_err(|e| e.to_string())
}

fn build_launch(flags: &Flags) -> Result<Launch, String> {
    match (&flags.task, &flags.task_group) {
        (Some(_), Some(_)) => Err("either --task or --task_group, not both".into()),
        (Some(task), None) => {
            let task: v1::TaskInfo = mesos_core::json::from_str(&inline_or_file(task)?)
                .map_err(|e| format!("invalid --task: {e}"))?;
            Ok(Launch::Tasks(copies(task, flags.count)))
        }
        (None, Some(group)) => {
            let group: v1::TaskGroupInfo = mesos_core::json::from_str(&inline_or_file(group)?)
                .map_err(|e| format!("invalid --task_group: {e}"))?;
            if group.tasks.is_empty() {
                return Err("--task_group holds no task".into());
            }
            Ok(Launch::Group(group))
        }
        (None, None) => {
            let name = flags.name.clone().ok_or("missing required option --name")?;
            let command = flags
                .command
                .clone()
                .ok_or("missing required option --command")?;
            let resources = Resources::parse(&flags.resources, "*")
                .map_err(|e| format!("failed to parse resources '{}': {e}", flags.resources))?;
            let environment = match &flags.environment {
                Some(text) => Some(environment(&inline_or_file(text)?)?),
                None => None,
            };
            let command = if flags.shell {
                v1::CommandInfo {
                    shell: Some(true),
                    value: Some(command),
                    environment,
                    ..Default::default()
                }
            } else {
                v1::CommandInfo {
                    shell: Some(false),
                    arguments: vec![command.clone()],
                    value: Some(command),
                    environment,
                    ..Default::default()
                }
            };
            let task = v1::TaskInfo {
                name: name.clone(),
                task_id: v1::TaskId { value: name },
                resources: resources.iter().map(evolve).collect(),
                command: Some(command),
                ..Default::default()
            };
            Ok(Launch::Tasks(copies(task, flags.count)))
        }
    }
}

/// `count` copies of `task`, named `<name>-<i>` when more than one.
fn copies(task: v1::TaskInfo, count: usize) -> Vec<v1::TaskInfo> {
    if count == 1 {
        return vec![task];
    }
    (0..count)
        .map(|i| {
            let mut copy = task.clone();
            copy.name = format!("{}-{i}", task.name);
            copy.task_id.value = format!("{}-{i}", task.task_id.value);
            copy
        })
        .collect()
}

/// `{"NAME": "value", ...}` as the command's environment.
fn environment(text: &str) -> Result<v1::Environment, String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("invalid --env (a JSON object): {e}"))?;
    let variables = map
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            v1::environment::Variable {
                name,
                value: Some(value),
                ..Default::default()
            }
        })
        .collect();
    Ok(v1::Environment { variables })
}

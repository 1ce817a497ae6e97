//! A small Mesos framework written with the scheduler library (`mesos_client::scheduler`):
//! it subscribes to a master, runs N command tasks on the offers it gets (several per
//! offer), acknowledges every update, prints what it saw, and exits 0 when every task
//! finished (1 otherwise).
//!
//! ```text
//! cargo run -p mesos-local --bin mesos-local -- --port=5050       # a cluster, elsewhere
//! cargo run -p examples --bin framework -- --master=127.0.0.1:5050 --tasks=10
//! ```
//!
//! Flags: `--master=HOST:PORT` (required), `--tasks=N` (10), `--command=CMD`
//! (`echo hello from $MESOS_TASK_ID`), `--cpus=X` (0.1), `--mem=MB` (32), `--timeout=SECS`
//! (60), `--name=NAME` (`example-framework`), `--role=ROLE` (`*`).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use libprocess::Runtime;
use mesos_client::ContentType;
use mesos_client::scheduler::{Scheduler, SchedulerConfig, SchedulerEvent, detector_for};
use mesos_core::v1;
use mesos_core::v1::scheduler::event;

struct Args {
    master: String,
    tasks: usize,
    command: String,
    cpus: f64,
    mem: f64,
    timeout: Duration,
    name: String,
    role: String,
}

const USAGE: &str = "usage: framework --master=HOST:PORT [--tasks=N] [--command=CMD] [--cpus=X] \
[--mem=MB] [--timeout=SECS] [--name=NAME] [--role=ROLE]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        master: String::new(),
        tasks: 10,
        command: "echo hello from $MESOS_TASK_ID".into(),
        cpus: 0.1,
        mem: 32.0,
        timeout: Duration::from_secs(60),
        name: "example-framework".into(),
        role: "*".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or(format!("{name} needs a value"))
        };
        let number = |text: String| -> Result<f64, String> {
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or(format!("{name}: '{text}' is not a non-negative number"))
        };
        match name.as_str() {
            "--master" => args.master = value()?,
            "--tasks" => args.tasks = value()?.parse().map_err(|e| format!("--tasks: {e}"))?,
            "--command" => args.command = value()?,
            "--cpus" => args.cpus = number(value()?)?,
            "--mem" => args.mem = number(value()?)?,
            "--timeout" => args.timeout = Duration::from_secs_f64(number(value()?)?),
            "--name" => args.name = value()?,
            "--role" => args.role = value()?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.master.is_empty() {
        return Err("--master is required".into());
    }
    Ok(args)
}

fn scalar(name: &str, value: f64, role: &str) -> v1::Resource {
    v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        allocation_info: Some(v1::resource::AllocationInfo {
            role: Some(role.into()),
        }),
        ..Default::default()
    }
}

fn offered(offer: &v1::Offer, name: &str) -> f64 {
    offer
        .resources
        .iter()
        .filter(|r| r.name == name)
        .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
        .sum()
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) if error.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("framework: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let detector = match detector_for(&args.master) {
        Ok(detector) => detector,
        Err(error) => {
            eprintln!("framework: bad --master: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = Runtime::new();
    let framework = v1::FrameworkInfo {
        user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
        name: args.name.clone(),
        roles: vec![args.role.clone()],
        capabilities: vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        }],
        ..Default::default()
    };
    let config = SchedulerConfig::new(framework).content_type(ContentType::Json);
    let (scheduler, events) = Scheduler::with_channel(runtime.handle(), config, detector);

    let start = Instant::now();
    let deadline = start + args.timeout;
    let mut launched = 0;
    let mut offers_seen = 0;
    // Task id -> its states, in order.
    let mut seen: BTreeMap<String, Vec<v1::TaskState>> = BTreeMap::new();
    let terminal = |states: &Vec<v1::TaskState>| {
        states.last().is_some_and(|s| {
            !matches!(
                s,
                v1::TaskState::TaskStaging
                    | v1::TaskState::TaskStarting
                    | v1::TaskState::TaskRunning
            )
        })
    };
    let done = |seen: &BTreeMap<String, Vec<v1::TaskState>>| {
        seen.len() == args.tasks && seen.values().all(terminal)
    };
    while !done(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            eprintln!("framework: timed out after {:?}", args.timeout);
            break;
        }
        let event = match events.recv_timeout(left) {
            Ok(SchedulerEvent::Event(event)) => *event,
            Ok(SchedulerEvent::Connected) => {
                println!("connected to {}", args.master);
                continue;
            }
            Ok(SchedulerEvent::Disconnected) => {
                println!("disconnected; the library reconnects");
                continue;
            }
            Err(_) => continue,
        };
        match event.r#type() {
            event::Type::Subscribed => {
                let subscribed = event.subscribed.unwrap_or_default();
                println!("subscribed as framework {}", subscribed.framework_id.value);
            }
            event::Type::Offers => {
                for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
                    offers_seen += 1;
                    let fit = (offered(&offer, "cpus") / args.cpus.max(1e-3))
                        .min(offered(&offer, "mem") / args.mem.max(1e-3))
                        as usize;
                    let count = fit.min(args.tasks - launched);
                    if count == 0 {
                        drop(scheduler.decline(vec![offer.id], None));
                        continue;
                    }
                    let tasks: Vec<v1::TaskInfo> = (launched..launched + count)
                        .map(|i| v1::TaskInfo {
                            name: format!("task-{i}"),
                            task_id: v1::TaskId {
                                value: format!("task-{i}"),
                            },
                            agent_id: offer.agent_id.clone(),
                            resources: vec![
                                scalar("cpus", args.cpus, &args.role),
                                scalar("mem", args.mem, &args.role),
                            ],
                            command: Some(v1::CommandInfo {
                                value: Some(args.command.clone()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        })
                        .collect();
                    for task in &tasks {
                        seen.entry(task.task_id.value.clone()).or_default();
                    }
                    println!(
                        "launching task-{launched}..task-{} on agent {} ({})",
                        launched + count - 1,
                        offer.agent_id.value,
                        offer.hostname
                    );
                    launched += count;
                    let launch = v1::offer::Operation {
                        r#type: Some(v1::offer::operation::Type::Launch as i32),
                        launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
                        ..Default::default()
                    };
                    drop(scheduler.accept(vec![offer.id], vec![launch], None));
                }
            }
            event::Type::Update => {
                let Some(update) = event.update else { continue };
                let status = update.status;
                let _ = scheduler.acknowledge(&status);
                println!(
                    "{:>8.3}s  {:<10} {}{}",
                    start.elapsed().as_secs_f64(),
                    status.task_id.value,
                    status.state().as_str_name(),
                    status
                        .message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                );
                seen.entry(status.task_id.value.clone())
                    .or_default()
                    .push(status.state());
            }
            event::Type::Error => {
                eprintln!(
                    "framework: the master says: {}",
                    event.error.map(|e| e.message).unwrap_or_default()
                );
                break;
            }
            _ => {}
        }
    }
    let _ = scheduler.teardown().await_for(Duration::from_secs(5));
    let _ = scheduler.stop().await_for(Duration::from_secs(5));
    runtime.shutdown_timeout(Duration::from_secs(5));

    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for states in seen.values() {
        let last = states.last().map_or("NOT_STARTED", |s| s.as_str_name());
        *outcomes.entry(last).or_default() += 1;
    }
    println!(
        "{} task(s) in {:.2}s over {offers_seen} offer(s): {}",
        args.tasks,
        start.elapsed().as_secs_f64(),
        outcomes
            .iter()
            .map(|(state, n)| format!("{n} {state}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let all_finished = seen.len() == args.tasks
        && seen
            .values()
            .all(|s| s.last() == Some(&v1::TaskState::TaskFinished));
    if all_finished {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

//! Master failover: a new leader and N agents reregistering with T tasks.
//!
//! `cargo run --release -p benches --bin failover -- [--json] [--runs N] [--agents N
//! --tasks T]`
//!
//! As Mesos's performance working group measured it: the registry already admits N agents
//! (written before the run through the registrar into a file in a fresh `--work_dir`); a
//! master starts on it (the moment it starts recovering its registry is the election); N
//! simulated agents, processes of a second runtime in this OS process talking to the
//! master over loopback TCP, each send the real `ReregisterSlaveMessage` (their `SlaveInfo`,
//! T/N RUNNING tasks, one executor per task, their frameworks) as soon as the master has
//! recovered; the clock stops when the last `SlaveReregisteredMessage` arrives. Reported:
//! that time (`failover`), and the part spent recovering the registry (`recovery`), medians of
//! `--runs` (3) fresh masters. Without `--agents`/`--tasks`, both shapes of the working group
//! run: 10,000 agents / 100,000 tasks and 40,000 agents / 400,000 tasks (Apache Mesos 1.5:
//! about 4.5 s and 19 s).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use benches::args::{Argv, CommonArgs};
use benches::measure::median;
use benches::report::{Better, Record};
use bytes::Bytes;
use libprocess::{Context, Message, Process, Runtime, Upid};
use mesos_core::{internal, v0};
use mesos_master::registrar::{FileStorage, Operation, Registrar};
use mesos_master::{Master, MasterFlags};
use prost::{Message as _, Name};

const HELP: &str = "failover: a new master leader and N agents reregistering with T tasks.

usage: failover [--json] [--runs N] [--agents N --tasks T] [--frameworks N]

  --json          one JSON object per line instead of a table
  --runs N        fresh masters measured per shape; the median is reported (default 3)
  --agents N      agents (with --tasks; default: both shapes 10000/100000 and 40000/400000)
  --tasks T       tasks over all agents
  --frameworks N  frameworks the tasks belong to, round robin (default 10)";

/// What the simulated agents share with the bench.
#[derive(Default)]
struct Shared {
    reregistered: AtomicUsize,
    expected: AtomicUsize,
    last: Mutex<Option<Instant>>,
    done: Condvar,
}

/// An agent after a master failover: it answers pings and counts its reregistration.
struct SimAgent {
    shared: Arc<Shared>,
}

impl Process for SimAgent {
    fn message(&mut self, ctx: &mut Context<'_, Self>, message: Message) {
        if message.name == internal::SlaveReregisteredMessage::full_name() {
            let now = Instant::now();
            let n = self.shared.reregistered.fetch_add(1, Ordering::AcqRel) + 1;
            if n == self.shared.expected.load(Ordering::Acquire) {
                *self.shared.last.lock().expect("not poisoned") = Some(now);
                self.shared.done.notify_all();
            }
        } else if message.name == internal::PingSlaveMessage::full_name() {
            ctx.send_protobuf(&message.from, &internal::PongSlaveMessage {});
        }
    }
}

fn scalar(name: &str, value: f64) -> v0::Resource {
    v0::Resource {
        name: name.into(),
        r#type: v0::value::Type::Scalar as i32,
        scalar: Some(v0::value::Scalar { value }),
        ..Default::default()
    }
}

fn framework_info(k: usize) -> v0::FrameworkInfo {
    v0::FrameworkInfo {
        user: "root".into(),
        name: format!("framework-{k}"),
        id: Some(v0::FrameworkId {
            value: format!("bench-framework-{k:04}"),
        }),
        checkpoint: Some(true),
        failover_timeout: Some(3600.0),
        hostname: Some(format!("scheduler-{k}.example.com")),
        ..Default::default()
    }
}

fn agent_info(agent: usize) -> v0::SlaveInfo {
    let ports = v0::Resource {
        name: "ports".into(),
        r#type: v0::value::Type::Ranges as i32,
        ranges: Some(v0::value::Ranges {
            range: vec![v0::value::Range {
                begin: 31000,
                end: 32000,
            }],
        }),
        ..Default::default()
    };
    v0::SlaveInfo {
        hostname: format!("agent-{agent}.example.com"),
        port: Some(5051),
        resources: vec![
            scalar("cpus", 24.0),
            scalar("mem", 65536.0),
            scalar("disk", 1_048_576.0),
            ports,
        ],
        id: Some(v0::SlaveId {
            value: format!("bench-S{agent}"),
        }),
        ..Default::default()
    }
}

/// Agent `agent`'s reregistration: `tasks` RUNNING tasks, each with its own executor.
fn reregistration(
    agent: usize,
    tasks: usize,
    frameworks: &[v0::FrameworkInfo],
) -> internal::ReregisterSlaveMessage {
    let info = agent_info(agent);
    let agent_id = info.id.clone().expect("set");
    let mut used_frameworks: Vec<v0::FrameworkInfo> = Vec::new();
    let mut executors = Vec::with_capacity(tasks);
    let tasks = (0..tasks)
        .map(|j| {
            let framework = &frameworks[(agent * tasks + j) % frameworks.len()];
            let framework_id = framework.id.clone().expect("set");
            if !used_frameworks.iter().any(|f| f.id == framework.id) {
                used_frameworks.push(framework.clone());
            }
            let task_id = v0::TaskId {
                value: format!("task-{agent}-{j}"),
            };
            let executor_id = v0::ExecutorId {
                value: format!("executor-{agent}-{j}"),
            };
            executors.push(v0::ExecutorInfo {
                executor_id: executor_id.clone(),
                framework_id: Some(framework_id.clone()),
                command: Some(v0::CommandInfo {
                    value: Some("sleep 1000".into()),
                    ..Default::default()
                }),
                resources: vec![scalar("cpus", 0.1), scalar("mem", 32.0)],
                ..Default::default()
            });
            let mut status = v0::TaskStatus {
                task_id: task_id.clone(),
                slave_id: Some(agent_id.clone()),
                executor_id: Some(executor_id.clone()),
                timestamp: Some(1_700_000_000.0 + (agent * tasks + j) as f64 / 1000.0),
                ..Default::default()
            };
            status.set_state(v0::TaskState::TaskRunning);
            status.set_source(v0::task_status::Source::Executor);
            let mut task = v0::Task {
                name: format!("task {agent}/{j}"),
                task_id,
                framework_id,
                executor_id: Some(executor_id),
                slave_id: agent_id.clone(),
                resources: vec![scalar("cpus", 0.5), scalar("mem", 256.0)],
                statuses: vec![status],
                ..Default::default()
            };
            task.set_state(v0::TaskState::TaskRunning);
            task
        })
        .collect();
    internal::ReregisterSlaveMessage {
        slave: info,
        tasks,
        executor_infos: executors,
        frameworks: used_frameworks,
        version: Some("1.11.0".into()),
        ..Default::default()
    }
}

/// Writes a registry admitting `agents` agents into `dir` (the registrar, file storage).
fn write_registry(dir: &std::path::Path, agents: usize) -> anyhow::Result<()> {
    let runtime = Runtime::builder().workers(1).build();
    let registrar = Registrar::spawn(
        runtime.handle(),
        Box::new(FileStorage::new(dir.join("registry"))),
    );
    let master = v0::MasterInfo {
        id: "bench-previous-leader".into(),
        ..Default::default()
    };
    registrar
        .recover(master)
        .get()
        .map_err(|e| anyhow::anyhow!("registry recovery: {e}"))?;
    let mut last = None;
    for agent in 0..agents {
        last = Some(registrar.apply(Operation::AdmitAgent(agent_info(agent))));
    }
    if let Some(last) = last {
        last.get()
            .map_err(|e| anyhow::anyhow!("admitting agents: {e}"))?;
    }
    registrar.terminate();
    Ok(())
}

struct Run {
    recovery_ms: f64,
    failover_ms: f64,
}

fn run_once(
    agents: usize,
    tasks: usize,
    frameworks: usize,
    run: usize,
    dir: &std::path::Path,
) -> anyhow::Result<Run> {
    let frameworks: Vec<v0::FrameworkInfo> = (0..frameworks).map(framework_info).collect();
    let per_agent = tasks / agents.max(1);
    let extra = tasks % agents.max(1);
    // The agents' messages, encoded before the clock starts (the agents' work).
    let name = internal::ReregisterSlaveMessage::full_name();
    let messages: Vec<Bytes> = (0..agents)
        .map(|i| {
            let n = per_agent + usize::from(i < extra);
            Bytes::from(reregistration(i, n, &frameworks).encode_to_vec())
        })
        .collect();

    // All agents write at once: room for every message (the default 64 MiB per peer would
    // drop some at 40,000 agents, where real agents would retry).
    let agent_runtime = Runtime::builder()
        .ip("127.0.0.1".parse().expect("an address"))
        .port(0)
        .workers(1)
        .max_peer_buffer(2 << 30)
        .build();
    let shared = Arc::new(Shared::default());
    shared.expected.store(agents, Ordering::Release);
    let mut stubs: Vec<Upid> = Vec::with_capacity(agents);
    for i in 0..agents {
        let pid = agent_runtime
            .spawn_with_id(
                format!("slave({})", i + 1),
                SimAgent {
                    shared: shared.clone(),
                },
            )
            .map_err(|e| anyhow::anyhow!("spawn: {e}"))?;
        stubs.push(pid.upid().clone());
    }

    let runtime = Runtime::builder()
        .ip("127.0.0.1".parse().expect("an address"))
        .port(0)
        .workers(2)
        .build();
    let mut flags = MasterFlags::default();
    flags.work_dir = Some(dir.to_path_buf());
    flags.registry = "replicated_log".into();

    // Elected: the master starts and recovers the registry.
    let start = Instant::now();
    let master = Master::start(flags, runtime.handle())?;
    anyhow::ensure!(master.recovered().get().unwrap_or(false), "master recovers");
    let recovered = start.elapsed();
    let master_upid = master.pid().upid().clone();
    for (stub, message) in stubs.iter().zip(messages) {
        agent_runtime.send(stub, &master_upid, name.clone(), message);
    }
    let deadline = Duration::from_secs(600);
    let progress = std::env::var_os("FAILOVER_PROGRESS").is_some();
    let mut last = shared.last.lock().expect("not poisoned");
    while last.is_none() {
        let (guard, timeout) = shared
            .done
            .wait_timeout(
                last,
                Duration::from_millis(if progress { 250 } else { 1000 }),
            )
            .expect("not poisoned");
        last = guard;
        if progress {
            eprintln!(
                "  {:.2} s: {} reregistered",
                start.elapsed().as_secs_f64(),
                shared.reregistered.load(Ordering::Acquire)
            );
        }
        anyhow::ensure!(
            last.is_some() || (!timeout.timed_out() || start.elapsed() < deadline),
            "only {} of {agents} agents reregistered in 10 minutes",
            shared.reregistered.load(Ordering::Acquire)
        );
    }
    let failover = last.expect("set").duration_since(start);
    drop(last);

    // Everything reported is known.
    let (known_agents, known_tasks) = master
        .inspect(|m| {
            let tasks: usize = m.state.frameworks.values().map(|f| f.tasks.len()).sum();
            (m.state.agents.len(), tasks)
        })
        .get()
        .expect("the master answers");
    anyhow::ensure!(
        known_agents == agents && known_tasks == tasks,
        "the master knows {known_agents} agents and {known_tasks} tasks"
    );
    eprintln!(
        "run {run}: {agents} agents, {tasks} tasks: recovered in {:.1} ms, all reregistered {:.1} ms after the election",
        recovered.as_secs_f64() * 1e3,
        failover.as_secs_f64() * 1e3
    );
    master.stop();
    let _ = master.wait().get();
    drop(runtime);
    drop(agent_runtime);
    Ok(Run {
        recovery_ms: recovered.as_secs_f64() * 1e3,
        failover_ms: failover.as_secs_f64() * 1e3,
    })
}

struct Args {
    common: CommonArgs,
    shapes: Vec<(usize, usize)>,
    frameworks: usize,
}

fn parse_args() -> Args {
    let mut argv = Argv::from_env();
    if argv.flag("--help") || argv.flag("-h") {
        println!("{HELP}");
        std::process::exit(0);
    }
    let parsed = (|| -> Result<Args, String> {
        let agents = argv.value::<usize>("--agents").map_err(|e| e.to_string())?;
        let tasks = argv.value::<usize>("--tasks").map_err(|e| e.to_string())?;
        let frameworks = argv
            .value::<usize>("--frameworks")
            .map_err(|e| e.to_string())?
            .unwrap_or(10)
            .max(1);
        let common = CommonArgs::parse(&mut argv).map_err(|e| e.to_string())?;
        let shapes = match (agents, tasks) {
            (None, None) => vec![(10_000, 100_000), (40_000, 400_000)],
            (Some(0), _) => return Err("--agents must be at least 1".into()),
            (Some(a), Some(t)) => vec![(a, t)],
            (Some(a), None) => vec![(a, a * 10)],
            (None, Some(_)) => return Err("--tasks needs --agents".into()),
        };
        Ok(Args {
            common,
            shapes,
            frameworks,
        })
    })();
    let args = match parsed {
        Ok(args) => args,
        Err(error) => {
            eprintln!("failover: {error}");
            std::process::exit(2);
        }
    };
    if let Err(error) = argv.finish() {
        eprintln!("failover: {error}");
        std::process::exit(2);
    }
    args
}

fn main() -> anyhow::Result<()> {
    let args = parse_args();
    let mut records = Vec::new();
    for &(agents, tasks) in &args.shapes {
        let dir: PathBuf = std::env::temp_dir().join(format!(
            "mesos-bench-failover-{}-{agents}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let setup = Instant::now();
        write_registry(&dir, agents)?;
        eprintln!(
            "failover: a registry of {agents} agents written in {:.1} s",
            setup.elapsed().as_secs_f64()
        );
        let mut failover_ms = Vec::new();
        let mut recovery_ms = Vec::new();
        for run in 0..args.common.runs.max(1) {
            let result = run_once(agents, tasks, args.frameworks, run, &dir)?;
            failover_ms.push(result.failover_ms);
            recovery_ms.push(result.recovery_ms);
        }
        let _ = std::fs::remove_dir_all(&dir);
        let workload = format!("{agents}x{tasks}");
        records.push(Record::new(
            "failover",
            workload.clone(),
            "failover",
            median(&failover_ms).expect("a run"),
            "ms",
            Better::Lower,
        ));
        records.push(Record::new(
            "failover",
            workload,
            "recovery",
            median(&recovery_ms).expect("a run"),
            "ms",
            Better::Lower,
        ));
    }
    if args.common.json {
        for record in &records {
            println!("{}", record.to_json());
        }
    } else {
        for pair in records.chunks(2) {
            println!(
                "master failover, {} agents x tasks: all reregistered {:.1} ms after the election (registry recovered in {:.1} ms), median",
                pair[0].workload, pair[0].value, pair[1].value
            );
        }
    }
    Ok(())
}

//! `GET /master/state` of a large cluster, over real HTTP, in-process.
//!
//! `cargo run --release -p benches --bin master-state -- [--json] [--runs N] [--agents N]
//! [--tasks-per-agent N] [--frameworks N]`
//!
//! A master (in-memory registry, paused clock so that no ping or allocation timer fires)
//! gets `--agents` (20,000) agents, each a small process that reregisters with the master
//! through the real `ReregisterSlaveMessage`, carrying `--tasks-per-agent` (10) RUNNING tasks
//! of `--frameworks` (10) frameworks: 200,000 tasks by default. The master admits them
//! through its registrar and allocator as it would after a failover. Then `/master/state`
//! is fetched `--runs` (5) times with the libprocess HTTP client on one connection each;
//! the figure is the median time from request to the last byte of the body, with the
//! document's size. Also reported: the median time the master spends writing the document
//! (the rest is the transfer and the client's parsing of the HTTP framing).
//!
//! Upstream Apache Mesos 1.8 takes about 3 s for the same `/state` request on a cluster of
//! this size.

use std::time::{Duration, Instant};

use benches::args::{Argv, CommonArgs};
use benches::measure::median;
use benches::report::{Better, Record};
use libprocess::http::StatusCode;
use libprocess::{Process, Runtime, Upid};
use mesos_core::{internal, v0};
use mesos_master::{Master, MasterFlags};
use prost::{Message as _, Name};

const HELP: &str = "master-state: GET /master/state of a master with many agents and tasks.

usage: master-state [--json] [--runs N] [--agents N] [--tasks-per-agent N] [--frameworks N]

  --json                one JSON object per line instead of a table
  --runs N              requests measured; the median is reported (default 5)
  --agents N            agents (default 20000)
  --tasks-per-agent N   RUNNING tasks on each agent (default 10)
  --frameworks N        frameworks the tasks belong to, round robin (default 10)";

/// Stands in for an agent: the master links to it; it ignores what it is sent.
struct AgentStub;

impl Process for AgentStub {}

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
        hostname: Some(format!("scheduler-{k}.example.com")),
        ..Default::default()
    }
}

fn reregistration(
    agent: usize,
    tasks: usize,
    frameworks: &[v0::FrameworkInfo],
) -> internal::ReregisterSlaveMessage {
    let agent_id = v0::SlaveId {
        value: format!("bench-S{agent}"),
    };
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
    let info = v0::SlaveInfo {
        hostname: format!("agent-{agent}.example.com"),
        port: Some(5051),
        resources: vec![
            scalar("cpus", 16.0),
            scalar("mem", 65536.0),
            scalar("disk", 1_048_576.0),
            ports,
        ],
        id: Some(agent_id.clone()),
        ..Default::default()
    };
    let mut used_frameworks = Vec::new();
    let tasks = (0..tasks)
        .map(|j| {
            let framework = &frameworks[(agent * tasks + j) % frameworks.len()];
            if !used_frameworks.contains(framework) {
                used_frameworks.push(framework.clone());
            }
            let task_id = v0::TaskId {
                value: format!("task-{agent}-{j}"),
            };
            let mut status = v0::TaskStatus {
                task_id: task_id.clone(),
                slave_id: Some(agent_id.clone()),
                timestamp: Some(1_700_000_000.0 + (agent * tasks + j) as f64 / 1000.0),
                ..Default::default()
            };
            status.set_state(v0::TaskState::TaskRunning);
            status.set_source(v0::task_status::Source::Executor);
            let mut task = v0::Task {
                name: format!("task {agent}/{j}"),
                task_id,
                framework_id: framework.id.clone().expect("set"),
                slave_id: agent_id.clone(),
                resources: vec![scalar("cpus", 0.1), scalar("mem", 32.0)],
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
        frameworks: used_frameworks,
        version: Some("1.11.0".into()),
        ..Default::default()
    }
}

/// Time this thread has run on a CPU, from `/proc/thread-self/schedstat` (Linux), in ms.
fn thread_cpu_ms() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e6)
}

struct Args {
    common: CommonArgs,
    agents: usize,
    tasks_per_agent: usize,
    frameworks: usize,
}

fn parse_args() -> Args {
    let mut argv = Argv::from_env();
    if argv.flag("--help") || argv.flag("-h") {
        println!("{HELP}");
        std::process::exit(0);
    }
    let explicit_runs = argv.clone().value::<usize>("--runs").ok().flatten();
    let parsed = (|| -> Result<Args, benches::args::ArgError> {
        let agents = argv.value::<usize>("--agents")?.unwrap_or(20_000);
        let tasks_per_agent = argv.value::<usize>("--tasks-per-agent")?.unwrap_or(10);
        let frameworks = argv.value::<usize>("--frameworks")?.unwrap_or(10).max(1);
        let mut common = CommonArgs::parse(&mut argv)?;
        common.runs = explicit_runs.unwrap_or(5);
        Ok(Args {
            common,
            agents,
            tasks_per_agent,
            frameworks,
        })
    })();
    let args = match parsed {
        Ok(args) => args,
        Err(error) => {
            eprintln!("master-state: {error}");
            std::process::exit(2);
        }
    };
    if let Err(error) = argv.finish() {
        eprintln!("master-state: {error}");
        std::process::exit(2);
    }
    args
}

fn main() -> anyhow::Result<()> {
    let args = parse_args();
    let runtime = Runtime::builder()
        .ip("127.0.0.1".parse().expect("an address"))
        .port(0)
        .workers(2)
        .build();
    runtime.clock().pause();
    let mut flags = MasterFlags::default();
    flags.registry = "in_memory".into();
    let master = Master::start(flags, runtime.handle())?;
    anyhow::ensure!(master.recovered().get().unwrap_or(false), "master recovers");
    let master_upid = master.pid().upid().clone();

    let setup = Instant::now();
    let frameworks: Vec<v0::FrameworkInfo> = (0..args.frameworks).map(framework_info).collect();
    let name = internal::ReregisterSlaveMessage::full_name();
    let mut stubs: Vec<Upid> = Vec::with_capacity(args.agents);
    for i in 0..args.agents {
        let pid = runtime
            .spawn_with_id(format!("slave({})", i + 1), AgentStub)
            .map_err(|e| anyhow::anyhow!("spawn: {e}"))?;
        stubs.push(pid.upid().clone());
    }
    for (i, stub) in stubs.iter().enumerate() {
        let message = reregistration(i, args.tasks_per_agent, &frameworks);
        runtime.send(stub, &master_upid, name.clone(), message.encode_to_vec());
    }
    loop {
        runtime.clock().settle();
        let (agents, tasks) = master
            .inspect(|m| {
                let tasks: usize = m.state.frameworks.values().map(|f| f.tasks.len()).sum();
                (m.state.agents.len(), tasks)
            })
            .get()
            .expect("the master answers");
        if agents == args.agents {
            anyhow::ensure!(
                tasks == args.agents * args.tasks_per_agent,
                "{tasks} tasks known"
            );
            break;
        }
        anyhow::ensure!(
            setup.elapsed() < Duration::from_secs(600),
            "only {agents} agents after 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let tasks = args.agents * args.tasks_per_agent;
    eprintln!(
        "master-state: {} agents, {tasks} tasks, {} frameworks admitted in {:.1} s",
        args.agents,
        args.frameworks,
        setup.elapsed().as_secs_f64()
    );

    let url = format!("http://{}/master/state", runtime.address());
    let mut request_ms = Vec::new();
    let mut render_ms = Vec::new();
    let mut size = 0usize;
    for run in 0..args.common.runs {
        let start = Instant::now();
        let response = libprocess::http::client::get(&url)
            .get()
            .map_err(|e| anyhow::anyhow!("GET /master/state: {e}"))?;
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(response.status == StatusCode::OK, "{}", response.status);
        size = response.body_bytes().map_or(0, |b| b.len());
        if run == 0 {
            // The document parses, and holds every task.
            let body = response.body_bytes().expect("a body");
            let state: serde_json::Value = serde_json::from_slice(body)?;
            let counted: usize = state["frameworks"]
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .map(|f| f["tasks"].as_array().map_or(0, Vec::len))
                        .sum()
                })
                .unwrap_or(0);
            anyhow::ensure!(counted == tasks, "{counted} tasks in /state");
        }
        let render = master
            .inspect(|m| {
                let (start, cpu) = (Instant::now(), thread_cpu_ms());
                let bytes = mesos_master::http::state_json::state(m);
                let cpu = thread_cpu_ms()
                    .zip(cpu)
                    .map(|(after, before)| after - before);
                let cached = mesos_master::http::state_json::cache_size(m);
                (
                    start.elapsed().as_secs_f64() * 1e3,
                    cpu,
                    bytes.len(),
                    cached,
                )
            })
            .get()
            .expect("the master answers");
        eprintln!(
            "run {run}: GET {elapsed:.1} ms, {size} bytes; writing alone {:.1} ms ({} on CPU); {:.1} MB of fragments cached",
            render.0,
            render
                .1
                .map_or("? ms".to_owned(), |cpu| format!("{cpu:.1} ms")),
            render.3 as f64 / 1e6
        );
        request_ms.push(elapsed);
        render_ms.push(render.0);
    }
    let workload = format!("{}x{tasks}", args.agents);
    let records = vec![
        Record::new(
            "master-state",
            workload.clone(),
            "get",
            median(&request_ms).expect("a run"),
            "ms",
            Better::Lower,
        ),
        Record::new(
            "master-state",
            workload.clone(),
            "write",
            median(&render_ms).expect("a run"),
            "ms",
            Better::Lower,
        ),
        Record::new(
            "master-state",
            workload,
            "size",
            size as f64 / 1e6,
            "MB",
            Better::Lower,
        ),
    ];
    if args.common.json {
        for record in &records {
            println!("{}", record.to_json());
        }
    } else {
        println!(
            "GET /master/state, {} agents, {tasks} tasks: median {:.1} ms ({:.1} ms writing), {:.1} MB",
            args.agents,
            records[0].value,
            records[1].value,
            size as f64 / 1e6
        );
    }
    master.stop();
    Ok(())
}

//! The hierarchical allocator alone, on a paused clock: how long one allocation run takes
//! when every offer is declined (upstream's `HierarchicalAllocator_BENCHMARK_Test.
//! DeclineOffers`, `src/tests/hierarchical_allocator_tests.cpp`).
//!
//! `cargo run --release -p benches --bin allocator -- [--json] [--runs N] [--only a,b]`
//!
//! Two figures per workload: the first measured cycle (`AxF first`) and the median of the
//! `--runs` cycles after it (`AxF later`, 10 unless given), each in wall time and in cpu
//! time of the runtime's threads (`, cpu`: what the cycle cost, whatever else runs on the
//! machine). Each later cycle finds every agent declined by one more framework.
//!
//! Each workload `AxF` has A agents of `cpus:24;mem:4096;disk:4096;ports:[31000-32000]`
//! and F frameworks in role `*`. On every agent a task of one framework (round robin)
//! uses `cpus:16;mem:2014;disk:1024` and ports fragmented as upstream's `fragment(31000-
//! 32000, 16)`, so each agent has `cpus:8;mem:2082;disk:3072` and 15 single ports left.
//! Then, for each measured run: every outstanding offer is declined with a filter for
//! `INT_MAX` seconds (a year, as the allocator caps it), the clock is advanced by the
//! allocation interval and the time until the runtime settles is taken, as upstream's
//! `Clock::advance(); Clock::settle()`. Each run offers every agent to one framework that
//! has not declined it yet, so a run's time includes making and delivering as many offers
//! as there are agents, plus skipping the frameworks that filter the agent.
//! Times are wall time, in milliseconds; the worker threads' cpu time is printed too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::bail;
use benches::args::{Argv, CommonArgs};
use benches::measure::median;
use benches::report::{Better, Record, render_table};
use libprocess::Runtime;
use mesos_core::resources::Resources;
use mesos_core::v0;
use mesos_master::allocator::{
    AgentId, Allocator, FrameworkId, FrameworkOptions, HierarchicalAllocator, Options,
};

/// (agents, frameworks) per workload.
const WORKLOADS: [(usize, usize); 3] = [(1_000, 100), (10_000, 1_000), (20_000, 2_000)];
const DEFAULT_RUNS: usize = 10;
const AGENT_RESOURCES: &str = "cpus:24;mem:4096;disk:4096;ports:[31000-32000]";

const HELP: &str =
    "allocator: one allocation run of the hierarchical allocator when every offer is declined
(upstream's DeclineOffers benchmark), for 1000x100, 10000x1000 and 20000x2000 agents x frameworks.

usage: allocator [--json] [--runs N] [--only 1000x100,10000x1000,20000x2000]

  --json            one JSON object per line instead of a table
  --runs N          allocation runs measured after the first; their median is reported
                    besides the first (default 10)
  --only a,b        run only these workloads";

fn workload_name(agents: usize, frameworks: usize) -> String {
    format!("{agents}x{frameworks}")
}

/// An offer as the callback hands it out.
struct Offered {
    framework: FrameworkId,
    agent: AgentId,
    resources: Resources,
}

/// The ports a task holds: upstream's `fragment([31000-32000], 16)`, i.e. 31000, 31002,
/// ..., 31028 and 31030-32000.
fn task_ports() -> v0::Resource {
    let mut ranges: Vec<v0::value::Range> = (0..15)
        .map(|i| v0::value::Range {
            begin: 31000 + 2 * i,
            end: 31000 + 2 * i,
        })
        .collect();
    ranges.push(v0::value::Range {
        begin: 31030,
        end: 32000,
    });
    v0::Resource {
        name: "ports".into(),
        r#type: v0::value::Type::Ranges as i32,
        ranges: Some(v0::value::Ranges { range: ranges }),
        ..Default::default()
    }
}

/// CPU time, in nanoseconds, of this process's threads other than the main one (the
/// runtime's workers and timer thread), from `/proc/self/task/*/schedstat`; `None` where
/// that is not available. Under contention from other programs it tells what a run cost,
/// where wall time also tells how long it waited for a core.
fn worker_cpu_ns() -> Option<u64> {
    let main = std::process::id().to_string();
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let task = task.ok()?;
        if task.file_name().to_str() == Some(main.as_str()) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

fn framework_info(id: &FrameworkId) -> v0::FrameworkInfo {
    v0::FrameworkInfo {
        user: "bench".into(),
        name: id.to_string(),
        id: Some(id.to_proto()),
        roles: vec!["*".into()],
        capabilities: vec![v0::framework_info::Capability {
            r#type: Some(v0::framework_info::capability::Type::MultiRole as i32),
        }],
        ..Default::default()
    }
}

fn agent_capabilities() -> Vec<v0::slave_info::Capability> {
    use v0::slave_info::capability::Type;
    [
        Type::MultiRole,
        Type::HierarchicalRole,
        Type::ReservationRefinement,
    ]
    .into_iter()
    .map(|t| v0::slave_info::Capability {
        r#type: Some(t as i32),
    })
    .collect()
}

/// Runs one workload; returns the wall time and the workers' cpu time of each measured
/// allocation run, in ms.
fn decline_offers(
    agents: usize,
    frameworks: usize,
    runs: usize,
) -> anyhow::Result<Vec<(f64, f64)>> {
    let name = workload_name(agents, frameworks);
    let runtime = Runtime::new();
    let clock = runtime.clock();
    clock.pause();

    let offers: Arc<Mutex<Vec<Offered>>> = Arc::default();
    let sink = offers.clone();
    let allocator = HierarchicalAllocator::spawn(runtime.handle());
    let options = Options::default();
    let interval = options.allocation_interval;
    allocator.initialize(
        options,
        Box::new(move |framework, by_role| {
            let mut sink = sink.lock().expect("offers lock");
            for (_role, by_agent) in by_role {
                for (agent, resources) in by_agent {
                    sink.push(Offered {
                        framework: framework.clone(),
                        agent,
                        resources,
                    });
                }
            }
        }),
        Box::new(|_, _| {}),
    );

    let started = Instant::now();
    let framework_ids: Vec<FrameworkId> = (0..frameworks)
        .map(|i| FrameworkId::new(format!("framework-{i:05}")))
        .collect();
    for id in &framework_ids {
        allocator.add_framework(
            id.clone(),
            framework_info(id),
            HashMap::new(),
            true,
            FrameworkOptions::default(),
        );
    }
    clock.settle();
    let frameworks_added = started.elapsed();

    let total = Resources::parse(AGENT_RESOURCES, "*")?;
    let mut used = Resources::parse("cpus:16;mem:2014;disk:1024", "*")?;
    used += task_ports();
    used.allocate("*");
    if !total.contains(&{
        let mut u = used.clone();
        u.unallocate();
        u
    }) {
        bail!("the task does not fit the agent");
    }

    let started = Instant::now();
    for i in 0..agents {
        let id = AgentId::new(format!("agent-{i:06}"));
        let info = v0::SlaveInfo {
            hostname: format!("agent-{i}.example.invalid"),
            id: Some(id.to_proto()),
            resources: total.to_vec(),
            ..Default::default()
        };
        allocator.add_agent(
            id,
            info,
            agent_capabilities(),
            total.clone(),
            HashMap::from([(framework_ids[i % frameworks].clone(), used.clone())]),
        );
    }
    clock.settle();
    let agents_added = started.elapsed();
    eprintln!(
        "{name}: added {frameworks} frameworks in {frameworks_added:.1?}, {agents} agents in {agents_added:.1?}"
    );

    let refuse = v0::Filters {
        refuse_seconds: Some(f64::from(i32::MAX)),
    };
    let mut declined = 0usize;
    let mut times = Vec::with_capacity(runs);
    for run in 0..runs {
        let outstanding = std::mem::take(&mut *offers.lock().expect("offers lock"));
        declined += outstanding.len();
        for offer in outstanding {
            allocator.recover_resources(
                offer.framework,
                offer.agent,
                offer.resources,
                Some(refuse),
                false,
            );
        }
        clock.settle();

        let cpu_before = worker_cpu_ns();
        let started = Instant::now();
        clock.advance(interval);
        clock.settle();
        let elapsed = started.elapsed();
        let cpu = worker_cpu_ns()
            .zip(cpu_before)
            .map_or(f64::NAN, |(after, before)| (after - before) as f64 / 1e6);
        let made = offers.lock().expect("offers lock").len();
        eprintln!(
            "{name}: run {run}: allocation took {:.2} ms ({cpu:.2} ms of cpu) to make {made} offers after {declined} were declined",
            elapsed.as_secs_f64() * 1e3
        );
        times.push((elapsed.as_secs_f64() * 1e3, cpu));
    }
    let metrics = allocator.metrics().get().expect("allocator metrics");
    eprintln!(
        "{name}: {} allocation runs, the last took {:.2} ms inside the allocator",
        metrics.allocation_runs,
        metrics.allocation_run_ms.unwrap_or(f64::NAN)
    );
    allocator.terminate();
    Ok(times)
}

fn main() -> anyhow::Result<()> {
    let mut argv = Argv::from_env();
    if argv.flag("--help") || argv.flag("-h") {
        println!("{HELP}");
        return Ok(());
    }
    let explicit_runs = argv.clone().value::<usize>("--runs")?.is_some();
    let common = match CommonArgs::parse(&mut argv) {
        Ok(common) => common,
        Err(error) => {
            eprintln!("allocator: {error}");
            std::process::exit(2);
        }
    };
    if let Err(error) = argv.finish() {
        eprintln!("allocator: {error}");
        std::process::exit(2);
    }
    let names: Vec<String> = WORKLOADS
        .iter()
        .map(|&(a, f)| workload_name(a, f))
        .collect();
    let known: Vec<&str> = names.iter().map(String::as_str).collect();
    if let Err(error) = common.check_names(&known, &["libprocess"]) {
        eprintln!("allocator: {error}");
        std::process::exit(2);
    }
    let runs = if explicit_runs {
        common.runs
    } else {
        DEFAULT_RUNS
    };

    let mut records = Vec::new();
    for &(agents, frameworks) in &WORKLOADS {
        let name = workload_name(agents, frameworks);
        if !common.wants_workload(&name) {
            continue;
        }
        let times = decline_offers(agents, frameworks, 1 + runs.max(1))?;
        let wall: Vec<f64> = times.iter().map(|(wall, _)| *wall).collect();
        let cpu: Vec<f64> = times.iter().map(|(_, cpu)| *cpu).collect();
        let later = median(&wall[1..]).expect("at least one later run");
        let later_cpu = median(&cpu[1..]).expect("at least one later run");
        for (workload, value) in [
            (format!("{name} first"), wall[0]),
            (format!("{name} later"), later),
            (format!("{name} first, cpu"), cpu[0]),
            (format!("{name} later, cpu"), later_cpu),
        ] {
            let record = Record::new(
                "allocator",
                workload,
                "libprocess",
                value,
                "ms",
                Better::Lower,
            );
            if common.json {
                println!("{}", record.to_json());
            }
            records.push(record);
        }
    }
    if !common.json {
        print!("{}", render_table(&records, "libprocess"));
    }
    Ok(())
}

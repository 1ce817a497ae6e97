//! End to end: a framework written with the scheduler library runs many `true` command
//! tasks on an in-process `mesos_local::Cluster`, through real HTTP, real agents and one
//! command executor process per task.
//!
//! `cargo build --release -p mesos-local -p mesos-agent --bins && cargo run --release -p benches --bin e2e -- [--json]`
//!
//! Each run starts a fresh cluster (a master and `--agents` agents, default 4, each offering
//! `cpus:64;mem:65536;disk:65536`, so that the whole load fits at once) in a fresh work
//! directory, with the master's `--allocation_interval` set to `--allocation-interval`
//! (default 50ms: what an accepted offer leaves unused comes back that soon). The command
//! executor is the one `mesos-local` itself would use: the `mesos-executor` binary next to
//! this one, else the `mesos-local` binary (it runs as `mesos-executor` when linked under
//! that name). A framework (JSON over `/api/v1/scheduler`) then answers
//! each offer with one `ACCEPT` launching as many tasks as fit (each `cpus:0.01;mem:1`,
//! command `true`), at most `--per-offer` (default 25) per offer and at most
//! `--max-in-flight` (default 40) launched and not yet finished (offers are held meanwhile),
//! until `--tasks` (default 1,000) are launched, acknowledging every update. Figures, each the median of `--runs`
//! runs (3 unless given):
//! - `tasks`: tasks per second from the first `ACCEPT` to the last `TASK_FINISHED`;
//! - `running-p50`, `running-p99`: the time from the `ACCEPT` that launched a task to its
//!   `TASK_RUNNING` reaching the framework;
//! - `finished-p50`: from the `ACCEPT` to `TASK_FINISHED`.
//!
//! A task ending in any other state fails the run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use benches::args::{Argv, CommonArgs};
use benches::measure::{median, rate};
use benches::report::{Better, Record, render_table};
use libprocess::Runtime;
use mesos_client::ContentType;
use mesos_client::scheduler::{Scheduler, SchedulerConfig, SchedulerEvent, StaticDetector};
use mesos_core::v1;
use mesos_core::v1::scheduler::event;
use mesos_local::{Cluster, LocalFlags};

const DEFAULT_TASKS: usize = 1_000;
const DEFAULT_AGENTS: usize = 4;
const DEFAULT_PER_OFFER: usize = 25;
const DEFAULT_RUNS: usize = 3;
/// Launched and not yet finished: more only queues executors behind each other on 2 cores.
const DEFAULT_MAX_IN_FLIGHT: usize = 40;
const TASK_CPUS: f64 = 0.01;
const TASK_MEM: f64 = 1.0;
const AGENT_RESOURCES: &str = "cpus:64;mem:65536;disk:65536";
/// A run that takes longer than this failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
const WORKLOADS: [&str; 4] = ["tasks", "running-p50", "running-p99", "finished-p50"];

const HELP: &str = "e2e: a framework launches many `true` command tasks on an in-process \
mesos-local cluster (a master and agents, one command executor process per task).

usage: e2e [--json] [--runs N] [--tasks N] [--agents N] [--per-offer N] [--max-in-flight N]
           [--allocation-interval DURATION] [--only tasks,running-p99,...]

  --json                  one JSON object per line instead of a table
  --runs N                fresh clusters; the median is reported (default 3)
  --tasks N               tasks per run (default 1000)
  --agents N              agents, each with cpus:64;mem:65536 (default 4)
  --per-offer N           most tasks launched by one ACCEPT (default 25)
  --max-in-flight N       most tasks launched and not finished (default 40)
  --allocation-interval D the master's --allocation_interval (default 50ms)
  --only a,b              report only these figures (tasks, running-p50, running-p99,
                          finished-p50)

Needs the mesos-local binary (and, used when there, mesos-executor) next to this one:
cargo build --release -p mesos-local -p mesos-agent --bins";

struct Settings {
    tasks: usize,
    agents: usize,
    per_offer: usize,
    max_in_flight: usize,
    allocation_interval: String,
    executor: PathBuf,
}

struct RunResult {
    elapsed: Duration,
    running: Vec<Duration>,
    finished: Vec<Duration>,
    accepts: usize,
}

fn scalar(name: &str, value: f64) -> v1::Resource {
    v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        allocation_info: Some(v1::resource::AllocationInfo {
            role: Some("*".into()),
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

fn task(index: usize, agent_id: &v1::AgentId) -> v1::TaskInfo {
    v1::TaskInfo {
        name: format!("e2e-{index}"),
        task_id: v1::TaskId {
            value: format!("e2e-{index}"),
        },
        agent_id: agent_id.clone(),
        resources: vec![scalar("cpus", TASK_CPUS), scalar("mem", TASK_MEM)],
        command: Some(v1::CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The `p`-th percentile (0..=100) of `values`, by the nearest-rank method.
fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn one_run(run: usize, settings: &Settings) -> anyhow::Result<RunResult> {
    let dir = std::env::temp_dir().join(format!("mesos-bench-e2e-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut flags = LocalFlags::parse([
        format!("--num_agents={}", settings.agents),
        format!("--resources={AGENT_RESOURCES}"),
        format!("--allocation_interval={}", settings.allocation_interval),
    ])
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    flags.work_dir = dir.clone();
    flags.port = 0;
    flags.agent_port = 0;
    flags.executor = Some(settings.executor.clone());
    let cluster = Cluster::launch(&flags).context("starting the cluster")?;
    let result = drive(&cluster, settings);
    cluster.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn drive(cluster: &Cluster, settings: &Settings) -> anyhow::Result<RunResult> {
    if !cluster.wait_for_agents(Duration::from_secs(60)) {
        bail!("the agents did not register within 60 s");
    }
    let runtime = Runtime::new();
    let framework = v1::FrameworkInfo {
        user: "root".into(),
        name: "e2e-bench".into(),
        roles: vec!["*".into()],
        capabilities: vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        }],
        ..Default::default()
    };
    let config = SchedulerConfig::new(framework).content_type(ContentType::Json);
    let detector = StaticDetector::new(&cluster.master_address().to_string())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (scheduler, events) = Scheduler::with_channel(runtime.handle(), config, detector);

    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut launched = 0;
    let mut accepted_at: HashMap<String, Instant> = HashMap::new();
    let mut running = Vec::with_capacity(settings.tasks);
    let mut finished = Vec::with_capacity(settings.tasks);
    let mut first_accept = None;
    let mut last_finished = None;
    let mut answers = Vec::new();
    let mut accepts = 0;
    let mut in_flight = 0;
    let mut held: Vec<v1::Offer> = Vec::new();
    let refuse = v1::Filters {
        refuse_seconds: Some(3600.0),
    };
    while finished.len() < settings.tasks {
        let left = deadline.saturating_duration_since(Instant::now());
        let item = match events.recv_timeout(left) {
            Ok(item) => item,
            Err(RecvTimeoutError::Timeout) => bail!(
                "timed out: {launched} launched, {} running, {} finished",
                running.len(),
                finished.len()
            ),
            Err(RecvTimeoutError::Disconnected) => bail!("the scheduler library stopped"),
        };
        let SchedulerEvent::Event(event) = item else {
            continue;
        };
        match event.r#type() {
            event::Type::Offers => {
                held.extend(event.offers.map(|o| o.offers).unwrap_or_default());
            }
            event::Type::Update => {
                let Some(update) = event.update else { continue };
                let status = update.status;
                let now = Instant::now();
                scheduler.acknowledge(&status);
                let since = accepted_at
                    .get(&status.task_id.value)
                    .map(|at| now.duration_since(*at));
                match status.state() {
                    v1::TaskState::TaskRunning => running.extend(since),
                    v1::TaskState::TaskFinished => {
                        finished.extend(since);
                        last_finished = Some(now);
                        in_flight -= 1;
                    }
                    v1::TaskState::TaskStaging | v1::TaskState::TaskStarting => {}
                    other => bail!(
                        "task {} ended {}: {}",
                        status.task_id.value,
                        other.as_str_name(),
                        status.message.unwrap_or_default()
                    ),
                }
            }
            event::Type::Error => bail!(
                "the master sent an error: {}",
                event.error.map(|e| e.message).unwrap_or_default()
            ),
            _ => {}
        }
        // Launch on the offers held, while fewer than --max-in-flight tasks are unfinished.
        while launched < settings.tasks && in_flight < settings.max_in_flight {
            let Some(offer) = held.pop() else { break };
            let fit = (offered(&offer, "cpus") / TASK_CPUS + 1e-6)
                .min(offered(&offer, "mem") / TASK_MEM + 1e-6) as usize;
            let count = fit
                .min(settings.per_offer)
                .min(settings.tasks - launched)
                .min(settings.max_in_flight - in_flight);
            if count == 0 {
                scheduler.decline(vec![offer.id.clone()], None);
                continue;
            }
            let tasks: Vec<v1::TaskInfo> = (launched..launched + count)
                .map(|i| task(i, &offer.agent_id))
                .collect();
            launched += count;
            in_flight += count;
            let now = Instant::now();
            first_accept.get_or_insert(now);
            for task in &tasks {
                accepted_at.insert(task.task_id.value.clone(), now);
            }
            let launch = v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Launch as i32),
                launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
                ..Default::default()
            };
            // What an ACCEPT leaves unused comes back at once; the last one refuses the rest.
            let filters = (launched == settings.tasks).then_some(refuse);
            answers.push(scheduler.accept(vec![offer.id.clone()], vec![launch], filters));
            accepts += 1;
        }
        if launched == settings.tasks && !held.is_empty() {
            let ids = held.drain(..).map(|o| o.id).collect();
            scheduler.decline(ids, Some(refuse));
        }
    }
    for answer in answers {
        match answer.get() {
            Ok(response) if response.status.as_u16() == 202 => {}
            Ok(response) => bail!("an ACCEPT was answered {}", response.status),
            Err(error) => bail!("an ACCEPT failed: {error}"),
        }
    }
    let _ = scheduler.teardown().await_for(Duration::from_secs(10));
    let _ = scheduler.stop().await_for(Duration::from_secs(10));
    runtime.shutdown_timeout(Duration::from_secs(5));
    let (Some(first), Some(last)) = (first_accept, last_finished) else {
        bail!("nothing was launched");
    };
    if running.is_empty() {
        bail!("no TASK_RUNNING was seen");
    }
    Ok(RunResult {
        elapsed: last.duration_since(first),
        running,
        finished,
        accepts,
    })
}

/// The command executor `mesos-local` would use, found next to this binary: the dedicated
/// `mesos-executor` binary when it is there, else `mesos-local` itself
/// ([`mesos_local::default_executor`]).
fn find_executor() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("finding this binary")?;
    let dir = me.parent().unwrap_or(Path::new("."));
    let candidate = dir.join("mesos-local");
    if candidate.is_file() {
        return Ok(mesos_local::default_executor(&candidate));
    }
    bail!(
        "no mesos-local binary at {} (the command executor of the cluster): build it with \
         `cargo build --release -p mesos-local -p mesos-agent --bins` (same target directory) \
         first",
        candidate.display()
    )
}

fn main() -> anyhow::Result<()> {
    let mut argv = Argv::from_env();
    if argv.flag("--help") || argv.flag("-h") {
        println!("{HELP}");
        return Ok(());
    }
    let explicit_runs = argv.clone().value::<usize>("--runs")?.is_some();
    let parsed = CommonArgs::parse(&mut argv).and_then(|common| {
        let tasks = argv.value::<usize>("--tasks")?;
        let agents = argv.value::<usize>("--agents")?;
        let per_offer = argv.value::<usize>("--per-offer")?;
        let interval = argv.value::<String>("--allocation-interval")?;
        let max_in_flight = argv.value::<usize>("--max-in-flight")?;
        Ok((common, tasks, agents, per_offer, interval, max_in_flight))
    });
    let (common, tasks, agents, per_offer, interval, max_in_flight) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("e2e: {error}");
            std::process::exit(2);
        }
    };
    if let Err(error) = argv
        .finish()
        .and_then(|()| common.check_names(&WORKLOADS, &["libprocess"]))
    {
        eprintln!("e2e: {error}");
        std::process::exit(2);
    }
    let executor = match find_executor() {
        Ok(executor) => executor,
        Err(error) => {
            eprintln!("e2e: {error}");
            std::process::exit(1);
        }
    };
    let settings = Settings {
        tasks: tasks.unwrap_or(DEFAULT_TASKS).max(1),
        agents: agents.unwrap_or(DEFAULT_AGENTS).max(1),
        per_offer: per_offer.unwrap_or(DEFAULT_PER_OFFER).max(1),
        max_in_flight: max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT).max(1),
        allocation_interval: interval.unwrap_or_else(|| "50ms".into()),
        executor,
    };
    let runs = if explicit_runs {
        common.runs
    } else {
        DEFAULT_RUNS
    };

    let mut rates = Vec::new();
    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    let mut finished_p50s = Vec::new();
    for run in 0..runs {
        let result = one_run(run, &settings)?;
        let p50 = percentile(&result.running, 50.0);
        let p99 = percentile(&result.running, 99.0);
        let finished_p50 = percentile(&result.finished, 50.0);
        let tasks_per_s = rate(settings.tasks as u64, result.elapsed);
        eprintln!(
            "run {}: {} tasks in {:.2} s ({tasks_per_s:.0}/s, {} ACCEPTs); ACCEPT->RUNNING \
             p50 {:.1} ms p99 {:.1} ms; ACCEPT->FINISHED p50 {:.1} ms",
            run + 1,
            settings.tasks,
            result.elapsed.as_secs_f64(),
            result.accepts,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            finished_p50.as_secs_f64() * 1e3,
        );
        rates.push(tasks_per_s);
        p50s.push(p50.as_secs_f64() * 1e3);
        p99s.push(p99.as_secs_f64() * 1e3);
        finished_p50s.push(finished_p50.as_secs_f64() * 1e3);
    }
    let figures = [
        ("tasks", median(&rates), "tasks/s", Better::Higher),
        ("running-p50", median(&p50s), "ms", Better::Lower),
        ("running-p99", median(&p99s), "ms", Better::Lower),
        ("finished-p50", median(&finished_p50s), "ms", Better::Lower),
    ];
    let mut records = Vec::new();
    for (name, value, unit, better) in figures {
        if !common.wants_workload(name) {
            continue;
        }
        let value = value.expect("at least one run");
        let record = Record::new("e2e", name, "libprocess", value, unit, better);
        if common.json {
            println!("{}", record.to_json());
        }
        records.push(record);
    }
    if !common.json {
        print!("{}", render_table(&records, "libprocess"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&values, 99.0), Duration::from_millis(99));
        assert_eq!(
            percentile(&[Duration::from_millis(7)], 99.0),
            Duration::from_millis(7)
        );
    }
}

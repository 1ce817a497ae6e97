//! Launching and destroying many containers on one agent's containerizer (the Mesos
//! containerizer with the posix launcher, no image, the default `posix/cpu,posix/mem`
//! isolation), as upstream's launch/destroy scale tests do.
//!
//! `cargo run --release -p benches --bin containers -- [--json] [--runs N] [--containers N]`
//!
//! Each run starts a fresh runtime and containerizer (runtime directory and sandboxes in a
//! fresh temporary directory), launches `--containers` (default 1,000) containers running
//! `sleep 1000` all at once (every `launch` issued, then all awaited), checks that they all
//! run, then destroys them all at once and waits until every one is gone. Figures: the
//! time until the last launch completed and until the last destroy completed, and the
//! rates (containers per second); each the median of `--runs` runs (3 unless given).
//! Needs root (sessions, setting up sandboxes for other users); without it, says so and
//! exits 0.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use benches::args::{Argv, CommonArgs};
use benches::measure::{median, rate};
use benches::report::{Better, Record, render_table};
use libprocess::{Future, Runtime, collect};
use mesos_agent::containerizer::{ContainerConfig, Containerizer, LauncherKind};
use mesos_core::v0::ContainerId;

const DEFAULT_CONTAINERS: usize = 1_000;
const DEFAULT_RUNS: usize = 3;
const WORKLOADS: [&str; 4] = ["launch", "destroy", "launch-total", "destroy-total"];

const HELP: &str = "containers: launch, then destroy, many command containers at once on one \
containerizer (posix launcher, no image, sleeping commands).

usage: containers [--json] [--runs N] [--containers N] [--only launch,destroy,...]

  --json            one JSON object per line instead of a table
  --runs N          fresh runs; the median is reported (default 3)
  --containers N    containers per run (default 1000)
  --only a,b        report only these figures (launch, destroy, launch-total, destroy-total)

Needs root.";

struct RunResult {
    launch: Duration,
    destroy: Duration,
}

fn container_id(run: usize, i: usize) -> ContainerId {
    ContainerId {
        value: format!("bench-{run}-{i}"),
        ..Default::default()
    }
}

fn one_run(run: usize, containers: usize) -> anyhow::Result<RunResult> {
    let base = std::env::temp_dir().join(format!(
        "mesos-bench-containers-{}-{run}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&base);
    let sandboxes: Vec<PathBuf> = (0..containers)
        .map(|i| base.join("sandboxes").join(i.to_string()))
        .collect();
    for dir in &sandboxes {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }

    let runtime = Runtime::new();
    let _guard = runtime.enter();
    let containerizer = Containerizer::builder()
        .launcher(LauncherKind::Posix)
        .runtime_dir(base.join("runtime"))
        .build()
        .context("building the containerizer")?;
    let ids: Vec<ContainerId> = (0..containers).map(|i| container_id(run, i)).collect();

    let start = Instant::now();
    let launches: Vec<Future<()>> = ids
        .iter()
        .zip(&sandboxes)
        .map(|(id, sandbox)| {
            containerizer.launch(
                id.clone(),
                ContainerConfig::shell("exec sleep 1000", sandbox),
            )
        })
        .collect();
    let launched = collect(launches).get();
    let launch = start.elapsed();
    if let Err(error) = launched {
        bail!("a launch failed: {error}");
    }
    let running = containerizer
        .containers()
        .get()
        .map_err(anyhow::Error::msg)?;
    if running.len() != containers {
        bail!(
            "{} containers running, {containers} expected",
            running.len()
        );
    }

    let start = Instant::now();
    let destroys: Vec<Future<_>> = ids
        .iter()
        .map(|id| containerizer.destroy(id.clone()))
        .collect();
    let destroyed = collect(destroys).get();
    let destroy = start.elapsed();
    let terminations = destroyed.map_err(|e| anyhow::anyhow!("a destroy failed: {e}"))?;
    if terminations.iter().any(Option::is_none) {
        bail!("a container was unknown at destroy");
    }
    let left = containerizer
        .containers()
        .get()
        .map_err(anyhow::Error::msg)?;
    if !left.is_empty() {
        bail!("{} containers left after destroy", left.len());
    }
    let _ = containerizer.terminate().get();
    let _ = std::fs::remove_dir_all(&base);
    Ok(RunResult { launch, destroy })
}

/// True if this process's effective uid is 0 (from `/proc/self/status`).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

fn main() -> anyhow::Result<()> {
    let mut argv = Argv::from_env();
    if argv.flag("--help") || argv.flag("-h") {
        println!("{HELP}");
        return Ok(());
    }
    let explicit_runs = argv.clone().value::<usize>("--runs")?.is_some();
    let parsed = CommonArgs::parse(&mut argv).and_then(|common| {
        let containers = argv.value::<usize>("--containers")?;
        Ok((common, containers))
    });
    let (common, containers) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("containers: {error}");
            std::process::exit(2);
        }
    };
    if let Err(error) = argv
        .finish()
        .and_then(|()| common.check_names(&WORKLOADS, &["libprocess"]))
    {
        eprintln!("containers: {error}");
        std::process::exit(2);
    }
    if !is_root() {
        println!("containers: needs root (containers run in their own sessions); skipped");
        return Ok(());
    }
    let containers = containers.unwrap_or(DEFAULT_CONTAINERS).max(1);
    let runs = if explicit_runs {
        common.runs
    } else {
        DEFAULT_RUNS
    };

    let mut launches = Vec::new();
    let mut destroys = Vec::new();
    for run in 0..runs {
        let result = one_run(run, containers)?;
        eprintln!(
            "run {}: launched {containers} in {:.2} s, destroyed in {:.2} s",
            run + 1,
            result.launch.as_secs_f64(),
            result.destroy.as_secs_f64()
        );
        launches.push(result.launch);
        destroys.push(result.destroy);
    }
    let secs = |d: &[Duration]| d.iter().map(Duration::as_secs_f64).collect::<Vec<_>>();
    let rates = |d: &[Duration]| {
        d.iter()
            .map(|d| rate(containers as u64, *d))
            .collect::<Vec<_>>()
    };
    let figures = [
        (
            "launch",
            median(&rates(&launches)),
            "containers/s",
            Better::Higher,
        ),
        (
            "destroy",
            median(&rates(&destroys)),
            "containers/s",
            Better::Higher,
        ),
        ("launch-total", median(&secs(&launches)), "s", Better::Lower),
        (
            "destroy-total",
            median(&secs(&destroys)),
            "s",
            Better::Lower,
        ),
    ];
    let mut records = Vec::new();
    for (name, value, unit, better) in figures {
        if !common.wants_workload(name) {
            continue;
        }
        let value = value.expect("at least one run");
        let record = Record::new("containers", name, "libprocess", value, unit, better);
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

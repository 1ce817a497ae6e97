//! The shootout: our runtime (libprocess) against raw tokio mpsc tasks, actix, ractor and
//! kameo on the same workloads, in one run; prints the medians as a table or JSON lines.
//!
//! `cargo run --release -p benches --bin shootout -- [--json] [--runs N] [--only a,b]
//! [--systems a,b] [--scale F]`. Workloads and methodology: `benches/README.md` and
//! `benches::shootout`.

use std::collections::HashMap;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use benches::args::{ArgError, Argv, CommonArgs};
use benches::measure::median;
use benches::report::{Record, format_value, render_table};
use benches::shootout::{Sizes, System, Workload, calibrate, measure};

/// Hidden option: measure idle memory of one system in this (fresh) process and print it.
const CHILD: &str = "--idle-memory-child";

/// How long one measurement of a message workload should last (times `--scale`).
const TARGET: Duration = Duration::from_millis(500);

fn usage() -> String {
    let workloads: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
    let systems: Vec<&str> = System::ALL.iter().map(|s| s.name()).collect();
    format!(
        "usage: shootout [options]\n\n{}\n  --scale F         multiply the time per measurement and the process counts by F (default 1)\n\n\
         workloads: {}\nsystems: {}",
        CommonArgs::HELP,
        workloads.join(", "),
        systems.join(", ")
    )
}

/// What the command line asks for.
struct Options {
    common: CommonArgs,
    scale: f64,
    /// Set in the idle-memory child: the system to measure.
    child: Option<System>,
}

fn parse_options(mut argv: Argv) -> Result<Options, ArgError> {
    let common = CommonArgs::parse(&mut argv)?;
    let scale: f64 = argv.value("--scale")?.unwrap_or(1.0);
    let child: Option<String> = argv.value(CHILD)?;
    argv.finish()?;
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(ArgError::BadValue {
            name: "--scale".into(),
            value: scale.to_string(),
            reason: "must be a positive number".into(),
        });
    }
    let child = match child {
        None => None,
        Some(name) => Some(System::from_name(&name).ok_or_else(|| ArgError::BadValue {
            name: CHILD.into(),
            value: name,
            reason: "unknown system".into(),
        })?),
    };
    let workload_names: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
    let system_names: Vec<&str> = System::ALL.iter().map(|s| s.name()).collect();
    common.check_names(&workload_names, &system_names)?;
    Ok(Options {
        common,
        scale,
        child,
    })
}

fn main() -> ExitCode {
    let mut argv = Argv::from_env();
    if argv.flag("--help") || argv.flag("-h") {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    let options = match parse_options(argv) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("shootout: {error}");
            return ExitCode::from(2);
        }
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("shootout: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: Options) -> anyhow::Result<()> {
    let Options {
        common,
        scale,
        child,
    } = options;
    let sizes = Sizes::scaled(scale);
    if let Some(system) = child {
        println!("{}", measure(system, Workload::IdleMemory, &sizes)?);
        return Ok(());
    }
    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| common.wants_workload(w.name()))
        .collect();
    let systems: Vec<System> = System::ALL
        .into_iter()
        .filter(|s| common.wants_system(s.name()))
        .collect();

    // Run after run, every system in turn within each workload, so drift on a shared machine
    // spreads over all systems alike. Message workloads are sized per system on first use.
    let target = TARGET.mul_f64(scale);
    let mut sized: HashMap<(Workload, System), Sizes> = HashMap::new();
    let mut samples: HashMap<(Workload, System), Vec<f64>> = HashMap::new();
    for run in 1..=common.runs {
        for &workload in &workloads {
            for &system in &systems {
                let sizes = match sized.get(&(workload, system)) {
                    Some(sizes) => *sizes,
                    None => {
                        let fitted = calibrate(system, workload, &sizes, target)?;
                        *sized.entry((workload, system)).or_insert(fitted)
                    }
                };
                let started = Instant::now();
                let value = if workload == Workload::IdleMemory {
                    idle_memory_in_child(system, scale)?
                } else {
                    measure(system, workload, &sizes)?
                };
                eprintln!(
                    "run {run}/{}: {:<11} {:<10} {:>7} {:<6} ({:.2} s{})",
                    common.runs,
                    workload.name(),
                    system.name(),
                    format_value(value, workload.unit()),
                    workload.unit(),
                    started.elapsed().as_secs_f64(),
                    sizes
                        .count(workload)
                        .map_or(String::new(), |n| format!(", count {n}"))
                );
                samples.entry((workload, system)).or_default().push(value);
            }
        }
    }

    let mut records = Vec::new();
    for &workload in &workloads {
        for &system in &systems {
            if let Some(value) = samples.get(&(workload, system)).and_then(|v| median(v)) {
                records.push(Record::new(
                    "shootout",
                    workload.name(),
                    system.name(),
                    value,
                    workload.unit(),
                    workload.better(),
                ));
            }
        }
    }
    if common.json {
        for record in &records {
            println!("{}", record.to_json());
        }
    } else {
        println!(
            "shootout: median of {} run(s), {} CPU(s); libprocess with its default workers",
            common.runs,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        print!("{}", render_table(&records, System::Libprocess.name()));
    }
    Ok(())
}

/// Idle memory of `system`, measured in a fresh copy of this binary so that the heap left by
/// earlier workloads does not absorb the actors' allocations.
fn idle_memory_in_child(system: System, scale: f64) -> anyhow::Result<f64> {
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let output = Command::new(exe)
        .args([CHILD, system.name(), "--scale", &scale.to_string()])
        .output()
        .context("cannot run the idle-memory child")?;
    if !output.status.success() {
        bail!(
            "idle-memory child for {} failed ({}): {}",
            system.name(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("idle-memory child printed {text:?}"))
}

//! The `mesos-master` binary: parse flags, start tracing and the runtime, start the master,
//! wait.

use anyhow::Context as _;
use mesos_master::{Master, MasterFlags};

fn main() -> anyhow::Result<()> {
    let flags = match MasterFlags::try_parse_args(std::env::args_os()) {
        Ok(flags) => flags,
        Err(error) => error.exit(),
    };
    let level = match flags.logging_level.as_str() {
        "WARNING" => "warn",
        "ERROR" => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match &flags.log_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create --log_dir {}", dir.display()))?;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("mesos-master.INFO"))
                .with_context(|| format!("cannot open a log file in {}", dir.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None if flags.quiet => builder.with_writer(std::io::sink).init(),
        None => builder.with_writer(std::io::stderr).init(),
    }
    // Check the flags before binding the port.
    flags.validate().context("bad flags")?;

    let ip = flags.ip.unwrap_or([0, 0, 0, 0].into());
    let mut runtime = libprocess::Runtime::builder().ip(ip).port(flags.port);
    if let Some(ip) = flags.advertise_ip {
        runtime = runtime.advertise_ip(ip);
    }
    if let Some(port) = flags.advertise_port {
        runtime = runtime.advertise_port(port);
    }
    let runtime = runtime
        .try_build()
        .with_context(|| format!("cannot listen on {ip}:{}", flags.port))?;
    let master = Master::start(flags, runtime.handle()).context("cannot start the master")?;
    tracing::info!(address = %runtime.address(), "mesos-master is serving");
    // Runs until the master stops acting as leader (lost leadership, registry failures): then
    // it exits with failure, for a supervisor to restart it as a follower, as Mesos does.
    let (done, stopped) = std::sync::mpsc::channel();
    let lost = done.clone();
    master.lost_leadership().on_ready(move |reason| {
        let _ = lost.send(Some(reason.clone()));
    });
    master.wait().on_any(move |_| {
        let _ = done.send(None);
    });
    if let Ok(Some(reason)) = stopped.recv() {
        tracing::error!(%reason, "this master is no longer the leader; exiting");
        eprintln!("mesos-master: exiting: {reason}");
        std::process::exit(1);
    }
    Ok(())
}

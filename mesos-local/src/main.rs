//! `mesos-local`: a master and N agents in this process, until Ctrl-C.
//!
//! The agents' command executor is the `mesos-executor` binary next to this one when it is
//! there (`cargo build` builds both), else this same binary: started as `mesos-executor` (the
//! agents' `--launcher_dir` holds a link of that name to it), it runs one task, so a plain
//! `cargo run --bin mesos-local` has everything a task needs.

use std::process::ExitCode;
use std::time::Duration;

use mesos_local::{COMMAND_EXECUTOR, Cluster, LocalError, LocalFlags};

fn main() -> ExitCode {
    let mut args = std::env::args();
    let program = args.next().unwrap_or_default();
    if std::path::Path::new(&program).file_name() == Some(COMMAND_EXECUTOR.as_ref()) {
        let code = mesos_client::command_executor::main(args);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }

    let mut flags = match LocalFlags::parse(args) {
        Ok(flags) => flags,
        Err(LocalError::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("mesos-local: {error}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MESOS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    flags.executor = std::env::current_exe()
        .ok()
        .map(|exe| mesos_local::default_executor(&exe));

    let cluster = match Cluster::launch(&flags) {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("mesos-local: {error}");
            return ExitCode::FAILURE;
        }
    };
    let master = cluster.master_address();
    if !cluster.wait_for_agents(Duration::from_secs(30)) {
        eprintln!("mesos-local: warning: not every agent registered within 30 seconds");
    }
    println!(
        "mesos-local: a master and {} agent(s) are running; work directory {}\n\
         \n\
         \x20 master:  http://{master}/  (state: http://{master}/master/state)\n\
         \x20 agents:  {}\n\
         \n\
         Run a task on it from another terminal:\n\
         \x20 cargo run --release -p mesos-local --bin mesos-execute -- \\\n\
         \x20     --master={master} --name=hello --command='echo hello from Mesos'\n\
         \n\
         Ctrl-C stops the cluster and every task.",
        flags.num_agents,
        flags.work_dir.display(),
        cluster
            .agent_addresses()
            .iter()
            .map(|a| format!("http://{a}/slave(1)/state"))
            .collect::<Vec<_>>()
            .join("  "),
    );

    wait_for_signal();
    eprintln!("mesos-local: stopping");
    cluster.shutdown();
    ExitCode::SUCCESS
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_signal() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a signal-waiting runtime");
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    });
}

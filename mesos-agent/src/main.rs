//! `mesos-agent`: parses Mesos's agent flags, starts the runtime on `--ip`/`--port` and the
//! agent on it, and runs until the agent stops.

use std::net::{IpAddr, Ipv4Addr};

use anyhow::Context as _;
use mesos_agent::{Agent, Flags};

fn main() -> anyhow::Result<()> {
    let flags = match Flags::parse_from(std::env::args_os()) {
        Ok(flags) => flags,
        Err(error) => error.exit(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MESOS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let mut builder = libprocess::Runtime::builder()
        .ip(flags.ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
        .port(flags.port);
    if let Some(ip) = flags.advertise_ip {
        builder = builder.advertise_ip(ip);
    }
    if let Some(port) = flags.advertise_port {
        builder = builder.advertise_port(port);
    }
    let runtime = builder
        .try_build()
        .with_context(|| format!("cannot listen on port {}", flags.port))?;
    let agent = Agent::start(flags, runtime.handle())
        .map_err(|e| anyhow::anyhow!(mesos_agent::error_chain(&e)))?;
    tracing::info!(pid = %agent.upid(), "mesos-agent running");
    let _ = agent.finished().get();
    Ok(())
}

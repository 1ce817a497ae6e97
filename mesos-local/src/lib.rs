//! mesos-local: a master and N agents in one process, as upstream's `src/local/`.
//!
//! Each component gets its own runtime, so each listens on its own port (the master on
//! `--port`, agent `i` on `--agent_port + i`) and keeps its own work directory under
//! `--work_dir` (`master/`, `agents/<i>/`). The master's registry is a file in its work
//! directory, so nothing outside this process is needed, and a restart on the same
//! `--work_dir` recovers the cluster.
//!
//! Flags other than mesos-local's own go to the master when it knows them and to every agent
//! when they know them (`--isolation=...` to the agents, `--offer_timeout=...` to the master,
//! `--hostname=...` to both); a flag neither knows is an error.
//!
//! ```no_run
//! let flags = mesos_local::LocalFlags::parse(["--num_agents=2"]).unwrap();
//! let cluster = mesos_local::Cluster::launch(&flags).unwrap();
//! println!("master at {}", cluster.master_address());
//! cluster.shutdown();
//! ```

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::CommandFactory;
use libprocess::{Future, Runtime};
use mesos_agent::Agent;
use mesos_master::{Master, MasterFlags};

/// The name the agent runs the command executor under (`<launcher_dir>/mesos-executor`).
pub const COMMAND_EXECUTOR: &str = "mesos-executor";

/// The command executor for a cluster started by the binary at `current_exe`: the dedicated
/// `mesos-executor` binary next to it when there is one (`cargo build` puts it there), else
/// `current_exe` itself, which runs as the command executor when linked under that name. The
/// small binary starts faster than the whole of `mesos-local` (fewer pages to map and
/// relocate), which every task pays.
pub fn default_executor(current_exe: &Path) -> PathBuf {
    let sibling = current_exe.with_file_name(COMMAND_EXECUTOR);
    if sibling != current_exe && sibling.is_file() {
        sibling
    } else {
        current_exe.to_path_buf()
    }
}

/// How long [`Cluster::shutdown`] waits for the containers to be destroyed.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong setting the cluster up.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// `--help` was asked for: the text to print.
    #[error("{0}")]
    Help(String),
    /// A flag of the command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// The master's flags do not parse or validate.
    #[error("bad master flags: {0}")]
    MasterFlags(String),
    /// The agents' flags do not parse.
    #[error("bad agent flags: {0}")]
    AgentFlags(String),
    /// A port could not be bound.
    #[error("cannot listen on {address}: {reason}")]
    Listen {
        /// Where.
        address: SocketAddr,
        /// Why not.
        reason: String,
    },
    /// The master did not start or recover.
    #[error("cannot start the master: {0}")]
    Master(String),
    /// An agent did not start.
    #[error("cannot start agent {index}: {reason}")]
    Agent {
        /// Which agent (from 0).
        index: usize,
        /// Why not.
        reason: String,
    },
    /// A directory or link could not be made.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

/// mesos-local's command line.
#[derive(Debug, Clone)]
pub struct LocalFlags {
    /// How many agents (`--num_agents`, or upstream's `--num_slaves`).
    pub num_agents: usize,
    /// The root of every work directory (`--work_dir`).
    pub work_dir: PathBuf,
    /// The address everything listens on (`--ip`).
    pub ip: IpAddr,
    /// The master's port (`--port`); 0 picks a free one.
    pub port: u16,
    /// The first agent's port (`--agent_port`); agent `i` listens on `agent_port + i`, or on a
    /// free port each when 0.
    pub agent_port: u16,
    /// A binary to run as the command executor (linked as `mesos-executor` into
    /// `<work_dir>/bin`, the agents' `--launcher_dir`); `None` leaves `--launcher_dir` to the
    /// agents' default. Ignored when `--launcher_dir` is given.
    pub executor: Option<PathBuf>,
    /// Flags for the master, as `--name=value`.
    pub master_args: Vec<String>,
    /// Flags for every agent, as `--name=value`.
    pub agent_args: Vec<String>,
}

/// Flags mesos-local sets on the master and agents itself.
const RESERVED: &[&str] = &[
    "master",
    "work_dir",
    "port",
    "runtime_dir",
    "advertise_port",
];

impl LocalFlags {
    /// The defaults: one agent, `/tmp/mesos-local`, `127.0.0.1:5050`, agents from 5051.
    pub fn new() -> LocalFlags {
        LocalFlags {
            num_agents: 1,
            work_dir: std::env::temp_dir().join("mesos-local"),
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 5050,
            agent_port: 5051,
            executor: None,
            master_args: Vec::new(),
            agent_args: Vec::new(),
        }
    }

    /// Parses the command line (without the program name): `--name=value`, `--name value`,
    /// `--name` and `--no-name` for booleans.
    pub fn parse<I, S>(args: I) -> Result<LocalFlags, LocalError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let master_flags = long_names(MasterFlags::command());
        let agent_flags = long_names(mesos_agent::Flags::command());
        let mut flags = LocalFlags::new();
        let mut args = args.into_iter().map(Into::into).peekable();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                return Err(LocalError::Help(help()));
            }
            let Some(flag) = arg.strip_prefix("--") else {
                return Err(LocalError::Usage(format!(
                    "unexpected argument '{arg}' (flags are --name=value)"
                )));
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name.to_ascii_lowercase(), Some(value.to_string())),
                None => {
                    let value = args.next_if(|next| !next.starts_with("--"));
                    (flag.to_ascii_lowercase(), value)
                }
            };
            let required = |value: Option<String>| {
                value.ok_or_else(|| LocalError::Usage(format!("flag --{name} needs a value")))
            };
            let number = |value: String| {
                value.parse::<u64>().map_err(|_| {
                    LocalError::Usage(format!("flag --{name}: '{value}' is not a number"))
                })
            };
            let port = |value: String| {
                value.parse::<u16>().map_err(|_| {
                    LocalError::Usage(format!("flag --{name}: '{value}' is not a port"))
                })
            };
            match name.as_str() {
                "num_agents" | "num_slaves" => {
                    flags.num_agents = number(required(value.clone())?)? as usize;
                }
                "work_dir" => flags.work_dir = PathBuf::from(required(value)?),
                "port" => flags.port = port(required(value)?)?,
                "agent_port" => flags.agent_port = port(required(value)?)?,
                "ip" => {
                    let text = required(value)?;
                    flags.ip = text.parse().map_err(|_| {
                        LocalError::Usage(format!("flag --ip: '{text}' is not an IP address"))
                    })?;
                }
                _ => {
                    let base = name.strip_prefix("no-").unwrap_or(&name);
                    let known = |set: &BTreeSet<String>| set.contains(&name) || set.contains(base);
                    let (to_master, to_agents) = (known(&master_flags), known(&agent_flags));
                    if RESERVED.contains(&base) {
                        return Err(LocalError::Usage(format!(
                            "flag --{base} is set by mesos-local for each component"
                        )));
                    }
                    if !to_master && !to_agents {
                        return Err(LocalError::Usage(format!(
                            "unknown flag --{name}: neither the master nor the agent has it \
                             (see --help)"
                        )));
                    }
                    let text = match value {
                        Some(value) => format!("--{name}={value}"),
                        None => format!("--{name}"),
                    };
                    if to_master {
                        flags.master_args.push(text.clone());
                    }
                    if to_agents {
                        flags.agent_args.push(text);
                    }
                }
            }
        }
        if flags.num_agents == 0 {
            return Err(LocalError::Usage("--num_agents must be at least 1".into()));
        }
        Ok(flags)
    }

    fn master_work_dir(&self) -> PathBuf {
        self.work_dir.join("master")
    }

    fn agent_work_dir(&self, index: usize) -> PathBuf {
        self.work_dir.join("agents").join(index.to_string())
    }

    fn agent_port(&self, index: usize) -> Result<u16, LocalError> {
        if self.agent_port == 0 {
            return Ok(0);
        }
        u16::try_from(usize::from(self.agent_port) + index)
            .map_err(|_| LocalError::Usage(format!("no port left for agent {index}")))
    }

    fn has_agent_flag(&self, name: &str) -> bool {
        let prefix = format!("--{name}=");
        self.agent_args
            .iter()
            .any(|arg| arg.starts_with(&prefix) || arg == &format!("--{name}"))
    }
}

impl Default for LocalFlags {
    fn default() -> Self {
        LocalFlags::new()
    }
}

fn long_names(command: clap::Command) -> BTreeSet<String> {
    command
        .get_arguments()
        .filter_map(|arg| arg.get_long().map(str::to_owned))
        .collect()
}

/// The text of `--help`.
pub fn help() -> String {
    "Usage: mesos-local [flags]\n\
     \n\
     Runs a Mesos master and N agents in this process, each on its own port, with their\n\
     work directories and the master's registry under --work_dir.\n\
     \n\
     Flags of mesos-local:\n\
     \x20 --num_agents=N     how many agents (also --num_slaves) [1]\n\
     \x20 --work_dir=DIR     root of the work directories [$TMPDIR/mesos-local]\n\
     \x20 --ip=IP            the address everything listens on [127.0.0.1]\n\
     \x20 --port=PORT        the master's port [5050]\n\
     \x20 --agent_port=PORT  the first agent's port, the next ones follow; 0: any free port [5051]\n\
     \n\
     Any other flag goes to the master if it has it (see `mesos-master --help`) and to every\n\
     agent if it has it (see `mesos-agent --help`), e.g. --isolation=cgroups/cpu,cgroups/mem,\n\
     --resources='cpus:2;mem:2048', --offer_timeout=30secs. MESOS_* environment variables are\n\
     read by both as usual.\n"
        .to_string()
}

/// A running master and its agents.
pub struct Cluster {
    master: Master,
    master_runtime: Runtime,
    agents: Vec<(Agent, Runtime)>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("master", &self.master_address())
            .field("agents", &self.agent_addresses())
            .finish()
    }
}

impl Cluster {
    /// Starts the master, waits for it to recover its registry, then starts the agents
    /// (which register on their own: see [`Cluster::wait_for_agents`]).
    pub fn launch(flags: &LocalFlags) -> Result<Cluster, LocalError> {
        let master_dir = flags.master_work_dir();
        create_dir(&master_dir)?;
        let mut master_argv = vec![
            "mesos-master".to_string(),
            format!("--ip={}", flags.ip),
            format!("--port={}", flags.port),
            format!("--work_dir={}", master_dir.display()),
        ];
        master_argv.extend(flags.master_args.iter().cloned());
        let master_flags = MasterFlags::try_parse_args(master_argv)
            .map_err(|e| LocalError::MasterFlags(e.to_string()))?;
        master_flags
            .validate()
            .map_err(|e| LocalError::MasterFlags(e.to_string()))?;

        let master_runtime = listen(flags.ip, flags.port)?;
        let master = Master::start(master_flags, master_runtime.handle())
            .map_err(|e| LocalError::Master(e.to_string()))?;
        if !master.recovered().get().unwrap_or(false) {
            let why = master
                .inspect(|m| m.recovery_failed.clone())
                .get()
                .ok()
                .flatten()
                .unwrap_or_else(|| "unknown error".into());
            master.stop();
            return Err(LocalError::Master(format!(
                "cannot recover the registry: {why}"
            )));
        }
        let master_address = master_runtime.address();

        let launcher_dir = match (&flags.executor, flags.has_agent_flag("launcher_dir")) {
            (Some(executor), false) => Some(link_executor(&flags.work_dir, executor)?),
            _ => None,
        };

        let mut cluster = Cluster {
            master,
            master_runtime,
            agents: Vec::new(),
        };
        for index in 0..flags.num_agents {
            match start_agent(flags, index, master_address, launcher_dir.as_deref()) {
                Ok(agent) => cluster.agents.push(agent),
                Err(error) => {
                    cluster.shutdown();
                    return Err(error);
                }
            }
        }
        Ok(cluster)
    }

    /// The master's handle.
    pub fn master(&self) -> &Master {
        &self.master
    }

    /// Where the master listens (`http://<this>/master/state`).
    pub fn master_address(&self) -> SocketAddr {
        self.master_runtime.address()
    }

    /// The agents' handles, in order.
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.iter().map(|(agent, _)| agent)
    }

    /// Where each agent listens.
    pub fn agent_addresses(&self) -> Vec<SocketAddr> {
        self.agents
            .iter()
            .map(|(_, runtime)| runtime.address())
            .collect()
    }

    /// Waits until every agent is registered with the master; false on timeout.
    pub fn wait_for_agents(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let wanted = self.agents.len();
        loop {
            let registered = self
                .master
                .inspect(|m| m.state.agents.len())
                .get()
                .unwrap_or(0);
            if registered >= wanted {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops everything: destroys every container (so no task outlives the cluster), stops the
    /// agents, then the master.
    pub fn shutdown(self) {
        let mut destroyed = Vec::new();
        for (agent, _) in &self.agents {
            let containerizer = agent.containerizer().clone();
            let ids = containerizer.containers().get().unwrap_or_default();
            for id in ids {
                destroyed.push(containerizer.destroy(id).map(|_| ()));
            }
        }
        let all = libprocess::await_all(destroyed);
        if !all.await_for(SHUTDOWN_TIMEOUT) {
            tracing::warn!("some containers were not destroyed in time");
        }
        let stopped: Vec<Future<()>> = self.agents.iter().map(|(a, _)| a.stop()).collect();
        let _ = libprocess::await_all(stopped).await_for(SHUTDOWN_TIMEOUT);
        self.master.stop();
        let _ = self.master.wait().await_for(SHUTDOWN_TIMEOUT);
        for (_, runtime) in self.agents {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
        self.master_runtime.shutdown_timeout(Duration::from_secs(5));
    }
}

fn listen(ip: IpAddr, port: u16) -> Result<Runtime, LocalError> {
    Runtime::builder()
        .ip(ip)
        .port(port)
        .try_build()
        .map_err(|e| LocalError::Listen {
            address: SocketAddr::new(ip, port),
            reason: e.to_string(),
        })
}

fn start_agent(
    flags: &LocalFlags,
    index: usize,
    master: SocketAddr,
    launcher_dir: Option<&Path>,
) -> Result<(Agent, Runtime), LocalError> {
    let work_dir = flags.agent_work_dir(index);
    let runtime_dir = work_dir.join("run");
    create_dir(&runtime_dir)?;
    let port = flags.agent_port(index)?;
    let mut argv = vec![
        "mesos-agent".to_string(),
        format!("--master={master}"),
        format!("--ip={}", flags.ip),
        format!("--port={port}"),
        format!("--work_dir={}", work_dir.display()),
        format!("--runtime_dir={}", runtime_dir.display()),
    ];
    if let Some(dir) = launcher_dir {
        argv.push(format!("--launcher_dir={}", dir.display()));
    }
    if !flags.has_agent_flag("cgroups_root") {
        // Agents on one host must not share a cgroups root: one recovering would take the
        // others' containers for orphans and destroy them. Stable per work directory, so a
        // restarted cluster recovers its own.
        argv.push(format!("--cgroups_root={}", cgroups_root(&work_dir)));
    }
    argv.extend(flags.agent_args.iter().cloned());
    let agent_flags =
        mesos_agent::Flags::parse_from(argv).map_err(|e| LocalError::AgentFlags(e.to_string()))?;
    let runtime = listen(flags.ip, port)?;
    let agent = Agent::start(agent_flags, runtime.handle()).map_err(|e| LocalError::Agent {
        index,
        reason: mesos_agent::error_chain(&e),
    })?;
    Ok((agent, runtime))
}

/// `mesos-local-<hash of the agent's work directory>`.
fn cgroups_root(work_dir: &Path) -> String {
    // FNV-1a: stable across runs and builds, unlike std's hasher.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in work_dir.as_os_str().as_encoded_bytes() {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("mesos-local-{hash:08x}")
}

/// Links `executor` as `<work_dir>/bin/mesos-executor`, returning the directory.
fn link_executor(work_dir: &Path, executor: &Path) -> Result<PathBuf, LocalError> {
    let dir = work_dir.join("bin");
    create_dir(&dir)?;
    let link = dir.join(COMMAND_EXECUTOR);
    match std::fs::remove_file(&link) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(LocalError::Io {
                context: format!("cannot replace {}", link.display()),
                source,
            });
        }
    }
    std::os::unix::fs::symlink(executor, &link).map_err(|source| LocalError::Io {
        context: format!("cannot link {}", link.display()),
        source,
    })?;
    Ok(dir)
}

fn create_dir(dir: &Path) -> Result<(), LocalError> {
    std::fs::create_dir_all(dir).map_err(|source| LocalError::Io {
        context: format!("cannot create {}", dir.display()),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_executor_prefers_the_dedicated_binary_next_to_us() {
        let dir = std::env::temp_dir().join(format!("mesos-local-exe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let me = dir.join("mesos-local");
        std::fs::write(&me, b"").unwrap();
        assert_eq!(default_executor(&me), me, "no sibling: ourselves");
        std::fs::create_dir(dir.join(COMMAND_EXECUTOR)).unwrap();
        assert_eq!(default_executor(&me), me, "a directory is no binary");
        std::fs::remove_dir(dir.join(COMMAND_EXECUTOR)).unwrap();
        std::fs::write(dir.join(COMMAND_EXECUTOR), b"").unwrap();
        assert_eq!(default_executor(&me), dir.join(COMMAND_EXECUTOR));
        let executor = dir.join(COMMAND_EXECUTOR);
        assert_eq!(
            default_executor(&executor),
            executor,
            "already the executor"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The agent's flags (upstream `src/slave/flags.cpp`): Mesos's names and defaults, read
//! from the command line and `MESOS_*` environment variables through [`stout::flags`].
//!
//! [`Flags`] is a plain struct so that an agent can also be started in-process
//! ([`Flags::new`] gives the defaults for a work directory; fields are public).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;
use stout::{Bytes, Duration, flags};

/// How `--recover` treats executors that survived an agent restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RecoverMode {
    /// Re-attach to them: they re-subscribe and keep running.
    Reconnect,
    /// Kill them and their tasks, then stop.
    Cleanup,
}

impl std::fmt::Display for RecoverMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecoverMode::Reconnect => "reconnect",
            RecoverMode::Cleanup => "cleanup",
        })
    }
}

/// `mesos-agent`'s flags. Durations and sizes are in Mesos's notation (`1mins`, `2GB`).
#[derive(Parser, Clone, Debug)]
#[command(
    name = "mesos-agent",
    rename_all = "snake_case",
    about = "The Mesos agent: runs tasks for frameworks on this machine"
)]
pub struct Flags {
    /// The master to register with: `host:port` (or `master@host:port`).
    #[arg(long)]
    pub master: Option<String>,
    /// Where executor sandboxes and checkpoints live (required).
    #[arg(long, value_parser = flags::fetch::<PathBuf>)]
    pub work_dir: PathBuf,
    /// Where the containerizer keeps its runtime state (container pids).
    #[arg(long, default_value = "/var/run/mesos")]
    pub runtime_dir: PathBuf,
    /// The IP to listen on.
    #[arg(long)]
    pub ip: Option<IpAddr>,
    /// The port to listen on.
    #[arg(long, default_value_t = 5051)]
    pub port: u16,
    /// The IP others reach this agent at.
    #[arg(long)]
    pub advertise_ip: Option<IpAddr>,
    /// The port others reach this agent at.
    #[arg(long)]
    pub advertise_port: Option<u16>,
    /// The hostname the agent reports (default: the system's).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Whether to look the hostname up when none is given (else the IP is used).
    #[arg(long, default_value_t = true)]
    pub hostname_lookup: bool,
    /// Total consumable resources (`cpus:4;mem:1024;ports:[31000-32000]` or JSON); what is
    /// not given is detected.
    #[arg(long, value_parser = flags::resolve_file_value)]
    pub resources: Option<String>,
    /// Attributes of the machine (`rack:abc;kernel:4.15`).
    #[arg(long, value_parser = flags::resolve_file_value)]
    pub attributes: Option<String>,
    /// The role of resources given without one.
    #[arg(long, default_value = "*")]
    pub default_role: String,
    /// Isolation mechanisms, comma separated.
    #[arg(long, default_value = "posix/cpu,posix/mem")]
    pub isolation: String,
    /// `posix` or `linux` (default: `linux` when running as root with cgroups, else `posix`).
    #[arg(long)]
    pub launcher: Option<String>,
    /// Containerizers, comma separated (only `mesos`).
    #[arg(long, default_value = "mesos")]
    pub containerizers: String,
    /// The cgroup under which containers' cgroups are created.
    #[arg(long, default_value = "mesos")]
    pub cgroups_root: String,
    /// Hard cpu limits through CFS quotas.
    #[arg(long)]
    pub cgroups_enable_cfs: bool,
    /// How long an executor may take to subscribe before it is killed.
    #[arg(long, default_value = "1mins", value_parser = flags::fetch::<Duration>)]
    pub executor_registration_timeout: Duration,
    /// How long executors get to shut down before they are killed.
    #[arg(long, default_value = "5secs", value_parser = flags::fetch::<Duration>)]
    pub executor_shutdown_grace_period: Duration,
    /// How long after an agent restart executors get to re-subscribe.
    #[arg(long, default_value = "2secs", value_parser = flags::fetch::<Duration>)]
    pub executor_reregistration_timeout: Duration,
    /// How long sandboxes of finished executors are kept at most.
    #[arg(long, default_value = "1weeks", value_parser = flags::fetch::<Duration>)]
    pub gc_delay: Duration,
    /// Free disk fraction kept when pruning sandboxes.
    #[arg(long, default_value_t = 0.1)]
    pub gc_disk_headroom: f64,
    /// How often disk usage is checked.
    #[arg(long, default_value = "1mins", value_parser = flags::fetch::<Duration>)]
    pub disk_watch_interval: Duration,
    /// How often `disk/du` measures sandboxes.
    #[arg(long, default_value = "15secs", value_parser = flags::fetch::<Duration>)]
    pub container_disk_watch_interval: Duration,
    /// Whether `disk/du` kills containers over their disk.
    #[arg(long)]
    pub enforce_container_disk_quota: bool,
    /// `reconnect` (re-attach to surviving executors) or `cleanup` (kill them, then stop).
    #[arg(long, value_enum, default_value_t = RecoverMode::Reconnect)]
    pub recover: RecoverMode,
    /// How long executors of a checkpointing framework wait for a restarted agent.
    #[arg(long, default_value = "15mins", value_parser = flags::fetch::<Duration>)]
    pub recovery_timeout: Duration,
    /// Fail recovery on any error in the checkpoint (else skip what cannot be read).
    #[arg(long, default_value_t = true)]
    pub strict: bool,
    /// Registration retries are random within this, doubling up to 1 minute.
    #[arg(long, default_value = "1secs", value_parser = flags::fetch::<Duration>)]
    pub registration_backoff_factor: Duration,
    /// Where the fetcher caches downloads.
    #[arg(long, default_value = "/tmp/mesos/fetch")]
    pub fetcher_cache_dir: PathBuf,
    /// The fetcher cache's size.
    #[arg(long, default_value = "2GB", value_parser = flags::fetch::<Bytes>)]
    pub fetcher_cache_size: Bytes,
    /// Where `mesos-executor` is (default: the directory of the running binary).
    #[arg(long)]
    pub launcher_dir: Option<PathBuf>,
    /// Launch command tasks with the HTTP command executor (`MESOS_HTTP_COMMAND_EXECUTOR`).
    #[arg(long)]
    pub http_command_executor: bool,
    /// Run tasks as the framework's user.
    #[arg(long, default_value_t = true)]
    pub switch_user: bool,
    /// JSON object of environment variables every executor gets.
    #[arg(long, value_parser = flags::resolve_file_value)]
    pub executor_environment_variables: Option<String>,
    /// The most an executor's subscription retries back off (`MESOS_SUBSCRIPTION_BACKOFF_MAX`).
    #[arg(long, default_value = "2secs", value_parser = flags::fetch::<Duration>)]
    pub executor_reregistration_retry_interval: Duration,
}

impl Flags {
    /// The defaults for an agent whose work directory is `work_dir`, without reading the
    /// environment (for agents started in-process).
    pub fn new(work_dir: impl Into<PathBuf>) -> Flags {
        let work_dir: PathBuf = work_dir.into();
        let mut flags =
            Flags::try_parse_from(["mesos-agent", "--work_dir=/"]).expect("the defaults parse");
        flags.work_dir = work_dir;
        flags
    }

    /// Parses `args` (program name first) and the `MESOS_*` environment, Mesos's way.
    pub fn parse_from<I, S>(args: I) -> Result<Flags, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        flags::try_parse_from(flags::MESOS_ENV_PREFIX, args)
    }

    /// The launcher to use: `--launcher`, else `linux` as root with cgroups, else `posix`.
    pub fn launcher_kind(&self) -> String {
        match &self.launcher {
            Some(launcher) => launcher.clone(),
            None => {
                let root = nix::unistd::Uid::effective().is_root();
                let cgroups = crate::containerizer::cgroups::Hierarchies::detect().is_ok();
                if root && cgroups { "linux" } else { "posix" }.to_owned()
            }
        }
    }

    /// Every flag with its value, as `/flags` and `GET_FLAGS` show them.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        let mut put = |name: &str, value: String| {
            map.insert(name.to_owned(), value);
        };
        if let Some(master) = &self.master {
            put("master", master.clone());
        }
        put("work_dir", self.work_dir.display().to_string());
        put("runtime_dir", self.runtime_dir.display().to_string());
        if let Some(ip) = self.ip {
            put("ip", ip.to_string());
        }
        put("port", self.port.to_string());
        if let Some(ip) = self.advertise_ip {
            put("advertise_ip", ip.to_string());
        }
        if let Some(port) = self.advertise_port {
            put("advertise_port", port.to_string());
        }
        if let Some(hostname) = &self.hostname {
            put("hostname", hostname.clone());
        }
        put("hostname_lookup", self.hostname_lookup.to_string());
        if let Some(resources) = &self.resources {
            put("resources", resources.clone());
        }
        if let Some(attributes) = &self.attributes {
            put("attributes", attributes.clone());
        }
        put("default_role", self.default_role.clone());
        put("isolation", self.isolation.clone());
        put("launcher", self.launcher_kind());
        put("containerizers", self.containerizers.clone());
        put("cgroups_root", self.cgroups_root.clone());
        put("cgroups_enable_cfs", self.cgroups_enable_cfs.to_string());
        put(
            "executor_registration_timeout",
            self.executor_registration_timeout.to_string(),
        );
        put(
            "executor_shutdown_grace_period",
            self.executor_shutdown_grace_period.to_string(),
        );
        put(
            "executor_reregistration_timeout",
            self.executor_reregistration_timeout.to_string(),
        );
        put("gc_delay", self.gc_delay.to_string());
        put("gc_disk_headroom", self.gc_disk_headroom.to_string());
        put("disk_watch_interval", self.disk_watch_interval.to_string());
        put(
            "container_disk_watch_interval",
            self.container_disk_watch_interval.to_string(),
        );
        put(
            "enforce_container_disk_quota",
            self.enforce_container_disk_quota.to_string(),
        );
        put("recover", self.recover.to_string());
        put("recovery_timeout", self.recovery_timeout.to_string());
        put("strict", self.strict.to_string());
        put(
            "registration_backoff_factor",
            self.registration_backoff_factor.to_string(),
        );
        put(
            "fetcher_cache_dir",
            self.fetcher_cache_dir.display().to_string(),
        );
        put("fetcher_cache_size", self.fetcher_cache_size.to_string());
        if let Some(dir) = &self.launcher_dir {
            put("launcher_dir", dir.display().to_string());
        }
        put(
            "http_command_executor",
            self.http_command_executor.to_string(),
        );
        put("switch_user", self.switch_user.to_string());
        if let Some(env) = &self.executor_environment_variables {
            put("executor_environment_variables", env.clone());
        }
        put(
            "executor_reregistration_retry_interval",
            self.executor_reregistration_retry_interval.to_string(),
        );
        map
    }
}

/// Converts a flag's duration to std's (negative ones become zero).
pub fn std_duration(duration: Duration) -> std::time::Duration {
    std::time::Duration::try_from(duration).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_mesos_defaults() {
        let flags = Flags::parse_from(["mesos-agent", "--work_dir=/tmp/w"]).unwrap();
        assert_eq!(flags.port, 5051);
        assert_eq!(flags.isolation, "posix/cpu,posix/mem");
        assert_eq!(flags.executor_registration_timeout, Duration::from_mins(1));
        assert_eq!(flags.executor_shutdown_grace_period, Duration::from_secs(5));
        assert_eq!(flags.gc_delay, Duration::from_weeks(1));
        assert_eq!(flags.recover, RecoverMode::Reconnect);
        assert!(flags.strict);
        assert_eq!(flags.registration_backoff_factor, Duration::from_secs(1));
        assert_eq!(flags.cgroups_root, "mesos");
        assert_eq!(flags.default_role, "*");
        let map = flags.to_map();
        assert_eq!(map["executor_shutdown_grace_period"], "5secs");
        assert_eq!(map["gc_delay"], "1weeks");
        assert_eq!(map["work_dir"], "/tmp/w");
    }

    #[test]
    fn mesos_conventions_apply() {
        let flags = Flags::parse_from([
            "mesos-agent",
            "--work_dir=/w",
            "--no-strict",
            "--recover=cleanup",
            "--executor_shutdown_grace_period=2secs",
            "--port=5052",
        ])
        .unwrap();
        assert!(!flags.strict);
        assert_eq!(flags.recover, RecoverMode::Cleanup);
        assert_eq!(flags.executor_shutdown_grace_period, Duration::from_secs(2));
        assert_eq!(flags.port, 5052);
        assert!(
            Flags::parse_from(["mesos-agent"]).is_err(),
            "work_dir is required"
        );
        assert!(Flags::parse_from(["mesos-agent", "--work_dir=/w", "--recover=maybe"]).is_err());
    }

    #[test]
    fn in_process_defaults() {
        let flags = Flags::new("/tmp/x");
        assert_eq!(flags.work_dir, PathBuf::from("/tmp/x"));
        assert_eq!(flags.port, 5051);
    }
}

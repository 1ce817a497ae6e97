//! The master's flags: Mesos's names and defaults (`src/master/flags.cpp` upstream), read from
//! the command line and from `MESOS_*` environment variables through `stout::flags`.
//!
//! [`MasterFlags`] is a plain struct: the binary parses it, tests and `mesos-local` build one
//! with [`MasterFlags::default`] and change what they need. [`MasterFlags::validate`] checks
//! what clap cannot (value combinations, rates, JSON values) and turns the text values into
//! the typed [`Settings`] the master runs with.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;
use mesos_core::resources::ResourceQuantities;
use mesos_zookeeper::ZkUrl;
use stout::Duration;
use stout::flags::{fetch, resolve_file_value};
use thiserror::Error;

/// The smallest `--agent_reregister_timeout` Mesos accepts.
pub const MIN_AGENT_REREGISTER_TIMEOUT: Duration = Duration::from_mins(10);

/// Why the flags cannot start a master.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FlagsError {
    /// A flag's value is not acceptable.
    #[error("invalid value for --{flag}: {message}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn invalid(flag: &'static str, message: impl Into<String>) -> FlagsError {
    FlagsError::Invalid {
        flag,
        message: message.into(),
    }
}

/// The master's command-line flags.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "mesos-master",
    rename_all = "snake_case",
    about = "The Mesos master: manages agents and frameworks, offers resources"
)]
#[non_exhaustive]
pub struct MasterFlags {
    /// IP address to listen on (default: the address of the host name, else 127.0.0.1)
    #[arg(long)]
    pub ip: Option<IpAddr>,
    /// Port to listen on
    #[arg(long, default_value_t = 5050)]
    pub port: u16,
    /// The host name to advertise (default: looked up from the IP)
    #[arg(long)]
    pub hostname: Option<String>,
    /// Whether to look the host name up when --hostname is not given
    #[arg(long, default_value_t = true)]
    pub hostname_lookup: bool,
    /// IP address advertised to reach this master
    #[arg(long)]
    pub advertise_ip: Option<IpAddr>,
    /// Port advertised to reach this master
    #[arg(long)]
    pub advertise_port: Option<u16>,
    /// Directory of the registry (required with --registry=replicated_log)
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Where the registry lives: in_memory or replicated_log (a file in --work_dir; with
    /// --zk, in ZooKeeper under <zk path>/registry, shared by the masters)
    #[arg(long, default_value = "replicated_log")]
    pub registry: String,
    /// Ignored, as in Mesos 1.x
    #[arg(long)]
    pub registry_strict: bool,
    /// How long to wait for the registry to be read at start-up
    #[arg(long, default_value = "1mins", value_parser = fetch::<Duration>)]
    pub registry_fetch_timeout: Duration,
    /// How long to wait for a registry update to be stored
    #[arg(long, default_value = "20secs", value_parser = fetch::<Duration>)]
    pub registry_store_timeout: Duration,
    /// Number of masters that make a quorum (required with --zk and
    /// --registry=replicated_log; ZooKeeper keeps the registry, so it is checked, not used)
    #[arg(long)]
    pub quorum: Option<u32>,
    /// ZooKeeper URL for leader election among several masters, zk://host1:port1,host2:port2/path
    /// (optionally zk://user:pass@hosts/path), or file:///path of a file holding one
    #[arg(long, value_parser = resolve_file_value)]
    pub zk: Option<String>,
    /// ZooKeeper session timeout: a master cut off from ZooKeeper longer than this loses its
    /// candidacy
    #[arg(long, default_value = "10secs", value_parser = fetch::<Duration>)]
    pub zk_session_timeout: Duration,
    /// How often the allocator makes offers
    #[arg(long, default_value = "1secs", value_parser = fetch::<Duration>)]
    pub allocation_interval: Duration,
    /// How long to wait for an agent's pong before counting a missed ping
    #[arg(long, default_value = "15secs", value_parser = fetch::<Duration>)]
    pub agent_ping_timeout: Duration,
    /// Missed pings after which an agent is unreachable
    #[arg(long, default_value_t = 5)]
    pub max_agent_ping_timeouts: u32,
    /// How long agents have to reregister after a master failover
    #[arg(long, default_value = "10mins", value_parser = fetch::<Duration>)]
    pub agent_reregister_timeout: Duration,
    /// Most agents marked unreachable per duration, e.g. 1/10mins (default: unlimited)
    #[arg(long)]
    pub agent_removal_rate_limit: Option<String>,
    /// How long an offer stays outstanding before it is rescinded (default: forever)
    #[arg(long, value_parser = fetch::<Duration>)]
    pub offer_timeout: Option<Duration>,
    /// Resource quantities an offer must hold one of, e.g. cpus:0.01|mem:32
    #[arg(long, default_value = "cpus:0.01|mem:32")]
    pub min_allocatable_resources: String,
    /// Completed frameworks kept in memory
    #[arg(long, default_value_t = 50)]
    pub max_completed_frameworks: usize,
    /// Completed tasks kept per framework
    #[arg(long, default_value_t = 1000)]
    pub max_completed_tasks_per_framework: usize,
    /// Unreachable tasks kept per framework
    #[arg(long, default_value_t = 1000)]
    pub max_unreachable_tasks_per_framework: usize,
    /// Subscribers of the operator event stream
    #[arg(long, default_value_t = 1000)]
    pub max_operator_event_stream_subscribers: usize,
    /// Role weights, e.g. role1=2.0,role2=3.5
    #[arg(long)]
    pub weights: Option<String>,
    /// Deprecated: the only roles frameworks may use, comma separated
    #[arg(long)]
    pub roles: Option<String>,
    /// Endpoint firewall rules as JSON: {"disabled_endpoints":{"paths":[...]}}
    #[arg(long, value_parser = resolve_file_value)]
    pub firewall_rules: Option<String>,
    /// Only authenticated frameworks may register (deprecated name: --authenticate)
    #[arg(long, alias = "authenticate")]
    pub authenticate_frameworks: bool,
    /// Only authenticated agents may register
    #[arg(long)]
    pub authenticate_agents: bool,
    /// Authenticate requests to read-only HTTP endpoints
    #[arg(long)]
    pub authenticate_http_readonly: bool,
    /// Authenticate requests to read-write HTTP endpoints
    #[arg(long)]
    pub authenticate_http_readwrite: bool,
    /// Authenticate requests to the scheduler API
    #[arg(long)]
    pub authenticate_http_frameworks: bool,
    /// Credentials: a path, file:// path or JSON ({"credentials":[{"principal","secret"}]})
    #[arg(long)]
    pub credentials: Option<String>,
    /// Human readable name of the cluster
    #[arg(long)]
    pub cluster: Option<String>,
    /// Log to files only, not to stderr
    #[arg(long)]
    pub quiet: bool,
    /// Directory for log files (default: stderr only)
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    /// Least severe level logged: INFO, WARNING or ERROR
    #[arg(long, default_value = "INFO")]
    pub logging_level: String,
    /// Offer agents with GPUs only to frameworks with the GPU_RESOURCES capability
    #[arg(long, default_value_t = true)]
    pub filter_gpu_resources: bool,
    /// Resource names left out of fair-share computations, comma separated
    #[arg(long)]
    pub fair_sharing_excluded_resource_names: Option<String>,
    /// After a failover, the largest share of the registry's agents (a percentage, e.g.
    /// 50%) that may be removed for not reregistering within --agent_reregister_timeout;
    /// above it the master refuses and exits
    #[arg(long, default_value = "100%")]
    pub recovery_agent_removal_limit: String,
}

impl Default for MasterFlags {
    /// The defaults, as if the master were started with no flag and no `MESOS_*` variable.
    fn default() -> Self {
        MasterFlags::try_parse_from(["mesos-master"]).expect("the defaults parse")
    }
}

/// A rate: `permits` per `duration` (`--agent_removal_rate_limit=1/10mins`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Events per duration.
    pub permits: u32,
    /// The duration.
    pub duration: Duration,
}

/// Parses `--recovery_agent_removal_limit`: a percentage `N%` with N in [0, 100].
fn parse_percentage(text: &str) -> Result<f64, FlagsError> {
    let flag = "recovery_agent_removal_limit";
    let Some(number) = text.trim().strip_suffix('%') else {
        return Err(invalid(flag, format!("'{text}' is missing '%'")));
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| invalid(flag, format!("'{text}' is not a percentage")))?;
    if !(0.0..=100.0).contains(&value) {
        return Err(invalid(flag, format!("'{text}' must be within [0%-100%]")));
    }
    Ok(value / 100.0)
}

/// Where the registry is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryKind {
    /// In memory: lost with the master.
    InMemory,
    /// In a file under the work directory.
    File(PathBuf),
    /// In ZooKeeper at this URL (`<--zk path>/registry`), shared by the masters.
    ZooKeeper(ZkUrl),
}

/// One principal and secret of `--credentials`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The principal.
    pub principal: String,
    /// The secret.
    pub secret: String,
}

/// The flags checked and typed: what the master runs with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Where the registry is kept.
    pub registry: RegistryKind,
    /// `--agent_removal_rate_limit`.
    pub agent_removal_rate_limit: Option<RateLimit>,
    /// `--min_allocatable_resources`.
    pub min_allocatable_resources: Vec<ResourceQuantities>,
    /// `--weights`.
    pub weights: BTreeMap<String, f64>,
    /// `--roles`, when a whitelist is given.
    pub roles: Option<Vec<String>>,
    /// Disabled endpoint paths from `--firewall_rules`.
    pub disabled_endpoints: Vec<String>,
    /// `--credentials`.
    pub credentials: Vec<Credential>,
    /// `--fair_sharing_excluded_resource_names`.
    pub fairness_excluded: Option<Vec<String>>,
    /// `--zk`: leader election through ZooKeeper.
    pub zk: Option<ZkUrl>,
    /// `--zk_session_timeout`.
    pub zk_session_timeout: std::time::Duration,
    /// `--recovery_agent_removal_limit` as a fraction in [0, 1].
    pub recovery_agent_removal_limit: f64,
}

impl MasterFlags {
    /// Parses flags from `args` (program name first) and `MESOS_*` environment variables.
    pub fn try_parse_args<I, S>(args: I) -> Result<MasterFlags, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString>,
    {
        stout::flags::try_parse_from(stout::flags::MESOS_ENV_PREFIX, args)
    }

    /// Checks the values clap cannot check alone and gives them their types.
    pub fn validate(&self) -> Result<Settings, FlagsError> {
        let zk = match self.zk.as_deref().map(str::trim) {
            None => None,
            Some(url) => Some(ZkUrl::parse(url).map_err(|e| invalid("zk", e.to_string()))?),
        };
        if zk.is_some() && self.registry == "replicated_log" {
            match self.quorum {
                None => {
                    return Err(invalid(
                        "quorum",
                        "--quorum is needed with --zk and --registry=replicated_log",
                    ));
                }
                Some(0) => return Err(invalid("quorum", "must be at least 1")),
                Some(_) => {}
            }
        }
        if self.zk_session_timeout <= Duration::ZERO {
            return Err(invalid("zk_session_timeout", "must be positive"));
        }
        let recovery_agent_removal_limit = parse_percentage(&self.recovery_agent_removal_limit)?;
        let registry = match self.registry.as_str() {
            "in_memory" => RegistryKind::InMemory,
            "replicated_log" => match &self.work_dir {
                Some(_) if zk.is_some() => {
                    RegistryKind::ZooKeeper(zk.as_ref().expect("checked").join("registry"))
                }
                Some(dir) => RegistryKind::File(dir.join("registry")),
                None => {
                    return Err(invalid(
                        "work_dir",
                        "--work_dir is needed with --registry=replicated_log",
                    ));
                }
            },
            other => {
                return Err(invalid(
                    "registry",
                    format!("'{other}' is not one of in_memory, replicated_log"),
                ));
            }
        };
        if self.agent_reregister_timeout < MIN_AGENT_REREGISTER_TIMEOUT {
            return Err(invalid(
                "agent_reregister_timeout",
                format!("must be at least {MIN_AGENT_REREGISTER_TIMEOUT}"),
            ));
        }
        if self.agent_ping_timeout <= Duration::ZERO {
            return Err(invalid("agent_ping_timeout", "must be positive"));
        }
        if self.max_agent_ping_timeouts == 0 {
            return Err(invalid("max_agent_ping_timeouts", "must be at least 1"));
        }
        if self.allocation_interval <= Duration::ZERO {
            return Err(invalid("allocation_interval", "must be positive"));
        }
        if let Some(timeout) = self.offer_timeout
            && timeout <= Duration::ZERO
        {
            return Err(invalid("offer_timeout", "must be positive"));
        }
        if !matches!(self.logging_level.as_str(), "INFO" | "WARNING" | "ERROR") {
            return Err(invalid(
                "logging_level",
                format!(
                    "'{}' is not one of INFO, WARNING, ERROR",
                    self.logging_level
                ),
            ));
        }
        let agent_removal_rate_limit = self
            .agent_removal_rate_limit
            .as_deref()
            .map(parse_rate)
            .transpose()?;
        let min_allocatable_resources = parse_min_allocatable(&self.min_allocatable_resources)?;
        let weights = match &self.weights {
            Some(text) => parse_weights(text)?,
            None => BTreeMap::new(),
        };
        let roles = match &self.roles {
            Some(text) => Some(
                mesos_core::roles::parse(text)
                    .map_err(|error| invalid("roles", error.to_string()))?,
            ),
            None => None,
        };
        let disabled_endpoints = match &self.firewall_rules {
            Some(text) => parse_firewall_rules(text)?,
            None => Vec::new(),
        };
        let credentials = match &self.credentials {
            Some(value) => parse_credentials(value)?,
            None => Vec::new(),
        };
        let fairness_excluded = self.fair_sharing_excluded_resource_names.as_ref().map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        });
        Ok(Settings {
            registry,
            agent_removal_rate_limit,
            min_allocatable_resources,
            weights,
            roles,
            disabled_endpoints,
            credentials,
            fairness_excluded,
            zk_session_timeout: self
                .zk_session_timeout
                .try_into()
                .map_err(|_| invalid("zk_session_timeout", "out of range"))?,
            zk,
            recovery_agent_removal_limit,
        })
    }

    /// Every flag with its value as Mesos prints them (for `/flags` and `GET_FLAGS`); unset
    /// optional flags are left out.
    pub fn to_pairs(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                out.insert(name.to_owned(), value);
            }
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        put("ip", self.ip.map(|ip| ip.to_string()));
        put("port", Some(self.port.to_string()));
        put("hostname", self.hostname.clone());
        put("hostname_lookup", Some(self.hostname_lookup.to_string()));
        put("advertise_ip", self.advertise_ip.map(|ip| ip.to_string()));
        put("advertise_port", self.advertise_port.map(|p| p.to_string()));
        put("work_dir", path(&self.work_dir));
        put("registry", Some(self.registry.clone()));
        put("registry_strict", Some(self.registry_strict.to_string()));
        put(
            "registry_fetch_timeout",
            Some(self.registry_fetch_timeout.to_string()),
        );
        put(
            "registry_store_timeout",
            Some(self.registry_store_timeout.to_string()),
        );
        put("quorum", self.quorum.map(|q| q.to_string()));
        put("zk", self.zk.clone());
        put(
            "zk_session_timeout",
            Some(self.zk_session_timeout.to_string()),
        );
        put(
            "allocation_interval",
            Some(self.allocation_interval.to_string()),
        );
        put(
            "agent_ping_timeout",
            Some(self.agent_ping_timeout.to_string()),
        );
        put(
            "max_agent_ping_timeouts",
            Some(self.max_agent_ping_timeouts.to_string()),
        );
        put(
            "agent_reregister_timeout",
            Some(self.agent_reregister_timeout.to_string()),
        );
        put(
            "agent_removal_rate_limit",
            self.agent_removal_rate_limit.clone(),
        );
        put("offer_timeout", self.offer_timeout.map(|d| d.to_string()));
        put(
            "min_allocatable_resources",
            Some(self.min_allocatable_resources.clone()),
        );
        put(
            "max_completed_frameworks",
            Some(self.max_completed_frameworks.to_string()),
        );
        put(
            "max_completed_tasks_per_framework",
            Some(self.max_completed_tasks_per_framework.to_string()),
        );
        put(
            "max_unreachable_tasks_per_framework",
            Some(self.max_unreachable_tasks_per_framework.to_string()),
        );
        put(
            "max_operator_event_stream_subscribers",
            Some(self.max_operator_event_stream_subscribers.to_string()),
        );
        put("weights", self.weights.clone());
        put("roles", self.roles.clone());
        put("firewall_rules", self.firewall_rules.clone());
        put(
            "authenticate_frameworks",
            Some(self.authenticate_frameworks.to_string()),
        );
        put(
            "authenticate_agents",
            Some(self.authenticate_agents.to_string()),
        );
        put(
            "authenticate_http_readonly",
            Some(self.authenticate_http_readonly.to_string()),
        );
        put(
            "authenticate_http_readwrite",
            Some(self.authenticate_http_readwrite.to_string()),
        );
        put(
            "authenticate_http_frameworks",
            Some(self.authenticate_http_frameworks.to_string()),
        );
        put("credentials", self.credentials.clone());
        put("cluster", self.cluster.clone());
        put("quiet", Some(self.quiet.to_string()));
        put("log_dir", path(&self.log_dir));
        put("logging_level", Some(self.logging_level.clone()));
        put(
            "filter_gpu_resources",
            Some(self.filter_gpu_resources.to_string()),
        );
        put(
            "fair_sharing_excluded_resource_names",
            self.fair_sharing_excluded_resource_names.clone(),
        );
        put(
            "recovery_agent_removal_limit",
            Some(self.recovery_agent_removal_limit.clone()),
        );
        out
    }
}

/// `1/10mins`: permits per duration.
fn parse_rate(text: &str) -> Result<RateLimit, FlagsError> {
    let flag = "agent_removal_rate_limit";
    let (permits, duration) = text.split_once('/').ok_or_else(|| {
        invalid(
            flag,
            format!("'{text}' is not of the form <permits>/<duration>"),
        )
    })?;
    let permits: u32 = permits
        .trim()
        .parse()
        .map_err(|_| invalid(flag, format!("'{permits}' is not a number of permits")))?;
    let duration: Duration = duration
        .trim()
        .parse()
        .map_err(|error| invalid(flag, format!("'{duration}': {error}")))?;
    if permits == 0 || duration <= Duration::ZERO {
        return Err(invalid(flag, "permits and duration must be positive"));
    }
    Ok(RateLimit { permits, duration })
}

fn parse_min_allocatable(text: &str) -> Result<Vec<ResourceQuantities>, FlagsError> {
    let flag = "min_allocatable_resources";
    let mut out = Vec::new();
    for part in text.split('|') {
        let part = part.trim();
        if part.is_empty() {
            return Err(invalid(flag, "an empty alternative"));
        }
        out.push(
            ResourceQuantities::from_string(part)
                .map_err(|error| invalid(flag, format!("'{part}': {error}")))?,
        );
    }
    Ok(out)
}

fn parse_weights(text: &str) -> Result<BTreeMap<String, f64>, FlagsError> {
    let mut out = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (role, weight) = pair
            .split_once('=')
            .ok_or_else(|| invalid("weights", format!("'{pair}' is not role=weight")))?;
        mesos_core::roles::validate(role)
            .map_err(|error| invalid("weights", format!("role '{role}': {error}")))?;
        let weight: f64 = weight
            .parse()
            .map_err(|_| invalid("weights", format!("'{weight}' is not a number")))?;
        if !(weight.is_finite() && weight > 0.0) {
            return Err(invalid(
                "weights",
                format!("weight of '{role}' must be positive"),
            ));
        }
        out.insert(role.to_owned(), weight);
    }
    Ok(out)
}

fn parse_firewall_rules(text: &str) -> Result<Vec<String>, FlagsError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|error| invalid("firewall_rules", format!("not JSON: {error}")))?;
    let Some(paths) = value.pointer("/disabled_endpoints/paths") else {
        return Ok(Vec::new());
    };
    let paths = paths
        .as_array()
        .ok_or_else(|| invalid("firewall_rules", "disabled_endpoints.paths is not an array"))?;
    paths
        .iter()
        .map(|p| {
            p.as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid("firewall_rules", "a path is not a string"))
        })
        .collect()
}

/// Credentials as JSON (`{"credentials":[{"principal":..,"secret":..}]}`) or as lines of
/// `principal secret`, given inline, as a path or as a `file://` path.
fn parse_credentials(value: &str) -> Result<Vec<Credential>, FlagsError> {
    let flag = "credentials";
    let text = if value.starts_with("file://") {
        resolve_file_value(value).map_err(|error| invalid(flag, error.to_string()))?
    } else if value.trim_start().starts_with('{') {
        value.to_owned()
    } else {
        std::fs::read_to_string(value)
            .map_err(|error| invalid(flag, format!("cannot read '{value}': {error}")))?
    };
    if text.trim_start().starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|error| invalid(flag, format!("not JSON: {error}")))?;
        let list = json
            .get("credentials")
            .and_then(|c| c.as_array())
            .ok_or_else(|| invalid(flag, "no 'credentials' array"))?;
        return list
            .iter()
            .map(|c| {
                let field = |name: &str| {
                    c.get(name)
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                        .ok_or_else(|| invalid(flag, format!("a credential has no '{name}'")))
                };
                Ok(Credential {
                    principal: field("principal")?,
                    secret: field("secret").unwrap_or_default(),
                })
            })
            .collect();
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(principal), Some(secret), None) => Ok(Credential {
                    principal: principal.to_owned(),
                    secret: secret.to_owned(),
                }),
                _ => Err(invalid(flag, format!("'{line}' is not 'principal secret'"))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_mesos_defaults() {
        let flags = MasterFlags::default();
        assert_eq!(flags.port, 5050);
        assert_eq!(flags.registry, "replicated_log");
        assert_eq!(flags.allocation_interval, Duration::from_secs(1));
        assert_eq!(flags.agent_ping_timeout, Duration::from_secs(15));
        assert_eq!(flags.max_agent_ping_timeouts, 5);
        assert_eq!(flags.agent_reregister_timeout, Duration::from_mins(10));
        assert_eq!(flags.max_completed_frameworks, 50);
        assert_eq!(flags.max_completed_tasks_per_framework, 1000);
        assert!(flags.offer_timeout.is_none());
        // replicated_log needs a work_dir.
        assert!(flags.validate().is_err());
    }

    #[test]
    fn values_parse_and_validate() {
        let flags = MasterFlags::try_parse_args([
            "mesos-master",
            "--registry=in_memory",
            "--agent_removal_rate_limit=1/10mins",
            "--weights=a=2,b=3.5",
            "--offer_timeout=30secs",
            "--no-filter_gpu_resources",
            r#"--firewall_rules={"disabled_endpoints":{"paths":["/state"]}}"#,
            r#"--credentials={"credentials":[{"principal":"p","secret":"s"}]}"#,
        ])
        .unwrap();
        let settings = flags.validate().unwrap();
        assert_eq!(settings.registry, RegistryKind::InMemory);
        assert_eq!(
            settings.agent_removal_rate_limit,
            Some(RateLimit {
                permits: 1,
                duration: Duration::from_mins(10)
            })
        );
        assert_eq!(settings.weights["b"], 3.5);
        assert_eq!(settings.disabled_endpoints, vec!["/state".to_owned()]);
        assert_eq!(settings.credentials[0].principal, "p");
        assert!(!flags.filter_gpu_resources);
        assert_eq!(flags.to_pairs()["offer_timeout"], "30secs");
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let parse = |arg: &str| {
            MasterFlags::try_parse_args(["mesos-master", "--registry=in_memory", arg])
                .map_err(|e| e.to_string())
                .and_then(|f| f.validate().map(|_| ()).map_err(|e| e.to_string()))
        };
        assert!(parse("--port=notaport").unwrap_err().contains("port"));
        assert!(
            parse("--agent_ping_timeout=5lightyears")
                .unwrap_err()
                .contains("agent_ping_timeout")
        );
        assert!(
            parse("--agent_reregister_timeout=1mins")
                .unwrap_err()
                .contains("at least")
        );
        assert!(
            parse("--agent_removal_rate_limit=often")
                .unwrap_err()
                .contains("agent_removal_rate_limit")
        );
        assert!(parse("--weights=a=-1").unwrap_err().contains("weights"));
        let err = MasterFlags::try_parse_args(["mesos-master", "--registry=zookeeper"])
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("in_memory"), "{err}");
        assert!(parse("--no_such_flag=1").is_err());
    }

    #[test]
    fn high_availability_flags() {
        let check = |args: &[&str]| {
            let mut all = vec!["mesos-master", "--work_dir=/tmp/x"];
            all.extend_from_slice(args);
            MasterFlags::try_parse_args(all)
                .map_err(|e| e.to_string())?
                .validate()
                .map_err(|e| e.to_string())
        };
        let settings = check(&["--zk=zk://127.0.0.1:2181/mesos", "--quorum=1"]).unwrap();
        assert_eq!(settings.zk.as_ref().unwrap().path(), "/mesos");
        assert_eq!(
            settings.zk_session_timeout,
            std::time::Duration::from_secs(10)
        );
        assert_eq!(settings.recovery_agent_removal_limit, 1.0);
        match &settings.registry {
            RegistryKind::ZooKeeper(url) => assert_eq!(url.path(), "/mesos/registry"),
            other => panic!("{other:?}"),
        }
        // Without --zk the registry is the file.
        assert!(matches!(
            check(&[]).unwrap().registry,
            RegistryKind::File(_)
        ));
        let err = check(&["--zk=zk://127.0.0.1:2181/mesos"]).unwrap_err();
        assert!(err.contains("--quorum"), "{err}");
        assert!(check(&["--zk=zk://h:1/m", "--quorum=0"]).is_err());
        // in_memory needs no quorum.
        assert!(check(&["--zk=zk://h:1/m", "--registry=in_memory"]).is_ok());
        for bad in ["--zk=http://h:1/m", "--zk=zk://h:1", "--zk=zk:///m"] {
            let err = check(&[bad, "--quorum=1"]).unwrap_err();
            assert!(err.contains("--zk"), "{bad}: {err}");
        }
        let file = std::env::temp_dir().join(format!("zk-flag-{}", std::process::id()));
        std::fs::write(&file, "zk://10.0.0.1:2181,10.0.0.2:2181/mesos\n").unwrap();
        let settings = check(&[&format!("--zk=file://{}", file.display()), "--quorum=2"]).unwrap();
        assert_eq!(
            settings.zk.unwrap().servers(),
            "10.0.0.1:2181,10.0.0.2:2181"
        );
        let _ = std::fs::remove_file(&file);
        let settings = check(&[
            "--recovery_agent_removal_limit=25%",
            "--zk_session_timeout=2secs",
        ])
        .unwrap();
        assert_eq!(settings.recovery_agent_removal_limit, 0.25);
        assert_eq!(
            settings.zk_session_timeout,
            std::time::Duration::from_secs(2)
        );
        for bad in ["50", "101%", "-1%", "x%"] {
            let err = check(&[&format!("--recovery_agent_removal_limit={bad}")]).unwrap_err();
            assert!(err.contains("recovery_agent_removal_limit"), "{bad}: {err}");
        }
        assert!(check(&["--zk_session_timeout=0secs"]).is_err());
    }
}

//! The executor's configuration, read from the `MESOS_*` environment the agent gives every
//! executor it launches (Mesos's `executorEnvironment`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use mesos_core::v1;

use crate::codec::ContentType;

/// The shutdown grace period when the agent gives none (the agent's default
/// `--executor_shutdown_grace_period`).
pub const DEFAULT_SHUTDOWN_GRACE_PERIOD: Duration = Duration::from_secs(5);

/// Why the environment does not describe an executor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable the executor cannot do without is not set.
    #[error("expecting '{name}' to be set in the environment")]
    Missing {
        /// The variable.
        name: &'static str,
    },
    /// A variable is set to something that does not parse.
    #[error("failed to parse {name} '{value}': {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where the executor is, who it is, and how it behaves when its agent goes away.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ExecutorConfig {
    /// `MESOS_FRAMEWORK_ID`.
    pub framework_id: v1::FrameworkId,
    /// `MESOS_EXECUTOR_ID`.
    pub executor_id: v1::ExecutorId,
    /// `MESOS_SLAVE_ID`, when given.
    pub agent_id: Option<v1::AgentId>,
    /// The agent's `host:port`, from `MESOS_AGENT_ENDPOINT` (or `MESOS_SLAVE_PID`).
    pub agent_endpoint: String,
    /// The path of the executor API on the agent: `/api/v1/executor`, or
    /// `/<agent id>/api/v1/executor` when found through `MESOS_SLAVE_PID`.
    pub api_path: String,
    /// `MESOS_DIRECTORY`: the sandbox on the host.
    pub directory: Option<PathBuf>,
    /// `MESOS_SANDBOX`: the sandbox as the executor sees it.
    pub sandbox: Option<PathBuf>,
    /// `MESOS_CHECKPOINT`: whether the framework checkpoints, so that the executor survives an
    /// agent restart by reconnecting.
    pub checkpoint: bool,
    /// `MESOS_RECOVERY_TIMEOUT`: how long to try reconnecting before shutting down (required
    /// with checkpointing).
    pub recovery_timeout: Option<Duration>,
    /// `MESOS_SUBSCRIPTION_BACKOFF_MAX`: the longest wait between two reconnection attempts
    /// (required with checkpointing).
    pub subscription_backoff_max: Option<Duration>,
    /// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` (5 seconds when not set): how long the executor
    /// has to shut down before it is killed.
    pub shutdown_grace_period: Duration,
    /// `MESOS_LOCAL` is set: on shutdown the library does not kill the executor's process group.
    pub local: bool,
    /// `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, sent as `Authorization: Bearer <token>`.
    pub authentication_token: Option<String>,
    /// The encoding of calls and events (not from the environment; protobuf by default).
    pub content_type: ContentType,
}

impl ExecutorConfig {
    /// The configuration described by this process's environment.
    pub fn from_env() -> Result<ExecutorConfig, ConfigError> {
        ExecutorConfig::from_vars(std::env::vars())
    }

    /// The configuration described by `vars` (name, value); variables that do not start
    /// with `MESOS_` are ignored.
    pub fn from_vars<I, K, V>(vars: I) -> Result<ExecutorConfig, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let env: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with("MESOS_"))
            .collect();
        let get = |name: &str| env.get(name).map(String::as_str);
        let required = |name: &'static str| match get(name) {
            Some(value) if !value.is_empty() => Ok(value.to_string()),
            _ => Err(ConfigError::Missing { name }),
        };

        let framework_id = v1::FrameworkId {
            value: required("MESOS_FRAMEWORK_ID")?,
        };
        let executor_id = v1::ExecutorId {
            value: required("MESOS_EXECUTOR_ID")?,
        };
        let agent_id = get("MESOS_SLAVE_ID")
            .filter(|v| !v.is_empty())
            .map(|value| v1::AgentId {
                value: value.to_string(),
            });

        let (agent_endpoint, api_path) = match (get("MESOS_AGENT_ENDPOINT"), get("MESOS_SLAVE_PID"))
        {
            (Some(endpoint), _) => (
                parse_endpoint("MESOS_AGENT_ENDPOINT", endpoint)?,
                "/api/v1/executor".to_string(),
            ),
            (None, Some(pid)) => {
                let invalid = |reason: &str| ConfigError::Invalid {
                    name: "MESOS_SLAVE_PID",
                    value: pid.to_string(),
                    reason: reason.to_string(),
                };
                let (id, address) = pid
                    .split_once('@')
                    .ok_or_else(|| invalid("expecting 'id@ip:port'"))?;
                if id.is_empty() {
                    return Err(invalid("expecting 'id@ip:port'"));
                }
                (
                    parse_endpoint("MESOS_SLAVE_PID", address)?,
                    format!("/{id}/api/v1/executor"),
                )
            }
            (None, None) => {
                return Err(ConfigError::Missing {
                    name: "MESOS_AGENT_ENDPOINT",
                });
            }
        };

        let checkpoint = match get("MESOS_CHECKPOINT") {
            None | Some("" | "0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "MESOS_CHECKPOINT",
                    value: other.to_string(),
                    reason: "expecting '1' or '0'".to_string(),
                });
            }
        };

        let duration = |name: &'static str| -> Result<Option<Duration>, ConfigError> {
            get(name)
                .map(|value| parse_duration(name, value))
                .transpose()
        };
        let (recovery_timeout, subscription_backoff_max) = if checkpoint {
            (
                Some(
                    duration("MESOS_RECOVERY_TIMEOUT")?.ok_or(ConfigError::Missing {
                        name: "MESOS_RECOVERY_TIMEOUT",
                    })?,
                ),
                Some(
                    duration("MESOS_SUBSCRIPTION_BACKOFF_MAX")?.ok_or(ConfigError::Missing {
                        name: "MESOS_SUBSCRIPTION_BACKOFF_MAX",
                    })?,
                ),
            )
        } else {
            (
                duration("MESOS_RECOVERY_TIMEOUT")?,
                duration("MESOS_SUBSCRIPTION_BACKOFF_MAX")?,
            )
        };
        let shutdown_grace_period = duration("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD")?
            .unwrap_or(DEFAULT_SHUTDOWN_GRACE_PERIOD);

        Ok(ExecutorConfig {
            framework_id,
            executor_id,
            agent_id,
            agent_endpoint,
            api_path,
            directory: get("MESOS_DIRECTORY").map(PathBuf::from),
            sandbox: get("MESOS_SANDBOX").map(PathBuf::from),
            checkpoint,
            recovery_timeout,
            subscription_backoff_max,
            shutdown_grace_period,
            local: env.contains_key("MESOS_LOCAL"),
            authentication_token: get("MESOS_EXECUTOR_AUTHENTICATION_TOKEN").map(str::to_string),
            content_type: ContentType::default(),
        })
    }

    /// The same configuration with another content type.
    pub fn with_content_type(mut self, content_type: ContentType) -> ExecutorConfig {
        self.content_type = content_type;
        self
    }

    /// The same configuration, local or not (see [`ExecutorConfig::local`]).
    pub fn with_local(mut self, local: bool) -> ExecutorConfig {
        self.local = local;
        self
    }

    /// The URL calls are posted to.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.agent_endpoint, self.api_path)
    }
}

/// Checks `host:port` (an IPv6 address in brackets).
fn parse_endpoint(name: &'static str, value: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name,
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let (host, port) = value
        .rsplit_once(':')
        .ok_or_else(|| invalid("expecting 'host:port'"))?;
    if host.is_empty()
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .is_empty()
    {
        return Err(invalid("expecting 'host:port'"));
    }
    port.parse::<u16>()
        .ok()
        .filter(|port| *port != 0)
        .ok_or_else(|| invalid("the port is not a number from 1 to 65535"))?;
    Ok(value.to_string())
}

/// A duration in Mesos's notation (`5secs`), not negative.
fn parse_duration(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name,
        value: value.to_string(),
        reason,
    };
    let parsed: stout::Duration = value.parse().map_err(|e| invalid(format!("{e}")))?;
    Duration::try_from(parsed).map_err(|_| invalid("negative duration".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("MESOS_FRAMEWORK_ID", "fw-1"),
            ("MESOS_EXECUTOR_ID", "ex-1"),
            ("MESOS_SLAVE_ID", "agent-1"),
            ("MESOS_AGENT_ENDPOINT", "127.0.0.1:5051"),
            ("MESOS_DIRECTORY", "/tmp/sandbox"),
            ("MESOS_SANDBOX", "/mnt/mesos/sandbox"),
            ("MESOS_CHECKPOINT", "0"),
            ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "7secs"),
            ("PATH", "/bin"),
        ]
    }

    fn with(changes: &[(&'static str, Option<&'static str>)]) -> Vec<(&'static str, &'static str)> {
        let mut vars = base();
        for (name, value) in changes {
            vars.retain(|(k, _)| k != name);
            if let Some(value) = value {
                vars.push((name, value));
            }
        }
        vars
    }

    #[test]
    fn reads_the_agent_environment() {
        let config = ExecutorConfig::from_vars(base()).unwrap();
        assert_eq!(config.framework_id.value, "fw-1");
        assert_eq!(config.executor_id.value, "ex-1");
        assert_eq!(config.agent_id.as_ref().unwrap().value, "agent-1");
        assert_eq!(config.url(), "http://127.0.0.1:5051/api/v1/executor");
        assert_eq!(config.directory, Some(PathBuf::from("/tmp/sandbox")));
        assert_eq!(config.sandbox, Some(PathBuf::from("/mnt/mesos/sandbox")));
        assert!(!config.checkpoint);
        assert!(!config.local);
        assert_eq!(config.shutdown_grace_period, Duration::from_secs(7));
        assert_eq!(config.content_type, ContentType::Protobuf);
    }

    #[test]
    fn checkpointing_needs_recovery_settings() {
        let vars = with(&[("MESOS_CHECKPOINT", Some("1"))]);
        assert_eq!(
            ExecutorConfig::from_vars(vars),
            Err(ConfigError::Missing {
                name: "MESOS_RECOVERY_TIMEOUT"
            })
        );
        let vars = with(&[
            ("MESOS_CHECKPOINT", Some("1")),
            ("MESOS_RECOVERY_TIMEOUT", Some("15mins")),
        ]);
        assert_eq!(
            ExecutorConfig::from_vars(vars),
            Err(ConfigError::Missing {
                name: "MESOS_SUBSCRIPTION_BACKOFF_MAX"
            })
        );
        let vars = with(&[
            ("MESOS_CHECKPOINT", Some("1")),
            ("MESOS_RECOVERY_TIMEOUT", Some("15mins")),
            ("MESOS_SUBSCRIPTION_BACKOFF_MAX", Some("2secs")),
        ]);
        let config = ExecutorConfig::from_vars(vars).unwrap();
        assert!(config.checkpoint);
        assert_eq!(config.recovery_timeout, Some(Duration::from_secs(900)));
        assert_eq!(
            config.subscription_backoff_max,
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn missing_and_bad_values_are_named() {
        let err = ExecutorConfig::from_vars(with(&[("MESOS_FRAMEWORK_ID", None)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expecting 'MESOS_FRAMEWORK_ID' to be set in the environment"
        );
        assert_eq!(
            ExecutorConfig::from_vars(with(&[("MESOS_EXECUTOR_ID", Some(""))])),
            Err(ConfigError::Missing {
                name: "MESOS_EXECUTOR_ID"
            })
        );
        assert_eq!(
            ExecutorConfig::from_vars(with(&[("MESOS_AGENT_ENDPOINT", None)])),
            Err(ConfigError::Missing {
                name: "MESOS_AGENT_ENDPOINT"
            })
        );
        for (name, value) in [
            ("MESOS_AGENT_ENDPOINT", "localhost"),
            ("MESOS_AGENT_ENDPOINT", "1.2.3.4:http"),
            ("MESOS_AGENT_ENDPOINT", ":5051"),
            ("MESOS_CHECKPOINT", "yes"),
            ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5 parsecs"),
            ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "-1secs"),
        ] {
            let err = ExecutorConfig::from_vars(with(&[(name, Some(value))])).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: n, value: v, .. } if *n == name && v == value),
                "{name}={value}: {err}"
            );
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn agent_pid_is_a_fallback() {
        let vars = with(&[
            ("MESOS_AGENT_ENDPOINT", None),
            ("MESOS_SLAVE_PID", Some("slave(1)@10.0.0.2:5051")),
        ]);
        let config = ExecutorConfig::from_vars(vars).unwrap();
        assert_eq!(
            config.url(),
            "http://10.0.0.2:5051/slave(1)/api/v1/executor"
        );
        let vars = with(&[
            ("MESOS_AGENT_ENDPOINT", None),
            ("MESOS_SLAVE_PID", Some("10.0.0.2:5051")),
        ]);
        assert!(matches!(
            ExecutorConfig::from_vars(vars),
            Err(ConfigError::Invalid {
                name: "MESOS_SLAVE_PID",
                ..
            })
        ));
    }

    #[test]
    fn defaults() {
        let vars = with(&[
            ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", None),
            ("MESOS_CHECKPOINT", None),
            ("MESOS_LOCAL", Some("1")),
        ]);
        let config = ExecutorConfig::from_vars(vars).unwrap();
        assert_eq!(config.shutdown_grace_period, DEFAULT_SHUTDOWN_GRACE_PERIOD);
        assert!(!config.checkpoint);
        assert!(config.local);
    }
}

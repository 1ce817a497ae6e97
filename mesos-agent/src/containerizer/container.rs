//! What the agent tells the containerizer about a container and what it hears back: the
//! launch configuration, exit statuses, limitations and terminations (upstream
//! `include/mesos/slave/containerizer.proto`: `ContainerConfig`, `ContainerTermination`,
//! `ContainerLimitation`, `ContainerState`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use mesos_core::resources::Resources;
use mesos_core::v0::task_status::Reason;
use mesos_core::v0::{CommandInfo, ContainerId, TaskState};
use nix::sys::signal::Signal;

/// How to launch a container.
#[derive(Clone, Debug)]
pub struct ContainerConfig {
    /// What to run: `shell` (the default) runs `value` with `sh -c`; otherwise `value` is
    /// the program and `arguments` its argv (argv\[0\] included). Its `environment` is laid
    /// over [`ContainerConfig::environment`]; its `user` wins over [`ContainerConfig::user`].
    pub command: CommandInfo,
    /// The sandbox: the working directory, where `stdout` and `stderr` go.
    pub sandbox: PathBuf,
    /// What the container may use; isolators enforce (or report against) it.
    pub resources: Resources,
    /// The environment from the agent (e.g. the executor's `MESOS_*` variables).
    pub environment: BTreeMap<String, String>,
    /// The user to run as (the framework's), if the agent switches users.
    pub user: Option<String>,
    /// Where the first process's stdout goes (default `<sandbox>/stdout`).
    pub stdout: Option<PathBuf>,
    /// Where the first process's stderr goes (default `<sandbox>/stderr`).
    pub stderr: Option<PathBuf>,
}

impl ContainerConfig {
    /// A container running `command` in `sandbox`, with no resources, environment or user.
    pub fn new(command: CommandInfo, sandbox: impl Into<PathBuf>) -> ContainerConfig {
        ContainerConfig {
            command,
            sandbox: sandbox.into(),
            resources: Resources::new(),
            environment: BTreeMap::new(),
            user: None,
            stdout: None,
            stderr: None,
        }
    }

    /// A container running `sh -c <command>` in `sandbox`.
    pub fn shell(command: impl Into<String>, sandbox: impl Into<PathBuf>) -> ContainerConfig {
        ContainerConfig::new(
            CommandInfo {
                shell: Some(true),
                value: Some(command.into()),
                ..Default::default()
            },
            sandbox,
        )
    }

    /// Sets the resources.
    pub fn with_resources(mut self, resources: Resources) -> ContainerConfig {
        self.resources = resources;
        self
    }

    /// Adds an environment variable from the agent.
    pub fn with_env(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> ContainerConfig {
        self.environment.insert(name.into(), value.into());
        self
    }

    /// The file stdout goes to.
    pub fn stdout_path(&self) -> PathBuf {
        self.stdout
            .clone()
            .unwrap_or_else(|| self.sandbox.join("stdout"))
    }

    /// The file stderr goes to.
    pub fn stderr_path(&self) -> PathBuf {
        self.stderr
            .clone()
            .unwrap_or_else(|| self.sandbox.join("stderr"))
    }

    /// The user the command runs as: the command's, else the container's.
    pub fn effective_user(&self) -> Option<&str> {
        self.command.user.as_deref().or(self.user.as_deref())
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal (this number) killed it.
    Signaled(i32),
}

impl ExitStatus {
    /// The raw `waitpid` status (`WEXITSTATUS`/`WTERMSIG` encoding), as Mesos reports it.
    pub fn wait_status(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => (code & 0xff) << 8,
            ExitStatus::Signaled(signal) => signal & 0x7f,
        }
    }

    /// Decodes a raw `waitpid` status.
    pub fn from_wait_status(status: i32) -> ExitStatus {
        if status & 0x7f == 0 {
            ExitStatus::Exited((status >> 8) & 0xff)
        } else {
            ExitStatus::Signaled(status & 0x7f)
        }
    }

    /// True for `Exited(0)`.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

impl fmt::Display for ExitStatus {
    /// As stout's `WSTRINGIFY`: `exited with status 1`, `terminated with signal Killed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exited with status {code}"),
            ExitStatus::Signaled(signal) => match Signal::try_from(*signal) {
                Ok(s) => write!(f, "terminated with signal {s}"),
                Err(_) => write!(f, "terminated with signal {signal}"),
            },
        }
    }
}

/// A resource limit a container ran into: the containerizer destroys it and reports this.
#[derive(Clone, Debug)]
pub struct ContainerLimitation {
    /// The resources it went over (e.g. `mem:64`).
    pub resources: Resources,
    /// Why, for the task status (`REASON_CONTAINER_LIMITATION_MEMORY`, ...).
    pub reason: Reason,
    /// A message for people.
    pub message: String,
}

/// How a container ended (what `wait` and `destroy` give back).
#[derive(Clone, Debug, Default)]
pub struct ContainerTermination {
    /// How its first process ended; `None` if unknown (e.g. it was recovered after an
    /// agent restart, or never started).
    pub status: Option<ExitStatus>,
    /// The task state the agent should report, if the containerizer decides it
    /// (`TASK_FAILED` for a limitation).
    pub state: Option<TaskState>,
    /// Why, when the containerizer knows.
    pub reasons: Vec<Reason>,
    /// What happened, for people.
    pub message: String,
    /// The limitations that caused the destruction.
    pub limitations: Vec<ContainerLimitation>,
}

impl ContainerTermination {
    /// The raw wait status, as Mesos's `ContainerTermination.status`.
    pub fn wait_status(&self) -> Option<i32> {
        self.status.map(ExitStatus::wait_status)
    }
}

/// What the agent's checkpoint says about a container it had launched, for
/// [`Containerizer::recover`](super::Containerizer::recover).
#[derive(Clone, Debug)]
pub struct RecoverState {
    /// The container.
    pub container_id: ContainerId,
    /// The pid of its first process (`forked.pid`), if checkpointed.
    pub pid: Option<i32>,
    /// Its sandbox.
    pub sandbox: PathBuf,
    /// Its resources.
    pub resources: Resources,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_round_trips() {
        for status in [
            ExitStatus::Exited(0),
            ExitStatus::Exited(3),
            ExitStatus::Signaled(9),
        ] {
            assert_eq!(ExitStatus::from_wait_status(status.wait_status()), status);
        }
        assert_eq!(ExitStatus::Exited(1).to_string(), "exited with status 1");
        assert_eq!(
            ExitStatus::Signaled(9).to_string(),
            "terminated with signal SIGKILL"
        );
    }
}

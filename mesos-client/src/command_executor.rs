//! The command executor: what the agent runs as `mesos-executor` for a task that brings a
//! `CommandInfo` and no executor of its own (Mesos's `src/launcher/executor.cpp`).
//!
//! [`CommandExecutor`] is the handle, [`CommandExecutorProcess`] the actor; it speaks the v1
//! executor API through [`crate::executor`], configured from the agent's environment, and runs
//! exactly one task:
//!
//! - `LAUNCH`: `TASK_STARTING`, then the command is started: `/bin/sh -c <value>` for a shell
//!   command, else `value` as the program with `arguments` as its argv (the first argument is
//!   argv\[0\]); the executor's environment plus the command's `environment`; as the command's
//!   `user` (or `--user`) when the executor runs as root; in a process group of its own; stdout
//!   and stderr are the executor's (the sandbox's `stdout`/`stderr`). Then `TASK_RUNNING`. A
//!   second `LAUNCH` gets `TASK_FAILED`.
//! - the command exits: `TASK_FINISHED` for status 0, `TASK_KILLED` after a kill, else
//!   `TASK_FAILED`; the message says how it ended ("Command exited with status 3",
//!   "Command terminated with signal Killed").
//! - `KILL`: `TASK_KILLING` (when the framework has the `TASK_KILLING_STATE` capability),
//!   `SIGTERM` to the process group, `SIGKILL` once the grace period is over: the `KILL`'s
//!   kill policy, else the task's, else `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`. A later kill
//!   may shorten the grace period, never lengthen it.
//! - `SHUTDOWN`: a kill with the shutdown grace period less a second; with no task, the
//!   executor exits at once.
//! - the executor exits once its terminal update is acknowledged, or [`TERMINAL_ACK_TIMEOUT`]
//!   after sending it.

use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, SystemTime};

use libprocess::{Context, Future, Handle, Pid, Process, Timer, delay, dispatch};
use mesos_core::v1;
use mesos_core::v1::executor::{Event, event};
use nix::sys::signal::{self, Signal};
use tracing::{debug, info, warn};

use crate::executor::{Executor, ExecutorCallbacks, ExecutorConfig};

/// How long the executor waits for the acknowledgement of its terminal update before exiting.
pub const TERMINAL_ACK_TIMEOUT: Duration = Duration::from_secs(60);

/// What is kept of the shutdown grace period for the executor's own exit.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(1);

/// Why the command line is not one the command executor takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlagsError {
    /// An argument that is not `--name=value` (or `--name` for `--help`).
    #[error("failed to load flag '{0}': expecting '--name=value'")]
    Malformed(String),
    /// A flag the command executor does not know.
    #[error("failed to load unknown flag '{0}'")]
    Unknown(String),
    /// A flag given without its value.
    #[error("flag '{0}' needs a value")]
    MissingValue(String),
}

/// The command executor's flags (upstream's, all optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandExecutorFlags {
    /// `--help`.
    pub help: bool,
    /// `--launcher_dir`: where Mesos's binaries are (accepted, unused).
    pub launcher_dir: Option<String>,
    /// `--rootfs`: a root filesystem for the task (not supported: the task fails).
    pub rootfs: Option<String>,
    /// `--sandbox_directory`: the sandbox inside the container (accepted, unused without a
    /// rootfs).
    pub sandbox_directory: Option<String>,
    /// `--working_directory`: the task's working directory (default: the executor's).
    pub working_directory: Option<String>,
    /// `--user`: run the task as this user (when the executor is root), unless the command
    /// names one.
    pub user: Option<String>,
    /// `--task_command`: a `CommandInfo` as JSON that replaces the task's.
    pub task_command: Option<String>,
}

impl CommandExecutorFlags {
    /// Parses `--name=value` arguments (the program name excluded).
    pub fn parse<I, S>(args: I) -> Result<CommandExecutorFlags, FlagsError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut flags = CommandExecutorFlags::default();
        for arg in args {
            let arg = arg.as_ref();
            let Some(flag) = arg.strip_prefix("--") else {
                return Err(FlagsError::Malformed(arg.to_string()));
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (flag, None),
            };
            let slot = match name {
                "help" => {
                    flags.help = value.as_deref().is_none_or(|v| v == "true" || v == "1");
                    continue;
                }
                "launcher_dir" => &mut flags.launcher_dir,
                "rootfs" => &mut flags.rootfs,
                "sandbox_directory" => &mut flags.sandbox_directory,
                "working_directory" => &mut flags.working_directory,
                "user" => &mut flags.user,
                "task_command" => &mut flags.task_command,
                other => return Err(FlagsError::Unknown(other.to_string())),
            };
            *slot = Some(value.ok_or_else(|| FlagsError::MissingValue(name.to_string()))?);
        }
        Ok(flags)
    }

    /// What `--help` prints.
    pub fn usage() -> &'static str {
        "Usage: mesos-executor [options]\n\n\
         Runs one command task for the Mesos agent; configured by the MESOS_* environment.\n\n\
         \x20 --launcher_dir=VALUE       directory of Mesos's binaries (unused)\n\
         \x20 --rootfs=VALUE             root filesystem for the task (not supported)\n\
         \x20 --sandbox_directory=VALUE  the sandbox inside the container\n\
         \x20 --working_directory=VALUE  working directory of the task\n\
         \x20 --user=VALUE               user to run the task as\n\
         \x20 --task_command=VALUE       CommandInfo (JSON) replacing the task's\n\
         \x20 --help                     prints this help\n"
    }
}

/// Handle on a running command executor.
#[derive(Clone, Debug)]
pub struct CommandExecutor {
    pid: Pid<CommandExecutorProcess>,
}

impl CommandExecutor {
    /// Starts the command executor (and its executor library) on `runtime`.
    pub fn spawn(
        runtime: &Handle,
        config: ExecutorConfig,
        flags: CommandExecutorFlags,
    ) -> CommandExecutor {
        let pid = runtime.spawn(CommandExecutorProcess::new(config, flags));
        CommandExecutor { pid }
    }

    /// Completes once the executor is done (its terminal update acknowledged, or shut down).
    pub fn wait(&self) -> Future<()> {
        libprocess::wait(&self.pid)
    }
}

/// The entry point of the `mesos-executor` binary: reads the flags in `args` (without the
/// program name) and the environment, runs the executor to its end, and returns the exit code.
pub fn main<I, S>(args: I) -> i32
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MESOS_LOG_FILTER")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let flags = match CommandExecutorFlags::parse(args) {
        Ok(flags) => flags,
        Err(error) => {
            eprintln!("{error}\n\n{}", CommandExecutorFlags::usage());
            return 1;
        }
    };
    if flags.help {
        println!("{}", CommandExecutorFlags::usage());
        return 0;
    }
    let config = match ExecutorConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return 1;
        }
    };
    // One task, a handful of events: one worker thread is plenty, and starting CPUs+1 of
    // them (after reading the cgroup's CPU quota to count the CPUs) is a measurable part of
    // every task's start. `LIBPROCESS_NUM_WORKER_THREADS` still decides when set.
    let runtime = if std::env::var_os("LIBPROCESS_NUM_WORKER_THREADS").is_some() {
        libprocess::Runtime::new()
    } else {
        libprocess::Runtime::builder().workers(1).build()
    };
    let executor = CommandExecutor::spawn(runtime.handle(), config, flags);
    let _ = executor.wait().get();
    0
}

/// Forwards the library's callbacks to the command executor's process.
struct Forward(Pid<CommandExecutorProcess>);

impl ExecutorCallbacks for Forward {
    fn connected(&mut self) {
        debug!("connected to the agent");
    }

    fn disconnected(&mut self) {
        debug!("disconnected from the agent");
    }

    fn received(&mut self, events: Vec<Event>) {
        dispatch(&self.0, move |p: &mut CommandExecutorProcess| {
            for event in events {
                p.received(event);
            }
        });
    }
}

/// The command executor's state (see the module docs).
pub struct CommandExecutorProcess {
    config: ExecutorConfig,
    flags: CommandExecutorFlags,
    me: Option<Pid<CommandExecutorProcess>>,
    library: Option<Executor>,
    framework_info: Option<v1::FrameworkInfo>,
    task: Option<v1::TaskInfo>,
    /// The command's pid, which is also its process group.
    child: Option<nix::unistd::Pid>,
    launched: bool,
    killed: bool,
    terminated: bool,
    /// When the first kill started, and when SIGKILL is due.
    kill_started: Option<SystemTime>,
    escalation: Option<(Timer, SystemTime)>,
    /// The uuid of the terminal update, once sent.
    terminal_uuid: Option<Vec<u8>>,
}

impl Process for CommandExecutorProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        let me = ctx.pid();
        self.me = Some(me.clone());
        info!(executor_id = %self.config.executor_id.value, "command executor starting");
        self.library = Some(Executor::new(
            &ctx.runtime(),
            self.config.clone(),
            Forward(me),
        ));
    }

    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
        if let Some(library) = self.library.take() {
            drop(library.stop());
        }
    }
}

impl CommandExecutorProcess {
    fn new(config: ExecutorConfig, flags: CommandExecutorFlags) -> CommandExecutorProcess {
        CommandExecutorProcess {
            config,
            flags,
            me: None,
            library: None,
            framework_info: None,
            task: None,
            child: None,
            launched: false,
            killed: false,
            terminated: false,
            kill_started: None,
            escalation: None,
            terminal_uuid: None,
        }
    }

    fn me(&self) -> &Pid<CommandExecutorProcess> {
        self.me.as_ref().expect("set in initialize")
    }

    fn received(&mut self, event: Event) {
        let kind = event.r#type.and_then(|t| event::Type::try_from(t).ok());
        debug!(event = ?kind, "received event");
        match kind {
            Some(event::Type::Subscribed) => {
                if let Some(subscribed) = event.subscribed {
                    info!(agent = %subscribed.agent_info.hostname, "subscribed");
                    self.framework_info = Some(subscribed.framework_info);
                }
            }
            Some(event::Type::Launch) => {
                if let Some(launch) = event.launch {
                    self.launch(launch.task);
                }
            }
            Some(event::Type::LaunchGroup) => {
                for task in event
                    .launch_group
                    .map(|g| g.task_group.tasks)
                    .unwrap_or_default()
                {
                    self.update(
                        &task.task_id,
                        v1::TaskState::TaskFailed,
                        Some("the command executor does not run task groups".into()),
                    );
                }
            }
            Some(event::Type::Kill) => {
                if let Some(kill) = event.kill {
                    let grace = kill
                        .kill_policy
                        .and_then(|p| p.grace_period)
                        .or_else(|| {
                            self.task
                                .as_ref()
                                .and_then(|t| t.kill_policy.as_ref())
                                .and_then(|p| p.grace_period)
                        })
                        .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
                        .unwrap_or(self.config.shutdown_grace_period);
                    if self
                        .task
                        .as_ref()
                        .is_some_and(|t| t.task_id != kill.task_id)
                    {
                        warn!(task_id = %kill.task_id.value, "kill of a task this executor does not run");
                        return;
                    }
                    info!(task_id = %kill.task_id.value, ?grace, "received kill");
                    self.kill(grace);
                }
            }
            Some(event::Type::Acknowledged) => {
                if let Some(ack) = event.acknowledged
                    && self.terminal_uuid.as_deref() == Some(&ack.uuid[..])
                {
                    info!("terminal update acknowledged; exiting");
                    self.finish();
                }
            }
            Some(event::Type::Shutdown) => self.shutdown(),
            Some(event::Type::Error) => {
                warn!(message = ?event.error.map(|e| e.message), "error from the executor library")
            }
            _ => {}
        }
    }

    fn launch(&mut self, task: v1::TaskInfo) {
        if self.launched || self.task.is_some() {
            self.update(
                &task.task_id,
                v1::TaskState::TaskFailed,
                Some("Attempted to run multiple tasks using a \"command\" executor".into()),
            );
            return;
        }
        self.task = Some(task.clone());
        self.launched = true;
        self.update(&task.task_id, v1::TaskState::TaskStarting, None);

        let spawned = self
            .command(&task)
            .and_then(|mut command| command.spawn().map_err(|e| format!("{e}")));
        let child = match spawned {
            Ok(child) => child,
            Err(error) => {
                warn!(task_id = %task.task_id.value, error, "failed to launch the task");
                self.terminated = true;
                self.terminal(
                    &task.task_id,
                    v1::TaskState::TaskFailed,
                    format!("Failed to launch task: {error}"),
                );
                return;
            }
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        info!(task_id = %task.task_id.value, %pid, "forked command");
        self.child = Some(pid);
        self.reap(child);
        self.update(&task.task_id, v1::TaskState::TaskRunning, None);
    }

    /// The command to run for `task`.
    fn command(&self, task: &v1::TaskInfo) -> Result<Command, String> {
        if self.flags.rootfs.is_some() {
            return Err("a rootfs is not supported by this command executor".into());
        }
        let info: v1::CommandInfo = match &self.flags.task_command {
            Some(json) => mesos_core::json::from_str(json)
                .map_err(|e| format!("failed to parse --task_command: {e}"))?,
            None => task
                .command
                .clone()
                .ok_or_else(|| format!("task '{}' has no command", task.task_id.value))?,
        };
        let value = info
            .value
            .clone()
            .filter(|v| !v.is_empty() || info.shell())
            .ok_or_else(|| {
                if info.shell() {
                    "the shell command is not specified".to_string()
                } else {
                    "the executable is not specified".to_string()
                }
            })?;
        let mut command = if info.shell() {
            let mut command = Command::new("/bin/sh");
            command.arg0("sh").arg("-c").arg(&value);
            command
        } else {
            let mut command = Command::new(&value);
            if let Some((argv0, rest)) = info.arguments.split_first() {
                command.arg0(argv0).args(rest);
            }
            command
        };
        command.env_remove("MESOS_EXECUTOR_AUTHENTICATION_TOKEN");
        for variable in info.environment.iter().flat_map(|e| &e.variables) {
            match &variable.value {
                Some(value) => {
                    command.env(&variable.name, value);
                }
                None => {
                    warn!(name = %variable.name, "environment variable without a value skipped")
                }
            }
        }
        if let Some(user) = info.user.as_ref().or(self.flags.user.as_ref()) {
            if nix::unistd::geteuid().is_root() {
                let account = nix::unistd::User::from_name(user)
                    .map_err(|e| format!("failed to look up user '{user}': {e}"))?
                    .ok_or_else(|| format!("user '{user}' does not exist"))?;
                command.uid(account.uid.as_raw()).gid(account.gid.as_raw());
            } else {
                debug!(user, "not root: the task runs as the executor's user");
            }
        }
        if let Some(dir) = &self.flags.working_directory {
            command.current_dir(dir);
        }
        command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        Ok(command)
    }

    /// Waits for `child` on a thread of its own and reports its end to the process.
    fn reap(&self, mut child: Child) {
        let me = self.me().clone();
        let spawned = std::thread::Builder::new()
            .name("command-reaper".into())
            .spawn(move || {
                let status = child.wait().map_err(|e| e.to_string());
                dispatch(&me, move |p: &mut CommandExecutorProcess| p.reaped(status));
            });
        if let Err(error) = spawned {
            warn!(%error, "cannot start the reaper thread");
        }
    }

    fn reaped(&mut self, status: Result<ExitStatus, String>) {
        self.terminated = true;
        if let Some((timer, _)) = self.escalation.take() {
            timer.cancel();
        }
        let Some(task_id) = self.task.as_ref().map(|t| t.task_id.clone()) else {
            return;
        };
        let (state, message) = match status {
            Err(error) => (
                v1::TaskState::TaskFailed,
                format!("Failed to get exit status for Command: {error}"),
            ),
            Ok(status) => {
                let state = if status.code() == Some(0) {
                    v1::TaskState::TaskFinished
                } else if self.killed {
                    v1::TaskState::TaskKilled
                } else {
                    v1::TaskState::TaskFailed
                };
                (state, format!("Command {}", describe(status)))
            }
        };
        info!(task_id = %task_id.value, state = state.as_str_name(), message, "command ended");
        self.terminal(&task_id, state, message);
    }

    /// Sends the terminal update and waits for its acknowledgement (or the timeout).
    fn terminal(&mut self, task_id: &v1::TaskId, state: v1::TaskState, message: String) {
        let uuid = self.update(task_id, state, Some(message));
        self.terminal_uuid = Some(uuid);
        delay(
            TERMINAL_ACK_TIMEOUT,
            self.me(),
            |p: &mut CommandExecutorProcess| {
                warn!("no acknowledgement of the terminal update; exiting");
                p.finish();
            },
        );
    }

    fn kill(&mut self, grace: Duration) {
        if self.terminated {
            return;
        }
        let Some(child) = self.child else {
            // Not launched (or failed to): nothing to kill.
            return;
        };
        let now = libprocess::clock::now();
        if self.killed {
            // A later kill may only bring SIGKILL closer.
            let (Some(started), Some((timer, due))) = (self.kill_started, &self.escalation) else {
                return;
            };
            let new_due = started + grace;
            if new_due >= *due {
                return;
            }
            timer.cancel();
            let remaining = new_due.duration_since(now).unwrap_or_default();
            info!(?remaining, "rescheduling the escalation to SIGKILL");
            self.schedule_escalation(new_due, remaining);
            return;
        }
        self.killed = true;
        self.kill_started = Some(now);
        let task_id = self
            .task
            .as_ref()
            .map(|t| t.task_id.clone())
            .expect("a child means a task");
        if self.framework_info.as_ref().is_some_and(|f| {
            f.capabilities.iter().any(|c| {
                c.r#type == Some(v1::framework_info::capability::Type::TaskKillingState as i32)
            })
        }) {
            self.update(&task_id, v1::TaskState::TaskKilling, None);
        }
        info!(%child, ?grace, "sending SIGTERM to the command's process group");
        signal_group(child, Signal::SIGTERM);
        self.schedule_escalation(now + grace, grace);
    }

    fn schedule_escalation(&mut self, due: SystemTime, wait: Duration) {
        let timer = delay(wait, self.me(), |p: &mut CommandExecutorProcess| {
            p.escalate()
        });
        self.escalation = Some((timer, due));
    }

    fn escalate(&mut self) {
        self.escalation = None;
        if self.terminated {
            return;
        }
        if let Some(child) = self.child {
            info!(%child, "grace period over: sending SIGKILL to the command's process group");
            signal_group(child, Signal::SIGKILL);
        }
    }

    fn shutdown(&mut self) {
        info!("shutting down");
        if !self.launched {
            self.finish();
            return;
        }
        if self.terminated {
            // The terminal update is out; its acknowledgement (or the timeout) ends us.
            return;
        }
        let grace = self
            .config
            .shutdown_grace_period
            .saturating_sub(SHUTDOWN_MARGIN);
        self.kill(grace);
    }

    fn finish(&mut self) {
        libprocess::terminate(self.me());
    }

    /// Sends an update for `task_id`; returns its uuid.
    fn update(
        &mut self,
        task_id: &v1::TaskId,
        state: v1::TaskState,
        message: Option<String>,
    ) -> Vec<u8> {
        let uuid: [u8; 16] = stout::Uuid::random().into();
        let status = v1::TaskStatus {
            task_id: task_id.clone(),
            state: state as i32,
            message,
            source: Some(v1::task_status::Source::Executor as i32),
            agent_id: self.config.agent_id.clone(),
            executor_id: Some(self.config.executor_id.clone()),
            uuid: Some(uuid.to_vec()),
            ..Default::default()
        };
        if let Some(library) = &self.library {
            let state = state.as_str_name();
            library.update(status).on_failed(move |error: &str| {
                warn!(state, error, "status update not sent");
            });
        }
        uuid.to_vec()
    }
}

/// Signals the process group led by `leader`, or the process alone if the group is gone.
fn signal_group(leader: nix::unistd::Pid, sig: Signal) {
    if let Err(error) = signal::killpg(leader, sig) {
        debug!(%leader, %error, "killpg failed; signalling the process");
        let _ = signal::kill(leader, sig);
    }
}

/// How a command ended, as Mesos says it: "exited with status 3", "terminated with signal
/// Killed".
pub fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        format!("exited with status {code}")
    } else if let Some(number) = status.signal() {
        format!("terminated with signal {}", signal_name(number))
    } else {
        format!("ended with wait status {}", status.into_raw())
    }
}

/// The description of a signal, as `strsignal` gives it on Linux.
fn signal_name(number: i32) -> String {
    let text = match Signal::try_from(number) {
        Ok(Signal::SIGHUP) => "Hangup",
        Ok(Signal::SIGINT) => "Interrupt",
        Ok(Signal::SIGQUIT) => "Quit",
        Ok(Signal::SIGILL) => "Illegal instruction",
        Ok(Signal::SIGTRAP) => "Trace/breakpoint trap",
        Ok(Signal::SIGABRT) => "Aborted",
        Ok(Signal::SIGBUS) => "Bus error",
        Ok(Signal::SIGFPE) => "Floating point exception",
        Ok(Signal::SIGKILL) => "Killed",
        Ok(Signal::SIGUSR1) => "User defined signal 1",
        Ok(Signal::SIGSEGV) => "Segmentation fault",
        Ok(Signal::SIGUSR2) => "User defined signal 2",
        Ok(Signal::SIGPIPE) => "Broken pipe",
        Ok(Signal::SIGALRM) => "Alarm clock",
        Ok(Signal::SIGTERM) => "Terminated",
        Ok(Signal::SIGXCPU) => "CPU time limit exceeded",
        Ok(Signal::SIGXFSZ) => "File size limit exceeded",
        _ => return format!("Unknown signal {number}"),
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        let flags = CommandExecutorFlags::parse([
            "--launcher_dir=/usr/libexec/mesos",
            "--user=nobody",
            "--task_command={\"value\":\"true\"}",
        ])
        .unwrap();
        assert_eq!(flags.launcher_dir.as_deref(), Some("/usr/libexec/mesos"));
        assert_eq!(flags.user.as_deref(), Some("nobody"));
        assert_eq!(flags.task_command.as_deref(), Some("{\"value\":\"true\"}"));
        assert!(!flags.help);
        assert!(CommandExecutorFlags::parse(["--help"]).unwrap().help);
        assert_eq!(
            CommandExecutorFlags::parse(["--bogus=1"]),
            Err(FlagsError::Unknown("bogus".into()))
        );
        assert_eq!(
            CommandExecutorFlags::parse(["user=x"]),
            Err(FlagsError::Malformed("user=x".into()))
        );
        assert_eq!(
            CommandExecutorFlags::parse(["--user"]),
            Err(FlagsError::MissingValue("user".into()))
        );
    }

    #[test]
    fn exit_statuses_are_described_as_mesos_does() {
        assert_eq!(
            describe(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        assert_eq!(describe(ExitStatus::from_raw(0)), "exited with status 0");
        assert_eq!(
            describe(ExitStatus::from_raw(9)),
            "terminated with signal Killed"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(15)),
            "terminated with signal Terminated"
        );
    }
}

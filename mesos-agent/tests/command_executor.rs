//! The `mesos-executor` binary, launched as the agent launches it (the `MESOS_*` environment,
//! the sandbox as working directory with `stdout`/`stderr` files), driven by a fake agent
//! endpoint over real HTTP.

#[path = "../../mesos-client/tests/support/fake_agent.rs"]
mod fake_agent;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fake_agent::{FakeAgent, command_task, kill, launch, shell, wait_until, with};
use libprocess::{Pid, Runtime};
use mesos_core::v1::TaskState;
use mesos_core::v1::executor::call;

const EXECUTOR: &str = env!("CARGO_BIN_EXE_mesos-executor");

struct Launched {
    _agent_rt: Runtime,
    agent: Pid<FakeAgent>,
    child: Child,
    sandbox: PathBuf,
}

fn sandbox(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mesos-agent-command-executor-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn executor_command(sandbox: &Path, endpoint: &str) -> Command {
    let mut command = Command::new(EXECUTOR);
    for (name, _) in std::env::vars() {
        if name.starts_with("MESOS_") || name.starts_with("LIBPROCESS_") {
            command.env_remove(name);
        }
    }
    command
        .env("MESOS_FRAMEWORK_ID", "fw-1")
        .env("MESOS_EXECUTOR_ID", "t1")
        .env("MESOS_SLAVE_ID", "agent-1")
        .env("MESOS_AGENT_ENDPOINT", endpoint)
        .env("MESOS_DIRECTORY", sandbox)
        .env("MESOS_SANDBOX", sandbox)
        .env("MESOS_CHECKPOINT", "0")
        .env("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5secs")
        .current_dir(sandbox)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(sandbox.join("stdout")).unwrap())
        .stderr(std::fs::File::create(sandbox.join("stderr")).unwrap())
        // As the agent's launcher does: the executor leads a group of its own.
        .process_group(0);
    command
}

fn start(name: &str, agent: FakeAgent) -> Launched {
    let (agent_rt, pid) = fake_agent::start_with(agent);
    let sandbox = sandbox(name);
    let child = executor_command(&sandbox, &agent_rt.handle().address().to_string())
        .spawn()
        .expect("start mesos-executor");
    Launched {
        _agent_rt: agent_rt,
        agent: pid,
        child,
        sandbox,
    }
}

impl Launched {
    fn updates(&self) -> Vec<(TaskState, String)> {
        with(&self.agent, |a| {
            a.calls_of(call::Type::Update)
                .into_iter()
                .map(|c| {
                    let status = c.update.unwrap().status;
                    (
                        TaskState::try_from(status.state).unwrap(),
                        status.message.unwrap_or_default(),
                    )
                })
                .collect()
        })
    }

    fn wait_for_state(&self, state: TaskState) {
        wait_until(&self.agent, &format!("{state:?}"), move |a| {
            a.calls_of(call::Type::Update)
                .iter()
                .any(|c| c.update.as_ref().unwrap().status.state == state as i32)
        });
    }

    /// Waits for the executor to exit; its exit code.
    fn exit(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "mesos-executor did not exit; stderr:\n{}",
                    self.file("stderr")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.sandbox.join(name)).unwrap_or_default()
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.sandbox);
    }
}

#[test]
fn runs_a_command_with_output_in_the_sandbox() {
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![launch(command_task(
        "t1",
        shell("echo hello; echo oops >&2; pwd"),
    ))];
    let mut launched = start("echo", agent);
    assert_eq!(launched.exit(), 0);
    let states: Vec<TaskState> = launched.updates().iter().map(|u| u.0).collect();
    assert_eq!(
        states,
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    let stdout = launched.file("stdout");
    assert!(stdout.contains("hello\n"), "{stdout}");
    // The task runs in the sandbox, the executor's working directory.
    let sandbox = launched.sandbox.canonicalize().unwrap();
    assert!(
        stdout.contains(&format!("{}\n", sandbox.display())),
        "{stdout}"
    );
    assert!(launched.file("stderr").contains("oops\n"));
}

#[test]
fn reports_a_failing_command() {
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![launch(command_task("t1", shell("exit 3")))];
    let mut launched = start("exit3", agent);
    assert_eq!(launched.exit(), 0);
    assert_eq!(
        launched.updates().last().unwrap(),
        &(TaskState::TaskFailed, "Command exited with status 3".into())
    );
}

#[test]
fn kills_a_command_with_sigterm() {
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![launch(command_task("t1", shell("sleep 100")))];
    let mut launched = start("kill", agent);
    launched.wait_for_state(TaskState::TaskRunning);
    with(&launched.agent, |a| {
        a.push(&kill("t1", Some(Duration::from_secs(10))))
    });
    assert_eq!(launched.exit(), 0);
    assert_eq!(
        launched.updates().last().unwrap(),
        &(
            TaskState::TaskKilled,
            "Command terminated with signal Terminated".into()
        )
    );
}

#[test]
fn escalates_to_sigkill_after_the_grace_period() {
    let mut agent = FakeAgent::new();
    // The script says when SIGTERM is ignored by creating `trapped` in the sandbox.
    agent.on_subscribe = vec![launch(command_task(
        "t1",
        shell("trap '' TERM; touch trapped; while true; do sleep 0.05; done"),
    ))];
    let mut launched = start("escalate", agent);
    launched.wait_for_state(TaskState::TaskRunning);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !launched.sandbox.join("trapped").exists() {
        assert!(Instant::now() < deadline, "the trap was never set");
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed_at = Instant::now();
    with(&launched.agent, |a| {
        a.push(&kill("t1", Some(Duration::from_millis(500))))
    });
    assert_eq!(launched.exit(), 0);
    assert!(killed_at.elapsed() >= Duration::from_millis(500));
    assert_eq!(
        launched.updates().last().unwrap(),
        &(
            TaskState::TaskKilled,
            "Command terminated with signal Killed".into()
        )
    );
}

#[test]
fn bad_environment_or_flags_exit_with_an_error() {
    let dir = sandbox("bad-env");
    let status = executor_command(&dir, "127.0.0.1:notaport")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap();
    assert!(stderr.contains("MESOS_AGENT_ENDPOINT"), "{stderr}");

    let status = executor_command(&dir, "127.0.0.1:5051")
        .arg("--no_such_flag=1")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap();
    assert!(stderr.contains("unknown flag 'no_such_flag'"), "{stderr}");

    let status = executor_command(&dir, "127.0.0.1:5051")
        .env_remove("MESOS_EXECUTOR_ID")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap();
    assert!(stderr.contains("MESOS_EXECUTOR_ID"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

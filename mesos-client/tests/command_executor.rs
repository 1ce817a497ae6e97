//! The command executor, in-process, driven by a fake agent over real HTTP, running real
//! commands: updates in order, exit statuses, kills with grace periods (on a paused clock),
//! shutdown, argv commands, environment, user.

#[path = "support/fake_agent.rs"]
mod fake_agent;

use std::time::Duration;

use fake_agent::{FakeAgent, command_task, kill, launch, shell, wait_until, with};
use libprocess::{Pid, Runtime};
use mesos_client::command_executor::{CommandExecutor, CommandExecutorFlags};
use mesos_client::executor::ExecutorConfig;
use mesos_core::v1;
use mesos_core::v1::TaskState;
use mesos_core::v1::executor::call;

struct Setup {
    agent_rt: Runtime,
    agent: Pid<FakeAgent>,
    runtime: Runtime,
}

fn setup(agent: FakeAgent) -> Setup {
    let (agent_rt, agent) = fake_agent::start_with(agent);
    Setup {
        agent_rt,
        agent,
        runtime: Runtime::builder().workers(2).build(),
    }
}

impl Setup {
    fn config(&self, grace: &str) -> ExecutorConfig {
        ExecutorConfig::from_vars([
            ("MESOS_FRAMEWORK_ID", "fw-1"),
            ("MESOS_EXECUTOR_ID", "t1"),
            ("MESOS_SLAVE_ID", "agent-1"),
            (
                "MESOS_AGENT_ENDPOINT",
                &*self.agent_rt.handle().address().to_string(),
            ),
            ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", grace),
            ("MESOS_LOCAL", "1"),
        ])
        .unwrap()
    }

    fn start(&self, flags: CommandExecutorFlags) -> CommandExecutor {
        CommandExecutor::spawn(self.runtime.handle(), self.config("5secs"), flags)
    }

    /// The states and messages of the updates the agent got so far.
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
}

fn finished(executor: &CommandExecutor) {
    assert!(
        executor.wait().await_for(Duration::from_secs(20)),
        "the executor exits after its terminal update is acknowledged"
    );
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mesos-client-command-executor-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&dir);
    dir
}

/// A shell script that ignores SIGTERM (as do its children) and says so by creating `marker`.
fn ignoring_sigterm(marker: &std::path::Path) -> String {
    format!(
        "trap '' TERM; touch {}; while true; do sleep 0.05; done",
        marker.display()
    )
}

/// Waits (wall time) until `path` exists, then removes it.
fn wait_for_file(path: &std::path::Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_command_that_succeeds_finishes() {
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![launch(command_task("t1", shell("echo hello")))];
    let setup = setup(agent);
    let executor = setup.start(CommandExecutorFlags::default());
    finished(&executor);
    let updates = setup.updates();
    let states: Vec<TaskState> = updates.iter().map(|u| u.0).collect();
    assert_eq!(
        states,
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    assert_eq!(updates[2].1, "Command exited with status 0");
    // Every update names the task, the executor and the agent, and carries a uuid.
    for c in with(&setup.agent, |a| a.calls_of(call::Type::Update)) {
        let status = c.update.unwrap().status;
        assert_eq!(status.task_id.value, "t1");
        assert_eq!(status.executor_id.unwrap().value, "t1");
        assert_eq!(status.agent_id.unwrap().value, "agent-1");
        assert_eq!(status.uuid.unwrap().len(), 16);
        assert_eq!(
            status.source,
            Some(v1::task_status::Source::Executor as i32)
        );
    }
}

#[test]
fn a_command_that_exits_3_fails() {
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![launch(command_task("t1", shell("exit 3")))];
    let setup = setup(agent);
    let executor = setup.start(CommandExecutorFlags::default());
    finished(&executor);
    let updates = setup.updates();
    assert_eq!(
        updates.last().unwrap(),
        &(TaskState::TaskFailed, "Command exited with status 3".into())
    );
}

#[test]
fn kill_terminates_the_process_group_and_reports_killed() {
    let mut agent = FakeAgent::new();
    agent.framework_capabilities = vec![v1::framework_info::capability::Type::TaskKillingState];
    // The shell waits for a child of the same group: both must go.
    agent.on_subscribe = vec![launch(command_task("t1", shell("sleep 100; true")))];
    let setup = setup(agent);
    let executor = setup.start(CommandExecutorFlags::default());
    setup.wait_for_state(TaskState::TaskRunning);
    with(&setup.agent, |a| {
        a.push(&kill("t1", Some(Duration::from_secs(30))))
    });
    finished(&executor);
    let updates = setup.updates();
    let states: Vec<TaskState> = updates.iter().map(|u| u.0).collect();
    assert_eq!(
        states,
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskKilling,
            TaskState::TaskKilled
        ]
    );
    assert_eq!(updates[3].1, "Command terminated with signal Terminated");
}

#[test]
fn a_command_ignoring_sigterm_is_killed_after_the_grace_period() {
    let mut agent = FakeAgent::new();
    agent.framework_capabilities = vec![v1::framework_info::capability::Type::TaskKillingState];
    let trapped = temp_path("trapped-1");
    let mut task = command_task("t1", shell(&ignoring_sigterm(&trapped)));
    // The task's kill policy gives the grace period.
    task.kill_policy = Some(v1::KillPolicy {
        grace_period: Some(v1::DurationInfo {
            nanoseconds: 10_000_000_000,
        }),
    });
    agent.on_subscribe = vec![launch(task)];
    let setup = setup(agent);
    setup.runtime.handle().clock().pause();
    let executor = setup.start(CommandExecutorFlags::default());
    setup.wait_for_state(TaskState::TaskRunning);
    wait_for_file(&trapped);
    with(&setup.agent, |a| a.push(&kill("t1", None)));
    setup.wait_for_state(TaskState::TaskKilling);

    // SIGTERM is ignored: the task is still there after a while of real time...
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(setup.updates().len(), 3, "{:?}", setup.updates());
    // ...and a retried kill with a longer grace period changes nothing...
    with(&setup.agent, |a| {
        a.push(&kill("t1", Some(Duration::from_secs(60))))
    });
    setup
        .runtime
        .handle()
        .clock()
        .advance(Duration::from_secs(9));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(setup.updates().len(), 3, "{:?}", setup.updates());
    // ...until the grace period is over.
    setup
        .runtime
        .handle()
        .clock()
        .advance(Duration::from_secs(1));
    finished(&executor);
    assert_eq!(
        setup.updates().last().unwrap(),
        &(
            TaskState::TaskKilled,
            "Command terminated with signal Killed".into()
        )
    );
}

#[test]
fn a_later_kill_can_shorten_the_grace_period() {
    let trapped = temp_path("trapped-2");
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![launch(command_task(
        "t1",
        shell(&ignoring_sigterm(&trapped)),
    ))];
    let setup = setup(agent);
    setup.runtime.handle().clock().pause();
    let executor = setup.start(CommandExecutorFlags::default());
    setup.wait_for_state(TaskState::TaskRunning);
    wait_for_file(&trapped);
    // Both kills, then a second task: its refusal shows the kills were served before it.
    with(&setup.agent, |a| {
        a.push(&kill("t1", Some(Duration::from_secs(100))));
        a.push(&kill("t1", Some(Duration::from_secs(2))));
        a.push(&launch(command_task("t2", shell("true"))));
    });
    setup.wait_for_state(TaskState::TaskFailed);
    setup.runtime.handle().clock().settle();
    setup
        .runtime
        .handle()
        .clock()
        .advance(Duration::from_secs(2));
    finished(&executor);
    let states: Vec<(String, TaskState)> = with(&setup.agent, |a| {
        a.calls_of(call::Type::Update)
            .into_iter()
            .map(|c| {
                let s = c.update.unwrap().status;
                (s.task_id.value, TaskState::try_from(s.state).unwrap())
            })
            .collect()
    });
    assert_eq!(
        states,
        [
            ("t1".to_string(), TaskState::TaskStarting),
            ("t1".to_string(), TaskState::TaskRunning),
            ("t2".to_string(), TaskState::TaskFailed),
            ("t1".to_string(), TaskState::TaskKilled)
        ]
    );
}

#[test]
fn shutdown_kills_the_task_and_exits() {
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![launch(command_task("t1", shell("sleep 100")))];
    let setup = setup(agent);
    let executor = setup.start(CommandExecutorFlags::default());
    setup.wait_for_state(TaskState::TaskRunning);
    with(&setup.agent, |a| a.push(&fake_agent::shutdown()));
    finished(&executor);
    assert_eq!(
        setup.updates().last().unwrap(),
        &(
            TaskState::TaskKilled,
            "Command terminated with signal Terminated".into()
        )
    );
}

#[test]
fn shutdown_before_any_task_exits_at_once() {
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![fake_agent::shutdown()];
    let setup = setup(agent);
    let executor = setup.start(CommandExecutorFlags::default());
    finished(&executor);
    assert!(setup.updates().is_empty());
}

#[test]
fn a_second_task_is_refused() {
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![
        launch(command_task("t1", shell("sleep 0.3"))),
        launch(command_task("t2", shell("true"))),
    ];
    let setup = setup(agent);
    let executor = setup.start(CommandExecutorFlags::default());
    finished(&executor);
    let statuses: Vec<(String, TaskState, String)> = with(&setup.agent, |a| {
        a.calls_of(call::Type::Update)
            .into_iter()
            .map(|c| {
                let s = c.update.unwrap().status;
                (
                    s.task_id.value,
                    TaskState::try_from(s.state).unwrap(),
                    s.message.unwrap_or_default(),
                )
            })
            .collect()
    });
    assert!(statuses.contains(&(
        "t2".into(),
        TaskState::TaskFailed,
        "Attempted to run multiple tasks using a \"command\" executor".into()
    )));
    assert_eq!(
        statuses.last().unwrap(),
        &(
            "t1".into(),
            TaskState::TaskFinished,
            "Command exited with status 0".into()
        )
    );
}

#[test]
fn argv_commands_and_environment() {
    let out = temp_path("argv");
    let command = v1::CommandInfo {
        shell: Some(false),
        value: Some("/bin/sh".into()),
        arguments: vec![
            "my-shell".into(),
            "-c".into(),
            "printf '%s %s' \"$0\" \"$GREETING\" > \"$1\"".into(),
            "zero".into(),
            out.to_string_lossy().into_owned(),
        ],
        environment: Some(v1::Environment {
            variables: vec![v1::environment::Variable {
                name: "GREETING".into(),
                value: Some("hi there".into()),
                ..Default::default()
            }],
        }),
        ..Default::default()
    };
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![launch(command_task("t1", command))];
    let setup = setup(agent);
    let executor = setup.start(CommandExecutorFlags::default());
    finished(&executor);
    assert_eq!(setup.updates().last().unwrap().0, TaskState::TaskFinished);
    // "my-shell" was argv[0], not a script for sh to run; the variable reached the command.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "zero hi there");
    let _ = std::fs::remove_file(&out);
}

#[test]
fn a_missing_program_fails_the_task() {
    let command = v1::CommandInfo {
        shell: Some(false),
        value: Some("/nonexistent/program".into()),
        ..Default::default()
    };
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![launch(command_task("t1", command))];
    let setup = setup(agent);
    let executor = setup.start(CommandExecutorFlags::default());
    finished(&executor);
    let updates = setup.updates();
    let (state, message) = updates.last().unwrap();
    assert_eq!(*state, TaskState::TaskFailed);
    assert!(message.starts_with("Failed to launch task:"), "{message}");
}

#[test]
fn the_command_runs_as_its_user_when_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: switching users needs root");
        return;
    }
    let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
        eprintln!("skipped: no user 'nobody'");
        return;
    };
    let out = temp_path("user");
    let mut command = shell(&format!("id -u > {}", out.display()));
    command.user = Some("nobody".into());
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![launch(command_task("t1", command))];
    let setup = setup(agent);
    // `nobody` may not write in the temp dir's file if it exists: it does not.
    let executor = setup.start(CommandExecutorFlags::default());
    finished(&executor);
    let (state, message) = setup.updates().last().unwrap().clone();
    assert_eq!(state, TaskState::TaskFinished, "{message}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().trim(),
        nobody.uid.to_string()
    );
    let _ = std::fs::remove_file(&out);
}

#[test]
fn task_command_flag_replaces_the_tasks_command() {
    let mut agent = FakeAgent::new();
    agent.on_subscribe = vec![launch(command_task("t1", shell("exit 1")))];
    let setup = setup(agent);
    let flags =
        CommandExecutorFlags::parse([r#"--task_command={"shell":true,"value":"exit 0"}"#]).unwrap();
    let executor = setup.start(flags);
    finished(&executor);
    assert_eq!(
        setup.updates().last().unwrap(),
        &(
            TaskState::TaskFinished,
            "Command exited with status 0".into()
        )
    );
}

#[test]
fn without_an_acknowledgement_it_exits_after_a_timeout() {
    let mut agent = FakeAgent::new();
    agent.auto_ack = false;
    agent.on_subscribe = vec![launch(command_task("t1", shell("true")))];
    let setup = setup(agent);
    setup.runtime.handle().clock().pause();
    let executor = setup.start(CommandExecutorFlags::default());
    setup.wait_for_state(TaskState::TaskFinished);
    setup.runtime.handle().clock().settle();
    assert!(
        !executor.wait().await_for(Duration::from_millis(200)),
        "waits for the acknowledgement"
    );
    setup
        .runtime
        .handle()
        .clock()
        .advance(mesos_client::command_executor::TERMINAL_ACK_TIMEOUT);
    finished(&executor);
}

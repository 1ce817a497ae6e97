//! The agent with a test master and real executors in real sandboxes: registration, a
//! command task from RunTaskMessage to its acknowledged TASK_FINISHED, kills with a grace
//! period, a custom executor's environment, and what the master hears when an executor
//! ends.

mod agent_support;

use std::time::Duration;

use agent_support::{Cluster, Received, WAIT, command_task, eventually, framework, read};
use mesos_core::v0::task_status::{Reason, Source};
use mesos_core::v0::{CommandInfo, ExecutorId, ExecutorInfo, TaskState};

#[test]
fn registers_with_its_resources_and_attributes() {
    let mut cluster = Cluster::new(true);
    let mut flags = cluster.flags();
    flags.attributes = Some("rack:r1;zone:z".to_owned());
    flags.hostname = Some("agent.example".to_owned());
    let agent = cluster.start_registered(flags);
    let register = cluster
        .master
        .wait_for(WAIT, |r| {
            r.iter().find_map(|m| match m {
                Received::Register(m) => Some(m.clone()),
                _ => None,
            })
        })
        .expect("RegisterSlaveMessage");
    assert_eq!(register.slave.hostname, "agent.example");
    assert_eq!(
        register.slave.port,
        Some(i32::from(cluster.address().port()))
    );
    assert_eq!(register.version.as_deref(), Some("1.11.0"));
    let resources = mesos_core::resources::Resources::from(register.slave.resources.clone());
    assert_eq!(resources.cpus(), Some(2.0));
    assert_eq!(resources.mem(), Some(1024.0));
    assert!(resources.ports().is_some(), "ports are detected");
    let names: Vec<&str> = register
        .slave
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["rack", "zone"]);
    assert_eq!(agent.agent_id().get().unwrap().unwrap().value, "agent-1");
    // The checkpointed agent info names the ID.
    let meta = mesos_agent::paths::meta_root(&cluster.dir.join("work"));
    assert!(mesos_agent::paths::latest_agent_path(&meta).exists());
    // Pings are answered.
    cluster.master.ping(agent.upid());
    assert!(
        cluster
            .master
            .wait_for(WAIT, |r| r
                .iter()
                .any(|m| matches!(m, Received::Pong))
                .then_some(()))
            .is_some()
    );
}

#[test]
fn command_task_runs_and_its_output_is_in_the_sandbox() {
    let mut cluster = Cluster::new(true);
    let agent = cluster.start_registered(cluster.flags());
    let fw = framework("fw-1", false);
    cluster.master.run_task(
        agent.upid(),
        &fw,
        command_task(
            "t1",
            "echo hello from the task; echo oops >&2",
            "cpus:0.5;mem:64",
        ),
    );
    let running = cluster.master.wait_for_update("t1", TaskState::TaskRunning);
    assert_eq!(running.slave_id.as_ref().unwrap().value, "agent-1");
    assert_eq!(running.status.source(), Source::Executor);
    assert_eq!(running.uuid.as_ref().map(Vec::len), Some(16));
    assert!(
        running
            .status
            .container_status
            .as_ref()
            .and_then(|c| c.container_id.as_ref())
            .is_some()
    );
    let finished = cluster
        .master
        .wait_for_update("t1", TaskState::TaskFinished);
    assert_eq!(finished.latest_state, Some(TaskState::TaskFinished as i32));

    // The sandbox: <work_dir>/slaves/<agent>/frameworks/fw-1/executors/t1/runs/latest.
    let latest = cluster
        .dir
        .join("work/slaves/agent-1/frameworks/fw-1/executors/t1/runs/latest");
    assert!(eventually(WAIT, || read(&latest.join("stdout"))
        .contains("hello from the task")));
    assert!(read(&latest.join("stderr")).contains("oops"));

    // Acknowledged, the executor exits and the task completes.
    assert!(eventually(WAIT, || {
        let state = agent.state_json().get().unwrap();
        state["completed_frameworks"][0]["completed_executors"][0]["completed_tasks"][0]["state"]
            == "TASK_FINISHED"
    }));
    // Each update went out once (acknowledged at once, so never retried).
    let states: Vec<TaskState> = cluster
        .master
        .updates("t1")
        .iter()
        .map(|u| u.status.state())
        .collect();
    assert_eq!(
        states,
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    // Command executors are not reported with ExitedExecutorMessage.
    assert!(
        !cluster
            .master
            .received()
            .iter()
            .any(|m| matches!(m, Received::Exited(_)))
    );
}

#[test]
fn kill_with_a_grace_period() {
    let mut cluster = Cluster::new(true);
    let agent = cluster.start_registered(cluster.flags());
    let fw = framework("fw-kill", false);
    // The task ignores SIGTERM: only SIGKILL after the grace period ends it.
    cluster.master.run_task(
        agent.upid(),
        &fw,
        command_task(
            "slow",
            "trap 'echo got TERM' TERM; while true; do sleep 0.1; done",
            "cpus:0.1;mem:32",
        ),
    );
    cluster
        .master
        .wait_for_update("slow", TaskState::TaskRunning);
    let start = std::time::Instant::now();
    cluster
        .master
        .kill_task(agent.upid(), &fw, "slow", Some(Duration::from_millis(700)));
    let killed = cluster
        .master
        .wait_for_update("slow", TaskState::TaskKilled);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(600),
        "killed after the grace period, took {elapsed:?}"
    );
    assert_eq!(killed.status.source(), Source::Executor);
    let stdout = cluster
        .dir
        .join("work/slaves/agent-1/frameworks/fw-kill/executors/slow/runs/latest/stdout");
    assert!(eventually(WAIT, || read(&stdout).contains("got TERM")));
}

#[test]
fn killing_an_unknown_task_reports_it_lost() {
    let mut cluster = Cluster::new(true);
    let agent = cluster.start_registered(cluster.flags());
    let fw = framework("fw-x", false);
    cluster.master.run_task(
        agent.upid(),
        &fw,
        command_task("keep", "sleep 30", "cpus:0.1;mem:32"),
    );
    cluster
        .master
        .wait_for_update("keep", TaskState::TaskRunning);
    cluster.master.kill_task(agent.upid(), &fw, "nope", None);
    let lost = cluster.master.wait_for_update("nope", TaskState::TaskLost);
    assert_eq!(lost.status.source(), Source::Slave);
    // Shutting the framework down ends its executors; the master, which removed the
    // framework, hears nothing more about it.
    cluster.master.shutdown_framework(agent.upid(), &fw);
    assert!(eventually(WAIT, || {
        let state = agent.state_json().get().unwrap();
        state["frameworks"].as_array().is_some_and(|f| f.is_empty())
            && state["completed_frameworks"][0]["id"] == "fw-x"
    }));
    assert!(agent.containerizer().containers().get().unwrap().is_empty());
    let states: Vec<TaskState> = cluster
        .master
        .updates("keep")
        .iter()
        .map(|u| u.status.state())
        .collect();
    assert_eq!(states, [TaskState::TaskStarting, TaskState::TaskRunning]);
}

#[test]
fn custom_executor_gets_the_documented_environment() {
    let mut cluster = Cluster::new(true);
    let mut flags = cluster.flags();
    flags.executor_registration_timeout = stout::Duration::from_secs(3);
    let agent = cluster.start_registered(flags);
    let fw = framework("fw-env", true);
    let env_file = cluster.dir.join("env.txt");
    // A custom executor that writes its environment and then waits (it never subscribes).
    let executor = ExecutorInfo {
        executor_id: ExecutorId {
            value: "custom".to_owned(),
        },
        command: Some(CommandInfo {
            value: Some(format!("env > '{}'; sleep 30", env_file.display())),
            environment: Some(mesos_core::v0::Environment {
                variables: vec![mesos_core::v0::environment::Variable {
                    name: "FROM_TASK".to_owned(),
                    value: Some("yes".to_owned()),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        }),
        resources: mesos_core::resources::Resources::parse("cpus:0.1;mem:32", "*")
            .unwrap()
            .to_vec(),
        ..Default::default()
    };
    let mut task = command_task("with-custom", "unused", "cpus:0.1;mem:32");
    task.command = None;
    task.executor = Some(executor);
    cluster.master.run_task(agent.upid(), &fw, task);

    assert!(eventually(WAIT, || read(&env_file).contains("FROM_TASK")));
    let env = read(&env_file);
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} missing from {env}"))
            .to_owned()
    };
    let sandbox = cluster
        .dir
        .join("work/slaves/agent-1/frameworks/fw-env/executors/custom/runs");
    assert_eq!(var("MESOS_FRAMEWORK_ID"), "fw-env");
    assert_eq!(var("MESOS_EXECUTOR_ID"), "custom");
    assert_eq!(var("MESOS_SLAVE_ID"), "agent-1");
    assert!(var("MESOS_DIRECTORY").starts_with(&sandbox.display().to_string()));
    assert_eq!(var("MESOS_SANDBOX"), var("MESOS_DIRECTORY"));
    assert_eq!(var("MESOS_SLAVE_PID"), agent.upid().to_string());
    assert_eq!(var("MESOS_AGENT_ENDPOINT"), cluster.address().to_string());
    assert_eq!(var("MESOS_CHECKPOINT"), "1");
    assert_eq!(var("MESOS_HTTP_COMMAND_EXECUTOR"), "0");
    assert_eq!(var("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"), "2secs");
    assert_eq!(var("MESOS_RECOVERY_TIMEOUT"), "15mins");
    assert_eq!(var("MESOS_SUBSCRIPTION_BACKOFF_MAX"), "2secs");
    assert_eq!(var("FROM_TASK"), "yes");
    assert_eq!(var("PWD"), var("MESOS_DIRECTORY"));

    // It never subscribes: after the registration timeout it is destroyed, its task fails
    // and the master hears that the executor exited.
    let failed = cluster
        .master
        .wait_for_update("with-custom", TaskState::TaskFailed);
    assert_eq!(failed.status.reason(), Reason::ExecutorRegistrationTimeout);
    assert_eq!(failed.status.source(), Source::Slave);
    let exited = cluster
        .master
        .wait_for(WAIT, |r| {
            r.iter().find_map(|m| match m {
                Received::Exited(e) => Some(e.clone()),
                _ => None,
            })
        })
        .expect("ExitedExecutorMessage");
    assert_eq!(exited.executor_id.value, "custom");
    assert_eq!(exited.status, 9, "killed by SIGKILL");
}

#[test]
fn unusable_flags_are_refused_at_start() {
    let cluster = Cluster::new(true);
    let start = |edit: &dyn Fn(&mut mesos_agent::Flags)| {
        let mut flags = cluster.flags();
        edit(&mut flags);
        mesos_agent::Agent::start(flags, cluster.runtime.handle())
            .map(|_| ())
            .map_err(|e| mesos_agent::error_chain(&e))
    };
    let error = start(&|f| f.isolation = "bogus/iso".to_owned()).unwrap_err();
    assert!(
        error.contains("unknown or unsupported isolator 'bogus/iso'"),
        "{error}"
    );
    let error = start(&|f| f.containerizers = "docker".to_owned()).unwrap_err();
    assert!(error.contains("--containerizers"), "{error}");
    let error = start(&|f| f.launcher = Some("bsd".to_owned())).unwrap_err();
    assert!(error.contains("--launcher"), "{error}");
    let error = start(&|f| f.resources = Some("cpus:lots".to_owned())).unwrap_err();
    assert!(error.contains("resources"), "{error}");
    // A ZooKeeper URL without servers.
    let error = start(&|f| f.master = Some("zk:///mesos".to_owned())).unwrap_err();
    assert!(error.contains("zk:///mesos"), "{error}");
    // Nothing was started: no agent process, no checkpoint.
    assert!(
        !cluster
            .runtime
            .handle()
            .processes()
            .iter()
            .any(|p| p.upid.id().starts_with("slave("))
    );
    assert!(
        !mesos_agent::paths::meta_root(&cluster.dir.join("work"))
            .join("slaves")
            .exists()
    );
}

#[test]
fn shutdown_message_ends_executors_then_the_agent() {
    let mut cluster = Cluster::new(true);
    let agent = cluster.start_registered(cluster.flags());
    let fw = framework("fw-bye", false);
    cluster.master.run_task(
        agent.upid(),
        &fw,
        command_task("bye", "sleep 600", "cpus:0.1;mem:32"),
    );
    cluster
        .master
        .wait_for_update("bye", TaskState::TaskRunning);
    cluster.master.send(
        agent.upid(),
        &mesos_core::internal::ShutdownMessage {
            message: Some("go away".to_owned()),
        },
    );
    assert!(agent.finished().await_for(WAIT), "the agent stops");
    assert!(
        agent.containerizer().containers().get().unwrap().is_empty(),
        "its executors are gone first"
    );
}

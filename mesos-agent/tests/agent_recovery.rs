//! Agent restarts: the real `mesos-agent` binary is killed with SIGKILL while a task runs
//! and started again; it recovers the task from its checkpoint, re-registers with it, the
//! executor re-subscribes, the unacknowledged update is sent again and nothing acknowledged
//! is. `--recover=cleanup` kills what survived. Corrupt checkpoints are reported and handled
//! per `--strict`.

mod agent_support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use agent_support::{Cluster, Received, WAIT, command_task, eventually, framework};
use mesos_agent::AgentError;
use mesos_core::internal::StatusUpdate;
use mesos_core::v0::TaskState;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct AgentBinary {
    child: Child,
}

impl AgentBinary {
    fn start(cluster: &Cluster, port: u16, extra: &[&str]) -> AgentBinary {
        let flags = cluster.flags();
        let mut command = Command::new(env!("CARGO_BIN_EXE_mesos-agent"));
        command
            .arg(format!("--master={}", cluster.master.upid().address()))
            .arg(format!("--work_dir={}", flags.work_dir.display()))
            .arg(format!("--runtime_dir={}", flags.runtime_dir.display()))
            .arg("--ip=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg("--launcher=posix")
            .arg("--registration_backoff_factor=10ms")
            .arg("--resources=cpus:2;mem:1024;disk:1024")
            .arg(format!(
                "--launcher_dir={}",
                flags.launcher_dir.unwrap().display()
            ))
            .args(extra)
            .env("MESOS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(cluster.dir.join("agent.log"))
                    .unwrap(),
            ));
        AgentBinary {
            child: command.spawn().expect("start mesos-agent"),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for AgentBinary {
    fn drop(&mut self) {
        self.kill();
    }
}

fn updates_with_uuid(cluster: &Cluster, uuid: &[u8]) -> usize {
    cluster
        .master
        .received()
        .iter()
        .filter(|m| matches!(m, Received::Update(u) if u.uuid.as_deref() == Some(uuid)))
        .count()
}

/// Waits until the agent on `port` says it is registered.
fn wait_registered(port: u16) {
    let address = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(
        eventually(WAIT, || {
            agent_support::http::request(address, "GET", "/metrics/snapshot", &[], b"")
                .ok()
                .is_some_and(|r| r.status == 200 && r.json()["slave/registered"] == 1.0)
        }),
        "the agent registers"
    );
}

fn agent_upid(port: u16) -> libprocess::Upid {
    format!("slave(1)@127.0.0.1:{port}").parse().unwrap()
}

#[test]
fn sigkilled_agent_recovers_its_task_and_resends_only_what_is_unacknowledged() {
    let cluster = Cluster::new(false);
    let port = free_port();
    let agent = agent_upid(port);
    let mut binary = AgentBinary::start(&cluster, port, &[]);
    wait_registered(port);
    let go = cluster.dir.join("go");
    let fw = framework("fw-ckpt", true);
    cluster.master.run_task(
        &agent,
        &fw,
        command_task(
            "survivor",
            &format!(
                "while [ ! -f '{}' ]; do sleep 0.1; done; echo finishing",
                go.display()
            ),
            "cpus:0.1;mem:32",
        ),
    );
    // The command executor sends TASK_STARTING, then TASK_RUNNING: one in flight at a time.
    let starting = cluster
        .master
        .wait_for_update("survivor", TaskState::TaskStarting);
    cluster.master.acknowledge(&agent, &starting);
    let running = cluster
        .master
        .wait_for_update("survivor", TaskState::TaskRunning);
    cluster.master.acknowledge(&agent, &running);
    // Let the acknowledgement reach the checkpoint, then finish the task.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&go, "").unwrap();
    let finished: StatusUpdate = cluster
        .master
        .wait_for_update("survivor", TaskState::TaskFinished);
    let running_uuid = running.uuid.clone().unwrap();
    let finished_uuid = finished.uuid.clone().unwrap();

    // SIGKILL the agent while the terminal update is unacknowledged; the executor waits.
    binary.kill();
    let before = cluster.master.received().len();
    let _binary = AgentBinary::start(&cluster, port, &[]);

    // It re-registers with its agent ID and the task.
    let reregister = cluster
        .master
        .wait_for(WAIT, |r| {
            r[before..].iter().find_map(|m| match m {
                Received::Reregister(m) => Some(m.clone()),
                _ => None,
            })
        })
        .expect("ReregisterSlaveMessage");
    assert_eq!(reregister.slave.id.as_ref().unwrap().value, "agent-1");
    let task = reregister
        .tasks
        .iter()
        .find(|t| t.task_id.value == "survivor")
        .expect("the task is re-registered");
    assert_eq!(task.state(), TaskState::TaskFinished);
    assert_eq!(
        reregister.frameworks[0].id.as_ref().unwrap().value,
        "fw-ckpt"
    );

    // The unacknowledged terminal update is sent again; the acknowledged one is not.
    assert!(eventually(WAIT, || updates_with_uuid(
        &cluster,
        &finished_uuid
    ) >= 2));
    assert_eq!(updates_with_uuid(&cluster, &running_uuid), 1);
    assert_eq!(
        updates_with_uuid(&cluster, starting.uuid.as_ref().unwrap()),
        1
    );

    // Acknowledged now, the executor (re-subscribed) learns it and exits; the task
    // completes.
    cluster.master.acknowledge(&agent, &finished);
    let state_url = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(
        eventually(WAIT, || {
            let state = agent_support::http::get(state_url, "/state").json();
            state["completed_frameworks"][0]["completed_executors"][0]["completed_tasks"][0]["state"]
                == "TASK_FINISHED"
        }),
        "the task completes after its acknowledgement"
    );
    assert_eq!(updates_with_uuid(&cluster, &running_uuid), 1);
}

#[test]
fn recover_cleanup_kills_surviving_executors_and_stops() {
    let cluster = Cluster::new(true);
    let port = free_port();
    let agent = agent_upid(port);
    let mut binary = AgentBinary::start(&cluster, port, &[]);
    let fw = framework("fw-cleanup", true);
    wait_registered(port);
    cluster.master.run_task(
        &agent,
        &fw,
        command_task("doomed", "sleep 600", "cpus:0.1;mem:32"),
    );
    cluster
        .master
        .wait_for_update("doomed", TaskState::TaskRunning);
    binary.kill();
    let pid = forked_pid(&cluster.dir.join("work"));
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the executor survives the agent"
    );

    let mut cleanup = AgentBinary::start(&cluster, port, &["--recover=cleanup"]);
    let status = wait_exit(&mut cleanup.child, WAIT).expect("the agent stops after cleanup");
    assert!(status.success(), "{status:?}");
    assert!(
        eventually(WAIT, || !process_alive(pid)),
        "the executor was killed"
    );
    let meta = mesos_agent::paths::meta_root(&cluster.dir.join("work"));
    assert!(
        !mesos_agent::paths::latest_agent_path(&meta).exists(),
        "the next start is a new agent"
    );
}

fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// The checkpointed pid of the only executor under `work_dir`.
fn forked_pid(work_dir: &Path) -> i32 {
    let mut found = None;
    let mut stack = vec![mesos_agent::paths::meta_root(work_dir)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "forked.pid") {
                found = Some(
                    std::fs::read_to_string(&path)
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap(),
                );
            }
        }
    }
    found.expect("a forked.pid checkpoint")
}

/// Finds the single `task.updates` file under `work_dir`'s meta directory.
fn updates_file(work_dir: &Path) -> std::path::PathBuf {
    let mut stack = vec![mesos_agent::paths::meta_root(work_dir)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() && !entry.file_type().unwrap().is_symlink() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "task.updates") {
                return path;
            }
        }
    }
    panic!("no task.updates under {}", work_dir.display());
}

#[test]
fn corrupt_checkpoint_fails_strict_recovery_and_is_skipped_otherwise() {
    let mut cluster = Cluster::new(true);
    let flags = cluster.flags();
    let agent = cluster.start_registered(flags.clone());
    let fw = framework("fw-corrupt", true);
    cluster.master.run_task(
        agent.upid(),
        &fw,
        command_task("victim", "sleep 600", "cpus:0.1;mem:32"),
    );
    cluster
        .master
        .wait_for_update("victim", TaskState::TaskRunning);
    agent.stop().await_for(WAIT);

    // A whole record whose bytes are not a StatusUpdateRecord.
    let path = updates_file(&flags.work_dir);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    std::fs::write(&path, &bytes).unwrap();

    let error = mesos_agent::Agent::start(flags.clone(), cluster.runtime.handle())
        .expect_err("strict recovery refuses a corrupt checkpoint");
    assert!(matches!(error, AgentError::Recovery(_)), "{error:?}");
    let message = mesos_agent::error_chain(&error);
    assert!(message.contains("corrupt checkpoint"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("--no-strict"), "{message}");
    // Nothing changed on disk.
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // Without --strict the task's stream is skipped and counted.
    let mut lenient = flags;
    lenient.strict = false;
    let agent = cluster.start(lenient);
    assert!(eventually(WAIT, || agent.state().get().ok()
        == Some(mesos_agent::AgentState::Running)));
    let metrics = agent_support::http::get(cluster.address(), "/metrics/snapshot").json();
    assert_eq!(metrics["slave/recovery_errors"], 1.0);
}

#[test]
fn truncated_update_stream_is_cut_and_recovered() {
    let mut cluster = Cluster::new(false);
    let flags = cluster.flags();
    let agent = cluster.start_registered(flags.clone());
    let fw = framework("fw-trunc", true);
    cluster.master.run_task(
        agent.upid(),
        &fw,
        command_task("cut", "sleep 600", "cpus:0.1;mem:32"),
    );
    let running = cluster
        .master
        .wait_for_update("cut", TaskState::TaskStarting);
    agent.stop().await_for(WAIT);

    // The agent died while appending a record: half of one is at the end.
    let path = updates_file(&flags.work_dir);
    let whole = std::fs::read(&path).unwrap();
    let mut bytes = whole.clone();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&path, &bytes).unwrap();

    let before = cluster.master.received().len();
    let agent = cluster.start(flags);
    let resent = cluster
        .master
        .wait_for(WAIT, |r| {
            r[before..].iter().find_map(|m| match m {
                Received::Update(u) if u.uuid == running.uuid => Some(u.clone()),
                _ => None,
            })
        })
        .expect("the unacknowledged update is sent again");
    assert_eq!(resent.status.state(), TaskState::TaskStarting);
    assert_eq!(std::fs::read(&path).unwrap()[..whole.len()], whole[..]);
    let metrics = agent_support::http::get(cluster.address(), "/metrics/snapshot").json();
    assert_eq!(metrics["slave/recovery_errors"], 0.0);
    drop(agent);
}

#[test]
fn executors_that_do_not_resubscribe_after_a_restart_are_killed() {
    let mut cluster = Cluster::new(true);
    let mut flags = cluster.flags();
    flags.executor_reregistration_timeout = stout::Duration::from_millis(500);
    let agent = cluster.start_registered(flags.clone());
    let fw = framework("fw-mute", true);
    // A custom executor that never subscribes.
    let executor = mesos_core::v0::ExecutorInfo {
        executor_id: mesos_core::v0::ExecutorId {
            value: "mute".to_owned(),
        },
        command: Some(mesos_core::v0::CommandInfo {
            value: Some("sleep 600".to_owned()),
            ..Default::default()
        }),
        resources: mesos_core::resources::Resources::parse("cpus:0.1;mem:32", "*")
            .unwrap()
            .to_vec(),
        ..Default::default()
    };
    let mut task = command_task("silent", "unused", "cpus:0.1;mem:32");
    task.command = None;
    task.executor = Some(executor);
    cluster.master.run_task(agent.upid(), &fw, task);
    assert!(eventually(WAIT, || {
        agent.state_json().get().unwrap()["frameworks"][0]["executors"][0]["id"] == "mute"
    }));
    // Wait for the pid checkpoint, then stop the agent (the executor keeps running).
    assert!(eventually(WAIT, || {
        std::panic::catch_unwind(|| forked_pid(&flags.work_dir)).is_ok()
    }));
    let pid = forked_pid(&flags.work_dir);
    agent.stop().await_for(WAIT);
    assert!(process_alive(pid));

    let before = cluster.master.received().len();
    let agent = cluster.start(flags);
    let failed = cluster
        .master
        .wait_for_update("silent", TaskState::TaskFailed);
    assert_eq!(
        failed.status.reason(),
        mesos_core::v0::task_status::Reason::ExecutorReregistrationTimeout
    );
    assert!(
        eventually(WAIT, || !process_alive(pid)),
        "the executor was killed"
    );
    // The agent re-registered once recovery ended, and says so.
    assert!(
        cluster.master.received()[before..]
            .iter()
            .any(|m| matches!(m, Received::Reregister(_)))
    );
    assert!(eventually(WAIT, || agent.state().get().ok()
        == Some(mesos_agent::AgentState::Running)));
}

//! `mesos-execute` (the real binary) against an in-process cluster: its printed updates and
//! its exit status follow the task's outcome.

use std::process::{Command, Output};
use std::time::Duration;

use mesos_local::{Cluster, LocalFlags};

fn cluster(name: &str) -> (Cluster, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("mesos-execute-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut flags =
        LocalFlags::parse(["--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31100]"]).unwrap();
    flags.work_dir = dir.clone();
    flags.port = 0;
    flags.agent_port = 0;
    flags.executor = Some(env!("CARGO_BIN_EXE_mesos-local").into());
    let cluster = Cluster::launch(&flags).unwrap();
    assert!(cluster.wait_for_agents(Duration::from_secs(60)));
    (cluster, dir)
}

fn execute(cluster: &Cluster, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
        .arg(format!("--master={}", cluster.master_address()))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn mesos_execute_reports_updates_and_exits_with_the_outcome() {
    let (cluster, dir) = cluster("outcomes");

    let output = execute(&cluster, &["--name=hello", "--command=echo hello"]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("Subscribed with ID "), "{text}");
    assert!(text.contains("Submitted task 'hello' to agent '"), "{text}");
    assert!(
        text.contains("Received status update TASK_RUNNING for task 'hello'"),
        "{text}"
    );
    assert!(
        text.contains("Received status update TASK_FINISHED for task 'hello'"),
        "{text}"
    );

    let output = execute(
        &cluster,
        &["--name=fails", "--command=exit 3", "--content_type=json"],
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("TASK_FAILED for task 'fails'"), "{text}");
    assert!(text.contains("Command exited with status 3"), "{text}");

    let output = execute(
        &cluster,
        &[
            "--name=sleepy",
            "--command=sleep 100",
            "--kill_after=100ms",
            "--count=2",
            "--resources=cpus:0.2;mem:32",
        ],
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("Asked to kill task 'sleepy-0'"), "{text}");
    assert!(text.contains("TASK_KILLED for task 'sleepy-0'"), "{text}");
    assert!(text.contains("TASK_KILLED for task 'sleepy-1'"), "{text}");

    cluster.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn mesos_execute_refuses_bad_flags() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&["--master=127.0.0.1:1", "--command=true"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--name"));

    let output = run(&[
        "--master=127.0.0.1:1",
        "--name=x",
        "--command=true",
        "--resources=cpus:lots",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("failed to parse resources"));

    let output = run(&["--name=x", "--command=true"]);
    assert!(!output.status.success(), "--master is required");
}

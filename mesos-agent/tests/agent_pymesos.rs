//! pymesos 0.3.15's executor driver against the agent, unchanged: it reads the agent's
//! environment, subscribes over `/api/v1/executor` (JSON, RecordIO), receives LAUNCH and
//! sends updates that reach the master. Runs when `PYMESOS_PYTHON` names a Python with
//! pymesos installed (see the protocol notes for the recipe); skipped otherwise.

mod agent_support;

use agent_support::{Cluster, WAIT, eventually, framework, read};
use mesos_core::v0::task_status::Source;
use mesos_core::v0::{CommandInfo, ExecutorId, ExecutorInfo, TaskState};

#[test]
fn pymesos_executor_runs_a_task() {
    let Ok(python) = std::env::var("PYMESOS_PYTHON") else {
        eprintln!("skipping: set PYMESOS_PYTHON to a Python with pymesos 0.3.15 to run");
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/pymesos_executor.py"
    );
    let mut cluster = Cluster::new(true);
    let agent = cluster.start_registered(cluster.flags());
    let fw = framework("fw-py", true);
    let executor = ExecutorInfo {
        executor_id: ExecutorId {
            value: "py".to_owned(),
        },
        command: Some(CommandInfo {
            value: Some(format!("exec '{python}' '{script}'")),
            ..Default::default()
        }),
        resources: mesos_core::resources::Resources::parse("cpus:0.1;mem:32", "*")
            .unwrap()
            .to_vec(),
        ..Default::default()
    };
    let mut task = agent_support::command_task("py-task", "unused", "cpus:0.1;mem:32");
    task.command = None;
    task.executor = Some(executor);
    cluster.master.run_task(agent.upid(), &fw, task);

    let running = cluster
        .master
        .wait_for_update("py-task", TaskState::TaskRunning);
    assert_eq!(running.status.source(), Source::Executor);
    assert_eq!(running.slave_id.as_ref().unwrap().value, "agent-1");
    cluster
        .master
        .wait_for_update("py-task", TaskState::TaskFinished);
    let file = cluster
        .dir
        .join("work/slaves/agent-1/frameworks/fw-py/executors/py/runs/latest/pymesos.txt");
    assert!(eventually(WAIT, || read(&file) == "py-task"));
    // Shut down through the agent: pymesos stops on SHUTDOWN and the container ends.
    cluster.master.shutdown_framework(agent.upid(), &fw);
    assert!(eventually(WAIT, || agent
        .containerizer()
        .containers()
        .get()
        .unwrap()
        .is_empty()));
}

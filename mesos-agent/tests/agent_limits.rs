//! Resource limits through the agent: a command task over its memory is killed by the
//! `cgroups/mem` isolator and reported TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY.

mod agent_support;

use agent_support::{Cluster, command_task, framework};
use mesos_agent::containerizer::cgroups::{self, Hierarchies};
use mesos_core::v0::TaskState;
use mesos_core::v0::task_status::{Reason, Source};

#[test]
fn task_over_its_memory_fails_with_a_memory_limitation() {
    let hierarchies = match Hierarchies::detect()
        .map_err(|e| e.to_string())
        .and_then(|h| cgroups::writable(&h, "memory").map(|_| h))
    {
        Ok(h) => h,
        Err(reason) => {
            eprintln!("skipping: cgroups memory is not usable here: {reason}");
            return;
        }
    };
    let mut cluster = Cluster::new(true);
    let cgroups_root = format!("mesos-agent-test-{}", std::process::id());
    let mut flags = cluster.flags();
    flags.isolation = "cgroups/mem".to_owned();
    flags.cgroups_root = cgroups_root.clone();
    let agent = cluster.start_registered(flags);
    let fw = framework("fw-mem", false);
    // `dd` reads 256 MB into one buffer: far over the 64 MB (+32 MB executor) limit.
    cluster.master.run_task(
        agent.upid(),
        &fw,
        command_task(
            "hog",
            "sleep 1; dd if=/dev/zero of=/dev/null bs=256M count=1; sleep 1000",
            "cpus:0.1;mem:64",
        ),
    );
    let failed = cluster.master.wait_for_update("hog", TaskState::TaskFailed);
    assert_eq!(failed.status.reason(), Reason::ContainerLimitationMemory);
    assert_eq!(failed.status.source(), Source::Slave);
    assert!(
        failed
            .status
            .message
            .as_deref()
            .unwrap_or_default()
            .starts_with("Memory limit exceeded"),
        "{:?}",
        failed.status.message
    );
    drop(cluster);
    if let Some(root) = hierarchies.root_cgroup("memory", &cgroups_root) {
        let _ = root.destroy();
    }
}

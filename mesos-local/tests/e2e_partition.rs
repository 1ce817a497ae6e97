//! A network partition between the master and an agent, with the real binaries: the agent
//! (a child process) runs in its own network namespace, joined to the master's by a veth pair
//! the test creates. Setting the master's end of the link down for longer than the ping
//! timeout makes the master mark the agent unreachable (TASK_UNREACHABLE for a
//! PARTITION_AWARE framework, TASK_LOST for another); setting it up again lets the agent
//! re-register, and its tasks are reconciled. Needs root (`ip netns add`); skips with a
//! printed reason otherwise. The namespace and the link are removed in every case.

mod support;

use std::net::SocketAddr;
use std::process::Command;

use mesos_core::v1;
use mesos_core::v1::TaskState;
use mesos_core::v1::scheduler::call;
use support::{Framework, Harness, WAIT, command_task, framework_info, wait_until};

/// Runs `ip args...`; the error names the command and its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A network namespace and a veth pair between it and this one; removed on drop.
struct Netns {
    name: String,
    host_link: String,
    host_ip: String,
    agent_ip: String,
}

impl Netns {
    fn create() -> Result<Netns, String> {
        let id = std::process::id();
        let subnet = id % 200 + 20;
        let netns = Netns {
            name: format!("mesos-e2e-{id}"),
            host_link: format!("me2e{id}h"),
            host_ip: format!("10.213.{subnet}.1"),
            agent_ip: format!("10.213.{subnet}.2"),
        };
        ip(&["netns", "add", &netns.name])?;
        // From here on, drop cleans up whatever was made.
        let agent_link = format!("me2e{id}a");
        ip(&[
            "link",
            "add",
            &netns.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &agent_link,
        ])?;
        ip(&["link", "set", &agent_link, "netns", &netns.name])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", netns.host_ip),
            "dev",
            &netns.host_link,
        ])?;
        ip(&["link", "set", &netns.host_link, "up"])?;
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &netns.name, "ip"];
            all.extend_from_slice(args);
            ip(&all)
        };
        inside(&[
            "addr",
            "add",
            &format!("{}/24", netns.agent_ip),
            "dev",
            &agent_link,
        ])?;
        inside(&["link", "set", &agent_link, "up"])?;
        inside(&["link", "set", "lo", "up"])?;
        Ok(netns)
    }

    fn set_link(&self, up: bool) {
        ip(&[
            "link",
            "set",
            &self.host_link,
            if up { "up" } else { "down" },
        ])
        .expect("setting the link");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Anything still in the namespace (the harness killed what it knew of).
        if let Ok(output) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&output.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = ip(&["link", "del", &self.host_link]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

fn partition_aware(info: v1::FrameworkInfo) -> v1::FrameworkInfo {
    let mut info = info;
    info.capabilities.push(v1::framework_info::Capability {
        r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
    });
    info
}

fn agent_state(master: SocketAddr) -> Option<(bool, usize)> {
    let state = support::master_state(master)?;
    let agents = state["slaves"].as_array()?;
    let active = agents.iter().any(|a| a["active"].as_bool() == Some(true));
    Some((active, agents.len()))
}

#[test]
fn a_partitioned_agent_is_unreachable_then_comes_back() {
    let netns = match Netns::create() {
        Ok(netns) => netns,
        Err(error) => {
            eprintln!("skipped: cannot set up a network namespace ({error})");
            return;
        }
    };
    let Some(mut harness) = Harness::new("partition") else {
        return;
    };
    let master_port = support::free_port();
    let master = harness.start_master_on(
        "master",
        &netns.host_ip,
        master_port,
        &["--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=5"],
    );
    let agent = harness.agent_command("agent", &master.to_string(), &netns.agent_ip, 5051, &[]);
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", &netns.name])
        .arg(agent.get_program())
        .args(agent.get_args());
    harness.spawn("agent", command);
    wait_until(WAIT, "the agent to register", || {
        agent_state(master) == Some((true, 1))
    });

    let mut aware = Framework::subscribe(master, partition_aware(framework_info("e2e-aware")));
    let mut plain = Framework::subscribe(master, framework_info("e2e-plain"));
    for (framework, task) in [(&mut aware, "aware-task"), (&mut plain, "plain-task")] {
        let offer = framework.take_offer(None);
        framework.launch(
            &offer,
            vec![command_task(task, &offer.agent_id, "sleep 1000")],
        );
        framework.wait_state(task, TaskState::TaskRunning);
    }

    // Cut the link for longer than the ping timeout (5 x 200 ms).
    netns.set_link(false);
    aware.wait_state("aware-task", TaskState::TaskUnreachable);
    plain.wait_state("plain-task", TaskState::TaskLost);
    assert_eq!(agent_state(master).map(|(active, _)| active), Some(false));
    assert_eq!(
        support::task_state_in_master(master, "aware-task").as_deref(),
        Some("TASK_UNREACHABLE")
    );

    // Heal: the agent re-registers, the partition-aware task is running again.
    netns.set_link(true);
    wait_until(WAIT, "the agent to re-register", || {
        agent_state(master).is_some_and(|(active, _)| active)
    });
    aware.wait_state("aware-task", TaskState::TaskRunning);
    let before = aware.updates.len();
    aware
        .scheduler
        .reconcile(vec![call::reconcile::Task {
            task_id: v1::TaskId {
                value: "aware-task".into(),
            },
            agent_id: None,
        }])
        .get()
        .expect("RECONCILE answered");
    aware.wait("reconciliation", |f| f.updates.len() > before);
    assert_eq!(aware.updates[before].state, TaskState::TaskRunning);
    assert_eq!(
        support::task_state_in_master(master, "aware-task").as_deref(),
        Some("TASK_RUNNING")
    );
    // The other framework's task was reported lost: it is not running again.
    assert_ne!(
        support::task_state_in_master(master, "plain-task").as_deref(),
        Some("TASK_RUNNING")
    );
    let plain_states = plain.states("plain-task");
    let lost = plain_states
        .iter()
        .position(|s| *s == TaskState::TaskLost)
        .expect("lost");
    assert!(
        !plain_states[lost..].contains(&TaskState::TaskRunning),
        "{plain_states:?}"
    );
    aware.stop();
    plain.stop();
    drop(harness);
}

//! End to end with ZooKeeper and the real binaries: three masters elect a leader through a
//! real ZooKeeper server, two agents and a checkpointing framework follow whichever leads.
//! The leader is killed with SIGKILL, ZooKeeper is restarted underneath the cluster, and a
//! leader is cut off from ZooKeeper: each time a single master leads, the agents and the
//! framework follow it, the running task is still known, and its end is reported once.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mesos_core::v1;
use mesos_core::v1::TaskState;
use mesos_zookeeper::testing::{Proxy, ZooKeeperServer};
use support::{Framework, Harness, WAIT, command_task, framework_info, free_port, wait_until};

/// Pings every 200 ms, an agent is unreachable after 5 missed ones; the registry in ZooKeeper.
const MASTER_FLAGS: &[&str] = &[
    "--agent_ping_timeout=200ms",
    "--max_agent_ping_timeouts=5",
    "--registry=replicated_log",
    "--quorum=1",
];

/// ZooKeeper sessions of 2 s, so that a dead leader's znode goes quickly.
const SHORT_SESSIONS: &str = "--zk_session_timeout=2secs";

/// A cluster of `masters` masters, each reaching ZooKeeper at its own address (a proxy, so
/// that one can be cut off), and agents that find the leader through ZooKeeper.
struct HaCluster {
    harness: Harness,
    zk: ZooKeeperServer,
    /// The masters' names and addresses; `None` once killed.
    masters: Vec<(String, Option<SocketAddr>)>,
    proxies: Vec<Proxy>,
    /// The URL agents and frameworks use.
    url: String,
}

impl HaCluster {
    fn start(name: &str, masters: usize, agents: usize) -> Option<HaCluster> {
        HaCluster::start_with(name, masters, agents, SHORT_SESSIONS)
    }

    /// As [`HaCluster::start`], the masters with `session` (a `--zk_session_timeout` flag).
    fn start_with(name: &str, masters: usize, agents: usize, session: &str) -> Option<HaCluster> {
        let harness = Harness::new(name)?;
        let zk = ZooKeeperServer::start()?;
        let url = zk.url("/mesos").to_string();
        let mut cluster = HaCluster {
            harness,
            zk,
            masters: Vec::new(),
            proxies: Vec::new(),
            url,
        };
        for i in 0..masters {
            let proxy = Proxy::start(cluster.zk.address());
            let zk = format!("--zk=zk://{}/mesos", proxy.address());
            let name = format!("master{i}");
            let mut flags: Vec<&str> = MASTER_FLAGS.to_vec();
            flags.push(&zk);
            flags.push(session);
            let address = cluster.harness.start_master(&name, free_port(), &flags);
            cluster.masters.push((name, Some(address)));
            cluster.proxies.push(proxy);
        }
        let leader = cluster.wait_for_leader();
        for i in 0..agents {
            let command = cluster.harness.agent_command(
                &format!("agent{i}"),
                &cluster.url,
                "127.0.0.1",
                free_port(),
                &[],
            );
            cluster.harness.spawn(&format!("agent{i}"), command);
        }
        wait_until(WAIT, "the agents", || {
            support::active_agents(leader) == agents
        });
        Some(cluster)
    }

    fn live(&self) -> impl Iterator<Item = (usize, SocketAddr)> + '_ {
        self.masters
            .iter()
            .enumerate()
            .filter_map(|(i, (_, a))| a.map(|a| (i, a)))
    }

    /// The masters that say they lead (`master/elected` 1); panics if more than one does.
    fn leaders(&self) -> Vec<usize> {
        let leaders: Vec<usize> = self
            .live()
            .filter(|(_, address)| elected(*address) == Some(true))
            .map(|(i, _)| i)
            .collect();
        assert!(leaders.len() <= 1, "two masters lead at once: {leaders:?}");
        leaders
    }

    /// Waits until exactly one master leads and has recovered; its address.
    fn wait_for_leader(&self) -> SocketAddr {
        let mut found = None;
        wait_until(WAIT, "a leading master", || {
            found = self.leaders().first().copied();
            found.is_some()
        });
        self.masters[found.expect("a leader")].1.expect("alive")
    }

    fn index_of(&self, address: SocketAddr) -> usize {
        self.live()
            .find(|(_, a)| *a == address)
            .map(|(i, _)| i)
            .expect("a live master")
    }

    /// SIGKILL to master `index`.
    fn kill(&mut self, index: usize) {
        let name = self.masters[index].0.clone();
        self.harness.proc(&name).kill();
        self.masters[index].1 = None;
    }
}

/// `master/elected` of `master`, `None` when it does not answer.
fn elected(master: SocketAddr) -> Option<bool> {
    let metrics = support::get_json(&format!("http://{master}/metrics/snapshot"))?;
    metrics["master/elected"].as_f64().map(|v| v == 1.0)
}

fn ha_framework(cluster: &HaCluster, name: &str) -> Framework {
    let info = v1::FrameworkInfo {
        checkpoint: Some(true),
        failover_timeout: Some(60.0),
        ..framework_info(name)
    };
    let detector = mesos_client::scheduler::detector_for(&cluster.url).expect("a detector");
    Framework::subscribe_with(detector, info)
}

/// Launches `id` that runs until the file `go` exists, and waits for TASK_RUNNING.
fn launch_gated(framework: &mut Framework, harness: &Harness, id: &str) -> std::path::PathBuf {
    let go = harness.dir.join(format!("go-{id}"));
    let command = format!("while [ ! -e {} ]; do sleep 0.05; done", go.display());
    let offer = framework.take_offer(None);
    framework.launch(&offer, vec![command_task(id, &offer.agent_id, &command)]);
    framework.wait_state(id, TaskState::TaskRunning);
    // Let the acknowledgement of TASK_RUNNING reach the agent.
    framework.pump(Duration::from_millis(300));
    go
}

/// Releases `go`'s task and checks that it finishes, reported exactly once.
fn finish_once(framework: &mut Framework, go: &std::path::Path, id: &str) {
    std::fs::write(go, b"").expect("writing the go file");
    framework.wait_state(id, TaskState::TaskFinished);
    // A duplicate would come within the agent's retry interval.
    framework.pump(Duration::from_secs(2));
    let states = framework.states(id);
    let count = |s: TaskState| states.iter().filter(|x| **x == s).count();
    assert_eq!(count(TaskState::TaskFinished), 1, "{states:?}");
    assert_eq!(states.last(), Some(&TaskState::TaskFinished), "{states:?}");
}

/// Watches every live master's `master/elected` for `duration`, panicking if two lead at once.
fn watch_leaders(cluster: &HaCluster, duration: Duration) {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        cluster.leaders();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_cluster_follows_a_new_leader_after_sigkill() {
    let Some(mut cluster) = HaCluster::start("ha-sigkill", 3, 2) else {
        return;
    };
    let leader = cluster.wait_for_leader();
    let mut framework = ha_framework(&cluster, "e2e-ha-sigkill");
    let id = framework.id();
    let go = launch_gated(&mut framework, &cluster.harness, "long");

    // The others redirect to the leader.
    for (_, address) in cluster.live().filter(|(_, a)| *a != leader) {
        let response = libprocess::http::client::get(&format!("http://{address}/master/redirect"))
            .get()
            .expect("an answer");
        assert_eq!(response.status.as_u16(), 307);
        let location = response
            .headers
            .get("Location")
            .and_then(|l| l.to_str().ok())
            .expect("Location");
        assert_eq!(location, format!("//{leader}"));
    }

    let old = cluster.index_of(leader);
    cluster.kill(old);
    let leader = cluster.wait_for_leader();
    assert_ne!(cluster.index_of(leader), old);

    // Agents re-register with their ids and tasks, the framework re-subscribes with its id.
    wait_until(WAIT, "the agents to re-register", || {
        support::active_agents(leader) == 2
    });
    framework.wait("a second SUBSCRIBED", |f| f.subscribed.len() >= 2);
    assert_eq!(framework.id(), id);
    assert_eq!(
        support::task_state_in_master(leader, "long").as_deref(),
        Some("TASK_RUNNING")
    );
    watch_leaders(&cluster, Duration::from_millis(500));

    finish_once(&mut framework, &go, "long");
    assert!(!framework.saw("long", TaskState::TaskKilled));
    assert!(!framework.saw("long", TaskState::TaskLost));
    framework.stop();
}

#[test]
fn the_cluster_survives_a_zookeeper_restart() {
    // Sessions of 10 s (Mesos's default) outlive the restart: nobody loses the candidacy.
    let Some(mut cluster) =
        HaCluster::start_with("ha-zk-restart", 3, 1, "--zk_session_timeout=10secs")
    else {
        return;
    };
    let leader = cluster.wait_for_leader();
    let mut framework = ha_framework(&cluster, "e2e-ha-zk-restart");
    let go = launch_gated(&mut framework, &cluster.harness, "steady");

    cluster.zk.stop();
    std::thread::sleep(Duration::from_millis(500));
    cluster.zk.restart();

    // The same master leads, with the agent and the task; every master is still up.
    let leader_after = cluster.wait_for_leader();
    assert_eq!(leader_after, leader);
    wait_until(WAIT, "the agent", || support::active_agents(leader) == 1);
    watch_leaders(&cluster, Duration::from_millis(500));
    for i in 0..cluster.masters.len() {
        let name = cluster.masters[i].0.clone();
        assert!(cluster.harness.proc(&name).running(), "{name} exited");
    }
    finish_once(&mut framework, &go, "steady");

    // And still launches tasks.
    let offer = framework.take_offer(None);
    framework.launch(&offer, vec![command_task("after", &offer.agent_id, "true")]);
    framework.wait_state("after", TaskState::TaskFinished);
    framework.stop();
}

#[test]
fn a_leader_cut_off_from_zookeeper_steps_down() {
    let Some(mut cluster) = HaCluster::start("ha-partition", 3, 1) else {
        return;
    };
    let leader = cluster.wait_for_leader();
    let mut framework = ha_framework(&cluster, "e2e-ha-partition");
    let go = launch_gated(&mut framework, &cluster.harness, "survivor");

    let old = cluster.index_of(leader);
    cluster.proxies[old].cut();
    // It steps down (the binary exits), never while another leads.
    let name = cluster.masters[old].0.clone();
    let deadline = Instant::now() + WAIT;
    loop {
        cluster.leaders();
        if !cluster.harness.proc(&name).running() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cut-off leader did not step down"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.masters[old].1 = None;

    let leader = cluster.wait_for_leader();
    assert_ne!(cluster.index_of(leader), old);
    wait_until(WAIT, "the agent to re-register", || {
        support::active_agents(leader) == 1
    });
    watch_leaders(&cluster, Duration::from_millis(500));
    finish_once(&mut framework, &go, "survivor");
    framework.stop();
}

/// pymesos 0.3.15, unchanged, finds the leader with its kazoo-based detector and runs a task
/// through it. Runs when `PYMESOS_PYTHON` names a Python with pymesos and kazoo (`.ci/run`
/// installs them); skipped otherwise.
#[test]
fn pymesos_finds_the_leader_through_zookeeper() {
    let Ok(python) = std::env::var("PYMESOS_PYTHON") else {
        eprintln!("skipping: set PYMESOS_PYTHON to a Python with pymesos 0.3.15 and kazoo");
        return;
    };
    let Some(cluster) = HaCluster::start("ha-pymesos", 3, 1) else {
        return;
    };
    let leader = cluster.wait_for_leader();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/pymesos_zk_framework.py"
    );
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(&cluster.url)
        .arg("py-zk")
        .output()
        .expect("running pymesos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pymesos failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(&format!("MASTER {leader}")),
        "pymesos detected another master than {leader}:\n{stdout}"
    );
    assert!(stdout.contains("UPDATE py-zk TASK_FINISHED"), "{stdout}");
}

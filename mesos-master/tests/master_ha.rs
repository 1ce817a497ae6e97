//! Several masters electing a leader through a real ZooKeeper (`--zk`), the registry kept in
//! ZooKeeper: one leads, the others redirect; the leader stops → another recovers the
//! registry; a leader cut off from ZooKeeper steps down and can never write the registry
//! again; `--recovery_agent_removal_limit`. Skipped (with the reason printed) when
//! ZooKeeper is not installed.

mod master_support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libprocess::Runtime;
use libprocess::filter::Matcher;
use libprocess::http::StatusCode;
use libprocess::http::client;
use master_support::{FakeAgent, temp_dir};
use mesos_core::internal::RegisterSlaveMessage;
use mesos_core::registry::Registry;
use mesos_master::master::Options;
use mesos_master::registrar::{Storage, StorageError, ZooKeeperStorage};
use mesos_master::{Master, MasterFlags};
use mesos_zookeeper::ZkUrl;
use mesos_zookeeper::testing::{Proxy, ZooKeeperServer};

fn server() -> Option<&'static ZooKeeperServer> {
    static SERVER: OnceLock<Option<ZooKeeperServer>> = OnceLock::new();
    let server = SERVER.get_or_init(ZooKeeperServer::start).as_ref();
    if server.is_none() {
        eprintln!("skipping: ZooKeeper is not installed");
    }
    server
}

/// Waits on wall time until `f` holds.
fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Node {
    runtime: Runtime,
    master: Master,
}

impl Node {
    fn start(zk: &ZkUrl, session_timeout: &str, configure: impl FnOnce(&mut MasterFlags)) -> Node {
        let runtime = Runtime::builder()
            .ip("127.0.0.1".parse().unwrap())
            .port(0)
            .workers(2)
            .build();
        let mut flags = MasterFlags::try_parse_args([
            "mesos-master".to_owned(),
            format!("--zk={zk}"),
            "--quorum=1".to_owned(),
            format!("--zk_session_timeout={session_timeout}"),
            format!("--work_dir={}", temp_dir("ha").display()),
        ])
        .unwrap();
        configure(&mut flags);
        let master =
            Master::start_with(flags, Options::default(), runtime.handle()).expect("master starts");
        Node { runtime, master }
    }

    fn elected(&self) -> bool {
        self.master.inspect(|m| m.elected()).get().unwrap_or(false)
    }

    fn recovered(&self) -> bool {
        self.master.inspect(|m| m.recovered).get().unwrap_or(false)
    }

    fn metric_elected(&self) -> f64 {
        let body = client::get(&format!(
            "http://{}/metrics/snapshot",
            self.runtime.address()
        ))
        .get()
        .unwrap();
        let json: serde_json::Value = serde_json::from_slice(body.body_bytes().unwrap()).unwrap();
        json["master/elected"].as_f64().unwrap()
    }

    fn port(&self) -> u16 {
        self.runtime.address().port()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.master.stop();
    }
}

fn leader_of(nodes: &[Node]) -> usize {
    let mut leader = None;
    wait_until("one leader", Duration::from_secs(20), || {
        let elected: Vec<usize> = (0..nodes.len())
            .filter(|i| nodes[*i].elected() && nodes[*i].recovered())
            .collect();
        assert!(elected.len() <= 1, "two masters lead at once: {elected:?}");
        leader = elected.first().copied();
        leader.is_some()
    });
    leader.unwrap()
}

#[test]
fn three_masters_elect_one_leader_the_others_redirect_and_a_new_leader_recovers_the_registry() {
    let Some(zk) = server() else { return };
    let url = zk.url("/ha-three");
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&url, "10secs", |_| {}))
        .collect();
    let leader = leader_of(&nodes);
    let leader_port = nodes[leader].port();

    // Exactly one reports master/elected 1; the others redirect.
    for (i, node) in nodes.iter().enumerate() {
        let expected = if i == leader { 1.0 } else { 0.0 };
        assert_eq!(node.metric_elected(), expected, "master {i}");
        if i == leader {
            continue;
        }
        wait_until(
            "the follower knows the leader",
            Duration::from_secs(10),
            || node.master.inspect(|m| m.leader.is_some()).get().unwrap(),
        );
        let base = format!("http://{}", node.runtime.address());
        let scheduler = client::post(
            &format!("{base}/api/v1/scheduler"),
            "application/json",
            "{}",
        )
        .get()
        .unwrap();
        assert_eq!(scheduler.status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            scheduler.header("location"),
            Some(format!("//127.0.0.1:{leader_port}/api/v1/scheduler").as_str())
        );
        let operator = client::post(&format!("{base}/api/v1"), "application/json", "{}")
            .get()
            .unwrap();
        assert_eq!(operator.status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            operator.header("location"),
            Some(format!("//127.0.0.1:{leader_port}/api/v1").as_str())
        );
        let redirect = client::get(&format!("{base}/master/redirect"))
            .get()
            .unwrap();
        assert_eq!(redirect.status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            redirect.header("location"),
            Some(format!("//127.0.0.1:{leader_port}").as_str())
        );
        let state = client::get(&format!("{base}/master/state?x=1"))
            .get()
            .unwrap();
        assert_eq!(state.status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            state.header("location"),
            Some(format!("//127.0.0.1:{leader_port}/master/state?x=1").as_str())
        );
        // Served by everyone.
        let health = client::get(&format!("{base}/health")).get().unwrap();
        assert_eq!(health.status, StatusCode::OK);
    }
    // The leader's /state names itself.
    let state = client::get(&format!(
        "http://{}/master/state",
        nodes[leader].runtime.address()
    ))
    .get()
    .unwrap();
    assert_eq!(state.status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_slice(state.body_bytes().unwrap()).unwrap();
    assert_eq!(json["leader"], format!("master@127.0.0.1:{leader_port}"));
    assert_eq!(json["leader_info"]["port"], u64::from(leader_port));

    // An agent registers with the leader: it is in the registry in ZooKeeper.
    let agent = FakeAgent::spawn(
        &nodes[leader].runtime,
        nodes[leader].master.pid().upid().clone(),
        "agent-1",
        "cpus:2;mem:1024",
    );
    agent.register();
    wait_until("the agent registers", Duration::from_secs(10), || {
        agent.agent_id().is_some()
    });
    let agent_id = agent.agent_id().unwrap();

    // A follower sending agent messages is ignored.
    let follower = (leader + 1) % 3;
    let stray = FakeAgent::spawn(
        &nodes[follower].runtime,
        nodes[follower].master.pid().upid().clone(),
        "stray",
        "cpus:1;mem:128",
    );
    let delivered = nodes[follower].runtime.handle().future_message(
        Matcher::protobuf::<RegisterSlaveMessage>().to(nodes[follower].master.pid().upid()),
    );
    stray.register();
    assert!(
        delivered.await_for(Duration::from_secs(10)),
        "the registration reaches the follower"
    );
    let agents = nodes[follower]
        .master
        .inspect(|m| m.state.agents.len())
        .get()
        .expect("the follower answers");
    assert_eq!(agents, 0, "a follower admits no agent");
    assert_eq!(stray.agent_id(), None, "a follower admits no agent");

    // The leader stops: another one leads and recovers the agent from the registry.
    nodes[leader].master.stop();
    let rest: Vec<&Node> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, n)| n)
        .collect();
    let mut next = None;
    wait_until("a new leader", Duration::from_secs(20), || {
        next = rest.iter().position(|n| n.elected() && n.recovered());
        next.is_some()
    });
    let next = rest[next.unwrap()];
    let recovered = next
        .master
        .inspect(move |m| {
            m.state
                .recovered_agents
                .keys()
                .any(|id| id.to_string() == agent_id)
        })
        .get()
        .unwrap();
    assert!(
        recovered,
        "the new leader recovered the agent from the registry"
    );
    assert_eq!(next.metric_elected(), 1.0);
    let others = rest.iter().filter(|n| n.elected()).count();
    assert_eq!(others, 1, "one leader only");
}

#[test]
fn a_leader_cut_off_from_zookeeper_steps_down_and_cannot_write_the_registry() {
    let Some(zk) = server() else { return };
    let proxy = Proxy::start(zk.address());
    // The first master reaches ZooKeeper through the proxy, with a short session.
    let cut = Node::start(&proxy.url("/ha-cut"), "2secs", |_| {});
    wait_until("the first master leads", Duration::from_secs(20), || {
        cut.elected() && cut.recovered()
    });
    let other = Node::start(&zk.url("/ha-cut"), "10secs", |_| {});
    wait_until("the second master follows", Duration::from_secs(10), || {
        other.master.inspect(|m| m.leader.is_some()).get().unwrap()
    });
    assert!(!other.elected());

    // A writer that read the registry now (as the first leader did).
    let mut stale = ZooKeeperStorage::new(zk.url("/ha-cut/registry"), Duration::from_secs(10));
    let registry = stale.fetch().get().unwrap().unwrap().expect("a registry");

    proxy.cut();
    let lost = cut.master.lost_leadership();
    assert!(
        lost.await_for(Duration::from_secs(20)),
        "the cut-off leader steps down"
    );
    let reason = lost.get().unwrap();
    assert!(!reason.is_empty());
    assert!(!cut.elected());
    assert_eq!(cut.metric_elected(), 0.0);

    wait_until("the other master leads", Duration::from_secs(30), || {
        other.elected() && other.recovered()
    });
    // The deposed master writes nothing more.
    let apply = cut
        .master
        .registrar()
        .apply(mesos_master::registrar::Operation::UpdateWeights(vec![
            mesos_core::v0::WeightInfo {
                weight: 3.0,
                role: Some("r".into()),
            },
        ]));
    assert!(apply.await_for(Duration::from_secs(5)));
    assert!(apply.get().is_err());
    // A store with a version read before the new leader recovered is refused.
    let refused = stale.store(&Registry { ..registry }).get().unwrap();
    assert!(
        matches!(refused, Err(StorageError::Conflict(_))),
        "{refused:?}"
    );
    let current = other.master.registrar().registry().get().unwrap().unwrap();
    assert!(current.weights.is_empty());
    proxy.heal();
}

#[test]
fn recovery_agent_removal_limit_is_honoured() {
    let Some(zk) = server() else { return };
    for (path, limit, steps_down) in [
        ("/ha-limit-low", "50%", true),
        ("/ha-limit-all", "100%", false),
    ] {
        let url = zk.url(path);
        let first = Node::start(&url, "10secs", |_| {});
        wait_until("the first master leads", Duration::from_secs(20), || {
            first.elected() && first.recovered()
        });
        let agents: Vec<FakeAgent> = (0..2)
            .map(|i| {
                let agent = FakeAgent::spawn(
                    &first.runtime,
                    first.master.pid().upid().clone(),
                    &format!("agent-{i}"),
                    "cpus:1;mem:128",
                );
                agent.register();
                agent
            })
            .collect();
        wait_until("the agents register", Duration::from_secs(10), || {
            agents.iter().all(|a| a.agent_id().is_some())
        });
        let second = Node::start(&url, "10secs", |flags| {
            flags.recovery_agent_removal_limit = limit.into();
        });
        second.runtime.clock().pause();
        first.master.stop();
        wait_until("the second master leads", Duration::from_secs(20), || {
            second.elected() && second.recovered()
        });
        // No agent comes back within --agent_reregister_timeout.
        second.runtime.clock().advance(Duration::from_secs(601));
        second.runtime.clock().settle();
        let lost = second.master.lost_leadership();
        if steps_down {
            assert!(lost.await_for(Duration::from_secs(5)), "limit {limit}");
            assert!(lost.get().unwrap().contains("removal limit"));
            let registry = second.master.registrar().registry();
            assert!(
                !registry.await_for(Duration::from_secs(1)) || registry.get().is_err(),
                "the registrar is stopped"
            );
        } else {
            wait_until(
                "the agents become unreachable",
                Duration::from_secs(10),
                || {
                    second
                        .master
                        .inspect(|m| m.state.unreachable_agents.len())
                        .get()
                        .unwrap()
                        == 2
                },
            );
            assert!(lost.is_pending());
        }
    }
}

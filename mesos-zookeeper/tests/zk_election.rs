//! Contender and detector against a real ZooKeeper: the znodes Mesos writes, who leads,
//! withdrawal, session expiry, a server restart.

use std::sync::OnceLock;
use std::time::Duration;

use mesos_core::v0;
use mesos_zookeeper::testing::{Proxy, ZooKeeperServer};
use mesos_zookeeper::{ZkMasterContender, ZkMasterDetector};
use zookeeper_client as zk;

const WAIT: Duration = Duration::from_secs(20);
const SESSION: Duration = Duration::from_secs(10);

fn server() -> Option<&'static ZooKeeperServer> {
    static SERVER: OnceLock<Option<ZooKeeperServer>> = OnceLock::new();
    SERVER.get_or_init(ZooKeeperServer::start).as_ref()
}

fn info(id: &str, port: u16) -> v0::MasterInfo {
    v0::MasterInfo {
        id: id.to_owned(),
        ip: u32::from(std::net::Ipv4Addr::new(127, 0, 0, 1)).to_be(),
        port: u32::from(port),
        pid: Some(format!("master@127.0.0.1:{port}")),
        hostname: Some("localhost".to_owned()),
        version: Some("1.11.0".to_owned()),
        address: Some(v0::Address {
            hostname: Some("localhost".to_owned()),
            ip: Some("127.0.0.1".to_owned()),
            port: i32::from(port),
        }),
        ..Default::default()
    }
}

/// Runs `f` with a raw ZooKeeper client, as an outside tool would look at the znodes.
fn raw<T>(server: &ZooKeeperServer, f: impl AsyncFnOnce(&zk::Client) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = zk::Client::connect(&server.connect_string()).await.unwrap();
        f(&client).await
    })
}

fn detect(
    detector: &ZkMasterDetector,
    previous: Option<&v0::MasterInfo>,
) -> Option<v0::MasterInfo> {
    let future = detector.detect(previous);
    assert!(future.await_for(WAIT), "no detection within {WAIT:?}");
    future.get().unwrap()
}

fn contend(contender: &ZkMasterContender, info: v0::MasterInfo) -> libprocess::Future<()> {
    let entered = contender.contend(info);
    assert!(entered.await_for(WAIT), "not in the group within {WAIT:?}");
    entered.get().unwrap()
}

#[test]
fn lowest_sequence_leads_and_znodes_are_what_mesos_writes() {
    let Some(server) = server() else { return };
    let url = server.url("/election/mesos");
    let contenders: Vec<_> = (0..3)
        .map(|_| ZkMasterContender::new(url.clone(), SESSION))
        .collect();
    let infos: Vec<_> = (0..3)
        .map(|i| info(&format!("master-{i}"), 5050 + i))
        .collect();
    let _lost: Vec<_> = contenders
        .iter()
        .zip(&infos)
        .map(|(contender, info)| contend(contender, info.clone()))
        .collect();

    let detector = ZkMasterDetector::new(url.clone(), SESSION);
    let leader = detect(&detector, None).expect("a leader");
    assert_eq!(leader.id, "master-0");
    assert_eq!(leader.pid(), "master@127.0.0.1:5050");

    // What pymesos or a kazoo script sees.
    let mut children = raw(server, async |client| {
        client.list_children("/election/mesos").await.unwrap()
    });
    children.sort();
    assert_eq!(children.len(), 3, "{children:?}");
    for (child, expected) in children.iter().zip(&infos) {
        let sequence = child.strip_prefix("json.info_").expect("json.info_ prefix");
        assert_eq!(sequence.len(), 10, "{child}");
        assert!(sequence.bytes().all(|b| b.is_ascii_digit()), "{child}");
        let path = format!("/election/mesos/{child}");
        let (data, stat) = raw(server, async |client| client.get_data(&path).await.unwrap());
        assert_ne!(stat.ephemeral_owner, 0, "{child} is ephemeral");
        let json: serde_json::Value = serde_json::from_slice(&data).expect("JSON data");
        assert_eq!(json["id"], expected.id.as_str());
        assert_eq!(json["pid"], expected.pid());
        assert_eq!(json["hostname"], "localhost");
        assert_eq!(json["address"]["ip"], "127.0.0.1");
        assert_eq!(json["address"]["port"], expected.port);
        let back: v0::MasterInfo =
            mesos_core::json::from_str(std::str::from_utf8(&data).unwrap()).unwrap();
        assert_eq!(&back, expected);
    }
    for contender in &contenders {
        assert!(contender.withdraw().get().unwrap());
    }
}

#[test]
fn detector_ignores_other_children() {
    let Some(server) = server() else { return };
    raw(server, async |client| {
        let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        client.mkdir("/ignore/mesos", &options).await.unwrap();
        for child in [
            "log_replicas",
            "registry",
            "info_0000000000",
            "json.info_garbage",
        ] {
            client
                .create(
                    &format!("/ignore/mesos/{child}"),
                    b"not a MasterInfo",
                    &options,
                )
                .await
                .unwrap();
        }
    });
    let url = server.url("/ignore/mesos");
    let detector = ZkMasterDetector::new(url.clone(), SESSION);
    // Known to have no leader: detect(Some) answers None.
    let ghost = info("ghost", 1);
    assert_eq!(detect(&detector, Some(&ghost)), None);

    let contender = ZkMasterContender::new(url, SESSION);
    contend(&contender, info("real", 5051));
    let leader = detect(&detector, None).expect("a leader");
    assert_eq!(leader.id, "real");
    contender.withdraw().get().unwrap();
    assert_eq!(detect(&detector, Some(&leader)), None);
}

#[test]
fn next_contender_leads_after_the_leader_withdraws() {
    let Some(server) = server() else { return };
    let url = server.url("/withdraw");
    let first = ZkMasterContender::new(url.clone(), SESSION);
    let second = ZkMasterContender::new(url.clone(), SESSION);
    let first_lost = contend(&first, info("first", 6000));
    let second_lost = contend(&second, info("second", 6001));

    let detector = ZkMasterDetector::new(url, SESSION);
    let leader = detect(&detector, None).expect("a leader");
    assert_eq!(leader.id, "first");
    // Same leader: the answer waits.
    assert!(detector.detect(Some(&leader)).is_pending());

    assert!(first.withdraw().get().unwrap());
    assert!(first_lost.await_for(WAIT), "withdrawing ends the candidacy");
    let next = detect(&detector, Some(&leader)).expect("a new leader");
    assert_eq!(next.id, "second");
    assert!(second_lost.is_pending());
    assert!(!first.withdraw().get().unwrap(), "nothing left to withdraw");
    second.withdraw().get().unwrap();
}

#[test]
fn expired_session_loses_the_candidacy() {
    let Some(server) = server() else { return };
    let proxy = Proxy::start(server.address());
    let path = "/expiry";
    let session = Duration::from_secs(2);
    let contender = ZkMasterContender::new(proxy.url(path), session);
    let lost = contend(&contender, info("partitioned", 7000));
    let detector = ZkMasterDetector::new(server.url(path), SESSION);
    let leader = detect(&detector, None).expect("a leader");
    assert_eq!(leader.id, "partitioned");

    // A short blip within the session timeout loses nothing.
    proxy.cut();
    std::thread::sleep(Duration::from_millis(300));
    proxy.heal();
    assert!(
        !lost.await_for(Duration::from_secs(3)),
        "a short partition keeps the candidacy"
    );

    proxy.cut();
    assert!(
        lost.await_for(WAIT),
        "the candidacy is lost once the session expires"
    );
    assert_eq!(detect(&detector, Some(&leader)), None, "the znode is gone");
    let children = raw(server, async |client| {
        client.list_children(path).await.unwrap()
    });
    assert!(children.is_empty(), "{children:?}");
    proxy.heal();
    contender.withdraw().get().unwrap();
}

#[test]
fn detector_follows_the_leader_across_a_zookeeper_restart() {
    // A server of its own: the restart would disturb the other tests.
    let Some(server) = ZooKeeperServer::start() else {
        return;
    };
    let url = server.url("/restart");
    let contender = ZkMasterContender::new(url.clone(), SESSION);
    let lost = contend(&contender, info("steady", 8000));
    let detector = ZkMasterDetector::new(url.clone(), SESSION);
    let leader = detect(&detector, None).expect("a leader");

    server.restart();
    // The session survived: same leader, candidacy kept; a change is still seen.
    assert!(!lost.await_for(Duration::from_secs(2)));
    let other = ZkMasterContender::new(url, SESSION);
    contend(&other, info("later", 8001));
    contender.withdraw().get().unwrap();
    let next = detect(&detector, Some(&leader)).expect("a leader after the restart");
    assert_eq!(next.id, "later");
    other.withdraw().get().unwrap();
}

#[test]
fn detection_by_key_waits_past_a_leader_with_the_same_key() {
    let Some(server) = server() else { return };
    let url = server.url("/by-key");
    fn port(info: &v0::MasterInfo) -> Option<u32> {
        Some(info.port)
    }
    let first = ZkMasterContender::new(url.clone(), SESSION);
    let restarted = ZkMasterContender::new(url.clone(), SESSION);
    let other = ZkMasterContender::new(url.clone(), SESSION);
    contend(&first, info("first", 6100));
    let detector = ZkMasterDetector::new(url, SESSION);
    let leader = detector.detect_by(None, port);
    assert!(leader.await_for(WAIT), "no detection within {WAIT:?}");
    assert_eq!(leader.get().unwrap(), Some(6100));

    // The same address comes back as another master (a restart): no change for the caller.
    contend(&restarted, info("restarted", 6100));
    let change = detector.detect_by(Some(6100), port);
    assert!(first.withdraw().get().unwrap());
    let first_info = info("first", 6100);
    let now = detect(&detector, Some(&first_info)).expect("a leader");
    assert_eq!(now.id, "restarted");
    assert!(change.is_pending(), "the same key is not a change");

    // Another address leads: that is.
    contend(&other, info("other", 6101));
    assert!(restarted.withdraw().get().unwrap());
    assert!(change.await_for(WAIT), "no change within {WAIT:?}");
    assert_eq!(change.get().unwrap(), Some(6101));
    other.withdraw().get().unwrap();
}

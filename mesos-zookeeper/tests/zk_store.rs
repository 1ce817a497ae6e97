//! The versioned store against a real ZooKeeper: blobs larger than a znode, version fencing,
//! corruption detected.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use mesos_zookeeper::testing::ZooKeeperServer;
use mesos_zookeeper::{StoreError, ZkVersionedStore};
use zookeeper_client as zk;

const WAIT: Duration = Duration::from_secs(30);
const SESSION: Duration = Duration::from_secs(10);

fn server() -> Option<&'static ZooKeeperServer> {
    static SERVER: OnceLock<Option<ZooKeeperServer>> = OnceLock::new();
    SERVER.get_or_init(ZooKeeperServer::start).as_ref()
}

fn wait<T: Clone + Send + Sync + 'static>(future: libprocess::Future<T>) -> T {
    assert!(future.await_for(WAIT), "no answer within {WAIT:?}");
    future.get().unwrap()
}

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

fn blob(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

fn chunks(server: &ZooKeeperServer, path: &str) -> Vec<String> {
    let mut children = raw(server, async |client| {
        client.list_children(path).await.unwrap()
    });
    children.retain(|child| child.starts_with("chunk-"));
    children.sort();
    children
}

#[test]
fn five_megabytes_round_trip() {
    let Some(server) = server() else { return };
    let store = ZkVersionedStore::new(server.url("/roundtrip/registry"), SESSION);
    assert_eq!(wait(store.fetch()), Ok(None), "nothing stored yet");

    let data = blob(5 * 1024 * 1024 + 17, 1);
    let v1 = wait(store.store(data.clone(), None)).unwrap();
    let (back, version) = wait(store.fetch()).unwrap().expect("stored");
    assert_eq!(version, v1);
    assert!(back == data, "the blob reads back whole");
    assert!(
        chunks(server, "/roundtrip/registry").len() >= 10,
        "split into chunks"
    );

    // A smaller second generation replaces the first, whose chunks are deleted.
    let small = blob(1000, 2);
    let v2 = wait(store.store(small.clone(), Some(v1))).unwrap();
    assert_ne!(v1, v2);
    assert_eq!(wait(store.fetch()), Ok(Some((small, v2))));
    assert_eq!(chunks(server, "/roundtrip/registry").len(), 1);

    // Another store (another master) reads the same.
    let other = ZkVersionedStore::new(server.url("/roundtrip/registry"), SESSION);
    assert_eq!(wait(other.fetch()).unwrap().unwrap().1, v2);
}

#[test]
fn stale_writer_conflicts_and_changes_nothing() {
    let Some(server) = server() else { return };
    let url = server.url("/stale/registry");
    let deposed = ZkVersionedStore::new(url.clone(), SESSION);
    let leader = ZkVersionedStore::new(url, SESSION);

    let v1 = wait(deposed.store(Bytes::from_static(b"first"), None)).unwrap();
    let v2 = wait(leader.store(Bytes::from_static(b"newer"), Some(v1))).unwrap();

    // The deposed master still believes v1 is current.
    match wait(deposed.store(blob(2 * 1024 * 1024, 3), Some(v1))) {
        Err(StoreError::Conflict { expected, actual }) => {
            assert_eq!(expected, Some(v1));
            assert_eq!(actual, Some(v2));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Writing "only if never written" conflicts too.
    assert!(matches!(
        wait(deposed.store(Bytes::from_static(b"x"), None)),
        Err(StoreError::Conflict { expected: None, .. })
    ));
    assert_eq!(
        wait(deposed.fetch()),
        Ok(Some((Bytes::from_static(b"newer"), v2)))
    );
    assert_eq!(
        chunks(server, "/stale/registry").len(),
        1,
        "the failed writer's chunks are gone"
    );
}

#[test]
fn torn_or_missing_chunk_is_corrupt() {
    let Some(server) = server() else { return };
    let store = ZkVersionedStore::new(server.url("/torn/registry"), SESSION);
    wait(store.store(blob(1024 * 1024 + 5, 4), None)).unwrap();
    let names = chunks(server, "/torn/registry");
    assert_eq!(names.len(), 3);

    // One byte changed in a chunk.
    let first = format!("/torn/registry/{}", names[0]);
    raw(server, async |client| {
        let (mut data, _) = client.get_data(&first).await.unwrap();
        data[100] ^= 0xFF;
        client.set_data(&first, &data, None).await.unwrap();
    });
    assert!(matches!(wait(store.fetch()), Err(StoreError::Corrupt(_))));

    // A chunk missing.
    let last = format!("/torn/registry/{}", names[2]);
    raw(server, async |client| {
        client.delete(&last, None).await.unwrap()
    });
    match wait(store.fetch()) {
        Err(StoreError::Corrupt(why)) => assert!(why.contains("missing"), "{why}"),
        other => panic!("expected corruption, got {other:?}"),
    }
}

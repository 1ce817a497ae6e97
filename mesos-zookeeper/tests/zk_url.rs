//! `zk://` URL parsing, good and bad.

use mesos_zookeeper::{ZkError, ZkUrl};

#[test]
fn parses_servers_path_and_credentials() {
    let url = ZkUrl::parse("zk://host1:2181,host2:2182/mesos").unwrap();
    assert_eq!(url.servers(), "host1:2181,host2:2182");
    assert_eq!(url.path(), "/mesos");
    assert_eq!(url.credentials(), None);
    assert_eq!(url.to_string(), "zk://host1:2181,host2:2182/mesos");

    let url: ZkUrl = "zk://jane:s3cret@10.0.0.1:2181/a/b/".parse().unwrap();
    assert_eq!(url.credentials(), Some(("jane", "s3cret")));
    assert_eq!(url.servers(), "10.0.0.1:2181");
    assert_eq!(url.path(), "/a/b");
    assert_eq!(url.to_string(), "zk://jane:s3cret@10.0.0.1:2181/a/b");
    assert!(
        !format!("{url:?}").contains("s3cret"),
        "Debug hides the password"
    );

    let root = ZkUrl::parse("zk://h:1/").unwrap();
    assert_eq!(root.path(), "/");
    assert_eq!(root.join("mesos").path(), "/mesos");
}

#[test]
fn join_keeps_servers_and_credentials() {
    let url = ZkUrl::parse("zk://u:p@h1:2181,h2:2181/mesos").unwrap();
    let registry = url.join("registry");
    assert_eq!(registry.path(), "/mesos/registry");
    assert_eq!(registry.servers(), url.servers());
    assert_eq!(registry.credentials(), url.credentials());
    assert_eq!(
        registry.to_string(),
        "zk://u:p@h1:2181,h2:2181/mesos/registry"
    );
}

#[test]
fn rejects_bad_urls_with_a_reason() {
    for bad in [
        "http://h:2181/mesos",
        "zk://h:2181",
        "zk:///mesos",
        "zk://h/mesos",
        "zk://h:notaport/mesos",
        "zk://h:0/mesos",
        "zk://h:2181,/mesos",
        "zk://:2181/mesos",
        "zk://nopassword@h:2181/mesos",
        "zk://h:2181/a//b",
        "zk://h:2181/a/../b",
        "",
    ] {
        match ZkUrl::parse(bad) {
            Err(ZkError::InvalidUrl { reason, .. }) => assert!(!reason.is_empty(), "{bad}"),
            other => panic!("'{bad}' parsed as {other:?}"),
        }
    }
    let error = ZkUrl::parse("zk://u:topsecret@h:2181")
        .unwrap_err()
        .to_string();
    assert!(
        !error.contains("topsecret"),
        "errors hide the password: {error}"
    );
}

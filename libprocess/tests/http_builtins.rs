//! The runtime's own endpoints: `/__processes__` and `/metrics/snapshot` (counters, gauges,
//! `?timeout=`), and libprocess messages posted on a connection that began with plain HTTP.

mod http_support;

use std::sync::Arc;

use bytes::Bytes;
use http_support::{Client, get, listening, wait_until};
use libprocess::{Context, Pid, Process, Promise, Upid, call, dispatch};

#[derive(Default)]
struct Worker {
    got: Vec<(String, Upid, Bytes)>,
    frameworks: u32,
}

impl Process for Worker {
    fn message(&mut self, _ctx: &mut Context<'_, Self>, message: libprocess::Message) {
        self.got.push((message.name, message.from, message.body));
    }
}

fn got(pid: &Pid<Worker>) -> Vec<(String, Upid, Bytes)> {
    call(pid, |w: &mut Worker| w.got.clone()).get().unwrap()
}

#[test]
fn processes_endpoint_lists_every_process() {
    let rt = listening();
    let worker = rt.spawn_with_id("worker", Worker::default()).unwrap();
    for _ in 0..10 {
        dispatch(&worker, |w: &mut Worker| w.frameworks += 1);
    }
    call(&worker, |_: &mut Worker| ()).get().unwrap();
    let response = get(rt.address(), "/__processes__");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let listing = response.json();
    let processes = listing.as_array().unwrap();
    let ids: Vec<&str> = processes
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["__processes__", "metrics", "worker"]);
    let worker_entry = &processes[2];
    assert_eq!(worker_entry["queue_length"], 0);
    assert!(worker_entry["events_processed"].as_u64().unwrap() >= 11);
}

#[test]
fn metrics_snapshot_serves_counters_and_gauges() {
    let rt = listening();
    let worker = rt.spawn_with_id("worker", Worker::default()).unwrap();
    let metrics = rt.metrics();
    let elected = metrics.counter("master/elected");
    elected.inc();
    elected.add(2);
    metrics.gauge("master/uptime_secs", || 1.5);
    let pid = worker.clone();
    dispatch(&worker, |w: &mut Worker| w.frameworks = 4);
    metrics.gauge_future("master/frameworks_active", move || {
        call(&pid, |w: &mut Worker| f64::from(w.frameworks))
    });
    let response = get(rt.address(), "/metrics/snapshot");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let snapshot = response.json();
    assert_eq!(snapshot["master/elected"], 3.0);
    assert_eq!(snapshot["master/uptime_secs"], 1.5);
    assert_eq!(snapshot["master/frameworks_active"], 4.0);
    assert!(snapshot["libprocess/outbound/messages_sent"].is_number());

    let jsonp = get(rt.address(), "/metrics/snapshot?jsonp=cb");
    assert!(jsonp.text().starts_with("cb({"));
}

#[test]
fn metrics_snapshot_timeout_leaves_out_slow_gauges() {
    let rt = listening();
    let metrics = rt.metrics();
    metrics.counter("fast").inc();
    // A gauge that never answers (its promises are kept, never completed).
    let parked: Arc<parking_lot::Mutex<Vec<Promise<f64>>>> = Arc::default();
    let keep = parked.clone();
    metrics.gauge_future("slow", move || {
        let promise = Promise::new();
        let future = promise.future();
        keep.lock().push(promise);
        future
    });
    let response = get(rt.address(), "/metrics/snapshot?timeout=20ms");
    assert_eq!(response.status, 200);
    let snapshot = response.json();
    assert_eq!(snapshot["fast"], 1.0);
    assert!(snapshot.get("slow").is_none(), "{snapshot}");
    assert_eq!(parked.lock().len(), 1);

    let bad = get(rt.address(), "/metrics/snapshot?timeout=soon");
    assert_eq!(bad.status, 400);
    assert!(bad.text().starts_with("Invalid timeout 'soon'"));

    // Without a timeout the snapshot waits for the gauge.
    let address = rt.address();
    let waiting = std::thread::spawn(move || get(address, "/metrics/snapshot"));
    wait_until(|| parked.lock().len() == 2);
    parked.lock()[1].set(9.0);
    let snapshot = waiting.join().unwrap().json();
    assert_eq!(snapshot["fast"], 1.0);
    assert_eq!(snapshot["slow"], 9.0);
}

#[test]
fn message_on_a_connection_that_began_with_http_is_delivered() {
    let rt = listening();
    let worker = rt.spawn_with_id("worker", Worker::default()).unwrap();
    let mut client = Client::connect(rt.address());
    assert_eq!(client.get("/__processes__").status, 200);

    client.send(
        b"POST /worker/mesos.internal.Ping HTTP/1.1\r\n\
          Libprocess-From: slave(1)@127.0.0.1:5051\r\nContent-Length: 4\r\n\r\nping",
    );
    assert_eq!(client.response().status, 202);
    // The legacy form, with the sender only in User-Agent, and a chunked body.
    client.send(
        b"POST /worker/legacy HTTP/1.1\r\nUser-Agent: libprocess/old@127.0.0.1:7\r\n\
          Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    );
    assert_eq!(client.response().status, 202);
    // No such process.
    client.send(
        b"POST /nobody/x HTTP/1.1\r\nLibprocess-From: a@127.0.0.1:1\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(client.response().status, 404);
    // And ordinary requests still work on the same connection.
    assert_eq!(client.get("/__processes__").status, 200);

    wait_until(|| got(&worker).len() == 2);
    let got = got(&worker);
    assert_eq!(got[0].0, "mesos.internal.Ping");
    assert_eq!(got[0].1.to_string(), "slave(1)@127.0.0.1:5051");
    assert_eq!(got[0].2, "ping");
    assert_eq!(got[1].0, "legacy");
    assert_eq!(got[1].1.to_string(), "old@127.0.0.1:7");
    assert_eq!(got[1].2, "hi");
}

#[test]
fn builtins_exist_only_on_listening_runtimes() {
    let rt = libprocess::Runtime::new();
    assert_eq!(rt.live_processes(), 0);
    let counter = rt.metrics().counter("local");
    counter.inc();
    let snapshot = rt.metrics().snapshot(None).get().unwrap();
    assert_eq!(snapshot["local"], 1.0);
}

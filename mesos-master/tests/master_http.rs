//! Malformed and hostile requests to `/api/v1/scheduler`: each gets Mesos's status code and
//! a body saying what is wrong, and nothing changes in the master (upstream
//! `http_api_tests.cpp`, `scheduler_http_api_tests.cpp`).

mod master_support;

use std::time::Duration;

use libprocess::http::StatusCode;
use libprocess::http::client::{self, ClientRequest};
use master_support::*;
use mesos_core::v1;
use mesos_core::v1::scheduler::{call, event};
use mesos_master::MasterFlags;

const JSON: &str = "application/json";
const PROTOBUF: &str = "application/x-protobuf";

fn nothing_changed(cluster: &Cluster) {
    let (frameworks, offers, completed) = cluster.inspect(|m| {
        (
            m.state.frameworks.len(),
            m.state.offers.len(),
            m.state.completed_frameworks.len(),
        )
    });
    assert_eq!((frameworks, offers, completed), (0, 0, 0));
}

fn subscribe_json() -> Vec<u8> {
    Encoding::Json.encode_call(&subscribe_call(framework_info("fw")))
}

#[test]
fn bad_requests_get_mesos_status_codes_and_change_nothing() {
    let cluster = Cluster::new(|_| {});
    let url = cluster.scheduler_url();

    let response = client::get(&url).get().unwrap();
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.header("allow"), Some("POST"));

    let request = ClientRequest::post(&url).unwrap();
    let response = client::request(request).get().unwrap();
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(body_text(&response).contains("Content-Type"));

    let response = cluster.post(Some("text/plain"), &[], subscribe_json());
    assert_eq!(response.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (JSON, b"{not json".to_vec(), "Failed to convert JSON"),
        (JSON, b"[1,2,3]".to_vec(), "Failed to convert JSON"),
        (JSON, vec![0xff, 0xfe, 0x00], "UTF-8"),
        // `subscribe.framework_info` is required.
        (JSON, br#"{"type":"SUBSCRIBE","subscribe":{}}"#.to_vec(), "Failed to convert JSON"),
        // An enum given as a number.
        (JSON, br#"{"type":1}"#.to_vec(), "Failed to convert JSON"),
        (JSON, br#"{}"#.to_vec(), "Expecting 'type' to be present"),
        (JSON, br#"{"type":"SUBSCRIBE"}"#.to_vec(), "Expecting 'subscribe'"),
        (JSON, br#"{"type":"REVIVE"}"#.to_vec(), "Expecting 'framework_id'"),
        (
            JSON,
            br#"{"type":"ACCEPT","framework_id":{"value":"x"}}"#.to_vec(),
            "Expecting 'accept'",
        ),
        (
            JSON,
            br#"{"type":"ACKNOWLEDGE","framework_id":{"value":"x"},"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"AAAA"}}"#
                .to_vec(),
            "Not a valid UUID",
        ),
        (
            JSON,
            br#"{"type":"SUBSCRIBE","framework_id":{"value":"x"},"subscribe":{"framework_info":{"user":"u","name":"n"}}}"#
                .to_vec(),
            "differs",
        ),
        (PROTOBUF, vec![0x0a, 0xff, 0xff, 0xff], "Failed to parse body into Call protobuf"),
    ];
    for (content_type, body, expected) in cases {
        let response = cluster.post(Some(content_type), &[], body.clone());
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{:?}",
            String::from_utf8_lossy(&body)
        );
        let text = body_text(&response);
        assert!(text.contains(expected), "{text:?} should say {expected:?}");
    }

    // A valid call for a framework nobody subscribed.
    let mut revive = call_of(call::Type::Revive);
    revive.framework_id = Some(v1::FrameworkId {
        value: "nobody".into(),
    });
    let response = cluster.post(
        Some(JSON),
        &[("Mesos-Stream-Id", "whatever")],
        Encoding::Json.encode_call(&revive),
    );
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(body_text(&response), "Framework cannot be found");

    // UNKNOWN: not implemented.
    let response = cluster.post(Some(JSON), &[], br#"{"type":"UNKNOWN"}"#.to_vec());
    assert_eq!(response.status, StatusCode::NOT_IMPLEMENTED);

    // SUBSCRIBE: no acceptable encoding, or a stream id.
    let response = cluster.post(Some(JSON), &[("Accept", "text/html")], subscribe_json());
    assert_eq!(response.status, StatusCode::NOT_ACCEPTABLE);
    let response = cluster.post(Some(JSON), &[("Mesos-Stream-Id", "x")], subscribe_json());
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(body_text(&response).contains("Mesos-Stream-Id"));

    nothing_changed(&cluster);
}

#[test]
fn calls_need_the_current_stream_id() {
    let cluster = Cluster::new(|_| {});
    let scheduler = Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Json);
    let mut revive = call_of(call::Type::Revive);
    revive.framework_id = Some(scheduler.framework_id());
    let body = Encoding::Json.encode_call(&revive);

    let response = cluster.post(Some(JSON), &[], body.clone());
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(body_text(&response).contains("Mesos-Stream-Id"));
    let response = cluster.post(Some(JSON), &[("Mesos-Stream-Id", "not-mine")], body.clone());
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let response = cluster.post(
        Some("application/json; charset=utf-8"),
        &[("Mesos-Stream-Id", scheduler.stream_id.as_str())],
        body,
    );
    assert_eq!(response.status, StatusCode::ACCEPTED);
    assert!(response.body_bytes().is_none_or(|b| b.is_empty()));

    // Semantic errors are not HTTP errors: declining an offer that does not exist is 202.
    let response = scheduler.call(decline(
        vec![v1::OfferId {
            value: "no-such-offer".into(),
        }],
        5.0,
    ));
    assert_eq!(response.status, StatusCode::ACCEPTED);
}

#[test]
fn accept_negotiation_and_heartbeats() {
    let cluster = Cluster::new(|_| {});
    // JSON when both are acceptable equally; protobuf when preferred.
    // (A stream never ends: read only its head.)
    let request = ClientRequest::post(&cluster.scheduler_url())
        .unwrap()
        .header("Accept", "application/*;q=0.5, application/x-protobuf")
        .unwrap()
        .body(JSON, subscribe_json());
    let response = client::streaming(request).get().unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("content-type"), Some(PROTOBUF));
    assert!(response.header("mesos-stream-id").is_some());

    let scheduler = Scheduler::subscribe(&cluster, framework_info("other"), Encoding::Json);
    scheduler.wait_count(event::Type::Heartbeat, 1);
    cluster.advance(Duration::from_secs(15));
    scheduler.wait_count(event::Type::Heartbeat, 2);
    cluster.advance(Duration::from_secs(15));
    scheduler.wait_count(event::Type::Heartbeat, 3);
}

#[test]
fn huge_bodies_are_refused() {
    let mut flags = MasterFlags::default();
    flags.registry = "in_memory".into();
    let cluster = Cluster::with_body_limit(flags, Some(64 * 1024));
    let mut huge = framework_info("fw");
    huge.name = "x".repeat(256 * 1024);
    let body = Encoding::Json.encode_call(&subscribe_call(huge));
    let response = cluster.post(Some(JSON), &[], body);
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    nothing_changed(&cluster);
    // The master still serves.
    Scheduler::subscribe(&cluster, framework_info("fw"), Encoding::Protobuf);
}

#[test]
fn scheduler_authentication_and_principals() {
    let cluster = Cluster::new(|flags| {
        flags.authenticate_http_frameworks = true;
        flags.credentials =
            Some(r#"{"credentials":[{"principal":"ops","secret":"s3cret"}]}"#.into());
    });
    // No credentials: 401 with the scheduler realm's challenge.
    let response = cluster.post(Some(JSON), &[], subscribe_json());
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert!(
        response
            .header("www-authenticate")
            .is_some_and(|c| c.contains("mesos-master-scheduler"))
    );
    // Good credentials, but FrameworkInfo claims another principal: ERROR on the stream.
    let mut info = framework_info("fw");
    info.principal = Some("someone-else".into());
    let basic = "Basic b3BzOnMzY3JldA=="; // ops:s3cret
    let request = ClientRequest::post(&cluster.scheduler_url())
        .unwrap()
        .header("Authorization", basic)
        .unwrap()
        .body(JSON, Encoding::Json.encode_call(&subscribe_call(info)));
    let response = client::streaming(request).get().unwrap();
    assert_eq!(response.status, StatusCode::OK);
    let reader = response.body.reader().unwrap().clone();
    let record = reader.read().get().unwrap().unwrap();
    let text = String::from_utf8_lossy(&record);
    assert!(
        text.contains("ERROR") && text.contains("does not match"),
        "{text}"
    );
    nothing_changed(&cluster);
    // The right principal subscribes.
    let mut info = framework_info("fw");
    info.principal = Some("ops".into());
    let request = ClientRequest::post(&cluster.scheduler_url())
        .unwrap()
        .header("Authorization", basic)
        .unwrap()
        .body(JSON, Encoding::Json.encode_call(&subscribe_call(info)));
    let response = client::streaming(request).get().unwrap();
    assert_eq!(response.status, StatusCode::OK);
    wait_until("the framework subscribes", || {
        cluster.inspect(|m| m.state.frameworks.len()) == 1
    });
}

#[test]
fn completed_frameworks_are_bounded() {
    let cluster = Cluster::new(|flags| flags.max_completed_frameworks = 2);
    for i in 0..4 {
        let scheduler =
            Scheduler::subscribe(&cluster, framework_info(&format!("fw{i}")), Encoding::Json);
        assert_eq!(
            scheduler.call(call_of(call::Type::Teardown)).status,
            StatusCode::ACCEPTED
        );
    }
    let names = cluster.inspect(|m| {
        m.state
            .completed_frameworks
            .iter()
            .map(|f| f.info.name.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(names, vec!["fw2".to_owned(), "fw3".to_owned()]);
}

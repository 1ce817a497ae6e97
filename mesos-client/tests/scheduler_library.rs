//! The v1 scheduler library against fake masters over real HTTP: subscription, events in both
//! content types, calls with the stream id, a 307 followed, reconnection after the stream
//! drops or goes silent, retries while the master is unavailable, teardown.

#[path = "support/fake_master.rs"]
mod fake_master;

use std::sync::Mutex;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use fake_master::{FakeMaster, wait_until, with};
use libprocess::http::StatusCode;
use libprocess::{Future, Promise, Runtime};
use mesos_client::ContentType;
use mesos_client::scheduler::{
    MasterDetector, Scheduler, SchedulerConfig, SchedulerEvent, State, StaticDetector,
};
use mesos_core::v1;
use mesos_core::v1::scheduler::{Event, call, event};

fn framework() -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "root".into(),
        name: "test-framework".into(),
        ..Default::default()
    }
}

fn next(events: &Receiver<SchedulerEvent>) -> SchedulerEvent {
    events
        .recv_timeout(Duration::from_secs(20))
        .expect("an event from the scheduler library")
}

fn next_event(events: &Receiver<SchedulerEvent>, kind: event::Type) -> Event {
    loop {
        match next(events) {
            SchedulerEvent::Event(e) if e.r#type == Some(kind as i32) => return *e,
            SchedulerEvent::Event(e) if e.r#type == Some(event::Type::Error as i32) => {
                panic!("error event: {e:?}")
            }
            _ => {}
        }
    }
}

fn detector(master: &Runtime) -> StaticDetector {
    StaticDetector::new(&format!("http://{}", master.handle().address())).unwrap()
}

fn offers_event() -> Event {
    Event {
        r#type: Some(event::Type::Offers as i32),
        offers: Some(event::Offers {
            offers: vec![v1::Offer {
                id: v1::OfferId { value: "o1".into() },
                framework_id: v1::FrameworkId {
                    value: "master-0000".into(),
                },
                agent_id: v1::AgentId { value: "a1".into() },
                hostname: "agent".into(),
                ..Default::default()
            }],
        }),
        ..Default::default()
    }
}

fn subscribe_and_call(content_type: ContentType) {
    let (master_rt, master) = fake_master::start(FakeMaster::new());
    let runtime = Runtime::new();
    let config = SchedulerConfig::new(framework())
        .content_type(content_type)
        .credential("principal", "secret");
    let (scheduler, events) =
        Scheduler::with_channel(runtime.handle(), config, detector(&master_rt));

    assert_eq!(next(&events), SchedulerEvent::Connected);
    let subscribed = next_event(&events, event::Type::Subscribed)
        .subscribed
        .unwrap();
    assert_eq!(subscribed.framework_id.value, "master-0000");
    assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
    next_event(&events, event::Type::Heartbeat);
    assert_eq!(scheduler.state().get().unwrap(), State::Subscribed);
    assert_eq!(
        scheduler.framework_id().get().unwrap().unwrap().value,
        "master-0000"
    );

    // SUBSCRIBE went out in the chosen encoding, asking for events in it, without a stream id.
    let subscribe = with(&master, |m| m.calls[0].clone());
    assert_eq!(subscribe.content_type, content_type);
    assert_eq!(subscribe.accept.as_deref(), Some(content_type.as_str()));
    assert_eq!(subscribe.stream_id, None);
    assert_eq!(
        subscribe.authorization.as_deref(),
        Some("Basic cHJpbmNpcGFsOnNlY3JldA==")
    );
    let info = subscribe.call.subscribe.unwrap().framework_info;
    assert_eq!(info.name, "test-framework");
    assert_eq!(info.id, None);

    // Events the master pushes are decoded.
    with(&master, |m| m.push(&offers_event()));
    let offers = next_event(&events, event::Type::Offers).offers.unwrap();
    assert_eq!(offers.offers[0].id.value, "o1");

    // Calls carry the stream id and the framework id; the master's answer comes back.
    let response = scheduler
        .decline(vec![v1::OfferId { value: "o1".into() }], None)
        .get()
        .unwrap();
    assert_eq!(response.status, StatusCode::ACCEPTED);
    assert_eq!(
        scheduler.revive(vec![]).get().unwrap().status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        scheduler.suppress(vec!["*".into()]).get().unwrap().status,
        StatusCode::ACCEPTED
    );
    let status = v1::TaskStatus {
        task_id: v1::TaskId { value: "t1".into() },
        state: v1::TaskState::TaskRunning as i32,
        agent_id: Some(v1::AgentId { value: "a1".into() }),
        uuid: Some(vec![7; 16]),
        ..Default::default()
    };
    assert_eq!(
        scheduler
            .acknowledge(&status)
            .unwrap()
            .get()
            .unwrap()
            .status,
        StatusCode::ACCEPTED
    );
    let no_uuid = v1::TaskStatus {
        uuid: None,
        ..status.clone()
    };
    assert!(scheduler.acknowledge(&no_uuid).is_none());
    assert_eq!(
        scheduler.reconcile(vec![]).get().unwrap().status,
        StatusCode::ACCEPTED
    );
    let mut updated = framework();
    updated.id = Some(v1::FrameworkId {
        value: "master-0000".into(),
    });
    updated.name = "renamed".into();
    assert_eq!(
        scheduler
            .update_framework(updated, vec![])
            .get()
            .unwrap()
            .status,
        StatusCode::OK
    );

    let stream_id = with(&master, |m| m.stream_id.clone()).unwrap();
    let calls = with(&master, |m| m.calls.clone());
    assert_eq!(calls.len(), 7);
    for received in &calls[1..] {
        assert_eq!(received.stream_id.as_deref(), Some(&*stream_id));
        assert_eq!(received.content_type, content_type);
        assert_eq!(
            received.call.framework_id.as_ref().unwrap().value,
            "master-0000"
        );
    }
    let decline = calls[1].call.decline.clone().unwrap();
    assert_eq!(decline.offer_ids[0].value, "o1");
    let ack = calls[4].call.acknowledge.clone().unwrap();
    assert_eq!(ack.uuid, vec![7; 16]);
    assert_eq!(ack.agent_id.value, "a1");

    scheduler.stop().get().unwrap();
}

#[test]
fn subscribes_and_calls_json() {
    subscribe_and_call(ContentType::Json);
}

#[test]
fn subscribes_and_calls_protobuf() {
    subscribe_and_call(ContentType::Protobuf);
}

#[test]
fn calls_before_subscription_fail() {
    let (master_rt, master) = fake_master::start(FakeMaster {
        unavailable: true,
        ..FakeMaster::new()
    });
    let runtime = Runtime::new();
    runtime.handle().clock().pause();
    let (scheduler, _events) = Scheduler::with_channel(
        runtime.handle(),
        SchedulerConfig::new(framework()),
        detector(&master_rt),
    );
    wait_until(&master, "a SUBSCRIBE", |m| !m.calls.is_empty());
    let error = scheduler.revive(vec![]).get().unwrap_err();
    assert!(error.to_string().contains("not subscribed"), "{error}");
    let subscribe = v1::scheduler::Call {
        r#type: Some(call::Type::Subscribe as i32),
        ..Default::default()
    };
    assert!(scheduler.send(subscribe).get().is_err());
    scheduler.stop().get().unwrap();
}

#[test]
fn follows_a_redirect_to_the_leader() {
    let (leader_rt, leader) = fake_master::start(FakeMaster::new());
    let location = format!("//{}/api/v1/scheduler", leader_rt.handle().address());
    let (follower_rt, follower) = fake_master::start(FakeMaster {
        redirect_to: Some(location),
        ..FakeMaster::new()
    });
    let runtime = Runtime::new();
    let (scheduler, events) = Scheduler::with_channel(
        runtime.handle(),
        SchedulerConfig::new(framework()).content_type(ContentType::Json),
        detector(&follower_rt),
    );
    next_event(&events, event::Type::Subscribed);
    assert_eq!(
        with(&follower, |m| m.calls.len()),
        0,
        "redirected before routing"
    );
    assert_eq!(
        with(&leader, |m| m.calls_of(call::Type::Subscribe).len()),
        1
    );
    // Calls go to the leader too.
    assert_eq!(
        scheduler.revive(vec![]).get().unwrap().status,
        StatusCode::ACCEPTED
    );
    assert_eq!(with(&leader, |m| m.calls_of(call::Type::Revive).len()), 1);
    scheduler.stop().get().unwrap();
}

#[test]
fn resubscribes_after_the_stream_drops() {
    let (master_rt, master) = fake_master::start(FakeMaster::new());
    let runtime = Runtime::new();
    runtime.handle().clock().pause();
    let (scheduler, events) = Scheduler::with_channel(
        runtime.handle(),
        SchedulerConfig::new(framework()).backoff(Duration::from_secs(1), Duration::from_secs(4)),
        detector(&master_rt),
    );
    next_event(&events, event::Type::Subscribed);
    next_event(&events, event::Type::Heartbeat);
    let first_stream = with(&master, |m| m.stream_id.clone()).unwrap();

    with(&master, |m| m.close_stream());
    assert_eq!(next(&events), SchedulerEvent::Disconnected);
    assert!(
        scheduler.revive(vec![]).get().is_err(),
        "not subscribed now"
    );
    // The reconnection waits its backoff (at most the first ceiling, 1 s).
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(with(&master, |m| m.streams_opened), 1);
    runtime.handle().clock().advance(Duration::from_secs(1));
    assert_eq!(next(&events), SchedulerEvent::Connected);
    next_event(&events, event::Type::Subscribed);

    // The second subscription is a failover of the framework the master named.
    let subscribes = with(&master, |m| m.calls_of(call::Type::Subscribe));
    assert_eq!(subscribes.len(), 2);
    let again = &subscribes[1].call;
    assert_eq!(again.framework_id.as_ref().unwrap().value, "master-0000");
    assert_eq!(
        again.subscribe.as_ref().unwrap().framework_info.id,
        again.framework_id
    );
    // Calls now carry the new stream id.
    assert_eq!(
        scheduler.revive(vec![]).get().unwrap().status,
        StatusCode::ACCEPTED
    );
    let revive = with(&master, |m| m.calls_of(call::Type::Revive))[0].clone();
    let second_stream = with(&master, |m| m.stream_id.clone()).unwrap();
    assert_ne!(first_stream, second_stream);
    assert_eq!(revive.stream_id, Some(second_stream));
    scheduler.stop().get().unwrap();
}

#[test]
fn reconnects_when_heartbeats_stop() {
    let (master_rt, master) = fake_master::start(FakeMaster {
        heartbeat_interval_seconds: 2.0,
        ..FakeMaster::new()
    });
    let runtime = Runtime::new();
    runtime.handle().clock().pause();
    let (scheduler, events) = Scheduler::with_channel(
        runtime.handle(),
        SchedulerConfig::new(framework())
            .heartbeat_timeout_factor(3.0)
            .backoff(Duration::from_secs(1), Duration::from_secs(1)),
        detector(&master_rt),
    );
    next_event(&events, event::Type::Heartbeat);

    // A heartbeat within the timeout (6 s) keeps the subscription...
    runtime.handle().clock().settle();
    runtime.handle().clock().advance(Duration::from_secs(5));
    with(&master, |m| m.push(&fake_master::heartbeat()));
    next_event(&events, event::Type::Heartbeat);
    runtime.handle().clock().settle();
    runtime.handle().clock().advance(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(50));
    assert!(events.try_recv().is_err());
    assert_eq!(scheduler.state().get().unwrap(), State::Subscribed);
    // ...silence past it does not.
    runtime.handle().clock().advance(Duration::from_secs(1));
    assert_eq!(next(&events), SchedulerEvent::Disconnected);
    runtime.handle().clock().settle();
    runtime.handle().clock().advance(Duration::from_secs(1));
    next_event(&events, event::Type::Subscribed);
    assert_eq!(with(&master, |m| m.streams_opened), 2);
    scheduler.stop().get().unwrap();
}

#[test]
fn retries_while_the_master_is_unavailable() {
    let (master_rt, master) = fake_master::start(FakeMaster {
        unavailable: true,
        ..FakeMaster::new()
    });
    let runtime = Runtime::new();
    runtime.handle().clock().pause();
    let (scheduler, events) = Scheduler::with_channel(
        runtime.handle(),
        SchedulerConfig::new(framework()).backoff(Duration::from_secs(1), Duration::from_secs(2)),
        detector(&master_rt),
    );
    wait_until(&master, "a SUBSCRIBE", |m| m.calls.len() == 1);
    assert_eq!(next(&events), SchedulerEvent::Connected);
    assert_eq!(next(&events), SchedulerEvent::Disconnected);
    runtime.handle().clock().settle();
    with(&master, |m| m.unavailable = false);
    runtime.handle().clock().advance(Duration::from_secs(2));
    next_event(&events, event::Type::Subscribed);
    assert_eq!(
        with(&master, |m| m.calls_of(call::Type::Subscribe).len()),
        2
    );
    scheduler.stop().get().unwrap();
}

#[test]
fn teardown_stops_reconnection() {
    let (master_rt, master) = fake_master::start(FakeMaster::new());
    let runtime = Runtime::new();
    runtime.handle().clock().pause();
    let (scheduler, events) = Scheduler::with_channel(
        runtime.handle(),
        SchedulerConfig::new(framework()).backoff(Duration::from_secs(1), Duration::from_secs(1)),
        detector(&master_rt),
    );
    next_event(&events, event::Type::Subscribed);
    next_event(&events, event::Type::Heartbeat);
    assert_eq!(
        scheduler.teardown().get().unwrap().status,
        StatusCode::ACCEPTED
    );
    // The state is updated by the same process that answers, after the answer.
    assert_eq!(scheduler.state().get().unwrap(), State::Subscribed);
    with(&master, |m| m.close_stream());
    assert_eq!(next(&events), SchedulerEvent::Disconnected);
    runtime.handle().clock().advance(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(with(&master, |m| m.streams_opened), 1);
    assert_eq!(scheduler.state().get().unwrap(), State::Disconnected);
    scheduler.stop().get().unwrap();
}

/// A detector whose leader the test changes, as a ZooKeeper detector would see elections.
struct Elections {
    leader: Mutex<String>,
    watches: Mutex<Vec<(String, Promise<Option<String>>)>>,
}

impl Elections {
    fn elect(&self, leader: String) {
        *self.leader.lock().unwrap() = leader.clone();
        for (previous, watch) in self.watches.lock().unwrap().drain(..) {
            if previous != leader {
                watch.set(Some(leader.clone()));
            }
        }
    }
}

impl MasterDetector for Elections {
    fn detect(&self, previous: Option<&str>) -> Future<Option<String>> {
        let leader = self.leader.lock().unwrap().clone();
        if previous == Some(leader.as_str()) {
            let watch = Promise::new();
            let future = watch.future();
            self.watches.lock().unwrap().push((leader, watch));
            future
        } else {
            Future::ready(Some(leader))
        }
    }
}

#[test]
fn a_new_leader_from_the_detector_means_a_new_subscription() {
    let (first_rt, first) = fake_master::start(FakeMaster::new());
    let (second_rt, second) = fake_master::start(FakeMaster::new());
    let elections = std::sync::Arc::new(Elections {
        leader: Mutex::new(first_rt.handle().address().to_string()),
        watches: Mutex::new(Vec::new()),
    });
    let runtime = Runtime::new();
    runtime.handle().clock().pause();
    let (scheduler, events) = Scheduler::with_channel(
        runtime.handle(),
        SchedulerConfig::new(framework()).backoff(Duration::from_secs(1), Duration::from_secs(1)),
        elections.clone(),
    );
    next_event(&events, event::Type::Subscribed);
    next_event(&events, event::Type::Heartbeat);

    elections.elect(second_rt.handle().address().to_string());
    assert_eq!(next(&events), SchedulerEvent::Disconnected);
    runtime.handle().clock().settle();
    runtime.handle().clock().advance(Duration::from_secs(1));
    next_event(&events, event::Type::Subscribed);
    assert_eq!(with(&first, |m| m.calls_of(call::Type::Subscribe).len()), 1);
    let resubscribe = with(&second, |m| m.calls_of(call::Type::Subscribe));
    assert_eq!(resubscribe.len(), 1);
    assert_eq!(
        resubscribe[0].call.framework_id.as_ref().unwrap().value,
        "master-0000",
        "a failover of the same framework"
    );
    assert_eq!(
        scheduler.revive(vec![]).get().unwrap().status,
        StatusCode::ACCEPTED
    );
    assert_eq!(with(&second, |m| m.calls_of(call::Type::Revive).len()), 1);
    scheduler.stop().get().unwrap();
}

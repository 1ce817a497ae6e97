//! The operator event stream (`SUBSCRIBE` on `/api/v1`): SUBSCRIBED with the state, then
//! events as agents come and go, frameworks subscribe and leave, tasks launch and change,
//! and HEARTBEATs on the (virtual) clock; in JSON and protobuf.

mod master_support;
mod operator_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use libprocess::http::client::{self, ClientRequest};
use libprocess::http::{Body, PipeReader, StatusCode};
use master_support::*;
use mesos_core::v1::master::call::Type;
use mesos_core::v1::master::event::Type as EventType;
use mesos_core::{internal, v0, v1};
use operator_support::*;
use prost::Message as _;

/// An operator subscription read on a thread.
struct Subscription {
    events: Arc<Mutex<Vec<v1::master::Event>>>,
    reader: PipeReader,
}

impl Subscription {
    fn open(cluster: &Cluster, encoding: Encoding) -> Subscription {
        let call = operator_call(Type::Subscribe, |_| {});
        let body = match encoding {
            Encoding::Json => mesos_core::json::to_string(&call).into_bytes(),
            Encoding::Protobuf => call.encode_to_vec(),
        };
        let request = ClientRequest::post(&format!("http://{}/api/v1", cluster.address))
            .unwrap()
            .header("Accept", encoding.media_type())
            .unwrap()
            .body(encoding.media_type(), body);
        let response = client::streaming(request).get().expect("an answer");
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("content-type"), Some(encoding.media_type()));
        let Body::Stream(reader) = response.body else {
            panic!("SUBSCRIBE answers a stream");
        };
        let events = Arc::new(Mutex::new(Vec::new()));
        {
            let (reader, events) = (reader.clone(), events.clone());
            std::thread::spawn(move || {
                let mut decoder = stout::recordio::Decoder::new();
                while let Ok(Some(chunk)) = reader.read().get() {
                    for record in decoder.decode(&chunk).expect("RecordIO") {
                        let event: v1::master::Event = match encoding {
                            Encoding::Json => {
                                let text = std::str::from_utf8(&record).unwrap();
                                assert!(!text.contains('\n'), "JSON records are one line");
                                mesos_core::json::from_str(text).unwrap()
                            }
                            Encoding::Protobuf => v1::master::Event::decode(&record[..]).unwrap(),
                        };
                        events.lock().unwrap().push(event);
                    }
                }
            });
        }
        let subscription = Subscription { events, reader };
        subscription.wait(EventType::Subscribed, 1);
        subscription
    }

    fn of(&self, kind: EventType) -> Vec<v1::master::Event> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.r#type() == kind)
            .cloned()
            .collect()
    }

    fn wait(&self, kind: EventType, n: usize) -> Vec<v1::master::Event> {
        wait_until(&format!("{n} {kind:?}"), || self.of(kind).len() >= n);
        self.of(kind)
    }

    fn kinds(&self) -> Vec<EventType> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.r#type())
            .collect()
    }
}

#[test]
fn events_follow_agents_frameworks_and_tasks() {
    for encoding in [Encoding::Json, Encoding::Protobuf] {
        let cluster = Cluster::new(|_| {});
        let early = cluster.agent("early", "cpus:1;mem:128");
        early.register();
        cluster.settle();

        let subscription = Subscription::open(&cluster, encoding);
        let subscribed = subscription.of(EventType::Subscribed)[0]
            .subscribed
            .clone()
            .unwrap();
        assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
        let state = subscribed.get_state.unwrap();
        let agents = state.get_agents.unwrap().agents;
        assert_eq!(agents.len(), 1);
        assert_eq!(agents[0].agent_info.hostname, "early");
        assert_eq!(
            cluster.inspect(|m| m.operator_events.len()),
            1,
            "one subscriber"
        );

        // An agent registers.
        let running = Running::start_with(cluster, 0);
        let added = subscription.wait(EventType::AgentAdded, 1);
        let agent = added[0].agent_added.clone().unwrap().agent;
        assert_eq!(agent.agent_info.hostname, "host1");
        assert_eq!(
            agent.agent_info.id.unwrap().value,
            running.agent.agent_id().unwrap()
        );
        // A framework subscribed.
        let framework = subscription.wait(EventType::FrameworkAdded, 1)[0]
            .framework_added
            .clone()
            .unwrap()
            .framework;
        assert_eq!(framework.framework_info.name, "fw");
        assert!(framework.connected);

        // A task launches and runs.
        running.launch(1);
        let task = subscription.wait(EventType::TaskAdded, 1)[0]
            .task_added
            .clone()
            .unwrap()
            .task;
        assert_eq!(task.task_id.value, "t0");
        assert_eq!(task.state(), v1::TaskState::TaskStaging);
        let updated = subscription.wait(EventType::TaskUpdated, 1)[0]
            .task_updated
            .clone()
            .unwrap();
        assert_eq!(updated.framework_id.value, running.scheduler.framework_id);
        assert_eq!(updated.state(), v1::TaskState::TaskRunning);
        assert_eq!(updated.status.task_id.value, "t0");
        assert_eq!(updated.status.state(), v1::TaskState::TaskRunning);

        // The task finishes.
        status_update_at(
            &running.agent,
            &running.scheduler.framework_id,
            "t0",
            v0::TaskState::TaskFinished,
            200.0,
        );
        let updates = subscription.wait(EventType::TaskUpdated, 2);
        let finished = updates[1].task_updated.clone().unwrap();
        assert_eq!(finished.state(), v1::TaskState::TaskFinished);

        // HEARTBEAT every 15 seconds.
        running.cluster.advance(Duration::from_secs(15));
        subscription.wait(EventType::Heartbeat, 1);

        // The agent unregisters: AGENT_REMOVED.
        running.agent.send(internal::UnregisterSlaveMessage {
            slave_id: v0::SlaveId {
                value: running.agent.agent_id().unwrap(),
            },
        });
        let removed = subscription.wait(EventType::AgentRemoved, 1)[0]
            .agent_removed
            .clone()
            .unwrap();
        assert_eq!(removed.agent_id.value, running.agent.agent_id().unwrap());

        // The framework is torn down: FRAMEWORK_REMOVED.
        let teardown = operator_call(Type::Teardown, |c| {
            c.teardown = Some(v1::master::call::Teardown {
                framework_id: running.scheduler.framework_id(),
            })
        });
        let response = operator_support::call(&running.cluster, Encoding::Json, &teardown);
        assert_eq!(response.status, StatusCode::OK);
        let removed = subscription.wait(EventType::FrameworkRemoved, 1)[0]
            .framework_removed
            .clone()
            .unwrap();
        assert_eq!(
            removed.framework_info.id.unwrap().value,
            running.scheduler.framework_id
        );
        // SUBSCRIBED came first, and nothing was sent twice.
        let kinds = subscription.kinds();
        assert_eq!(kinds[0], EventType::Subscribed);
        assert_eq!(subscription.of(EventType::TaskAdded).len(), 1);
        assert_eq!(subscription.of(EventType::AgentAdded).len(), 1);

        // The operator goes away: the master forgets the stream.
        subscription.reader.close();
        wait_until("the subscriber dropped", || {
            running.cluster.inspect(|m| m.operator_events.len()) == 0
        });
    }
}

#[test]
fn subscribers_are_limited() {
    let cluster = Cluster::new(|flags| flags.max_operator_event_stream_subscribers = 1);
    let _first = Subscription::open(&cluster, Encoding::Json);
    let call = operator_call(Type::Subscribe, |_| {});
    let response = operator_support::call(&cluster, Encoding::Json, &call);
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(cluster.inspect(|m| m.operator_events.len()), 1);
}

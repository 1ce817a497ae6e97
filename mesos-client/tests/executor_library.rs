//! The v1 executor library against a fake agent over real HTTP: subscription, events in both
//! content types, calls, acknowledgements, reconnection with checkpointing, shutdown without.

#[path = "support/fake_agent.rs"]
mod fake_agent;

use std::sync::mpsc::Receiver;
use std::time::Duration;

use fake_agent::{SubscribeAnswer, launch, wait_until, with};
use libprocess::Runtime;
use mesos_client::ContentType;
use mesos_client::executor::{Executor, ExecutorConfig, ExecutorEvent, State};
use mesos_core::v1;
use mesos_core::v1::executor::{Event, call, event};

fn config(agent: &Runtime, checkpoint: bool) -> ExecutorConfig {
    let mut vars = vec![
        ("MESOS_FRAMEWORK_ID".to_string(), "fw-1".to_string()),
        ("MESOS_EXECUTOR_ID".to_string(), "ex-1".to_string()),
        ("MESOS_SLAVE_ID".to_string(), "agent-1".to_string()),
        (
            "MESOS_AGENT_ENDPOINT".to_string(),
            agent.handle().address().to_string(),
        ),
        (
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".to_string(),
            "5secs".to_string(),
        ),
        ("MESOS_LOCAL".to_string(), "1".to_string()),
    ];
    if checkpoint {
        vars.push(("MESOS_CHECKPOINT".to_string(), "1".to_string()));
        vars.push(("MESOS_RECOVERY_TIMEOUT".to_string(), "1mins".to_string()));
        vars.push((
            "MESOS_SUBSCRIPTION_BACKOFF_MAX".to_string(),
            "2secs".to_string(),
        ));
    }
    ExecutorConfig::from_vars(vars).unwrap()
}

fn next(events: &Receiver<ExecutorEvent>) -> ExecutorEvent {
    events
        .recv_timeout(Duration::from_secs(20))
        .expect("an event from the executor library")
}

fn next_event(events: &Receiver<ExecutorEvent>, kind: event::Type) -> Event {
    loop {
        match next(events) {
            ExecutorEvent::Event(e) if e.r#type == Some(kind as i32) => return *e,
            ExecutorEvent::Event(e) if e.r#type == Some(event::Type::Error as i32) => {
                panic!("error event: {e:?}")
            }
            _ => {}
        }
    }
}

fn task(id: &str) -> v1::TaskInfo {
    fake_agent::command_task(id, fake_agent::shell("true"))
}

fn status(task_id: &str, state: v1::TaskState) -> v1::TaskStatus {
    v1::TaskStatus {
        task_id: v1::TaskId {
            value: task_id.into(),
        },
        state: state as i32,
        ..Default::default()
    }
}

fn subscribe_and_launch(content_type: ContentType) {
    let (agent_rt, agent) = fake_agent::start();
    with(&agent, |a| a.on_subscribe = vec![launch(task("t1"))]);
    let runtime = Runtime::new();
    let config = config(&agent_rt, false).with_content_type(content_type);
    let (executor, events) = Executor::with_channel(runtime.handle(), config);

    assert_eq!(next(&events), ExecutorEvent::Connected);
    let subscribed = next_event(&events, event::Type::Subscribed);
    let subscribed = subscribed.subscribed.unwrap();
    assert_eq!(subscribed.executor_info.executor_id.value, "ex-1");
    assert_eq!(subscribed.framework_info.id.unwrap().value, "fw-1");
    let launched = next_event(&events, event::Type::Launch);
    assert_eq!(launched.launch.unwrap().task.task_id.value, "t1");
    assert_eq!(executor.state().get().unwrap(), State::Subscribed);

    // The subscription went out in the chosen encoding, asking for events in it.
    let first = with(&agent, |a| a.calls[0].clone());
    assert_eq!(first.content_type, content_type);
    assert_eq!(first.accept.as_deref(), Some(content_type.as_str()));
    assert_eq!(first.call.r#type, Some(call::Type::Subscribe as i32));
    assert_eq!(first.call.executor_id.value, "ex-1");
    assert_eq!(first.call.framework_id.value, "fw-1");

    // An update is filled in, accepted, and forgotten once acknowledged.
    executor
        .update(status("t1", v1::TaskState::TaskRunning))
        .get()
        .expect("202 for UPDATE");
    let acked = next_event(&events, event::Type::Acknowledged);
    let updates = with(&agent, |a| a.calls_of(call::Type::Update));
    assert_eq!(updates.len(), 1);
    let sent = updates[0].update.clone().unwrap().status;
    assert_eq!(sent.uuid.as_ref().map(Vec::len), Some(16));
    assert_eq!(acked.acknowledged.unwrap().uuid, sent.uuid.clone().unwrap());
    assert_eq!(sent.source, Some(v1::task_status::Source::Executor as i32));
    assert_eq!(sent.executor_id.unwrap().value, "ex-1");
    assert!(sent.timestamp.unwrap() > 1.0e9);
    assert!(executor.unacknowledged_updates().get().unwrap().is_empty());

    // A message is accepted; a refused call fails with the agent's answer.
    executor.message(b"hello".to_vec()).get().expect("202");
    let refused = executor
        .send(v1::executor::Call {
            r#type: Some(call::Type::Message as i32),
            ..Default::default()
        })
        .get();
    assert!(refused.is_err());

    executor.stop().get().unwrap();
}

#[test]
fn subscribes_and_receives_events_json() {
    subscribe_and_launch(ContentType::Json);
}

#[test]
fn subscribes_and_receives_events_protobuf() {
    subscribe_and_launch(ContentType::Protobuf);
}

#[test]
fn refused_calls_fail_with_the_agents_answer() {
    let (agent_rt, agent) = fake_agent::start();
    let runtime = Runtime::new();
    let (executor, events) = Executor::with_channel(runtime.handle(), config(&agent_rt, false));
    next_event(&events, event::Type::Subscribed);

    // Calls the library can tell are wrong do not leave.
    let no_body = v1::executor::Call {
        r#type: Some(call::Type::Message as i32),
        ..Default::default()
    };
    let error = executor.send(no_body).get().unwrap_err();
    assert!(error.to_string().contains("needs 'message'"), "{error}");
    let subscribe = v1::executor::Call {
        r#type: Some(call::Type::Subscribe as i32),
        ..Default::default()
    };
    assert!(executor.send(subscribe).get().is_err());
    assert_eq!(
        with(&agent, |a| a.calls.len()),
        1,
        "only the library's SUBSCRIBE"
    );

    // What the agent refuses fails with its answer.
    with(&agent, |a| a.refuse_messages = true);
    let error = executor.message(b"hi".to_vec()).get().unwrap_err();
    assert!(error.to_string().contains("403"), "{error}");
    assert!(
        error.to_string().contains("Executor is not subscribed"),
        "{error}"
    );
    executor.stop().get().unwrap();
}

#[test]
fn without_checkpointing_a_lost_agent_means_shutdown() {
    let (agent_rt, agent) = fake_agent::start();
    let runtime = Runtime::new();
    let (executor, events) = Executor::with_channel(runtime.handle(), config(&agent_rt, false));
    next_event(&events, event::Type::Subscribed);

    with(&agent, |a| a.close_stream());
    assert_eq!(next(&events), ExecutorEvent::Disconnected);
    next_event(&events, event::Type::Shutdown);
    assert_eq!(executor.state().get().unwrap(), State::Disconnected);
    // It does not come back.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(with(&agent, |a| a.calls_of(call::Type::Subscribe).len()), 1);
    executor.stop().get().unwrap();
}

#[test]
fn with_checkpointing_it_resubscribes_with_what_was_not_acknowledged() {
    let (agent_rt, agent) = fake_agent::start();
    with(&agent, |a| {
        a.auto_ack = false;
        a.on_subscribe = vec![launch(task("t1"))];
    });
    let runtime = Runtime::new();
    runtime.handle().clock().pause();
    let (executor, events) = Executor::with_channel(runtime.handle(), config(&agent_rt, true));
    next_event(&events, event::Type::Launch);
    executor
        .update(status("t1", v1::TaskState::TaskRunning))
        .get()
        .unwrap();
    let sent = with(&agent, |a| a.calls_of(call::Type::Update))[0]
        .update
        .clone()
        .unwrap();

    // The agent "restarts": the stream ends and it refuses subscriptions for a while.
    with(&agent, |a| {
        a.on_subscribe.clear();
        a.subscribe_answer = SubscribeAnswer::Unavailable;
        a.close_stream();
    });
    assert_eq!(next(&events), ExecutorEvent::Disconnected);
    // An update made meanwhile is kept for the next subscription.
    executor
        .update(status("t1", v1::TaskState::TaskFinished))
        .get()
        .expect("queued");
    // The first reconnection is immediate; its SUBSCRIBE gets a 503.
    assert_eq!(next(&events), ExecutorEvent::Connected);
    wait_until(&agent, "a second SUBSCRIBE", |a| {
        a.calls_of(call::Type::Subscribe).len() == 2
    });
    with(&agent, |a| a.subscribe_answer = SubscribeAnswer::Stream);
    // Once the 503 is in (the library is back to connected, its retry timer set)...
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while executor.state().get().unwrap() != State::Connected {
        assert!(
            std::time::Instant::now() < deadline,
            "the 503 never came back"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    // ...the subscription is retried after a second of the (paused) clock.
    runtime.handle().clock().advance(Duration::from_secs(1));
    next_event(&events, event::Type::Subscribed);

    let subscribes = with(&agent, |a| a.calls_of(call::Type::Subscribe));
    assert_eq!(subscribes.len(), 3);
    let resubscribe = subscribes[2].subscribe.clone().unwrap();
    assert_eq!(resubscribe.unacknowledged_tasks.len(), 1);
    assert_eq!(resubscribe.unacknowledged_tasks[0].task_id.value, "t1");
    assert_eq!(resubscribe.unacknowledged_updates.len(), 2);
    assert_eq!(resubscribe.unacknowledged_updates[0], sent);
    assert_eq!(
        resubscribe.unacknowledged_updates[1].status.state,
        v1::TaskState::TaskFinished as i32
    );

    // Acknowledgements make the library forget them.
    let acks: Vec<Event> = resubscribe
        .unacknowledged_updates
        .iter()
        .map(|u| fake_agent::acknowledged(&u.status))
        .collect();
    with(&agent, move |a| {
        for ack in &acks {
            a.push(ack);
        }
    });
    next_event(&events, event::Type::Acknowledged);
    next_event(&events, event::Type::Acknowledged);
    assert!(executor.unacknowledged_updates().get().unwrap().is_empty());
    executor.stop().get().unwrap();
}

#[test]
fn with_checkpointing_it_gives_up_after_the_recovery_timeout() {
    let (agent_rt, _agent) = fake_agent::start();
    let runtime = Runtime::new();
    runtime.handle().clock().pause();
    let (executor, events) = Executor::with_channel(runtime.handle(), config(&agent_rt, true));
    next_event(&events, event::Type::Subscribed);

    // The agent goes away for good: the stream breaks, connections are refused from now on.
    drop(agent_rt);
    assert_eq!(next(&events), ExecutorEvent::Disconnected);
    runtime.handle().clock().settle();

    // Backoff attempts (at most 2 s apart) go on until the recovery timeout, a minute.
    for _ in 0..59 {
        runtime.handle().clock().advance(Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(events.try_recv().is_err(), "nothing before the timeout");
    runtime.handle().clock().advance(Duration::from_secs(2));
    next_event(&events, event::Type::Shutdown);
    assert_eq!(executor.state().get().unwrap(), State::Disconnected);
    executor.stop().get().unwrap();
}

#[test]
fn an_agent_that_is_not_there_means_shutdown() {
    // Take a free port and close it again.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = ExecutorConfig::from_vars([
        ("MESOS_FRAMEWORK_ID", "fw-1"),
        ("MESOS_EXECUTOR_ID", "ex-1"),
        ("MESOS_AGENT_ENDPOINT", &*format!("127.0.0.1:{port}")),
        ("MESOS_LOCAL", "1"),
    ])
    .unwrap();
    let runtime = Runtime::new();
    let (executor, events) = Executor::with_channel(runtime.handle(), config);
    next_event(&events, event::Type::Shutdown);
    executor.stop().get().unwrap();
}

#[test]
fn an_update_made_while_subscribing_is_sent_once_subscribed() {
    let (agent_rt, agent) = fake_agent::start();
    with(&agent, |a| {
        a.hold_subscribe = true;
        a.on_subscribe = vec![launch(task("t1"))];
    });
    let runtime = Runtime::new();
    let (executor, events) = Executor::with_channel(runtime.handle(), config(&agent_rt, false));
    wait_until(&agent, "a SUBSCRIBE held", |a| a.is_holding());
    assert_eq!(executor.state().get().unwrap(), State::Subscribing);
    executor
        .update(status("t1", v1::TaskState::TaskRunning))
        .get()
        .expect("queued");
    with(&agent, |a| a.release());
    next_event(&events, event::Type::Subscribed);
    // Not in the SUBSCRIBE that was already out: sent as an UPDATE, then acknowledged.
    next_event(&events, event::Type::Acknowledged);
    let subscribe = with(&agent, |a| a.calls_of(call::Type::Subscribe))[0].clone();
    assert!(
        subscribe
            .subscribe
            .unwrap()
            .unacknowledged_updates
            .is_empty()
    );
    assert_eq!(with(&agent, |a| a.calls_of(call::Type::Update).len()), 1);
    assert!(executor.unacknowledged_updates().get().unwrap().is_empty());
    executor.stop().get().unwrap();
}

#[test]
fn calls_keep_their_order() {
    let (agent_rt, agent) = fake_agent::start();
    let runtime = Runtime::new();
    let (executor, events) = Executor::with_channel(runtime.handle(), config(&agent_rt, false));
    next_event(&events, event::Type::Subscribed);
    let answers: Vec<_> = (0..100_u32)
        .map(|i| executor.message(i.to_string().into_bytes()))
        .collect();
    for answer in answers {
        answer.get().expect("202");
    }
    let got: Vec<u32> = with(&agent, |a| {
        a.calls_of(call::Type::Message)
            .iter()
            .map(|c| {
                String::from_utf8(c.message.clone().unwrap().data)
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect()
    });
    assert_eq!(got, (0..100).collect::<Vec<u32>>());
    executor.stop().get().unwrap();
}

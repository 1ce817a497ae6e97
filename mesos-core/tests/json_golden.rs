//! Golden tests of the JSON mapping: documents shaped like the samples in the
//! Mesos HTTP API docs (`tests/data/*.json`, our own values and layout) are
//! parsed into the generated types, checked field by field, written back and
//! compared with the exact text Mesos would write (`tests/data/*.expected`:
//! declaration order, explicit defaults filled in, compact, ASCII-only).
//!
//! Run with `MESOS_CORE_BLESS=1` to (re)write the `.expected` files after a
//! deliberate change, then review the diff by hand.

use std::path::PathBuf;

use mesos_core::{json, v0, v1};
use prost::{Message, Name};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Parses `<name>.json` as `M`, checks that writing it gives
/// `<name>.expected`, and that parsing the written text gives `M` back.
fn golden<M: Message + Name + Default + PartialEq>(name: &str) -> M {
    let input = std::fs::read_to_string(data(&format!("{name}.json"))).unwrap();
    let message: M = json::from_str(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
    let written = json::to_string(&message);

    let expected_path = data(&format!("{name}.expected"));
    if std::env::var_os("MESOS_CORE_BLESS").is_some() {
        std::fs::write(&expected_path, format!("{written}\n")).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    assert_eq!(written, expected.trim_end(), "{name}: output differs");
    assert!(written.is_ascii() && !written.contains('\n'), "{name}");

    // Reading the output back and writing it again changes nothing (the
    // message itself may differ: printed defaults come back as set fields).
    let again: M = json::from_str(&written).unwrap();
    assert_eq!(json::to_string(&again), written, "{name}: re-parse differs");
    message
}

#[test]
fn scheduler_subscribe() {
    use v1::scheduler::call::Type;
    let call: v1::scheduler::Call = golden("scheduler_call_subscribe");
    assert_eq!(call.r#type(), Type::Subscribe);
    let info = &call.subscribe.as_ref().unwrap().framework_info;
    assert_eq!(info.user, "alice");
    assert_eq!(info.roles, ["analytics", "batch"]);
    assert_eq!(info.failover_timeout(), 100.0);
    assert_eq!(info.checkpoint, None);
    assert_eq!(
        info.capabilities[0].r#type(),
        v1::framework_info::capability::Type::MultiRole
    );
}

#[test]
fn scheduler_accept_with_limits_and_foreign_keys() {
    let call: v1::scheduler::Call = golden("scheduler_call_accept");
    let accept = call.accept.unwrap();
    let task = &accept.operations[0].launch.as_ref().unwrap().task_infos[0];
    assert_eq!(
        task.agent_id.value,
        "5b7c1f0e-aaaa-bbbb-cccc-000000000001-S3"
    );
    // A numeric string is a number; "Infinity" is infinite.
    assert_eq!(task.resources[1].scalar.unwrap().value, 256.0);
    assert_eq!(task.limits["cpus"].value, f64::INFINITY);
    assert_eq!(task.limits["mem"].value, 1024.0);
    assert_eq!(accept.filters.unwrap().refuse_seconds(), 10.0);
}

#[test]
fn limits_take_scalar_objects_only() {
    // The scheduler API docs show `"limits": {"cpus": "Infinity"}`, but
    // stout's parser wants a Value.Scalar object there and so do we.
    let err = json::from_str::<v1::TaskInfo>(
        r#"{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},
            "limits":{"cpus":"Infinity"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "field 'limits.cpus': not expecting a JSON string"
    );
}

#[test]
fn required_field_with_default_must_still_be_present() {
    // MasterInfo.port is `required` with `[default = 5050]`: protobuf's
    // initialization check wants it on the wire all the same.
    let err = json::from_str::<v0::MasterInfo>(r#"{"id":"m","ip":1}"#).unwrap_err();
    assert_eq!(err.to_string(), "missing required fields: port");
}

#[test]
fn scheduler_acknowledge_decodes_base64_uuid() {
    let call: v1::scheduler::Call = golden("scheduler_call_acknowledge");
    let ack = call.acknowledge.unwrap();
    assert_eq!(ack.uuid.len(), 16);
    assert_eq!(&ack.uuid[..3], &[0x66, 0x44, 0x39]);
}

#[test]
fn scheduler_revive_without_body() {
    let call: v1::scheduler::Call = golden("scheduler_call_revive");
    assert_eq!(call.r#type(), v1::scheduler::call::Type::Revive);
    assert!(call.revive.is_none());
}

#[test]
fn scheduler_subscribed_event() {
    let event: v1::scheduler::Event = golden("scheduler_event_subscribed");
    let subscribed = event.subscribed.unwrap();
    assert_eq!(subscribed.heartbeat_interval_seconds(), 15.0);
    assert_eq!(subscribed.master_info.unwrap().ip, 16_777_343);
}

#[test]
fn scheduler_offers_event() {
    let event: v1::scheduler::Event = golden("scheduler_event_offers");
    let offer = &event.offers.unwrap().offers[0];
    assert_eq!(offer.resources.len(), 3);
    let ports = offer.resources[1].ranges.as_ref().unwrap();
    assert_eq!((ports.range[0].begin, ports.range[0].end), (31000, 32000));
    assert_eq!(offer.url.as_ref().unwrap().address.port, 5051);
}

#[test]
fn scheduler_update_event() {
    let event: v1::scheduler::Event = golden("scheduler_event_update");
    let status = event.update.unwrap().status;
    assert_eq!(status.state(), v1::TaskState::TaskRunning);
    assert_eq!(status.source(), v1::task_status::Source::Executor);
    assert_eq!(status.data.as_deref(), Some(&b"hello"[..]));
    assert_eq!(status.timestamp, Some(1_605_539_000.12));
}

#[test]
fn executor_update_call_with_non_ascii() {
    let call: v1::executor::Call = golden("executor_call_update");
    let status = call.update.unwrap().status;
    assert_eq!(status.message.as_deref(), Some("exit 0, café ✓"));
    assert_eq!(
        status.uuid.as_deref(),
        Some(&(0..16).collect::<Vec<u8>>()[..])
    );
}

#[test]
fn executor_subscribed_event() {
    let event: v1::executor::Event = golden("executor_event_subscribed");
    let subscribed = event.subscribed.unwrap();
    assert_eq!(subscribed.framework_info.checkpoint, Some(true));
    assert_eq!(subscribed.agent_info.port(), 5051);
}

#[test]
fn operator_get_agents_response() {
    let response: v1::master::Response = golden("master_response_get_agents");
    let agent = &response.get_agents.unwrap().agents[0];
    assert_eq!(
        agent.registered_time.unwrap().nanoseconds,
        1_605_539_000_123_456_789
    );
}

#[test]
fn v0_master_info_as_written_to_zookeeper() {
    let info: v0::MasterInfo = golden("v0_master_info");
    assert_eq!(info.port, 5050);
    assert_eq!(info.capabilities.len(), 3);
}

#[test]
fn defaults_are_printed_unless_deprecated() {
    let info = v1::FrameworkInfo {
        user: "u".into(),
        name: "n".into(),
        ..Default::default()
    };
    // failover_timeout and checkpoint have explicit defaults; the deprecated
    // role (default "*") is left out.
    assert_eq!(
        json::to_string(&info),
        r#"{"user":"u","name":"n","failover_timeout":0.0,"checkpoint":false}"#
    );
    let command = v1::CommandInfo::default();
    assert_eq!(json::to_string(&command), r#"{"shell":true}"#);
    let resource = v1::Resource {
        name: "cpus".into(),
        scalar: Some(v1::value::Scalar { value: 1.0 }),
        ..Default::default()
    };
    assert_eq!(
        json::to_string(&resource),
        r#"{"name":"cpus","type":"SCALAR","scalar":{"value":1.0}}"#
    );
}

#[test]
fn required_fields_are_enforced_with_their_path() {
    let err = json::from_str::<v1::scheduler::Call>(
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "missing required fields: subscribe.framework_info.user"
    );

    let err = json::from_str::<v1::scheduler::Call>(
        r#"{"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"a"}},{}]}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "missing required fields: reconcile.tasks[1].task_id"
    );
}

#[test]
fn enum_rules() {
    use v1::scheduler::Call;
    // A number is refused for an enum field.
    let err = json::from_str::<Call>(r#"{"type":1}"#).unwrap_err();
    assert_eq!(err.to_string(), "field 'type': not expecting a JSON number");
    // An unknown name leaves an optional enum unset...
    let call: Call = json::from_str(r#"{"type":"NO_SUCH_CALL"}"#).unwrap();
    assert_eq!(call.r#type, None);
    // ...but fails a required one.
    let err =
        json::from_str::<v1::TaskStatus>(r#"{"task_id":{"value":"t"},"state":"TASK_SLEEPING"}"#)
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "field 'state': failed to find enum for 'TASK_SLEEPING'"
    );
}

#[test]
fn value_kind_errors_name_the_field() {
    let err = json::from_str::<v1::TaskId>(r#"{"value":7}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field 'value': not expecting a JSON number"
    );
    let err = json::from_str::<v1::Filters>(r#"{"refuse_seconds":[1]}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field 'refuse_seconds': not expecting a JSON array"
    );
    let err = json::from_str::<v1::Filters>(r#"{"refuse_seconds":"soon"}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field 'refuse_seconds': failed to parse 'soon' as a JSON number"
    );
    let err = json::from_str::<v1::TaskStatus>(
        r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","uuid":"!!"}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("field 'uuid': failed to base64 decode")
    );
    assert!(matches!(
        json::from_str::<v1::TaskId>("[]"),
        Err(json::JsonError::NotAnObject)
    ));
    assert!(matches!(
        json::from_str::<v1::TaskId>("{"),
        Err(json::JsonError::Syntax(_))
    ));
}

#[test]
fn lenient_inputs_mesos_accepts() {
    // Nulls are unset fields, strings carry numbers and booleans, a single
    // value stands for a one-element repeated field.
    let info: v1::FrameworkInfo = json::from_str(
        r#"{"user":"u","name":"n","hostname":null,"failover_timeout":"2.5",
            "checkpoint":"true","roles":"solo"}"#,
    )
    .unwrap();
    assert_eq!(info.hostname, None);
    assert_eq!(info.failover_timeout, Some(2.5));
    assert_eq!(info.checkpoint, Some(true));
    assert_eq!(info.roles, ["solo"]);

    // Integers from fractional numbers truncate, as a C++ cast does.
    let time: v1::TimeInfo = json::from_str(r#"{"nanoseconds":12.9}"#).unwrap();
    assert_eq!(time.nanoseconds, 12);
    let time: v1::TimeInfo = json::from_str(r#"{"nanoseconds":"-5"}"#).unwrap();
    assert_eq!(time.nanoseconds, -5);
}

#[test]
fn full_names_match_the_libprocess_message_names() {
    assert_eq!(
        mesos_core::internal::RegisterSlaveMessage::full_name(),
        "mesos.internal.RegisterSlaveMessage"
    );
    assert_eq!(
        v1::scheduler::call::Subscribe::full_name(),
        "mesos.v1.scheduler.Call.Subscribe"
    );
    assert_eq!(
        mesos_core::registry::Registry::full_name(),
        "mesos.internal.Registry"
    );
    assert_eq!(v0::SlaveInfo::full_name(), "mesos.SlaveInfo");
}

#[test]
fn every_message_type_writes_and_reads_its_default() {
    // Walks the whole descriptor pool: every message writes its default
    // instance, and what it writes parses back (required fields aside).
    let pool = json::descriptor_pool();
    let mut count = 0;
    for desc in pool.all_messages() {
        if desc.is_map_entry() {
            continue;
        }
        let message = prost_reflect::DynamicMessage::new(desc.clone());
        let text = json::to_string_dynamic(&message);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        match json::from_value_dynamic(desc.clone(), &value) {
            Ok(parsed) => assert_eq!(json::to_string_dynamic(&parsed), text),
            Err(json::JsonError::MissingRequired { .. }) => {}
            Err(e) => panic!("{}: {e}", desc.full_name()),
        }
        count += 1;
    }
    assert!(count > 600, "only {count} message types");
}

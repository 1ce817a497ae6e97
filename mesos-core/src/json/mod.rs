//! JSON <-> protobuf, the way Mesos maps them (stout's `protobuf.hpp` and
//! `jsonify.hpp`), for every message type of [`crate::proto`].
//!
//! This is *not* proto3 canonical JSON. The rules, both directions:
//!
//! **Output** ([`to_string`]):
//! * keys are the field names as written in the `.proto` (snake_case), in
//!   declaration order;
//! * a singular field is printed when it is set, or when it is unset but
//!   declares an explicit, non-deprecated `[default = ...]` (then its default
//!   is printed: `FrameworkInfo.checkpoint: false`, `CommandInfo.shell: true`,
//!   `Filters.refuse_seconds: 5.0`, ...). `Resource.role` (deprecated default
//!   `"*"`) is printed only when set;
//! * repeated fields are arrays and are omitted when empty; maps are objects
//!   (keys sorted here; Mesos leaves their order unspecified);
//! * enums are their value names; an enum number the schema does not know is
//!   treated as unset, as proto2 does;
//! * `bytes` are base64 (standard alphabet, padded);
//! * 32- and 64-bit integers are JSON numbers; doubles are written like
//!   rapidjson writes them (`2.0`, `0.001`, `1e21`); infinities as the
//!   strings `"Infinity"` and `"-Infinity"` (Mesos patches its rapidjson to
//!   quote them), NaN as the bare token `NaN` (not valid JSON, as in Mesos);
//! * the document is compact (no whitespace, no raw newline) and ASCII-only:
//!   control characters and every non-ASCII character are `\uXXXX` escapes
//!   (surrogate pairs beyond the BMP). Mesos itself writes non-ASCII as raw
//!   UTF-8; escaping is equivalent JSON and keeps byte-counting clients
//!   (mesoshttp, avmesos) working.
//!
//! **Input** ([`from_str`], [`from_value`]):
//! * the document must be a JSON object; keys that name no field are ignored;
//!   `null` leaves a field unset;
//! * a message field takes an object; a map field takes an object whose keys
//!   are parsed like a string value of the key type;
//! * a repeated field takes an array, each element parsed as a value of the
//!   field; a single non-array value is appended as one element (stout does
//!   the same);
//! * an array for a singular field is an error;
//! * string fields take strings only; `bytes` take base64 (whitespace is
//!   skipped, decoding stops at the first `=`, padding is optional);
//! * enum fields take the value name only (a number is an error); an unknown
//!   name is an error for a `required` field and silently leaves an optional
//!   (or repeated) field unset, as proto2 does;
//! * numeric fields take JSON numbers, or strings holding a JSON number
//!   (`"42"`, `"1e3"`); `double`/`float` fields also take the strings
//!   `"Infinity"` and `"-Infinity"` (not `"NaN"`), so infinities round-trip.
//!   Integers convert like C++ casts: a fractional number is truncated, an
//!   out-of-range one saturates;
//! * bool fields take `true`/`false`, or the strings `"true"`/`"false"`;
//! * after parsing, every `required` field of the message and of its set
//!   sub-messages must be present, or [`JsonError::MissingRequired`] names
//!   them (`framework_info.user`, `tasks[0].task_id`).

mod base64;
mod emit;
mod parse;

use std::sync::OnceLock;

use prost::{Message, Name};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};

pub use base64::{decode as base64_decode, encode as base64_encode};

/// What can go wrong turning JSON into a protobuf message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not JSON at all.
    #[error("invalid JSON: {0}")]
    Syntax(#[source] serde_json::Error),
    /// The document (or a message-typed value) is not a JSON object.
    #[error("expecting a JSON object")]
    NotAnObject,
    /// A field has a value of the wrong kind or an unparsable value.
    #[error("field '{field}': {reason}")]
    Field {
        /// Path of the field from the top-level message, e.g. `tasks[0].data`.
        field: String,
        /// What was wrong with it.
        reason: String,
    },
    /// Required fields are missing.
    #[error("missing required fields: {}", .fields.join(", "))]
    MissingRequired {
        /// Paths of the missing fields, e.g. `framework_info.user`.
        fields: Vec<String>,
    },
    /// The type is not in our descriptor pool.
    #[error("unknown protobuf message type '{0}'")]
    UnknownType(String),
    /// The parsed message could not be re-decoded as the Rust type (a bug).
    #[error("failed to convert to the generated type: {0}")]
    Decode(#[source] prost::DecodeError),
}

/// The descriptors of every message in [`crate::proto`], decoded once.
pub fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(crate::proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set embedded by build.rs is valid")
    })
}

/// The descriptor of a message type by full name (`mesos.v1.TaskInfo`).
pub fn message_descriptor(full_name: &str) -> Result<MessageDescriptor, JsonError> {
    descriptor_pool()
        .get_message_by_name(full_name)
        .ok_or_else(|| JsonError::UnknownType(full_name.to_owned()))
}

/// Writes `message` as Mesos writes it: compact, ASCII-only JSON.
///
/// ```
/// use mesos_core::{json, v1};
/// let filters = v1::Filters::default();
/// assert_eq!(json::to_string(&filters), r#"{"refuse_seconds":5.0}"#);
/// ```
pub fn to_string<M: Message + Name>(message: &M) -> String {
    let desc = message_descriptor(&M::full_name())
        .expect("every generated message type is in the descriptor pool");
    let dynamic = DynamicMessage::decode(desc, message.encode_to_vec().as_slice())
        .expect("a message decodes with its own descriptor");
    let mut out = String::new();
    emit::write_message(&mut out, &dynamic, true);
    out
}

/// [`to_string`] for a message known only by its descriptor. Unset
/// `required` fields are left out, as protobuf's C++ reflection does.
pub fn to_string_dynamic(message: &DynamicMessage) -> String {
    let mut out = String::new();
    emit::write_message(&mut out, message, false);
    out
}

/// Parses `text` as Mesos would parse it into an `M` (rules in the module
/// docs).
///
/// ```
/// use mesos_core::{json, v1};
/// let id: v1::TaskId = json::from_str(r#"{"value":"t-1","extra":0}"#).unwrap();
/// assert_eq!(id.value, "t-1");
/// assert!(json::from_str::<v1::TaskId>("{}").is_err());
/// ```
pub fn from_str<M: Message + Name + Default>(text: &str) -> Result<M, JsonError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(JsonError::Syntax)?;
    from_value(&value)
}

/// [`from_str`] from an already parsed JSON value.
pub fn from_value<M: Message + Name + Default>(value: &serde_json::Value) -> Result<M, JsonError> {
    let desc = message_descriptor(&M::full_name())?;
    let dynamic = from_value_dynamic(desc, value)?;
    M::decode(dynamic.encode_to_vec().as_slice()).map_err(JsonError::Decode)
}

/// [`from_value`] for a message known only by its descriptor.
pub fn from_value_dynamic(
    desc: MessageDescriptor,
    value: &serde_json::Value,
) -> Result<DynamicMessage, JsonError> {
    let object = value.as_object().ok_or(JsonError::NotAnObject)?;
    let message = parse::parse_message(desc, object, "")?;
    let mut missing = Vec::new();
    parse::missing_required(&message, "", &mut missing);
    if missing.is_empty() {
        Ok(message)
    } else {
        Err(JsonError::MissingRequired { fields: missing })
    }
}

//! The JSON reader: a JSON value to a protobuf message by reflection, with
//! the leniencies of stout's `protobuf::parse` (see the module docs of
//! [`crate::json`] for the rules).

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};
use serde_json::{Map, Number, Value as Json};

use super::{JsonError, base64};

/// Parses `object` into a new message of type `desc`. `path` names the
/// message in errors (`""` at the top).
pub(super) fn parse_message(
    desc: MessageDescriptor,
    object: &Map<String, Json>,
    path: &str,
) -> Result<DynamicMessage, JsonError> {
    let mut message = DynamicMessage::new(desc);
    merge_object(&mut message, object, path)?;
    Ok(message)
}

fn merge_object(
    message: &mut DynamicMessage,
    object: &Map<String, Json>,
    path: &str,
) -> Result<(), JsonError> {
    let desc = message.descriptor();
    for (name, json) in object {
        // Unknown keys are ignored, as Mesos does.
        if let Some(field) = desc.get_field_by_name(name) {
            let field_path = join(path, name);
            apply(message, &field, json, &field_path)?;
        }
    }
    Ok(())
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn field_error(path: &str, reason: impl Into<String>) -> JsonError {
    JsonError::Field {
        field: path.to_owned(),
        reason: reason.into(),
    }
}

/// Applies one JSON value to `field`: sets a singular field, appends to a
/// repeated one, inserts into a map.
fn apply(
    message: &mut DynamicMessage,
    field: &FieldDescriptor,
    json: &Json,
    path: &str,
) -> Result<(), JsonError> {
    match json {
        Json::Null => Ok(()),
        Json::Array(items) => {
            if !field.is_list() && !field.is_map() {
                return Err(field_error(path, "not expecting a JSON array"));
            }
            for (i, item) in items.iter().enumerate() {
                apply(message, field, item, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Json::Object(object) if field.is_map() => {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("map fields have an entry message")
            };
            let key_field = entry.map_entry_key_field();
            let value_field = entry.map_entry_value_field();
            for (key, item) in object {
                let item_path = format!("{path}.{key}");
                let Some(key) = scalar(&key_field, &Json::String(key.clone()), &item_path)? else {
                    continue;
                };
                let Some(value) = scalar(&value_field, item, &item_path)? else {
                    continue;
                };
                let key = map_key(key);
                let Value::Map(map) = message.get_field_mut(field) else {
                    unreachable!("a map field holds a map")
                };
                map.insert(key, value);
            }
            Ok(())
        }
        _ => {
            let Some(value) = scalar(field, json, path)? else {
                return Ok(());
            };
            if field.is_list() {
                let Value::List(list) = message.get_field_mut(field) else {
                    unreachable!("a repeated field holds a list")
                };
                list.push(value);
            } else {
                message.set_field(field, value);
            }
            Ok(())
        }
    }
}

/// Converts one non-array JSON value to a value of `field`'s type. `None`
/// means "leave unset" (an unknown enum name on a non-required field).
fn scalar(field: &FieldDescriptor, json: &Json, path: &str) -> Result<Option<Value>, JsonError> {
    let kind = field.kind();
    let value = match (json, &kind) {
        (Json::Null, _) => return Ok(None),
        (Json::Object(object), Kind::Message(desc)) => {
            Value::Message(parse_message(desc.clone(), object, path)?)
        }
        (Json::Object(_), _) => return Err(field_error(path, "not expecting a JSON object")),
        (Json::Array(_), _) => return Err(field_error(path, "not expecting a JSON array")),
        (Json::String(s), Kind::String) => Value::String(s.clone()),
        (Json::String(s), Kind::Bytes) => Value::Bytes(
            base64::decode(s)
                .map_err(|e| field_error(path, format!("failed to base64 decode bytes: {e}")))?
                .into(),
        ),
        (Json::String(s), Kind::Enum(desc)) => match desc.get_value_by_name(s) {
            Some(v) => Value::EnumNumber(v.number()),
            None if field.is_required() => {
                return Err(field_error(path, format!("failed to find enum for '{s}'")));
            }
            None => return Ok(None),
        },
        (Json::String(s), Kind::Double | Kind::Float) if s == "Infinity" || s == "-Infinity" => {
            let x = if s == "Infinity" {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            };
            number(&kind, &Num::Float(x))
        }
        (Json::String(s), Kind::Bool) => match s.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => {
                return Err(field_error(
                    path,
                    format!("failed to parse '{s}' as a JSON boolean"),
                ));
            }
        },
        (Json::String(s), k) if is_numeric(k) => {
            let n: Number = serde_json::from_str(s).map_err(|_| {
                field_error(path, format!("failed to parse '{s}' as a JSON number"))
            })?;
            number(&kind, &Num::from(&n))
        }
        (Json::String(_), _) => return Err(field_error(path, "not expecting a JSON string")),
        (Json::Number(n), k) if is_numeric(k) => number(&kind, &Num::from(n)),
        (Json::Number(_), _) => return Err(field_error(path, "not expecting a JSON number")),
        (Json::Bool(b), Kind::Bool) => Value::Bool(*b),
        (Json::Bool(_), _) => return Err(field_error(path, "not expecting a JSON boolean")),
    };
    Ok(Some(value))
}

fn is_numeric(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::Double
            | Kind::Float
            | Kind::Int32
            | Kind::Sint32
            | Kind::Sfixed32
            | Kind::Int64
            | Kind::Sint64
            | Kind::Sfixed64
            | Kind::Uint32
            | Kind::Fixed32
            | Kind::Uint64
            | Kind::Fixed64
    )
}

/// A JSON number as stout keeps it: signed, unsigned or floating.
enum Num {
    Signed(i64),
    Unsigned(u64),
    Float(f64),
}

impl From<&Number> for Num {
    fn from(n: &Number) -> Self {
        if let Some(u) = n.as_u64() {
            Num::Unsigned(u)
        } else if let Some(i) = n.as_i64() {
            Num::Signed(i)
        } else {
            Num::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }
}

/// Converts a number to the field's type with C++ cast semantics: integer
/// to integer wraps, float to integer truncates (saturating here, where C++
/// leaves it undefined).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn number(kind: &Kind, n: &Num) -> Value {
    macro_rules! cast {
        ($t:ty) => {
            match *n {
                Num::Signed(i) => i as $t,
                Num::Unsigned(u) => u as $t,
                Num::Float(x) => x as $t,
            }
        };
    }
    match kind {
        Kind::Double => Value::F64(cast!(f64)),
        Kind::Float => Value::F32(cast!(f32)),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(cast!(i32)),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(cast!(i64)),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(cast!(u32)),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(cast!(u64)),
        _ => unreachable!("only called for numeric kinds"),
    }
}

fn map_key(value: Value) -> MapKey {
    match value {
        Value::Bool(b) => MapKey::Bool(b),
        Value::I32(n) => MapKey::I32(n),
        Value::I64(n) => MapKey::I64(n),
        Value::U32(n) => MapKey::U32(n),
        Value::U64(n) => MapKey::U64(n),
        Value::String(s) => MapKey::String(s),
        _ => unreachable!("protobuf map keys are integers, bools or strings"),
    }
}

/// Collects the paths of required fields missing from `message` and from
/// every sub-message it holds, like protobuf's `InitializationErrorString`.
pub(super) fn missing_required(message: &DynamicMessage, path: &str, out: &mut Vec<String>) {
    for field in message.descriptor().fields() {
        let field_path = join(path, field.name());
        if field.is_required() && !message.has_field(&field) {
            out.push(field_path);
            continue;
        }
        if !matches!(field.kind(), Kind::Message(_)) || !message.has_field(&field) {
            continue;
        }
        match message.get_field(&field).as_ref() {
            Value::Message(m) => missing_required(m, &field_path, out),
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Message(m) = item {
                        missing_required(m, &format!("{field_path}[{i}]"), out);
                    }
                }
            }
            Value::Map(entries) => {
                for (key, item) in entries {
                    if let Value::Message(m) = item {
                        let key = match key {
                            MapKey::String(s) => s.clone(),
                            other => format!("{other:?}"),
                        };
                        missing_required(m, &format!("{field_path}[{key}]"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

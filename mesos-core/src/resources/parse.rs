//! Parsing the agent's `--resources`: the text form `cpus:4;mem:4096;ports:[31000-32000]`
//! (with static reservations `cpus(role):2` and sets `{a,b}`) and the JSON array form of
//! `Resource` objects (upstream `Resources::parse`, `fromSimpleString`, `fromJSON`).
//!
//! JSON seam: the JSON form is mapped here by hand from `serde_json::Value` for the
//! fields a `Resource` given on a command line uses (`name`, `type`, `scalar`, `ranges`,
//! `set`, `role`, `reservation`, `reservations`, `disk` without `volume`,
//! `allocation_info`, `provider_id`, `revocable`, `shared`); unknown fields are errors
//! rather than silently dropped. Swap [`resource_from_json`] for the generic protobuf
//! JSON mapper (`crate::json`) once it exists.

use serde_json::{Map, Value as Json};
use thiserror::Error;

use crate::roles::DEFAULT_ROLE;
use crate::v0::resource::disk_info::{Persistence, Source, source};
use crate::v0::resource::reservation_info::Type as ReservationType;
use crate::v0::resource::{AllocationInfo, DiskInfo, ReservationInfo, RevocableInfo, SharedInfo};
use crate::v0::value::{self, Range};
use crate::v0::{Label, Labels, Resource, ResourceProviderId};

use super::Resources;
use super::format::upgrade_resource;
use super::resource::{self, ResourceError};
use super::values::{ParsedValue, ValueError, parse_value};

/// Why `--resources` (or a resource value) could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A `;`-separated token is not one `name:value` pair.
    #[error("bad value for resources, missing or extra ':' in '{token}'")]
    BadPair {
        /// The offending token.
        token: String,
    },
    /// `name(role` without `)`, or `)` before `(`.
    #[error("bad value for resources, mismatched parentheses in '{token}'")]
    MismatchedParentheses {
        /// The offending token.
        token: String,
    },
    /// The value of a resource could not be parsed.
    #[error("failed to parse resource {name} value '{value}': {source}")]
    Value {
        /// The resource name.
        name: String,
        /// The value text.
        value: String,
        /// Why.
        #[source]
        source: ValueError,
    },
    /// The value is text, which resources do not support.
    #[error("bad type for resource {name} value '{value}': text")]
    TextValue {
        /// The resource name.
        name: String,
        /// The value text.
        value: String,
    },
    /// The JSON is not an array of `Resource` objects.
    #[error("some JSON resources were not formatted properly: {reason}")]
    Json {
        /// What is wrong.
        reason: String,
    },
    /// A parsed resource is invalid.
    #[error("invalid resource '{name}': {source}")]
    Invalid {
        /// The resource name.
        name: String,
        /// Why.
        #[source]
        source: ResourceError,
    },
    /// Persistent volumes cannot be given on the command line.
    #[error("persistent volumes cannot be specified at the command line")]
    PersistentVolume,
    /// Revocable resources cannot be given on the command line.
    #[error("revocable resources cannot be specified at the command line")]
    Revocable,
    /// Dynamic reservations cannot be given on the command line.
    #[error("dynamic reservations cannot be specified at the command line")]
    DynamicReservation,
    /// The same name is given with two types.
    #[error("resources with the same name ('{name}') but different types are not allowed")]
    MixedTypes {
        /// The resource name.
        name: String,
    },
}

/// Parses `--resources` text or JSON into validated [`Resources`], rejecting persistent
/// volumes, revocable resources, dynamic reservations and names given with two types.
pub fn parse(text: &str, default_role: &str) -> Result<Resources, ParseError> {
    let mut result = Resources::new();
    for r in from_string(text, default_role)? {
        let name = r.name.clone();
        result
            .try_add(r)
            .map_err(|source| ParseError::Invalid { name, source })?;
    }
    validate_command_line(&result)?;
    Ok(result)
}

/// Parses JSON (if `text` is a JSON array) or the `name(role):value;…` form into
/// resources, neither validated nor combined.
pub fn from_string(text: &str, default_role: &str) -> Result<Vec<Resource>, ParseError> {
    match serde_json::from_str::<Json>(text) {
        Ok(json @ Json::Array(_)) => from_json(&json, default_role),
        _ => from_simple_string(text, default_role),
    }
}

/// Parses `name(role):value;…` into resources, neither validated nor combined. A name
/// without `(role)` gets `default_role`; a role other than `*` is a static reservation.
pub fn from_simple_string(text: &str, default_role: &str) -> Result<Vec<Resource>, ParseError> {
    let mut resources = Vec::new();
    for token in text.split(';').filter(|t| !t.is_empty()) {
        let pair: Vec<&str> = token.split(':').filter(|t| !t.is_empty()).collect();
        let [key, value] = pair[..] else {
            return Err(ParseError::BadPair {
                token: token.to_owned(),
            });
        };
        let (name, role) = match key.find('(') {
            None => (key.trim(), default_role),
            Some(open) => match key.find(')') {
                Some(close) if close > open => (key[..open].trim(), key[open + 1..close].trim()),
                _ => {
                    return Err(ParseError::MismatchedParentheses {
                        token: token.to_owned(),
                    });
                }
            },
        };
        let mut r = parse_resource(name, value, role)?;
        upgrade_resource(&mut r);
        resources.push(r);
    }
    Ok(resources)
}

/// Builds one resource from a name, the text of its value and a role (upstream
/// `Resources::parse(name, value, role)`): `parse_resource("mem", "1024", "*")`.
pub fn parse_resource(name: &str, value: &str, role: &str) -> Result<Resource, ParseError> {
    let parsed = parse_value(value).map_err(|source| ParseError::Value {
        name: name.to_owned(),
        value: value.to_owned(),
        source,
    })?;
    let mut r = match parsed {
        ParsedValue::Scalar(v) => resource::scalar(name, v),
        ParsedValue::Ranges(spans) => {
            let bounds: Vec<(u64, u64)> = spans.iter().map(|s| (s.begin, s.end)).collect();
            resource::ranges(name, &bounds)
        }
        ParsedValue::Set(items) => Resource {
            name: name.to_owned(),
            r#type: value::Type::Set as i32,
            set: Some(value::Set { item: items }),
            ..Resource::default()
        },
        ParsedValue::Text(_) => {
            return Err(ParseError::TextValue {
                name: name.to_owned(),
                value: value.to_owned(),
            });
        }
    };
    if role != DEFAULT_ROLE {
        r.reservations
            .push(resource::reservation(ReservationType::Static, role, None));
    }
    Ok(r)
}

/// Maps a JSON array of `Resource` objects into resources in the post-refinement format,
/// neither validated nor combined. Resources without `role` or `reservations` get
/// `default_role`.
#[allow(deprecated)] // `Resource.role` is deprecated but part of the JSON form.
pub fn from_json(json: &Json, default_role: &str) -> Result<Vec<Resource>, ParseError> {
    let Json::Array(items) = json else {
        return Err(json_error("expected an array of resources"));
    };
    let mut result = Vec::with_capacity(items.len());
    for item in items {
        let mut r = resource_from_json(item)?;
        if r.role.is_none() && r.reservations.is_empty() {
            r.role = Some(default_role.to_owned());
        }
        upgrade_resource(&mut r);
        result.push(r);
    }
    Ok(result)
}

/// Rejects what may not be given on a command line (upstream
/// `validateCommandLineResources`).
fn validate_command_line(resources: &Resources) -> Result<(), ParseError> {
    let mut types = std::collections::HashMap::new();
    for r in resources {
        if resource::is_persistent_volume(r) {
            return Err(ParseError::PersistentVolume);
        }
        if resource::is_revocable(r) {
            return Err(ParseError::Revocable);
        }
        if resource::is_dynamically_reserved(r) {
            return Err(ParseError::DynamicReservation);
        }
        if *types.entry(r.name.as_str()).or_insert(r.r#type) != r.r#type {
            return Err(ParseError::MixedTypes {
                name: r.name.clone(),
            });
        }
    }
    Ok(())
}

fn json_error(reason: impl Into<String>) -> ParseError {
    ParseError::Json {
        reason: reason.into(),
    }
}

fn object<'a>(json: &'a Json, what: &str) -> Result<&'a Map<String, Json>, ParseError> {
    json.as_object()
        .ok_or_else(|| json_error(format!("expected an object for '{what}'")))
}

fn string(json: &Json, what: &str) -> Result<String, ParseError> {
    json.as_str()
        .map(str::to_owned)
        .ok_or_else(|| json_error(format!("expected a string for '{what}'")))
}

fn u64_of(json: &Json, what: &str) -> Result<u64, ParseError> {
    match json {
        Json::Number(n) => n.as_u64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| json_error(format!("expected an unsigned integer for '{what}'")))
}

fn f64_of(json: &Json, what: &str) -> Result<f64, ParseError> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| json_error(format!("expected a number for '{what}'")))
}

/// An enum given by name (`"SCALAR"`) or number.
fn enum_of(
    json: &Json,
    what: &str,
    by_name: impl Fn(&str) -> Option<i32>,
) -> Result<i32, ParseError> {
    match json {
        Json::String(s) => by_name(s),
        Json::Number(n) => n.as_i64().and_then(|v| i32::try_from(v).ok()),
        _ => None,
    }
    .ok_or_else(|| json_error(format!("invalid enum value {json} for '{what}'")))
}

fn unknown_field(key: &str, what: &str) -> ParseError {
    json_error(format!("unsupported field '{key}' in '{what}'"))
}

fn labels_from_json(json: &Json) -> Result<Labels, ParseError> {
    let mut labels = Labels::default();
    for (key, v) in object(json, "labels")? {
        match key.as_str() {
            "labels" => {
                for label in v
                    .as_array()
                    .ok_or_else(|| json_error("expected an array for 'labels'"))?
                {
                    let mut l = Label::default();
                    for (k, v) in object(label, "label")? {
                        match k.as_str() {
                            "key" => l.key = string(v, "key")?,
                            "value" => l.value = Some(string(v, "value")?),
                            _ => return Err(unknown_field(k, "label")),
                        }
                    }
                    labels.labels.push(l);
                }
            }
            _ => return Err(unknown_field(key, "labels")),
        }
    }
    Ok(labels)
}

fn reservation_from_json(json: &Json) -> Result<ReservationInfo, ParseError> {
    let mut r = ReservationInfo::default();
    for (key, v) in object(json, "reservation")? {
        match key.as_str() {
            "type" => {
                r.r#type = Some(enum_of(v, "type", |s| {
                    ReservationType::from_str_name(s).map(|t| t as i32)
                })?);
            }
            "role" => r.role = Some(string(v, "role")?),
            "principal" => r.principal = Some(string(v, "principal")?),
            "labels" => r.labels = Some(labels_from_json(v)?),
            _ => return Err(unknown_field(key, "reservation")),
        }
    }
    Ok(r)
}

fn root_of(json: &Json, what: &str) -> Result<Option<String>, ParseError> {
    let mut root = None;
    for (key, v) in object(json, what)? {
        match key.as_str() {
            "root" => root = Some(string(v, "root")?),
            _ => return Err(unknown_field(key, what)),
        }
    }
    Ok(root)
}

fn disk_from_json(json: &Json) -> Result<DiskInfo, ParseError> {
    let mut disk = DiskInfo::default();
    for (key, v) in object(json, "disk")? {
        match key.as_str() {
            "persistence" => {
                let mut p = Persistence::default();
                for (k, v) in object(v, "persistence")? {
                    match k.as_str() {
                        "id" => p.id = string(v, "id")?,
                        "principal" => p.principal = Some(string(v, "principal")?),
                        _ => return Err(unknown_field(k, "persistence")),
                    }
                }
                disk.persistence = Some(p);
            }
            "source" => {
                let mut s = Source::default();
                for (k, v) in object(v, "source")? {
                    match k.as_str() {
                        "type" => {
                            s.r#type = enum_of(v, "type", |n| {
                                source::Type::from_str_name(n).map(|t| t as i32)
                            })?;
                        }
                        "path" => {
                            s.path = Some(source::Path {
                                root: root_of(v, "path")?,
                            })
                        }
                        "mount" => {
                            s.mount = Some(source::Mount {
                                root: root_of(v, "mount")?,
                            })
                        }
                        "vendor" => s.vendor = Some(string(v, "vendor")?),
                        "id" => s.id = Some(string(v, "id")?),
                        "profile" => s.profile = Some(string(v, "profile")?),
                        "metadata" => s.metadata = Some(labels_from_json(v)?),
                        _ => return Err(unknown_field(k, "source")),
                    }
                }
                disk.source = Some(s);
            }
            _ => return Err(unknown_field(key, "disk")),
        }
    }
    Ok(disk)
}

/// Maps one JSON `Resource` object (see the module docs for the fields handled).
#[allow(deprecated)] // `Resource.role` is deprecated but part of the JSON form.
pub fn resource_from_json(json: &Json) -> Result<Resource, ParseError> {
    let mut r = Resource::default();
    let mut has_name = false;
    let mut has_type = false;
    for (key, v) in object(json, "resource")? {
        match key.as_str() {
            "name" => {
                r.name = string(v, "name")?;
                has_name = true;
            }
            "type" => {
                r.r#type = enum_of(v, "type", |s| {
                    value::Type::from_str_name(s).map(|t| t as i32)
                })?;
                has_type = true;
            }
            "scalar" => {
                let s = object(v, "scalar")?;
                let value = s
                    .get("value")
                    .ok_or_else(|| json_error("missing 'scalar.value'"))?;
                r.scalar = Some(value::Scalar {
                    value: f64_of(value, "scalar.value")?,
                });
            }
            "ranges" => {
                let mut ranges = value::Ranges::default();
                if let Some(list) = object(v, "ranges")?.get("range") {
                    for range in list
                        .as_array()
                        .ok_or_else(|| json_error("expected an array for 'range'"))?
                    {
                        let range = object(range, "range")?;
                        let bound = |k: &str| {
                            range
                                .get(k)
                                .ok_or_else(|| json_error(format!("missing 'range.{k}'")))
                                .and_then(|v| u64_of(v, k))
                        };
                        ranges.range.push(Range {
                            begin: bound("begin")?,
                            end: bound("end")?,
                        });
                    }
                }
                r.ranges = Some(ranges);
            }
            "set" => {
                let mut set = value::Set::default();
                if let Some(items) = object(v, "set")?.get("item") {
                    for item in items
                        .as_array()
                        .ok_or_else(|| json_error("expected an array for 'item'"))?
                    {
                        set.item.push(string(item, "item")?);
                    }
                }
                r.set = Some(set);
            }
            "role" => r.role = Some(string(v, "role")?),
            "reservation" => r.reservation = Some(reservation_from_json(v)?),
            "reservations" => {
                for reservation in v
                    .as_array()
                    .ok_or_else(|| json_error("expected an array for 'reservations'"))?
                {
                    r.reservations.push(reservation_from_json(reservation)?);
                }
            }
            "allocation_info" => {
                let role = object(v, "allocation_info")?
                    .get("role")
                    .map(|v| string(v, "role"))
                    .transpose()?;
                r.allocation_info = Some(AllocationInfo { role });
            }
            "provider_id" => {
                let id = object(v, "provider_id")?
                    .get("value")
                    .ok_or_else(|| json_error("missing 'provider_id.value'"))?;
                r.provider_id = Some(ResourceProviderId {
                    value: string(id, "value")?,
                });
            }
            "disk" => r.disk = Some(disk_from_json(v)?),
            "revocable" => r.revocable = Some(RevocableInfo::default()),
            "shared" => r.shared = Some(SharedInfo::default()),
            _ => return Err(unknown_field(key, "resource")),
        }
    }
    if !has_name {
        return Err(json_error("missing required field 'name'"));
    }
    if !has_type {
        return Err(json_error("missing required field 'type'"));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Quantity;

    #[test]
    fn simple_string() {
        let r = parse("cpus:4;mem:4096;disk:8192;ports:[31000-32000];gpus:1", "*").unwrap();
        assert_eq!(r.cpus(), Some(4.0));
        assert_eq!(r.mem(), Some(4096.0));
        assert_eq!(
            r.ports().unwrap(),
            vec![Range {
                begin: 31000,
                end: 32000
            }]
        );
        assert_eq!(r.len(), 5);
        assert!(r.reserved(None).is_empty());
    }

    #[test]
    fn roles_and_sets() {
        let r = parse("cpus(eng):2;cpus:1;zones:{a,b}", "*").unwrap();
        assert_eq!(r.get_scalar("cpus"), Some(Quantity::from_units(3)));
        assert_eq!(r.reserved(Some("eng")).cpus(), Some(2.0));
        assert_eq!(r.get_set("zones").unwrap(), vec!["a", "b"]);
        let r = parse("cpus:1", "eng").unwrap();
        assert_eq!(r.reserved(Some("eng")).cpus(), Some(1.0));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse("cpus", "*"),
            Err(ParseError::BadPair { .. })
        ));
        assert!(matches!(
            parse("cpus:1:2", "*"),
            Err(ParseError::BadPair { .. })
        ));
        assert!(matches!(
            parse("cpus(eng:1", "*"),
            Err(ParseError::MismatchedParentheses { .. })
        ));
        assert!(matches!(
            parse("cpus:abc", "*"),
            Err(ParseError::TextValue { .. })
        ));
        assert!(matches!(
            parse("cpus:[1-2", "*"),
            Err(ParseError::Value { .. })
        ));
        assert!(matches!(
            parse("cpus(-x):1", "*"),
            Err(ParseError::Invalid { .. })
        ));
        assert!(matches!(
            parse("cpus:1;cpus:[1-2]", "*"),
            Err(ParseError::MixedTypes { .. })
        ));
        assert!(matches!(
            parse("zones:{a,a}", "*"),
            Err(ParseError::Invalid { .. })
        ));
        assert_eq!(
            parse("cpus", "*").unwrap_err().to_string(),
            "bad value for resources, missing or extra ':' in 'cpus'"
        );
    }

    #[test]
    fn json_form() {
        let text = r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":4.0},"role":"*"},
            {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]}},
            {"name":"zones","type":"SET","set":{"item":["a","b"]},"role":"eng"},
            {"name":"mem","type":"SCALAR","scalar":{"value":8},
             "reservations":[{"type":"STATIC","role":"ops"}]}]"#;
        let r = parse(text, "*").unwrap();
        assert_eq!(r.cpus(), Some(4.0));
        assert_eq!(
            r.reserved(Some("eng")).get_set("zones").unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(r.reserved(Some("ops")).mem(), Some(8.0));
        assert_eq!(r.unreserved().ports().unwrap().len(), 1);

        let dynamic = r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1},
            "role":"eng","reservation":{"principal":"p"}}]"#;
        assert_eq!(parse(dynamic, "*"), Err(ParseError::DynamicReservation));
        let revocable = r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"revocable":{}}]"#;
        assert_eq!(parse(revocable, "*"), Err(ParseError::Revocable));
        let unknown = r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"bogus":1}]"#;
        assert!(matches!(parse(unknown, "*"), Err(ParseError::Json { .. })));
        let no_type = r#"[{"name":"cpus","scalar":{"value":1}}]"#;
        assert!(matches!(parse(no_type, "*"), Err(ParseError::Json { .. })));
    }
}

//! Parsing the agent's `--resources`: the text form `cpus:4;mem:4096;ports:[31000-32000]`
//! (with static reservations `cpus(role):2` and sets `{a,b}`) and the JSON array form of
//! `Resource` objects (upstream `Resources::parse`, `fromSimpleString`, `fromJSON`).
//!
//! The JSON form is mapped by [`crate::json`], with Mesos's JSON rules (unknown keys are
//! ignored, enums by name, required fields checked), as stout's `protobuf::parse` does.

use serde_json::Value as Json;
use thiserror::Error;

use crate::roles::DEFAULT_ROLE;
use crate::v0::Resource;
use crate::v0::resource::reservation_info::Type as ReservationType;
use crate::v0::value;

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
    for (i, item) in items.iter().enumerate() {
        let mut r: Resource =
            crate::json::from_value(item).map_err(|e| json_error(format!("resource {i}: {e}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Quantity;
    use crate::v0::value::Range;

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
        // Unknown keys are ignored, as stout does.
        let unknown = r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"bogus":1}]"#;
        assert_eq!(parse(unknown, "*").unwrap().cpus(), Some(1.0));
        let volume = r#"[{"name":"disk","type":"SCALAR","scalar":{"value":1},
            "disk":{"persistence":{"id":"v"},"volume":{"container_path":"d","mode":"RW"}}}]"#;
        assert_eq!(parse(volume, "*"), Err(ParseError::PersistentVolume));
        let no_type = r#"[{"name":"cpus","scalar":{"value":1}}]"#;
        assert!(matches!(parse(no_type, "*"), Err(ParseError::Json { .. })));
    }
}

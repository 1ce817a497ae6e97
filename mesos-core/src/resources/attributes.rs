//! Agent attributes: parsing `--attributes` (`rack:r1;zone:a;level:3;ports:[1-10]`) into
//! `Attribute`s, and comparing them (upstream `src/common/attributes.cpp`).
//!
//! A value is a scalar (`3`, `0.5`), ranges (`[1-10]`) or text (anything else). As
//! upstream, sets (`{a,b}`) are not supported for attributes: Mesos 1.11 rejects them
//! (its `Attributes::isValid` too), and frameworks never see a SET attribute.

use std::fmt;

use thiserror::Error;

use crate::v0::Attribute;
use crate::v0::value::{self, Range};

use super::scalar::Quantity;
use super::values::{self, ParsedValue, ValueError, parse_value};

/// Why `--attributes` could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AttributeError {
    /// A token is not a `name:value` pair with both parts non-empty.
    #[error("invalid attribute key:value pair '{token}'")]
    BadPair {
        /// The offending token.
        token: String,
    },
    /// The value could not be parsed.
    #[error("failed to parse attribute {name} value '{value}': {source}")]
    Value {
        /// The attribute name.
        name: String,
        /// The value text.
        value: String,
        /// Why.
        #[source]
        source: ValueError,
    },
    /// Sets are not supported for attributes.
    #[error("bad type for attribute {name} value '{value}': sets are not supported for attributes")]
    Set {
        /// The attribute name.
        name: String,
        /// The value text.
        value: String,
    },
}

/// A list of agent attributes.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    attributes: Vec<Attribute>,
}

impl Attributes {
    /// No attributes.
    pub const fn new() -> Attributes {
        Attributes {
            attributes: Vec::new(),
        }
    }

    /// Parses `name:value` pairs separated by `;` or newlines. The name is everything
    /// before the first `:`; the value may contain more colons (it is then text).
    pub fn parse(text: &str) -> Result<Attributes, AttributeError> {
        let mut attributes = Attributes::new();
        for token in text.split([';', '\n']).filter(|t| !t.is_empty()) {
            match token.split_once(':') {
                Some((name, value)) if !name.is_empty() && !value.is_empty() => {
                    attributes.add(parse_attribute(name, value)?);
                }
                _ => {
                    return Err(AttributeError::BadPair {
                        token: token.to_owned(),
                    });
                }
            }
        }
        Ok(attributes)
    }

    /// Appends an attribute (duplicates are kept, as upstream).
    pub fn add(&mut self, attribute: Attribute) {
        self.attributes.push(attribute);
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.attributes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
    }

    /// The attributes.
    pub fn iter(&self) -> std::slice::Iter<'_, Attribute> {
        self.attributes.iter()
    }

    /// The first attribute with this name, of any type.
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The text of the first TEXT attribute with this name.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.of_type(name, value::Type::Text)
            .and_then(|a| a.text.as_ref())
            .map(|t| t.value.as_str())
    }

    /// The value of the first SCALAR attribute with this name.
    pub fn scalar(&self, name: &str) -> Option<f64> {
        self.of_type(name, value::Type::Scalar)
            .and_then(|a| a.scalar)
            .map(|s| s.value)
    }

    /// The ranges of the first RANGES attribute with this name.
    pub fn ranges(&self, name: &str) -> Option<&[Range]> {
        self.of_type(name, value::Type::Ranges)
            .and_then(|a| a.ranges.as_ref())
            .map(|r| &r.range[..])
    }

    fn of_type(&self, name: &str, ty: value::Type) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name == name && a.r#type == ty as i32)
    }

    /// Whether an attribute with the same name, type and value is present.
    pub fn contains(&self, attribute: &Attribute) -> bool {
        self.attributes.iter().any(|a| attribute_eq(a, attribute))
    }

    /// The attributes as a `Vec`, e.g. for `SlaveInfo.attributes`.
    pub fn into_vec(self) -> Vec<Attribute> {
        self.attributes
    }
}

/// Builds one attribute from its name and value text.
pub fn parse_attribute(name: &str, text: &str) -> Result<Attribute, AttributeError> {
    let parsed = parse_value(text).map_err(|source| AttributeError::Value {
        name: name.to_owned(),
        value: text.to_owned(),
        source,
    })?;
    let mut attribute = Attribute {
        name: name.to_owned(),
        ..Attribute::default()
    };
    match parsed {
        ParsedValue::Scalar(v) => {
            attribute.r#type = value::Type::Scalar as i32;
            attribute.scalar = Some(value::Scalar { value: v });
        }
        ParsedValue::Ranges(spans) => {
            attribute.r#type = value::Type::Ranges as i32;
            attribute.ranges = Some(value::Ranges {
                range: spans
                    .iter()
                    .map(|s| Range {
                        begin: s.begin,
                        end: s.end,
                    })
                    .collect(),
            });
        }
        ParsedValue::Text(t) => {
            attribute.r#type = value::Type::Text as i32;
            attribute.text = Some(value::Text { value: t });
        }
        ParsedValue::Set(_) => {
            return Err(AttributeError::Set {
                name: name.to_owned(),
                value: text.to_owned(),
            });
        }
    }
    Ok(attribute)
}

/// Whether two attributes have the same name, type and value (scalars in fixed point,
/// ranges as sets of numbers).
pub fn attribute_eq(left: &Attribute, right: &Attribute) -> bool {
    if left.name != right.name || left.r#type != right.r#type {
        return false;
    }
    match value::Type::try_from(left.r#type) {
        Ok(value::Type::Scalar) => {
            let q = |a: &Attribute| Quantity::from_f64(a.scalar.map_or(0.0, |s| s.value));
            q(left) == q(right)
        }
        Ok(value::Type::Ranges) => {
            let r = |a: &Attribute| a.ranges.as_ref().map_or(Vec::new(), |r| r.range.clone());
            values::ranges_eq(&r(left), &r(right))
        }
        Ok(value::Type::Text) => left.text == right.text,
        Ok(value::Type::Set) => {
            let s = |a: &Attribute| a.set.as_ref().map_or(Vec::new(), |s| s.item.clone());
            values::set_eq(&s(left), &s(right))
        }
        Err(_) => false,
    }
}

/// Equal when each holds the other's attributes and the sizes match (order and
/// duplicates aside, as upstream).
impl PartialEq for Attributes {
    fn eq(&self, other: &Attributes) -> bool {
        self.len() == other.len()
            && self.iter().all(|a| other.contains(a))
            && other.iter().all(|a| self.contains(a))
    }
}

impl From<Vec<Attribute>> for Attributes {
    fn from(attributes: Vec<Attribute>) -> Attributes {
        Attributes { attributes }
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = &'a Attribute;
    type IntoIter = std::slice::Iter<'a, Attribute>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// `rack:r1;level:3;ports:[1-10]`, the form [`Attributes::parse`] reads.
impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.attributes.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{}:", a.name)?;
            match value::Type::try_from(a.r#type) {
                Ok(value::Type::Scalar) => {
                    write!(
                        f,
                        "{}",
                        Quantity::from_f64(a.scalar.map_or(0.0, |s| s.value))
                    )?;
                }
                Ok(value::Type::Ranges) => {
                    let ranges: Vec<String> = a
                        .ranges
                        .iter()
                        .flat_map(|r| &r.range)
                        .map(|r| format!("{}-{}", r.begin, r.end))
                        .collect();
                    write!(f, "[{}]", ranges.join(","))?;
                }
                Ok(value::Type::Set) => {
                    let items: Vec<&str> = a
                        .set
                        .iter()
                        .flat_map(|s| &s.item)
                        .map(String::as_str)
                        .collect();
                    write!(f, "{{{}}}", items.join(","))?;
                }
                _ => f.write_str(a.text.as_ref().map_or("", |t| t.value.as_str()))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_types() {
        let a = Attributes::parse("rack:r1;zone:a;level:3;ports:[1-10]\nweight:0.5").unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!(a.text("rack"), Some("r1"));
        assert_eq!(a.scalar("level"), Some(3.0));
        assert_eq!(a.scalar("weight"), Some(0.5));
        assert_eq!(a.ranges("ports"), Some(&[Range { begin: 1, end: 10 }][..]));
        assert_eq!(
            a.to_string(),
            "rack:r1;zone:a;level:3;ports:[1-10];weight:0.5"
        );
        assert_eq!(Attributes::parse(&a.to_string()).unwrap(), a);
    }

    #[test]
    fn value_with_colons_is_text() {
        let a = Attributes::parse("url:http://x").unwrap();
        assert_eq!(a.text("url"), Some("http://x"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            Attributes::parse("rack"),
            Err(AttributeError::BadPair {
                token: "rack".into()
            })
        );
        assert!(matches!(
            Attributes::parse(":x"),
            Err(AttributeError::BadPair { .. })
        ));
        assert!(matches!(
            Attributes::parse("x:"),
            Err(AttributeError::BadPair { .. })
        ));
        assert!(matches!(
            Attributes::parse("x:[1-"),
            Err(AttributeError::Value { .. })
        ));
        assert!(matches!(
            Attributes::parse("x:{a,b}"),
            Err(AttributeError::Set { .. })
        ));
    }

    #[test]
    fn equality_ignores_order() {
        let a = Attributes::parse("a:1;b:x").unwrap();
        let b = Attributes::parse("b:x;a:1.0").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Attributes::parse("a:2;b:x").unwrap());
    }
}

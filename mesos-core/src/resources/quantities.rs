//! `ResourceQuantities`: a name → fixed-point scalar map (Mesos `ResourceQuantities`).
//!
//! The sorter and the allocator use quantities when only amounts matter (totals, shares,
//! quota), not the identity of resources (roles, reservations, volumes). Entries are kept
//! sorted by name and strictly positive: adding zero is a no-op, and subtraction drops
//! entries that reach zero or below, so a quantity is never negative.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};

use thiserror::Error;

use super::scalar::Quantity;
use super::values::{ParsedValue, ValueError, parse_value};

/// Scalar amounts by resource name, sorted by name, all strictly positive.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ResourceQuantities {
    entries: Vec<(Name, Quantity)>,
}

/// The longest name kept inline.
const INLINE: usize = 22;

/// A resource name, kept inline when short (`cpus`, `mem`, `disk`, `gpus`, ...): the
/// sorters compare names on every allocation, and an inline name is compared without
/// reading another cache line.
#[derive(Clone)]
enum Name {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Name {
    fn new(name: &str) -> Name {
        if name.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..name.len()].copy_from_slice(name.as_bytes());
            Name::Inline {
                len: name.len() as u8,
                bytes,
            }
        } else {
            Name::Heap(name.into())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Name::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Name::Heap(name) => name.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Name::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).expect("copied from a str")
            }
            Name::Heap(name) => name,
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Byte order, which is the order of the strings.
impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a quantities string (`cpus:10;mem:1024`) could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QuantitiesError {
    /// A `;`-separated token is not a single `name:value` pair.
    #[error("failed to parse '{token}': missing or extra ':'")]
    BadPair {
        /// The offending token.
        token: String,
    },
    /// The value could not be parsed.
    #[error("failed to parse '{value}' to quantity: {source}")]
    Value {
        /// The offending value text.
        value: String,
        /// Why.
        #[source]
        source: ValueError,
    },
    /// The value is not a scalar (ranges, sets and text are not quantities).
    #[error("failed to parse '{value}' to quantity: only scalar values are allowed")]
    NotScalar {
        /// The offending value text.
        value: String,
    },
}

impl ResourceQuantities {
    /// No quantities.
    pub const fn new() -> ResourceQuantities {
        ResourceQuantities {
            entries: Vec::new(),
        }
    }

    /// Parses `;`-separated `name:number` pairs, e.g. `"cpus:10;mem:1024"`. Names and
    /// numbers are trimmed; duplicate names are summed and zero values dropped. Numbers
    /// must be non-negative and finite.
    pub fn from_string(text: &str) -> Result<ResourceQuantities, QuantitiesError> {
        let mut result = ResourceQuantities::new();
        for token in text.split(';').filter(|t| !t.is_empty()) {
            let pair: Vec<&str> = token.split(':').filter(|t| !t.is_empty()).collect();
            let [name, value] = pair[..] else {
                return Err(QuantitiesError::BadPair {
                    token: token.to_owned(),
                });
            };
            match parse_value(value) {
                Ok(ParsedValue::Scalar(v)) => {
                    result.add_quantity(name.trim(), Quantity::from_f64(v))
                }
                Ok(_) => {
                    return Err(QuantitiesError::NotScalar {
                        value: value.to_owned(),
                    });
                }
                Err(source) => {
                    return Err(QuantitiesError::Value {
                        value: value.to_owned(),
                        source,
                    });
                }
            }
        }
        Ok(result)
    }

    /// The number of names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no quantities.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The quantity of `name`, zero if absent.
    pub fn get(&self, name: &str) -> Quantity {
        match self.position(name) {
            Ok(i) => self.entries[i].1,
            Err(_) => Quantity::ZERO,
        }
    }

    /// The (name, quantity) pairs, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, Quantity)> + '_ {
        self.entries.iter().map(|(name, q)| (name.as_str(), *q))
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|(name, _)| name.as_str())
    }

    /// Adds `quantity` of `name`. Adding zero is a no-op; adding a negative amount
    /// subtracts it, dropping the entry if it reaches zero or below.
    pub fn add_quantity(&mut self, name: &str, quantity: Quantity) {
        if quantity.is_zero() {
            return;
        }
        match self.position(name) {
            Ok(i) => {
                let sum = self.entries[i].1 + quantity;
                if sum.is_positive() {
                    self.entries[i].1 = sum;
                } else {
                    self.entries.remove(i);
                }
            }
            Err(i) if quantity.is_positive() => {
                self.entries.insert(i, (Name::new(name), quantity));
            }
            Err(_) => {}
        }
    }

    /// Subtracts `quantity` of `name`, dropping the entry if it reaches zero or below.
    pub fn subtract_quantity(&mut self, name: &str, quantity: Quantity) {
        self.add_quantity(name, -quantity);
    }

    /// Whether every quantity of `other` is at most the same-named quantity here.
    pub fn contains(&self, other: &ResourceQuantities) -> bool {
        let mut mine = self.entries.iter().peekable();
        'outer: for (name, q) in &other.entries {
            while let Some((n, have)) = mine.peek() {
                match n.cmp(name) {
                    std::cmp::Ordering::Less => {
                        mine.next();
                    }
                    std::cmp::Ordering::Equal => {
                        if have < q {
                            return false;
                        }
                        mine.next();
                        continue 'outer;
                    }
                    std::cmp::Ordering::Greater => return false,
                }
            }
            return false;
        }
        true
    }

    /// The sum of many quantities.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a ResourceQuantities>) -> ResourceQuantities {
        all.into_iter()
            .fold(ResourceQuantities::new(), |mut acc, q| {
                acc += q;
                acc
            })
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(n, _)| n.as_bytes().cmp(name.as_bytes()))
    }

    /// Whether every name of `other` has an entry here (both are sorted by name).
    fn has_all_names_of(&self, other: &ResourceQuantities) -> bool {
        let mut mine = self.entries.iter();
        other
            .entries
            .iter()
            .all(|(name, _)| mine.any(|(n, _)| n == name))
    }

    /// Merges `other` into `self` with `op` applied to same-named pairs, in one pass.
    fn merge(&mut self, other: &ResourceQuantities, negate: bool) {
        if other.is_empty() {
            return;
        }
        let sign = |q: Quantity| if negate { -q } else { q };
        // The usual case (the sorters' totals): every name of `other` is here already,
        // and the values change in place.
        if self.has_all_names_of(other) {
            let mut mine = self.entries.iter_mut();
            for (name, q) in &other.entries {
                let entry = mine.find(|(n, _)| n == name).expect("every name is here");
                entry.1 += sign(*q);
            }
            self.entries.retain(|(_, q)| q.is_positive());
            return;
        }
        let mut out = Vec::with_capacity(self.entries.len() + other.entries.len());
        let mut left = std::mem::take(&mut self.entries).into_iter().peekable();
        let mut right = other.entries.iter().peekable();
        loop {
            let take_left = match (left.peek(), right.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((l, _)), Some((r, _))) => match l.cmp(r) {
                    std::cmp::Ordering::Less => true,
                    std::cmp::Ordering::Greater => false,
                    std::cmp::Ordering::Equal => {
                        let (name, q) = left.next().expect("peeked");
                        let (_, rq) = right.next().expect("peeked");
                        let v = q + sign(*rq);
                        if v.is_positive() {
                            out.push((name, v));
                        }
                        continue;
                    }
                },
            };
            if take_left {
                out.push(left.next().expect("peeked"));
            } else {
                let (name, q) = right.next().expect("peeked");
                let v = sign(*q);
                if v.is_positive() {
                    out.push((name.clone(), v));
                }
            }
        }
        self.entries = out;
    }
}

impl<S: AsRef<str>> FromIterator<(S, Quantity)> for ResourceQuantities {
    fn from_iter<I: IntoIterator<Item = (S, Quantity)>>(iter: I) -> ResourceQuantities {
        let mut result = ResourceQuantities::new();
        for (name, q) in iter {
            result.add_quantity(name.as_ref(), q);
        }
        result
    }
}

impl AddAssign<&ResourceQuantities> for ResourceQuantities {
    fn add_assign(&mut self, rhs: &ResourceQuantities) {
        self.merge(rhs, false);
    }
}

/// Subtraction never goes below zero: entries that would are dropped.
impl SubAssign<&ResourceQuantities> for ResourceQuantities {
    fn sub_assign(&mut self, rhs: &ResourceQuantities) {
        self.merge(rhs, true);
    }
}

impl Add<&ResourceQuantities> for &ResourceQuantities {
    type Output = ResourceQuantities;
    fn add(self, rhs: &ResourceQuantities) -> ResourceQuantities {
        let mut result = self.clone();
        result += rhs;
        result
    }
}

impl Sub<&ResourceQuantities> for &ResourceQuantities {
    type Output = ResourceQuantities;
    fn sub(self, rhs: &ResourceQuantities) -> ResourceQuantities {
        let mut result = self.clone();
        result -= rhs;
        result
    }
}

/// Prints `cpus:4;mem:1024`, the form [`ResourceQuantities::from_string`] reads; `{}`
/// when empty.
impl fmt::Display for ResourceQuantities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("{}");
        }
        for (i, (name, q)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{name}:{q}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ResourceQuantities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> ResourceQuantities {
        ResourceQuantities::from_string(text).unwrap()
    }

    #[test]
    fn parse() {
        let quantities = q("cpus:10; mem:1024;ports:3;cpus:0.5;gpus:0");
        assert_eq!(quantities.to_string(), "cpus:10.5;mem:1024;ports:3");
        assert_eq!(quantities.get("cpus"), Quantity::from_f64(10.5));
        assert_eq!(quantities.get("disk"), Quantity::ZERO);
        assert_eq!(q("c p us:1").names().collect::<Vec<_>>(), vec!["c p us"]);
        assert!(matches!(
            ResourceQuantities::from_string("cpus"),
            Err(QuantitiesError::BadPair { .. })
        ));
        assert!(matches!(
            ResourceQuantities::from_string("cpus:-1"),
            Err(QuantitiesError::NotScalar { .. })
        ));
        assert!(matches!(
            ResourceQuantities::from_string("ports:[1-2]"),
            Err(QuantitiesError::NotScalar { .. })
        ));
        assert!(matches!(
            ResourceQuantities::from_string("cpus:[1-2"),
            Err(QuantitiesError::Value { .. })
        ));
        assert_eq!(q(""), ResourceQuantities::new());
    }

    #[test]
    fn arithmetic() {
        let a = q("cpus:2;mem:10");
        let b = q("cpus:1;disk:5");
        assert_eq!(&a + &b, q("cpus:3;disk:5;mem:10"));
        assert_eq!(&a - &b, q("cpus:1;mem:10"));
        assert_eq!(&b - &a, q("disk:5"));
        assert_eq!(&a - &a, ResourceQuantities::new());
        assert_eq!(
            ResourceQuantities::sum([&a, &b, &a]),
            q("cpus:5;disk:5;mem:20")
        );
    }

    #[test]
    fn containment() {
        let a = q("cpus:2;mem:10");
        assert!(a.contains(&q("cpus:2")));
        assert!(a.contains(&q("")));
        assert!(!a.contains(&q("cpus:3")));
        assert!(!a.contains(&q("disk:1")));
        assert!(!a.contains(&q("zzz:1")));
        assert!(q("").contains(&q("")));
    }

    #[test]
    fn add_and_subtract_single() {
        let mut a = ResourceQuantities::new();
        a.add_quantity("mem", Quantity::from_units(3));
        a.add_quantity("cpus", Quantity::from_units(1));
        a.subtract_quantity("mem", Quantity::from_units(5));
        a.subtract_quantity("disk", Quantity::from_units(1));
        assert_eq!(a, q("cpus:1"));
    }
}

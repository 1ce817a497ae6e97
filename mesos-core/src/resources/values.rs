//! Value algebra for ranges and sets, and the text form of a value
//! (Mesos `src/common/values.cpp`).
//!
//! Ranges are inclusive `[begin, end]` intervals of `u64`. A list of ranges is
//! *normalized* when it is sorted, each range has `begin <= end`, and no two ranges
//! overlap or touch (`[1-2],[3-4]` normalizes to `[1-4]`). Every ranges value inside a
//! [`Resources`](super::Resources) is kept normalized, so the operations here that take
//! normalized inputs are linear merges. The algorithms are generic over [`Interval`],
//! implemented both by the plain [`Span`] and by the protobuf `Range`.
//!
//! Sets are lists of distinct strings; their order is kept but never significant.

use std::collections::HashSet;

use thiserror::Error;

/// An inclusive interval `[begin, end]` of `u64`.
pub trait Interval: Clone {
    /// The first element.
    fn begin(&self) -> u64;
    /// The last element (inclusive).
    fn end(&self) -> u64;
    /// The interval `[begin, end]`.
    fn new(begin: u64, end: u64) -> Self;
}

/// A plain inclusive interval `[begin, end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The first element.
    pub begin: u64,
    /// The last element (inclusive).
    pub end: u64,
}

impl Span {
    /// The interval `[begin, end]`.
    pub const fn new(begin: u64, end: u64) -> Span {
        Span { begin, end }
    }
}

impl Interval for Span {
    fn begin(&self) -> u64 {
        self.begin
    }
    fn end(&self) -> u64 {
        self.end
    }
    fn new(begin: u64, end: u64) -> Span {
        Span { begin, end }
    }
}

/// Whether `ranges` is normalized: sorted, well-formed, neither overlapping nor adjacent.
pub fn is_normalized<R: Interval>(ranges: &[R]) -> bool {
    ranges.iter().all(|r| r.begin() <= r.end())
        && ranges
            .windows(2)
            .all(|w| w[0].end() < u64::MAX && w[0].end() + 1 < w[1].begin())
}

/// Sorts and merges `ranges` in place so that it is normalized. Ranges with
/// `begin > end` are dropped (they hold no element).
pub fn coalesce<R: Interval>(ranges: &mut Vec<R>) {
    if is_normalized(ranges) {
        return;
    }
    ranges.retain(|r| r.begin() <= r.end());
    ranges.sort_unstable_by_key(|r| (r.begin(), r.end()));
    let mut out: Vec<R> = Vec::with_capacity(ranges.len());
    for r in ranges.drain(..) {
        match out.last_mut() {
            Some(last) if r.begin() <= last.end().saturating_add(1) => {
                if r.end() > last.end() {
                    *last = R::new(last.begin(), r.end());
                }
            }
            _ => out.push(r),
        }
    }
    *ranges = out;
}

/// The union of two normalized lists, normalized.
pub fn union<R: Interval>(left: &[R], right: &[R]) -> Vec<R> {
    let mut out: Vec<R> = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() || j < right.len() {
        let next = if j == right.len() || (i < left.len() && left[i].begin() <= right[j].begin()) {
            i += 1;
            &left[i - 1]
        } else {
            j += 1;
            &right[j - 1]
        };
        match out.last_mut() {
            Some(last) if next.begin() <= last.end().saturating_add(1) => {
                if next.end() > last.end() {
                    *last = R::new(last.begin(), next.end());
                }
            }
            _ => out.push(next.clone()),
        }
    }
    out
}

/// `left` minus `right`, both normalized; the result is normalized.
pub fn subtract<R: Interval>(left: &[R], right: &[R]) -> Vec<R> {
    if left.is_empty() || right.is_empty() {
        return left.to_vec();
    }
    let mut out = Vec::with_capacity(left.len() + 1);
    let mut j = 0;
    for l in left {
        let (mut begin, end) = (l.begin(), l.end());
        // Skip subtrahends wholly before this range.
        while j < right.len() && right[j].end() < begin {
            j += 1;
        }
        let mut k = j;
        let mut consumed = false;
        while k < right.len() && right[k].begin() <= end {
            let r = &right[k];
            if r.begin() > begin {
                out.push(R::new(begin, r.begin() - 1));
            }
            if r.end() >= end {
                consumed = true;
                break;
            }
            begin = r.end() + 1;
            k += 1;
        }
        if !consumed {
            out.push(R::new(begin, end));
        }
        // The next left range starts after this one ends, so subtrahends before
        // `k` cannot touch it, except the one at `k` that may extend past `end`.
        j = k;
    }
    out
}

/// Whether normalized `left` contains every element of normalized `right`.
pub fn contains<R: Interval>(left: &[R], right: &[R]) -> bool {
    let mut i = 0;
    for r in right {
        while i < left.len() && left[i].end() < r.begin() {
            i += 1;
        }
        match left.get(i) {
            Some(l) if l.begin() <= r.begin() && r.end() <= l.end() => {}
            _ => return false,
        }
    }
    true
}

/// Whether two (not necessarily normalized) lists hold the same elements.
pub fn ranges_eq<R: Interval>(left: &[R], right: &[R]) -> bool {
    let norm = |ranges: &[R]| {
        let mut v = ranges.to_vec();
        coalesce(&mut v);
        v.iter().map(|r| (r.begin(), r.end())).collect::<Vec<_>>()
    };
    if is_normalized(left) && is_normalized(right) {
        left.len() == right.len()
            && left
                .iter()
                .zip(right)
                .all(|(l, r)| l.begin() == r.begin() && l.end() == r.end())
    } else {
        norm(left) == norm(right)
    }
}

/// The number of elements in a normalized list (saturating at `u64::MAX`).
pub fn count<R: Interval>(ranges: &[R]) -> u64 {
    ranges
        .iter()
        .map(|r| (r.end() - r.begin()).saturating_add(1))
        .fold(0u64, u64::saturating_add)
}

/// Sets above this size are compared through a hash set rather than pairwise.
const SET_HASH_THRESHOLD: usize = 16;

/// Adds the items of `right` missing from `left` to `left`, keeping its order.
pub fn set_add(left: &mut Vec<String>, right: &[String]) {
    if left.len() + right.len() > SET_HASH_THRESHOLD {
        let mut seen: HashSet<String> = left.iter().cloned().collect();
        for item in right {
            if seen.insert(item.clone()) {
                left.push(item.clone());
            }
        }
    } else {
        for item in right {
            if !left.contains(item) {
                left.push(item.clone());
            }
        }
    }
}

/// Removes the items of `right` from `left`.
pub fn set_subtract(left: &mut Vec<String>, right: &[String]) {
    if right.len() > SET_HASH_THRESHOLD {
        let remove: HashSet<&str> = right.iter().map(String::as_str).collect();
        left.retain(|item| !remove.contains(item.as_str()));
    } else {
        left.retain(|item| !right.contains(item));
    }
}

/// Whether `left` holds every item of `right`.
pub fn set_contains(left: &[String], right: &[String]) -> bool {
    if right.len() > left.len() {
        return false;
    }
    if left.len() > SET_HASH_THRESHOLD {
        let have: HashSet<&str> = left.iter().map(String::as_str).collect();
        right.iter().all(|item| have.contains(item.as_str()))
    } else {
        right.iter().all(|item| left.contains(item))
    }
}

/// Whether two sets hold the same items, in any order.
pub fn set_eq(left: &[String], right: &[String]) -> bool {
    left.len() == right.len() && set_contains(left, right) && set_contains(right, left)
}

/// A value parsed from its text form (upstream `internal::values::parse`).
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedValue {
    /// A non-negative finite number, e.g. `4` or `0.5`.
    Scalar(f64),
    /// Ranges, e.g. `[31000-32000, 33000-34000]`, normalized.
    Ranges(Vec<Span>),
    /// A set, e.g. `{a,b}`, items in the order given (duplicates kept: validation
    /// rejects them where they matter).
    Set(Vec<String>),
    /// Anything else, e.g. `r1` or `-1`.
    Text(String),
}

/// Why a value's text form could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The text is empty (after removing spaces).
    #[error("expecting non-empty string")]
    Empty,
    /// Brackets, braces or parentheses do not match.
    #[error("mismatched brackets")]
    MismatchedBrackets,
    /// A ranges value has an odd number of bounds.
    #[error("expecting one or more \"ranges\"")]
    OddRanges,
    /// A range bound is not a non-negative integer.
    #[error("expecting non-negative integers in '{token}'")]
    BadRangeBound {
        /// The offending token.
        token: String,
    },
    /// A range has `begin > end`.
    #[error("invalid range {begin}-{end}: begin > end")]
    InvertedRange {
        /// The first bound.
        begin: u64,
        /// The second bound.
        end: u64,
    },
    /// A `{` appears other than at the start.
    #[error("unexpected '{{' found")]
    UnexpectedBrace,
    /// A `[` appears other than at the start.
    #[error("unexpected '[' found")]
    UnexpectedBracket,
    /// A subnormal number.
    #[error("subnormal values not supported")]
    Subnormal,
}

/// Whether each opening delimiter in `text` is closed, in order, without nesting checks
/// across kinds (upstream `strings::checkBracketsMatching`).
fn brackets_match(text: &str, open: char, close: char) -> bool {
    let mut depth = 0i64;
    for c in text.chars() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth < 0 {
                return false;
            }
        }
    }
    depth == 0
}

fn tokens<'a>(text: &'a str, delimiters: &'a [char]) -> impl Iterator<Item = &'a str> + 'a {
    text.split(delimiters).filter(|t| !t.is_empty())
}

/// Parses the text form of a value: `[1-10,20-30]` ranges, `{a,b}` sets, non-negative
/// finite numbers as scalars, and anything else as text. Spaces are ignored.
pub fn parse_value(text: &str) -> Result<ParsedValue, ValueError> {
    let temp: String = text.chars().filter(|&c| c != ' ').collect();
    if temp.is_empty() {
        return Err(ValueError::Empty);
    }
    if !brackets_match(&temp, '{', '}')
        || !brackets_match(&temp, '[', ']')
        || !brackets_match(&temp, '(', ')')
    {
        return Err(ValueError::MismatchedBrackets);
    }
    match temp.find('[') {
        Some(0) => {
            let bounds: Vec<&str> = tokens(&temp, &['[', ']', '-', ',', '\n']).collect();
            if !bounds.len().is_multiple_of(2) {
                return Err(ValueError::OddRanges);
            }
            let mut ranges = Vec::with_capacity(bounds.len() / 2);
            for pair in bounds.chunks(2) {
                let bound = |token: &str| {
                    token.parse::<u64>().map_err(|_| ValueError::BadRangeBound {
                        token: token.to_owned(),
                    })
                };
                let (begin, end) = (bound(pair[0])?, bound(pair[1])?);
                if begin > end {
                    return Err(ValueError::InvertedRange { begin, end });
                }
                ranges.push(Span::new(begin, end));
            }
            coalesce(&mut ranges);
            Ok(ParsedValue::Ranges(ranges))
        }
        Some(_) => Err(ValueError::UnexpectedBracket),
        None => match temp.find('{') {
            Some(0) => Ok(ParsedValue::Set(
                tokens(&temp, &['{', '}', ',', '\n'])
                    .map(str::to_owned)
                    .collect(),
            )),
            Some(_) => Err(ValueError::UnexpectedBrace),
            None => match temp.parse::<f64>() {
                Ok(v) if v.is_subnormal() => Err(ValueError::Subnormal),
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(ParsedValue::Scalar(v)),
                // Negative, infinite and NaN numbers are text, as upstream.
                _ => Ok(ParsedValue::Text(temp)),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(pairs: &[(u64, u64)]) -> Vec<Span> {
        pairs.iter().map(|&(b, e)| Span::new(b, e)).collect()
    }

    #[test]
    fn coalesce_merges_overlapping_and_adjacent() {
        let mut r = spans(&[(5, 6), (1, 2), (3, 4), (10, 20), (15, 25), (30, 30)]);
        coalesce(&mut r);
        assert_eq!(r, spans(&[(1, 6), (10, 25), (30, 30)]));
        let mut r = spans(&[(0, u64::MAX), (5, 6)]);
        coalesce(&mut r);
        assert_eq!(r, spans(&[(0, u64::MAX)]));
        let mut r = spans(&[(3, 1), (1, 1)]);
        coalesce(&mut r);
        assert_eq!(r, spans(&[(1, 1)]));
    }

    #[test]
    fn union_and_subtract() {
        let a = spans(&[(1, 10), (20, 30)]);
        let b = spans(&[(5, 25), (31, 40)]);
        assert_eq!(union(&a, &b), spans(&[(1, 40)]));
        assert_eq!(subtract(&a, &b), spans(&[(1, 4), (26, 30)]));
        assert_eq!(subtract(&b, &a), spans(&[(11, 19), (31, 40)]));
        let c = spans(&[(1, 100)]);
        let d = spans(&[(2, 2), (4, 5), (100, 200)]);
        assert_eq!(subtract(&c, &d), spans(&[(1, 1), (3, 3), (6, 99)]));
        assert_eq!(subtract(&c, &c), spans(&[]));
        assert_eq!(
            subtract(&spans(&[(0, u64::MAX)]), &spans(&[(0, 0)])),
            spans(&[(1, u64::MAX)])
        );
    }

    #[test]
    fn subtract_spanning_several_left_ranges() {
        let a = spans(&[(1, 5), (10, 15), (20, 25)]);
        let b = spans(&[(3, 22)]);
        assert_eq!(subtract(&a, &b), spans(&[(1, 2), (23, 25)]));
    }

    #[test]
    fn containment_and_count() {
        let a = spans(&[(1, 10), (20, 30)]);
        assert!(contains(&a, &spans(&[(1, 5), (25, 30)])));
        assert!(!contains(&a, &spans(&[(5, 21)])));
        assert!(contains(&a, &spans(&[])));
        assert!(!contains(&spans(&[]), &spans(&[(1, 1)])));
        assert_eq!(count(&a), 21);
        assert!(ranges_eq(&spans(&[(1, 2), (3, 4)]), &spans(&[(1, 4)])));
    }

    #[test]
    fn sets() {
        let mut a: Vec<String> = vec!["a".into(), "b".into()];
        set_add(&mut a, &["b".into(), "c".into()]);
        assert_eq!(a, vec!["a", "b", "c"]);
        assert!(set_contains(&a, &["c".into(), "a".into()]));
        set_subtract(&mut a, &["a".into(), "z".into()]);
        assert_eq!(a, vec!["b", "c"]);
        assert!(set_eq(&a, &["c".into(), "b".into()]));
    }

    #[test]
    fn parse_values() {
        assert_eq!(parse_value("4").unwrap(), ParsedValue::Scalar(4.0));
        assert_eq!(parse_value(" 0.5 ").unwrap(), ParsedValue::Scalar(0.5));
        assert_eq!(
            parse_value("[31000-32000, 1-3]").unwrap(),
            ParsedValue::Ranges(spans(&[(1, 3), (31000, 32000)]))
        );
        assert_eq!(parse_value("[]").unwrap(), ParsedValue::Ranges(vec![]));
        assert_eq!(
            parse_value("{a, b}").unwrap(),
            ParsedValue::Set(vec!["a".into(), "b".into()])
        );
        assert_eq!(parse_value("r1").unwrap(), ParsedValue::Text("r1".into()));
        assert_eq!(parse_value("-1").unwrap(), ParsedValue::Text("-1".into()));
        assert_eq!(parse_value("inf").unwrap(), ParsedValue::Text("inf".into()));
        assert_eq!(parse_value(""), Err(ValueError::Empty));
        assert_eq!(parse_value("[1-2"), Err(ValueError::MismatchedBrackets));
        assert_eq!(parse_value("[1-2-3]"), Err(ValueError::OddRanges));
        assert_eq!(
            parse_value("[a-b]"),
            Err(ValueError::BadRangeBound { token: "a".into() })
        );
        assert_eq!(
            parse_value("[5-1]"),
            Err(ValueError::InvertedRange { begin: 5, end: 1 })
        );
        assert_eq!(parse_value("x{a}"), Err(ValueError::UnexpectedBrace));
        assert_eq!(parse_value("x[1-2]"), Err(ValueError::UnexpectedBracket));
        assert_eq!(parse_value("1e-310"), Err(ValueError::Subnormal));
    }
}

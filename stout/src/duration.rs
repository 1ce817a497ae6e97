//! `Duration`: a signed span of time in nanoseconds, parsed and printed in Mesos's notation
//! (`10secs`, `1.5mins`, `500ms`), as stout's `duration.hpp` does.
//!
//! Units: `ns`, `us`, `ms`, `secs`, `mins`, `hrs`, `days`, `weeks` (case-sensitive, no space between
//! number and unit). Printing picks the largest unit in which the value is at least 1, unless the value is
//! not a whole number there but is one in the next smaller unit (`90secs` rather than `1.5mins`), and
//! prints the value with 15 significant digits, as C++'s `operator<<` with `digits10` precision does.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

const NANOSECOND: i64 = 1;
const MICROSECOND: i64 = 1000 * NANOSECOND;
const MILLISECOND: i64 = 1000 * MICROSECOND;
const SECOND: i64 = 1000 * MILLISECOND;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// The units Mesos accepts, with their length in nanoseconds.
const UNITS: [(&str, i64); 8] = [
    ("ns", NANOSECOND),
    ("us", MICROSECOND),
    ("ms", MILLISECOND),
    ("secs", SECOND),
    ("mins", MINUTE),
    ("hrs", HOUR),
    ("days", DAY),
    ("weeks", WEEK),
];

/// Fractional digits past this many are ignored when parsing (they are worth far less than a nanosecond).
const MAX_FRACTION_DIGITS: usize = 20;

/// Why a [`Duration`] could not be parsed or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// The text has no unit after its number (`"10"`), or is empty.
    #[error("invalid duration '{input}'")]
    Invalid {
        /// The text given.
        input: String,
    },
    /// The number in front of the unit is not a decimal number (`"secs"`, `"1.2.3secs"`).
    #[error("invalid duration '{input}': '{number}' is not a number")]
    InvalidNumber {
        /// The text given.
        input: String,
        /// The part that should have been a number.
        number: String,
    },
    /// The unit is not one Mesos knows.
    #[error(
        "unknown duration unit '{unit}'; supported units are \
         'ns', 'us', 'ms', 'secs', 'mins', 'hrs', 'days', and 'weeks'"
    )]
    UnknownUnit {
        /// The unit given.
        unit: String,
    },
    /// The value does not fit in a signed 64-bit count of nanoseconds (about 292 years).
    #[error("duration out of the range a 64-bit count of nanoseconds can represent")]
    OutOfRange,
    /// A negative duration cannot become a `std::time::Duration`.
    #[error("negative duration {0} has no std::time::Duration equivalent")]
    Negative(Duration),
}

/// A span of time, a signed count of nanoseconds, like stout's `Duration`.
///
/// Negative durations exist (the difference of two instants can be one).
/// Constructors from a count of a larger unit saturate at [`Duration::MAX`] / [`Duration::MIN`];
/// `+`, `-` and `*` by an integer panic on overflow, as `std::time::Duration` does.
///
/// ```
/// use stout::Duration;
/// let d: Duration = "1.5mins".parse().unwrap();
/// assert_eq!(d, Duration::from_secs(90));
/// assert_eq!(d.to_string(), "90secs");
/// assert_eq!(Duration::from_mins(60).to_string(), "1hrs");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(i64);

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);
    /// The longest duration, `i64::MAX` nanoseconds.
    pub const MAX: Duration = Duration(i64::MAX);
    /// The most negative duration, `i64::MIN` nanoseconds.
    pub const MIN: Duration = Duration(i64::MIN);

    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Duration {
        Duration(nanos)
    }

    /// A duration of `micros` microseconds (saturating).
    pub const fn from_micros(micros: i64) -> Duration {
        Duration(micros.saturating_mul(MICROSECOND))
    }

    /// A duration of `millis` milliseconds (saturating).
    pub const fn from_millis(millis: i64) -> Duration {
        Duration(millis.saturating_mul(MILLISECOND))
    }

    /// A duration of `secs` seconds (saturating).
    pub const fn from_secs(secs: i64) -> Duration {
        Duration(secs.saturating_mul(SECOND))
    }

    /// A duration of `mins` minutes (saturating).
    pub const fn from_mins(mins: i64) -> Duration {
        Duration(mins.saturating_mul(MINUTE))
    }

    /// A duration of `hours` hours (saturating).
    pub const fn from_hours(hours: i64) -> Duration {
        Duration(hours.saturating_mul(HOUR))
    }

    /// A duration of `days` days of 24 hours (saturating).
    pub const fn from_days(days: i64) -> Duration {
        Duration(days.saturating_mul(DAY))
    }

    /// A duration of `weeks` weeks of 7 days (saturating).
    pub const fn from_weeks(weeks: i64) -> Duration {
        Duration(weeks.saturating_mul(WEEK))
    }

    /// A duration of `secs` seconds, truncated to whole nanoseconds, like stout's `Duration::create`.
    ///
    /// Fails with [`DurationError::OutOfRange`] when `secs` is not finite or does not fit.
    pub fn from_secs_f64(secs: f64) -> Result<Duration, DurationError> {
        let nanos = secs * SECOND as f64;
        // `i64::MAX as f64` rounds up to 2^63, which is itself out of range.
        if !nanos.is_finite() || nanos >= i64::MAX as f64 || nanos < i64::MIN as f64 {
            return Err(DurationError::OutOfRange);
        }
        Ok(Duration(nanos as i64))
    }

    /// The whole count of nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// The duration in microseconds, with a fraction.
    pub fn as_micros_f64(self) -> f64 {
        self.0 as f64 / MICROSECOND as f64
    }

    /// The duration in milliseconds, with a fraction.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / MILLISECOND as f64
    }

    /// The duration in seconds, with a fraction.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / SECOND as f64
    }

    /// Whether the duration is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// `self + rhs`, or `None` on overflow.
    pub const fn checked_add(self, rhs: Duration) -> Option<Duration> {
        match self.0.checked_add(rhs.0) {
            Some(nanos) => Some(Duration(nanos)),
            None => None,
        }
    }

    /// `self - rhs`, or `None` on overflow.
    pub const fn checked_sub(self, rhs: Duration) -> Option<Duration> {
        match self.0.checked_sub(rhs.0) {
            Some(nanos) => Some(Duration(nanos)),
            None => None,
        }
    }

    /// `self + rhs`, clamped to [`Duration::MIN`]..=[`Duration::MAX`].
    pub const fn saturating_add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }

    /// `self - rhs`, clamped to [`Duration::MIN`]..=[`Duration::MAX`].
    pub const fn saturating_sub(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Duration {
    /// Prints as stout's `operator<<` does: `10secs`, `1.5secs`, `90secs`, `2hrs`, `1weeks`, `-3ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut nanos = self.0;
        if nanos < 0 {
            f.write_str("-")?;
            // Like stout, print `Duration::MIN` as the negation of `Duration::MAX`.
            nanos = nanos.checked_neg().unwrap_or(i64::MAX);
        }

        // Find the bucket the value falls into; inside it, use the bucket's unit unless the value
        // is not whole there but is whole in the unit one step down.
        let buckets = [
            (MICROSECOND, MILLISECOND, "us", NANOSECOND, "ns"),
            (MILLISECOND, SECOND, "ms", MICROSECOND, "us"),
            (SECOND, MINUTE, "secs", MILLISECOND, "ms"),
            (MINUTE, HOUR, "mins", SECOND, "secs"),
            (HOUR, DAY, "hrs", MINUTE, "mins"),
            (DAY, WEEK, "days", HOUR, "hrs"),
            (WEEK, i64::MAX, "weeks", DAY, "days"),
        ];
        if nanos < MICROSECOND {
            return write!(f, "{nanos}ns");
        }
        let &(unit, _, name, smaller, smaller_name) = buckets
            .iter()
            .find(|(_, upper, ..)| nanos < *upper)
            .unwrap_or(&buckets[buckets.len() - 1]);
        let (unit, name) = if nanos % unit != 0 && nanos % smaller == 0 {
            (smaller, smaller_name)
        } else {
            (unit, name)
        };
        if unit == NANOSECOND {
            // stout prints the integer count of nanoseconds here.
            return write!(f, "{nanos}{name}");
        }
        f.write_str(&format_significant(nanos as f64 / unit as f64))?;
        f.write_str(name)
    }
}

/// Formats `value` as C's `printf("%.15g")` does (which is what a C++ stream with precision 15 prints):
/// 15 significant digits, trailing zeros dropped, scientific notation outside `1e-4 <= |v| < 1e15`.
fn format_significant(value: f64) -> String {
    const PRECISION: i32 = 15;
    if !value.is_finite() {
        return value.to_string();
    }
    // The exponent after rounding to PRECISION digits decides the notation, as in C.
    let scientific = format!("{:.*e}", (PRECISION - 1) as usize, value);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` output always has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponent is an integer");
    if (-4..PRECISION).contains(&exponent) {
        let decimals = (PRECISION - 1 - exponent) as usize;
        strip_fraction_zeros(&format!("{value:.decimals$}")).to_owned()
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            strip_fraction_zeros(mantissa),
            exponent.unsigned_abs()
        )
    }
}

/// `"1.500"` → `"1.5"`, `"2.000"` → `"2"`, `"100"` → `"100"`.
fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    /// Parses `<number><unit>` as stout's `Duration::parse`: the number is decimal digits with an
    /// optional fraction (`10`, `0.5`, `.5`), the unit one of `ns us ms secs mins hrs days weeks`.
    ///
    /// Two things differ from stout, both only accepting more: a leading `-` is allowed (stout's TODO),
    /// so every printed duration parses back; and the fraction is applied exactly in decimal rather
    /// than through a `double`, truncating toward zero to whole nanoseconds as stout does.
    fn from_str(s: &str) -> Result<Duration, DurationError> {
        let (negative, unsigned) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let split = unsigned
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| DurationError::Invalid {
                input: s.to_owned(),
            })?;
        let (number, unit_name) = unsigned.split_at(split);
        let invalid_number = || DurationError::InvalidNumber {
            input: s.to_owned(),
            number: number.to_owned(),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(invalid_number());
        }
        let unit = UNITS
            .iter()
            .find(|(name, _)| *name == unit_name)
            .map(|&(_, nanos)| nanos)
            .ok_or_else(|| DurationError::UnknownUnit {
                unit: unit_name.to_owned(),
            })?;

        // Whole part: exact, with overflow detection (digits only, so `parse` cannot fail otherwise).
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| DurationError::OutOfRange)?
        };
        let mut nanos = whole
            .checked_mul(i128::from(unit))
            .ok_or(DurationError::OutOfRange)?;
        // Fraction: floor(fraction * unit), exact for the first MAX_FRACTION_DIGITS digits.
        let fraction = &fraction[..fraction.len().min(MAX_FRACTION_DIGITS)];
        if !fraction.is_empty() {
            let digits: i128 = fraction.parse().map_err(|_| invalid_number())?;
            let scale = 10_i128.pow(fraction.len() as u32);
            nanos += digits * i128::from(unit) / scale;
        }
        if negative {
            nanos = -nanos;
        }
        i64::try_from(nanos)
            .map(Duration)
            .map_err(|_| DurationError::OutOfRange)
    }
}

impl TryFrom<std::time::Duration> for Duration {
    type Error = DurationError;

    /// Fails with [`DurationError::OutOfRange`] past `i64::MAX` nanoseconds.
    fn try_from(d: std::time::Duration) -> Result<Duration, DurationError> {
        i64::try_from(d.as_nanos())
            .map(Duration)
            .map_err(|_| DurationError::OutOfRange)
    }
}

impl TryFrom<Duration> for std::time::Duration {
    type Error = DurationError;

    /// Fails with [`DurationError::Negative`] for a negative duration.
    fn try_from(d: Duration) -> Result<std::time::Duration, DurationError> {
        u64::try_from(d.0)
            .map(std::time::Duration::from_nanos)
            .map_err(|_| DurationError::Negative(d))
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        self.checked_add(rhs)
            .expect("overflow when adding durations")
    }
}

impl Sub for Duration {
    type Output = Duration;
    fn sub(self, rhs: Duration) -> Duration {
        self.checked_sub(rhs)
            .expect("overflow when subtracting durations")
    }
}

impl AddAssign for Duration {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl SubAssign for Duration {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl Neg for Duration {
    type Output = Duration;
    fn neg(self) -> Duration {
        Duration(
            self.0
                .checked_neg()
                .expect("overflow when negating duration"),
        )
    }
}

impl Mul<i64> for Duration {
    type Output = Duration;
    fn mul(self, rhs: i64) -> Duration {
        Duration(
            self.0
                .checked_mul(rhs)
                .expect("overflow when multiplying duration"),
        )
    }
}

impl Div<i64> for Duration {
    type Output = Duration;
    /// Integer division, truncating toward zero. Panics when `rhs` is zero.
    fn div(self, rhs: i64) -> Duration {
        Duration(self.0 / rhs)
    }
}

impl Mul<f64> for Duration {
    type Output = Duration;
    /// Like stout's `operator*(double)`: truncates to whole nanoseconds (and saturates).
    fn mul(self, rhs: f64) -> Duration {
        Duration((self.0 as f64 * rhs) as i64)
    }
}

impl Div<f64> for Duration {
    type Output = Duration;
    /// Like stout's `operator/(double)`: truncates to whole nanoseconds (and saturates).
    fn div(self, rhs: f64) -> Duration {
        Duration((self.0 as f64 / rhs) as i64)
    }
}

impl MulAssign<i64> for Duration {
    fn mul_assign(&mut self, rhs: i64) {
        *self = *self * rhs;
    }
}

impl DivAssign<i64> for Duration {
    fn div_assign(&mut self, rhs: i64) {
        *self = *self / rhs;
    }
}

impl Sum for Duration {
    fn sum<I: Iterator<Item = Duration>>(iter: I) -> Duration {
        iter.fold(Duration::ZERO, Add::add)
    }
}

#[cfg(test)]
#[allow(clippy::approx_constant)] // stout's tests use truncated pi on purpose.
mod tests {
    use super::*;

    fn parse(s: &str) -> Duration {
        s.parse()
            .unwrap_or_else(|e| panic!("parsing {s:?} failed: {e}"))
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse("10ns"), Duration::from_nanos(10));
        assert_eq!(parse("100us"), Duration::from_micros(100));
        assert_eq!(parse("500ms"), Duration::from_millis(500));
        assert_eq!(parse("10secs"), Duration::from_secs(10));
        assert_eq!(parse("1mins"), Duration::from_mins(1));
        assert_eq!(parse("2hrs"), Duration::from_hours(2));
        assert_eq!(parse("3days"), Duration::from_days(3));
        assert_eq!(parse("1weeks"), Duration::from_weeks(1));
        assert_eq!(parse("0secs"), Duration::ZERO);
    }

    #[test]
    fn parses_fractions() {
        assert_eq!(parse("0.5secs"), Duration::from_millis(500));
        assert_eq!(parse(".5secs"), Duration::from_millis(500));
        assert_eq!(parse("1.secs"), Duration::from_secs(1));
        assert_eq!(parse("1.5mins"), Duration::from_secs(90));
        assert_eq!(
            parse("3.5hrs"),
            Duration::from_hours(3) + Duration::from_mins(30)
        );
        assert_eq!(parse("0.1secs"), Duration::from_millis(100));
        assert_eq!(parse("0.3secs"), Duration::from_millis(300));
        assert_eq!(
            parse("1.000000001secs"),
            Duration::from_nanos(1_000_000_001)
        );
        // Truncated toward zero to whole nanoseconds, as stout's static_cast does.
        assert_eq!(parse("1.9ns"), Duration::from_nanos(1));
        assert_eq!(parse("-1.9ns"), Duration::from_nanos(-1));
        assert_eq!(
            parse("0.33333333333333333333333333secs"),
            Duration::from_nanos(333_333_333)
        );
    }

    #[test]
    fn parses_negative_durations() {
        assert_eq!(parse("-3ms"), Duration::from_millis(-3));
        // 15 significant digits cannot hold 19 digits of nanoseconds: close, not equal.
        let min = parse(&Duration::MIN.to_string());
        assert!(min.is_negative());
        assert!(
            (min.as_nanos() - Duration::MIN.as_nanos()).abs() < 100_000,
            "{min:?}"
        );
    }

    #[test]
    fn rejects_malformed_durations() {
        let err = |s: &str| s.parse::<Duration>().unwrap_err();
        assert!(matches!(err(""), DurationError::Invalid { .. }));
        assert!(matches!(err("10"), DurationError::Invalid { .. }));
        assert!(matches!(err("secs"), DurationError::InvalidNumber { .. }));
        assert!(matches!(err(".secs"), DurationError::InvalidNumber { .. }));
        assert!(matches!(
            err("1.2.3secs"),
            DurationError::InvalidNumber { .. }
        ));
        assert!(matches!(
            err("--1secs"),
            DurationError::InvalidNumber { .. }
        ));
        assert!(matches!(err("10s"), DurationError::UnknownUnit { .. }));
        assert!(matches!(err("10 secs"), DurationError::UnknownUnit { .. }));
        assert!(matches!(err("10SECS"), DurationError::UnknownUnit { .. }));
        assert!(matches!(err("1e3secs"), DurationError::UnknownUnit { .. }));
        assert!(matches!(err("300years"), DurationError::UnknownUnit { .. }));
        assert!(matches!(err("16000weeks"), DurationError::OutOfRange));
        assert!(matches!(
            err("99999999999999999999999ns"),
            DurationError::OutOfRange
        ));
        assert_eq!(
            err("10s").to_string(),
            "unknown duration unit 's'; supported units are \
             'ns', 'us', 'ms', 'secs', 'mins', 'hrs', 'days', and 'weeks'"
        );
        assert_eq!(err("10").to_string(), "invalid duration '10'");
    }

    #[test]
    fn prints_like_stout() {
        let cases = [
            // From stout's own tests (3rdparty/stout/tests/duration_tests.cpp, OutputFormat).
            (Duration::from_nanos(1), "1ns"),
            (
                Duration::from_secs_f64(3.14159265358979).unwrap(),
                "3.141592653secs",
            ),
            (Duration::from_secs_f64(3.14).unwrap(), "3140ms"),
            (Duration::from_hours(10), "10hrs"),
            (Duration::from_hours(-10), "-10hrs"),
            (Duration::from_days(10), "10days"),
            (
                Duration::from_days(1) + Duration::from_hours(4) + Duration::from_mins(30),
                "1.1875days",
            ),
            (Duration::from_days(14), "2weeks"),
            (Duration::ZERO, "0ns"),
            (Duration::MAX, "15250.2844524715weeks"),
            (Duration::MIN, "-15250.2844524715weeks"),
            // Ours.
            (Duration::from_nanos(3), "3ns"),
            (Duration::from_nanos(3000), "3us"),
            (Duration::from_micros(3000), "3ms"),
            (Duration::from_millis(3000), "3secs"),
            (Duration::from_secs(60 * 3), "3mins"),
            (Duration::from_mins(60 * 3), "3hrs"),
            (Duration::from_hours(24 * 3), "3days"),
            (Duration::from_days(7 * 3), "3weeks"),
            (Duration::from_secs(10), "10secs"),
            (Duration::from_secs(1), "1secs"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_mins(1), "1mins"),
            (Duration::from_hours(2), "2hrs"),
            (Duration::from_weeks(1), "1weeks"),
            (Duration::from_days(10), "10days"),
            (Duration::from_secs(90), "90secs"),
            (Duration::from_mins(90), "90mins"),
            (Duration::from_nanos(1001), "1001ns"),
            (Duration::from_micros(1001), "1001us"),
            (Duration::from_millis(-3), "-3ms"),
            // Not whole in the bucket's unit nor the next smaller one: a fraction in the bucket's unit.
            (Duration::from_nanos(1_500_000_001), "1.500000001secs"),
            (Duration::from_nanos(1_000_100), "1.0001ms"),
            (Duration::from_micros(1_500_001), "1.500001secs"),
            (
                Duration::from_weeks(1) + Duration::from_hours(1),
                "1.00595238095238weeks",
            ),
            (
                Duration::from_hours(1) + Duration::from_millis(1),
                "1.00000027777778hrs",
            ),
        ];
        for (duration, text) in cases {
            assert_eq!(duration.to_string(), text, "{duration:?}");
        }
    }

    #[test]
    fn formats_fifteen_significant_digits_like_printf() {
        // Expected values from C's printf("%.15g").
        assert_eq!(format_significant(1.0), "1");
        assert_eq!(format_significant(1.5), "1.5");
        assert_eq!(format_significant(100.0), "100");
        assert_eq!(format_significant(1.0 / 3.0), "0.333333333333333");
        assert_eq!(format_significant(2.0 / 3.0), "0.666666666666667");
        assert_eq!(format_significant(9.999_999_999_999_999), "10");
        assert_eq!(format_significant(123_456_789_012_345.0), "123456789012345");
        assert_eq!(format_significant(1e15), "1e+15");
        assert_eq!(format_significant(1.5e-5), "1.5e-05");
        assert_eq!(format_significant(0.0001), "0.0001");
    }

    #[test]
    fn converts_to_and_from_std() {
        let std = std::time::Duration::from_millis(1500);
        let ours = Duration::try_from(std).unwrap();
        assert_eq!(ours, Duration::from_millis(1500));
        assert_eq!(std::time::Duration::try_from(ours).unwrap(), std);
        assert_eq!(
            std::time::Duration::try_from(Duration::from_secs(-1)),
            Err(DurationError::Negative(Duration::from_secs(-1)))
        );
        assert_eq!(
            Duration::try_from(std::time::Duration::MAX),
            Err(DurationError::OutOfRange)
        );
    }

    #[test]
    fn from_secs_f64_truncates_and_checks_range() {
        assert_eq!(
            Duration::from_secs_f64(1.5),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(
            Duration::from_secs_f64(-0.25),
            Ok(Duration::from_millis(-250))
        );
        // stout: "Duration can hold only 9.22337e9 seconds".
        assert_eq!(
            Duration::from_secs_f64(10.0 * 1e9),
            Err(DurationError::OutOfRange)
        );
        assert_eq!(
            Duration::from_secs_f64(-10.0 * 1e9),
            Err(DurationError::OutOfRange)
        );
        assert_eq!(
            Duration::from_secs_f64(3.141592653),
            Ok(Duration::from_nanos(3_141_592_653))
        );
        assert_eq!(
            Duration::from_secs_f64(f64::NAN),
            Err(DurationError::OutOfRange)
        );
    }

    #[test]
    fn arithmetic() {
        let d = Duration::from_secs(10);
        assert_eq!(d + Duration::from_secs(5), Duration::from_secs(15));
        assert_eq!(d - Duration::from_secs(15), Duration::from_secs(-5));
        assert_eq!(d * 3, Duration::from_secs(30));
        assert_eq!(d / 4, Duration::from_millis(2500));
        assert_eq!(d * 0.5, Duration::from_secs(5));
        assert_eq!(d / 3.0, Duration::from_nanos(3_333_333_333));
        assert_eq!(-d, Duration::from_secs(-10));
        assert_eq!(
            [d, d, d].into_iter().sum::<Duration>(),
            Duration::from_secs(30)
        );
        assert_eq!(Duration::MAX.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(Duration::MAX.saturating_add(d), Duration::MAX);
        assert_eq!(Duration::from_weeks(i64::MAX), Duration::MAX);
        assert!(Duration::from_secs(1) < Duration::from_mins(1));
        assert!((d.as_secs_f64() - 10.0).abs() < f64::EPSILON);
        assert_eq!(d.as_millis_f64(), 10_000.0);
        assert_eq!(Duration::from_nanos(1500).as_micros_f64(), 1.5);
    }

    #[test]
    #[should_panic(expected = "overflow when adding durations")]
    fn add_overflow_panics() {
        let _ = Duration::MAX + Duration::from_nanos(1);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    /// Durations that are a whole number of some unit, the common case in flags and configs.
    fn whole_durations() -> impl Strategy<Value = Duration> {
        let count = prop_oneof![-10_000_i64..10_000, any::<i64>()];
        (prop::sample::select(&UNITS[..]), count)
            .prop_map(|((_, unit), n)| Duration::from_nanos(n % (i64::MAX / unit) * unit))
    }

    fn durations() -> impl Strategy<Value = Duration> {
        prop_oneof![
            any::<i64>().prop_map(Duration::from_nanos),
            whole_durations(),
            (whole_durations(), -1000_i64..1000)
                .prop_map(|(d, ns)| d.saturating_add(Duration::from_nanos(ns))),
        ]
    }

    proptest! {
        #[test]
        fn print_then_parse_is_exact_for_whole_values(d in durations()) {
            // Exact when the value is a whole number of the unit printed. (No '.' is not enough:
            // 1000.999999999999999weeks rounds to 15 digits as "1001weeks".)
            let text = d.to_string();
            let unit_name = text.trim_start_matches(|c: char| c == '-' || c == '.' || c.is_ascii_digit());
            let &(_, unit) = UNITS.iter().find(|(name, _)| *name == unit_name).unwrap();
            if d.as_nanos() % unit == 0 {
                prop_assert_eq!(text.parse::<Duration>(), Ok(d), "{}", text);
            }
        }

        #[test]
        fn print_then_parse_is_within_fifteen_digits(d in durations()) {
            let text = d.to_string();
            let parsed: Duration = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            let error = (parsed.as_nanos() as i128 - d.as_nanos() as i128).unsigned_abs();
            let bound = d.as_nanos().unsigned_abs() as f64 * 1e-14 + 1.0;
            prop_assert!((error as f64) <= bound, "{:?} printed as {} parsed as {:?}", d, text, parsed);
        }

        #[test]
        fn printed_value_is_at_least_one_in_its_unit(d in durations()) {
            let text = d.to_string();
            let unsigned = text.strip_prefix('-').unwrap_or(&text);
            prop_assert!(unsigned == "0ns" || !unsigned.starts_with('0'), "{}", text);
        }

        #[test]
        fn parsing_never_panics(s in "-?[0-9.]{0,25}(ns|us|ms|secs|mins|hrs|days|weeks|x)?") {
            let _ = s.parse::<Duration>();
        }
    }
}

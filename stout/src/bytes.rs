//! `Bytes`: a size in bytes, parsed and printed in Mesos's notation (`512MB`, `1GB`), as stout's
//! `bytes.hpp` does.
//!
//! Units are powers of 1024: `B`, `KB`, `MB`, `GB`, `TB`, matched case-insensitively (`512mb` is
//! fine). The number must be a whole decimal number: stout rejects `1.5GB` ("fractional bytes"), and so
//! do we. Printing uses the largest unit in which the size is a whole number (`1536MB`, not `1.5GB`).

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Sub, SubAssign};
use std::str::FromStr;

const BYTE: u64 = 1;
const KILOBYTE: u64 = 1024 * BYTE;
const MEGABYTE: u64 = 1024 * KILOBYTE;
const GIGABYTE: u64 = 1024 * MEGABYTE;
const TERABYTE: u64 = 1024 * GIGABYTE;

/// Why a [`Bytes`] could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BytesError {
    /// The text has no unit after its number (`"100"`), or is empty.
    #[error("invalid bytes '{input}'")]
    Invalid {
        /// The text given.
        input: String,
    },
    /// The number has a fraction (`"1.5GB"`), which stout does not accept.
    #[error("fractional bytes '{input}'")]
    Fractional {
        /// The text given.
        input: String,
    },
    /// There are no digits in front of the unit (`"GB"`).
    #[error("invalid bytes '{input}': missing number")]
    MissingNumber {
        /// The text given.
        input: String,
    },
    /// The unit is not one of `B`, `KB`, `MB`, `GB`, `TB`.
    #[error("unknown bytes unit '{unit}'; supported units are 'B', 'KB', 'MB', 'GB', and 'TB'")]
    UnknownUnit {
        /// The unit given.
        unit: String,
    },
    /// The size does not fit in 64 bits.
    #[error("bytes '{input}' out of the range of a 64-bit count of bytes")]
    OutOfRange {
        /// The text given.
        input: String,
    },
}

/// A size in bytes, like stout's `Bytes`.
///
/// The `kilobytes()`…`terabytes()` accessors truncate, as stout's do. Constructors from a larger unit
/// saturate at `u64::MAX`; `+`, `-` and `*` panic on overflow (stout silently wraps).
///
/// ```
/// use stout::Bytes;
/// let b: Bytes = "1536MB".parse().unwrap();
/// assert_eq!(b, Bytes::from_megabytes(1536));
/// assert_eq!(b.to_string(), "1536MB");
/// assert_eq!(Bytes::from_gigabytes(2).to_string(), "2GB");
/// assert_eq!(b.gigabytes(), 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(u64);

impl Bytes {
    /// Zero bytes.
    pub const ZERO: Bytes = Bytes(0);
    /// The largest size, `u64::MAX` bytes.
    pub const MAX: Bytes = Bytes(u64::MAX);

    /// A size of `bytes` bytes.
    pub const fn new(bytes: u64) -> Bytes {
        Bytes(bytes)
    }

    /// A size of `kilobytes` KiB (saturating).
    pub const fn from_kilobytes(kilobytes: u64) -> Bytes {
        Bytes(kilobytes.saturating_mul(KILOBYTE))
    }

    /// A size of `megabytes` MiB (saturating).
    pub const fn from_megabytes(megabytes: u64) -> Bytes {
        Bytes(megabytes.saturating_mul(MEGABYTE))
    }

    /// A size of `gigabytes` GiB (saturating).
    pub const fn from_gigabytes(gigabytes: u64) -> Bytes {
        Bytes(gigabytes.saturating_mul(GIGABYTE))
    }

    /// A size of `terabytes` TiB (saturating).
    pub const fn from_terabytes(terabytes: u64) -> Bytes {
        Bytes(terabytes.saturating_mul(TERABYTE))
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }

    /// Whole KiB, truncated.
    pub const fn kilobytes(self) -> u64 {
        self.0 / KILOBYTE
    }

    /// Whole MiB, truncated. Mesos's `mem` and `disk` resources are in MB: this is the conversion.
    pub const fn megabytes(self) -> u64 {
        self.0 / MEGABYTE
    }

    /// Whole GiB, truncated.
    pub const fn gigabytes(self) -> u64 {
        self.0 / GIGABYTE
    }

    /// Whole TiB, truncated.
    pub const fn terabytes(self) -> u64 {
        self.0 / TERABYTE
    }

    /// `self + rhs`, or `None` on overflow.
    pub const fn checked_add(self, rhs: Bytes) -> Option<Bytes> {
        match self.0.checked_add(rhs.0) {
            Some(bytes) => Some(Bytes(bytes)),
            None => None,
        }
    }

    /// `self - rhs`, or `None` when `rhs` is larger.
    pub const fn checked_sub(self, rhs: Bytes) -> Option<Bytes> {
        match self.0.checked_sub(rhs.0) {
            Some(bytes) => Some(Bytes(bytes)),
            None => None,
        }
    }

    /// `self - rhs`, or zero when `rhs` is larger.
    pub const fn saturating_sub(self, rhs: Bytes) -> Bytes {
        Bytes(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Bytes {
    /// Prints in the largest unit that loses nothing, as stout does: `0B`, `1023B`, `1KB`, `1536MB`,
    /// `1GB`, `2048TB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (value, unit) = if self.0 == 0 || !self.0.is_multiple_of(KILOBYTE) {
            (self.0, "B")
        } else if !self.kilobytes().is_multiple_of(1024) {
            (self.kilobytes(), "KB")
        } else if !self.megabytes().is_multiple_of(1024) {
            (self.megabytes(), "MB")
        } else if !self.gigabytes().is_multiple_of(1024) {
            (self.gigabytes(), "GB")
        } else {
            (self.terabytes(), "TB")
        };
        write!(f, "{value}{unit}")
    }
}

impl FromStr for Bytes {
    type Err = BytesError;

    /// Parses `<digits><unit>` as stout's `Bytes::parse`: `100B`, `10KB`, `512MB`, `1GB`, `1TB`
    /// (unit case-insensitive, no space, no fraction, no sign).
    fn from_str(s: &str) -> Result<Bytes, BytesError> {
        let split = s
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| BytesError::Invalid {
                input: s.to_owned(),
            })?;
        let (number, unit_name) = s.split_at(split);
        if unit_name.starts_with('.') {
            return Err(BytesError::Fractional {
                input: s.to_owned(),
            });
        }
        if number.is_empty() {
            return Err(BytesError::MissingNumber {
                input: s.to_owned(),
            });
        }
        let unit = match unit_name.to_ascii_uppercase().as_str() {
            "B" => BYTE,
            "KB" => KILOBYTE,
            "MB" => MEGABYTE,
            "GB" => GIGABYTE,
            "TB" => TERABYTE,
            _ => {
                return Err(BytesError::UnknownUnit {
                    unit: unit_name.to_owned(),
                });
            }
        };
        let out_of_range = || BytesError::OutOfRange {
            input: s.to_owned(),
        };
        // Digits only, so the only way `parse` fails is overflow.
        let value: u64 = number.parse().map_err(|_| out_of_range())?;
        value.checked_mul(unit).map(Bytes).ok_or_else(out_of_range)
    }
}

impl From<u64> for Bytes {
    fn from(bytes: u64) -> Bytes {
        Bytes(bytes)
    }
}

impl From<Bytes> for u64 {
    fn from(bytes: Bytes) -> u64 {
        bytes.0
    }
}

impl Add for Bytes {
    type Output = Bytes;
    fn add(self, rhs: Bytes) -> Bytes {
        self.checked_add(rhs).expect("overflow when adding bytes")
    }
}

impl Sub for Bytes {
    type Output = Bytes;
    fn sub(self, rhs: Bytes) -> Bytes {
        self.checked_sub(rhs)
            .expect("overflow when subtracting bytes")
    }
}

impl AddAssign for Bytes {
    fn add_assign(&mut self, rhs: Bytes) {
        *self = *self + rhs;
    }
}

impl SubAssign for Bytes {
    fn sub_assign(&mut self, rhs: Bytes) {
        *self = *self - rhs;
    }
}

impl Mul<u64> for Bytes {
    type Output = Bytes;
    fn mul(self, rhs: u64) -> Bytes {
        Bytes(
            self.0
                .checked_mul(rhs)
                .expect("overflow when multiplying bytes"),
        )
    }
}

impl Div<u64> for Bytes {
    type Output = Bytes;
    /// Integer division, truncating. Panics when `rhs` is zero.
    fn div(self, rhs: u64) -> Bytes {
        Bytes(self.0 / rhs)
    }
}

impl MulAssign<u64> for Bytes {
    fn mul_assign(&mut self, rhs: u64) {
        *self = *self * rhs;
    }
}

impl DivAssign<u64> for Bytes {
    fn div_assign(&mut self, rhs: u64) {
        *self = *self / rhs;
    }
}

impl Sum for Bytes {
    fn sum<I: Iterator<Item = Bytes>>(iter: I) -> Bytes {
        iter.fold(Bytes::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Bytes {
        s.parse()
            .unwrap_or_else(|e| panic!("parsing {s:?} failed: {e}"))
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse("100B"), Bytes::new(100));
        assert_eq!(parse("10KB"), Bytes::new(10 * 1024));
        assert_eq!(parse("512MB"), Bytes::from_megabytes(512));
        assert_eq!(parse("1GB"), Bytes::new(1 << 30));
        assert_eq!(parse("1TB"), Bytes::new(1 << 40));
        assert_eq!(parse("0B"), Bytes::ZERO);
        // Units are case-insensitive, as stout upper-cases them.
        assert_eq!(parse("512mb"), Bytes::from_megabytes(512));
        assert_eq!(parse("1Gb"), Bytes::from_gigabytes(1));
        assert_eq!(parse("007KB"), Bytes::from_kilobytes(7));
    }

    #[test]
    fn rejects_malformed_sizes() {
        let err = |s: &str| s.parse::<Bytes>().unwrap_err();
        assert!(matches!(err(""), BytesError::Invalid { .. }));
        assert!(matches!(err("100"), BytesError::Invalid { .. }));
        assert!(matches!(err("1.5GB"), BytesError::Fractional { .. }));
        assert!(matches!(err("GB"), BytesError::MissingNumber { .. }));
        assert!(matches!(err("-1GB"), BytesError::MissingNumber { .. }));
        assert!(matches!(err("1PB"), BytesError::UnknownUnit { .. }));
        assert!(matches!(err("1 GB"), BytesError::UnknownUnit { .. }));
        assert!(matches!(err("1KiB"), BytesError::UnknownUnit { .. }));
        assert!(matches!(err("16777216TB"), BytesError::OutOfRange { .. }));
        assert!(matches!(
            err("99999999999999999999B"),
            BytesError::OutOfRange { .. }
        ));
        assert_eq!(err("1.5GB").to_string(), "fractional bytes '1.5GB'");
    }

    #[test]
    fn prints_like_stout() {
        let cases = [
            (Bytes::ZERO, "0B"),
            (Bytes::new(1), "1B"),
            (Bytes::new(1023), "1023B"),
            (Bytes::new(1025), "1025B"),
            (Bytes::new(1024), "1KB"),
            (Bytes::from_kilobytes(1023), "1023KB"),
            (Bytes::from_kilobytes(1024), "1MB"),
            (Bytes::from_megabytes(512), "512MB"),
            (Bytes::from_megabytes(1536), "1536MB"),
            (Bytes::from_gigabytes(1), "1GB"),
            (Bytes::from_terabytes(1), "1TB"),
            (Bytes::from_terabytes(2048), "2048TB"),
            (Bytes::MAX, "18446744073709551615B"),
        ];
        for (bytes, text) in cases {
            assert_eq!(bytes.to_string(), text, "{bytes:?}");
        }
    }

    #[test]
    fn unit_accessors_truncate() {
        let b = Bytes::from_megabytes(1536) + Bytes::new(1);
        assert_eq!(b.kilobytes(), 1536 * 1024);
        assert_eq!(b.megabytes(), 1536);
        assert_eq!(b.gigabytes(), 1);
        assert_eq!(b.terabytes(), 0);
        assert_eq!(u64::from(b), 1536 * 1024 * 1024 + 1);
    }

    #[test]
    fn arithmetic() {
        let b = Bytes::from_megabytes(10);
        assert_eq!(b + b, Bytes::from_megabytes(20));
        assert_eq!(b - Bytes::from_megabytes(4), Bytes::from_megabytes(6));
        assert_eq!(b * 3, Bytes::from_megabytes(30));
        assert_eq!(b / 4, Bytes::from_kilobytes(2560));
        assert_eq!(Bytes::ZERO.checked_sub(b), None);
        assert_eq!(Bytes::ZERO.saturating_sub(b), Bytes::ZERO);
        assert_eq!([b, b].into_iter().sum::<Bytes>(), Bytes::from_megabytes(20));
        assert_eq!(Bytes::from_terabytes(u64::MAX), Bytes::MAX);
        let mut c = b;
        c += b;
        c -= Bytes::from_megabytes(5);
        c *= 2;
        c /= 3;
        assert_eq!(c, Bytes::from_megabytes(10));
    }

    #[test]
    #[should_panic(expected = "overflow when subtracting bytes")]
    fn sub_underflow_panics() {
        let _ = Bytes::ZERO - Bytes::new(1);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    fn sizes() -> impl Strategy<Value = Bytes> {
        let units = vec![BYTE, KILOBYTE, MEGABYTE, GIGABYTE, TERABYTE];
        prop_oneof![
            any::<u64>().prop_map(Bytes::new),
            (prop::sample::select(units), any::<u64>())
                .prop_map(|(unit, n)| Bytes::new(n % (u64::MAX / unit) * unit)),
        ]
    }

    proptest! {
        #[test]
        fn print_then_parse_is_exact(b in sizes()) {
            let text = b.to_string();
            prop_assert_eq!(text.parse::<Bytes>(), Ok(b), "{}", text);
        }

        #[test]
        fn prints_the_largest_whole_unit(b in sizes()) {
            let text = b.to_string();
            let digits = text.trim_end_matches(char::is_alphabetic);
            let value: u64 = digits.parse().unwrap();
            // Had the value been a multiple of 1024 (and the unit not TB), a larger unit was due.
            prop_assert!(value == 0 || !value.is_multiple_of(1024) || text.ends_with("TB"), "{}", text);
        }

        #[test]
        fn parsing_never_panics(s in "[0-9.-]{0,25}[a-zA-Z]{0,3}") {
            let _ = s.parse::<Bytes>();
        }
    }
}

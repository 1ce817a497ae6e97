//! Fixed-point scalar amounts: Mesos keeps three decimal digits of precision
//! (`src/common/values.cpp`), so `0.1 + 0.2 == 0.3` and repeated arithmetic never drifts.
//!
//! A [`Quantity`] stores integer thousandths. Conversions from `f64` round to the nearest
//! thousandth (half away from zero, as `llround`); conversions back to `f64` divide the
//! integer and fractional parts separately, as upstream does, so that the same fixed value
//! always yields the same double.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

/// Thousandths per unit.
const SCALE: i64 = 1000;

/// A scalar amount in Mesos's fixed-point precision (integer thousandths).
///
/// Arithmetic is exact and saturating at the `i64` limits; it may go negative (callers
/// such as [`ResourceQuantities`](super::ResourceQuantities) drop non-positive entries).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i64);

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity(0);

    /// The quantity nearest to `value` (rounded to thousandths, half away from zero).
    /// NaN maps to zero and infinities saturate.
    pub fn from_f64(value: f64) -> Quantity {
        // `as` saturates on overflow and maps NaN to 0.
        Quantity((value * SCALE as f64).round() as i64)
    }

    /// The quantity `units` (an integer amount, e.g. a count of ports).
    pub const fn from_units(units: i64) -> Quantity {
        Quantity(units.saturating_mul(SCALE))
    }

    /// The quantity of `millis` thousandths.
    pub const fn from_millis(millis: i64) -> Quantity {
        Quantity(millis)
    }

    /// The amount in thousandths.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// The canonical `f64` for this amount.
    pub fn as_f64(self) -> f64 {
        let quotient = (self.0 / SCALE) as f64;
        let remainder = (self.0 % SCALE) as f64 / SCALE as f64;
        quotient + remainder
    }

    /// Whether this is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Whether this is strictly positive.
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// `self - other`, or zero if that would be negative.
    pub const fn saturating_sub_zero(self, other: Quantity) -> Quantity {
        let diff = self.0.saturating_sub(other.0);
        Quantity(if diff < 0 { 0 } else { diff })
    }
}

/// Rounds `value` to Mesos's fixed-point precision: the `f64` that Mesos stores after
/// any arithmetic on it.
pub fn round_scalar(value: f64) -> f64 {
    Quantity::from_f64(value).as_f64()
}

impl From<f64> for Quantity {
    fn from(value: f64) -> Quantity {
        Quantity::from_f64(value)
    }
}

impl From<Quantity> for f64 {
    fn from(quantity: Quantity) -> f64 {
        quantity.as_f64()
    }
}

impl Add for Quantity {
    type Output = Quantity;
    fn add(self, rhs: Quantity) -> Quantity {
        Quantity(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Quantity {
    fn add_assign(&mut self, rhs: Quantity) {
        *self = *self + rhs;
    }
}

impl Sub for Quantity {
    type Output = Quantity;
    fn sub(self, rhs: Quantity) -> Quantity {
        Quantity(self.0.saturating_sub(rhs.0))
    }
}

impl SubAssign for Quantity {
    fn sub_assign(&mut self, rhs: Quantity) {
        *self = *self - rhs;
    }
}

impl Neg for Quantity {
    type Output = Quantity;
    fn neg(self) -> Quantity {
        Quantity(self.0.saturating_neg())
    }
}

impl Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::ZERO, Add::add)
    }
}

/// Prints the shortest decimal form: `4`, `0.5`, `1.125`.
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / SCALE as u64;
        let frac = abs % SCALE as u64;
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let digits = format!("{frac:03}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_thousandths() {
        assert_eq!(Quantity::from_f64(0.1).millis(), 100);
        assert_eq!(Quantity::from_f64(0.0004).millis(), 0);
        assert_eq!(Quantity::from_f64(0.0005).millis(), 1);
        assert_eq!(Quantity::from_f64(-0.0005).millis(), -1);
        assert_eq!(Quantity::from_f64(1.9999).millis(), 2000);
        assert_eq!(Quantity::from_f64(f64::NAN).millis(), 0);
    }

    #[test]
    fn arithmetic_does_not_drift() {
        let mut total = Quantity::ZERO;
        for _ in 0..10_000 {
            total += Quantity::from_f64(0.1);
        }
        assert_eq!(total, Quantity::from_units(1000));
        assert_eq!(total.as_f64(), 1000.0);
        assert_eq!(
            Quantity::from_f64(0.1) + Quantity::from_f64(0.2),
            Quantity::from_f64(0.3)
        );
        assert_eq!(
            (Quantity::from_f64(0.1) + Quantity::from_f64(0.2)).as_f64(),
            0.3
        );
    }

    #[test]
    fn canonical_double() {
        assert_eq!(Quantity::from_millis(1500).as_f64(), 1.5);
        assert_eq!(Quantity::from_millis(-1500).as_f64(), -1.5);
        assert_eq!(round_scalar(0.30000000000000004), 0.3);
    }

    #[test]
    fn display() {
        assert_eq!(Quantity::from_millis(4000).to_string(), "4");
        assert_eq!(Quantity::from_millis(500).to_string(), "0.5");
        assert_eq!(Quantity::from_millis(1125).to_string(), "1.125");
        assert_eq!(Quantity::from_millis(-20).to_string(), "-0.02");
    }

    #[test]
    fn saturating_sub_zero() {
        let one = Quantity::from_units(1);
        let two = Quantity::from_units(2);
        assert_eq!(one.saturating_sub_zero(two), Quantity::ZERO);
        assert_eq!(two.saturating_sub_zero(one), one);
    }
}

//! `Uuid`: random (v4) UUIDs as Mesos uses them, like stout's `uuid.hpp`.
//!
//! On the wire Mesos carries UUIDs two ways: as 16 raw bytes in protobuf `bytes` fields (status update
//! UUIDs, `acknowledge.uuid`, which must be exactly 16 bytes) and as the canonical 36-character
//! lowercase string (`Mesos-Stream-Id`, operation UUIDs in JSON). This type converts between the two.

use std::fmt;
use std::str::FromStr;

/// Why bytes or text are not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UuidError {
    /// A binary UUID must be exactly 16 bytes.
    #[error("invalid uuid: expected 16 bytes, got {len}")]
    InvalidLength {
        /// The number of bytes given.
        len: usize,
    },
    /// The text is not a UUID.
    #[error("invalid uuid '{input}'")]
    InvalidString {
        /// The text given.
        input: String,
        /// What the `uuid` crate found wrong.
        #[source]
        source: ::uuid::Error,
    },
}

/// A UUID, usually a random one.
///
/// ```
/// use stout::Uuid;
/// let id = Uuid::random();
/// assert_eq!(Uuid::from_bytes(id.as_bytes()).unwrap(), id);
/// assert_eq!(id.to_string().parse::<Uuid>().unwrap(), id);
/// assert_eq!(id.to_string().len(), 36);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid(::uuid::Uuid);

impl Uuid {
    /// A new random (version 4) UUID.
    pub fn random() -> Uuid {
        Uuid(::uuid::Uuid::new_v4())
    }

    /// The nil UUID, all zeros.
    pub const fn nil() -> Uuid {
        Uuid(::uuid::Uuid::nil())
    }

    /// The UUID in `bytes`, which must be exactly 16 bytes (a protobuf `bytes` field, say).
    pub fn from_bytes(bytes: &[u8]) -> Result<Uuid, UuidError> {
        <[u8; 16]>::try_from(bytes)
            .map(|bytes| Uuid(::uuid::Uuid::from_bytes(bytes)))
            .map_err(|_| UuidError::InvalidLength { len: bytes.len() })
    }

    /// Parses a UUID's text: the canonical hyphenated form, and also the 32-digit simple form, the
    /// braced form and the `urn:uuid:` form, in either case.
    pub fn parse_str(s: &str) -> Result<Uuid, UuidError> {
        ::uuid::Uuid::parse_str(s)
            .map(Uuid)
            .map_err(|source| UuidError::InvalidString {
                input: s.to_owned(),
                source,
            })
    }

    /// The 16 bytes, big-endian as in RFC 4122.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// The 16 bytes, as an owned array.
    pub const fn to_bytes(self) -> [u8; 16] {
        *self.0.as_bytes()
    }

    /// Whether this is the nil UUID.
    pub fn is_nil(&self) -> bool {
        self.0.is_nil()
    }
}

impl fmt::Display for Uuid {
    /// The canonical form: 36 lowercase characters, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for Uuid {
    type Err = UuidError;

    /// Same as [`Uuid::parse_str`].
    fn from_str(s: &str) -> Result<Uuid, UuidError> {
        Uuid::parse_str(s)
    }
}

impl TryFrom<&[u8]> for Uuid {
    type Error = UuidError;

    /// Same as [`Uuid::from_bytes`].
    fn try_from(bytes: &[u8]) -> Result<Uuid, UuidError> {
        Uuid::from_bytes(bytes)
    }
}

impl From<[u8; 16]> for Uuid {
    fn from(bytes: [u8; 16]) -> Uuid {
        Uuid(::uuid::Uuid::from_bytes(bytes))
    }
}

impl From<Uuid> for [u8; 16] {
    fn from(uuid: Uuid) -> [u8; 16] {
        uuid.to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_uuids_are_v4_and_distinct() {
        let a = Uuid::random();
        let b = Uuid::random();
        assert_ne!(a, b);
        assert_eq!(a.as_bytes()[6] >> 4, 4, "version nibble");
        assert_eq!(a.as_bytes()[8] >> 6, 0b10, "RFC 4122 variant");
        assert!(!a.is_nil());
    }

    #[test]
    fn round_trips_through_bytes_and_text() {
        let id = Uuid::random();
        assert_eq!(Uuid::from_bytes(&id.to_bytes()).unwrap(), id);
        assert_eq!(Uuid::try_from(&id.as_bytes()[..]).unwrap(), id);
        assert_eq!(Uuid::from(<[u8; 16]>::from(id)), id);
        assert_eq!(id.to_string().parse::<Uuid>().unwrap(), id);
    }

    #[test]
    fn prints_canonical_lowercase() {
        let id: Uuid = "6BA7B810-9DAD-11D1-80B4-00C04FD430C8".parse().unwrap();
        assert_eq!(id.to_string(), "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
        assert_eq!(id.as_bytes()[..4], [0x6b, 0xa7, 0xb8, 0x10]);
        let simple: Uuid = "6ba7b8109dad11d180b400c04fd430c8".parse().unwrap();
        assert_eq!(simple, id);
        assert_eq!(
            Uuid::nil().to_string(),
            "00000000-0000-0000-0000-000000000000"
        );
    }

    #[test]
    fn rejects_wrong_lengths_and_text() {
        assert_eq!(
            Uuid::from_bytes(&[0; 15]),
            Err(UuidError::InvalidLength { len: 15 })
        );
        assert_eq!(
            Uuid::from_bytes(&[0; 36]).unwrap_err().to_string(),
            "invalid uuid: expected 16 bytes, got 36"
        );
        let err = "not-a-uuid".parse::<Uuid>().unwrap_err();
        assert!(matches!(err, UuidError::InvalidString { .. }));
        assert_eq!(err.to_string(), "invalid uuid 'not-a-uuid'");
    }
}

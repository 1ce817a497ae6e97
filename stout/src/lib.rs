//! stout: std-like vocabulary shared by every crate of the workspace.
//!
//! Durations and byte sizes in Mesos's notation (`10secs`, `512MB`), RecordIO framing,
//! UUIDs and helpers for Mesos-style flags. Depends on no other crate of ours.
//!
//! | module | Mesos counterpart | what |
//! |---|---|---|
//! | [`duration`] | `stout/duration.hpp` | [`Duration`]: signed nanoseconds, `10secs`, `1.5mins` |
//! | [`bytes`] | `stout/bytes.hpp` | [`Bytes`]: sizes in powers of 1024, `512MB` |
//! | [`recordio`] | `stout/recordio.hpp` | `<len>\n<record>` framing of event streams |
//! | [`uuid`] | `stout/uuid.hpp` | [`Uuid`]: random v4, as 16 bytes or canonical text |
//! | [`flags`] | `stout/flags/` | Mesos's flag conventions on top of `clap` derive |
#![forbid(unsafe_code)]

pub mod bytes;
pub mod duration;
pub mod flags;
pub mod recordio;
pub mod uuid;

pub use self::bytes::{Bytes, BytesError};
pub use self::duration::{Duration, DurationError};
pub use self::flags::FlagError;
pub use self::recordio::RecordIoError;
pub use self::uuid::{Uuid, UuidError};

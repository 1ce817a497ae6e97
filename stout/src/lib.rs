//! stout: std-like vocabulary shared by every crate of the workspace.
//!
//! Durations and byte sizes in Mesos's notation (`10secs`, `512MB`), RecordIO framing,
//! UUIDs and helpers for Mesos-style flags. Depends on no other crate of ours.
#![forbid(unsafe_code)]

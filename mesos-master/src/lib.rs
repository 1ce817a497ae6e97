//! mesos-master: the Mesos master, written as libprocess actors.
//!
//! [`master`] holds the Master process and its helpers (agent observers, heartbeaters),
//! [`registrar`] the registry and its storage, [`allocator`] the hierarchical DRF
//! allocator, [`http`] the scheduler API, [`flags`] the command-line flags. Start a master
//! in-process with [`Master::start`].
#![forbid(unsafe_code)]

pub mod allocator;
pub mod flags;
pub mod http;
pub mod master;
pub mod registrar;

pub use flags::MasterFlags;
pub use master::{Master, MasterProcess};

//! mesos-master: the Mesos master, written as libprocess actors.
//!
//! Will hold the master process, the hierarchical DRF allocator, the registrar and the
//! v1 scheduler and operator HTTP APIs.
#![forbid(unsafe_code)]

pub mod allocator;

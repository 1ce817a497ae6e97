//! mesos-core: the Mesos protocol and the pure logic shared by master and agent.
//!
//! Will hold our own `.proto` definitions (wire-compatible with Mesos 1.11), their JSON
//! mapping, typed IDs, resources math and the DRF sorter. This crate does no IO.
#![forbid(unsafe_code)]

pub mod resources;
pub mod roles;
pub mod sorter;

//! mesos-core: the Mesos protocol and the pure logic shared by master and agent.
//!
//! Holds our own `.proto` definitions (wire-compatible with Mesos 1.11) and the
//! Rust types generated from them, their JSON mapping, typed IDs, resources
//! math and the DRF sorter. This crate does no IO.
//!
//! Protocol types, by package:
//!
//! | Rust path | protobuf package | what |
//! |---|---|---|
//! | [`v0`] | `mesos` | core types, "slave" naming (internal protocol, registry) |
//! | [`v1`] | `mesos.v1` | core types of the v1 HTTP APIs, "agent" naming |
//! | [`internal`] | `mesos.internal` | master <-> agent messages and the registry |
//! | [`registry`] | `mesos.internal` / `mesos.resource_provider.registry` | what the registrar stores |
//!
//! [`json`] maps any of these messages to and from JSON the way Mesos does;
//! [`convert`] turns v0 messages into their v1 twins and back.
#![forbid(unsafe_code)]

pub mod convert;
pub mod json;
pub mod proto;
pub mod resources;
pub mod roles;
pub mod sorter;

/// Package `mesos`: the v0 core types ("slave" naming), spoken between
/// master and agent and stored in the registry.
pub use proto::mesos as v0;

/// Package `mesos.v1`: the core types of the v1 HTTP APIs ("agent" naming),
/// with the API packages below it: [`v1::scheduler`], [`v1::executor`],
/// [`v1::master`], [`v1::agent`] (and `quota`, `maintenance`, `allocator`,
/// `resource_provider`).
pub use proto::mesos::v1;

/// Package `mesos.internal`: the libprocess messages between master, agents,
/// v0 drivers and executors, plus the registry's `Registry`.
pub use proto::mesos::internal;

/// What the registrar stores (`src/master/registry.proto` upstream).
pub mod registry {
    pub use crate::proto::mesos::internal::Registry;
    pub use crate::proto::mesos::internal::registry::*;
    /// Package `mesos.resource_provider.registry`: resource providers as the
    /// registry stores them.
    pub use crate::proto::mesos::resource_provider::registry as resource_provider;
}

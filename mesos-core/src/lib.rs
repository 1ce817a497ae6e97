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
#![forbid(unsafe_code)]

pub mod proto;
pub mod resources;
pub mod roles;
pub mod sorter;

/// Package `mesos`: the v0 core types ("slave" naming), spoken between
/// master and agent and stored in the registry.
pub use proto::mesos as v0;

/// Package `mesos.v1`: the core types of the v1 HTTP APIs ("agent" naming).
pub use proto::mesos::v1;

//! Shared helpers of the bench binaries: a tiny argv parser, result records printed as a table
//! or JSON lines, medians and RSS readings, and the shootout's workloads on every system.
//!
//! A bench binary parses its flags with [`args::Argv`] (the common ones through
//! [`args::CommonArgs`]), measures each workload `runs` times in fresh runtimes, keeps the
//! median with [`measure::median`], and prints the [`report::Record`]s with
//! [`report::render_table`] or [`report::Record::to_json`].
#![forbid(unsafe_code)]

pub mod args;
pub mod measure;
pub mod report;
pub mod shootout;

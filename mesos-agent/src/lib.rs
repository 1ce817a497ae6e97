//! mesos-agent: the Mesos agent, written as libprocess actors.
//!
//! - [`agent`]: the agent process (`slave(1)`): registration with the master, executors and
//!   their tasks, the executor API, the endpoints, recovery after a restart;
//! - [`status_update`]: the task status update manager (reliable, checkpointed updates);
//! - [`containerizer`]: the Mesos containerizer with its launchers and isolators;
//! - [`checkpoint`], [`paths`]: the agent's on-disk state and layout;
//! - [`flags`], [`detector`], [`resources`]: start-up;
//! - [`gc`], [`disk_watcher`], [`oversubscription`], the fetcher and the files process:
//!   auxiliary components.
//!
//! Unsafe code is denied everywhere but in [`containerizer::spawn`], which clones and
//! execs a container's first process.
#![deny(unsafe_code)]

pub mod agent;
pub mod checkpoint;
pub mod containerizer;
pub mod detector;
pub mod disk_watcher;
pub mod fetcher;
pub mod files;
pub mod flags;
pub mod gc;
pub mod oversubscription;
pub mod paths;
pub mod resources;
pub mod status_update;

pub use agent::{Agent, AgentError, AgentState};
pub use flags::Flags;

/// An error and its causes, `: `-separated, for logs and messages.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

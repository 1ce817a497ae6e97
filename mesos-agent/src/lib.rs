//! mesos-agent: the Mesos agent, written as libprocess actors.
//!
//! Holds the containerizer with its launchers and isolators ([`containerizer`]), the
//! agent's on-disk layout ([`paths`]) and host resource detection ([`resources`]); the
//! agent process, the executor API, the task status update manager, the fetcher and the
//! garbage collector come next.
//!
//! Unsafe code is denied everywhere but in [`containerizer::spawn`], which clones and
//! execs a container's first process.
#![deny(unsafe_code)]

pub mod containerizer;
pub mod disk_watcher;
pub mod gc;
pub mod oversubscription;
pub mod paths;
pub mod resources;

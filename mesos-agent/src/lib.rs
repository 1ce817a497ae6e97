//! mesos-agent: the Mesos agent, written as libprocess actors.
//!
//! Will hold the agent process, the containerizer with its launchers and isolators, the
//! executor API, the task status update manager, the fetcher and the garbage collector.
#![forbid(unsafe_code)]

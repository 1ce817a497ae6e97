//! The client side of Mesos's v1 HTTP APIs, for framework authors and for the agent's own
//! executors:
//!
//! - [`executor`]: the v1 executor library (`/api/v1/executor` on the agent), configured from
//!   the `MESOS_*` environment the agent gives every executor;
//! - [`scheduler`]: the v1 scheduler library (`/api/v1/scheduler` on the master);
//! - [`command_executor`]: the command executor, run by the agent as `mesos-executor` for
//!   tasks that bring a `CommandInfo` and no executor of their own.
//!
//! [`codec`] holds what they share: the content types and the RecordIO event stream.
//!
//! Everything here runs on the actor runtime of [`libprocess`] and speaks HTTP through
//! `libprocess::http::client`.

mod calls;
pub mod codec;
pub mod command_executor;
pub mod executor;
pub mod scheduler;

pub use codec::ContentType;

//! libprocess: an actor runtime in the spirit of Mesos's libprocess.
//!
//! A *process* is a struct implementing [`Process`]; [`Handle::spawn`] gives back its typed
//! address, a [`Pid<P>`]. Its state is touched only by its own events, served one at a time on
//! a pool of worker threads (CPUs+1 by default), so it needs no locks:
//!
//! - [`dispatch`] / [`call`] run a closure on the state (`call` returns a [`Future`]);
//! - [`defer`] turns a closure into a callback that dispatches when called, for
//!   `future.then(defer(&pid, ...))` continuations;
//! - [`delay`] dispatches after a duration, [`after`] is a future of a duration;
//! - named and protobuf messages ([`Context::install`], [`Context::send`]) addressed by
//!   [`Upid`] (`id@ip:port`), links and exit notices ([`Context::link`], [`Process::exited`]);
//! - [`terminate`] and [`wait`] end a process and wait for its `finalize`;
//! - HTTP routes ([`Context::route`], served on the runtime's socket, see [`http`]) and
//!   [`metrics`] (`/metrics/snapshot`).
//!
//! Each runtime has a [`Clock`]; with the `test-util` feature tests pause it, advance it and
//! `settle()` (wait until all queues are drained), and install message filters.
//!
//! ```
//! use libprocess::{Context, Process, Runtime, Pid, call, dispatch};
//!
//! struct Pong { pings: u32 }
//! impl Process for Pong {}
//!
//! struct Ping { pong: Pid<Pong> }
//! impl Process for Ping {
//!     fn initialize(&mut self, _ctx: &mut Context<'_, Self>) {
//!         dispatch(&self.pong, |p: &mut Pong| p.pings += 1);
//!     }
//! }
//!
//! let runtime = Runtime::new();
//! let pong = runtime.spawn(Pong { pings: 0 });
//! let ping = runtime.spawn(Ping { pong: pong.clone() });
//! // Once `ping` has served this call it has initialized, so its dispatch to `pong` is
//! // queued ahead of ours.
//! call(&ping, |_: &mut Ping| ()).get().unwrap();
//! assert_eq!(call(&pong, |p: &mut Pong| p.pings).get(), Ok(1));
//! ```

pub mod clock;
mod delay;
mod dispatch;
pub mod filter;
mod future;
pub mod http;
mod message;
pub mod metrics;
mod net;
mod pid;
mod process;
mod remote;
mod runtime;

pub use clock::{Clock, Timer};
pub use delay::{after, delay};
pub use dispatch::{
    call, call_future, defer, defer_future, dispatch, dispatch_with, send, spawn, spawn_with_id,
    terminate, terminate_with, wait,
};
pub use future::{Future, FutureError, Promise, await_all, collect};
pub use message::Message;
pub use net::NetError;
pub use pid::{ParseUpidError, Pid, Upid};
pub use process::{Context, Process};
pub use runtime::{Builder, EnterGuard, Handle, ProcessInfo, Runtime, SpawnError, current};

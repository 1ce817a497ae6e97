//! HTTP routes of processes, served on the runtime's socket, as libprocess's `route()`.
//!
//! A process registers routes in `initialize` with [`Context::route`] (or
//! [`Context::route_with`] and [`RouteOptions`]); route `/path` of process `id` answers
//! `http://<ip>:<port>/<id>/path`. Handlers run as events of their process, serialised with
//! its dispatches and messages, and return a [`Future`] of the [`Response`]; long work goes
//! on through [`defer`](crate::defer) and answers later.
//!
//! Routing, as libprocess:
//! - the first path segment, percent-decoded, is the process id (`/slave%281%29/state` is
//!   `slave(1)`'s `/state`);
//! - if it is not a live process, the request goes to the runtime's delegate
//!   ([`Handle::set_delegate`]) with the whole path as the route path: with delegate
//!   `master`, `/state` is `/master/state`;
//! - without an exact route, the longest registered parent path answers (`/api/v1/operator`
//!   goes to `/api/v1`; the handler sees the full path in [`Request::path`]);
//! - a trailing `/` is ignored; anything else gets `404`.
//!
//! Around that: a firewall ([`Handle::set_firewall`], [`DisabledEndpoints`]) answers `403`
//! before a request reaches its process; per-realm authentication
//! ([`Handle::set_authenticator`], [`BasicAuthenticator`]) answers `401` with a challenge or
//! fills [`Request::principal`]; `?jsonp=cb` wraps JSON answers as `cb(...)`; streamed
//! responses and request bodies go through a [`Pipe`]. Built in: `/__processes__` (every
//! process with its queue length and events served) and `/metrics/snapshot`
//! ([`crate::metrics`]). Libprocess messages posted on an HTTP connection are still
//! delivered, and skip the firewall.
//!
//! ```
//! use libprocess::{Context, Future, Process, Runtime};
//! use libprocess::http::{Response, RouteOptions};
//!
//! struct Counter { hits: u64 }
//!
//! impl Process for Counter {
//!     fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
//!         ctx.route("/hits", |me: &mut Counter, _ctx, _request| {
//!             me.hits += 1;
//!             Future::ready(Response::json(&serde_json::json!({ "hits": me.hits })))
//!         });
//!         ctx.route_with(
//!             "/reset",
//!             RouteOptions::new().realm("admin"),
//!             |me: &mut Counter, _ctx, request| {
//!                 me.hits = 0;
//!                 Future::ready(Response::ok(format!("reset by {:?}", request.principal)))
//!             },
//!         );
//!     }
//! }
//!
//! let runtime = Runtime::builder().ip("127.0.0.1".parse().unwrap()).port(0).build();
//! runtime.spawn_with_id("counter", Counter { hits: 0 }).unwrap();
//!
//! use std::io::{Read, Write};
//! let mut socket = std::net::TcpStream::connect(runtime.address()).unwrap();
//! socket.write_all(b"GET /counter/hits HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
//! let mut answer = String::new();
//! socket.read_to_string(&mut answer).unwrap();
//! assert!(answer.starts_with("HTTP/1.1 200 OK"));
//! assert!(answer.ends_with(r#"{"hits":1}"#));
//! ```
//!
//! [`Context::route`]: crate::Context::route
//! [`Context::route_with`]: crate::Context::route_with
//! [`Future`]: crate::Future
//! [`Handle::set_delegate`]: crate::Handle::set_delegate
//! [`Handle::set_firewall`]: crate::Handle::set_firewall
//! [`Handle::set_authenticator`]: crate::Handle::set_authenticator

mod auth;
mod builtins;
pub mod client;
mod firewall;
mod pipe;
mod request;
mod response;
pub(crate) mod route;
mod server;
mod state;

pub use ::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
pub use auth::{AuthenticationOutcome, Authenticator, BasicAuthenticator};
pub use firewall::{DisabledEndpoints, FirewallRule};
pub use pipe::{Pipe, PipeError, PipeReader, PipeWriter};
pub use request::{Body, Request, RequestError};
pub use response::Response;
pub use route::RouteOptions;

pub(crate) use builtins::start;
pub(crate) use server::serve;
pub(crate) use state::HttpState;

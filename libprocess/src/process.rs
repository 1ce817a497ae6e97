//! The [`Process`] trait and the [`Context`] its handlers run with.
//!
//! A process is plain state. The runtime serves its events one at a time, on at most one
//! worker at a time, so the state needs no locks: hooks and handlers get `&mut self`.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::future::Future;
use crate::http::route::RouteTable;
use crate::http::{Request, Response, RouteOptions};
use crate::message::Message;
use crate::pid::{Pid, Upid};
use crate::runtime::Handle;
use crate::runtime::cell::{Cell, Handler};

/// An actor: state plus hooks the runtime calls.
///
/// ```
/// use libprocess::{Context, Process, Runtime, Upid, call};
///
/// struct Greeter { greeted: Vec<String> }
///
/// impl Process for Greeter {
///     fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
///         ctx.install("hello", |me: &mut Greeter, _ctx, from, body| {
///             me.greeted.push(String::from_utf8_lossy(&body).into_owned());
///             let _ = from;
///         });
///     }
/// }
///
/// let runtime = Runtime::new();
/// let greeter = runtime.spawn(Greeter { greeted: vec![] });
/// runtime.send(&Upid::none(), &greeter, "hello", "world");
/// // A dispatch is served after the message (one mailbox, in order).
/// let seen = call(&greeter, |g: &mut Greeter| g.greeted.clone()).get().unwrap();
/// assert_eq!(seen, vec!["world".to_string()]);
/// ```
pub trait Process: Send + Sized + 'static {
    /// Runs first, before any queued event.
    fn initialize(&mut self, _ctx: &mut Context<'_, Self>) {}

    /// Runs when the process terminates; then its state is dropped.
    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {}

    /// Runs when a process this one linked to has exited (or its connection broke).
    fn exited(&mut self, _ctx: &mut Context<'_, Self>, _pid: &Upid) {}

    /// Runs for a message whose name has no installed handler. By default it is dropped.
    fn message(&mut self, _ctx: &mut Context<'_, Self>, message: Message) {
        tracing::debug!(name = %message.name, from = %message.from, "no handler for message; dropped");
    }
}

/// What a handler can do besides changing its state: learn its address, send, link, install
/// message handlers and HTTP routes.
pub struct Context<'a, P: Process> {
    cell: &'a Arc<Cell<P>>,
    owner_handlers: &'a mut HashMap<Box<str>, Handler<P>>,
    owner_routes: &'a mut RouteTable<P>,
}

impl<'a, P: Process> Context<'a, P> {
    pub(crate) fn new(
        cell: &'a Arc<Cell<P>>,
        owner_handlers: &'a mut HashMap<Box<str>, Handler<P>>,
        owner_routes: &'a mut RouteTable<P>,
    ) -> Self {
        Context {
            cell,
            owner_handlers,
            owner_routes,
        }
    }

    /// This process's typed address.
    pub fn pid(&self) -> Pid<P> {
        Pid {
            cell: self.cell.clone(),
        }
    }

    /// This process's address.
    pub fn upid(&self) -> &Upid {
        &self.cell.upid
    }

    /// The runtime this process runs on.
    pub fn runtime(&self) -> Handle {
        Handle {
            shared: self.cell.rt.clone(),
        }
    }

    /// Sends a named message from this process.
    pub fn send(&self, to: &Upid, name: impl Into<String>, body: impl Into<Bytes>) {
        self.cell.rt.send(Message {
            name: name.into(),
            from: self.cell.upid.clone(),
            to: to.clone(),
            body: body.into(),
        });
    }

    /// Sends a protobuf message from this process, named by its full type name.
    pub fn send_protobuf<M: prost::Message + prost::Name>(&self, to: &Upid, message: &M) {
        self.send(to, M::full_name(), message.encode_to_vec());
    }

    /// Links to `to`: when it terminates (or, remotely, when the connection to its runtime
    /// breaks), this process's [`Process::exited`] runs. Linking to a process that is not
    /// alive delivers `exited` at once.
    pub fn link(&mut self, to: &Upid) {
        self.cell.rt.link(&self.cell.upid, to, false);
    }

    /// As [`Context::link`], forcing a fresh connection to a remote runtime.
    pub fn relink(&mut self, to: &Upid) {
        self.cell.rt.link(&self.cell.upid, to, true);
    }

    /// Installs `handler` for messages named `name` (replacing any previous one).
    pub fn install<F>(&mut self, name: impl Into<Box<str>>, handler: F)
    where
        F: for<'x, 'y> Fn(&'x mut P, &'y mut Context<'_, P>, Upid, Bytes) + Send + Sync + 'static,
    {
        self.owner_handlers.insert(name.into(), Arc::new(handler));
    }

    /// Installs `handler` for protobuf messages of type `M`, keyed by `M`'s full name (e.g.
    /// `mesos.internal.RegisterSlaveMessage`), as libprocess's `ProtobufProcess::install`.
    /// A body that does not decode is logged and dropped.
    pub fn install_protobuf<M, F>(&mut self, handler: F)
    where
        M: prost::Message + prost::Name + Default + 'static,
        F: for<'x, 'y> Fn(&'x mut P, &'y mut Context<'_, P>, Upid, M) + Send + Sync + 'static,
    {
        self.install(
            M::full_name(),
            move |process: &mut P, ctx: &mut Context<'_, P>, from, body: Bytes| match M::decode(
                body,
            ) {
                Ok(message) => handler(process, ctx, from, message),
                Err(error) => tracing::warn!(
                    name = %M::full_name(), %from, %error, "cannot decode protobuf message; dropped"
                ),
            },
        );
    }

    /// Serves HTTP route `path` of this process (`/<id><path>`, and its sub-paths that have no
    /// route of their own) with `handler`, replacing any previous one. The handler runs as an
    /// event of this process; its future is the response. See [`crate::http`] for routing.
    ///
    /// ```
    /// use libprocess::{Context, Future, Process};
    /// use libprocess::http::Response;
    ///
    /// struct Master { frameworks: Vec<String> }
    /// impl Process for Master {
    ///     fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
    ///         ctx.route("/frameworks", |me: &mut Master, _ctx, _request| {
    ///             Future::ready(Response::json(&serde_json::json!(me.frameworks)))
    ///         });
    ///     }
    /// }
    /// ```
    pub fn route<F>(&mut self, path: &str, handler: F)
    where
        F: for<'x, 'y> Fn(&'x mut P, &'y mut Context<'_, P>, Request) -> Future<Response>
            + Send
            + Sync
            + 'static,
    {
        self.route_with(path, RouteOptions::default(), handler);
    }

    /// As [`Context::route`], with options: an authentication realm, streamed request bodies.
    pub fn route_with<F>(&mut self, path: &str, options: RouteOptions, handler: F)
    where
        F: for<'x, 'y> Fn(&'x mut P, &'y mut Context<'_, P>, Request) -> Future<Response>
            + Send
            + Sync
            + 'static,
    {
        self.owner_routes.insert(path, options, Arc::new(handler));
    }
}

//! Routes of a process and how an HTTP request is served inside it.
//!
//! A process registers routes with [`Context::route`]; they live in its cell, next to its
//! message handlers, and only its own events touch them. The server queues each request as an
//! HTTP event of the process; serving that event picks the route (the exact path, else the
//! longest registered parent path, as libprocess), then:
//!
//! 1. if the route's realm has an authenticator, authenticates (a rejection answers `401`/`403`);
//! 2. unless the route streams requests, reads the whole body (over the runtime's limit: `413`);
//! 3. runs the handler on the process's state; its future is the response.
//!
//! When authentication and the body are already at hand (the usual case: no authenticator or a
//! synchronous one, a body the server read before queueing), all of it happens in the one
//! event. Otherwise the handler runs in a later event of the same process, queued when both
//! are ready.

use std::collections::HashMap;
use std::sync::Arc;

use super::auth::AuthenticationOutcome;
use super::pipe::CollectError;
use super::request::{Body, Request};
use super::response::Response;
use crate::future::{Future, Promise};
use crate::process::{Context, Process};
use crate::runtime::cell::{Cell, Event, Handler};

/// How a route is served.
///
/// ```
/// use libprocess::http::RouteOptions;
/// let options = RouteOptions::new().realm("mesos-master-scheduler").request_streaming(true);
/// assert_eq!(options.realm_name(), Some("mesos-master-scheduler"));
/// assert!(options.is_request_streaming());
/// ```
#[derive(Debug, Clone, Default)]
pub struct RouteOptions {
    realm: Option<String>,
    request_streaming: bool,
}

impl RouteOptions {
    /// Defaults: no realm, whole request bodies.
    pub fn new() -> Self {
        RouteOptions::default()
    }

    /// Authenticates requests with the authenticator of `realm`, when the runtime has one.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Gives the handler the request body as a stream ([`Body::Stream`]) as soon as the head
    /// has arrived, instead of the whole body (libprocess's `requestStreaming`). The runtime's
    /// body size limit does not apply: the handler reads what it wants.
    pub fn request_streaming(mut self, streaming: bool) -> Self {
        self.request_streaming = streaming;
        self
    }

    /// The realm, if any.
    pub fn realm_name(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// Whether request bodies are streamed.
    pub fn is_request_streaming(&self) -> bool {
        self.request_streaming
    }
}

pub(crate) type RouteHandler<P> = Arc<
    dyn for<'a, 'b> Fn(&'a mut P, &'b mut Context<'_, P>, Request) -> Future<Response>
        + Send
        + Sync,
>;

struct Route<P: Process> {
    handler: RouteHandler<P>,
    options: RouteOptions,
}

/// The routes of one process, by name: the path without its leading and trailing `/`.
pub(crate) struct RouteTable<P: Process> {
    routes: HashMap<Box<str>, Route<P>>,
}

impl<P: Process> RouteTable<P> {
    pub(crate) fn new() -> Self {
        RouteTable {
            routes: HashMap::new(),
        }
    }

    pub(crate) fn insert(&mut self, path: &str, options: RouteOptions, handler: RouteHandler<P>) {
        let name = path.trim_matches('/');
        self.routes.insert(name.into(), Route { handler, options });
    }

    /// The route for `name`: itself, else its longest registered parent (`a/b/c`, `a/b`, `a`).
    /// The root route (`""`) answers only the bare process path, as in libprocess.
    fn find(&self, mut name: &str) -> Option<&Route<P>> {
        loop {
            if let Some(route) = self.routes.get(name) {
                return Some(route);
            }
            name = &name[..name.rfind('/')?];
        }
    }
}

/// An HTTP request for a process and the promise of its answer.
pub(crate) struct HttpEvent {
    pub(crate) request: Request,
    pub(crate) promise: Promise<Response>,
}

/// The route name of a routed path: without the process id and surrounding `/`.
fn route_name(path: &str) -> &str {
    let path = path.trim_start_matches('/');
    match path.split_once('/') {
        Some((_, rest)) => rest.trim_matches('/'),
        None => "",
    }
}

/// What a request needs before its handler runs: its principal and body, or the answer that
/// replaces the handler (`401`, `413`, ...).
type Prepared = Result<(Option<String>, Body), Box<Response>>;

fn prepare_body(body: Body, streaming: bool, limit: usize) -> Future<Result<Body, Box<Response>>> {
    match (body, streaming) {
        (Body::Stream(reader), false) => reader.collect(limit).map(|collected| match collected {
            Ok(bytes) => Ok(Body::Full(bytes)),
            Err(CollectError::TooLarge(limit)) => Err(Box::new(Response::payload_too_large(
                format!("Request body larger than {limit} bytes"),
            ))),
            Err(CollectError::Failed(message)) => Err(Box::new(Response::bad_request(format!(
                "Failed to read the request body: {message}"
            )))),
        }),
        (Body::Full(bytes), true) => {
            Future::ready(Ok(Body::Stream(Body::Full(bytes).into_stream())))
        }
        (body, _) => Future::ready(Ok(body)),
    }
}

fn rejection(outcome: AuthenticationOutcome) -> Result<String, Box<Response>> {
    match outcome {
        AuthenticationOutcome::Principal(principal) => Ok(principal),
        AuthenticationOutcome::Unauthorized { challenge } => {
            Err(Box::new(Response::unauthorized(&challenge)))
        }
        AuthenticationOutcome::Forbidden { reason } => Err(Box::new(Response::forbidden(reason))),
    }
}

/// Serves an HTTP event of the process in `cell` (see the module docs).
pub(crate) fn serve_event<P: Process>(
    cell: &Arc<Cell<P>>,
    state: &mut P,
    handlers: &mut HashMap<Box<str>, Handler<P>>,
    routes: &mut RouteTable<P>,
    event: HttpEvent,
) {
    let HttpEvent {
        mut request,
        promise,
    } = event;
    let Some(route) = routes.find(route_name(&request.path)) else {
        tracing::debug!(pid = %cell.upid, path = %request.path, "no route; answering 404");
        promise.set(Response::not_found());
        return;
    };
    let handler = route.handler.clone();
    let streaming = route.options.request_streaming;
    let limit = cell.rt.max_message_body;
    let authenticator = route
        .options
        .realm
        .as_deref()
        .and_then(|realm| cell.rt.http.authenticator(realm));
    let body = std::mem::take(&mut request.body);
    let prepared: Future<Prepared> = match authenticator {
        None => prepare_body(body, streaming, limit).map(|body| body.map(|body| (None, body))),
        Some(authenticator) => {
            authenticator
                .authenticate(&request)
                .then(move |outcome| match rejection(outcome) {
                    Ok(principal) => prepare_body(body, streaming, limit)
                        .map(move |body| body.map(|body| (Some(principal), body))),
                    Err(response) => Future::ready(Err(response)),
                })
        }
    };
    match prepared.value().cloned() {
        Some(Ok((principal, body))) => {
            request.principal = principal;
            request.body = body;
            let response = handler(state, &mut Context::new(cell, handlers, routes), request);
            promise.associate(response);
        }
        Some(Err(response)) => {
            promise.set(*response);
        }
        None => {
            let cell = cell.clone();
            let response = prepared.then(move |prepared| match prepared {
                Ok((principal, body)) => {
                    request.principal = principal;
                    request.body = body;
                    let answer = Promise::new();
                    let future = answer.future();
                    let run = move |state: &mut P, ctx: &mut Context<'_, P>| {
                        answer.associate(handler(state, ctx, request));
                    };
                    // A refused event drops `answer`: the response is abandoned (`503`).
                    let _ = cell.push(Event::Dispatch(crate::runtime::thunk::Thunk::new(run)));
                    future
                }
                Err(response) => Future::ready(*response),
            });
            promise.associate(response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::route_name;

    #[test]
    fn route_names() {
        assert_eq!(route_name("/master/state"), "state");
        assert_eq!(route_name("/master/state/"), "state");
        assert_eq!(route_name("/master/api/v1/scheduler"), "api/v1/scheduler");
        assert_eq!(route_name("/master"), "");
        assert_eq!(route_name("/master/"), "");
        assert_eq!(route_name("/slave%281%29/state"), "state");
    }
}

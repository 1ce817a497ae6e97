//! The HTTP firewall (disabled endpoints answer 403, messages are not checked) and Basic
//! authentication per realm (401 with a challenge, 200 with the principal).

mod http_support;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http_support::{Client, get, listening, wait_until};
use libprocess::http::{
    AuthenticationOutcome, Authenticator, BasicAuthenticator, DisabledEndpoints, Request, Response,
    RouteOptions,
};
use libprocess::{Context, Future, Process, Promise, call};

const REALM: &str = "mesos-master-readonly";

#[derive(Default)]
struct Master {
    messages: Vec<Bytes>,
}

impl Process for Master {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/state", |_: &mut Master, _ctx, _request| {
            Future::ready(Response::ok("state"))
        });
        ctx.route("/health", |_: &mut Master, _ctx, _request| {
            Future::ready(Response::ok("healthy"))
        });
        ctx.route_with(
            "/secret",
            RouteOptions::new().realm(REALM),
            |_: &mut Master, _ctx, request: Request| {
                Future::ready(Response::ok(format!(
                    "principal={}",
                    request.principal.as_deref().unwrap_or("none")
                )))
            },
        );
        ctx.install("hello", |me: &mut Master, _ctx, _from, body| {
            me.messages.push(body);
        });
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn firewall_disables_endpoints_with_403() {
    let rt = listening();
    let master = rt.spawn_with_id("master", Master::default()).unwrap();
    rt.set_delegate("master");
    rt.set_firewall(vec![Arc::new(DisabledEndpoints::new([
        "/state",
        "/master/hello",
    ]))]);
    for path in [
        "/master/state",
        "/state",
        "/master/state/",
        "/mast%65r/state",
    ] {
        let response = get(rt.address(), path);
        assert_eq!(response.status, 403, "{path}");
        assert!(
            response.text().contains("is disabled"),
            "{}",
            response.text()
        );
    }
    assert_eq!(get(rt.address(), "/master/health").status, 200);
    assert_eq!(get(rt.address(), "/health").status, 200);

    // Libprocess messages do not go through the firewall, also on an HTTP connection.
    let mut client = Client::connect(rt.address());
    assert_eq!(client.get("/master/health").status, 200);
    let body = "hi";
    client.send(
        format!(
            "POST /master/hello HTTP/1.1\r\nLibprocess-From: peer@127.0.0.1:1\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(client.response().status, 202);
    wait_until(|| {
        call(&master, |m: &mut Master| m.messages.len())
            .get()
            .unwrap()
            == 1
    });

    rt.set_firewall(Vec::new());
    assert_eq!(get(rt.address(), "/state").status, 200);
}

#[test]
fn basic_authentication_challenges_and_admits() {
    let rt = listening();
    rt.spawn_with_id("master", Master::default()).unwrap();
    // A realm without an authenticator is served unauthenticated.
    assert_eq!(get(rt.address(), "/master/secret").text(), "principal=none");

    let credentials = HashMap::from([("ops".to_string(), "s3cret".to_string())]);
    rt.set_authenticator(REALM, Arc::new(BasicAuthenticator::new(REALM, credentials)));
    let mut client = Client::connect(rt.address());

    let challenge = client.get("/master/secret");
    assert_eq!(challenge.status, 401);
    assert_eq!(
        challenge.header("www-authenticate"),
        Some("Basic realm=\"mesos-master-readonly\"")
    );

    client.send_get(
        "/master/secret",
        &[("Authorization", &basic("ops", "wrong"))],
    );
    assert_eq!(client.response().status, 401);

    client.send_get(
        "/master/secret",
        &[("Authorization", &basic("ops", "s3cret"))],
    );
    let admitted = client.response();
    assert_eq!(admitted.status, 200);
    assert_eq!(admitted.text(), "principal=ops");

    // Routes without a realm are not authenticated.
    assert_eq!(client.get("/master/state").status, 200);
}

/// Authentications waiting for an answer, with the user each request claims.
type Pending = Arc<parking_lot::Mutex<Vec<(Promise<AuthenticationOutcome>, Option<String>)>>>;

/// An authenticator that answers later, and forbids everyone but "root".
struct Later {
    pending: Pending,
}

impl Authenticator for Later {
    fn authenticate(&self, request: &Request) -> Future<AuthenticationOutcome> {
        let promise = Promise::new();
        let future = promise.future();
        let user = request.header("x-user").map(str::to_string);
        self.pending.lock().push((promise, user));
        future
    }

    fn scheme(&self) -> &str {
        "Later"
    }
}

#[test]
fn asynchronous_authenticators_and_forbidden() {
    let rt = listening();
    rt.spawn_with_id("master", Master::default()).unwrap();
    let pending: Pending = Arc::default();
    rt.set_authenticator(
        REALM,
        Arc::new(Later {
            pending: pending.clone(),
        }),
    );
    let address = rt.address();
    let resolver = std::thread::spawn(move || {
        for _ in 0..2 {
            wait_until(|| !pending.lock().is_empty());
            let (promise, user) = pending.lock().remove(0);
            promise.set(match user.as_deref() {
                Some("root") => AuthenticationOutcome::Principal("root".into()),
                _ => AuthenticationOutcome::Forbidden {
                    reason: "only root".into(),
                },
            });
        }
    });
    let mut client = Client::connect(address);
    client.send_get("/master/secret", &[("X-User", "root")]);
    assert_eq!(client.response().text(), "principal=root");
    client.send_get("/master/secret", &[("X-User", "eve")]);
    let forbidden = client.response();
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.text(), "only root");
    resolver.join().unwrap();
}

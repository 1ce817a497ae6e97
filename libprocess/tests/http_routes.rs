//! HTTP routes of processes over a real socket: serving and serialisation, the delegate,
//! longest-prefix matching, trailing slashes, 404s, percent-decoded ids, keep-alive and
//! pipelining, deferred answers, jsonp, and answers of processes that went away.

mod http_support;

use http_support::{Client, get, listening, wait_until};
use libprocess::http::{Request, Response};
use libprocess::{Context, Future, Pid, Process, Promise, call, defer, dispatch, terminate};

/// Counts events of both kinds; its routes read and bump the same state.
#[derive(Default)]
struct Tally {
    n: u64,
    seen: Vec<String>,
    parked: Vec<Promise<Response>>,
}

impl Process for Tally {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/n", |me: &mut Tally, _ctx, _request| {
            me.n += 1;
            Future::ready(Response::ok(me.n.to_string()))
        });
        ctx.route("/api/v1", |me: &mut Tally, _ctx, request: Request| {
            me.seen.push(request.path.clone());
            Future::ready(Response::ok(format!("api:{}", request.path)))
        });
        ctx.route("/api/v1/scheduler", |_: &mut Tally, _ctx, _request| {
            Future::ready(Response::ok("scheduler"))
        });
        ctx.route("/", |_: &mut Tally, ctx, _request| {
            Future::ready(Response::ok(format!("root of {}", ctx.upid().id())))
        });
        ctx.route("/state", |me: &mut Tally, _ctx, _request| {
            Future::ready(Response::json(&serde_json::json!({ "n": me.n })))
        });
        ctx.route("/later", |_: &mut Tally, ctx, _request| {
            // Answers in a later event of this process.
            Future::ready(5u64).then(defer(&ctx.pid(), |me: &mut Tally, v: u64| {
                me.n += v;
                Response::ok(format!("later {}", me.n))
            }))
        });
        ctx.route("/park", |me: &mut Tally, _ctx, _request| {
            let promise = Promise::new();
            let future = promise.future();
            me.parked.push(promise);
            future
        });
        ctx.route("/fail", |_: &mut Tally, _ctx, _request| {
            Future::failed("the handler gave up")
        });
    }
}

fn n(pid: &Pid<Tally>) -> u64 {
    call(pid, |t: &mut Tally| t.n).get().unwrap()
}

#[test]
fn route_is_served_and_serialised_with_dispatches() {
    let rt = listening();
    let pid = rt.spawn_with_id("tally", Tally::default()).unwrap();
    let address = rt.address();
    let requests = std::thread::spawn(move || {
        let mut client = Client::connect(address);
        let mut answers = Vec::new();
        for _ in 0..200 {
            let response = client.get("/tally/n");
            assert_eq!(response.status, 200);
            assert_eq!(
                response.header("content-type"),
                Some("text/plain; charset=utf-8")
            );
            answers.push(response.text().parse::<u64>().unwrap());
        }
        answers
    });
    for _ in 0..1000 {
        dispatch(&pid, |t: &mut Tally| t.n += 1);
    }
    let answers = requests.join().unwrap();
    // Every answer saw a distinct, growing count: requests and dispatches never interleave
    // inside an event, and all of them landed on the same state.
    assert!(answers.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(n(&pid), 1200);
}

#[test]
fn delegate_serves_paths_without_a_process_id() {
    let rt = listening();
    rt.spawn_with_id("master", Tally::default()).unwrap();
    assert_eq!(get(rt.address(), "/state").status, 404);
    rt.set_delegate("master");
    let state = get(rt.address(), "/state");
    assert_eq!(state.status, 200);
    assert_eq!(state.header("content-type"), Some("application/json"));
    assert_eq!(state.json(), serde_json::json!({ "n": 0 }));
    assert_eq!(get(rt.address(), "/master/state").status, 200);
    // The delegate gets the whole path as its route, and `/` is the delegate's root.
    assert_eq!(get(rt.address(), "/api/v1/scheduler").text(), "scheduler");
    assert_eq!(get(rt.address(), "/").text(), "root of master");
    assert_eq!(
        get(rt.address(), "/api/v1/operator").text(),
        "api:/master/api/v1/operator"
    );
    // A live process is not shadowed by the delegate.
    rt.spawn_with_id("other", Tally::default()).unwrap();
    assert_eq!(get(rt.address(), "/other").text(), "root of other");
    // Unknown paths of the delegate are still 404.
    assert_eq!(get(rt.address(), "/nope").status, 404);
}

#[test]
fn longest_registered_prefix_answers_and_sees_the_full_path() {
    let rt = listening();
    let pid = rt.spawn_with_id("master", Tally::default()).unwrap();
    let address = rt.address();
    assert_eq!(get(address, "/master/api/v1/scheduler").text(), "scheduler");
    assert_eq!(
        get(address, "/master/api/v1/operator").text(),
        "api:/master/api/v1/operator"
    );
    assert_eq!(
        get(address, "/master/api/v1/a/b/c").text(),
        "api:/master/api/v1/a/b/c"
    );
    assert_eq!(get(address, "/master/api/v1").text(), "api:/master/api/v1");
    // `/api` alone has no route, and the root route answers only the bare process path.
    assert_eq!(get(address, "/master/api").status, 404);
    assert_eq!(get(address, "/master/unknown").status, 404);
    assert_eq!(get(address, "/master").text(), "root of master");
    let seen = call(&pid, |t: &mut Tally| t.seen.clone()).get().unwrap();
    assert_eq!(seen.len(), 3);
}

#[test]
fn trailing_slash_is_ignored() {
    let rt = listening();
    rt.spawn_with_id("master", Tally::default()).unwrap();
    assert_eq!(get(rt.address(), "/master/state/").status, 200);
    assert_eq!(get(rt.address(), "/master/").text(), "root of master");
    assert_eq!(
        get(rt.address(), "/master/api/v1/scheduler/").text(),
        "scheduler"
    );
}

#[test]
fn unknown_process_or_route_is_404() {
    let rt = listening();
    rt.spawn_with_id("master", Tally::default()).unwrap();
    let unknown_process = get(rt.address(), "/nobody/state");
    assert_eq!(unknown_process.status, 404);
    assert_eq!(get(rt.address(), "/master/nothing/here").status, 404);
    assert_eq!(get(rt.address(), "/").status, 404);
    // Relative paths are refused, as libprocess.
    assert_eq!(get(rt.address(), "/master/../master/state").status, 404);
}

#[test]
fn process_ids_in_paths_are_percent_decoded() {
    let rt = listening();
    let id = rt.generate_id("slave");
    assert_eq!(id, "slave(1)");
    rt.spawn_with_id(id, Tally::default()).unwrap();
    let response = get(rt.address(), "/slave%281%29/state");
    assert_eq!(response.status, 200);
    assert_eq!(get(rt.address(), "/slave(1)/state").status, 200);
}

#[test]
fn keep_alive_and_pipelined_requests_are_answered_in_order() {
    let rt = listening();
    rt.spawn_with_id("tally", Tally::default()).unwrap();
    let mut client = Client::connect(rt.address());
    // Three requests in one write; the slow one (answered in a later event) comes first.
    client.send(
        b"GET /tally/later HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /tally/n HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /tally/state HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(client.response().text(), "later 5");
    assert_eq!(client.response().text(), "6");
    assert_eq!(client.response().json(), serde_json::json!({ "n": 6 }));
    // The connection is still usable.
    assert_eq!(client.get("/tally/n").text(), "7");
}

#[test]
fn jsonp_wraps_json_answers() {
    let rt = listening();
    rt.spawn_with_id("master", Tally::default()).unwrap();
    let response = get(rt.address(), "/master/state?jsonp=angular.callbacks._0");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/javascript"));
    assert_eq!(response.text(), "angular.callbacks._0({\"n\":0})");
    assert_eq!(
        response.header("content-length"),
        Some(response.body.len().to_string().as_str())
    );
    // Not JSON: untouched.
    let text = get(rt.address(), "/master/n?jsonp=cb");
    assert_eq!(text.text(), "1");
}

#[test]
fn failed_and_abandoned_answers() {
    let rt = listening();
    let pid = rt.spawn_with_id("tally", Tally::default()).unwrap();
    let failed = get(rt.address(), "/tally/fail");
    assert_eq!(failed.status, 500);
    assert_eq!(failed.text(), "the handler gave up");

    let mut client = Client::connect(rt.address());
    client.send_get("/tally/park", &[]);
    wait_until(|| {
        call(&pid, |t: &mut Tally| t.parked.len())
            .get()
            .unwrap_or(0)
            == 1
    });
    // The process dies with the promise of the answer: the client gets 503, not a hang.
    terminate(&pid);
    let abandoned = client.response();
    assert_eq!(abandoned.status, 503);
    // Requests to the gone process are 404.
    assert_eq!(get(rt.address(), "/tally/n").status, 404);
}

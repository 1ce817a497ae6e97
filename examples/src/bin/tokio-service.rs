//! The actor runtime inside an ordinary tokio program: two services, each a libprocess
//! runtime listening on its own loopback port, driven from async code.
//!
//! - service `counter` runs a process `counter@...` with an HTTP route (`GET /counter/stats`,
//!   JSON), a periodic timer (a tick every 100 ms, re-armed with `delay`), and a message
//!   handler: every `ping` from a peer is answered with a `pong` carrying the count so far;
//! - service `reporter` runs a process that pings the counter over the network every 250 ms
//!   and hands each `pong` to the tokio side through a channel;
//! - the tokio side (`#[tokio::main]`) awaits those pongs, calls into a process with
//!   `libprocess::call(..).await`, and reads the HTTP route with the runtime's HTTP client,
//!   also awaited, until `--seconds` (2) have passed or Ctrl-C.
//!
//! `cargo run -p examples --bin tokio-service -- [--seconds 2]`

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bytes::Bytes;
use libprocess::http::{Response, client};
use libprocess::{Context, Future, Pid, Process, Runtime, Upid, delay};
use tokio::sync::mpsc;

const TICK: Duration = Duration::from_millis(100);
const PING_EVERY: Duration = Duration::from_millis(250);

/// Counts ticks of its timer and the pings it answered.
#[derive(Default)]
struct Counter {
    ticks: u64,
    pings: u64,
}

impl Process for Counter {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/stats", |me: &mut Counter, _ctx, _request| {
            let body = format!(r#"{{"ticks": {}, "pings": {}}}"#, me.ticks, me.pings);
            Future::ready(Response::ok(body).with_header("content-type", "application/json"))
        });
        ctx.install("ping", |me: &mut Counter, ctx, from, _body: Bytes| {
            me.pings += 1;
            ctx.send(&from, "pong", format!("{} {}", me.ticks, me.pings));
        });
        Counter::tick(ctx.pid());
    }
}

impl Counter {
    /// One tick now, the next one `TICK` later.
    fn tick(pid: Pid<Counter>) {
        delay(TICK, &pid.clone(), move |me: &mut Counter| {
            me.ticks += 1;
            Counter::tick(pid);
        });
    }
}

/// Pings the counter periodically; passes every answer to the tokio side.
struct Reporter {
    counter: Upid,
    out: mpsc::UnboundedSender<String>,
}

impl Process for Reporter {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.install("pong", |me: &mut Reporter, _ctx, from, body: Bytes| {
            let _ = me.out.send(format!(
                "pong from {from}: {}",
                String::from_utf8_lossy(&body)
            ));
        });
        Reporter::ping(ctx.pid());
    }
}

impl Reporter {
    fn ping(pid: Pid<Reporter>) {
        delay(PING_EVERY, &pid.clone(), move |_: &mut Reporter| {
            libprocess::dispatch_with(&pid, |me: &mut Reporter, ctx| {
                ctx.send(&me.counter, "ping", Bytes::new());
            });
            Reporter::ping(pid);
        });
    }
}

fn parse_seconds() -> Result<f64, String> {
    let mut seconds = 2.0;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let value = match arg.as_str() {
            "--seconds" => it.next(),
            _ => match arg.strip_prefix("--seconds=") {
                Some(value) => Some(value.to_string()),
                None => return Err(format!("unknown argument {arg}")),
            },
        };
        seconds = value
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0)
            .ok_or("--seconds needs a positive number")?;
    }
    Ok(seconds)
}

fn main() {
    let seconds = match parse_seconds() {
        Ok(seconds) => seconds,
        Err(error) => {
            eprintln!("tokio-service: {error}\nusage: tokio-service [--seconds N]");
            std::process::exit(2);
        }
    };
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    // Two services, each its own runtime on its own port (as two programs would be).
    let counter_service = Runtime::builder().ip(loopback).port(0).build();
    let reporter_service = Runtime::builder().ip(loopback).port(0).build();
    let counter = counter_service
        .handle()
        .spawn_with_id("counter", Counter::default())
        .expect("a fresh runtime has no counter yet");
    let (tx, rx) = mpsc::unbounded_channel();
    let reporter = reporter_service.handle().spawn(Reporter {
        counter: counter.upid().clone(),
        out: tx,
    });
    println!(
        "counter service on {} (GET http://{}/counter/stats), reporter service on {}",
        counter_service.address(),
        counter_service.address(),
        reporter_service.address()
    );

    // The ordinary tokio part of the program.
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let stats_url = format!("http://{}/counter/stats", counter_service.address());
    tokio.block_on(serve(counter.clone(), stats_url, rx, seconds));

    libprocess::terminate(&reporter);
    libprocess::terminate(&counter);
    reporter_service.shutdown_timeout(Duration::from_secs(2));
    counter_service.shutdown_timeout(Duration::from_secs(2));
}

async fn serve(
    counter: Pid<Counter>,
    stats_url: String,
    mut pongs: mpsc::UnboundedReceiver<String>,
    seconds: f64,
) {
    let stop = tokio::time::sleep(Duration::from_secs_f64(seconds));
    tokio::pin!(stop);
    let mut report = tokio::time::interval(Duration::from_millis(500));
    let mut received = 0;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::signal::ctrl_c() => break,
            Some(pong) = pongs.recv() => {
                received += 1;
                println!("tokio: {pong}");
            }
            _ = report.tick() => {
                // A libprocess future is a std future: await a call into the process...
                let ticks = libprocess::call(&counter, |c: &mut Counter| c.ticks).await;
                // ...and the runtime's HTTP client, against the process's route.
                let stats = match client::get(&stats_url).await {
                    Ok(response) => String::from_utf8_lossy(
                        response.body_bytes().map(|b| b.as_ref()).unwrap_or_default(),
                    )
                    .into_owned(),
                    Err(error) => format!("unavailable ({error})"),
                };
                println!("tokio: counter at {ticks:?} ticks; GET /counter/stats -> {stats}");
            }
        }
    }
    println!("tokio: {received} pong(s) received; stopping");
}

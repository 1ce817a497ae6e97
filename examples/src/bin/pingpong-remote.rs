//! Ping-pong between two runtimes over the network, in libprocess's wire format.
//!
//! Serve: `pingpong-remote --ip 127.0.0.1 --port 5151` runs a process `pong` that answers every
//! message named `ping`, from any peer (a C++ libprocess too), with a message named `pong`
//! carrying the same body back to the sender.
//!
//! Ping: `pingpong-remote --ping pong@127.0.0.1:5151 --count 10000 [--size 100]` sends pings
//! one at a time and prints the round-trip rate and latency percentiles.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libprocess::{Context, Process, Promise, Runtime, Upid, dispatch};

/// Answers every `ping` with a `pong`.
struct Pong {
    served: u64,
}

impl Process for Pong {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.install("ping", |me: &mut Pong, ctx, from, body: Bytes| {
            me.served += 1;
            ctx.send(&from, "pong", body);
        });
    }
}

/// Sends `left` pings one after the other, timing each round trip.
struct Ping {
    target: Upid,
    body: Bytes,
    left: u64,
    sent_at: Instant,
    latencies: Vec<Duration>,
    done: Option<Promise<Vec<Duration>>>,
}

impl Process for Ping {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.install("pong", |me: &mut Ping, ctx, _from, _body| {
            me.latencies.push(me.sent_at.elapsed());
            me.next(ctx);
        });
    }
}

impl Ping {
    fn next(&mut self, ctx: &mut Context<'_, Self>) {
        if self.left == 0 {
            if let Some(done) = self.done.take() {
                done.set(std::mem::take(&mut self.latencies));
            }
            return;
        }
        self.left -= 1;
        self.sent_at = Instant::now();
        ctx.send(&self.target, "ping", self.body.clone());
    }
}

struct Args {
    ip: IpAddr,
    port: u16,
    ping: Option<Upid>,
    count: u64,
    size: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        ip: [127, 0, 0, 1].into(),
        port: 5151,
        ping: None,
        count: 10_000,
        size: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or(format!("{name} needs a value"))
        };
        match name.as_str() {
            "--ip" => args.ip = value()?.parse().map_err(|e| format!("--ip: {e}"))?,
            "--port" => args.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--ping" => args.ping = Some(value()?.parse().map_err(|e| format!("--ping: {e}"))?),
            "--count" => args.count = value()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--size" => args.size = value()?.parse().map_err(|e| format!("--size: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!(
                "error: {error}\nusage: pingpong-remote [--ip IP] [--port PORT] [--ping UPID --count N --size BYTES]"
            );
            std::process::exit(2);
        }
    };
    let port = if args.ping.is_some() { 0 } else { args.port };
    let runtime = match Runtime::builder().ip(args.ip).port(port).try_build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    };
    let Some(target) = args.ping else {
        let pong = runtime
            .spawn_with_id("pong", Pong { served: 0 })
            .expect("spawn pong");
        println!("serving {pong}: send it messages named 'ping'");
        libprocess::wait(&pong).get().ok();
        return;
    };
    let done = Promise::new();
    let finished = done.future();
    let ping = runtime.spawn(Ping {
        target,
        body: Bytes::from(vec![b'x'; args.size]),
        left: args.count,
        sent_at: Instant::now(),
        latencies: Vec::with_capacity(args.count as usize),
        done: Some(done),
    });
    let started = Instant::now();
    libprocess::dispatch_with(&ping, |p: &mut Ping, ctx: &mut Context<'_, Ping>| {
        p.next(ctx)
    });
    if !finished.await_for(Duration::from_secs(120)) {
        eprintln!("error: no answer from the peer within 120 s");
        std::process::exit(1);
    }
    let elapsed = started.elapsed();
    let mut latencies = finished.get().expect("pings done");
    latencies.sort();
    println!(
        "{} round trips of {} bytes in {:.3} s: {:.0} round trips/s, p50 {:.1} us, p99 {:.1} us",
        latencies.len(),
        args.size,
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
    dispatch(&ping, |_p: &mut Ping| ());
}

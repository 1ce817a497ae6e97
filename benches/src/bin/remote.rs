//! Remote messaging between two OS processes over loopback, in libprocess's wire format.
//!
//! `cargo run --release -p benches --bin remote -- [--json] [--runs N] [--only a,b]`
//!
//! The binary starts a copy of itself (`--serve`) as the receiving OS process, then measures:
//! - `ping-pong`: one pair, one message in flight: round trips/s and the `p50`/`p99` latency;
//! - `fan-in-S-B`: S sender processes (1, 10, 100) in this OS process send B-byte bodies (100 B,
//!   10 KiB) to one receiver in the other: messages/s at the receiver. Each sender keeps a
//!   window of messages in flight (the receiver acknowledges every quarter window), as C++
//!   libprocess's throughput benchmark keeps 250 in flight per client.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use benches::args::{Argv, CommonArgs};
use benches::measure::median;
use benches::report::{Better, Record, render_table};
use bytes::Bytes;
use libprocess::{Context, Pid, Process, Promise, Runtime, Upid, dispatch_with};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SENDERS: [usize; 3] = [1, 10, 100];
const SIZES: [(usize, &str); 2] = [(100, "100B"), (10 * 1024, "10KiB")];
/// Bytes in flight across all senders.
const IN_FLIGHT_BYTES: usize = 8 << 20;

// ---------------------------------------------------------------- the receiving OS process

/// Answers `ping` with `pong`.
struct Pong;

impl Process for Pong {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.install("ping", |_me: &mut Pong, ctx, from, body: Bytes| {
            ctx.send(&from, "pong", body)
        });
    }
}

/// Counts `n` messages; acknowledges each sender every `ack_every`; says `done` at the end.
#[derive(Default)]
struct Sink {
    expected: u64,
    received: u64,
    ack_every: u64,
    per_sender: HashMap<Upid, u64>,
    coordinator: Option<Upid>,
}

impl Process for Sink {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.install("start", |me: &mut Sink, ctx, from, body: Bytes| {
            me.expected = u64::from_be_bytes(body[..8].try_into().expect("8 bytes"));
            me.ack_every = u64::from_be_bytes(body[8..16].try_into().expect("8 bytes"));
            me.received = 0;
            me.per_sender.clear();
            ctx.send(&from, "ready", "");
            me.coordinator = Some(from);
        });
        ctx.install("n", |me: &mut Sink, ctx, from, _body| {
            me.received += 1;
            let count = me.per_sender.entry(from.clone()).or_insert(0);
            *count += 1;
            if (*count).is_multiple_of(me.ack_every) {
                ctx.send(&from, "ack", count.to_be_bytes().to_vec());
            }
            if me.received == me.expected
                && let Some(coordinator) = &me.coordinator
            {
                ctx.send(coordinator, "done", "");
            }
        });
    }
}

fn serve() -> anyhow::Result<()> {
    let runtime = Runtime::builder().ip(LOCALHOST).port(0).try_build()?;
    runtime.spawn_with_id("pong", Pong)?;
    runtime.spawn_with_id("sink", Sink::default())?;
    println!("READY {}", runtime.address().port());
    // Serve until the parent closes our stdin.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    Ok(())
}

// ---------------------------------------------------------------- the sending OS process

/// Sends pings one at a time and records each round trip.
struct Pinger {
    target: Upid,
    body: Bytes,
    left: u64,
    sent_at: Instant,
    latencies: Vec<Duration>,
    done: Option<Promise<Vec<Duration>>>,
}

impl Process for Pinger {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.install("pong", |me: &mut Pinger, ctx, _from, _body| {
            me.latencies.push(me.sent_at.elapsed());
            me.next(ctx);
        });
    }
}

impl Pinger {
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

/// Sends `total` messages keeping at most `window` unacknowledged.
struct Sender {
    sink: Upid,
    body: Bytes,
    total: u64,
    sent: u64,
    acked: u64,
    window: u64,
}

impl Process for Sender {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.install("ack", |me: &mut Sender, ctx, _from, body: Bytes| {
            me.acked = u64::from_be_bytes(body[..8].try_into().expect("8 bytes"));
            me.fill(ctx);
        });
    }
}

impl Sender {
    fn fill(&mut self, ctx: &mut Context<'_, Self>) {
        while self.sent < self.total && self.sent - self.acked < self.window {
            ctx.send(&self.sink, "n", self.body.clone());
            self.sent += 1;
        }
    }
}

/// Completes its promises when the sink says `ready` and `done`.
struct Waiter {
    ready: Option<Promise<()>>,
    done: Option<Promise<()>>,
}

impl Process for Waiter {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.install("ready", |me: &mut Waiter, _ctx, _from, _body| {
            if let Some(ready) = me.ready.take() {
                ready.set(());
            }
        });
        ctx.install("done", |me: &mut Waiter, _ctx, _from, _body| {
            if let Some(done) = me.done.take() {
                done.set(());
            }
        });
    }
}

fn ping_pong(runtime: &Runtime, peer: &Upid, round_trips: u64) -> anyhow::Result<(f64, f64, f64)> {
    let done = Promise::new();
    let finished = done.future();
    let pinger = runtime.spawn(Pinger {
        target: peer.with_id("pong"),
        body: Bytes::from(vec![b'p'; 100]),
        left: round_trips,
        sent_at: Instant::now(),
        latencies: Vec::with_capacity(round_trips as usize),
        done: Some(done),
    });
    let started = Instant::now();
    dispatch_with(&pinger, |p: &mut Pinger, ctx: &mut Context<'_, Pinger>| {
        p.next(ctx)
    });
    if !finished.await_for(Duration::from_secs(120)) {
        bail!("ping-pong did not finish in 120 s");
    }
    let elapsed = started.elapsed();
    let mut latencies = finished.get().expect("finished");
    libprocess::terminate(&pinger);
    latencies.sort();
    let pct =
        |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6;
    Ok((
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
    ))
}

fn fan_in(
    runtime: &Runtime,
    peer: &Upid,
    senders: usize,
    size: usize,
    total: u64,
) -> anyhow::Result<f64> {
    let window = (IN_FLIGHT_BYTES / (size * senders)).clamp(8, 4096) as u64;
    let ack_every = (window / 4).max(1);
    let per_sender = total / senders as u64;
    let total = per_sender * senders as u64;
    let (ready, done) = (Promise::new(), Promise::new());
    let (started_up, finished) = (ready.future(), done.future());
    let waiter = runtime.spawn(Waiter {
        ready: Some(ready),
        done: Some(done),
    });
    let sink = peer.with_id("sink");
    let mut start = total.to_be_bytes().to_vec();
    start.extend_from_slice(&ack_every.to_be_bytes());
    runtime.send(waiter.upid(), &sink, "start", start);
    // Keep connection set-up out of the timing.
    if !started_up.await_for(Duration::from_secs(30)) {
        bail!("the receiving process did not answer");
    }
    let body = Bytes::from(vec![b'x'; size]);
    let pids: Vec<Pid<Sender>> = (0..senders)
        .map(|_| {
            runtime.spawn(Sender {
                sink: sink.clone(),
                body: body.clone(),
                total: per_sender,
                sent: 0,
                acked: 0,
                window,
            })
        })
        .collect();
    let started = Instant::now();
    for pid in &pids {
        dispatch_with(pid, |s: &mut Sender, ctx: &mut Context<'_, Sender>| {
            s.fill(ctx)
        });
    }
    if !finished.await_for(Duration::from_secs(120)) {
        bail!("fan-in {senders}x{size}B did not finish in 120 s");
    }
    let elapsed = started.elapsed();
    for pid in &pids {
        libprocess::terminate(pid);
    }
    libprocess::terminate(&waiter);
    Ok(total as f64 / elapsed.as_secs_f64())
}

fn workloads() -> Vec<String> {
    let mut names = vec!["ping-pong".to_string()];
    for senders in SENDERS {
        for (_, label) in SIZES {
            names.push(format!("fan-in-{senders}-{label}"));
        }
    }
    names
}

fn main() -> anyhow::Result<()> {
    let mut argv = Argv::from_env();
    if argv.flag("--serve") {
        argv.finish()?;
        return serve();
    }
    if argv.flag("--help") || argv.flag("-h") {
        println!(
            "usage: remote [options]\n\n{}\n  --scale F         multiply message counts by F (default 1)\n\nworkloads: {}",
            CommonArgs::HELP,
            workloads().join(", ")
        );
        return Ok(());
    }
    let common = CommonArgs::parse(&mut argv)?;
    let scale: f64 = argv.value("--scale")?.unwrap_or(1.0);
    argv.finish()?;
    let names = workloads();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    common.check_names(&name_refs, &["libprocess"])?;

    let mut child = Command::new(std::env::current_exe()?)
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("start the receiving process")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    let port: u16 = line
        .trim()
        .strip_prefix("READY ")
        .context("child did not start")?
        .parse()?;
    let peer = Upid::new("", (LOCALHOST, port).into());
    let runtime = Runtime::builder().ip(LOCALHOST).port(0).try_build()?;

    let mut samples: HashMap<String, Vec<f64>> = HashMap::new();
    let scaled = |n: f64| ((n * scale) as u64).max(100);
    for run in 1..=common.runs {
        if common.wants_workload("ping-pong") {
            let (rate, p50, p99) = ping_pong(&runtime, &peer, scaled(20_000.0))?;
            eprintln!("run {run}: ping-pong {rate:.0} rt/s, p50 {p50:.1} us, p99 {p99:.1} us");
            samples.entry("ping-pong".into()).or_default().push(rate);
            samples.entry("ping-pong-p50".into()).or_default().push(p50);
            samples.entry("ping-pong-p99".into()).or_default().push(p99);
        }
        for senders in SENDERS {
            for (size, label) in SIZES {
                let name = format!("fan-in-{senders}-{label}");
                if !common.wants_workload(&name) {
                    continue;
                }
                let total = if size > 1000 {
                    scaled(60_000.0)
                } else {
                    scaled(600_000.0)
                };
                let rate = fan_in(&runtime, &peer, senders, size, total)?;
                eprintln!("run {run}: {name} {rate:.0} msg/s");
                samples.entry(name).or_default().push(rate);
            }
        }
    }
    drop(child.stdin.take());
    let _ = child.wait();

    let mut records = Vec::new();
    let mut order = vec![
        "ping-pong".to_string(),
        "ping-pong-p50".into(),
        "ping-pong-p99".into(),
    ];
    order.extend(names.into_iter().skip(1));
    for name in order {
        let Some(values) = samples.get(&name) else {
            continue;
        };
        let value = median(values).expect("at least one run");
        let (unit, better) = match name.as_str() {
            "ping-pong" => ("rt/s", Better::Higher),
            "ping-pong-p50" | "ping-pong-p99" => ("us", Better::Lower),
            _ => ("msg/s", Better::Higher),
        };
        records.push(Record::new(
            "remote",
            name,
            "libprocess",
            value,
            unit,
            better,
        ));
    }
    if common.json {
        for record in &records {
            println!("{}", record.to_json());
        }
    } else {
        println!("{}", render_table(&records, "libprocess"));
    }
    Ok(())
}

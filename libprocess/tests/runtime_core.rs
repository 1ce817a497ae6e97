//! Integration tests of the runtime core: lifecycle, ordering, dispatch, links, termination.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use libprocess::{
    Context, FutureError, Pid, Process, Runtime, Upid, call, call_future, defer, dispatch,
    dispatch_with, terminate, terminate_with, wait,
};

/// Records what happens to it, in order.
#[derive(Default)]
struct Recorder {
    log: Vec<String>,
    drops: Option<Arc<AtomicUsize>>,
}

impl Process for Recorder {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.log.push("initialize".into());
        ctx.install("note", |me: &mut Recorder, _ctx, _from, body: Bytes| {
            me.log
                .push(format!("message {}", String::from_utf8_lossy(&body)));
        });
    }

    fn exited(&mut self, _ctx: &mut Context<'_, Self>, pid: &Upid) {
        self.log.push(format!("exited {}", pid.id()));
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(drops) = &self.drops {
            drops.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn log_of(pid: &Pid<Recorder>) -> Vec<String> {
    call(pid, |r: &mut Recorder| r.log.clone())
        .get()
        .expect("process alive")
}

#[test]
fn initialize_runs_first_and_events_keep_their_order() {
    let rt = Runtime::builder().workers(3).build();
    let pid = rt.spawn(Recorder::default());
    for i in 0..100 {
        dispatch(&pid, move |r: &mut Recorder| {
            r.log.push(format!("dispatch {i}"))
        });
        rt.send(&Upid::none(), &pid, "note", format!("{i}"));
    }
    let log = log_of(&pid);
    assert_eq!(log[0], "initialize");
    let expected: Vec<String> = (0..100)
        .flat_map(|i| [format!("dispatch {i}"), format!("message {i}")])
        .collect();
    assert_eq!(&log[1..], &expected[..]);
}

#[test]
fn concurrent_senders_keep_per_sender_order() {
    let rt = Runtime::builder().workers(3).build();
    #[derive(Default)]
    struct Sink {
        seen: Vec<Vec<u32>>,
    }
    impl Process for Sink {}
    let sink = rt.spawn(Sink {
        seen: vec![Vec::new(); 4],
    });
    let threads: Vec<_> = (0..4)
        .map(|sender| {
            let sink = sink.clone();
            std::thread::spawn(move || {
                for i in 0..20_000u32 {
                    dispatch(&sink, move |s: &mut Sink| s.seen[sender].push(i));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let seen = call(&sink, |s: &mut Sink| s.seen.clone()).get().unwrap();
    for per_sender in seen {
        assert_eq!(per_sender, (0..20_000).collect::<Vec<_>>());
    }
}

#[test]
fn dispatch_to_a_terminated_process_fails_the_future() {
    let rt = Runtime::new();
    let pid = rt.spawn(Recorder::default());
    terminate(&pid);
    wait(&pid).get().unwrap();
    let result = call(&pid, |r: &mut Recorder| r.log.len()).get();
    assert_eq!(result, Err(FutureError::Abandoned));
    // Fire-and-forget dispatches are dropped, not panics.
    dispatch(&pid, |r: &mut Recorder| r.log.clear());
    assert_eq!(rt.live_processes(), 0);
}

#[test]
fn injected_terminate_drops_queued_events_and_fifo_terminate_serves_them() {
    let rt = Runtime::builder().workers(2).build();

    // Hold the process busy so that events pile up behind the blocker.
    let gate = Arc::new(parking_lot::Mutex::new(()));
    let held = gate.lock();
    let pid = rt.spawn(Recorder::default());
    let g = gate.clone();
    dispatch(&pid, move |_r: &mut Recorder| drop(g.lock()));
    let queued: Vec<_> = (0..10)
        .map(|i| call(&pid, move |_r: &mut Recorder| i))
        .collect();
    terminate_with(&pid, true);
    drop(held);
    wait(&pid).get().unwrap();
    assert!(
        queued
            .iter()
            .all(|f| f.get() == Err(FutureError::Abandoned))
    );

    let pid = rt.spawn(Recorder::default());
    let queued: Vec<_> = (0..10)
        .map(|i| call(&pid, move |_r: &mut Recorder| i))
        .collect();
    terminate_with(&pid, false);
    wait(&pid).get().unwrap();
    let values: Vec<i32> = queued.iter().map(|f| f.get().unwrap()).collect();
    assert_eq!(values, (0..10).collect::<Vec<_>>());
}

#[test]
fn finalize_runs_and_wait_completes() {
    struct Finalizes(Arc<AtomicUsize>);
    impl Process for Finalizes {
        fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = Runtime::new();
    let count = Arc::new(AtomicUsize::new(0));
    let pid = rt.spawn(Finalizes(count.clone()));
    let waited = wait(&pid);
    assert!(waited.is_pending());
    terminate(&pid);
    waited.get().unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // Waiting on a dead process completes at once.
    assert!(wait(&pid).is_ready());
}

#[test]
fn links_deliver_exited() {
    let rt = Runtime::new();
    let watcher = rt.spawn(Recorder::default());
    let target = rt.spawn(Recorder::default());
    let target_upid = target.upid().clone();
    let t = target_upid.clone();
    call(&watcher, |_r: &mut Recorder| ()).get().unwrap();
    dispatch_with(
        &watcher,
        move |_r: &mut Recorder, ctx: &mut Context<'_, Recorder>| ctx.link(&t),
    );
    call(&watcher, |_r: &mut Recorder| ()).get().unwrap();
    terminate(&target);
    wait(&target).get().unwrap();
    rt.clock().settle();
    assert!(log_of(&watcher).contains(&format!("exited {}", target_upid.id())));

    // Linking to a process that is already gone delivers exited at once.
    let t = target_upid.clone();
    dispatch_with(
        &watcher,
        move |_r: &mut Recorder, ctx: &mut Context<'_, Recorder>| ctx.link(&t),
    );
    rt.clock().settle();
    let exits = log_of(&watcher)
        .iter()
        .filter(|l| l.starts_with("exited"))
        .count();
    assert_eq!(exits, 2);
}

#[test]
fn a_panicking_handler_terminates_only_its_process() {
    let rt = Runtime::new();
    let watcher = rt.spawn(Recorder::default());
    let victim = rt.spawn(Recorder::default());
    let v = victim.upid().clone();
    dispatch_with(
        &watcher,
        move |_r: &mut Recorder, ctx: &mut Context<'_, Recorder>| ctx.link(&v),
    );
    rt.clock().settle();
    dispatch(&victim, |_r: &mut Recorder| panic!("boom"));
    wait(&victim).get().unwrap();
    rt.clock().settle();
    assert!(log_of(&watcher).iter().any(|l| l.starts_with("exited")));
    assert_eq!(rt.live_processes(), 1);
}

#[test]
fn thousands_of_processes_come_and_go_without_leaks() {
    let rt = Runtime::builder().workers(3).build();
    let drops = Arc::new(AtomicUsize::new(0));
    let pids: Vec<_> = (0..5_000)
        .map(|_| {
            rt.spawn(Recorder {
                log: vec![],
                drops: Some(drops.clone()),
            })
        })
        .collect();
    assert_eq!(rt.live_processes(), 5_000);
    for pid in &pids {
        dispatch(pid, |r: &mut Recorder| r.log.push("x".into()));
        terminate_with(pid, false);
    }
    for pid in &pids {
        wait(pid).get().unwrap();
    }
    assert_eq!(rt.live_processes(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 5_000);
    // Nothing but our handles keeps the cells alive.
    let pid = pids.into_iter().next().unwrap();
    let upid: Upid = pid.into();
    assert_eq!(upid.id(), "(1)");
}

#[test]
fn ids_are_generated_per_prefix() {
    let rt = Runtime::new();
    assert_eq!(rt.generate_id("slave"), "slave(1)");
    assert_eq!(rt.generate_id("slave"), "slave(2)");
    assert_eq!(rt.generate_id("master"), "master(1)");
    let pid = rt.spawn_with_id("master", Recorder::default()).unwrap();
    assert_eq!(pid.to_string(), format!("master@{}", rt.address()));
    assert!(rt.spawn_with_id("master", Recorder::default()).is_err());
    assert!(rt.spawn_with_id("a/b", Recorder::default()).is_err());
}

#[test]
fn defer_and_call_future_chain_through_processes() {
    let rt = Runtime::new();
    struct Doubler;
    impl Process for Doubler {}
    struct Adder(i32);
    impl Process for Adder {}
    let doubler = rt.spawn(Doubler);
    let adder = rt.spawn(Adder(1));
    let d = doubler.clone();
    let result = call_future(&adder, move |a: &mut Adder| {
        let base = a.0;
        call(&d, move |_d: &mut Doubler| base * 2)
    })
    .then(defer(&adder, |a: &mut Adder, v: i32| a.0 + v));
    assert_eq!(result.get(), Ok(3));
}

#[test]
fn protobuf_handlers_are_keyed_by_full_name() {
    #[derive(Clone, PartialEq, prost::Message)]
    struct Ping {
        #[prost(string, optional, tag = "1")]
        note: Option<String>,
    }
    impl prost::Name for Ping {
        const NAME: &'static str = "Ping";
        const PACKAGE: &'static str = "test.v1";
    }
    struct Receiver(Vec<String>);
    impl Process for Receiver {
        fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
            ctx.install_protobuf::<Ping, _>(|me: &mut Receiver, _ctx, _from, ping: Ping| {
                me.0.push(ping.note.unwrap_or_default());
            });
        }
    }
    struct Sender(Upid);
    impl Process for Sender {
        fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
            ctx.send_protobuf(
                &self.0,
                &Ping {
                    note: Some("hi".into()),
                },
            );
        }
    }
    let rt = Runtime::new();
    let receiver = rt.spawn(Receiver(vec![]));
    let _sender = rt.spawn(Sender(receiver.upid().clone()));
    // A body that does not decode is dropped.
    rt.send(
        &Upid::none(),
        &receiver,
        "test.v1.Ping",
        vec![0xff, 0xff, 0xff],
    );
    rt.clock().settle();
    assert_eq!(
        call(&receiver, |r: &mut Receiver| r.0.clone()).get(),
        Ok(vec!["hi".to_string()])
    );
}

#[test]
fn introspection_reports_queues_and_counts() {
    let rt = Runtime::new();
    let pid = rt.spawn_with_id("observed", Recorder::default()).unwrap();
    for _ in 0..10 {
        dispatch(&pid, |_r: &mut Recorder| ());
    }
    rt.clock().settle();
    let info = rt
        .processes()
        .into_iter()
        .find(|i| i.upid.id() == "observed")
        .unwrap();
    assert_eq!(info.queue_len, 0);
    assert_eq!(info.events_processed, 10);
}

#[test]
fn runs_inside_a_host_tokio_application() {
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    tokio_rt.block_on(async {
        let rt = Runtime::builder().workers(2).build();
        let pid = rt.spawn(Recorder::default());
        let n = call(&pid, |r: &mut Recorder| r.log.len()).await;
        assert_eq!(n, Ok(1));
        let task = tokio::spawn(call(&pid, |r: &mut Recorder| r.log[0].clone()));
        assert_eq!(task.await.unwrap(), Ok("initialize".to_string()));
        drop(rt);
    });
}

#[test]
fn dropping_the_runtime_finalizes_every_process() {
    let drops = Arc::new(AtomicUsize::new(0));
    {
        let rt = Runtime::builder().workers(2).build();
        for _ in 0..100 {
            rt.spawn(Recorder {
                log: vec![],
                drops: Some(drops.clone()),
            });
        }
    }
    assert_eq!(drops.load(Ordering::SeqCst), 100);
}

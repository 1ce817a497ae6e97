//! A message sent from a thread of no runtime leaves through the runtime of its sender, not
//! through the default runtime (which has no network): several listening runtimes can live
//! in one OS process (a master and agents in mesos-local, say).

use std::sync::mpsc;
use std::time::Duration;

use libprocess::{Context, Message, Process, Runtime, Upid};

struct Receiver {
    seen: mpsc::Sender<(String, String)>,
}

impl Process for Receiver {
    fn message(&mut self, _ctx: &mut Context<'_, Self>, message: Message) {
        let _ = self.seen.send((
            message.name.clone(),
            String::from_utf8_lossy(&message.body).into_owned(),
        ));
    }
}

struct Idle;
impl Process for Idle {}

fn listening() -> Runtime {
    Runtime::builder()
        .ip("127.0.0.1".parse().unwrap())
        .port(0)
        .build()
}

#[test]
fn a_plain_thread_sends_through_the_senders_runtime() {
    let a = listening();
    let b = listening();
    let (tx, rx) = mpsc::channel();
    let receiver = b.spawn_with_id("receiver", Receiver { seen: tx }).unwrap();
    let sender = a.spawn_with_id("sender", Idle).unwrap();
    let from: Upid = sender.upid().clone();
    let to: Upid = receiver.upid().clone();

    // Not a thread of either runtime, nothing entered.
    std::thread::spawn(move || libprocess::send(&from, &to, "hello", "from a plain thread"))
        .join()
        .unwrap();
    let (name, body) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(name, "hello");
    assert_eq!(body, "from a plain thread");
}

//! Message-filter tests: catching and dropping messages and dispatches between processes.

use bytes::Bytes;
use libprocess::filter::{FilterEvent, Matcher};
use libprocess::{Context, Pid, Process, Runtime, Upid, call, dispatch};

#[derive(Default)]
struct Inbox(Vec<String>);

impl Process for Inbox {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.install("note", |me: &mut Inbox, _ctx, _from, body: Bytes| {
            me.0.push(String::from_utf8_lossy(&body).into_owned());
        });
    }
}

impl Inbox {
    fn poke(&mut self) {
        self.0.push("poked".into());
    }
}

fn inbox(pid: &Pid<Inbox>) -> Vec<String> {
    call(pid, |i: &mut Inbox| i.0.clone()).get().unwrap()
}

#[test]
fn future_message_sees_a_message_that_is_still_delivered() {
    let rt = Runtime::new();
    let pid = rt.spawn(Inbox::default());
    let seen = rt.future_message(Matcher::name("note").to(&pid));
    let sender: Upid = "sender@127.0.0.1:1".parse().unwrap();
    rt.send(&sender, &pid, "note", "hello");
    let message = seen.get().unwrap();
    assert_eq!(message.from, sender);
    assert_eq!(&message.body[..], b"hello");
    rt.clock().settle();
    assert_eq!(inbox(&pid), vec!["hello"]);
}

#[test]
fn drop_messages_drops_until_the_guard_goes() {
    let rt = Runtime::new();
    let pid = rt.spawn(Inbox::default());
    let first = rt.drop_message(Matcher::name("note"));
    rt.send(&Upid::none(), &pid, "note", "one");
    assert_eq!(&first.get().unwrap().body[..], b"one");
    rt.send(&Upid::none(), &pid, "note", "two");
    {
        let _guard = rt.drop_messages(Matcher::name("note").to(&pid));
        rt.send(&Upid::none(), &pid, "note", "three");
        rt.send(&Upid::none(), &pid, "note", "four");
    }
    rt.send(&Upid::none(), &pid, "note", "five");
    rt.clock().settle();
    assert_eq!(inbox(&pid), vec!["two", "five"]);
}

#[test]
fn dispatches_are_matched_by_the_function_that_made_them() {
    let rt = Runtime::new();
    let pid = rt.spawn(Inbox::default());
    fn poke_it(pid: &Pid<Inbox>) {
        dispatch(pid, |i: &mut Inbox| i.poke());
    }
    let seen = rt.future_dispatch(&pid, "poke_it");
    dispatch(&pid, |i: &mut Inbox| i.0.push("other".into()));
    assert!(seen.is_pending());
    poke_it(&pid);
    assert!(seen.is_ready());
    {
        let _guard = rt.drop_dispatches(&pid, "poke_it");
        poke_it(&pid);
    }
    rt.clock().settle();
    assert_eq!(inbox(&pid), vec!["other", "poked"]);
}

#[test]
fn a_custom_filter_sees_everything() {
    let rt = Runtime::new();
    let pid = rt.spawn(Inbox::default());
    let _guard = rt.install_filter(|event| match event {
        FilterEvent::Message(m) => m.body.starts_with(b"secret"),
        _ => false,
    });
    rt.send(&Upid::none(), &pid, "note", "secret plan");
    rt.send(&Upid::none(), &pid, "note", "public");
    rt.clock().settle();
    assert_eq!(inbox(&pid), vec!["public"]);
}

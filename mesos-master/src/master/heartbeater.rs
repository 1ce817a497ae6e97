//! Heartbeater: one per subscribed scheduler, it writes a HEARTBEAT event to the scheduler's
//! stream right away and then every interval (15 seconds upstream,
//! `DEFAULT_HEARTBEAT_INTERVAL`), so that schedulers can tell a dead master from a quiet
//! one. It stops when the stream's reader is gone; the master terminates it when the
//! framework disconnects, fails over or is removed.

use std::time::Duration;

use libprocess::{Context, Pid, Process, delay};

use super::stream::{EventStream, events};

/// How often schedulers get a HEARTBEAT.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

/// The heartbeater's state.
#[derive(Debug)]
pub struct Heartbeater {
    stream: EventStream,
    interval: Duration,
    me: Option<Pid<Heartbeater>>,
}

impl Heartbeater {
    pub(crate) fn new(stream: EventStream, interval: Duration) -> Self {
        Heartbeater {
            stream,
            interval,
            me: None,
        }
    }

    fn heartbeat(&mut self) {
        if !self.stream.send(&events::heartbeat()) {
            return;
        }
        if let Some(me) = &self.me {
            delay(self.interval, me, Heartbeater::heartbeat);
        }
    }
}

impl Process for Heartbeater {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
        self.heartbeat();
    }

    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
        self.me = None;
    }
}

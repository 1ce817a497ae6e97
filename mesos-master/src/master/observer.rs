//! AgentObserver: one per registered agent, it checks the agent is alive (upstream
//! `SlaveObserver` in `src/master/master.cpp`).
//!
//! Every `agent_ping_timeout` it sends the agent a `PingSlaveMessage` (from its own pid, so
//! the agent's `PongSlaveMessage` comes back here). A ping that gets no pong before the next
//! one counts as a timeout; after `max_agent_ping_timeouts` in a row it asks the master to
//! mark the agent unreachable (the master rate-limits that) and stops pinging. A pong resets
//! the count. The master terminates the observer when the agent goes.

use std::time::Duration;

use libprocess::{Context, Pid, Process, Upid, delay, dispatch};
use mesos_core::internal::{PingSlaveMessage, PongSlaveMessage};
use tracing::{debug, warn};

use super::MasterProcess;
use crate::allocator::AgentId;

/// The observer's state.
pub struct AgentObserver {
    agent_id: AgentId,
    agent: Upid,
    master: Pid<MasterProcess>,
    ping_timeout: Duration,
    max_ping_timeouts: u32,
    connected: bool,
    pinged: bool,
    timeouts: u32,
    unreachable_requested: bool,
    me: Option<Pid<AgentObserver>>,
}

impl std::fmt::Debug for AgentObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentObserver")
            .field("agent_id", &self.agent_id)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl AgentObserver {
    pub(crate) fn new(
        agent_id: AgentId,
        agent: Upid,
        master: Pid<MasterProcess>,
        ping_timeout: Duration,
        max_ping_timeouts: u32,
    ) -> Self {
        AgentObserver {
            agent_id,
            agent,
            master,
            ping_timeout,
            max_ping_timeouts,
            connected: true,
            pinged: false,
            timeouts: 0,
            unreachable_requested: false,
            me: None,
        }
    }

    /// The agent's connection changed (it reregistered from a new pid, or disconnected).
    pub(crate) fn reconnect(&mut self, agent: Upid) {
        self.agent = agent;
        self.connected = true;
        self.timeouts = 0;
        self.pinged = false;
    }

    /// The agent disconnected; pings go on and say so.
    pub(crate) fn disconnect(&mut self) {
        self.connected = false;
    }

    fn ping(&mut self, ctx: &mut Context<'_, Self>) {
        let message = PingSlaveMessage {
            connected: self.connected,
        };
        ctx.send_protobuf(&self.agent, &message);
        self.pinged = true;
        let pid = ctx.pid();
        delay(self.ping_timeout, &pid, |o: &mut AgentObserver| o.timeout());
    }

    fn timeout(&mut self) {
        if self.unreachable_requested {
            return;
        }
        if self.pinged {
            self.timeouts += 1;
            debug!(agent_id = %self.agent_id, timeouts = self.timeouts, "agent missed a ping");
            if self.timeouts >= self.max_ping_timeouts {
                warn!(agent_id = %self.agent_id, timeouts = self.timeouts, "agent did not answer pings; marking it unreachable");
                self.unreachable_requested = true;
                let agent_id = self.agent_id.clone();
                dispatch(&self.master, move |m: &mut MasterProcess| {
                    m.agent_ping_timed_out(agent_id)
                });
                return;
            }
        }
        if let Some(me) = &self.me {
            libprocess::dispatch_with(me, |o: &mut AgentObserver, ctx| o.ping(ctx));
        }
    }
}

impl Process for AgentObserver {
    fn finalize(&mut self, _ctx: &mut Context<'_, Self>) {
        self.me = None;
    }

    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        self.me = Some(ctx.pid());
        ctx.install_protobuf(
            |o: &mut AgentObserver, _ctx, _from, _pong: PongSlaveMessage| {
                o.timeouts = 0;
                o.pinged = false;
            },
        );
        self.ping(ctx);
    }
}

//! Calls on a persistent connection, one after another in the order made.
//!
//! `libprocess::http::client::Connection::send` lets requests made while others are in
//! flight go out in any order (each waits for the connection on a task of its own), and an
//! executor's `TASK_RUNNING` must not overtake its `TASK_STARTING`. [`CallQueue`] sends each
//! request only once the one before it has been answered (or has failed).

use libprocess::http::Response;
use libprocess::http::client::{ClientRequest, Connection};
use libprocess::{Future, Promise};

/// The calls of one connection, in order (a new connection gets a new queue).
#[derive(Debug, Default)]
pub(crate) struct CallQueue {
    /// Completes once the last call made so far has been answered or has failed.
    tail: Option<Future<()>>,
}

impl CallQueue {
    /// Sends `request` on `connection` once the calls before it are done; the future is its
    /// answer.
    pub(crate) fn send(
        &mut self,
        connection: &Connection,
        request: ClientRequest,
    ) -> Future<Response> {
        let answer = Promise::new();
        let out = answer.future();
        let done = Promise::new();
        let tail = done.future();
        let connection = connection.clone();
        let go = move || {
            let sent = connection.send(request);
            sent.on_any(move |_| done.set(()));
            answer.associate(sent);
        };
        match self.tail.replace(tail) {
            Some(previous) if previous.is_pending() => {
                previous.on_any(move |_| go());
            }
            _ => go(),
        }
        out
    }
}

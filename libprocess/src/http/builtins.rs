//! The runtime's own HTTP endpoints, spawned when the runtime listens on a socket:
//! `/__processes__` (process `__processes__`) and `/metrics/snapshot` (process `metrics`, see
//! [`crate::metrics`]), plus the transport's counters as metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::response::Response;
use crate::future::Future;
use crate::process::{Context, Process};
use crate::remote::outbound::OutboundStats;
use crate::runtime::{Handle, RtShared};

/// Serves `/__processes__`: every live process with its id, the events queued for it and the
/// events it has served, as a JSON array sorted by id. (libprocess lists each queued event
/// under `events`; we count them instead.)
struct ProcessesProcess;

impl Process for ProcessesProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/", |_: &mut ProcessesProcess, ctx, _request| {
            let processes: Vec<serde_json::Value> = ctx
                .runtime()
                .processes()
                .into_iter()
                .map(|info| {
                    serde_json::json!({
                        "id": info.upid.id(),
                        "queue_length": info.queue_len,
                        "events_processed": info.events_processed,
                    })
                })
                .collect();
            Future::ready(Response::json(&serde_json::Value::Array(processes)))
        });
    }
}

type StatField = fn(&OutboundStats) -> &AtomicU64;

/// Spawns the built-in endpoints of a runtime that listens; registers the outbound transport's
/// counters as metrics.
pub(crate) fn start(shared: &Arc<RtShared>) {
    if shared.net.get().is_none() {
        return;
    }
    let handle = Handle {
        shared: shared.clone(),
    };
    if let Err(error) = handle.spawn_with_id("__processes__", ProcessesProcess) {
        tracing::warn!(%error, "cannot serve /__processes__");
    }
    crate::metrics::spawn_process(&handle);
    if let Some(stats) = shared.transport.get().map(|t| t.stats.clone()) {
        let metrics = handle.metrics();
        let counters: [(&str, StatField); 4] = [
            ("libprocess/outbound/messages_sent", |s| &s.sent),
            ("libprocess/outbound/messages_dropped_overflow", |s| {
                &s.dropped_overflow
            }),
            ("libprocess/outbound/messages_dropped_unreachable", |s| {
                &s.dropped_unreachable
            }),
            ("libprocess/outbound/answered_not_found", |s| {
                &s.answered_not_found
            }),
        ];
        for (name, counter) in counters {
            let stats = stats.clone();
            metrics.gauge(name, move || counter(&stats).load(Ordering::Relaxed) as f64);
        }
    }
}

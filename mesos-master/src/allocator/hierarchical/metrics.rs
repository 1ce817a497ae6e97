//! The allocator's metrics in the runtime's registry, under upstream's names
//! (`src/master/allocator/mesos/metrics.cpp`, the DRF sorter's share gauges):
//!
//! * `allocator/mesos/event_queue_dispatches` (and the older `allocator/event_queue_dispatches`):
//!   calls of the master queued to the allocator and not yet served;
//! * `allocator/mesos/allocation_runs`: a counter;
//! * `allocator/mesos/allocation_run_ms` and `allocator/mesos/allocation_run_latency_ms`:
//!   timers as libprocess's `Timer` shows them, the last value plus `/count`, `/min`,
//!   `/max`, `/p50`, `/p90`, `/p95`, `/p99`, `/p999`, `/p9999` over the last hour (at most
//!   the last 1,000 values; statistics need two). The latency is the wait between an
//!   allocation being asked for and its run starting;
//! * `allocator/mesos/resources/{cpus,mem,disk}/{total,offered_or_allocated}`;
//! * per role, while the role exists: `allocator/mesos/roles/<role>/shares/dominant` and
//!   `allocator/mesos/offer_filters/roles/<role>/active`.
//!
//! Gauges about the allocator's state ask its process (`call`), as upstream's `defer`
//! does: a snapshot taken during an allocation run waits for the run to end.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libprocess::metrics::{Counter, Metrics};
use libprocess::{Future, Pid, call};

use super::HierarchicalAllocatorProcess;

const PREFIX: &str = "allocator/mesos/";

/// The standard resources whose totals are published, as upstream.
const RESOURCE_NAMES: [&str; 3] = ["cpus", "mem", "disk"];

/// How long a timer keeps its values, and how many at most.
const TIMER_WINDOW: Duration = Duration::from_secs(60 * 60);
const TIMER_CAPACITY: usize = 1000;

/// The statistics a timer publishes, with the percentile each stands for.
const PERCENTILES: [(&str, f64); 6] = [
    ("p50", 0.5),
    ("p90", 0.9),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p999", 0.999),
    ("p9999", 0.9999),
];

/// Recent values of a timer, in milliseconds.
#[derive(Debug, Default)]
pub(crate) struct TimeSeries {
    values: VecDeque<(Instant, f64)>,
}

impl TimeSeries {
    pub(crate) fn record(&mut self, value: Duration) {
        let now = Instant::now();
        while self.values.len() >= TIMER_CAPACITY
            || self
                .values
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > TIMER_WINDOW)
        {
            self.values.pop_front();
        }
        self.values.push_back((now, value.as_secs_f64() * 1e3));
    }

    /// The last value.
    pub(crate) fn last(&self) -> Option<f64> {
        self.values.back().map(|(_, v)| *v)
    }

    /// `(suffix, value)` for count, min, max and the percentiles; none below two values.
    pub(crate) fn statistics(&self) -> Vec<(&'static str, f64)> {
        if self.values.len() < 2 {
            return Vec::new();
        }
        let mut sorted: Vec<f64> = self.values.iter().map(|(_, v)| *v).collect();
        sorted.sort_by(f64::total_cmp);
        let mut result = vec![
            ("count", sorted.len() as f64),
            ("min", sorted[0]),
            ("max", sorted[sorted.len() - 1]),
        ];
        result.extend(
            PERCENTILES
                .iter()
                .map(|&(name, p)| (name, percentile(&sorted, p))),
        );
        result
    }
}

/// The `p` percentile of sorted values (at least two), interpolated linearly between
/// the two nearest ranks, as libprocess's `Statistics`.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    debug_assert!(sorted.len() >= 2);
    if p <= 0.0 {
        return sorted[0];
    }
    if p >= 1.0 {
        return sorted[sorted.len() - 1];
    }
    let position = p * (sorted.len() - 1) as f64;
    let index = position.floor() as usize;
    let delta = position - index as f64;
    sorted[index] + delta * (sorted[index + 1] - sorted[index])
}

/// The allocator's registered metrics; removed from the registry when dropped.
pub(crate) struct AllocatorMetricsRegistry {
    registry: Metrics,
    pid: Pid<HierarchicalAllocatorProcess>,
    pub(crate) allocation_runs: Counter,
    pub(crate) allocation_run: Arc<Mutex<TimeSeries>>,
    pub(crate) allocation_run_latency: Arc<Mutex<TimeSeries>>,
    names: Vec<String>,
}

impl std::fmt::Debug for AllocatorMetricsRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllocatorMetricsRegistry")
            .field("names", &self.names.len())
            .finish_non_exhaustive()
    }
}

/// A gauge value that is missing (left out of snapshots).
fn missing() -> Future<f64> {
    Future::failed("no value yet")
}

impl AllocatorMetricsRegistry {
    /// Registers the allocator-wide metrics; `queued` counts the master's calls not yet
    /// served.
    pub(crate) fn register(
        registry: Metrics,
        pid: Pid<HierarchicalAllocatorProcess>,
        queued: Arc<AtomicUsize>,
    ) -> Self {
        let mut names = Vec::new();
        for name in [
            format!("{PREFIX}event_queue_dispatches"),
            "allocator/event_queue_dispatches".to_owned(),
        ] {
            let queued = queued.clone();
            registry.gauge(name.clone(), move || queued.load(Ordering::Relaxed) as f64);
            names.push(name);
        }
        let runs_name = format!("{PREFIX}allocation_runs");
        let allocation_runs = registry.counter(runs_name.clone());
        names.push(runs_name);

        let allocation_run = Arc::new(Mutex::new(TimeSeries::default()));
        let allocation_run_latency = Arc::new(Mutex::new(TimeSeries::default()));
        for (name, series) in [
            ("allocation_run_ms", &allocation_run),
            ("allocation_run_latency_ms", &allocation_run_latency),
        ] {
            let base = format!("{PREFIX}{name}");
            let last = series.clone();
            registry.gauge_future(base.clone(), move || {
                last.lock()
                    .expect("timer lock")
                    .last()
                    .map_or_else(missing, Future::ready)
            });
            names.push(base.clone());
            for suffix in ["count", "min", "max"]
                .into_iter()
                .chain(PERCENTILES.iter().map(|(name, _)| *name))
            {
                let series = series.clone();
                let stat = format!("{base}/{suffix}");
                registry.gauge_future(stat.clone(), move || {
                    series
                        .lock()
                        .expect("timer lock")
                        .statistics()
                        .into_iter()
                        .find(|(name, _)| *name == suffix)
                        .map_or_else(missing, |(_, value)| Future::ready(value))
                });
                names.push(stat);
            }
        }

        for resource in RESOURCE_NAMES {
            let total = format!("{PREFIX}resources/{resource}/total");
            let pid_total = pid.clone();
            registry.gauge_future(total.clone(), move || {
                call(&pid_total, move |p| p.resource_total(resource))
            });
            let offered = format!("{PREFIX}resources/{resource}/offered_or_allocated");
            let pid_offered = pid.clone();
            registry.gauge_future(offered.clone(), move || {
                call(&pid_offered, move |p| {
                    p.resource_offered_or_allocated(resource)
                })
            });
            names.extend([total, offered]);
        }

        AllocatorMetricsRegistry {
            registry,
            pid,
            allocation_runs,
            allocation_run,
            allocation_run_latency,
            names,
        }
    }

    fn role_names(role: &str) -> [String; 2] {
        [
            format!("{PREFIX}roles/{role}/shares/dominant"),
            format!("{PREFIX}offer_filters/roles/{role}/active"),
        ]
    }

    /// Registers the gauges of a new role.
    pub(crate) fn add_role(&self, role: &str) {
        let [share, filters] = Self::role_names(role);
        let (pid, name) = (self.pid.clone(), role.to_owned());
        self.registry.gauge_future(share, move || {
            let name = name.clone();
            call(&pid, move |p| p.dominant_share(&name)).then(|share| match share {
                Some(share) => Future::ready(share),
                None => missing(),
            })
        });
        let (pid, name) = (self.pid.clone(), role.to_owned());
        self.registry.gauge_future(filters, move || {
            let name = name.clone();
            call(&pid, move |p| p.offer_filters_active(&name) as f64)
        });
    }

    /// Removes the gauges of a role that is gone.
    pub(crate) fn remove_role(&self, role: &str) {
        for name in Self::role_names(role) {
            self.registry.remove(&name);
        }
    }
}

impl Drop for AllocatorMetricsRegistry {
    fn drop(&mut self) {
        for name in &self.names {
            self.registry.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let values = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&values, 0.5), 3.0);
        assert_eq!(percentile(&values, 0.9), 4.6);
        assert_eq!(percentile(&values, 0.0), 1.0);
        assert_eq!(percentile(&values, 1.0), 5.0);
        assert!((percentile(&[10.0, 20.0], 0.999) - 19.99).abs() < 1e-9);
    }

    #[test]
    fn statistics_need_two_values() {
        let mut series = TimeSeries::default();
        assert_eq!(series.last(), None);
        series.record(Duration::from_millis(4));
        assert_eq!(series.last(), Some(4.0));
        assert!(series.statistics().is_empty());
        series.record(Duration::from_millis(2));
        let stats = series.statistics();
        assert_eq!(stats[0], ("count", 2.0));
        assert_eq!(stats[1], ("min", 2.0));
        assert_eq!(stats[2], ("max", 4.0));
        assert_eq!(stats[3], ("p50", 3.0));
    }

    #[test]
    fn a_timer_keeps_its_last_thousand_values() {
        let mut series = TimeSeries::default();
        for i in 0..1500 {
            series.record(Duration::from_millis(i));
        }
        let stats = series.statistics();
        assert_eq!(stats[0], ("count", 1000.0));
        assert_eq!(stats[1], ("min", 500.0));
    }
}

//! Metrics: counters and gauges any process registers, served as one flat JSON object at
//! `/metrics/snapshot`, as libprocess's `process::metrics`.
//!
//! [`Handle::metrics`] gives the runtime's registry. A [`Counter`] and a [`PushGauge`] are
//! cheap atomics their owner updates; a pull gauge is a function called at each snapshot,
//! possibly returning a [`Future`] (Mesos's gauges often `call` into their process). A
//! snapshot waits for every value, or with `?timeout=<duration>` (Mesos notation, e.g. `5secs`,
//! `100ms`) at most that long on the runtime's clock: metrics that did not answer in time, or
//! failed, are left out. Values are JSON numbers (doubles, as Mesos), keys sorted.
//!
//! ```
//! use libprocess::Runtime;
//!
//! let runtime = Runtime::new();
//! let metrics = runtime.metrics();
//! let elected = metrics.counter("master/elected");
//! elected.inc();
//! metrics.gauge("master/uptime_secs", || 12.5);
//! let snapshot = metrics.snapshot(None).get().unwrap();
//! assert_eq!(snapshot["master/elected"], 1.0);
//! assert_eq!(snapshot["master/uptime_secs"], 12.5);
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;

use crate::future::{Future, Promise};
use crate::http::{Request, Response};
use crate::process::{Context, Process};
use crate::runtime::{Handle, RtShared};

type GaugeFn = Arc<dyn Fn() -> Future<f64> + Send + Sync>;

#[derive(Clone)]
enum Metric {
    Counter(Counter),
    PushGauge(PushGauge),
    Gauge(GaugeFn),
}

impl Metric {
    fn value(&self) -> Future<f64> {
        match self {
            Metric::Counter(counter) => Future::ready(counter.value() as f64),
            Metric::PushGauge(gauge) => Future::ready(gauge.value()),
            Metric::Gauge(f) => f(),
        }
    }
}

/// The metrics of one runtime, by name.
#[derive(Default)]
pub(crate) struct Registry {
    metrics: RwLock<BTreeMap<String, Metric>>,
}

/// A monotonically increasing count (libprocess's `Counter`). Clones count together.
///
/// ```
/// let runtime = libprocess::Runtime::new();
/// let offers = runtime.metrics().counter("master/outstanding_offers_sent");
/// offers.inc();
/// offers.add(2);
/// assert_eq!(offers.value(), 3);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Counter {
    value: Arc<AtomicU64>,
}

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    /// The count.
    pub fn value(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

/// A value its owner sets (libprocess's `PushGauge`). Clones share the value.
///
/// ```
/// let runtime = libprocess::Runtime::new();
/// let agents = runtime.metrics().push_gauge("master/slaves_active");
/// agents.set(3.0);
/// agents.inc();
/// agents.dec();
/// assert_eq!(agents.value(), 3.0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct PushGauge {
    bits: Arc<AtomicU64>,
}

impl PushGauge {
    /// Sets the value.
    pub fn set(&self, value: f64) {
        self.bits.store(value.to_bits(), Ordering::Relaxed);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.update(|v| v + 1.0);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.update(|v| v - 1.0);
    }

    fn update(&self, f: impl Fn(f64) -> f64) {
        let _ = self
            .bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some(f(f64::from_bits(bits)).to_bits())
            });
    }

    /// The value.
    pub fn value(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}

/// The metrics registry of a runtime: a cheap handle (see the [module docs](self)).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    runtime: Weak<RtShared>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("metrics", &self.registry.metrics.read().len())
            .finish()
    }
}

impl Metrics {
    /// The counter `name`, registered now unless a counter of that name already is (then the
    /// same counter is returned). A metric of another kind with that name is replaced.
    pub fn counter(&self, name: impl Into<String>) -> Counter {
        let name = name.into();
        let mut metrics = self.registry.metrics.write();
        if let Some(Metric::Counter(counter)) = metrics.get(&name) {
            return counter.clone();
        }
        let counter = Counter::default();
        metrics.insert(name, Metric::Counter(counter.clone()));
        counter
    }

    /// The push gauge `name`, registered now unless one of that name already is.
    pub fn push_gauge(&self, name: impl Into<String>) -> PushGauge {
        let name = name.into();
        let mut metrics = self.registry.metrics.write();
        if let Some(Metric::PushGauge(gauge)) = metrics.get(&name) {
            return gauge.clone();
        }
        let gauge = PushGauge::default();
        metrics.insert(name, Metric::PushGauge(gauge.clone()));
        gauge
    }

    /// Registers (or replaces) gauge `name`, whose value `f` computes at each snapshot.
    pub fn gauge(&self, name: impl Into<String>, f: impl Fn() -> f64 + Send + Sync + 'static) {
        self.gauge_future(name, move || Future::ready(f()));
    }

    /// Registers (or replaces) gauge `name`, whose value `f` produces at each snapshot as a
    /// future, e.g. by asking a process:
    ///
    /// ```
    /// use libprocess::{Process, Runtime, call};
    /// struct Master { frameworks: usize }
    /// impl Process for Master {}
    ///
    /// let runtime = Runtime::new();
    /// let master = runtime.spawn(Master { frameworks: 2 });
    /// runtime.metrics().gauge_future("master/frameworks_active", move || {
    ///     call(&master, |m: &mut Master| m.frameworks as f64)
    /// });
    /// let snapshot = runtime.metrics().snapshot(None).get().unwrap();
    /// assert_eq!(snapshot["master/frameworks_active"], 2.0);
    /// ```
    pub fn gauge_future(
        &self,
        name: impl Into<String>,
        f: impl Fn() -> Future<f64> + Send + Sync + 'static,
    ) {
        self.registry
            .metrics
            .write()
            .insert(name.into(), Metric::Gauge(Arc::new(f)));
    }

    /// Removes metric `name`; false if there was none.
    pub fn remove(&self, name: &str) -> bool {
        self.registry.metrics.write().remove(name).is_some()
    }

    /// The names of the registered metrics, sorted.
    pub fn names(&self) -> Vec<String> {
        self.registry.metrics.read().keys().cloned().collect()
    }

    /// Every metric's value once all have answered, or, with a `timeout` (on the runtime's
    /// clock), those that answered by then. Failed metrics are left out.
    pub fn snapshot(&self, timeout: Option<Duration>) -> Future<BTreeMap<String, f64>> {
        let metrics: Vec<(String, Metric)> = self
            .registry
            .metrics
            .read()
            .iter()
            .map(|(name, metric)| (name.clone(), metric.clone()))
            .collect();
        let values: Arc<Vec<(String, Future<f64>)>> = Arc::new(
            metrics
                .into_iter()
                .map(|(name, metric)| {
                    let value = metric.value();
                    (name, value)
                })
                .collect(),
        );
        let gather = |values: &[(String, Future<f64>)]| -> BTreeMap<String, f64> {
            values
                .iter()
                .filter_map(|(name, value)| value.value().map(|v| (name.clone(), *v)))
                .collect()
        };
        let pending = values.iter().filter(|(_, v)| v.is_pending()).count();
        if pending == 0 {
            return Future::ready(gather(&values));
        }
        let promise = Arc::new(Promise::new());
        let result = promise.future();
        // Count every value, not just those pending a moment ago: one may complete meanwhile,
        // and `on_any` runs at once for completed ones.
        let remaining = Arc::new(AtomicUsize::new(values.len()));
        for (_, value) in values.iter() {
            let (promise, remaining, values) = (promise.clone(), remaining.clone(), values.clone());
            value.on_any(move |_| {
                if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    promise.set(gather(&values));
                }
            });
        }
        if let (Some(timeout), Some(shared)) = (timeout, self.runtime.upgrade()) {
            let (on_timeout, values) = (promise.clone(), values.clone());
            let timer = crate::clock::timer_on(&shared, timeout, move || {
                for (name, _) in values.iter().filter(|(_, v)| v.is_pending()) {
                    tracing::debug!(metric = %name, ?timeout, "metric did not answer in time");
                }
                on_timeout.set(gather(&values));
            });
            result.on_any(move |_| {
                timer.cancel();
            });
        }
        result
    }
}

impl Handle {
    /// This runtime's metrics registry.
    pub fn metrics(&self) -> Metrics {
        Metrics {
            registry: self.shared.http.metrics.clone(),
            runtime: Arc::downgrade(&self.shared),
        }
    }
}

/// Parses a duration in Mesos's notation (`10ns`, `5us`, `100ms`, `1secs`, `2mins`, `1hrs`,
/// `1days`, `1weeks`; a decimal number).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| "missing a unit".to_string())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("bad number {number:?}"))?;
    let nanos_per_unit: f64 = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "secs" => 1e9,
        "mins" => 60e9,
        "hrs" => 3600e9,
        "days" => 86400e9,
        "weeks" => 604800e9,
        _ => return Err(format!("unknown unit {unit:?}")),
    };
    let nanos = number * nanos_per_unit;
    if !nanos.is_finite() || nanos > u64::MAX as f64 {
        return Err("out of range".to_string());
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Serves `/metrics/snapshot` (process `metrics`, as libprocess).
struct MetricsProcess {
    metrics: Metrics,
}

impl MetricsProcess {
    fn snapshot(&mut self, request: Request) -> Future<Response> {
        let timeout = match request.query("timeout").map(parse_duration) {
            None => None,
            Some(Ok(timeout)) => Some(timeout),
            Some(Err(error)) => {
                return Future::ready(Response::bad_request(format!(
                    "Invalid timeout '{}': {error}.\n",
                    request.query("timeout").unwrap_or_default()
                )));
            }
        };
        self.metrics.snapshot(timeout).map(|snapshot| {
            let object: serde_json::Map<String, serde_json::Value> = snapshot
                .into_iter()
                .map(|(name, value)| (name, serde_json::Value::from(value)))
                .collect();
            Response::json(&serde_json::Value::Object(object))
        })
    }
}

impl Process for MetricsProcess {
    fn initialize(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.route("/snapshot", |me: &mut MetricsProcess, _ctx, request| {
            me.snapshot(request)
        });
    }
}

/// Spawns the `metrics` process of a runtime.
pub(crate) fn spawn_process(handle: &Handle) {
    let process = MetricsProcess {
        metrics: handle.metrics(),
    };
    if let Err(error) = handle.spawn_with_id("metrics", process) {
        tracing::warn!(%error, "cannot serve /metrics/snapshot");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mesos_durations() {
        assert_eq!(parse_duration("5secs"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.5mins"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2ns"), Ok(Duration::from_nanos(2)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5parsecs").is_err());
        assert!(parse_duration("secs").is_err());
    }

    #[test]
    fn counters_and_push_gauges_are_shared_by_name() {
        let registry = Arc::new(Registry::default());
        let metrics = Metrics {
            registry,
            runtime: Weak::new(),
        };
        metrics.counter("a").inc();
        metrics.counter("a").inc();
        metrics.push_gauge("g").set(2.5);
        let snapshot = metrics.snapshot(None).get().unwrap();
        assert_eq!(snapshot["a"], 2.0);
        assert_eq!(snapshot["g"], 2.5);
        assert!(metrics.remove("a"));
        assert!(!metrics.remove("a"));
        assert_eq!(metrics.names(), vec!["g".to_string()]);
    }

    #[test]
    fn failed_gauges_are_left_out() {
        let metrics = Metrics {
            registry: Arc::new(Registry::default()),
            runtime: Weak::new(),
        };
        metrics.gauge_future("bad", || Future::failed("no"));
        metrics.gauge("good", || 1.0);
        let snapshot = metrics.snapshot(None).get().unwrap();
        assert_eq!(snapshot.len(), 1);
    }
}

//! Latency quantiles over the last minute, from hdrhistogram: the worker records every message's
//! processing time and age (Kafka message timestamp → scored) into the current interval; every
//! [`super::worker`] gauge refresh closes the interval, and the quantile gauges are set from the
//! last [`INTERVALS`] intervals merged. A Prometheus histogram beside each keeps the long view
//! (and aggregates across pods); these gauges give exact tail quantiles of one pod, now.

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use prometheus::GaugeVec;

/// Quantiles exported, with their label values.
pub const QUANTILES: [(f64, &str); 4] = [(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99"), (0.999, "0.999")];

/// Closed intervals kept: six 10-second gauge refreshes, one minute.
const INTERVALS: usize = 6;

/// The daemon's two latency windows, shared by the scoring workers (each records once per batch
/// under the lock; the first worker publishes).
#[derive(Debug)]
pub struct Latencies {
    /// Processing time per message, ns, up to a minute.
    pub processing: Window,
    /// Kafka timestamp to scored, ms, up to a day.
    pub end_to_end: Window,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies { processing: Window::new(60_000_000_000, 1e-9), end_to_end: Window::new(86_400_000, 1e-3) }
    }
}

/// One latency's sliding window of hdrhistograms, values in `unit` seconds.
#[derive(Debug)]
pub struct Window {
    current: Histogram<u64>,
    closed: VecDeque<Histogram<u64>>,
    /// Seconds per recorded unit (1e-9 for nanoseconds, 1e-3 for milliseconds).
    unit: f64,
}

impl Window {
    /// A window of values from 1 to `highest` units, 3 significant digits.
    pub fn new(highest: u64, unit: f64) -> Window {
        // Bounds are constants within hdrhistogram's limits: cannot fail.
        let current = Histogram::new_with_bounds(1, highest, 3).expect("valid histogram bounds");
        Window { current, closed: VecDeque::with_capacity(INTERVALS), unit }
    }

    /// Records one value; values beyond the range are clamped to it.
    pub fn record(&mut self, value: u64) {
        self.current.saturating_record(value.max(1));
    }

    /// Closes the current interval and sets `gauges` (labelled by quantile) from the last
    /// minute; NaN with nothing recorded in the minute (as a Prometheus summary does).
    pub fn publish(&mut self, gauges: &GaugeVec) {
        let fresh = Histogram::new_from(&self.current);
        let closed = std::mem::replace(&mut self.current, fresh);
        if self.closed.len() == INTERVALS {
            self.closed.pop_front();
        }
        self.closed.push_back(closed);
        let mut merged = Histogram::new_from(&self.current);
        for h in &self.closed {
            // Same bounds throughout: cannot fail.
            merged.add(h).expect("same histogram bounds");
        }
        for (q, label) in QUANTILES {
            let v = if merged.is_empty() { f64::NAN } else { merged.value_at_quantile(q) as f64 * self.unit };
            gauges.with_label_values(&[label]).set(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Opts;

    #[test]
    fn quantiles_cover_the_last_minute_only() {
        let g = GaugeVec::new(Opts::new("t_seconds", "t"), &["quantile"]).unwrap();
        let mut w = Window::new(60_000_000_000, 1e-9);
        for v in 1..=1000u64 {
            w.record(v * 1000); // 1 µs .. 1 ms
        }
        w.publish(&g);
        let p50 = g.with_label_values(&["0.5"]).get();
        let p999 = g.with_label_values(&["0.999"]).get();
        assert!((p50 - 500e-6).abs() < 1e-6, "{p50}");
        assert!((p999 - 999e-6).abs() < 2e-6, "{p999}");
        // One fast interval later, the slow one still counts; six later, it is gone.
        w.record(10);
        w.publish(&g);
        assert!(g.with_label_values(&["0.99"]).get() > 900e-6);
        for _ in 0..INTERVALS {
            w.record(10);
            w.publish(&g);
        }
        assert!(g.with_label_values(&["0.999"]).get() < 1e-7, "{}", g.with_label_values(&["0.999"]).get());
        // Nothing recorded for a minute: no value.
        for _ in 0..=INTERVALS {
            w.publish(&g);
        }
        assert!(g.with_label_values(&["0.5"]).get().is_nan());
    }

    #[test]
    fn out_of_range_values_are_clamped_not_lost() {
        let g = GaugeVec::new(Opts::new("t_seconds", "t"), &["quantile"]).unwrap();
        let mut w = Window::new(1000, 1e-3);
        w.record(0);
        w.record(5_000_000);
        w.publish(&g);
        let max = g.with_label_values(&["0.999"]).get();
        assert!((0.999..=1.001).contains(&max), "{max}");
    }
}

//! Prometheus metrics and readiness: one [`Metrics`] registered on a registry passed in, its
//! labelled children resolved once at start-up so the hot path only increments. Counted by the
//! internal events' `emit()` (see [`super::events`]), so logs and metrics cannot drift apart.
//!
//! Names are `credence_<noun>_<unit>[_total]` in base units. Labels are bounded: topic (from the
//! configuration), format, error type, detector, severity, sink, lifecycle state, commit result,
//! eviction reason. Never a credential, IP or path.

use std::sync::atomic::{AtomicBool, Ordering};

use credence_detect::{CredentialState, Detector, Severity};
use credence_event::ErrorType;
use credence_finding::event_time::SkipReason;
use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::Topics;

pub mod geoip;
pub mod ops;
pub mod state;
pub mod suppress;

/// Sinks as labelled on delivery metrics: the alerts topic, the alerts file, the dead-letter topic.
pub const SINKS: [&str; 3] = ["kafka", "file", "dead_letter"];

/// The metric label of a sink's log label (the alerts topic logs as `alerts`).
fn sink_label(label: &str) -> &str {
    match label {
        "alerts" => "kafka",
        other => other,
    }
}

/// Per-message processing latency buckets, seconds (scoring takes microseconds).
const LATENCY_BUCKETS: [f64; 14] =
    [5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1, 1.0];

/// Message age at scoring (Kafka message timestamp → scored) buckets, seconds.
const END_TO_END_BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 600.0];

/// Counters of one input topic.
#[derive(Debug)]
pub struct TopicMetrics {
    /// Messages taken from the topic.
    pub consumed: IntCounter,
    /// Events decoded.
    pub decoded: IntCounter,
    /// Events scored.
    pub scored: IntCounter,
}

/// What `/readyz` answers from: set by the consumer thread, the worker and the sinks.
#[derive(Debug, Default)]
pub struct Health {
    /// The group has given this consumer its assignment (possibly empty).
    pub assigned: AtomicBool,
    /// The last delivery to some sink failed and none has succeeded since.
    pub sink_failing: AtomicBool,
    /// Consumption has been paused for long: alerts are not being acknowledged.
    pub stalled: AtomicBool,
    /// Shutdown has begun.
    pub stopping: AtomicBool,
}

impl Health {
    /// Ready: assigned, sinks healthy, not stalled, not stopping.
    pub fn ready(&self) -> bool {
        self.assigned.load(Ordering::Acquire)
            && !self.sink_failing.load(Ordering::Acquire)
            && !self.stalled.load(Ordering::Acquire)
            && !self.stopping.load(Ordering::Acquire)
    }
}

/// Every metric of the daemon.
#[derive(Debug)]
pub struct Metrics {
    /// By topic index.
    pub topics: Vec<TopicMetrics>,
    decode_errors: Vec<IntCounter>,
    /// Records set aside for their time, by topic and reason.
    set_aside: Vec<IntCounter>,
    /// Messages sent to the dead-letter topic (undecodable, or a record's time not trusted).
    pub dead_lettered: IntCounter,
    findings: Vec<IntCounter>,
    /// By severity.
    incidents: Vec<IntCounter>,
    /// Sinks by label: the built-in ones ([`SINKS`]), then the HTTP sinks by name.
    sink_names: Vec<String>,
    delivered: Vec<IntCounter>,
    failed: Vec<IntCounter>,
    /// Per HTTP sink (in `sink_names` order after the built-in ones): dead-lettered (kept, lost).
    sink_dead: Vec<(IntCounter, IntCounter)>,
    /// Offset commits that succeeded.
    pub commits_ok: IntCounter,
    /// Offset commits that failed.
    pub commits_error: IntCounter,
    /// Baselines held.
    pub baselines_active: IntGauge,
    baselines_by_state: Vec<IntGauge>,
    /// Baselines evicted because the store was full: newcomers and learning ones.
    pub evicted_capacity: IntCounter,
    /// Established baselines evicted because the store was full (no newcomers were left).
    pub evicted_established: IntCounter,
    /// Baselines dropped for idleness.
    pub evicted_idle: IntCounter,
    /// Rejected requests naming no known credential, counted by the key-spray detector.
    pub spray_attempts: IntCounter,
    /// Source networks the key-spray detector evicted for room.
    pub spray_networks_evicted: IntCounter,
    /// Per-message decode and scoring time.
    pub processing: Histogram,
    /// Per-message decode and scoring time over the last minute, by quantile (hdrhistogram).
    pub processing_quantiles: GaugeVec,
    /// Kafka message timestamp (producer or log-append time) to scored.
    pub end_to_end: Histogram,
    /// The same over the last minute, by quantile (hdrhistogram).
    pub end_to_end_quantiles: GaugeVec,
    /// Most baselines held (`[detect] max_credentials` summed over the inputs).
    pub baselines_capacity: IntGauge,
    /// Input partitions assigned to this consumer.
    pub partitions_assigned: IntGauge,
    /// Consumer lag by topic and partition, from librdkafka's statistics (every 10 s).
    pub lag: IntGaugeVec,
    /// Readiness.
    pub health: Health,
    /// Partition state: restores and checkpoints.
    pub state: state::StateMetrics,
    /// Readiness reasons, rebalances, the group's lag.
    pub ops: ops::OpsMetrics,
    /// IP enrichment.
    pub geoip: geoip::GeoIpMetrics,
    /// Suppression rules.
    pub suppress: suppress::SuppressMetrics,
}

pub(crate) fn reg<C: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: C) -> prometheus::Result<C> {
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

impl Metrics {
    /// Registers every metric on `registry`, plus the process collector (CPU, memory, open file
    /// descriptors; Linux only) under `credence_process_*`.
    pub fn new(registry: &Registry, topics: &Topics, http_sinks: &[String]) -> prometheus::Result<Metrics> {
        let r = registry;
        let topic_names = topics.names.clone();
        let by_topic = ["topic", "format"];
        let consumed = reg(
            r,
            IntCounterVec::new(
                Opts::new("credence_messages_consumed_total", "Messages taken from the input topics."),
                &by_topic,
            )?,
        )?;
        let decoded = reg(
            r,
            IntCounterVec::new(
                Opts::new("credence_events_decoded_total", "Events decoded from input messages."),
                &by_topic,
            )?,
        )?;
        let scored = reg(
            r,
            IntCounterVec::new(
                Opts::new("credence_events_scored_total", "Events scored by the detectors."),
                &by_topic,
            )?,
        )?;
        let topics = (0..topics.names.len())
            .map(|i| {
                let format = topics.format(topics.input(i as u16)).as_str();
                let labels = [topics.names[i].as_str(), format];
                TopicMetrics {
                    consumed: consumed.with_label_values(&labels),
                    decoded: decoded.with_label_values(&labels),
                    scored: scored.with_label_values(&labels),
                }
            })
            .collect();
        let errors = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "credence_decode_errors_total",
                    "Decode errors in input messages, by input topic and error type.",
                ),
                &["topic", "error_type"],
            )?,
        )?;
        let decode_errors = topic_names
            .iter()
            .flat_map(|topic| ErrorType::ALL.iter().map(|t| errors.with_label_values(&[topic.as_str(), t.as_str()])))
            .collect();
        let set_aside_vec = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "credence_events_set_aside_total",
                    "Decoded records not scored because their time is not trusted (future: dated past their arrival; too_old: older than the watermark allows), by input topic and reason. Each is dead-lettered.",
                ),
                &["topic", "reason"],
            )?,
        )?;
        let set_aside = topic_names
            .iter()
            .flat_map(|topic| {
                SkipReason::ALL.iter().map(|t| set_aside_vec.with_label_values(&[topic.as_str(), t.as_str()]))
            })
            .collect();
        let dead_lettered = reg(
            r,
            IntCounter::new(
                "credence_messages_dead_lettered_total",
                "Messages sent to the dead-letter topic: undecodable, or holding a record whose time is not trusted.",
            )?,
        )?;
        let findings_vec = reg(
            r,
            IntCounterVec::new(
                Opts::new("credence_findings_raised_total", "Findings opened, by opening detector and severity."),
                &["detector", "severity"],
            )?,
        )?;
        let findings = Detector::ALL
            .iter()
            .flat_map(|d| Severity::ALL.iter().map(move |s| (d, s)))
            .map(|(d, s)| findings_vec.with_label_values(&[d.as_str(), s.as_str()]))
            .collect();
        let incidents_vec = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "credence_incidents_raised_total",
                    "Incidents opened (with [alerts] incidents: a principal's findings rolled up), by severity.",
                ),
                &["severity"],
            )?,
        )?;
        let incidents = Severity::ALL.iter().map(|s| incidents_vec.with_label_values(&[s.as_str()])).collect();
        let delivered_vec = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "credence_alerts_delivered_total",
                    "Records acknowledged by a sink (alerts topic, alerts file, dead-letter topic, each HTTP sink by name).",
                ),
                &["sink"],
            )?,
        )?;
        let failed_vec = reg(
            r,
            IntCounterVec::new(
                Opts::new("credence_alerts_failed_total", "Deliveries that failed (and are retried), by sink."),
                &["sink"],
            )?,
        )?;
        let sink_names: Vec<String> = SINKS.iter().map(|s| s.to_string()).chain(http_sinks.iter().cloned()).collect();
        let delivered = sink_names.iter().map(|s| delivered_vec.with_label_values(&[s])).collect();
        let failed = sink_names.iter().map(|s| failed_vec.with_label_values(&[s])).collect();
        let sink_dead_lettered = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "credence_sink_dead_lettered_total",
                    "Finding records an HTTP sink gave up on after its attempts, by sink and whether the dead-letter topic kept them.",
                ),
                &["sink", "kept"],
            )?,
        )?;
        let sink_dead = http_sinks
            .iter()
            .map(|s| {
                (
                    sink_dead_lettered.with_label_values(&[s, "true"]),
                    sink_dead_lettered.with_label_values(&[s, "false"]),
                )
            })
            .collect();
        let commits = reg(
            r,
            IntCounterVec::new(Opts::new("credence_commits_total", "Offset commits, by result."), &["result"])?,
        )?;
        let baselines_active =
            reg(r, IntGauge::new("credence_baselines_active", "Baselines held (refreshed every 10 s).")?)?;
        let states = reg(
            r,
            IntGaugeVec::new(
                Opts::new("credence_baselines", "Baselines by lifecycle state (refreshed every 10 s)."),
                &["state"],
            )?,
        )?;
        let baselines_by_state = CredentialState::ALL.iter().map(|s| states.with_label_values(&[s.as_str()])).collect();
        let spray_attempts = reg(
            r,
            IntCounter::new(
                "credence_spray_attempts_total",
                "Rejected requests naming no known credential (unknown, malformed or missing key), counted by source network for the key-spray detector (refreshed every 10 s).",
            )?,
        )?;
        let spray_networks_evicted = reg(
            r,
            IntCounter::new(
                "credence_spray_networks_evicted_total",
                "Source networks the key-spray detector dropped because its per-task store was full (refreshed every 10 s).",
            )?,
        )?;
        let evicted = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "credence_baselines_evicted_total",
                    "Baselines evicted, by reason: capacity (newcomers and learning ones, first), capacity_established, idle (refreshed every 10 s).",
                ),
                &["reason"],
            )?,
        )?;
        let processing = reg(
            r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "credence_event_processing_seconds",
                    "Time to process one input message (decode, score, hand its findings to the sinks), seconds.",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )?,
        )?;
        let processing_quantiles = reg(
            r,
            GaugeVec::new(
                Opts::new(
                    "credence_event_processing_quantile_seconds",
                    "Time to process one input message over the last minute, by quantile, seconds.",
                ),
                &["quantile"],
            )?,
        )?;
        let end_to_end = reg(
            r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "credence_event_end_to_end_seconds",
                    "From the input message's Kafka timestamp to its scoring, seconds.",
                )
                .buckets(END_TO_END_BUCKETS.to_vec()),
            )?,
        )?;
        let end_to_end_quantiles = reg(
            r,
            GaugeVec::new(
                Opts::new(
                    "credence_event_end_to_end_quantile_seconds",
                    "From the input message's Kafka timestamp to its scoring, over the last minute, by quantile, seconds.",
                ),
                &["quantile"],
            )?,
        )?;
        // Present from the first scrape (NaN until a minute holds a message), so rules and
        // panels see the series before the first refresh.
        for (_, q) in super::latency::QUANTILES {
            processing_quantiles.with_label_values(&[q]).set(f64::NAN);
            end_to_end_quantiles.with_label_values(&[q]).set(f64::NAN);
        }
        let baselines_capacity = reg(
            r,
            IntGauge::new("credence_baselines_capacity", "Most baselines held ([detect] max_credentials per input).")?,
        )?;
        let memory_limit = reg(
            r,
            Gauge::new("credence_memory_limit_bytes", "Memory limit of the process's cgroup, bytes (+Inf: none).")?,
        )?;
        memory_limit.set(cgroup_memory_limit().unwrap_or(f64::INFINITY));
        let build_info = reg(
            r,
            IntGaugeVec::new(Opts::new("credence_build_info", "Always 1, labelled by version."), &["version"])?,
        )?;
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let partitions_assigned = reg(
            r,
            IntGauge::new("credence_consumer_partitions_assigned", "Input partitions assigned to this consumer.")?,
        )?;
        let lag = reg(
            r,
            IntGaugeVec::new(
                Opts::new(
                    "credence_consumer_lag_messages",
                    "Messages behind the end of each assigned input partition (librdkafka statistics, every 10 s).",
                ),
                &["topic", "partition"],
            )?,
        )?;
        #[cfg(target_os = "linux")]
        r.register(Box::new(prometheus::process_collector::ProcessCollector::new(
            std::process::id() as i32,
            "credence",
        )))?;
        Ok(Metrics {
            topics,
            decode_errors,
            set_aside,
            dead_lettered,
            findings,
            incidents,
            sink_names,
            delivered,
            failed,
            sink_dead,
            commits_ok: commits.with_label_values(&["ok"]),
            commits_error: commits.with_label_values(&["error"]),
            baselines_active,
            baselines_by_state,
            evicted_capacity: evicted.with_label_values(&["capacity"]),
            evicted_established: evicted.with_label_values(&["capacity_established"]),
            evicted_idle: evicted.with_label_values(&["idle"]),
            spray_attempts,
            spray_networks_evicted,
            processing,
            processing_quantiles,
            end_to_end,
            end_to_end_quantiles,
            baselines_capacity,
            partitions_assigned,
            lag,
            health: Health::default(),
            state: state::StateMetrics::new(r)?,
            ops: ops::OpsMetrics::new(r)?,
            geoip: geoip::GeoIpMetrics::new(r)?,
            suppress: suppress::SuppressMetrics::new(r)?,
        })
    }

    /// The decode-error counter of input topic `topic` (its index) and error type `t`.
    pub fn decode_error(&self, topic: u16, t: ErrorType) -> &IntCounter {
        let i = ErrorType::ALL.iter().position(|x| *x == t).unwrap_or(0);
        &self.decode_errors[usize::from(topic) * ErrorType::ALL.len() + i]
    }

    /// The set-aside counter of input topic `topic` (its index) and reason `r`.
    pub fn set_aside(&self, topic: u16, r: SkipReason) -> &IntCounter {
        let i = SkipReason::ALL.iter().position(|x| *x == r).unwrap_or(0);
        &self.set_aside[usize::from(topic) * SkipReason::ALL.len() + i]
    }

    /// The incidents counter of `severity`.
    pub fn incident(&self, severity: Severity) -> &IntCounter {
        let s = Severity::ALL.iter().position(|x| *x == severity).unwrap_or(0);
        &self.incidents[s]
    }

    /// The findings counter of `detector` and `severity`.
    pub fn finding(&self, detector: Detector, severity: Severity) -> &IntCounter {
        let d = Detector::ALL.iter().position(|x| *x == detector).unwrap_or(0);
        let s = Severity::ALL.iter().position(|x| *x == severity).unwrap_or(0);
        &self.findings[d * Severity::ALL.len() + s]
    }

    /// The delivered counter of a sink, by its log label (`alerts`, `file`, `dead_letter`).
    pub fn delivered(&self, sink: &str) -> &IntCounter {
        &self.delivered[self.sink_index(sink)]
    }

    /// The index of a sink, by its log label or name (the first, the alerts topic, if unknown).
    fn sink_index(&self, sink: &str) -> usize {
        let label = sink_label(sink);
        self.sink_names.iter().position(|n| n == label).unwrap_or(0)
    }

    /// The dead-letter counter of an HTTP sink: `kept` by the dead-letter topic, or lost.
    pub fn sink_dead_lettered(&self, sink: &str, kept: bool) -> Option<&IntCounter> {
        let i = self.sink_index(sink).checked_sub(SINKS.len())?;
        self.sink_dead.get(i).map(|(k, l)| if kept { k } else { l })
    }

    /// The failed counter of a sink, by its log label.
    pub fn failed(&self, sink: &str) -> &IntCounter {
        &self.failed[self.sink_index(sink)]
    }

    /// Sets the baselines-by-state gauges.
    pub fn set_states(&self, counts: &[(CredentialState, usize)]) {
        for (i, s) in CredentialState::ALL.iter().enumerate() {
            let n: usize = counts.iter().filter(|(st, _)| st == s).map(|(_, n)| n).sum();
            self.baselines_by_state[i].set(n as i64);
        }
    }
}

/// The memory limit of this process's cgroup (v2 `memory.max`, else v1
/// `memory.limit_in_bytes`), bytes; `None` when unlimited or unknown.
fn cgroup_memory_limit() -> Option<f64> {
    // v1 reports "unlimited" as a huge page-aligned number.
    const V1_UNLIMITED: u64 = 1 << 62;
    ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"].iter().find_map(|path| {
        let text = std::fs::read_to_string(path).ok()?;
        let v: u64 = text.trim().parse().ok()?;
        (v < V1_UNLIMITED).then_some(v as f64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use credence_event::Format;

    #[test]
    fn every_metric_follows_the_naming_rules() {
        let topics = Topics {
            names: vec!["events".into()],
            inputs: vec![0],
            formats: vec![Format::Ocsf],
            index: std::collections::HashMap::new(),
        };
        let registry = Registry::new();
        let m = Metrics::new(&registry, &topics, &["pager".to_string()]).expect("registers");
        let body = prometheus::TextEncoder::new().encode_to_string(&registry.gather()).expect("encodes");
        for q in ["0.5", "0.9", "0.99", "0.999"] {
            let line = format!("credence_event_processing_quantile_seconds{{quantile=\"{q}\"}} NaN");
            assert!(body.contains(&line), "{line} missing before any refresh");
        }
        m.lag.with_label_values(&["events", "0"]).set(0);
        let families = registry.gather();
        assert!(families.len() >= 20, "{}", families.len());
        let forbidden = ["credential", "ip", "path", "user", "key", "subject", "principal", "address", "host"];
        for f in &families {
            let name = f.name();
            assert!(name.starts_with("credence_"), "{name}: no credence_ prefix");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{name}");
            match f.get_field_type() {
                prometheus::proto::MetricType::COUNTER => assert!(name.ends_with("_total"), "{name}: counter"),
                prometheus::proto::MetricType::HISTOGRAM => assert!(name.ends_with("_seconds"), "{name}: histogram"),
                _ => assert!(!name.ends_with("_total"), "{name}: only counters end in _total"),
            }
            for unit in ["_milliseconds", "_ms", "_kilobytes", "_megabytes", "_minutes"] {
                assert!(!name.contains(unit), "{name}: not a base unit");
            }
            for m in f.get_metric() {
                for l in m.get_label() {
                    let label = l.name();
                    assert!(!forbidden.iter().any(|b| label.contains(b)), "{name}: forbidden label {label}");
                }
            }
        }
    }
}

//! The report: the machine, every measurement, the targets, and the table printed at the end.

use std::fmt::Write as _;

use serde::Serialize;

use crate::peer::{Replayed, River};
use crate::residency::{Plateau, Residency};
use crate::stream::Stream;
use crate::through_kafka::{KafkaRun, Quantiles};

/// The machine the run was on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub memory_bytes: u64,
    pub kernel: String,
}

impl Machine {
    /// From `/proc`.
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_bytes = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
        Machine { cores: std::thread::available_parallelism().map_or(1, usize::from), cpu_model, memory_bytes, kernel }
    }
}

/// The peer comparison on the same events: every round, and which one is quoted.
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    /// Events both scored (the first of the stream).
    pub events: u64,
    /// Every round, in the order run (River first in odd rounds, Credence first in even ones).
    pub rounds: Vec<PeerRound>,
    /// The round quoted: the one whose like-for-like ratio is the median (the lower middle one of
    /// an even number), so its figures belong together.
    pub median_round: usize,
}

/// One round of the peer comparison: River, then Credence, on the same events (or the reverse).
#[derive(Debug, Clone, Serialize)]
pub struct PeerRound {
    pub river: River,
    pub credence_replay: Replayed,
    pub ratio_like_for_like: f64,
    pub ratio_to_hst_alone: f64,
}

impl PeerRound {
    pub fn new(river: River, credence_replay: Replayed) -> PeerRound {
        PeerRound {
            ratio_like_for_like: credence_replay.events_per_sec / river.total_events_per_sec,
            ratio_to_hst_alone: credence_replay.events_per_sec / river.hst_events_per_sec,
            river,
            credence_replay,
        }
    }
}

impl Peer {
    /// The comparison of `rounds` (not empty).
    pub fn of_rounds(events: u64, rounds: Vec<PeerRound>) -> Peer {
        let mut order: Vec<usize> = (0..rounds.len()).collect();
        order.sort_by(|&a, &b| rounds[a].ratio_like_for_like.total_cmp(&rounds[b].ratio_like_for_like));
        let median_round = order[(order.len() - 1) / 2];
        Peer { events, rounds, median_round }
    }

    /// The round quoted.
    pub fn quoted(&self) -> &PeerRound {
        &self.rounds[self.median_round]
    }
}

/// One target and how the run did against it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub target: String,
    pub measured: String,
    pub met: bool,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: String,
    pub machine: Machine,
    /// Unix seconds at the start.
    pub started_unix: u64,
    pub total_secs: f64,
    pub stream: Stream,
    pub kafka: Option<KafkaRun>,
    /// `credence replay` of the whole stream file.
    pub replay_all: Option<Replayed>,
    pub peer: Option<Peer>,
    pub residency: Vec<Residency>,
    pub plateau: Option<Plateau>,
    pub targets: Vec<Target>,
}

fn mib(b: f64) -> String {
    format!("{:.1} MiB", b / (1024.0 * 1024.0))
}

fn us(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{:.1} µs", s * 1e6))
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{:.1} ms", s * 1e3))
}

fn quantiles(q: &Quantiles, f: fn(Option<f64>) -> String) -> String {
    format!("p50 {}  p90 {}  p99 {}  p99.9 {}", f(q.p50), f(q.p90), f(q.p99), f(q.p999))
}

/// Thousands separated.
pub fn n(v: f64) -> String {
    let s = format!("{:.0}", v);
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

impl Report {
    /// Judges the run against the targets.
    pub fn judge(&mut self) {
        let mut t = Vec::new();
        if let Some(k) = &self.kafka {
            t.push(Target {
                name: "credence run / bare consumer, same topic, same run".into(),
                target: "≥ 0.70".into(),
                measured: format!(
                    "{:.2} ({} vs best bare {} events/s)",
                    k.ratio_to_best_bare,
                    n(k.daemon.per_sec),
                    n(k.bare.iter().map(|b| b.per_sec).fold(0.0, f64::max))
                ),
                met: k.ratio_to_best_bare >= 0.70,
            });
            t.push(Target {
                name: "CPU per event with the state changelog / without, same backlog".into(),
                target: "≤ 1.10".into(),
                measured: format!(
                    "{:.2} ({:.2} vs {:.2} CPU s per M; median of {} alternated rounds: {})",
                    k.state.cpu_ratio_with_over_without,
                    k.state.with_cpu_secs_per_million,
                    k.state.without_cpu_secs_per_million,
                    k.state.cpu_ratios.len(),
                    k.state.cpu_ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
                ),
                met: k.state.cpu_ratio_with_over_without <= 1.10,
            });
            t.push(Target {
                name: "state restore, baselines per second per pod".into(),
                target: "≥ 100,000".into(),
                measured: format!(
                    "{} ({} baselines)",
                    n(k.state.restore_baselines_per_sec),
                    n(k.state.restored_records)
                ),
                met: k.state.restore_baselines_per_sec >= 100_000.0,
            });
            t.push(Target {
                name: "a baseline's changelog record, key and value".into(),
                target: "≤ 1024 bytes".into(),
                measured: format!("{:.0} bytes", k.state.baseline_record_bytes),
                met: k.state.baseline_record_bytes <= 1024.0,
            });
            if let Some(l) = k.live.first() {
                let p99 = l.processing.p99.unwrap_or(f64::INFINITY);
                t.push(Target {
                    name: format!(
                        "p99 processing, live at {:.0}% of the daemon's rate ({:.0}% achieved)",
                        100.0 * l.fraction,
                        100.0 * l.fraction_achieved
                    ),
                    target: "< 50 µs".into(),
                    measured: us(l.processing.p99),
                    met: p99 < 50e-6,
                });
            }
        }
        if let Some(p) = self.peer.as_ref().map(Peer::quoted) {
            t.push(Target {
                name: "Credence / River HST, same events (both parse JSON)".into(),
                target: "≥ 20x".into(),
                measured: format!(
                    "{:.1}x ({} vs {} events/s)",
                    p.ratio_like_for_like,
                    n(p.credence_replay.events_per_sec),
                    n(p.river.total_events_per_sec)
                ),
                met: p.ratio_like_for_like >= 20.0,
            });
            t.push(Target {
                name: "Credence / River HST model alone (River's parsing excluded)".into(),
                target: "≥ 20x".into(),
                measured: format!("{:.1}x (vs {} events/s)", p.ratio_to_hst_alone, n(p.river.hst_events_per_sec)),
                met: p.ratio_to_hst_alone >= 20.0,
            });
        }
        if let Some(r) = self.residency.iter().max_by_key(|r| r.credentials) {
            t.push(Target {
                name: format!("memory per resident credential at {} credentials", n(r.credentials as f64)),
                target: "≤ 1024 bytes".into(),
                measured: format!("{:.0} bytes", r.bytes_per_credential),
                met: r.bytes_per_credential <= 1024.0,
            });
        }
        if let Some(p) = &self.plateau {
            t.push(Target {
                name: format!(
                    "RSS bounded: {} distinct credentials, max_credentials {}",
                    n(p.distinct_credentials as f64),
                    n(p.max_credentials as f64)
                ),
                target: "growth past capacity < 10% of the unbounded cost".into(),
                measured: format!(
                    "{} at capacity, {} at most after: {:.1}% of the unbounded cost; {} baselines at the end",
                    mib(p.rss_at_capacity_bytes as f64),
                    mib(p.rss_max_after_bytes as f64),
                    100.0 * p.growth_after_vs_unbounded,
                    n(p.baselines_at_end as f64)
                ),
                met: p.growth_after_vs_unbounded < 0.10 && p.baselines_at_end <= p.max_credentials,
            });
        }
        self.targets = t;
    }

    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut o = String::new();
        let m = &self.machine;
        let s = &self.stream;
        let _ = writeln!(o, "\n══ credence load benchmark ({}) ══", self.mode);
        let _ = writeln!(o, "machine: {} cores, {}, {} memory", m.cores, m.cpu_model, mib(m.memory_bytes as f64));
        let _ = writeln!(
            o,
            "events: {} simulator events, {:.0} bytes on average, {} credentials",
            n(s.count as f64),
            s.mean_bytes(),
            n(s.distinct_credentials as f64)
        );
        if let Some(k) = &self.kafka {
            let opts: Vec<String> = k.consumer_options.iter().map(|(a, b)| format!("{a}={b}")).collect();
            let _ = writeln!(
                o,
                "\n── through Kafka: {} partitions; consumer settings (both): {} ──",
                k.partitions,
                if opts.is_empty() { "librdkafka defaults".into() } else { opts.join(", ") }
            );
            let _ = writeln!(o, "{:<34}{:>14} msgs/s", "produce (acks=all)", n(k.produced.per_sec));
            for (i, b) in k.bare.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "{:<34}{:>14} msgs/s   CPU {:.2} s per M   broker CPU {:.2} s per M",
                    format!("bare rdkafka consumer, run {}", i + 1),
                    n(b.per_sec),
                    b.cpu_secs_per_million,
                    b.broker_cpu_secs / (b.messages as f64 / 1e6)
                );
            }
            let d = &k.daemon;
            let _ = writeln!(
                o,
                "{:<34}{:>14} events/s CPU {:.2} s per M   broker CPU {:.2} s per M   peak RSS {}",
                "credence run",
                n(d.per_sec),
                d.cpu_secs_per_million,
                d.broker_cpu_secs / (d.events as f64 / 1e6),
                mib(k.daemon_peak_rss_bytes as f64)
            );
            let _ = writeln!(
                o,
                "{:<34}{:>14.2} (of the best bare run; {:.2} of their mean)",
                "ratio credence run / bare", k.ratio_to_best_bare, k.ratio_to_mean_bare
            );
            if let Some(one) = &k.one_worker {
                let _ = writeln!(
                    o,
                    "{:<34}{:>14} events/s CPU {:.2} s per M   (the default, one per core: {:.2}x); findings {} (default {})",
                    "credence run, one scoring worker",
                    n(one.per_sec),
                    one.cpu_secs_per_million,
                    one.speedup_of_default,
                    one.findings,
                    d.findings
                );
            }
            let st = &k.state;
            let _ = writeln!(
                o,
                "{:<34}{:>14} events/s CPU {:.2} s per M   (with the changelog, the default: {:.2} s per M, {:.2}x the CPU per event; the median of rounds {})",
                "credence run, no changelog",
                n(st.without_per_sec),
                st.without_cpu_secs_per_million,
                st.with_cpu_secs_per_million,
                st.cpu_ratio_with_over_without,
                st.cpu_ratios.iter().map(|r| format!("{r:.2}x")).collect::<Vec<_>>().join(", ")
            );
            let _ = writeln!(
                o,
                "{:<34}{} records, {:.1} MB in {} checkpoints over the backlog; a baseline's record {:.0} bytes; {} baselines restored in {:.2} s ({} a second)",
                "state changelog",
                n(st.changelog_records),
                st.changelog_bytes / 1e6,
                st.checkpoints,
                st.baseline_record_bytes,
                n(st.restored_records),
                st.restore_secs,
                n(st.restore_baselines_per_sec)
            );
            let threads: Vec<String> = d.threads.iter().map(|(t, c)| format!("{t} {c:.2}")).collect();
            let _ = writeln!(o, "{:<34}{}", "  daemon threads (cores used)", threads.join(", "));
            let _ = writeln!(o, "{:<34}{}", "processing at saturation (hdr)", quantiles(&d.processing, us));
            let _ = writeln!(o, "{:<34}{}", "  (histogram, whole backlog)", quantiles(&d.processing_histogram, us));
            for l in &k.live {
                let _ = writeln!(
                    o,
                    "live at {:.0}% asked, {:.0}% achieved ({} events/s for {:.0} s, {} events; caught up {:.2} s after the last):",
                    100.0 * l.fraction,
                    100.0 * l.fraction_achieved,
                    n(l.produced.per_sec),
                    l.produced.secs,
                    n(l.produced.messages as f64),
                    l.drain_secs
                );
                let _ = writeln!(o, "{:<34}{}", "  processing (hdr, last minute)", quantiles(&l.processing, us));
                let _ = writeln!(o, "{:<34}{}", "  processing (histogram)", quantiles(&l.processing_histogram, us));
                let _ = writeln!(
                    o,
                    "{:<34}{}",
                    "  share of messages over 50 µs",
                    l.processing_above_50us.map_or("-".into(), |f| format!("{:.3}%", f * 100.0))
                );
                let _ = writeln!(o, "{:<34}{}", "  end to end (hdr, last minute)", quantiles(&l.end_to_end, ms));
                let _ = writeln!(o, "{:<34}{}", "  end to end (histogram)", quantiles(&l.end_to_end_histogram, ms));
                let _ = writeln!(o, "{:<34}{:.2} s per M", "  daemon CPU", l.cpu_secs_per_million);
            }
        }
        if let Some(r) = &self.replay_all {
            let _ = writeln!(
                o,
                "\n{:<34}{:>14} events/s CPU {:.2} s per M   peak RSS {}",
                format!("credence replay, {} events", n(r.events as f64)),
                n(r.events_per_sec),
                r.cpu_secs / (r.events as f64 / 1e6),
                mib(r.peak_rss_bytes as f64)
            );
        }
        if let Some(peer) = &self.peer {
            let p = peer.quoted();
            let _ = writeln!(
                o,
                "\n── peer: the first {} events, round of median ratio of {} ──",
                n(peer.events as f64),
                peer.rounds.len()
            );
            let _ =
                writeln!(o, "{:<34}{:>14} events/s", "River HST, parsing included", n(p.river.total_events_per_sec));
            let _ = writeln!(o, "{:<34}{:>14} events/s", "River HST, model alone", n(p.river.hst_events_per_sec));
            let _ = writeln!(
                o,
                "{:<34}{:>14} events/s",
                "credence replay, same events",
                n(p.credence_replay.events_per_sec)
            );
            let _ = writeln!(
                o,
                "{:<34}{:>13.1}x (vs model alone {:.1}x)",
                "ratio Credence / River", p.ratio_like_for_like, p.ratio_to_hst_alone
            );
            if peer.rounds.len() > 1 {
                let each: Vec<String> = peer.rounds.iter().map(|r| format!("{:.1}x", r.ratio_like_for_like)).collect();
                let _ = writeln!(o, "{:<34}{:>14} (the median quoted above)", "each round", each.join(" "));
            }
        }
        if let Some(p) = &self.plateau {
            let samples: Vec<String> = p
                .samples
                .iter()
                .step_by(4)
                .map(|(k, r)| format!("{}k {:.0}", k / 1000, *r as f64 / 1048576.0))
                .collect();
            let _ = writeln!(
                o,
                "\n── RSS (MiB) by distinct credentials streamed, max_credentials {} ──\n{}",
                n(p.max_credentials as f64),
                samples.join("  ")
            );
        }
        if !self.residency.is_empty() {
            let _ = writeln!(o, "\n── resident credentials (credence replay, one thread) ──");
            for r in &self.residency {
                let _ = writeln!(
                    o,
                    "{:>10} credentials: {:>6.0} bytes each   {:>10} events/s   RSS {}",
                    n(r.credentials as f64),
                    r.bytes_per_credential,
                    n(r.events_per_sec),
                    mib(r.rss_full_bytes as f64)
                );
            }
        }
        if !self.targets.is_empty() {
            let _ = writeln!(o, "\n── targets ──");
            for t in &self.targets {
                let _ = writeln!(
                    o,
                    "[{}] {}: {} (target {})",
                    if t.met { "met " } else { "MISS" },
                    t.name,
                    t.measured,
                    t.target
                );
            }
        }
        let _ = writeln!(o, "\ntotal {:.0} s", self.total_secs);
        o
    }
}

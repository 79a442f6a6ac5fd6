//! The phases through the real broker, in one run on one topic:
//!
//! 1. produce the event file (keyed by credential) and its lifecycle records;
//! 2. a bare rdkafka consumer reads every message (the ceiling);
//! 3. `credence run` scores every message (its first scored event to its last);
//! 4. the bare consumer again, while the daemon idles (the spread of the two is the noise);
//! 5. the backlog again with one scoring worker (a consumer group of its own; the daemon of 3
//!    idles): the daemon's default (one worker per core) beside it shows what the workers add.
//!    It runs before the live phases so that it reads the backlog alone;
//! 6. live: the stream continues (event times moved on by whole weeks) produced at a fraction of
//!    the daemon's measured rate while it consumes; its processing and end-to-end latency come
//!    from its `/metrics` (hdrhistogram quantiles over the last minute, and the difference of the
//!    Prometheus histograms before and after);
//! 7. SIGTERM, clean exit (a last checkpoint);
//! 8. state: the backlog again by a daemon without a changelog (its own group), against the
//!    default daemon's CPU per event above (it checkpoints every 5 s); then a changelog of many
//!    baselines, written as the daemon writes them, read back by a new daemon: the restore rate,
//!    and a baseline's bytes in the changelog.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;

use crate::daemon::{bucket_delta, bucket_quantile, config, fraction_above, Daemon, Scrape, Topics};
use crate::kafka::{self, Consumed, Produced, STALL};
use crate::procfs;
use crate::stream::Stream;

/// Scrape interval while the daemon works.
const SCRAPE_EVERY: Duration = Duration::from_millis(100);
/// The daemon publishes its quantile gauges this often (`GAUGES_EVERY` in its worker), over the
/// last six of these.
const GAUGE_REFRESH: Duration = Duration::from_secs(10);
/// Quiet time between the backlog and the live phase, so that the last-minute quantiles read
/// after the live phase hold live events only (see [`run`]).
const QUIET: Duration = Duration::from_secs(30);

/// What the phases are given.
#[derive(Debug)]
pub struct Setup<'a> {
    pub binary: &'a Path,
    pub work: &'a Path,
    pub bootstrap: String,
    pub partitions: i32,
    pub consumer_options: Vec<(String, String)>,
    /// Live phases: fractions of the daemon's measured rate, and the duration of each.
    pub live_fractions: Vec<f64>,
    pub live_secs: f64,
    /// Smoke mode: no quiet time before the live phase.
    pub smoke: bool,
    /// Baselines in the restore measurement's changelog.
    pub restore_baselines: u64,
    /// Rounds of the changelog's cost: the backlog with and without a changelog, alternated.
    pub state_rounds: usize,
}

/// Latency quantiles, seconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
}

impl Quantiles {
    /// From a daemon's `*_quantile_seconds` gauges.
    fn gauges(s: &Scrape, name: &str) -> Quantiles {
        let q = |v: &str| s.labelled(name, "quantile", v).filter(|x| x.is_finite());
        Quantiles { p50: q("0.5"), p90: q("0.9"), p99: q("0.99"), p999: q("0.999") }
    }

    /// From a histogram's buckets.
    fn buckets(b: &[(f64, f64)]) -> Quantiles {
        let q = |x| bucket_quantile(b, x);
        Quantiles { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999) }
    }
}

/// The daemon on the backlog.
#[derive(Debug, Clone, Serialize)]
pub struct Backlog {
    /// Events scored in all.
    pub events: u64,
    /// Seconds from the first scrape with an event scored to the scrape with all scored.
    pub secs: f64,
    /// Events per second over `secs`.
    pub per_sec: f64,
    /// CPU seconds of the daemon over `secs`, and per million events.
    pub cpu_secs: f64,
    pub cpu_secs_per_million: f64,
    /// CPU seconds of the broker over `secs`.
    pub broker_cpu_secs: f64,
    /// The daemon's threads by name, busiest first: (name, cores used over `secs`).
    pub threads: Vec<(String, f64)>,
    /// Seconds from `credence run` starting to its first scored event.
    pub startup_secs: f64,
    /// Processing time per message at saturation: the hdrhistogram quantiles of the last minute
    /// of the backlog, and the Prometheus histogram over the whole backlog.
    pub processing: Quantiles,
    pub processing_histogram: Quantiles,
    /// Fraction of messages above 50 µs (histogram).
    pub processing_above_50us: Option<f64>,
    pub decode_errors: f64,
    pub findings: f64,
    pub alerts_delivered: f64,
    /// Records and bytes written to the changelog by the end of the backlog, and checkpoints.
    pub changelog_records: f64,
    pub changelog_bytes: f64,
    pub checkpoints: f64,
}

/// A live phase.
#[derive(Debug, Clone, Serialize)]
pub struct Live {
    /// The fraction of the daemon's backlog rate asked for, and the one the producer achieved
    /// (the producer and the broker share the machine's cores with the daemon).
    pub fraction: f64,
    pub fraction_achieved: f64,
    pub target_per_sec: f64,
    pub produced: Produced,
    /// Events scored during the phase.
    pub scored: u64,
    /// Seconds from the last message produced to the daemon having scored it.
    pub drain_secs: f64,
    pub cpu_secs_per_million: f64,
    /// Processing time per message: hdrhistogram quantiles of the last minute (live only), and
    /// the Prometheus histogram's difference over the phase.
    pub processing: Quantiles,
    pub processing_histogram: Quantiles,
    pub processing_above_50us: Option<f64>,
    /// Kafka message timestamp (produce time) to scored, the same two ways.
    pub end_to_end: Quantiles,
    pub end_to_end_histogram: Quantiles,
}

/// Everything measured through Kafka.
#[derive(Debug, Clone, Serialize)]
pub struct KafkaRun {
    pub partitions: i32,
    /// The consumer settings given to both the bare consumer and the daemon.
    pub consumer_options: Vec<(String, String)>,
    pub produced: Produced,
    /// Bare consumer runs: before the daemon, and after its backlog.
    pub bare: Vec<Consumed>,
    pub daemon: Backlog,
    /// Peak RSS of the daemon, bytes.
    pub daemon_peak_rss_bytes: u64,
    /// Daemon rate over the best and the mean bare rate.
    pub ratio_to_best_bare: f64,
    pub ratio_to_mean_bare: f64,
    pub live: Vec<Live>,
    /// The same backlog scored by a daemon with one scoring worker (absent on a one-core
    /// machine, where the default is one worker already).
    pub one_worker: Option<OneWorker>,
    /// The changelog's cost and the restore.
    pub state: StateRun,
}

/// The state's changelog: its cost on the backlog, its size, and a restore.
#[derive(Debug, Clone, Serialize)]
pub struct StateRun {
    /// The round of median ratio: the backlog scored without a changelog (events/s, CPU seconds
    /// per million) and with one (CPU seconds per million).
    pub without_per_sec: f64,
    pub without_cpu_secs_per_million: f64,
    pub with_cpu_secs_per_million: f64,
    /// CPU per event with the changelog over without, the median of the rounds.
    pub cpu_ratio_with_over_without: f64,
    /// Every round's ratio, in the order run.
    pub cpu_ratios: Vec<f64>,
    /// What the default daemon wrote to the changelog by the end of the backlog.
    pub changelog_records: f64,
    pub changelog_bytes: f64,
    pub checkpoints: f64,
    /// Key and value bytes of a baseline's changelog record (the synthetic changelog's mean).
    pub baseline_record_bytes: f64,
    /// Baselines read back by the new daemon, the seconds it took (the partitions together),
    /// and baselines per second per pod.
    pub restored_records: f64,
    pub restore_secs: f64,
    pub restore_baselines_per_sec: f64,
}

/// The backlog through a daemon with `scoring_workers = 1`.
#[derive(Debug, Clone, Serialize)]
pub struct OneWorker {
    pub per_sec: f64,
    pub cpu_secs_per_million: f64,
    /// The default daemon's rate over this one.
    pub speedup_of_default: f64,
    /// Findings opened on the backlog.
    pub findings: f64,
}

fn scored(s: &Scrape) -> u64 {
    s.sum("credence_events_scored_total") as u64
}

/// A scrape, and the daemon's and the broker's CPU seconds at the time (from `/proc`: the
/// daemon's own CPU counter has a resolution of whole seconds).
#[derive(Debug, Clone)]
struct Mark {
    scrape: Scrape,
    at: Instant,
    cpu: f64,
    broker_cpu: f64,
    threads: Vec<(String, f64)>,
}

impl Mark {
    fn take(d: &Daemon) -> anyhow::Result<Mark> {
        let broker_cpu = kafka::broker_pid().and_then(|p| procfs::cpu_secs(Some(p)).ok()).unwrap_or(0.0);
        let cpu = procfs::cpu_secs(Some(d.pid()))?;
        let threads = procfs::thread_cpu(d.pid());
        let scrape = d.scrape()?;
        Ok(Mark { scrape, at: Instant::now(), cpu, broker_cpu, threads })
    }
}

/// Scrapes until `scored` reaches `target`; returns the first scrape that shows progress and the
/// one that shows `target`. Fails if the daemon exits or stalls.
fn wait_scored(d: &mut Daemon, from: u64, target: u64) -> anyhow::Result<(Mark, Mark)> {
    let mut first: Option<Mark> = None;
    let (mut last_n, mut last_change) = (from, Instant::now());
    loop {
        d.check_running()?;
        let m = Mark::take(d)?;
        let n = scored(&m.scrape);
        if n > from && first.is_none() {
            first = Some(m.clone());
        }
        if n >= target {
            return Ok((first.unwrap_or_else(|| m.clone()), m));
        }
        if n != last_n {
            (last_n, last_change) = (n, Instant::now());
        } else if last_change.elapsed() > STALL {
            bail!("credence run scored {n} of {target} events and made no progress for {STALL:?}");
        }
        std::thread::sleep(SCRAPE_EVERY);
    }
}

/// Runs the phases on `stream`.
pub fn run(setup: &Setup<'_>, stream: &Stream) -> anyhow::Result<KafkaRun> {
    let n = stream.count;
    let id = format!("{}-{}", std::process::id(), epoch_secs());
    let t = Topics {
        input: format!("credence-load-{id}-in"),
        lifecycle: format!("credence-load-{id}-lifecycle"),
        alerts: format!("credence-load-{id}-alerts"),
        dead_letter: format!("credence-load-{id}-dlq"),
        group: format!("credence-load-{id}"),
    };
    let bs = setup.bootstrap.as_str();
    kafka::create_topics(bs, &[(&t.input, setup.partitions), (&t.lifecycle, 1), (&t.alerts, 3), (&t.dead_letter, 1)])?;
    let result = phases(setup, stream, &t, n);
    kafka::delete_topics(bs, &[&t.input, &t.lifecycle, &t.alerts, &t.dead_letter]);
    result
}

/// A unique-enough suffix: seconds since the epoch.
fn epoch_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn phases(setup: &Setup<'_>, stream: &Stream, t: &Topics, n: u64) -> anyhow::Result<KafkaRun> {
    let bs = setup.bootstrap.as_str();
    let opts = &setup.consumer_options;
    kafka::produce_file(bs, &t.lifecycle, &stream.lifecycle)?;
    eprintln!("kafka: producing {n} events to {} ({} partitions)", t.input, setup.partitions);
    let produced = kafka::produce_file(bs, &t.input, &stream.events)?;
    anyhow::ensure!(produced.messages == n, "produced {} of {n}", produced.messages);
    eprintln!("kafka: produced at {:.0}/s; bare consumer, run 1", produced.per_sec);
    let mut bare = vec![kafka::bare_consume(bs, &t.input, &format!("{}-bare-1", t.group), n, opts)?];
    eprintln!("kafka: bare consumer {:.0} msgs/s; starting credence run", bare[0].per_sec);

    let started = Instant::now();
    let mut d = Daemon::start(setup.binary, &setup.work.join("daemon"), &config(bs, t, opts, 0))?;
    let s0 = d.scrape()?;
    for name in ["credence_event_processing_seconds_bucket", "credence_event_end_to_end_seconds_bucket"] {
        anyhow::ensure!(s0.has(name), "credence run does not export {name}");
    }
    let (first, last) = wait_scored(&mut d, 0, n)?;
    let backlog_end = Instant::now();
    let secs = (last.at - first.at).as_secs_f64();
    let events = scored(&last.scrape) - scored(&first.scrape);
    let cpu = last.cpu - first.cpu;
    let broker_cpu = last.broker_cpu - first.broker_cpu;
    let mut threads: Vec<(String, f64)> = last
        .threads
        .iter()
        .map(|(name, c)| {
            let before = first.threads.iter().find(|(n, _)| n == name).map_or(0.0, |t| t.1);
            (name.clone(), (c - before) / secs.max(1e-9))
        })
        .filter(|(_, cores)| *cores > 0.005)
        .collect();
    threads.sort_by(|a, b| b.1.total_cmp(&a.1));
    let per_sec = events as f64 / secs.max(1e-9);
    eprintln!("kafka: credence run scored {n} events at {per_sec:.0}/s; bare consumer, run 2");
    bare.push(kafka::bare_consume(bs, &t.input, &format!("{}-bare-2", t.group), n, opts)?);
    // The last minute of the backlog in the quantile gauges: wait for the next refresh.
    std::thread::sleep(GAUGE_REFRESH.saturating_sub(backlog_end.elapsed()) + Duration::from_secs(1));
    let after_backlog = d.scrape()?;
    let proc_backlog = bucket_delta(&s0, &after_backlog, "credence_event_processing_seconds");
    let daemon = Backlog {
        events: scored(&last.scrape),
        secs,
        per_sec,
        cpu_secs: cpu,
        cpu_secs_per_million: cpu / (events as f64 / 1e6),
        broker_cpu_secs: broker_cpu,
        threads,
        startup_secs: (first.at - started).as_secs_f64(),
        processing: Quantiles::gauges(&after_backlog, "credence_event_processing_quantile_seconds"),
        processing_histogram: Quantiles::buckets(&proc_backlog),
        processing_above_50us: fraction_above(&proc_backlog, 5e-5),
        decode_errors: after_backlog.sum("credence_decode_errors_total"),
        findings: after_backlog.sum("credence_findings_raised_total"),
        alerts_delivered: after_backlog.sum("credence_alerts_delivered_total"),
        changelog_records: after_backlog.sum("credence_state_changelog_records_total"),
        changelog_bytes: after_backlog.sum("credence_state_changelog_bytes_total"),
        checkpoints: after_backlog.sum("credence_state_checkpoints_total"),
    };
    anyhow::ensure!(daemon.processing.p99.is_some(), "no processing quantiles after the backlog");
    anyhow::ensure!(daemon.events >= n, "credence run scored {} of {n} events", daemon.events);
    anyhow::ensure!(daemon.decode_errors == 0.0, "{} decode errors", daemon.decode_errors);

    // Before the live phases, so that it reads the backlog alone (the live events come weeks
    // later in event time: read with it, a partition ahead in the live events and another still
    // in the backlog put weeks of skew into its findings). The default daemon idles meanwhile.
    let one_worker = if std::thread::available_parallelism().map_or(1, usize::from) > 1 {
        eprintln!("kafka: the backlog again, one scoring worker");
        let t1 = Topics { group: format!("{}-one-worker", t.group), ..t.clone() };
        let mut d1 = Daemon::start(setup.binary, &setup.work.join("daemon-1"), &config(bs, &t1, opts, 1))?;
        let (first, last) = wait_scored(&mut d1, 0, n)?;
        d1.stop(Duration::from_secs(30))?;
        let secs = (last.at - first.at).as_secs_f64().max(1e-9);
        let events = (scored(&last.scrape) - scored(&first.scrape)) as f64;
        let one = events / secs;
        eprintln!("kafka: one scoring worker {one:.0} events/s");
        Some(OneWorker {
            per_sec: one,
            cpu_secs_per_million: (last.cpu - first.cpu) / (events / 1e6).max(1e-9),
            speedup_of_default: per_sec / one,
            findings: last.scrape.sum("credence_findings_raised_total"),
        })
    } else {
        None
    };
    let mut lives = Vec::new();
    let mut quiet_from = backlog_end;
    for &fraction in setup.live_fractions.iter().filter(|_| setup.live_secs > 0.0) {
        if !setup.smoke {
            std::thread::sleep(QUIET.saturating_sub(quiet_from.elapsed()));
        }
        let l = live(setup, stream, t, &mut d, per_sec, fraction)?;
        quiet_from = Instant::now();
        lives.push(l);
    }
    let peak = procfs::peak_rss(Some(d.pid()))?;
    d.stop(Duration::from_secs(30))?;
    let state = state(setup, t, n, &daemon)?;
    let best = bare.iter().map(|b| b.per_sec).fold(0.0, f64::max);
    let mean = bare.iter().map(|b| b.per_sec).sum::<f64>() / bare.len() as f64;
    Ok(KafkaRun {
        partitions: setup.partitions,
        consumer_options: opts.clone(),
        produced,
        ratio_to_best_bare: per_sec / best,
        ratio_to_mean_bare: per_sec / mean,
        bare,
        daemon,
        daemon_peak_rss_bytes: peak,
        live: lives,
        one_worker,
        state,
    })
}

/// Phase 8: the changelog's cost, and a restore. The cost: the backlog scored again by a daemon
/// with a changelog (checkpointed every [`crate::daemon::CHECKPOINT_SECS`]) and by one without,
/// each on a consumer group of its own, alternated for `state_rounds` rounds (the first of a pair
/// swaps each round); the report quotes the round of median ratio. One pair is not a measurement
/// on a shared machine: the default daemon's first backlog, read while the machine was busier,
/// cost 1.20x the CPU per event of a later run without a changelog, and one pair of runs minutes
/// apart can differ by more than the 10% measured. The restore: a changelog of
/// `restore_baselines` baselines (each learned from 20 events of varied operations, networks and
/// clients), written the way the daemon writes them, read back by a new daemon of that group.
fn state(setup: &Setup<'_>, t: &Topics, n: u64, with: &Backlog) -> anyhow::Result<StateRun> {
    let bs = setup.bootstrap.as_str();
    let opts = &setup.consumer_options;
    // (CPU s per M with, without, events/s without) per round.
    let mut rounds: Vec<(f64, f64, f64)> = Vec::new();
    for round in 0..setup.state_rounds.max(1) {
        let mut pair = [(true, 0.0, 0.0), (false, 0.0, 0.0)];
        if round % 2 == 1 {
            pair.swap(0, 1);
        }
        for (changelog, cpu, per_sec) in &mut pair {
            let name = if *changelog { "with" } else { "without" };
            eprintln!("kafka: the backlog again, {name} a changelog (round {})", round + 1);
            let tr = Topics { group: format!("{}-state-{name}-{round}", t.group), ..t.clone() };
            let checkpoint = changelog.then_some(crate::daemon::CHECKPOINT_SECS);
            let cfg = crate::daemon::config_with(bs, &tr, opts, 0, checkpoint);
            let mut d = Daemon::start(setup.binary, &setup.work.join(format!("daemon-state-{name}-{round}")), &cfg)?;
            let (first, last) = wait_scored(&mut d, 0, n)?;
            d.stop(Duration::from_secs(30))?;
            let secs = (last.at - first.at).as_secs_f64().max(1e-9);
            let events = (scored(&last.scrape) - scored(&first.scrape)) as f64;
            *cpu = (last.cpu - first.cpu) / (events / 1e6).max(1e-9);
            *per_sec = events / secs;
            eprintln!("kafka: {name} a changelog {:.0} events/s, CPU {:.2} s per M", *per_sec, *cpu);
        }
        let (w, wo) = if pair[0].0 { (pair[0], pair[1]) } else { (pair[1], pair[0]) };
        rounds.push((w.1, wo.1, wo.2));
    }
    let mut by_ratio = rounds.clone();
    by_ratio.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let (with_cpu, without_cpu, without_per_sec) = by_ratio[by_ratio.len() / 2];

    let r = setup.restore_baselines;
    eprintln!("kafka: a changelog of {r} baselines, restored by a new daemon");
    let tr = Topics { group: format!("{}-restore", t.group), ..t.clone() };
    let changelog = format!("{}-{}-changelog", tr.group, tr.input);
    kafka::create_topics(bs, &[(&changelog, setup.partitions)])?;
    let (records, bytes) = synthetic_changelog(r, setup.partitions);
    let baseline_bytes = bytes as f64 / r as f64;
    kafka::produce_records(bs, &changelog, records.into_iter())?;
    let mut d = Daemon::start(setup.binary, &setup.work.join("daemon-restore"), &config(bs, &tr, opts, 0))?;
    let deadline = Instant::now() + STALL;
    let restored = loop {
        d.check_running()?;
        let s = d.scrape()?;
        if s.sum("credence_state_restores_total") >= f64::from(setup.partitions) {
            break s;
        }
        anyhow::ensure!(Instant::now() < deadline, "the partitions were not restored within {STALL:?}");
        std::thread::sleep(SCRAPE_EVERY);
    };
    d.stop(Duration::from_secs(30))?;
    kafka::delete_topics(bs, &[&changelog]);
    // Partitions assigned together are restored together: each one's duration is the batch's.
    let restore_secs = restored.sum("credence_state_restore_duration_seconds_sum") / f64::from(setup.partitions);
    let restored_records = restored.sum("credence_state_restored_records_total");
    let run = StateRun {
        without_per_sec,
        without_cpu_secs_per_million: without_cpu,
        with_cpu_secs_per_million: with_cpu,
        cpu_ratio_with_over_without: with_cpu / without_cpu,
        cpu_ratios: rounds.iter().map(|r| r.0 / r.1).collect(),
        changelog_records: with.changelog_records,
        changelog_bytes: with.changelog_bytes,
        checkpoints: with.checkpoints,
        baseline_record_bytes: baseline_bytes,
        restored_records,
        restore_secs,
        restore_baselines_per_sec: restored_records / restore_secs.max(1e-9),
    };
    eprintln!(
        "kafka: restored {} baselines in {:.2} s ({:.0}/s); a baseline's changelog record is {:.0} bytes",
        run.restored_records, run.restore_secs, run.restore_baselines_per_sec, run.baseline_record_bytes
    );
    anyhow::ensure!(run.restored_records >= r as f64, "restored {} of {r} baselines", run.restored_records);
    Ok(run)
}

/// A record for a partition: (partition, key, value).
type Keyed = (i32, Vec<u8>, Vec<u8>);

/// `count` baselines as the daemon writes them to its changelog (key and value in the record
/// format), spread over `partitions`; and their key and value bytes in all.
fn synthetic_changelog(count: u64, partitions: i32) -> (Vec<Keyed>, u64) {
    use credence_detect::state::{Item, Key};
    use credence_detect::{DetectConfig, Engine, KeySpace, LearnPolicy};
    use credence_event::{Event, Pseudonymizer};
    use credence_finding::parts::{Part, PartRef};
    let p = Pseudonymizer::insecure_demo();
    let mut engine = Engine::new(
        DetectConfig { max_credentials: count as usize + 1, ..DetectConfig::default() },
        KeySpace::new([5; 16]),
    );
    let ops = ["GET /v1/orders", "POST /v1/orders", "GET /v1/items/{id}", "PUT /v1/carts/{id}", "GET /v1/users/me"];
    let t0 = 1_772_409_600_000i64;
    for i in 0..count {
        let credential = p.credential(&format!("restore-{i}"));
        for j in 0..20i64 {
            let mut e = Event::new(t0 + j * 300_000 + i as i64, credential, ops[(i as usize + j as usize) % ops.len()]);
            e.origin.ip = std::net::IpAddr::from([10, (i % 250) as u8, (j % 3) as u8, 1]).into();
            e.user_agent = Some(if j % 4 == 0 { "app/2.1" } else { "app/2.0" }.into());
            e.bytes_out = Some(500 + (i * 37 + j as u64 * 101) % 4_000);
            engine.process(&e, LearnPolicy::Default);
        }
    }
    let mut out = Vec::with_capacity(count as usize);
    let mut bytes = 0u64;
    engine.export(&mut |key, value| {
        let (Key::Baseline(k), Some(v @ Item::Baseline(_))) = (key, value) else { return };
        let (key, value) = credence_state::encode(Part::Engine(Key::Baseline(k)), Some(&PartRef::Engine(v)));
        let value = value.unwrap_or_default();
        bytes += (key.len() + value.len()) as u64;
        let partition = (k.as_u128() % partitions.max(1) as u128) as i32;
        out.push((partition, key, value));
    });
    (out, bytes)
}

fn live(
    setup: &Setup<'_>,
    stream: &Stream,
    t: &Topics,
    d: &mut Daemon,
    max_rate: f64,
    fraction: f64,
) -> anyhow::Result<Live> {
    let rate = fraction * max_rate;
    eprintln!("kafka: live phase, {rate:.0} events/s for {:.0} s", setup.live_secs);
    let before = Mark::take(d)?;
    let from = scored(&before.scrape);
    let shift = stream.week_shift_ms();
    let produced = kafka::produce_paced(&setup.bootstrap, &t.input, &stream.events, rate, setup.live_secs, shift)?;
    let sent = Instant::now();
    let (_, caught_up) = wait_scored(d, from, from + produced.messages)?;
    let drain_secs = (caught_up.at - sent).as_secs_f64();
    // Wait for a gauge refresh after the last live event was scored; the six intervals it
    // merges then reach back past the start of the phase but not into the backlog.
    std::thread::sleep(GAUGE_REFRESH + Duration::from_secs(1));
    let after = Mark::take(d)?;
    let scored_live = scored(&after.scrape) - from;
    anyhow::ensure!(scored_live >= produced.messages, "scored {scored_live} of {} live events", produced.messages);
    let proc = bucket_delta(&before.scrape, &after.scrape, "credence_event_processing_seconds");
    let e2e = bucket_delta(&before.scrape, &after.scrape, "credence_event_end_to_end_seconds");
    let cpu = after.cpu - before.cpu;
    let after = after.scrape;
    let live = Live {
        fraction,
        fraction_achieved: produced.per_sec / max_rate,
        target_per_sec: rate,
        scored: scored_live,
        drain_secs,
        cpu_secs_per_million: cpu / (scored_live as f64 / 1e6),
        processing: Quantiles::gauges(&after, "credence_event_processing_quantile_seconds"),
        processing_histogram: Quantiles::buckets(&proc),
        processing_above_50us: fraction_above(&proc, 5e-5),
        end_to_end: Quantiles::gauges(&after, "credence_event_end_to_end_quantile_seconds"),
        end_to_end_histogram: Quantiles::buckets(&e2e),
        produced,
    };
    anyhow::ensure!(live.processing.p99.is_some(), "no processing quantiles after the live phase");
    anyhow::ensure!(live.end_to_end.p99.is_some(), "no end-to-end quantiles after the live phase");
    Ok(live)
}

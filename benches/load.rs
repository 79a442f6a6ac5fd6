//! The load benchmark: Credence through the real broker beside a bare consumer, beside River's
//! HalfSpaceTrees on the same events, and its memory and speed against resident credentials.
//! Run by `scripts/bench-load.sh` (which builds, starts the broker and installs the peer's
//! Python), or directly:
//!
//! ```sh
//! cargo bench --bench load -- [--smoke] [--events N] [--python PATH] ...
//! ```
//!
//! One run, one machine, the same events throughout:
//!
//! 1. `N` simulator events (OCSF API Activity JSON lines, `stream`), written once to a file;
//! 2. through Kafka (`through_kafka`): produced to a topic; a bare rdkafka consumer reads them
//!    all; `credence run` scores them all; the bare consumer again; then live traffic at 80% of
//!    the daemon's rate for its latency; the bare consumer and the daemon get the same consumer
//!    settings (`--consumer-option`, default `fetch.queue.backoff.ms=10`);
//! 3. `credence replay` of the whole file, and the River peer (`benches/peer/river_hst.py`)
//!    beside `credence replay` on the first `--peer-events` of it (`peer`);
//! 4. memory per resident credential and events/s at 10k, 100k and 1M resident credentials, and
//!    RSS while 5x `max_credentials` distinct credentials stream through (`residency`).
//!
//! Writes `report.json` into `--out` and prints a table. Exits non-zero when anything did not
//! work (a phase failed, counts disagree); the targets are reported, not enforced.

#[path = "load/daemon.rs"]
mod daemon;
#[path = "load/kafka.rs"]
mod kafka;
#[path = "load/peer.rs"]
mod peer;
#[path = "load/procfs.rs"]
mod procfs;
#[path = "load/report.rs"]
mod report;
#[path = "load/residency.rs"]
mod residency;
#[path = "load/stream.rs"]
mod stream;
#[path = "load/through_kafka.rs"]
mod through_kafka;
#[path = "common/vocabulary.rs"]
mod vocabulary;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;

use report::{Peer, PeerRound, Report};

/// Simulator seed of the benchmark's stream.
const SEED: u64 = 7;

/// Load benchmark of Credence through a real Kafka broker (see the module docs).
#[derive(Debug, Parser)]
#[command(name = "load")]
struct Args {
    /// Smoke mode (CI): small sizes, checks that every phase works.
    #[arg(long)]
    smoke: bool,
    /// Simulator events produced and scored (default 5,000,000; smoke 50,000).
    #[arg(long)]
    events: Option<u64>,
    /// Partitions of the input topic.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// librdkafka option for both the bare consumer and the daemon, KEY=VALUE (repeatable;
    /// replaces the default `fetch.queue.backoff.ms=10`; `none` for librdkafka's defaults).
    #[arg(long = "consumer-option")]
    consumer_options: Vec<String>,
    /// Live phases: fractions of the daemon's measured rate to produce at, comma-separated
    /// (default 0.8,0.4; smoke 0.1).
    #[arg(long, value_delimiter = ',')]
    live_fractions: Vec<f64>,
    /// Live phases: seconds each (default 40; smoke 5; 0 skips them).
    #[arg(long)]
    live_secs: Option<f64>,
    /// Python with `river` installed, for the peer (none: the peer is skipped).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Events River and `credence replay` both score (default 200,000; smoke 10,000).
    #[arg(long)]
    peer_events: Option<u64>,
    /// Rounds of the peer comparison, River and `credence replay` alternated; the report quotes
    /// the round of median ratio (default 5; smoke 1). On a shared machine one pair is not a
    /// measurement: the same command read 23.1x and 17.8x minutes apart.
    #[arg(long)]
    peer_rounds: Option<usize>,
    /// Resident credentials to measure, comma-separated (default 10000,100000,1000000; smoke
    /// 1000,10000).
    #[arg(long, value_delimiter = ',')]
    residency: Vec<u64>,
    /// Events in each residency measurement's timed batch (default 500,000; smoke 20,000).
    #[arg(long)]
    timed_events: Option<u64>,
    /// `[detect] max_credentials` of the plateau run, which streams 5x as many distinct
    /// credentials (default 100,000; smoke 10,000; 0 skips it).
    #[arg(long)]
    plateau_max: Option<u64>,
    /// Baselines in the restore measurement's changelog (default 200,000; smoke 20,000).
    #[arg(long)]
    restore_baselines: Option<u64>,
    /// Rounds of the changelog's cost, the backlog with and without one alternated; the report
    /// quotes the round of median ratio (default 3; smoke 1).
    #[arg(long)]
    state_rounds: Option<usize>,
    /// Phases to run, comma-separated: kafka, replay, peer, residency (default: all).
    #[arg(long, value_delimiter = ',')]
    phases: Vec<String>,
    /// Directory for the event file, the report and the processes' files (default
    /// target/bench-load).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the event file (by default it is deleted at the end: 1 KB per event).
    #[arg(long)]
    keep_events: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    fn pick<T: Copy>(&self, value: Option<T>, full: T, smoke: T) -> T {
        value.unwrap_or(if self.smoke { smoke } else { full })
    }

    fn phase(&self, name: &str) -> bool {
        self.phases.is_empty() || self.phases.iter().any(|p| p == name)
    }

    fn consumer_options(&self) -> anyhow::Result<Vec<(String, String)>> {
        if self.consumer_options.is_empty() {
            return Ok(vec![("fetch.queue.backoff.ms".into(), "10".into())]);
        }
        self.consumer_options
            .iter()
            .filter(|o| o.as_str() != "none")
            .map(|o| {
                o.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .with_context(|| format!("--consumer-option {o}: not KEY=VALUE"))
            })
            .collect()
    }
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("load benchmark failed: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let binary = Path::new(env!("CARGO_BIN_EXE_credence"));
    let out = args.out.clone().unwrap_or_else(|| repo.join("target/bench-load"));
    std::fs::create_dir_all(&out)?;
    let n = args.pick(args.events, 5_000_000, 50_000);
    let stream = stream::generate(&out, n, SEED)?;
    eprintln!(
        "events: {} events, {:.0} bytes on average, {} credentials",
        stream.count,
        stream.mean_bytes(),
        stream.distinct_credentials
    );
    let mut report = Report {
        mode: if args.smoke { "smoke" } else { "full" }.into(),
        machine: report::Machine::probe(),
        started_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        total_secs: 0.0,
        stream: stream.clone(),
        kafka: None,
        replay_all: None,
        peer: None,
        residency: Vec::new(),
        plateau: None,
        targets: Vec::new(),
    };

    if args.phase("kafka") {
        kafka::kafka_sh(repo, &["start"])?;
        let env = kafka::kafka_sh(repo, &["env"])?;
        let bootstrap = env
            .lines()
            .find_map(|l| l.strip_prefix("export CREDENCE_KAFKA_BOOTSTRAP="))
            .map(|v| v.split('#').next().unwrap_or("").trim().trim_matches('"').to_string())
            .context("no CREDENCE_KAFKA_BOOTSTRAP from kafka.sh env")?;
        let _lock = kafka::BrokerLock::acquire()?;
        let setup = through_kafka::Setup {
            binary,
            work: &out,
            bootstrap,
            partitions: args.partitions,
            consumer_options: args.consumer_options()?,
            live_fractions: if !args.live_fractions.is_empty() {
                args.live_fractions.clone()
            } else if args.smoke {
                vec![0.1]
            } else {
                vec![0.8, 0.4]
            },
            live_secs: args.pick(args.live_secs, 40.0, 5.0),
            smoke: args.smoke,
            restore_baselines: args.pick(args.restore_baselines, 200_000, 20_000),
            state_rounds: args.pick(args.state_rounds, 3, 1),
        };
        report.kafka = Some(through_kafka::run(&setup, &stream)?);
    }

    if args.phase("replay") {
        eprintln!("replay: credence replay of all {} events", stream.count);
        let r = peer::replay(binary, &stream.events, &stream.lifecycle)?;
        anyhow::ensure!(r.events == stream.count, "replay scored {} of {} events", r.events, stream.count);
        report.replay_all = Some(r);
    }

    if args.phase("peer") {
        match &args.python {
            None => eprintln!("peer: skipped (no --python)"),
            Some(python) => {
                let k = args.pick(args.peer_events, 200_000, 10_000).min(stream.count);
                let file = out.join("peer-events.jsonl");
                stream::head(&stream.events, &file, k)?;
                eprintln!("peer: River HalfSpaceTrees and credence replay on the first {k} events");
                let rounds = args.pick(args.peer_rounds, 5, 1).max(1);
                let mut done = Vec::with_capacity(rounds);
                for round in 0..rounds {
                    // Alternate which goes first, so a drift in the machine's speed falls on both.
                    let (river, replay) = if round % 2 == 0 {
                        let river = peer::river(python, &repo.join("benches/peer/river_hst.py"), &file, k)?;
                        (river, peer::replay(binary, &file, &stream.lifecycle)?)
                    } else {
                        let replay = peer::replay(binary, &file, &stream.lifecycle)?;
                        (peer::river(python, &repo.join("benches/peer/river_hst.py"), &file, k)?, replay)
                    };
                    anyhow::ensure!(river.events == k, "River scored {} of {k} events", river.events);
                    anyhow::ensure!(replay.events == k, "replay scored {} of {k} events", replay.events);
                    let r = PeerRound::new(river, replay);
                    eprintln!("peer: round {}/{rounds}: {:.1}x", round + 1, r.ratio_like_for_like);
                    done.push(r);
                }
                let _ = std::fs::remove_file(&file);
                report.peer = Some(Peer::of_rounds(k, done));
            }
        }
    }

    if args.phase("residency") {
        let sizes = if !args.residency.is_empty() {
            args.residency.clone()
        } else if args.smoke {
            vec![1_000, 10_000]
        } else {
            vec![10_000, 100_000, 1_000_000]
        };
        let timed = args.pick(args.timed_events, 500_000, 20_000);
        let dir = out.join("residency");
        for k in sizes {
            eprintln!("residency: {k} credentials");
            let r = residency::residency(binary, &dir, k, timed)?;
            anyhow::ensure!(r.baselines >= k, "{} baselines for {k} credentials", r.baselines);
            report.residency.push(r);
        }
        let cap = args.pick(args.plateau_max, 100_000, 10_000);
        if cap > 0 {
            eprintln!("residency: {} distinct credentials through max_credentials = {cap}", cap * 5);
            let p = residency::plateau(binary, &dir, cap, 5)?;
            anyhow::ensure!(
                p.baselines_at_end <= cap,
                "{} baselines held with max_credentials {cap}",
                p.baselines_at_end
            );
            report.plateau = Some(p);
        }
    }

    if !args.keep_events {
        let _ = std::fs::remove_file(&stream.events);
        let _ = std::fs::remove_file(out.join("events.meta.json"));
    }
    report.total_secs = started.elapsed().as_secs_f64();
    report.judge();
    let path = out.join("report.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    print!("{}", report.table());
    println!("report: {}", path.display());
    Ok(())
}

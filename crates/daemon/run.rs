//! `credence run`: the streaming daemon, and `credence check-config`.
//!
//! Threads and tasks, and who owns what (see also each module and docs/ARCHITECTURE.md):
//! - consumer thread ([`consumer`]): polls the input consumer group; owns assignment epochs and
//!   pause/resume; pauses an assigned partition until its task is built; on revocation waits for
//!   the workers' checkpoint; commits (without a changelog) on revocation and at shutdown.
//! - restorer thread ([`restore`]): builds each assigned partition's task ([`task`]), its state
//!   read back from the changelog or seeded from the initial snapshot ([`seed`]).
//! - lifecycle thread ([`lifecycle`]): reads the whole lifecycle topic, outside the group.
//! - router task ([`shards`]): places tasks on the scoring workers by load, and deals the
//!   fetched messages to the worker holding their partition's task.
//! - scoring worker tasks ([`worker`], `daemon.scoring_workers` of them): each owns the tasks
//!   placed on it (decode, score, aggregate; the baselines, open findings and clock of one
//!   partition each), the offset tracker of their partitions, its in-flight deliveries and its
//!   transactional changelog producer; checkpoints ([`changelog`]) or stores offsets.
//! - alerts-file thread ([`sinks`]): writes and flushes findings, then acknowledges them to the
//!   worker that sent them.
//! - librdkafka's own threads, including the producers' delivery-report pollers.
//! - admin task ([`admin`]): `/metrics`, `/healthz`, `/readyz` on `admin.listen_addr`, from the
//!   [`metrics::Metrics`] that the others count into.
//!
//! Channels, all bounded but the restorer's (one request per assigned partition): consumer →
//! router → workers (tasks, batches of messages, revocations; full ⇒ the consumer pauses its
//! partitions), lifecycle → every worker (full ⇒ the lifecycle thread waits), workers → file
//! (sized for every delivery in flight), file → each worker (acknowledgements). Deliveries in
//! flight are capped by `daemon.max_in_flight` (shared out among the workers); at its cap a
//! worker stops taking messages.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use credence_event::lifecycle::LifecycleEvent;
use credence_event::Format;
use credence_finding::ocsf::Product;
use rdkafka::consumer::BaseConsumer;
use tokio::sync::{mpsc, oneshot};
use tracing_subscriber::EnvFilter;

use crate::config::{InputSettings, LogConfig, LogFormat, Settings, EX_CONFIG};

mod admin;
mod changelog;
mod consumer;
mod events;
mod geoip;
mod http;
mod kafka;
mod lag;
mod latency;
mod lifecycle;
mod metrics;
mod offsets;
mod restore;
mod seed;
mod shards;
mod shutdown;
mod sinks;
mod suppress;
mod task;
mod worker;

pub use shutdown::Shutdown;

use consumer::{GroupConsumer, GroupContext, GroupParts, Steering};
use events::{AdminListening, InternalEvent, LifecycleCatchUpTimedOut, Starting, Stopped};

/// Lifecycle records queued between the lifecycle thread and the worker.
const LIFECYCLE_QUEUE: usize = 1024;

/// `credence run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Configuration file (TOML; see credence.example.toml). `CREDENCE_*` variables override it.
    #[arg(long, short)]
    pub config: PathBuf,
}

/// `credence check-config` arguments.
#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// Configuration file to check, with the environment's `CREDENCE_*` overrides applied.
    pub file: PathBuf,
}

/// The input topics, indexed: a message carries its topic's index, not its name.
#[derive(Debug)]
pub struct Topics {
    names: Vec<String>,
    inputs: Vec<usize>,
    formats: Vec<Format>,
    index: HashMap<String, u16>,
}

impl Topics {
    fn new(inputs: &[InputSettings]) -> Topics {
        let mut t = Topics { names: Vec::new(), inputs: Vec::new(), formats: Vec::new(), index: HashMap::new() };
        for (i, input) in inputs.iter().enumerate() {
            t.formats.push(input.decoder.format());
            for name in &input.topics {
                t.index.insert(name.clone(), t.names.len() as u16);
                t.names.push(name.clone());
                t.inputs.push(i);
            }
        }
        t
    }

    /// The index of a topic.
    pub fn index(&self, name: &str) -> Option<u16> {
        self.index.get(name).copied()
    }

    /// A topic's name.
    pub fn name(&self, topic: u16) -> &str {
        &self.names[usize::from(topic)]
    }

    /// The input a topic belongs to.
    pub fn input(&self, topic: u16) -> usize {
        self.inputs[usize::from(topic)]
    }

    /// An input's format.
    pub fn format(&self, input: usize) -> Format {
        self.formats[input]
    }

    /// Every topic name.
    pub fn names(&self) -> Vec<String> {
        self.names.clone()
    }
}

fn report_problems(path: &std::path::Path, problems: &[String]) {
    eprintln!("error: invalid configuration {} ({} problem(s)):", path.display(), problems.len());
    for p in problems {
        eprintln!("  - {p}");
    }
}

/// `credence check-config FILE`: exit 0 if the daemon could start with it, 64 if not.
pub fn check_config_command(args: CheckConfigArgs) -> ExitCode {
    match Settings::load(&args.file) {
        Ok(s) => {
            let c = &s.config;
            let topics: usize = c.inputs.iter().map(|i| i.topics.len()).sum();
            println!(
                "{}: OK ({} input(s), {topics} topic(s), group `{}`, lifecycle {}, alerts {}, dead letters {})",
                args.file.display(),
                c.inputs.len(),
                c.kafka.group_id,
                c.lifecycle.topic.as_deref().unwrap_or("none"),
                alerts_text(c),
                c.dead_letter.topic.as_deref().unwrap_or("none"),
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            report_problems(&args.file, &problems);
            ExitCode::from(EX_CONFIG)
        }
    }
}

fn alerts_text(c: &crate::config::Config) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &c.alerts.topic {
        parts.push(format!("topic {t}"));
    }
    if let Some(f) = &c.alerts.file {
        parts.push(format!("file {}", f.display()));
    }
    parts.join(" and ")
}

fn init_logging(cfg: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match cfg.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// `credence run --config FILE`: exit 0 after a clean shutdown, 64 on a bad configuration, 1 on
/// failure (including a shutdown that overran its deadline).
pub fn run_command(args: RunArgs) -> ExitCode {
    let settings = match Settings::load(&args.config) {
        Ok(s) => s,
        Err(problems) => {
            report_problems(&args.config, &problems);
            return ExitCode::from(EX_CONFIG);
        }
    };
    init_logging(&settings.config.log);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if settings.config.daemon.worker_threads > 0 {
        builder.worker_threads(settings.config.daemon.worker_threads);
    }
    let rt = match builder.enable_all().thread_name("credence-rt").build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let timeout = Duration::from_secs(settings.config.daemon.shutdown_timeout_secs);
    let code = rt.block_on(async move {
        let shutdown = Shutdown::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = shutdown::listen_for_signals(signals).await {
                tracing::error!(error = %e, "cannot listen for signals");
            }
        });
        let daemon = run(settings, shutdown.clone());
        tokio::pin!(daemon);
        let deadline = async {
            shutdown.wait().await;
            tokio::time::sleep(timeout).await;
        };
        tokio::select! {
            r = &mut daemon => match r {
                Ok(()) if !shutdown.failed() => ExitCode::SUCCESS,
                Ok(()) => ExitCode::FAILURE,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "credence failed");
                    ExitCode::FAILURE
                }
            },
            () = deadline => {
                tracing::error!(timeout_secs = timeout.as_secs(), "shutdown deadline exceeded; exiting now");
                std::process::exit(1);
            }
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Runs the daemon until `shutdown` is triggered, then shuts down in order: stop fetching, drain
/// in-flight deliveries, checkpoint (or store the last offsets), commit, leave the group, flush and
/// close.
pub async fn run(settings: Settings, shutdown: Shutdown) -> anyhow::Result<()> {
    let Settings { config, pseudonymizer, inputs, catalogue, sinks: http_sinks, geoip, suppressions } = settings;
    let topics = Arc::new(Topics::new(&inputs));
    Starting { topics: &topics.names, group: &config.kafka.group_id, alerts: alerts_text(&config) }.emit();
    // The admin server first: /healthz answers while Kafka is being reached.
    let registry = prometheus::Registry::new();
    let sink_names: Vec<String> = http_sinks.iter().map(|s| s.config.name.clone()).collect();
    let metrics = Arc::new(metrics::Metrics::new(&registry, &topics, &sink_names).context("registering the metrics")?);
    metrics.baselines_capacity.set(i64::try_from(config.detect.max_credentials).unwrap_or(i64::MAX));
    let listener = admin::bind(&config.admin.listen_addr)
        .await
        .with_context(|| format!("listening on admin.listen_addr {}", config.admin.listen_addr))?;
    AdminListening { addr: listener.local_addr().ok() }.emit();
    tokio::spawn(admin::serve(listener, registry, metrics.clone()));
    let producer = kafka::producer(&config, &shutdown)?;
    kafka::check_topics(&producer, &config, &shutdown).await?;
    let changelogs = changelog::ChangelogTopics::new(&config, &topics);
    if config.state.changelog {
        changelog::prepare_topics(&config, &topics, &changelogs).await?;
    }
    let workers = config.daemon.scoring_workers();
    let keys = credence_detect::KeySpace::from_pseudonymizer(&pseudonymizer);
    let seed = match &config.state.initial_snapshot {
        Some(path) => Some(seed::load(path, keys.fingerprint(), &metrics)?),
        None => None,
    };
    let factory = Arc::new(task::TaskFactory {
        decoders: inputs.into_iter().map(|input| input.decoder).collect(),
        detect: config.detect.clone(),
        catalogue,
        pseudonymizer: pseudonymizer.clone(),
        window_ms: config.alerts.finding_window_secs.saturating_mul(1000) as i64,
        min_severity: config.alerts.min_severity,
        changelog: config.state.changelog,
        seed,
        geoip: geoip.clone(),
    });
    if let (Some(g), secs @ 1..) = (geoip, config.geoip.reload_check_secs) {
        tokio::spawn(geoip::run(g, Duration::from_secs(secs), metrics.clone(), shutdown.clone()));
    }
    let suppressions = match (suppressions, &config.alerts.suppressions_file) {
        (Some(s), Some(path)) => Some(suppress::Rules::new(path.clone(), s, &metrics)),
        _ => None,
    };
    if let (Some(r), secs @ 1..) = (&suppressions, config.alerts.suppressions_reload_secs) {
        tokio::spawn(suppress::run(r.clone(), Duration::from_secs(secs), metrics.clone(), shutdown.clone()));
    }

    // Lifecycle first: every known revocation is queued before the first event is scored.
    let (lifecycle_tx, mut lifecycle_rx) = mpsc::channel(LIFECYCLE_QUEUE);
    let lifecycle_stop = Arc::new(AtomicBool::new(false));
    let mut lifecycle_initial = Vec::new();
    let lifecycle_thread = match &config.lifecycle.topic {
        Some(topic) => {
            let consumer: BaseConsumer<kafka::LogContext> = kafka::lifecycle_consumer_config(&config)
                .create_with_context(kafka::LogContext::new("lifecycle", None))
                .context("creating the lifecycle consumer")?;
            let (caught_up_tx, caught_up_rx) = oneshot::channel();
            let handle = lifecycle::spawn(lifecycle::Reader {
                consumer,
                topic: topic.clone(),
                pseudonymizer: pseudonymizer.clone(),
                out: lifecycle_tx,
                caught_up: caught_up_tx,
                stop: lifecycle_stop.clone(),
            })?;
            let timeout = Duration::from_secs(config.lifecycle.catch_up_timeout_secs);
            lifecycle_initial = catch_up(&mut lifecycle_rx, caught_up_rx, timeout, &shutdown).await;
            lifecycle_initial.sort_by_key(|r| r.time_ms);
            Some(handle)
        }
        None => {
            drop(lifecycle_tx);
            None
        }
    };

    // The fetched-message buffer, in batches, shared out among the workers' queues.
    let capacity = config.daemon.buffer_messages.div_ceil(consumer::BATCH_MESSAGES).div_ceil(workers).max(1);
    let (fetched_tx, fetched_rxs, lifecycle_rxs) = if workers == 1 {
        // One worker: the consumer hands it tasks and batches directly.
        let (tx, rx) = mpsc::channel(capacity);
        (tx, vec![rx], vec![lifecycle_rx])
    } else {
        let (worker_inputs, fetched_rxs): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::channel(capacity)).unzip();
        let (fetched_tx, fetched_rx) = mpsc::channel(1);
        tokio::spawn(shards::route(fetched_rx, worker_inputs));
        let (lifecycle_txs, lifecycle_rxs): (Vec<_>, Vec<_>) =
            (0..workers).map(|_| mpsc::channel(LIFECYCLE_QUEUE)).unzip();
        tokio::spawn(shards::fan_out(lifecycle_rx, lifecycle_txs));
        (fetched_tx, fetched_rxs, lifecycle_rxs)
    };
    let (restore_tx, restore_rx) = std::sync::mpsc::channel();
    let (restored_tx, restored_rx) = std::sync::mpsc::channel();
    let timeout = Duration::from_secs(config.daemon.shutdown_timeout_secs);
    let consumer: Arc<GroupConsumer> = Arc::new(
        kafka::group_consumer_config(&config)
            .create_with_context(GroupContext::new(GroupParts {
                topics: topics.clone(),
                metrics: metrics.clone(),
                out: fetched_tx,
                restore: restore_tx,
                revoke_wait: timeout,
                transactional: config.state.changelog,
            }))
            .context("creating the consumer")?,
    );
    let restore_stop = Arc::new(AtomicBool::new(false));
    let restore_consumer = match config.state.changelog {
        true => Some(
            kafka::restore_consumer_config(&config)
                .create_with_context(kafka::LogContext::new("restore", None))
                .context("creating the changelog reader")?,
        ),
        false => None,
    };
    let restore_thread = restore::spawn(restore::Restorer {
        consumer: restore_consumer,
        topics: topics.clone(),
        changelogs: changelogs.clone(),
        factory,
        requests: restore_rx,
        done: restored_tx,
        stop: restore_stop.clone(),
        metrics: metrics.clone(),
    })?;
    // The workers' transactional producers, before any partition is taken.
    let mut txn_producers = Vec::new();
    if config.state.changelog {
        for w in 0..workers {
            let (config, shutdown) = (config.clone(), shutdown.clone());
            let p = tokio::task::spawn_blocking(move || changelog::producer(&config, w, &shutdown))
                .await
                .context("changelog producer task")??;
            txn_producers.push(Arc::new(p));
        }
    }
    let earliest = config.kafka.auto_offset_reset == crate::config::OffsetReset::Earliest;
    tokio::spawn(lag::run(consumer.clone(), topics.clone(), metrics.clone(), earliest, shutdown.clone()));
    let steering = Arc::new(Steering::default());
    let consumer_thread = consumer::spawn(consumer.clone(), topics.clone(), restored_rx, steering.clone())?;
    let shutdown_started = Arc::new(std::sync::OnceLock::new());
    {
        let (steering, shutdown, started) = (steering.clone(), shutdown.clone(), shutdown_started.clone());
        let metrics = metrics.clone();
        tokio::spawn(async move {
            shutdown.wait().await;
            metrics.health.stopping.store(true, Ordering::Release);
            let _ = started.set(Instant::now());
            steering.stop_fetching.store(true, Ordering::Release);
        });
    }
    // Acknowledgements of the alerts file and the HTTP sinks, one queue per worker, sized so
    // that every delivery in flight fits.
    let ack_capacity = config.daemon.max_in_flight + consumer::BATCH_MESSAGES;
    let (ack_txs, ack_rxs): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::channel(ack_capacity)).unzip();
    let file = match &config.alerts.file {
        // Sized so that every delivery in flight fits: the worker never waits on it.
        Some(path) => Some(
            sinks::FileSink::spawn(path, ack_capacity, ack_txs.clone(), metrics.clone())
                .with_context(|| format!("opening the alerts file {}", path.display()))?,
        ),
        None => None,
    };
    let (file_tx, file_thread) = match file {
        Some(f) => (Some(f.tx), Some(f.join)),
        None => (None, None),
    };
    let dead_letter_topic: Option<Arc<str>> = config.dead_letter.topic.as_deref().map(Arc::from);
    let http = http::spawn(
        &http_sinks,
        config.daemon.max_in_flight,
        &http::Shared {
            producer: producer.clone(),
            dead_letter_topic: dead_letter_topic.clone(),
            acks: ack_txs.clone(),
            metrics: metrics.clone(),
        },
    )
    .context("starting the HTTP sinks")?;
    drop(ack_txs);
    let mut acks: Vec<Option<_>> = ack_rxs.into_iter().map(Some).collect();
    let latency = Arc::new(Mutex::new(latency::Latencies::default()));
    let gauges = Arc::new(Mutex::new(vec![worker::Gauges::default(); workers]));
    let alerts_topic: Option<Arc<str>> = config.alerts.topic.as_deref().map(Arc::from);
    let interval = Duration::from_secs(config.state.checkpoint_interval_secs);
    let mut joins = tokio::task::JoinSet::new();
    for (shard, (input, lifecycle)) in fetched_rxs.into_iter().zip(lifecycle_rxs).enumerate() {
        let changelog = txn_producers.get(shard).map(|p| worker::Changelog {
            producer: p.clone(),
            topics: changelogs.clone(),
            interval,
        });
        let worker = worker::Worker::new(worker::WorkerParts {
            shard,
            latency: latency.clone(),
            topics: topics.clone(),
            consumer: consumer.clone(),
            producer: producer.clone(),
            changelog,
            alerts_topic: alerts_topic.clone(),
            dead_letter_topic: dead_letter_topic.clone(),
            dead_letter_max_bytes: config.dead_letter.max_payload_bytes,
            file: file_tx.clone(),
            acks: acks[shard].take(),
            http: http.clone(),
            suppressions: suppressions.clone(),
            incident_window_ms: config
                .alerts
                .incidents
                .then(|| config.alerts.incident_window_secs.saturating_mul(1000).min(i64::MAX as u64) as i64),
            product: Product { instance: config.alerts.instance.clone(), ..Product::default() },
            max_in_flight: config.daemon.max_in_flight.div_ceil(workers),
            lifecycle_initial: lifecycle_initial.clone(),
            max_credentials: config.detect.max_credentials,
            gauges: gauges.clone(),
            metrics: metrics.clone(),
        });
        // Three quarters of the deadline for draining and the last checkpoint; the rest for
        // committing and closing.
        joins.spawn(worker.run(input, lifecycle, shutdown.clone(), timeout.mul_f64(0.75)));
    }
    drop((consumer, file_tx, http));
    let mut totals = worker::Totals::default();
    while let Some(done) = joins.join_next().await {
        match done {
            Ok(t) => totals.merge(&t),
            Err(e) => {
                tracing::error!(error = %e, "a scoring worker failed");
                shutdown.trigger_failure("a scoring worker failed");
            }
        }
    }

    // The workers have checkpointed or stored their last offsets (and dropped their consumer
    // handles): commit, leave.
    steering.close.store(true, Ordering::Release);
    join(consumer_thread).await;
    restore_stop.store(true, Ordering::Release);
    join(restore_thread).await;
    lifecycle_stop.store(true, Ordering::Release);
    if let Some(t) = lifecycle_thread {
        join(t).await;
    }
    if let Some(t) = file_thread {
        join(t).await;
    }
    // Dropping the producers waits for their threads; keep that off the runtime's workers.
    let _ = tokio::task::spawn_blocking(move || drop((producer, txn_producers))).await;
    let shutdown_ms = shutdown_started.get().map_or(0, |t: &Instant| t.elapsed().as_millis() as u64);
    Stopped { totals: &totals, shutdown_ms }.emit();
    Ok(())
}

/// Reads the lifecycle records up to the topic's end (or the timeout, or a shutdown).
async fn catch_up(
    rx: &mut mpsc::Receiver<LifecycleEvent<'static>>,
    caught_up: oneshot::Receiver<u64>,
    timeout: Duration,
    shutdown: &Shutdown,
) -> Vec<LifecycleEvent<'static>> {
    let mut records = Vec::new();
    let deadline = tokio::time::sleep(timeout);
    let stop = shutdown.wait();
    tokio::pin!(deadline, stop, caught_up);
    loop {
        tokio::select! {
            biased;
            Some(ev) = rx.recv() => records.push(ev),
            _ = &mut caught_up => break,
            _ = &mut stop => break,
            _ = &mut deadline => {
                LifecycleCatchUpTimedOut { timeout_secs: timeout.as_secs() }.emit();
                break;
            }
        }
    }
    while let Ok(ev) = rx.try_recv() {
        records.push(ev);
    }
    records
}

async fn join(handle: std::thread::JoinHandle<()>) {
    let _ = tokio::task::spawn_blocking(move || handle.join()).await;
}

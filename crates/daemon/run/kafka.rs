//! Kafka clients: their configurations, the context that routes librdkafka's logs and errors into
//! tracing, and the start-up check that the cluster answers and every topic exists.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use tracing::{debug, info, warn};

use super::events::{InternalEvent, KafkaClientError};
use super::shutdown::Shutdown;
use crate::config::{Config, RawOption};

/// The alert and dead-letter producer.
pub type AlertProducer = FutureProducer<LogContext>;

/// Routes a client's librdkafka logs and errors into tracing; a fatal error (the idempotent
/// producer can no longer guarantee order) shuts the daemon down so it restarts clean.
#[derive(Clone, Debug)]
pub struct LogContext {
    client: &'static str,
    shutdown: Option<Shutdown>,
}

impl LogContext {
    /// A context for the client named `client`; `shutdown` is triggered on a fatal error.
    pub fn new(client: &'static str, shutdown: Option<Shutdown>) -> LogContext {
        LogContext { client, shutdown }
    }
}

/// Logs one librdkafka log line at the matching level. librdkafka's errors are mostly
/// connection trouble it recovers from, so they are warnings here.
pub fn log_line(client: &'static str, level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error
        | RDKafkaLogLevel::Warning => warn!(client, facility, "librdkafka: {message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => info!(client, facility, "librdkafka: {message}"),
        RDKafkaLogLevel::Debug => debug!(client, facility, "librdkafka: {message}"),
    }
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log_line(self.client, level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Reaching the end of a partition is how the lifecycle reader knows it caught up.
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            return;
        }
        KafkaClientError { client: self.client, error: &error, reason }.emit();
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
            if let Some(s) = &self.shutdown {
                s.trigger_failure("fatal Kafka client error");
            }
        }
    }
}

// The lifecycle and changelog readers are consumers without a group: no rebalances to handle.
impl rdkafka::consumer::ConsumerContext for LogContext {}

// The changelog producer: a record that fails makes its transaction's commit fail, which the
// checkpoint handles; nothing to do per record.
impl rdkafka::producer::ProducerContext for LogContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &rdkafka::message::DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            debug!(client = self.client, error = %e, "changelog record not delivered (its checkpoint will abort)");
        }
    }
}

fn apply(cc: &mut ClientConfig, options: &BTreeMap<String, RawOption>) {
    for (k, v) in options {
        cc.set(k, v.to_string());
    }
}

/// Settings every client shares: brokers, client id, and the raw options for all clients.
fn common(config: &Config, client_suffix: &str) -> ClientConfig {
    let k = &config.kafka;
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &k.bootstrap_servers)
        .set("client.id", format!("{}{client_suffix}", k.client_id))
        .set_log_level(RDKafkaLogLevel::Info);
    cc
}

/// The input consumer: a member of the consumer group, cooperative-sticky, offsets stored by the
/// daemon only after an event is done and committed automatically; with a changelog, committed
/// only by the workers' checkpoints, in their transactions.
pub fn group_consumer_config(config: &Config) -> ClientConfig {
    let k = &config.kafka;
    let mut cc = common(config, "");
    cc.set("group.id", &k.group_id)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.auto.commit", (!config.state.changelog).to_string())
        .set("auto.commit.interval.ms", k.commit_interval_ms.to_string())
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", k.auto_offset_reset.as_str())
        .set("session.timeout.ms", k.session_timeout_ms.to_string())
        .set("max.poll.interval.ms", k.max_poll_interval_ms.to_string())
        .set("enable.partition.eof", "false")
        // Statistics feed the consumer-lag gauges (see `GroupContext::stats`).
        .set("statistics.interval.ms", "10000")
        // librdkafka's default (1000 ms) idles a fetcher whose queue holds queued.min.messages
        // for a whole second: a consumer that keeps up stalls in steps. Measured by the load
        // benchmark: 76k events/s with the default, 181k/s with 10 ms (docs/BENCHMARKS.md).
        .set("fetch.queue.backoff.ms", "10")
        // A fetch hands over up to this much of each partition in turn: at librdkafka's 1 MiB a
        // backlog reaches the pipeline a thousand events of one partition at a time, hours of
        // event time apart from the others (docs/ARCHITECTURE.md, "Event time across
        // partitions"). 256 KiB cost nothing measurable in the load benchmark (2M events: 263k
        // events/s against 269k, broker CPU 0.47 s per M against 0.54).
        .set("max.partition.fetch.bytes", "262144");
    apply(&mut cc, &k.librdkafka);
    apply(&mut cc, &k.consumer_librdkafka);
    cc
}

/// The lifecycle reader: assigned every partition, never subscribed, so it joins no group (every
/// daemon reads every partition from the beginning) and commits nothing; end-of-partition events
/// tell it when it has caught up. librdkafka wants a group id for `assign` all the same.
pub fn lifecycle_consumer_config(config: &Config) -> ClientConfig {
    let k = &config.kafka;
    let mut cc = common(config, "-lifecycle");
    cc.set("group.id", format!("{}.lifecycle", k.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true");
    apply(&mut cc, &k.librdkafka);
    apply(&mut cc, &k.consumer_librdkafka);
    cc
}

/// The changelog reader of the restorer: assigned changelog partitions, never subscribed (a group
/// id only because librdkafka wants one for `assign`), reading committed records only, to each
/// partition's end.
pub fn restore_consumer_config(config: &Config) -> ClientConfig {
    let k = &config.kafka;
    let mut cc = common(config, "-restore");
    cc.set("group.id", format!("{}.restore", k.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        // Restoring reads whole partitions: large fetches, and no long poll at a partition's end
        // (librdkafka's 500 ms default held up every restore of an empty changelog by a fetch).
        .set("fetch.wait.max.ms", "20")
        .set("max.partition.fetch.bytes", "10485760")
        .set("fetch.max.bytes", "52428800");
    apply(&mut cc, &k.librdkafka);
    apply(&mut cc, &k.consumer_librdkafka);
    cc
}

/// The producer of alerts and dead letters: idempotent (no duplicates or reordering from its own
/// retries), acknowledged by every in-sync replica.
pub fn producer_config(config: &Config) -> ClientConfig {
    let k = &config.kafka;
    let mut cc = common(config, "-producer");
    // Room for every delivery the daemon allows in flight, so sends never hit a full queue.
    let queue = (config.daemon.max_in_flight * 2).max(100_000);
    cc.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", config.alerts.delivery_timeout_ms.to_string())
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", queue.to_string());
    apply(&mut cc, &k.librdkafka);
    apply(&mut cc, &k.producer_librdkafka);
    cc
}

/// Creates the producer.
pub fn producer(config: &Config, shutdown: &Shutdown) -> anyhow::Result<AlertProducer> {
    producer_config(config)
        .create_with_context(LogContext::new("producer", Some(shutdown.clone())))
        .context("creating the Kafka producer")
}

/// Waits until the cluster answers and checks that every configured topic exists (topics are
/// not auto-created: a typo should stop the daemon, not create a topic nobody reads).
pub async fn check_topics(producer: &AlertProducer, config: &Config, shutdown: &Shutdown) -> anyhow::Result<()> {
    let mut wanted: Vec<String> = config.inputs.iter().flat_map(|i| i.topics.iter().cloned()).collect();
    wanted.extend(config.lifecycle.topic.iter().cloned());
    wanted.extend(config.alerts.topic.iter().cloned());
    wanted.extend(config.dead_letter.topic.iter().cloned());
    let timeout = Duration::from_secs(config.kafka.startup_timeout_secs);
    let deadline = Instant::now() + timeout;
    loop {
        let p = producer.clone();
        let attempt = tokio::task::spawn_blocking(move || {
            p.client().fetch_metadata(None, Duration::from_secs(5)).map(|m| {
                m.topics().iter().filter(|t| t.error().is_none()).map(|t| t.name().to_string()).collect::<Vec<_>>()
            })
        })
        .await
        .context("metadata task")?;
        match attempt {
            Ok(existing) => {
                let missing: Vec<&String> = wanted.iter().filter(|t| !existing.contains(t)).collect();
                if missing.is_empty() {
                    return Ok(());
                }
                bail!("these topics do not exist (create them first): {missing:?}");
            }
            Err(e) if Instant::now() < deadline && !shutdown.is_triggered() => {
                warn!(error = %e, "Kafka not reachable yet; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.wait() => bail!("shutdown requested during start-up"),
                }
            }
            Err(e) => {
                bail!("cannot reach Kafka at {} within {timeout:?}: {e}", config.kafka.bootstrap_servers)
            }
        }
    }
}

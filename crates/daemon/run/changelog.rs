//! The changelog topics and the checkpoints written to them (Kafka Streams' changelogged stores,
//! with `exactly_once_v2`'s transactions).
//!
//! Each input topic has a compacted changelog topic, `<prefix>-<topic>-changelog`, with (at
//! least) as many partitions: the state of input partition `p` lives in changelog partition `p`,
//! keyed by what each part belongs to ([`credence_state`]). A scoring worker checkpoints its
//! tasks every `[state] checkpoint_interval_secs`, and when partitions are revoked or the daemon
//! stops: it waits until every alert it raised is acknowledged, takes what changed in each task,
//! and in one transaction writes those records and commits the input offsets they cover. A
//! restart or a new owner reads the changelog back (read-committed) and goes on from exactly those
//! offsets, so nothing is learned twice or lost; alerts raised after the last checkpoint are
//! raised again (at least once, with the same finding uids).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context as _};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;

use super::kafka::LogContext;
use super::offsets::PartitionKey;
use super::shutdown::Shutdown;
use super::Topics;
use crate::config::Config;

/// How long one transactional call (init, offsets, commit, abort) may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a transaction may stay open before the broker aborts it, ms (librdkafka also caps a
/// transactional message's delivery timeout at it): a checkpoint's records are written and
/// committed within it (a few seconds for a hundred thousand baselines); a broker away for less
/// (a restart, about 30–40 s in tests/kafka_outage.rs) is ridden out, its commit retried once it
/// is back (at 20 s the messages timed out, the broker had aborted the transaction, and the abort
/// that followed failed fatally with INVALID_TXN_STATE); and a killed daemon's open transaction
/// holds up the restore of its partitions for at most this long.
const TXN_TIMEOUT_MS: u64 = 60_000;
/// Attempts of a transactional operation that fails with a retriable error (each waits up to
/// `TXN_TIMEOUT`).
const TXN_ATTEMPTS: u32 = 3;
/// How long the admin requests at start-up may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Wait before retrying a send the producer queue refused.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(10);

/// The transactional producer of one scoring worker.
pub type TxnProducer = ThreadedProducer<LogContext>;

/// Changelog topic names, by input topic index.
#[derive(Clone, Debug)]
pub struct ChangelogTopics {
    names: Vec<String>,
}

impl ChangelogTopics {
    /// The names for the configured input topics.
    pub fn new(config: &Config, topics: &Topics) -> ChangelogTopics {
        ChangelogTopics { names: topics.names().iter().map(|t| config.changelog_topic(t)).collect() }
    }

    /// The changelog topic of input topic `topic`.
    pub fn name(&self, topic: u16) -> &str {
        &self.names[usize::from(topic)]
    }
}

/// Creates missing changelog topics (compacted, as many partitions as their input topic) when
/// allowed, and checks that each has at least its input's partitions.
pub async fn prepare_topics(config: &Config, topics: &Topics, changelogs: &ChangelogTopics) -> anyhow::Result<()> {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.kafka.bootstrap_servers);
    for (k, v) in &config.kafka.librdkafka {
        cc.set(k, v.to_string());
    }
    let admin: AdminClient<DefaultClientContext> = cc.create().context("creating the Kafka admin client")?;
    let partitions = |admin: &AdminClient<DefaultClientContext>| -> anyhow::Result<BTreeMap<String, usize>> {
        let m = admin.inner().fetch_metadata(None, ADMIN_TIMEOUT).context("reading the cluster's topics")?;
        Ok(m.topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name().to_string(), t.partitions().len()))
            .collect())
    };
    let admin = std::sync::Arc::new(admin);
    let a = admin.clone();
    let existing = tokio::task::spawn_blocking(move || partitions(&a)).await.context("metadata task")??;
    let mut wanted = Vec::new();
    for (i, input) in topics.names().iter().enumerate() {
        let changelog = changelogs.name(i as u16).to_string();
        let need = existing.get(input).copied().unwrap_or(0);
        match existing.get(&changelog) {
            Some(&have) if have >= need => {}
            Some(&have) => bail!(
                "the changelog topic `{changelog}` has {have} partitions, fewer than its input `{input}` ({need}); give it {need} or more"
            ),
            None if config.state.create_changelog_topics => wanted.push((changelog, need)),
            None => bail!(
                "the changelog topic `{changelog}` does not exist: create it (cleanup.policy=compact, {need} partitions) or set state.create_changelog_topics = true"
            ),
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let rf = config.state.changelog_replication_factor;
    let new: Vec<NewTopic<'_>> = wanted
        .iter()
        .map(|(name, n)| NewTopic::new(name, *n as i32, TopicReplication::Fixed(rf)).set("cleanup.policy", "compact"))
        .collect();
    let results = admin
        .create_topics(&new, &AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT)))
        .await
        .context("creating the changelog topics")?;
    for r in results {
        match r {
            Ok(name) => tracing::info!(topic = %name, "changelog topic created (compacted)"),
            // Another replica created it meanwhile.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => bail!("creating the changelog topic `{name}`: {code}"),
        }
    }
    Ok(())
}

/// The transactional producer of scoring worker `worker`. Its id is unique to the process (host
/// name and process id: two daemons on one host must not fence each other) and the same for a
/// pod restarted in place (a container's process id is the same), whose first transaction then
/// aborts the open one of its killed predecessor at once. A predecessor's open transaction of
/// another id is aborted by the broker after [`TXN_TIMEOUT_MS`]: how long a restore after a crash
/// may wait for it (Kafka Streams' choice for exactly-once is 10 s, with a producer recreated
/// after a broker outage; Credence does not recreate its producer yet, so it waits out outages
/// up to this long instead).
pub fn producer(config: &Config, worker: usize, shutdown: &Shutdown) -> anyhow::Result<TxnProducer> {
    let k = &config.kafka;
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "credence".into());
    let host = format!("{host}-{}", std::process::id());
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &k.bootstrap_servers)
        .set("client.id", format!("{}-changelog-{worker}", k.client_id))
        .set("transactional.id", format!("{}-{host}-{worker}", k.group_id))
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "20")
        .set("compression.type", "lz4")
        .set("transaction.timeout.ms", TXN_TIMEOUT_MS.to_string())
        .set("queue.buffering.max.messages", "1000000");
    for (key, v) in k.librdkafka.iter().chain(&k.producer_librdkafka) {
        cc.set(key, v.to_string());
    }
    let p: TxnProducer = cc
        .create_with_context(LogContext::new("changelog", Some(shutdown.clone())))
        .context("creating the changelog producer")?;
    p.init_transactions(TXN_TIMEOUT).context("initialising the changelog producer's transactions")?;
    Ok(p)
}

/// One checkpoint's records and the input offsets they cover, encoded by the worker.
#[derive(Debug, Default)]
pub struct Checkpoint {
    /// (input partition, key, value or tombstone).
    pub records: Vec<(PartitionKey, Vec<u8>, Option<Vec<u8>>)>,
    /// Next offset to consume of each input partition covered.
    pub offsets: Vec<(PartitionKey, i64)>,
}

impl Checkpoint {
    /// Key and value bytes.
    pub fn bytes(&self) -> u64 {
        self.records.iter().map(|(_, k, v)| (k.len() + v.as_ref().map_or(0, Vec::len)) as u64).sum()
    }
}

/// Why a checkpoint was not committed.
#[derive(Debug)]
pub enum CheckpointError {
    /// Aborted: its changes must be written again by the next one.
    Aborted(KafkaError),
    /// This producer or consumer is fenced or in a fatal state: another owner has the partitions.
    Fatal(KafkaError),
}

/// Writes a checkpoint in one transaction: its records, then its offsets, then the commit.
/// Blocking: runs off the async runtime.
pub fn commit(
    producer: &TxnProducer,
    changelogs: &ChangelogTopics,
    topics: &Topics,
    group: &ConsumerGroupMetadata,
    cp: &Checkpoint,
) -> Result<(), CheckpointError> {
    let classify = |e: KafkaError| match &e {
        KafkaError::Transaction(t) if t.is_fatal() => CheckpointError::Fatal(e),
        KafkaError::Transaction(t) if t.code() == RDKafkaErrorCode::ProducerFenced => CheckpointError::Fatal(e),
        _ => CheckpointError::Aborted(e),
    };
    // librdkafka's transactional API: a retriable error (a timeout while the broker is away) is
    // answered by calling the same operation again, never by starting another one (an abort
    // while a timed-out commit is still in progress is refused as "conflicting"); only an error
    // that requires it is answered by an abort, itself retried. After `TXN_ATTEMPTS` the
    // transaction is aborted and its changes wait for the next checkpoint.
    let retried = |f: &mut dyn FnMut() -> Result<(), KafkaError>| {
        let mut attempt = 1;
        loop {
            match f() {
                Err(KafkaError::Transaction(t)) if t.is_retriable() && attempt < TXN_ATTEMPTS => attempt += 1,
                r => return r,
            }
        }
    };
    let abort = |e: KafkaError| {
        let err = classify(e);
        if matches!(err, CheckpointError::Aborted(_)) {
            let _ = retried(&mut || producer.abort_transaction(TXN_TIMEOUT));
        }
        err
    };
    producer.begin_transaction().map_err(classify)?;
    for ((topic, partition), key, value) in &cp.records {
        let mut rec = BaseRecord::<[u8], [u8]>::to(changelogs.name(*topic)).partition(*partition).key(&key[..]);
        if let Some(v) = value {
            rec = rec.payload(&v[..]);
        }
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    std::thread::sleep(QUEUE_FULL_BACKOFF);
                }
                Err((e, _)) => return Err(abort(e)),
            }
        }
    }
    let mut tpl = TopicPartitionList::with_capacity(cp.offsets.len());
    for &((topic, partition), offset) in &cp.offsets {
        let _ = tpl.add_partition_offset(topics.name(topic), partition, Offset::Offset(offset));
    }
    if !cp.offsets.is_empty() {
        retried(&mut || producer.send_offsets_to_transaction(&tpl, group, TXN_TIMEOUT)).map_err(abort)?;
    }
    retried(&mut || producer.commit_transaction(TXN_TIMEOUT)).map_err(abort)
}

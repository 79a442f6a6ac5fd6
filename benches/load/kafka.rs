//! The real broker of `tests/kafka/kafka.sh`: exclusive use of it, topics, producing the event
//! file (as fast as possible, or paced), and the bare consumer that is the ceiling.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use serde::Serialize;

use crate::procfs;
use crate::stream::{credential_of, shift_time, Lines};

const TIMEOUT: Duration = Duration::from_secs(30);
/// A consumer or the daemon that makes no progress for this long has failed.
pub const STALL: Duration = Duration::from_secs(60);

/// Exclusive use of the broker while held, shared with the integration tests (the same lock
/// directory as `tests/support`): no test stops the broker or loads it during a measurement.
#[derive(Debug)]
pub struct BrokerLock(PathBuf);

impl BrokerLock {
    /// Waits for the lock (up to 15 minutes; a lock whose owner is gone is taken over).
    pub fn acquire() -> anyhow::Result<BrokerLock> {
        let path = std::env::temp_dir().join("credence-kafka-tests.lock");
        let deadline = Instant::now() + Duration::from_secs(900);
        let mut told = false;
        loop {
            if std::fs::create_dir(&path).is_ok() {
                std::fs::write(path.join("pid"), std::process::id().to_string())?;
                return Ok(BrokerLock(path));
            }
            let owner = std::fs::read_to_string(path.join("pid")).unwrap_or_default();
            let alive = owner.trim().parse::<u32>().is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists());
            if !alive && !owner.is_empty() {
                let _ = std::fs::remove_dir_all(&path);
                continue;
            }
            if !told {
                eprintln!("kafka: waiting for the broker lock {} (held by {})", path.display(), owner.trim());
                told = true;
            }
            if Instant::now() > deadline {
                bail!("the broker lock {} is still held", path.display());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for BrokerLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `tests/kafka/kafka.sh ARGS`.
pub fn kafka_sh(repo: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("bash")
        .arg(repo.join("tests/kafka/kafka.sh"))
        .args(args)
        .output()
        .context("running tests/kafka/kafka.sh")?;
    if !out.status.success() {
        bail!("kafka.sh {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The broker's process id (for its CPU time).
pub fn broker_pid() -> Option<u32> {
    let dir = std::env::var("CREDENCE_KAFKA_DIR").unwrap_or_else(|_| "/tmp/credence-kafka".into());
    std::fs::read_to_string(Path::new(&dir).join("kafka.pid")).ok()?.trim().parse().ok()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

fn admin(bootstrap: &str) -> anyhow::Result<AdminClient<DefaultClientContext>> {
    Ok(ClientConfig::new().set("bootstrap.servers", bootstrap).create()?)
}

/// Creates topics (name, partitions) with replication 1.
pub fn create_topics(bootstrap: &str, topics: &[(&str, i32)]) -> anyhow::Result<()> {
    let new: Vec<NewTopic<'_>> = topics.iter().map(|(n, p)| NewTopic::new(n, *p, TopicReplication::Fixed(1))).collect();
    let admin = admin(bootstrap)?;
    let results =
        runtime()?.block_on(admin.create_topics(&new, &AdminOptions::new().operation_timeout(Some(TIMEOUT))))?;
    for r in results {
        r.map_err(|(t, e)| anyhow::anyhow!("creating topic {t}: {e}"))?;
    }
    Ok(())
}

/// Deletes topics (errors ignored: this is cleanup).
pub fn delete_topics(bootstrap: &str, topics: &[&str]) {
    if let (Ok(admin), Ok(rt)) = (admin(bootstrap), runtime()) {
        let _ = rt.block_on(admin.delete_topics(topics, &AdminOptions::new().operation_timeout(Some(TIMEOUT))));
    }
}

/// Counts deliveries.
#[derive(Debug, Default)]
struct Deliveries {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(_) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Producer settings of the benchmark's event source (a gateway's log shipper): batches of up to
/// 5 ms, no compression, acks from all in-sync replicas.
fn producer(bootstrap: &str) -> anyhow::Result<ThreadedProducer<Deliveries>> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .set("acks", "all")
        .set("compression.type", "none")
        .set("queue.buffering.max.messages", "200000")
        .set("message.timeout.ms", "120000")
        .create_with_context(Deliveries::default())?)
}

/// Sends one record, waiting while the local queue is full.
fn send(p: &ThreadedProducer<Deliveries>, topic: &str, key: &[u8], payload: &[u8]) -> anyhow::Result<()> {
    let mut record = BaseRecord::to(topic).key(key).payload(payload);
    loop {
        match p.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, _)) => bail!("producing to {topic}: {e}"),
        }
    }
}

fn finish(p: &ThreadedProducer<Deliveries>, sent: u64) -> anyhow::Result<()> {
    p.flush(Duration::from_secs(120))?;
    let counts = p.context();
    let (ok, failed) = (counts.ok.load(Ordering::Relaxed), counts.failed.load(Ordering::Relaxed));
    anyhow::ensure!(ok == sent && failed == 0, "{ok} of {sent} messages delivered, {failed} failed");
    Ok(())
}

/// A produce run.
#[derive(Debug, Clone, Serialize)]
pub struct Produced {
    /// Messages delivered.
    pub messages: u64,
    /// Wall seconds until the last was acknowledged.
    pub secs: f64,
    /// Messages per second.
    pub per_sec: f64,
}

/// Produces every line of `file` keyed by its credential, as fast as the broker takes them.
pub fn produce_file(bootstrap: &str, topic: &str, file: &Path) -> anyhow::Result<Produced> {
    let p = producer(bootstrap)?;
    let mut lines = Lines::open(file)?;
    let start = Instant::now();
    let mut n = 0u64;
    while lines.next_line()? {
        send(&p, topic, credential_of(&lines.line), &lines.line)?;
        n += 1;
    }
    finish(&p, n)?;
    let secs = start.elapsed().as_secs_f64();
    Ok(Produced { messages: n, secs, per_sec: n as f64 / secs })
}

/// Produces keyed records to given partitions as fast as the broker takes them (a synthetic
/// changelog for the restore measurement).
pub fn produce_records(
    bootstrap: &str,
    topic: &str,
    records: impl Iterator<Item = (i32, Vec<u8>, Vec<u8>)>,
) -> anyhow::Result<Produced> {
    let p = producer(bootstrap)?;
    let start = Instant::now();
    let mut n = 0u64;
    for (partition, key, value) in records {
        let mut record = BaseRecord::to(topic).partition(partition).key(&key[..]).payload(&value[..]);
        loop {
            match p.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => bail!("producing to {topic}: {e}"),
            }
        }
        n += 1;
    }
    finish(&p, n)?;
    let secs = start.elapsed().as_secs_f64();
    Ok(Produced { messages: n, secs, per_sec: n as f64 / secs })
}

/// Produces lines of `file` at `rate` per second for `secs` seconds (from the top again when it
/// runs out), event times moved forward by `shift_ms` (and by a further `shift_ms` each time
/// round), so that the stream continues in event time. Returns the messages produced.
pub fn produce_paced(
    bootstrap: &str,
    topic: &str,
    file: &Path,
    rate: f64,
    secs: f64,
    shift_ms: i64,
) -> anyhow::Result<Produced> {
    let p = producer(bootstrap)?;
    // Connected, with the topic's metadata, before the clock starts: a message's timestamp is
    // taken when it is handed over, so a cold producer would add its start-up to the latency.
    p.client().fetch_metadata(Some(topic), TIMEOUT)?;
    let total = (rate * secs).round() as u64;
    let mut lines = Lines::open(file)?;
    let mut round = 1i64;
    let mut buf = Vec::with_capacity(4096);
    let start = Instant::now();
    let mut n = 0u64;
    while n < total {
        // Sends what is due, then sleeps a millisecond: at most a millisecond's worth per burst.
        let due = ((start.elapsed().as_secs_f64() * rate) as u64).min(total);
        while n < due {
            if !lines.next_line()? {
                lines = Lines::open(file)?;
                round += 1;
                continue;
            }
            shift_time(&lines.line, shift_ms * round, &mut buf);
            send(&p, topic, credential_of(&buf), &buf)?;
            n += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let sent_secs = start.elapsed().as_secs_f64();
    finish(&p, n)?;
    Ok(Produced { messages: n, secs: sent_secs, per_sec: n as f64 / sent_secs })
}

/// A bare consumer's run.
#[derive(Debug, Clone, Serialize)]
pub struct Consumed {
    /// Messages read.
    pub messages: u64,
    /// Payload bytes read.
    pub bytes: u64,
    /// Seconds from the first message to the last.
    pub secs: f64,
    /// Messages per second over `secs`.
    pub per_sec: f64,
    /// CPU seconds of the consumer (all librdkafka threads) over `secs`.
    pub cpu_secs: f64,
    /// CPU seconds per million messages.
    pub cpu_secs_per_million: f64,
    /// CPU seconds of the broker over `secs`.
    pub broker_cpu_secs: f64,
}

/// The ceiling: a consumer group member with the daemon's consumer settings (`options`, the same
/// map the daemon gets as `[kafka.consumer_librdkafka]`) that polls every message of `topic` and
/// only reads its payload's length. Timed from its first message to its `n`th.
pub fn bare_consume(
    bootstrap: &str,
    topic: &str,
    group: &str,
    n: u64,
    options: &[(String, String)],
) -> anyhow::Result<Consumed> {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false");
    for (k, v) in options {
        cc.set(k, v);
    }
    let c: BaseConsumer = cc.create()?;
    c.subscribe(&[topic])?;
    let broker = broker_pid();
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut first: Option<(Instant, f64, f64)> = None;
    let mut last_progress = Instant::now();
    while count < n {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if first.is_none() {
                    let b = broker.and_then(|p| procfs::cpu_secs(Some(p)).ok()).unwrap_or(0.0);
                    first = Some((Instant::now(), procfs::cpu_secs(None)?, b));
                }
                count += 1;
                bytes += m.payload().map_or(0, <[u8]>::len) as u64;
                if count % 4096 == 0 {
                    last_progress = Instant::now();
                }
            }
            Some(Err(e)) => bail!("bare consumer: {e}"),
            None => {
                if last_progress.elapsed() > STALL {
                    bail!("bare consumer: no message for {STALL:?} after {count} of {n}");
                }
            }
        }
    }
    let (t0, cpu0, b0) = first.context("no message")?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu_secs = procfs::cpu_secs(None)? - cpu0;
    let broker_cpu_secs = broker.and_then(|p| procfs::cpu_secs(Some(p)).ok()).map_or(0.0, |b| b - b0);
    // The first message's own fetch is not in the interval: count from the second.
    let per_sec = (count - 1) as f64 / secs;
    Ok(Consumed {
        messages: count,
        bytes,
        secs,
        per_sec,
        cpu_secs,
        cpu_secs_per_million: cpu_secs / (count as f64 / 1e6),
        broker_cpu_secs,
    })
}

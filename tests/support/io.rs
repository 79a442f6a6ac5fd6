//! Kafka I/O for the tests, with the same rdkafka the daemon uses: topics, producing with
//! delivery positions, reading a topic to its end, watermarks and committed offsets.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use super::stream::Item;

const TIMEOUT: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Creates topics (name, partitions), replication 1.
pub fn create_topics(bootstrap: &str, topics: &[(&str, i32)]) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("admin client");
    let new: Vec<NewTopic<'_>> = topics.iter().map(|(n, p)| NewTopic::new(n, *p, TopicReplication::Fixed(1))).collect();
    let results = runtime()
        .block_on(admin.create_topics(&new, &AdminOptions::new().operation_timeout(Some(TIMEOUT))))
        .expect("create topics");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating {t}: {e}"));
    }
    // Wait until the broker serves them.
    for (name, partitions) in topics {
        let ok =
            super::wait_for(TIMEOUT, || (end_offsets(bootstrap, name).len() == *partitions as usize).then_some(()));
        assert!(ok.is_some(), "topic {name} not ready");
    }
}

/// Produces `items` in order at up to `per_sec` messages per second (`None`: as fast as it can),
/// keyed by each item's key, and records where each landed. Waits for every delivery (up to two
/// minutes each, so a broker outage in the middle is survived). Batches are zstd-compressed.
pub fn produce(bootstrap: &str, topic: &str, items: &mut [Item], per_sec: Option<u32>) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "120000")
        .set("linger.ms", "5")
        // Producers of API logs compress; zstd is the common choice (the load benchmark's
        // producer sends uncompressed batches).
        .set("compression.type", "zstd")
        .create()
        .expect("producer");
    let rt = runtime();
    rt.block_on(async {
        let start = Instant::now();
        let mut futures = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(rate) = per_sec {
                let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
                tokio::time::sleep_until(due.into()).await;
            }
            let mut record = FutureRecord::to(topic).key(&item.key).payload(&item.payload);
            loop {
                match producer.send_result(record) {
                    Ok(f) => {
                        futures.push(f);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err((e, _)) => panic!("producing to {topic}: {e}"),
                }
            }
        }
        for (item, f) in items.iter_mut().zip(futures) {
            let d = f.await.expect("producer alive").unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"));
            item.partition = d.partition;
            item.offset = d.offset;
        }
    });
}

/// Produces plain lines (unkeyed) and waits for them.
pub fn produce_lines(bootstrap: &str, topic: &str, lines: &[String]) {
    let mut items: Vec<Item> = lines.iter().map(|l| Item::raw("", l.as_bytes().to_vec())).collect();
    produce(bootstrap, topic, &mut items, None);
}

/// One consumed message.
#[derive(Debug, Clone)]
pub struct Msg {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

impl Msg {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.payload))
    }

    pub fn header(&self, k: &str) -> &str {
        self.headers.get(k).map_or("", String::as_str)
    }
}

fn client(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer")
}

/// High watermark of every partition of `topic`.
pub fn end_offsets(bootstrap: &str, topic: &str) -> BTreeMap<i32, i64> {
    let c = client(bootstrap, "credence-test-watermarks");
    let Ok(meta) = c.fetch_metadata(Some(topic), TIMEOUT) else { return BTreeMap::new() };
    let Some(t) = meta.topics().first() else { return BTreeMap::new() };
    t.partitions()
        .iter()
        .filter_map(|p| c.fetch_watermarks(topic, p.id(), TIMEOUT).ok().map(|(_, high)| (p.id(), high)))
        .collect()
}

/// Offsets `group` has committed on `topic` (partitions without a commit are absent).
pub fn committed(bootstrap: &str, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let c = client(bootstrap, group);
    let mut tpl = TopicPartitionList::new();
    for p in end_offsets(bootstrap, topic).keys() {
        tpl.add_partition(topic, *p);
    }
    let Ok(got) = c.committed_offsets(tpl, TIMEOUT) else { return BTreeMap::new() };
    got.elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}

/// Every message of `topic` up to its current end.
pub fn read_all(bootstrap: &str, topic: &str) -> Vec<Msg> {
    let end = end_offsets(bootstrap, topic);
    let c = client(bootstrap, &super::unique("credence-test-reader"));
    let mut tpl = TopicPartitionList::new();
    for p in end.keys() {
        tpl.add_partition_offset(topic, *p, Offset::Beginning).expect("partition");
    }
    c.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut next: BTreeMap<i32, i64> = end.keys().map(|p| (*p, 0)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while end.iter().any(|(p, e)| next[p] < *e) {
        assert!(Instant::now() < deadline, "reading {topic}: got {next:?} of {end:?}");
        let Some(r) = c.poll(Duration::from_millis(200)) else { continue };
        let m = r.expect("consume");
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|x| (x.key.to_string(), String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        next.insert(m.partition(), m.offset() + 1);
        out.push(Msg {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            headers,
        });
    }
    out
}

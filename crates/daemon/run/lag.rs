//! The consumer group's lag on every partition of the input topics, from the broker: each
//! partition's high-water mark minus the group's committed offset, whether the partition is
//! assigned to this daemon, to another, or to none (librdkafka's statistics know only the
//! partitions assigned here, so an unconsumed partition would vanish from a lag panel instead of
//! growing). Every daemon of the group reports the same figures; dashboards take the max.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::consumer::GroupConsumer;
use super::metrics::Metrics;
use super::shutdown::Shutdown;
use super::Topics;

/// How often the lag is read: a few broker requests per partition each time.
const EVERY: Duration = Duration::from_secs(30);
/// How long one broker request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the lag every [`EVERY`] until shutdown. `earliest`: where the group starts on a
/// partition it has not committed (`kafka.auto_offset_reset`).
pub async fn run(
    consumer: Arc<GroupConsumer>,
    topics: Arc<Topics>,
    metrics: Arc<Metrics>,
    earliest: bool,
    shutdown: Shutdown,
) {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = every.tick() => {}
        }
        let (c, t, m) = (consumer.clone(), topics.clone(), metrics.clone());
        let read = tokio::task::spawn_blocking(move || read(&c, &t, &m, earliest));
        if let Ok(Err(e)) = read.await {
            tracing::debug!(error = %e, "reading the group's lag failed; trying again later");
        }
    }
}

fn read(
    consumer: &GroupConsumer,
    topics: &Topics,
    metrics: &Metrics,
    earliest: bool,
) -> rdkafka::error::KafkaResult<()> {
    let mut tpl = TopicPartitionList::new();
    for topic in topics.names() {
        let meta = consumer.fetch_metadata(Some(&topic), TIMEOUT)?;
        for t in meta.topics() {
            for p in t.partitions() {
                tpl.add_partition(&topic, p.id());
            }
        }
    }
    let committed = consumer.committed_offsets(tpl, TIMEOUT)?;
    for e in committed.elements() {
        let (low, high) = consumer.fetch_watermarks(e.topic(), e.partition(), TIMEOUT)?;
        let from = match e.offset() {
            Offset::Offset(o) => o.clamp(low, high),
            _ if earliest => low,
            _ => high,
        };
        metrics.ops.group_lag.with_label_values(&[e.topic(), &e.partition().to_string()]).set(high - from);
    }
    Ok(())
}

//! The lifecycle reader thread: reads every partition of the lifecycle topic from the beginning
//! (outside the consumer group: every daemon needs every credential's state), decodes and
//! pseudonymises each record, and hands it to the worker, which applies it in event-time order.
//! It reports once it has reached the end of every partition, so events are scored only after
//! the known revocations are in place, and then follows the topic.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use credence_event::lifecycle::LifecycleEvent;
use credence_event::Pseudonymizer;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, oneshot};

use super::events::{ConsumeFailed, InternalEvent, LifecycleCaughtUp, LifecycleRejected};
use super::kafka::LogContext;

/// How long one metadata request may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// What the reader needs.
pub struct Reader {
    /// The consumer (no group).
    pub consumer: BaseConsumer<LogContext>,
    /// The topic.
    pub topic: String,
    /// Pseudonymises credential ids.
    pub pseudonymizer: Pseudonymizer,
    /// Where records go.
    pub out: mpsc::Sender<LifecycleEvent<'static>>,
    /// Told the number of records read once every partition's end was reached.
    pub caught_up: oneshot::Sender<u64>,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("topic", &self.topic).finish_non_exhaustive()
    }
}

/// Starts the reader thread.
pub fn spawn(reader: Reader) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("credence-lifecycle".into()).spawn(move || reader.run())
}

impl Reader {
    fn run(self) {
        let started = Instant::now();
        let partitions = loop {
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            match self.consumer.fetch_metadata(Some(&self.topic), METADATA_TIMEOUT) {
                Ok(m) => match m.topics().first() {
                    Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                        break t.partitions().iter().map(|p| p.id()).collect::<Vec<i32>>()
                    }
                    _ => std::thread::sleep(Duration::from_secs(1)),
                },
                Err(e) => {
                    ConsumeFailed { error: &e }.emit();
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        };
        let mut tpl = TopicPartitionList::new();
        for &p in &partitions {
            // Infallible for a valid partition number.
            let _ = tpl.add_partition_offset(&self.topic, p, Offset::Beginning);
        }
        if let Err(e) = self.consumer.assign(&tpl) {
            ConsumeFailed { error: &e }.emit();
            return;
        }
        let mut behind: BTreeSet<i32> = partitions.into_iter().collect();
        let mut caught_up = Some(self.caught_up);
        let mut records = 0u64;
        while !self.stop.load(Ordering::Acquire) {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    let Some(payload) = m.payload() else { continue };
                    let line = String::from_utf8_lossy(payload);
                    match LifecycleEvent::decode(line.trim(), &self.pseudonymizer) {
                        Ok(ev) => {
                            records += 1;
                            let owned = LifecycleEvent {
                                time_ms: ev.time_ms,
                                credential: ev.credential,
                                action: ev.action,
                                reason: ev.reason.map(|r| std::borrow::Cow::Owned(r.into_owned())),
                            };
                            if self.out.blocking_send(owned).is_err() {
                                return;
                            }
                        }
                        Err(e) => LifecycleRejected {
                            partition: m.partition(),
                            offset: m.offset(),
                            error_type: e.error_type().as_str(),
                            error: &e.to_string(),
                        }
                        .emit(),
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    behind.remove(&p);
                    if behind.is_empty() {
                        if let Some(tx) = caught_up.take() {
                            LifecycleCaughtUp { records, elapsed_ms: started.elapsed().as_millis() as u64 }.emit();
                            let _ = tx.send(records);
                        }
                    }
                }
                Some(Err(e)) => ConsumeFailed { error: &e }.emit(),
                None => {}
            }
        }
    }
}

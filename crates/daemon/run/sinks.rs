//! The alert sinks and the dead-letter publisher: what goes out, and how its acknowledgement
//! comes back to the worker.
//!
//! - Findings go to the alerts topic, keyed by the pseudonymised credential (a finding's records
//!   stay in order on one partition), through the idempotent producer; and/or to a file or
//!   standard output as JSON lines, written and flushed by a thread of its own.
//! - An undecodable message goes to the dead-letter topic unchanged (it is what its producer
//!   sent; never more of it), with its error and origin in headers: `credence.error`,
//!   `credence.error_type`, `credence.errors`, `credence.source.topic`,
//!   `credence.source.partition`, `credence.source.offset`, `credence.format`.
//!
//! Every outbound record carries the [`Origin`] of the input message that raised it; its
//! acknowledgement lets that message's offset be stored.

use std::fs::OpenOptions;
use std::future::Future;
use std::io::{self, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use credence_finding::incident::IncidentUpdate;
use credence_finding::FindingUpdate;
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::DeliveryFuture;
use tokio::sync::mpsc;

use super::events::{FileSinkFailed, InternalEvent};
use super::metrics::Metrics;
use super::offsets::Origin;

/// Most lines written between two flushes of the alerts file.
const FILE_BATCH: usize = 1024;
/// Wait before writing the alerts file again after an error.
const FILE_RETRY: Duration = Duration::from_secs(1);

/// Where an outbound record goes.
#[derive(Clone, Debug)]
pub enum Sink {
    /// The alerts topic.
    Alerts(Arc<str>),
    /// The dead-letter topic.
    DeadLetter(Arc<str>),
    /// The alerts file.
    File,
    /// An HTTP sink, by its index among the worker's sinks.
    Http(usize),
}

impl Sink {
    /// Name for logs.
    pub fn label(&self) -> &'static str {
        match self {
            Sink::Alerts(_) => "alerts",
            Sink::DeadLetter(_) => "dead_letter",
            Sink::File => "file",
            Sink::Http(_) => "http",
        }
    }
}

/// A record on its way to a sink.
#[derive(Debug)]
pub struct Outbound {
    /// The input message it came from.
    pub origin: Origin,
    /// Where it goes.
    pub sink: Sink,
    /// Kafka key.
    pub key: Option<String>,
    /// Kafka value, or the file line (without newline).
    pub payload: Vec<u8>,
    /// Kafka headers.
    pub headers: Option<OwnedHeaders>,
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header { key, value: Some(value) }
}

impl Outbound {
    /// A finding record for the alerts topic. `json` is the rendered OCSF finding.
    pub fn alert(topic: Arc<str>, origin: Origin, update: &FindingUpdate, json: Vec<u8>) -> Outbound {
        let f = &update.finding;
        let activity = update.activity.as_str();
        let headers = OwnedHeaders::new_with_capacity(4)
            .insert(header("credence.finding_uid", &f.uid))
            .insert(header("credence.activity", activity))
            .insert(header("credence.revision", &f.revision.to_string()))
            .insert(header("credence.severity", f.severity.as_str()));
        Outbound {
            origin,
            sink: Sink::Alerts(topic),
            key: Some(f.credential.to_string()),
            payload: json,
            headers: Some(headers),
        }
    }

    /// An incident record for the alerts topic, keyed as its first finding's credential.
    pub fn incident(topic: Arc<str>, origin: Origin, update: &IncidentUpdate, json: Vec<u8>) -> Outbound {
        let i = &update.incident;
        let activity = update.activity.as_str();
        let headers = OwnedHeaders::new_with_capacity(5)
            .insert(header("credence.record", "incident"))
            .insert(header("credence.incident_uid", &i.uid))
            .insert(header("credence.activity", activity))
            .insert(header("credence.revision", &i.revision.to_string()))
            .insert(header("credence.severity", i.severity.as_str()));
        Outbound {
            origin,
            sink: Sink::Alerts(topic),
            key: Some(i.credential.clone()),
            payload: json,
            headers: Some(headers),
        }
    }

    /// A dead letter: the original message (if not over `max_payload_bytes`) with its error and
    /// origin in headers.
    pub fn dead_letter(topic: Arc<str>, origin: Origin, what: &DeadLetter<'_>, payload: Vec<u8>) -> Outbound {
        let mut headers = OwnedHeaders::new_with_capacity(8)
            .insert(header("credence.error", what.error))
            .insert(header("credence.error_type", what.error_type))
            .insert(header("credence.errors", &what.errors.to_string()))
            .insert(header("credence.source.topic", what.source_topic))
            .insert(header("credence.source.partition", &origin.partition.to_string()))
            .insert(header("credence.source.offset", &origin.offset.to_string()))
            .insert(header("credence.format", what.format));
        let payload = if payload.len() > what.max_payload_bytes {
            headers = headers.insert(header("credence.payload_omitted_bytes", &payload.len().to_string()));
            Vec::new()
        } else {
            payload
        };
        Outbound { origin, sink: Sink::DeadLetter(topic), key: None, payload, headers: Some(headers) }
    }

    /// The same record again, from what the producer handed back after a failed delivery.
    pub fn from_failed(origin: Origin, sink: Sink, msg: OwnedMessage) -> Outbound {
        Outbound {
            origin,
            sink,
            key: msg.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            payload: msg.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            headers: msg.headers().cloned(),
        }
    }
}

/// What a dead letter says about its message.
#[derive(Debug)]
pub struct DeadLetter<'a> {
    /// The first decode error (redacted by the decoder).
    pub error: &'a str,
    /// Its type.
    pub error_type: &'static str,
    /// Records of the message that failed (a batch can fail in part).
    pub errors: u32,
    /// The input topic.
    pub source_topic: &'a str,
    /// The input's format.
    pub format: &'static str,
    /// Largest payload copied.
    pub max_payload_bytes: usize,
}

/// A delivery the producer is working on.
pub struct InFlight {
    /// Its input message.
    pub origin: Origin,
    /// Its sink.
    pub sink: Sink,
    /// librdkafka's report.
    pub fut: DeliveryFuture,
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight").field("origin", &self.origin).field("sink", &self.sink).finish_non_exhaustive()
    }
}

/// A finished delivery: the producer's report, or `None` if the producer went away.
pub type Delivered = (Origin, Sink, Option<OwnedDeliveryResult>);

impl Future for InFlight {
    type Output = Delivered;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Delivered> {
        let this = &mut *self;
        Pin::new(&mut this.fut).poll(cx).map(|r| (this.origin, this.sink.clone(), r.ok()))
    }
}

/// Acknowledgements to a worker: the sink's label (`file`, or an HTTP sink's name) and the
/// origins of the records it took.
pub type Acked = (Arc<str>, Vec<Origin>);

/// A line for the alerts file: its bytes, the input message it came from, and the worker that
/// sent it (to which its acknowledgement goes back).
pub type FileLine = (Vec<u8>, Origin, usize);

/// The alerts file (or standard output): a thread that writes lines, flushes, then acknowledges
/// them, so an offset is stored only after its findings reached the operating system.
#[derive(Debug)]
pub struct FileSink {
    /// Lines to write, with their origin and the worker to acknowledge them to.
    pub tx: mpsc::Sender<FileLine>,
    /// The thread.
    pub join: JoinHandle<()>,
}

impl FileSink {
    /// Opens `path` for appending (`-` is standard output) and starts the writer thread, which
    /// acknowledges each line, in batches, on the queue of the worker (`ack_txs`) that sent it.
    pub fn spawn(
        path: &Path,
        capacity: usize,
        ack_txs: Vec<mpsc::Sender<Acked>>,
        metrics: Arc<Metrics>,
    ) -> io::Result<FileSink> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(io::stdout())
        } else {
            Box::new(OpenOptions::new().create(true).append(true).open(path)?)
        };
        let (tx, mut rx) = mpsc::channel::<FileLine>(capacity.max(1));
        let label: Arc<str> = Arc::from("file");
        let join = std::thread::Builder::new().name("credence-alerts-file".into()).spawn(move || {
            let mut out = io::BufWriter::with_capacity(1 << 16, out);
            let mut batch = Vec::with_capacity(FILE_BATCH);
            while let Some(first) = rx.blocking_recv() {
                batch.push(first);
                while batch.len() < FILE_BATCH {
                    match rx.try_recv() {
                        Ok(x) => batch.push(x),
                        Err(_) => break,
                    }
                }
                // Retried until it works: acknowledging unwritten findings would lose them.
                while let Err(e) = write_lines(&mut out, &batch) {
                    FileSinkFailed { error: &e, metrics: &metrics }.emit();
                    std::thread::sleep(FILE_RETRY);
                }
                let mut origins: Vec<Vec<Origin>> = vec![Vec::new(); ack_txs.len()];
                for (_, o, worker) in batch.drain(..) {
                    origins[worker.min(ack_txs.len().saturating_sub(1))].push(o);
                }
                for (tx, o) in ack_txs.iter().zip(origins) {
                    // A worker gone is shutting down: its acknowledgements no longer matter.
                    if !o.is_empty() {
                        let _ = tx.blocking_send((label.clone(), o));
                    }
                }
                if ack_txs.iter().all(mpsc::Sender::is_closed) {
                    break;
                }
            }
        })?;
        Ok(FileSink { tx, join })
    }
}

fn write_lines(out: &mut impl Write, batch: &[FileLine]) -> io::Result<()> {
    for (line, _, _) in batch {
        out.write_all(line)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

//! Internal events of the HTTP sinks.

use tracing::{debug, error, warn};

use super::InternalEvent;
use crate::run::metrics::Metrics;

/// A request to an HTTP sink failed (it is retried unless it was the last attempt).
#[derive(Debug)]
pub struct SinkRequestFailed<'a> {
    /// The sink.
    pub sink: &'a str,
    /// Which attempt, from 1.
    pub attempt: u32,
    /// What happened (a status or a transport error; never the URL).
    pub error: &'a str,
    /// Whether another attempt follows.
    pub retry: bool,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for SinkRequestFailed<'_> {
    fn emit(self) {
        self.metrics.failed(self.sink).inc();
        self.metrics.health.sink_failing.store(true, std::sync::atomic::Ordering::Release);
        // The first failure of a record is worth a look; its retries are counted, not logged.
        if self.attempt == 1 {
            warn!(
                sink = self.sink,
                error = self.error,
                retry = self.retry,
                "HTTP sink request failed; retrying with backoff"
            );
        } else {
            debug!(
                sink = self.sink,
                attempt = self.attempt,
                error = self.error,
                retry = self.retry,
                "HTTP sink request failed"
            );
        }
    }
}

/// An HTTP sink gave up on a record after its attempts: kept on the dead-letter topic, or lost to
/// that sink (the alerts topic or file still has it).
#[derive(Debug)]
pub struct SinkDeadLettered<'a> {
    /// The sink.
    pub sink: &'a str,
    /// The finding's uid.
    pub uid: &'a str,
    /// The last error.
    pub error: &'a str,
    /// Whether the dead-letter topic took it.
    pub kept: bool,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for SinkDeadLettered<'_> {
    fn emit(self) {
        if let Some(c) = self.metrics.sink_dead_lettered(self.sink, self.kept) {
            c.inc();
        }
        if self.kept {
            warn!(
                sink = self.sink,
                finding_uid = self.uid,
                error = self.error,
                "HTTP sink gave up on a finding record; it is on the dead-letter topic"
            );
        } else {
            error!(
                sink = self.sink,
                finding_uid = self.uid,
                error = self.error,
                "HTTP sink gave up on a finding record and no dead-letter topic took it; the sink will not see it"
            );
        }
    }
}

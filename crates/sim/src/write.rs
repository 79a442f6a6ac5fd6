//! Writing a simulated stream to files: `events.ocsf.jsonl`, `lifecycle.jsonl`, `truth.json`.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use crate::{SimConfig, SimItem, Simulator};

/// What [`write_dir`] / [`write_streams`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WriteStats {
    /// OCSF records written.
    pub events: u64,
    /// Lifecycle records written.
    pub lifecycle: u64,
    /// Events carrying a scenario label.
    pub labelled_events: u64,
    /// Scenarios in the truth table.
    pub labels: usize,
    /// Bytes of OCSF JSON lines written.
    pub event_bytes: u64,
}

struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Streams `sim` as JSON lines: OCSF records to `events`, lifecycle records to `lifecycle`.
pub fn write_streams<E: Write, L: Write>(sim: Simulator, events: E, mut lifecycle: L) -> io::Result<WriteStats> {
    let mut stats = WriteStats { labels: sim.truth().labels.len(), ..WriteStats::default() };
    let mut events = Counting { inner: events, bytes: 0 };
    for item in sim {
        match item {
            SimItem::Event(e) => {
                serde_json::to_writer(&mut events, &e.record())?;
                events.write_all(b"\n")?;
                stats.events += 1;
                stats.labelled_events += u64::from(e.label().is_some());
            }
            SimItem::Lifecycle(l) => {
                serde_json::to_writer(&mut lifecycle, &l.record())?;
                lifecycle.write_all(b"\n")?;
                stats.lifecycle += 1;
            }
        }
    }
    events.flush()?;
    lifecycle.flush()?;
    stats.event_bytes = events.bytes;
    Ok(stats)
}

/// Simulates `config` into `dir` (created if missing): `events.ocsf.jsonl` (one OCSF API
/// Activity record per line), `lifecycle.jsonl`, `truth.json` (the [`crate::Truth`] table) and
/// `config.json` (the configuration, to reproduce the run).
pub fn write_dir(config: &SimConfig, dir: &Path) -> io::Result<WriteStats> {
    fs::create_dir_all(dir)?;
    let sim = Simulator::new(config.clone());
    let truth = File::create(dir.join("truth.json"))?;
    serde_json::to_writer_pretty(BufWriter::new(truth), sim.truth())?;
    let cfg = File::create(dir.join("config.json"))?;
    serde_json::to_writer_pretty(BufWriter::new(cfg), config)?;
    let events = BufWriter::with_capacity(1 << 20, File::create(dir.join("events.ocsf.jsonl"))?);
    let lifecycle = BufWriter::new(File::create(dir.join("lifecycle.jsonl"))?);
    write_streams(sim, events, lifecycle)
}

//! The benchmark's events: the first N events of a simulator stream, written once as OCSF JSON
//! lines (with the lifecycle records up to the last of them) and reused while N and the seed stay
//! the same. The load phases, the replay and the River peer all read this one file.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use credence_sim::{SimConfig, SimItem, Simulator, DAY_MS};
use serde::{Deserialize, Serialize};

/// Simulated days. A credential makes about 97 events a day, so the stream for N events has
/// N / [`EVENTS_PER_CREDENTIAL`] credentials and its first N events cover most of the period.
const DAYS: u32 = 14;
/// Events per credential over [`DAYS`], well below the simulator's ~1200-1360, so that the
/// stream holds at least N events.
const EVENTS_PER_CREDENTIAL: u64 = 1_000;
/// Fewest credentials: the simulator injects incidents and confounders into distinct ones.
const MIN_CREDENTIALS: u64 = 500;

/// The generated files and what they hold.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stream {
    /// OCSF API Activity records, one per line.
    pub events: PathBuf,
    /// Lifecycle records, one per line.
    pub lifecycle: PathBuf,
    /// Events in `events`.
    pub count: u64,
    /// Bytes of the events (without newlines).
    pub bytes: u64,
    /// Lifecycle records.
    pub lifecycle_count: u64,
    /// Credentials in the simulated population.
    pub sim_credentials: u32,
    /// Distinct credential ids among the events.
    pub distinct_credentials: usize,
    /// Event time of the first and last event, ms.
    pub time_range_ms: (i64, i64),
    /// Simulator seed.
    pub seed: u64,
}

impl Stream {
    /// Mean event size, bytes.
    pub fn mean_bytes(&self) -> f64 {
        self.bytes as f64 / self.count.max(1) as f64
    }

    /// A shift of event times that moves the stream past its own end by whole weeks (hour of
    /// week and day of week unchanged), for re-producing it as new traffic.
    pub fn week_shift_ms(&self) -> i64 {
        let week = 7 * DAY_MS;
        let span = self.time_range_ms.1 - self.time_range_ms.0 + 1;
        (span + week - 1) / week * week
    }
}

/// Writes (or reuses) `n` simulator events into `dir`.
pub fn generate(dir: &Path, n: u64, seed: u64) -> anyhow::Result<Stream> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let meta = dir.join("events.meta.json");
    if let Ok(text) = std::fs::read_to_string(&meta) {
        if let Ok(s) = serde_json::from_str::<Stream>(&text) {
            let size = std::fs::metadata(&s.events).map(|m| m.len()).unwrap_or(0);
            if s.count == n && s.seed == seed && size == s.bytes + s.count {
                eprintln!("events: reusing {} ({n} events)", s.events.display());
                return Ok(s);
            }
        }
    }
    let credentials = (n / EVENTS_PER_CREDENTIAL).max(MIN_CREDENTIALS) as u32;
    let cfg = SimConfig { credentials, days: DAYS, seed, ..SimConfig::default() };
    eprintln!("events: simulating {n} events ({credentials} credentials over {DAYS} days, seed {seed})");
    let events_path = dir.join("events.jsonl");
    let lifecycle_path = dir.join("lifecycle.jsonl");
    let mut events = BufWriter::with_capacity(1 << 20, File::create(&events_path)?);
    let mut lifecycle = BufWriter::new(File::create(&lifecycle_path)?);
    let mut s = Stream {
        events: events_path,
        lifecycle: lifecycle_path,
        count: 0,
        bytes: 0,
        lifecycle_count: 0,
        sim_credentials: credentials,
        distinct_credentials: 0,
        time_range_ms: (i64::MAX, i64::MIN),
        seed,
    };
    let mut seen = HashSet::new();
    let mut line = Vec::with_capacity(2048);
    for item in Simulator::new(cfg) {
        match item {
            SimItem::Event(e) => {
                if s.count == n {
                    break;
                }
                let r = e.record();
                if !seen.contains(r.credential_uid) {
                    seen.insert(r.credential_uid.to_string());
                }
                line.clear();
                serde_json::to_writer(&mut line, &r)?;
                s.bytes += line.len() as u64;
                line.push(b'\n');
                events.write_all(&line)?;
                s.count += 1;
                s.time_range_ms = (s.time_range_ms.0.min(r.time_ms), s.time_range_ms.1.max(r.time_ms));
            }
            SimItem::Lifecycle(l) => {
                serde_json::to_writer(&mut lifecycle, &l.record())?;
                lifecycle.write_all(b"\n")?;
                s.lifecycle_count += 1;
            }
        }
    }
    anyhow::ensure!(s.count == n, "the simulator made only {} of {n} events", s.count);
    events.flush()?;
    lifecycle.flush()?;
    s.distinct_credentials = seen.len();
    std::fs::write(&meta, serde_json::to_vec_pretty(&s)?)?;
    Ok(s)
}

/// The raw credential id of an OCSF record (its Kafka key), found without parsing the record.
pub fn credential_of(line: &[u8]) -> &[u8] {
    const FIELD: &[u8] = b"\"credential_uid\":\"";
    let Some(at) = line.windows(FIELD.len()).position(|w| w == FIELD) else { return b"" };
    let rest = &line[at + FIELD.len()..];
    let end = rest.iter().position(|&c| c == b'"').unwrap_or(rest.len());
    &rest[..end]
}

/// Rewrites the record's top-level `"time":` by `shift_ms` into `out`.
pub fn shift_time(line: &[u8], shift_ms: i64, out: &mut Vec<u8>) {
    out.clear();
    const FIELD: &[u8] = b"\"time\":";
    let Some(at) = line.windows(FIELD.len()).position(|w| w == FIELD) else {
        out.extend_from_slice(line);
        return;
    };
    let start = at + FIELD.len();
    let len = line[start..].iter().position(|c| !c.is_ascii_digit()).unwrap_or(line.len() - start);
    let t: i64 = std::str::from_utf8(&line[start..start + len]).ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    out.extend_from_slice(&line[..start]);
    out.extend_from_slice((t + shift_ms).to_string().as_bytes());
    out.extend_from_slice(&line[start + len..]);
}

/// Reads lines of a file, without their newline, into a reused buffer.
#[derive(Debug)]
pub struct Lines {
    reader: BufReader<File>,
    /// The current line.
    pub line: Vec<u8>,
}

impl Lines {
    /// Opens `path`.
    pub fn open(path: &Path) -> anyhow::Result<Lines> {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Lines { reader: BufReader::with_capacity(1 << 20, f), line: Vec::with_capacity(4096) })
    }

    /// The next non-empty line, or `false` at the end.
    pub fn next_line(&mut self) -> anyhow::Result<bool> {
        loop {
            self.line.clear();
            if self.reader.read_until(b'\n', &mut self.line)? == 0 {
                return Ok(false);
            }
            while self.line.last().is_some_and(|c| c.is_ascii_whitespace()) {
                self.line.pop();
            }
            if !self.line.is_empty() {
                return Ok(true);
            }
        }
    }
}

/// Copies the first `n` lines of `from` into `to`.
pub fn head(from: &Path, to: &Path, n: u64) -> anyhow::Result<u64> {
    let mut lines = Lines::open(from)?;
    let mut out = BufWriter::new(File::create(to)?);
    let mut k = 0;
    while k < n && lines.next_line()? {
        out.write_all(&lines.line)?;
        out.write_all(b"\n")?;
        k += 1;
    }
    out.flush()?;
    Ok(k)
}

//! `credence replay` of an event file, timed, and the River HalfSpaceTrees peer on the same file
//! (`benches/peer/river_hst.py`).

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::daemon::KEY;
use crate::procfs;

/// A timed `credence replay` of a file.
#[derive(Debug, Clone, Serialize)]
pub struct Replayed {
    /// Events scored (from its summary).
    pub events: u64,
    /// Wall seconds, process start to exit (its start-up included; River's times exclude the
    /// interpreter's).
    pub secs: f64,
    /// Events per wall second.
    pub events_per_sec: f64,
    /// CPU seconds (last sample before exit, every 50 ms).
    pub cpu_secs: f64,
    /// Peak RSS, bytes (last sample before exit).
    pub peak_rss_bytes: u64,
}

/// Runs `credence replay --format ocsf --lifecycle L --out /dev/null FILE` and times it: file
/// reading, decoding, scoring, learning, aggregation and finding rendering, on one thread.
pub fn replay(binary: &Path, events: &Path, lifecycle: &Path) -> anyhow::Result<Replayed> {
    let start = Instant::now();
    let mut child = Command::new(binary)
        .args(["replay", "--format", "ocsf", "--out", "/dev/null", "--lifecycle"])
        .arg(lifecycle)
        .arg(events)
        .env("CREDENCE_PSEUDONYM_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting credence replay")?;
    let pid = child.id();
    // The clock stops when the process exits (a wait, not a poll: polling every 50 ms added
    // 25 ms on average to a run of under a second); a sampler reads its CPU and memory meanwhile.
    let stop = AtomicBool::new(false);
    let mut stderr = child.stderr.take().context("replay's stderr")?;
    let (status, secs, (cpu, peak), err) = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let (mut cpu, mut peak) = (0.0, 0);
            while !stop.load(Ordering::Relaxed) {
                if let (Ok(c), Ok(p)) = (procfs::cpu_secs(Some(pid)), procfs::peak_rss(Some(pid))) {
                    (cpu, peak) = (c, p);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (cpu, peak)
        });
        let reader = s.spawn(move || {
            let mut text = Vec::new();
            stderr.read_to_end(&mut text).map(|_| text)
        });
        let status = child.wait();
        let secs = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        (status, secs, sampler.join().expect("sampler"), reader.join().expect("stderr reader"))
    });
    let (status, err) = (status?, err?);
    let text = String::from_utf8_lossy(&err);
    anyhow::ensure!(status.success(), "credence replay failed: {text}");
    let words: Vec<&str> = text.split_whitespace().collect();
    let events = words
        .windows(2)
        .find(|w| w[0] == "events")
        .and_then(|w| w[1].parse().ok())
        .with_context(|| format!("no event count in the replay summary: {text}"))?;
    Ok(Replayed { events, secs, events_per_sec: events as f64 / secs, cpu_secs: cpu, peak_rss_bytes: peak })
}

/// What `river_hst.py` reports.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct River {
    pub events: u64,
    pub features: u64,
    pub parse_secs: f64,
    pub hst_secs: f64,
    /// Events per second of `score_one` + `learn_one` alone (features extracted beforehand).
    pub hst_events_per_sec: f64,
    /// Events per second including reading, JSON parsing and feature extraction.
    pub total_events_per_sec: f64,
    pub mean_score: f64,
    pub scores_above_0_9: u64,
    pub model: String,
    pub river: String,
    pub python: String,
}

/// Runs the River peer on the first `limit` events of `events`.
pub fn river(python: &Path, script: &Path, events: &Path, limit: u64) -> anyhow::Result<River> {
    let out = Command::new(python)
        .arg(script)
        .arg(events)
        .arg("--limit")
        .arg(limit.to_string())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    anyhow::ensure!(out.status.success(), "river_hst.py failed");
    serde_json::from_slice(&out.stdout).context("river_hst.py's report")
}

//! The real `credence run` as a child process: its configuration, its admin port, scraping its
//! Prometheus `/metrics`, and quantiles from the difference of two histogram scrapes.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// Pseudonymisation key of the benchmark's daemons and replays.
pub const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Topics and group of one daemon.
#[derive(Debug, Clone)]
pub struct Topics {
    pub input: String,
    pub lifecycle: String,
    pub alerts: String,
    pub dead_letter: String,
    pub group: String,
}

/// The daemon's configuration: defaults everywhere except the topics, a short commit interval,
/// the admin port (a free one) and the consumer settings shared with the bare consumer.
/// `scoring_workers` 0 is the daemon's default (one per core).
pub fn config(bootstrap: &str, t: &Topics, consumer_options: &[(String, String)], scoring_workers: usize) -> String {
    config_with(bootstrap, t, consumer_options, scoring_workers, Some(CHECKPOINT_SECS))
}

/// Seconds between checkpoints of the benchmark's daemons: a twelfth of the daemon's default (60),
/// so that a backlog of seconds to minutes is checkpointed several times (its cost is measured,
/// not left to the end) and the figure overstates what the default costs.
pub const CHECKPOINT_SECS: u64 = 5;

/// [`config`], with the state's changelog checkpointed every so many seconds, or off (`None`).
pub fn config_with(
    bootstrap: &str,
    t: &Topics,
    consumer_options: &[(String, String)],
    scoring_workers: usize,
    checkpoint_secs: Option<u64>,
) -> String {
    let changelog = checkpoint_secs.is_some();
    let interval = checkpoint_secs.unwrap_or(60);
    let options: String = consumer_options.iter().map(|(k, v)| format!("{k:?} = {v:?}\n")).collect::<Vec<_>>().concat();
    format!(
        r#"[kafka]
bootstrap_servers = "{bootstrap}"
group_id = "{group}"
commit_interval_ms = 1000
startup_timeout_secs = 30

[kafka.consumer_librdkafka]
{options}
[[inputs]]
topics = ["{input}"]
format = "ocsf"

[lifecycle]
topic = "{lifecycle}"

[alerts]
topic = "{alerts}"

[dead_letter]
topic = "{dlq}"

[log]
format = "json"
level = "info"

[admin]
listen_addr = "127.0.0.1:0"

[daemon]
scoring_workers = {scoring_workers}

[state]
changelog = {changelog}
checkpoint_interval_secs = {interval}
"#,
        group = t.group,
        input = t.input,
        lifecycle = t.lifecycle,
        alerts = t.alerts,
        dlq = t.dead_letter,
    )
}

/// A running `credence run`. Killed if still running when dropped.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    log: PathBuf,
    /// Its admin address, host:port.
    pub admin: String,
}

impl Daemon {
    /// Starts `credence run --config` with `config` written into `dir`, and waits for its admin
    /// server.
    pub fn start(binary: &Path, dir: &Path, config: &str) -> anyhow::Result<Daemon> {
        std::fs::create_dir_all(dir)?;
        let cfg = dir.join("credence.toml");
        std::fs::write(&cfg, config)?;
        let log = dir.join("daemon.log");
        let child = Command::new(binary)
            .arg("run")
            .arg("--config")
            .arg(&cfg)
            .env_remove("RUST_LOG")
            .env("CREDENCE_PSEUDONYM_KEY", KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting credence run")?;
        let mut d = Daemon { child, log, admin: String::new() };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(addr) = d.log_field("admin server listening", "addr") {
                d.admin = addr;
                return Ok(d);
            }
            d.check_running()?;
            if Instant::now() > deadline {
                bail!("credence run did not open its admin port; log:\n{}", d.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A field of the first JSON log line whose message starts with `message`.
    pub fn log_field(&self, message: &str, field: &str) -> Option<String> {
        self.logs().lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find_map(|v| {
            let m = v.get("message").or_else(|| v.get("fields")?.get("message"))?.as_str()?;
            if !m.starts_with(message) {
                return None;
            }
            let f = v.get(field).or_else(|| v.get("fields")?.get(field))?;
            Some(f.as_str().map_or_else(|| f.to_string(), str::to_string))
        })
    }

    /// Fails (with the log's tail) if the daemon has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let logs = self.logs();
            let tail: Vec<&str> = logs.lines().rev().take(30).collect();
            bail!(
                "credence run exited early with {status}; log tail:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    /// Scrapes `/metrics`.
    pub fn scrape(&self) -> anyhow::Result<Scrape> {
        let mut s = TcpStream::connect(&self.admin).with_context(|| format!("connecting to {}", self.admin))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(s, "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.admin)?;
        let mut body = String::new();
        s.read_to_string(&mut body)?;
        let (head, text) = body.split_once("\r\n\r\n").context("malformed HTTP response")?;
        anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "GET /metrics: {}", head.lines().next().unwrap_or(""));
        Ok(Scrape::parse(text))
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self, timeout: Duration) -> anyhow::Result<()> {
        let ok = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status()?;
        anyhow::ensure!(ok.success(), "kill -TERM failed");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait()? {
                anyhow::ensure!(s.success(), "credence run exited with {s}; log:\n{}", self.logs());
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("credence run did not stop within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One scrape: (metric name, labels text, value) per sample.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    samples: Vec<(String, String, f64)>,
}

impl Scrape {
    /// Parses Prometheus text format (comments skipped).
    pub fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let v = match value.trim() {
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    "NaN" => f64::NAN,
                    v => v.parse().ok()?,
                };
                let (name, labels) = match series.split_once('{') {
                    Some((n, l)) => (n, l.trim_end_matches('}')),
                    None => (series, ""),
                };
                Some((name.to_string(), labels.to_string(), v))
            })
            .collect();
        Scrape { samples }
    }

    /// The sum of every series of `name` (0 if none).
    pub fn sum(&self, name: &str) -> f64 {
        self.samples.iter().filter(|(n, _, _)| n == name).map(|(_, _, v)| v).sum()
    }

    /// Whether any series of `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|(n, _, _)| n == name)
    }

    /// The series of `name` with label `label="value"`.
    pub fn labelled(&self, name: &str, label: &str, value: &str) -> Option<f64> {
        let want = format!("{label}=\"{value}\"");
        self.samples.iter().find(|(n, l, _)| n == name && l.split(',').any(|p| p == want)).map(|(_, _, v)| *v)
    }

    /// Cumulative buckets of histogram `name` as (upper bound, count), ascending.
    pub fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let bucket = format!("{name}_bucket");
        let mut b: Vec<(f64, f64)> = self
            .samples
            .iter()
            .filter(|(n, _, _)| *n == bucket)
            .filter_map(|(_, l, v)| {
                let le = l.split(',').find_map(|p| p.strip_prefix("le=\""))?.trim_end_matches('"');
                let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
                Some((le, *v))
            })
            .collect();
        b.sort_by(|a, b| a.0.total_cmp(&b.0));
        b
    }
}

/// The observations a histogram gained between two scrapes, as (upper bound, count) buckets.
pub fn bucket_delta(before: &Scrape, after: &Scrape, name: &str) -> Vec<(f64, f64)> {
    let b = before.buckets(name);
    after
        .buckets(name)
        .into_iter()
        .map(|(le, n)| (le, n - b.iter().find(|(l, _)| *l == le).map_or(0.0, |(_, v)| *v)))
        .collect()
}

/// A quantile of cumulative buckets, interpolated linearly within its bucket (as PromQL's
/// `histogram_quantile` does); the last finite bound if it falls in the +Inf bucket.
pub fn bucket_quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, n) in buckets {
        if n >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let within = if n > prev.1 { (rank - prev.1) / (n - prev.1) } else { 1.0 };
            return Some(prev.0 + (le - prev.0) * within);
        }
        prev = (le, n);
    }
    Some(prev.0)
}

/// The fraction of observations above `bound` (which must be a bucket bound).
pub fn fraction_above(buckets: &[(f64, f64)], bound: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    let at = buckets.iter().find(|(le, _)| (*le - bound).abs() < bound * 1e-9)?.1;
    (total > 0.0).then(|| (total - at) / total)
}

//! `[[sinks]]`: findings to people and their tools over HTTP — a signed generic webhook, Slack,
//! PagerDuty — each with its routing rule (which findings) and its limits. URLs, secrets and
//! routing keys come from files or environment variables, never from the file itself, so a
//! configuration (a Helm chart's values, a ConfigMap) holds none.

use std::path::PathBuf;

use credence_detect::{Category, Detector, Severity, Tactic};
use serde::{Deserialize, Serialize};

/// The kinds of HTTP sink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpSinkKind {
    /// POST the OCSF finding as JSON, signed: `X-Credence-Signature: sha256=HMAC(secret,
    /// timestamp "." body)` with `X-Credence-Timestamp`.
    #[default]
    Webhook,
    /// A Slack incoming webhook: a message a person reads in five seconds.
    Slack,
    /// PagerDuty Events API v2: trigger on a finding's creation and updates, resolve on its close
    /// (dedup key: the finding's uid).
    Pagerduty,
}

impl HttpSinkKind {
    /// Name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpSinkKind::Webhook => "webhook",
            HttpSinkKind::Slack => "slack",
            HttpSinkKind::Pagerduty => "pagerduty",
        }
    }
}

/// Which records a sink takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkRecords {
    /// Findings (OCSF Detection Findings).
    #[default]
    Findings,
    /// Incidents only (OCSF Incident Findings: a principal's chain of findings), when
    /// `[alerts] incidents` is on: a pager that wakes someone once per intrusion, not per finding.
    Incidents,
    /// Both.
    All,
}

impl SinkRecords {
    /// Whether findings go to the sink.
    pub fn findings(self) -> bool {
        matches!(self, SinkRecords::Findings | SinkRecords::All)
    }

    /// Whether incidents go to the sink.
    pub fn incidents(self) -> bool {
        matches!(self, SinkRecords::Incidents | SinkRecords::All)
    }
}

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// One `[[sinks]]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSinkConfig {
    /// Name, unique among the sinks: the `sink` label of its metrics and its name in logs.
    /// Required.
    pub name: String,
    /// `webhook`, `slack` or `pagerduty`. Default `webhook`.
    pub kind: HttpSinkKind,
    /// Environment variable holding the URL to POST to (webhook, Slack). One of `url_env` and
    /// `url_file` is required for them; PagerDuty posts to `endpoint`. Default none.
    pub url_env: Option<String>,
    /// File holding that URL (first line). Default none.
    pub url_file: Option<PathBuf>,
    /// Environment variable holding the secret: the webhook's HMAC key (at least 32 bytes), or
    /// PagerDuty's integration (routing) key. Required for those two. Default none.
    pub secret_env: Option<String>,
    /// File holding that secret (first line). Default none.
    pub secret_file: Option<PathBuf>,
    /// PagerDuty's Events API URL. Default `https://events.pagerduty.com/v2/enqueue`.
    pub endpoint: Option<String>,
    /// Lowest severity routed to this sink: `informational`, `low`, `medium`, `high`,
    /// `critical`. Default `high`.
    pub min_severity: Severity,
    /// Route only findings with one of these detectors (empty: any). Default empty.
    pub detectors: Vec<Detector>,
    /// Route only findings with one of these ATT&CK tactics, written as `defense-evasion`
    /// (empty: any). Default empty.
    pub tactics: Vec<Tactic>,
    /// Route only findings of these categories, `security` or `operational` (empty: any).
    /// Default empty.
    pub categories: Vec<Category>,
    /// Requests in flight at once. Default 4.
    pub max_concurrent: usize,
    /// Most requests started per second. Default 10.
    pub max_per_sec: f64,
    /// Attempts per finding record before it is dead-lettered (backoff 1 s, doubling to 60 s,
    /// with jitter). Default 8 (about two minutes of retries).
    pub max_attempts: u32,
    /// Time one request may take, milliseconds. Default 5000.
    pub timeout_ms: u64,
    /// A link to the finding for people, `{uid}` replaced by its uid (Slack's message, PagerDuty's
    /// links). Default none.
    pub finding_url: Option<String>,
    /// Which records the sink takes: `findings`, `incidents` (with `[alerts] incidents` on) or
    /// `all`. The routing rule above applies to both (an incident matches a detector or tactic
    /// when one of its findings does). Default `findings`.
    pub records: SinkRecords,
}

impl Default for HttpSinkConfig {
    fn default() -> Self {
        HttpSinkConfig {
            name: String::new(),
            kind: HttpSinkKind::Webhook,
            url_env: None,
            url_file: None,
            secret_env: None,
            secret_file: None,
            endpoint: None,
            min_severity: Severity::High,
            detectors: Vec::new(),
            tactics: Vec::new(),
            categories: Vec::new(),
            max_concurrent: 4,
            max_per_sec: 10.0,
            max_attempts: 8,
            timeout_ms: 5000,
            finding_url: None,
            records: SinkRecords::Findings,
        }
    }
}

impl HttpSinkConfig {
    /// Problems with the values (no I/O).
    pub fn problems(&self, at: &str) -> Vec<String> {
        let mut p = Vec::new();
        if self.name.trim().is_empty()
            || !self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            p.push(format!("{at}.name: a name of letters, digits, `_` and `-` is required"));
        }
        let url = self.url_env.is_some() as u8 + self.url_file.is_some() as u8;
        match self.kind {
            HttpSinkKind::Webhook | HttpSinkKind::Slack if url != 1 => {
                p.push(format!("{at}: give the URL by exactly one of url_env and url_file"))
            }
            HttpSinkKind::Pagerduty if url != 0 => {
                p.push(format!("{at}: a pagerduty sink posts to `endpoint`; url_env and url_file do not apply"))
            }
            _ => {}
        }
        let secret = self.secret_env.is_some() as u8 + self.secret_file.is_some() as u8;
        match self.kind {
            HttpSinkKind::Webhook | HttpSinkKind::Pagerduty if secret != 1 => p.push(format!(
                "{at}: give the {} by exactly one of secret_env and secret_file",
                if self.kind == HttpSinkKind::Webhook { "signing key" } else { "routing key" }
            )),
            HttpSinkKind::Slack if secret != 0 => {
                p.push(format!("{at}: a slack sink has no secret (its URL is one: url_env or url_file)"))
            }
            _ => {}
        }
        if self.endpoint.is_some() && self.kind != HttpSinkKind::Pagerduty {
            p.push(format!("{at}.endpoint only applies to kind = \"pagerduty\""));
        }
        if self.max_concurrent == 0 || self.max_concurrent > 1000 {
            p.push(format!("{at}.max_concurrent must be in 1..=1000"));
        }
        if !(self.max_per_sec > 0.0 && self.max_per_sec <= 10_000.0) {
            p.push(format!("{at}.max_per_sec must be in (0, 10000]"));
        }
        if self.max_attempts == 0 || self.max_attempts > 100 {
            p.push(format!("{at}.max_attempts must be in 1..=100"));
        }
        if self.timeout_ms < 100 || self.timeout_ms > 120_000 {
            p.push(format!("{at}.timeout_ms must be in 100..=120000"));
        }
        p
    }
}

/// Reads a secret or URL from an environment variable or a file (first line, trimmed).
pub fn read_secret(env: Option<&str>, file: Option<&std::path::Path>) -> Result<Option<String>, String> {
    let value = match (env, file) {
        (Some(var), _) => std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?,
        (None, Some(path)) => {
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
        }
        (None, None) => return Ok(None),
    };
    let value = value.lines().next().unwrap_or("").trim().to_string();
    if value.is_empty() {
        return Err("it is empty".into());
    }
    Ok(Some(value))
}

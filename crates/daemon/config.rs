//! The daemon's configuration: one TOML file (`credence run --config FILE`), overridden by
//! `CREDENCE_*` environment variables, checked once into a [`Settings`] with every problem
//! reported at once. `credence.example.toml` at the repository root documents every field.
//!
//! Layers, lowest first: built-in defaults, the file, the environment ([`layer`]). Then
//! [`Config::problems`] checks the values (no I/O), and [`Settings::resolve`] loads what the
//! configuration points at (pseudonymisation key, field mappings) and checks the raw librdkafka
//! options against librdkafka itself.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use credence_detect::{DetectConfig, Severity};
use credence_event::{FieldMapping, Format};
use serde::{Deserialize, Serialize};

pub mod layer;
mod resolve;
pub mod sinks;

pub use resolve::{file_stamp, read_catalogue, read_suppressions, FileStamp, InputSettings, ResolvedSink, Settings};
pub use sinks::{HttpSinkConfig, HttpSinkKind};

/// Default `inputs.max_message_bytes`: the decoder's own default, 16 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Exit code for a bad configuration (`EX_CONFIG` from sysexits.h).
pub const EX_CONFIG: u8 = 64;
/// Most scoring workers `daemon.scoring_workers` accepts.
pub const MAX_SCORING_WORKERS: usize = 256;

/// librdkafka options the daemon sets itself because its delivery guarantees depend on them; the
/// pass-through maps may not override them.
pub const MANAGED_OPTIONS: &[(&str, &str)] = &[
    ("bootstrap.servers", "set kafka.bootstrap_servers"),
    ("group.id", "set kafka.group_id"),
    ("client.id", "set kafka.client_id"),
    ("enable.auto.commit", "offsets are committed automatically after they are stored"),
    ("enable.auto.offset.store", "an offset is stored only after its event is scored and its alerts are acknowledged"),
    ("enable.idempotence", "the alert producer is always idempotent"),
    ("acks", "the alert producer always waits for all in-sync replicas"),
    ("request.required.acks", "the alert producer always waits for all in-sync replicas"),
    ("partition.assignment.strategy", "the daemon relies on cooperative-sticky assignment"),
    ("enable.partition.eof", "used internally"),
    ("isolation.level", "the state is restored from committed changelog records only"),
    ("transactional.id", "set per scoring worker for its checkpoints"),
    ("auto.offset.reset", "set kafka.auto_offset_reset"),
    ("auto.commit.interval.ms", "set kafka.commit_interval_ms"),
    ("message.timeout.ms", "set alerts.delivery_timeout_ms"),
    ("delivery.timeout.ms", "set alerts.delivery_timeout_ms"),
];

/// The whole configuration file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Connection to Kafka and the consumer group.
    pub kafka: KafkaConfig,
    /// Input topics, each with its log format. At least one.
    pub inputs: Vec<InputConfig>,
    /// Credential lifecycle records (created / revoked / expired / rotated).
    pub lifecycle: LifecycleConfig,
    /// Where findings go.
    pub alerts: AlertsConfig,
    /// Where undecodable messages go.
    pub dead_letter: DeadLetterConfig,
    /// Findings to people and their tools over HTTP (webhook, Slack, PagerDuty), each routed.
    pub sinks: Vec<HttpSinkConfig>,
    /// The pseudonymisation key.
    pub pseudonym: PseudonymConfig,
    /// Flow control and shutdown.
    pub daemon: DaemonConfig,
    /// Logging.
    pub log: LogConfig,
    /// The admin HTTP server (metrics and health).
    pub admin: AdminConfig,
    /// Where baselines are kept across restarts and rebalances.
    pub state: StateConfig,
    /// Detection settings (see `credence_detect::DetectConfig`).
    pub detect: DetectConfig,
    /// IP enrichment from GeoIP databases.
    pub geoip: GeoIpConfig,
}

/// `[geoip]`: MaxMind-format (`.mmdb`) databases that give events whose log carries an IP address
/// only (CloudTrail, Kong, Envoy) their country, city, coordinates and ASN, which the impossible
/// travel, concurrent use and country/ASN novelty detectors need. Values an event already has
/// (enriched OCSF) are kept. Files are checked for changes and reloaded in place.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoIpConfig {
    /// City database (GeoLite2-City, GeoIP2-City, DB-IP City Lite, ip-location-db's
    /// `dbip-city`): country, city, coordinates. Default none.
    pub city_db: Option<PathBuf>,
    /// ASN database (GeoLite2-ASN, DB-IP ASN Lite, ip-location-db's `asn`): autonomous system
    /// number and organisation. May be the city file when it holds both. Default none.
    pub asn_db: Option<PathBuf>,
    /// How often the files are checked for a change (size or modification time), seconds; 0
    /// never. Default 300.
    pub reload_check_secs: u64,
}

impl Default for GeoIpConfig {
    fn default() -> Self {
        GeoIpConfig { city_db: None, asn_db: None, reload_check_secs: 300 }
    }
}

/// Opens the GeoIP databases named, if any.
pub fn open_geoip(city: Option<PathBuf>, asn: Option<PathBuf>) -> anyhow::Result<Option<credence_event::geoip::GeoIp>> {
    if city.is_none() && asn.is_none() {
        return Ok(None);
    }
    let geoip = credence_event::geoip::GeoIp::open(credence_event::geoip::GeoIpPaths { city, asn })?;
    Ok(Some(geoip))
}

/// `[kafka]`: the cluster and the consumer group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Comma-separated `host:port` list of brokers. Required; no default.
    pub bootstrap_servers: String,
    /// Consumer group of the input topics. Default `credence`.
    pub group_id: String,
    /// Client id sent to the brokers (shows in broker logs and quotas). Default `credence`.
    pub client_id: String,
    /// Where a partition with no committed offset starts: `earliest` or `latest`. Default
    /// `earliest`.
    pub auto_offset_reset: OffsetReset,
    /// How often stored offsets are committed, milliseconds. Default 5000.
    pub commit_interval_ms: u64,
    /// Consumer group session timeout, milliseconds. Default 45000.
    pub session_timeout_ms: u64,
    /// Longest time between polls before the consumer is considered stuck, milliseconds.
    /// Default 300000.
    pub max_poll_interval_ms: u64,
    /// How long start-up waits for the brokers and checks that every topic exists, seconds.
    /// Default 60.
    pub startup_timeout_secs: u64,
    /// Raw librdkafka options for every client (consumers and producer), applied last: TLS, SASL,
    /// timeouts. Default empty. Keys as librdkafka spells them (`security.protocol`).
    pub librdkafka: BTreeMap<String, RawOption>,
    /// Raw librdkafka options for the consumers only, applied after `librdkafka`. Default empty.
    pub consumer_librdkafka: BTreeMap<String, RawOption>,
    /// Raw librdkafka options for the producer only, applied after `librdkafka`. Default empty.
    pub producer_librdkafka: BTreeMap<String, RawOption>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: String::new(),
            group_id: "credence".into(),
            client_id: "credence".into(),
            auto_offset_reset: OffsetReset::Earliest,
            commit_interval_ms: 5000,
            session_timeout_ms: 45_000,
            max_poll_interval_ms: 300_000,
            startup_timeout_secs: 60,
            librdkafka: BTreeMap::new(),
            consumer_librdkafka: BTreeMap::new(),
            producer_librdkafka: BTreeMap::new(),
        }
    }
}

/// Where a partition without a committed offset starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetReset {
    /// The oldest retained message.
    Earliest,
    /// Only messages produced from now on.
    Latest,
}

impl OffsetReset {
    /// The librdkafka value.
    pub fn as_str(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        }
    }
}

/// A raw librdkafka option value: TOML strings, integers, floats and booleans are all accepted
/// and passed on as text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawOption {
    /// Text.
    Text(String),
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Bool(bool),
}

impl fmt::Display for RawOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawOption::Text(s) => f.write_str(s),
            RawOption::Int(i) => write!(f, "{i}"),
            RawOption::Float(x) => write!(f, "{x}"),
            RawOption::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// `[[inputs]]`: topics of one log format. The topics of one input share one detection engine
/// (baselines, peer groups); separate inputs have separate engines, so put streams that carry the
/// same credentials in one input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    /// Topics to consume. At least one; no default.
    pub topics: Vec<String>,
    /// Log format: `ocsf`, `cloudtrail`, `kong`, `envoy` or `mapped`. Default `ocsf`.
    pub format: Format,
    /// Field mapping for `format = "mapped"`, inline (a `[inputs.mapping]` table of JSON pointers).
    /// Default none.
    pub mapping: Option<FieldMapping>,
    /// Field mapping for `format = "mapped"`, from a TOML file. Default none.
    pub mapping_file: Option<PathBuf>,
    /// Largest message decoded; larger ones go to the dead-letter topic, bytes. Default 16 MiB.
    pub max_message_bytes: usize,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            topics: Vec::new(),
            format: Format::Ocsf,
            mapping: None,
            mapping_file: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// `[lifecycle]`: the credential lifecycle topic. Every daemon reads all of it from the beginning
/// at start (it is not part of the consumer group), so it may be compacted by credential.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleConfig {
    /// Topic of lifecycle records (JSON lines: time, credential_uid, action, reason). Default
    /// none: no lifecycle input, so no ghost-credential alerts.
    pub topic: Option<String>,
    /// How long start-up waits to read the lifecycle topic to its end before consuming events,
    /// seconds. Default 60.
    pub catch_up_timeout_secs: u64,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig { topic: None, catch_up_timeout_secs: 60 }
    }
}

/// `[alerts]`: OCSF Detection Findings, to a Kafka topic and/or a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Topic for findings, keyed by the pseudonymised credential. Default none.
    pub topic: Option<String>,
    /// File for findings as JSON lines, or `-` for standard output. Default none.
    pub file: Option<PathBuf>,
    /// Lowest severity published: `informational`, `low`, `medium`, `high`, `critical`. Default
    /// `low`.
    pub min_severity: Severity,
    /// Time without a new anomaly after which a finding closes, seconds (event time). Default 3600.
    pub finding_window_secs: u64,
    /// How long the producer retries one delivery before reporting it failed, milliseconds; a
    /// failed delivery is sent again, so this only decides how often failures are logged.
    /// Default 300000.
    pub delivery_timeout_ms: u64,
    /// Name of this instance in each finding's `metadata.loggers` (a pod name). Default none.
    pub instance: Option<String>,
    /// Suppression rules (TOML, `[[rule]]` tables: what is expected, why, who said so, until
    /// when; docs/RUNBOOK.md). Findings they cover are still published, with status Suppressed,
    /// and counted, but not sent to the HTTP sinks. Default none.
    pub suppressions_file: Option<PathBuf>,
    /// How often the suppressions file is checked for a change and reloaded, seconds (0: never).
    /// A file that no longer loads keeps the rules in use. Default 30.
    pub suppressions_reload_secs: u64,
    /// Also publish incidents: findings of one principal at most `incident_window_secs` apart
    /// roll up into one OCSF Incident Finding (class 2005) whose severity rises with the chain of
    /// ATT&CK tactics; published beside the findings (same topic and file, header
    /// `credence.record = incident`) and to sinks with `records = "incidents"` or `"all"`.
    /// Default false.
    pub incidents: bool,
    /// How far apart two findings of a principal may be to be one incident, s. Default 86400.
    pub incident_window_secs: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            topic: None,
            file: None,
            min_severity: Severity::Low,
            finding_window_secs: 3600,
            delivery_timeout_ms: 300_000,
            instance: None,
            suppressions_file: None,
            // An analyst's new rule takes effect within half a minute; a stat() per half minute
            // costs nothing.
            suppressions_reload_secs: 30,
            incidents: false,
            // credence_finding::incident::DEFAULT_INCIDENT_WINDOW_MS: a day.
            incident_window_secs: 86_400,
        }
    }
}

/// `[dead_letter]`: where undecodable input goes, with its error and origin in headers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadLetterConfig {
    /// Dead-letter topic. Default none: undecodable messages are only counted and logged at
    /// DEBUG.
    pub topic: Option<String>,
    /// Largest original message copied into a dead letter, bytes; above it the dead letter has
    /// headers only. Keep it under the broker's `message.max.bytes`. Default 900000.
    pub max_payload_bytes: usize,
}

impl Default for DeadLetterConfig {
    fn default() -> Self {
        DeadLetterConfig { topic: None, max_payload_bytes: 900_000 }
    }
}

/// `[pseudonym]`: the HMAC key that turns credential ids into pseudonyms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PseudonymConfig {
    /// File holding the key (first line: 64+ hex digits, or 32+ bytes of text). Default none:
    /// the key comes from `CREDENCE_PSEUDONYM_KEY`. One of the two is required.
    pub key_file: Option<PathBuf>,
}

/// `[daemon]`: flow control and shutdown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Alert and dead-letter deliveries awaiting acknowledgement beyond which consumption pauses,
    /// messages. Default 10000.
    pub max_in_flight: usize,
    /// Messages fetched but not yet scored beyond which consumption pauses, messages.
    /// Default 8192.
    pub buffer_messages: usize,
    /// Time from SIGTERM to exit: stop fetching, drain, flush alerts, commit, seconds. Keep it
    /// below the pod's termination grace period. Default 20.
    pub shutdown_timeout_secs: u64,
    /// Tokio worker threads; 0 means one per core. Default 0.
    pub worker_threads: usize,
    /// Scoring workers: the assigned partitions are dealt among them (a partition always to the
    /// same one, so its messages stay in order) and each scores its partitions' credentials
    /// with baselines of its own, in parallel (`detect.max_credentials`, the pod's bound, is
    /// shared out among them). More than the partitions a pod is assigned leaves some idle.
    /// 0 means one per core. Default 0.
    pub scoring_workers: usize,
}

impl DaemonConfig {
    /// Scoring workers in force: the setting, or one per available core (cgroup CPU quotas
    /// count) when 0.
    pub fn scoring_workers(&self) -> usize {
        match self.scoring_workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            max_in_flight: 10_000,
            buffer_messages: 8192,
            shutdown_timeout_secs: 20,
            worker_threads: 0,
            scoring_workers: 0,
        }
    }
}

/// `[state]`: baselines kept across restarts, upgrades and rebalances, as Kafka Streams keeps a
/// store: each input partition's state (baselines, peer profiles, population, open findings,
/// clock) is written to a partition of a compacted changelog topic, in a Kafka transaction with
/// the input offsets it covers, and read back when the partition is assigned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// Keep the state on changelog topics (transactions: the principal needs Write and Describe
    /// on its transactional ids, `<group_id>-*`). Off, every restart starts every credential from
    /// nothing. Default true.
    pub changelog: bool,
    /// Changelog topic names are `<prefix>-<input topic>-changelog`. Default: `kafka.group_id`.
    pub changelog_prefix: Option<String>,
    /// Create missing changelog topics (`cleanup.policy=compact`, one partition per input
    /// partition). Off, create them beforehand with those settings (at least as many partitions
    /// as the input). Default true.
    pub create_changelog_topics: bool,
    /// Replication factor of created changelog topics; -1 is the broker's default. Default -1.
    pub changelog_replication_factor: i32,
    /// How often each scoring worker writes what changed and commits the offsets it covers,
    /// seconds: at most this much learning is processed again after a crash. Default 60.
    pub checkpoint_interval_secs: u64,
    /// A state directory or snapshot file (`credence replay --state DIR`) that seeds partitions
    /// whose changelog is empty: a new deployment starts warm from replayed history. Default:
    /// none.
    pub initial_snapshot: Option<PathBuf>,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            changelog: true,
            changelog_prefix: None,
            create_changelog_topics: true,
            changelog_replication_factor: -1,
            checkpoint_interval_secs: 60,
            initial_snapshot: None,
        }
    }
}

impl Config {
    /// The changelog topic of an input topic: `<prefix>-<topic>-changelog`. The default prefix is
    /// the consumer group, made a legal topic name (a group id may hold any character: others
    /// become `_`, and a prefix too long for the topic name is cut and given a hash of the group).
    pub fn changelog_topic(&self, input_topic: &str) -> String {
        let suffix = format!("-{input_topic}-changelog");
        let prefix = match &self.state.changelog_prefix {
            Some(p) => p.clone(),
            None => {
                let group = &self.kafka.group_id;
                let legal: String = group
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
                    .collect();
                // Topic names are at most 249 characters.
                let room = 249usize.saturating_sub(suffix.len());
                if legal.len() <= room {
                    legal
                } else {
                    // FNV-1a: stable across builds (a topic name must not change on upgrade).
                    let h = group.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
                    let tag = format!("-{h:08x}");
                    format!("{}{tag}", &legal[..room.saturating_sub(tag.len())])
                }
            }
        };
        format!("{prefix}{suffix}")
    }
}

/// `[admin]`: the admin HTTP server, on a port of its own: `GET /metrics` (Prometheus text
/// format), `/healthz` (200 while the process runs) and `/readyz` (200 once the consumer has its
/// partitions and the alert sinks are healthy, 503 otherwise).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Address and port to listen on (`host:port`; port 0 picks a free one). Default
    /// `0.0.0.0:9464`.
    pub listen_addr: String,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig { listen_addr: "0.0.0.0:9464".into() }
    }
}

/// `[log]`: logs go to standard error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` (one object per line, for production) or `text`. Default `json`.
    pub format: LogFormat,
    /// Filter in `RUST_LOG` syntax (`info`, `info,credence=debug`); `RUST_LOG` overrides it.
    /// Default `info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Json, level: "info".into() }
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    Text,
}

/// Whether `name` is a legal Kafka topic name.
fn legal_topic(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Config {
    /// Every problem with the values, at once (no I/O: files and keys are checked by
    /// [`Settings::resolve`]).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let k = &self.kafka;
        if k.bootstrap_servers.trim().is_empty() {
            p.push("kafka.bootstrap_servers is required (host:port[,host:port...])".to_string());
        }
        if k.group_id.trim().is_empty() {
            p.push("kafka.group_id must not be empty".into());
        }
        if k.commit_interval_ms == 0 {
            p.push("kafka.commit_interval_ms must be positive".into());
        }
        if k.session_timeout_ms == 0 || k.max_poll_interval_ms < k.session_timeout_ms {
            p.push("kafka.max_poll_interval_ms must be at least kafka.session_timeout_ms > 0".into());
        }
        if k.startup_timeout_secs == 0 {
            p.push("kafka.startup_timeout_secs must be positive".into());
        }
        for (table, map) in [
            ("librdkafka", &k.librdkafka),
            ("consumer_librdkafka", &k.consumer_librdkafka),
            ("producer_librdkafka", &k.producer_librdkafka),
        ] {
            for key in map.keys() {
                if let Some((_, why)) = MANAGED_OPTIONS.iter().find(|(m, _)| m == key) {
                    p.push(format!("kafka.{table}.\"{key}\" is managed by credence: {why}"));
                }
            }
        }

        if self.inputs.is_empty() {
            p.push("at least one [[inputs]] table is required".into());
        }
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut claim = |topic: &str, owner: String, p: &mut Vec<String>| {
            if !legal_topic(topic) {
                p.push(format!("{owner}: `{topic}` is not a legal topic name (1-249 of a-z A-Z 0-9 . _ -)"));
            }
            if let Some(first) = seen.get(topic) {
                p.push(format!("{owner}: topic `{topic}` is already used by {first}"));
            } else {
                seen.insert(topic.to_string(), owner);
            }
        };
        for (i, input) in self.inputs.iter().enumerate() {
            let at = format!("inputs[{i}]");
            if input.topics.is_empty() {
                p.push(format!("{at}.topics must name at least one topic"));
            }
            for t in &input.topics {
                claim(t, format!("{at}.topics"), &mut p);
            }
            match (input.format, input.mapping.is_some(), input.mapping_file.is_some()) {
                (Format::Mapped, false, false) => {
                    p.push(format!("{at}: format `mapped` needs a mapping ({at}.mapping or {at}.mapping_file)"))
                }
                (Format::Mapped, true, true) => p.push(format!("{at}: give either mapping or mapping_file, not both")),
                // Read and checked by `Settings::resolve`.
                (Format::Mapped, false, true) => {}
                (Format::Mapped, true, false) => {
                    if let Some(Err(e)) = input.mapping.as_ref().map(FieldMapping::validate) {
                        p.push(format!("{at}.mapping: {}", e.problems.join("; ")));
                    }
                }
                (f, m, mf) if m || mf => {
                    p.push(format!("{at}: a field mapping only applies to format `mapped`, not `{}`", f.as_str()))
                }
                _ => {}
            }
            if input.max_message_bytes == 0 {
                p.push(format!("{at}.max_message_bytes must be positive"));
            }
        }
        if self.inputs.iter().map(|i| i.topics.len()).sum::<usize>() > usize::from(u16::MAX) {
            p.push("inputs: at most 65535 topics".into());
        }
        if let Some(t) = &self.lifecycle.topic {
            claim(t, "lifecycle.topic".into(), &mut p);
        }
        if self.lifecycle.catch_up_timeout_secs == 0 {
            p.push("lifecycle.catch_up_timeout_secs must be positive".into());
        }

        let a = &self.alerts;
        if a.topic.is_none() && a.file.is_none() {
            p.push("alerts: set alerts.topic, alerts.file, or both; findings would go nowhere".into());
        }
        if let Some(t) = &a.topic {
            claim(t, "alerts.topic".into(), &mut p);
        }
        if a.file.as_ref().is_some_and(|f| f.as_os_str().is_empty()) {
            p.push("alerts.file must not be empty (use `-` for standard output)".into());
        }
        if a.finding_window_secs == 0 || a.finding_window_secs > i64::MAX as u64 / 1000 {
            p.push("alerts.finding_window_secs must be positive".into());
        }
        if a.delivery_timeout_ms < 1000 || a.delivery_timeout_ms > i32::MAX as u64 {
            p.push("alerts.delivery_timeout_ms must be in 1000..=2147483647".into());
        }
        if a.incidents && a.incident_window_secs == 0 {
            p.push("alerts.incident_window_secs must be positive".into());
        }
        for s in self.sinks.iter().filter(|s| s.records.incidents() && !a.incidents) {
            p.push(format!(
                "sinks ({}): records = {:?} takes incidents, but alerts.incidents is off: it would receive none of them",
                s.name,
                s.records
            ));
        }
        if let Some(t) = &self.dead_letter.topic {
            claim(t, "dead_letter.topic".into(), &mut p);
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, s) in self.sinks.iter().enumerate() {
            let at = format!("sinks[{i}]");
            p.extend(s.problems(&at));
            if !names.insert(s.name.as_str()) {
                p.push(format!("{at}.name: `{}` is used by another sink", s.name));
            }
            if ["kafka", "file", "dead_letter"].contains(&s.name.as_str()) {
                p.push(format!("{at}.name: `{}` names a built-in sink", s.name));
            }
        }

        let d = &self.daemon;
        if d.max_in_flight == 0 || d.max_in_flight > 1_000_000 {
            p.push("daemon.max_in_flight must be in 1..=1000000".into());
        }
        if d.scoring_workers > MAX_SCORING_WORKERS {
            p.push(format!("daemon.scoring_workers must be in 0..={MAX_SCORING_WORKERS}"));
        }
        if d.buffer_messages == 0 {
            p.push("daemon.buffer_messages must be positive".into());
        }
        if d.shutdown_timeout_secs == 0 {
            p.push("daemon.shutdown_timeout_secs must be positive".into());
        }
        if self.admin.listen_addr.parse::<std::net::SocketAddr>().is_err() {
            p.push(format!(
                "admin.listen_addr `{}` is not an address and port (e.g. 0.0.0.0:9464)",
                self.admin.listen_addr
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            p.push(format!("log.level `{}` is not a valid filter: {e}", self.log.level));
        }
        let st = &self.state;
        if st.checkpoint_interval_secs == 0 || st.checkpoint_interval_secs > 86_400 {
            p.push("state.checkpoint_interval_secs must be in 1..=86400".into());
        }
        if st.changelog_replication_factor == 0 || st.changelog_replication_factor < -1 {
            p.push("state.changelog_replication_factor must be -1 (the broker's default) or positive".into());
        }
        if st.changelog {
            for t in self.inputs.iter().flat_map(|i| &i.topics) {
                let name = self.changelog_topic(t);
                if !legal_topic(&name) {
                    p.push(format!("state: the changelog topic `{name}` of input `{t}` is not a legal topic name (shorten kafka.group_id or set state.changelog_prefix)"));
                } else if seen.contains_key(&name) {
                    p.push(format!("state: the changelog topic `{name}` is also configured as {}", seen[&name]));
                }
            }
        }
        p.extend(self.detect.problems());
        p
    }
}

#[cfg(test)]
mod tests;

//! The checked configuration: values checked, the pseudonymisation key and field mappings loaded,
//! raw librdkafka options accepted by librdkafka. The daemon starts only from a [`Settings`].

use std::path::Path;

use credence_detect::Catalogue;
use credence_event::{Decoder, FieldMapping, Format, Pseudonymizer};
use credence_finding::suppress::Suppressions;
use rdkafka::ClientConfig;

use super::{layer, Config};

/// A configuration the daemon can run with.
#[derive(Debug)]
pub struct Settings {
    /// The configuration as layered from defaults, file and environment.
    pub config: Config,
    /// The pseudonymisation key.
    pub pseudonymizer: Pseudonymizer,
    /// One decoder per `[[inputs]]` table, in order.
    pub inputs: Vec<InputSettings>,
    /// The operation risk catalogue: the built-in one, extended by `detect.catalogue_file`.
    pub catalogue: Catalogue,
    /// The HTTP sinks, their URLs and secrets read.
    pub sinks: Vec<ResolvedSink>,
    /// The GeoIP databases, opened, when `[geoip]` names any.
    pub geoip: Option<credence_event::geoip::GeoIp>,
    /// The suppression rules, read, when `alerts.suppressions_file` names a file; with the
    /// file's stamp as it was before the read (so a change during it is seen by the next check).
    pub suppressions: Option<(FileStamp, Suppressions)>,
}

/// An HTTP sink with its URL and secret read (never logged, never printed).
#[derive(Clone)]
pub struct ResolvedSink {
    /// Its configuration.
    pub config: super::HttpSinkConfig,
    /// Where to POST.
    pub url: String,
    /// The webhook's signing key or PagerDuty's routing key.
    pub secret: Option<String>,
}

impl std::fmt::Debug for ResolvedSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedSink").field("name", &self.config.name).finish_non_exhaustive()
    }
}

/// One input, ready to decode.
#[derive(Debug)]
pub struct InputSettings {
    /// Its topics.
    pub topics: Vec<String>,
    /// Its decoder.
    pub decoder: Decoder,
}

impl Settings {
    /// Loads `path`, applies the environment and checks everything, reporting every problem.
    pub fn load(path: &Path) -> Result<Settings, Vec<String>> {
        Settings::resolve(layer::load(path)?)
    }

    /// Checks `config` and loads what it points at, reporting every problem.
    pub fn resolve(config: Config) -> Result<Settings, Vec<String>> {
        let mut problems = config.problems();
        let pseudonymizer = match crate::keys::load(config.pseudonym.key_file.as_deref()) {
            Ok(Some(p)) => Some(p),
            Ok(None) => {
                problems.push(format!(
                    "no pseudonymisation key: set pseudonym.key_file or {} (make one with `openssl rand -hex 32 > key.hex`)",
                    crate::keys::KEY_ENV
                ));
                None
            }
            Err(e) => {
                problems.push(format!("pseudonym: {e:#}"));
                None
            }
        };
        let mut mappings = Vec::with_capacity(config.inputs.len());
        for (i, input) in config.inputs.iter().enumerate() {
            let mapping = match (&input.mapping, &input.mapping_file) {
                (Some(m), _) => Some(m.clone()),
                (None, Some(path)) => match read_mapping(path) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        problems.push(format!("inputs[{i}].mapping_file: {e}"));
                        None
                    }
                },
                (None, None) => None,
            };
            mappings.push(mapping);
        }
        let catalogue = match read_catalogue(config.detect.catalogue_file.as_deref()) {
            Ok(c) => Some(c),
            Err(errs) => {
                problems.extend(errs.into_iter().map(|e| format!("detect.catalogue_file: {e}")));
                None
            }
        };
        if let Some(path) = &config.state.initial_snapshot {
            let file = if path.is_dir() { path.join(credence_state::snapshot::FILE_NAME) } else { path.clone() };
            if !file.is_file() {
                problems.push(format!(
                    "state.initial_snapshot: no snapshot at {} (make one with `credence replay --state DIR`)",
                    file.display()
                ));
            } else if !config.state.changelog {
                problems.push("state.initial_snapshot needs state.changelog = true (seeded state must be kept)".into());
            }
        }
        let geoip = match super::open_geoip(config.geoip.city_db.clone(), config.geoip.asn_db.clone()) {
            Ok(g) => g,
            Err(e) => {
                problems.push(format!("geoip: {e:#}"));
                None
            }
        };
        let stamped = |path: &Path| {
            let stamp = file_stamp(path).unwrap_or_default();
            read_suppressions(path).map(|s| (stamp, s))
        };
        let suppressions = match config.alerts.suppressions_file.as_deref().map(stamped) {
            Some(Ok(s)) => Some(s),
            Some(Err(errs)) => {
                problems.extend(errs.into_iter().map(|e| format!("alerts.suppressions_file: {e}")));
                None
            }
            None => None,
        };
        let mut sinks = Vec::new();
        for (i, sink) in config.sinks.iter().enumerate() {
            let at = format!("sinks[{i}] ({})", sink.name);
            let url = super::sinks::read_secret(sink.url_env.as_deref(), sink.url_file.as_deref());
            let secret = super::sinks::read_secret(sink.secret_env.as_deref(), sink.secret_file.as_deref());
            let url = match (url, sink.kind) {
                (Ok(Some(u)), _) => Some(u),
                (Ok(None), super::HttpSinkKind::Pagerduty) => {
                    Some(sink.endpoint.clone().unwrap_or_else(|| super::sinks::PAGERDUTY_EVENTS_URL.to_string()))
                }
                (Ok(None), _) => None,
                (Err(e), _) => {
                    problems.push(format!("{at}: the URL: {e}"));
                    None
                }
            };
            if let Some(u) = &url {
                if !(u.starts_with("https://") || u.starts_with("http://")) {
                    problems.push(format!("{at}: the URL must start with https:// (or http://)"));
                }
            }
            let secret = match secret {
                Ok(s) => s,
                Err(e) => {
                    problems.push(format!("{at}: the secret: {e}"));
                    None
                }
            };
            if sink.kind == super::HttpSinkKind::Webhook && secret.as_ref().is_some_and(|s| s.len() < 32) {
                problems.push(format!("{at}: the signing key must be at least 32 bytes"));
            }
            if let Some(url) = url {
                sinks.push(ResolvedSink { config: sink.clone(), url, secret });
            }
        }
        let k = &config.kafka;
        for (table, map) in [
            ("librdkafka", &k.librdkafka),
            ("consumer_librdkafka", &k.consumer_librdkafka),
            ("producer_librdkafka", &k.producer_librdkafka),
        ] {
            for (key, value) in map {
                let value = value.to_string();
                if let Err(e) = ClientConfig::new().set(key, &value).create_native_config() {
                    // librdkafka quotes the value in some messages; it may be a password.
                    let msg = if value.is_empty() { e.to_string() } else { e.to_string().replace(&value, "…") };
                    problems.push(format!("kafka.{table}.\"{key}\": {msg}"));
                }
            }
        }
        let (Some(pseudonymizer), Some(catalogue)) = (pseudonymizer, catalogue) else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let inputs = config
            .inputs
            .iter()
            .zip(mappings)
            .map(|(input, mapping)| {
                let decoder = match (input.format, mapping) {
                    (Format::Mapped, Some(m)) => Decoder::mapped(m, pseudonymizer.clone()),
                    (f, _) => Decoder::new(f, pseudonymizer.clone()),
                };
                InputSettings {
                    topics: input.topics.clone(),
                    decoder: decoder.with_max_message_bytes(input.max_message_bytes),
                }
            })
            .collect();
        Ok(Settings { config, pseudonymizer, inputs, catalogue, sinks, geoip, suppressions })
    }
}

/// The built-in operation risk catalogue, extended by the file at `path` when one is named; every
/// problem of the file, each with its line.
pub fn read_catalogue(path: Option<&Path>) -> Result<Catalogue, Vec<String>> {
    let Some(path) = path else { return Ok(Catalogue::builtin()) };
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?;
    Catalogue::with_overrides(&text)
        .map_err(|e| e.problems.into_iter().map(|p| format!("{}: {p}", path.display())).collect())
}

/// What identifies a version of a file: its length and modification time.
pub type FileStamp = (u64, Option<std::time::SystemTime>);

/// The stamp of the file at `path` now.
pub fn file_stamp(path: &Path) -> std::io::Result<FileStamp> {
    let m = std::fs::metadata(path)?;
    Ok((m.len(), m.modified().ok()))
}

/// The suppression rules in the file at `path`; every problem, each with its rule.
pub fn read_suppressions(path: &Path) -> Result<Suppressions, Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?;
    Suppressions::from_toml(&text).map_err(|e| e.into_iter().map(|p| format!("{}: {p}", path.display())).collect())
}

fn read_mapping(path: &Path) -> Result<FieldMapping, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mapping: FieldMapping = toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
    mapping.validate().map_err(|e| format!("{}: {}", path.display(), e.problems.join("; ")))?;
    Ok(mapping)
}

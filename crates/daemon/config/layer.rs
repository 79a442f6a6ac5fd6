//! Layering of the configuration: built-in defaults, then the file, then `CREDENCE_*` environment
//! variables. A schema walk reports every unknown key and every mistyped value at once, before
//! serde sees the result.
//!
//! Environment variables name a setting by its path, upper-cased, levels joined by `__`:
//! `CREDENCE_KAFKA__BOOTSTRAP_SERVERS`, `CREDENCE_DAEMON__SHUTDOWN_TIMEOUT_SECS`,
//! `CREDENCE_INPUTS__0__TOPICS` (an index selects an `[[inputs]]` table of the file; a list is
//! comma-separated or TOML `[...]`). In the raw librdkafka maps, `_` stands for `.`:
//! `CREDENCE_KAFKA__LIBRDKAFKA__SASL_PASSWORD` sets `sasl.password`. A value takes the type of
//! the setting it replaces. Variables without `__` (`CREDENCE_PSEUDONYM_KEY`) are not overrides.

use std::path::Path;

use credence_event::FieldMapping;
use toml::{Table, Value};

use super::{AlertsConfig, Config, DeadLetterConfig, InputConfig, LifecycleConfig, PseudonymConfig, StateConfig};

/// Prefix of every override.
pub const ENV_PREFIX: &str = "CREDENCE_";
/// Separator between levels in an override's name.
pub const ENV_SEPARATOR: &str = "__";

/// Tables whose keys are free-form librdkafka option names.
const OPEN_MAPS: &[&str] = &["kafka.librdkafka", "kafka.consumer_librdkafka", "kafka.producer_librdkafka"];
/// Tables left to their own type's checks (serde, `FieldMapping::validate`).
const OPAQUE: &[&str] = &["inputs[*].mapping"];

/// Reads the file and applies the process environment.
pub fn load(path: &Path) -> Result<Config, Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?;
    from_parts(&text, std::env::vars())
}

/// Layers `env` over the TOML `text`. Returns the configuration, or every unknown key and
/// mistyped value. Values are not checked here: see [`Config::problems`].
pub fn from_parts(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, Vec<String>> {
    let mut root: Table = toml::from_str(text).map_err(|e| vec![format!("not valid TOML: {e}")])?;
    let schema = schema();
    let mut problems = Vec::new();
    check_table(&root, &schema, "", &mut problems);
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.strip_prefix(ENV_PREFIX).is_some_and(|rest| rest.contains(ENV_SEPARATOR)))
        .collect();
    vars.sort();
    for (name, value) in &vars {
        if let Err(p) = apply_env(&mut root, &schema, name, value) {
            problems.push(format!("{name}: {p}"));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Value::Table(root).try_into().map_err(|e: toml::de::Error| vec![e.message().trim().to_string()])
}

/// A configuration with every optional setting present: the schema that keys and types are
/// checked against (and that the example configuration must document).
pub fn full_sample() -> Config {
    Config {
        inputs: vec![InputConfig {
            topics: vec![String::new()],
            mapping: Some(FieldMapping::new("", "", "")),
            mapping_file: Some("".into()),
            ..InputConfig::default()
        }],
        lifecycle: LifecycleConfig { topic: Some(String::new()), ..LifecycleConfig::default() },
        alerts: AlertsConfig {
            topic: Some(String::new()),
            file: Some("".into()),
            instance: Some(String::new()),
            suppressions_file: Some("".into()),
            ..AlertsConfig::default()
        },
        dead_letter: DeadLetterConfig { topic: Some(String::new()), ..DeadLetterConfig::default() },
        pseudonym: PseudonymConfig { key_file: Some("".into()) },
        detect: credence_detect::DetectConfig { catalogue_file: Some("".into()), ..Default::default() },
        sinks: vec![super::HttpSinkConfig {
            url_env: Some(String::new()),
            url_file: Some("".into()),
            secret_env: Some(String::new()),
            secret_file: Some("".into()),
            endpoint: Some(String::new()),
            finding_url: Some(String::new()),
            detectors: vec![credence_detect::Detector::NewOrigin],
            tactics: vec![credence_detect::Tactic::Impact],
            categories: vec![credence_detect::Category::Security],
            ..Default::default()
        }],
        state: StateConfig {
            changelog_prefix: Some(String::new()),
            initial_snapshot: Some("".into()),
            ..StateConfig::default()
        },
        ..Config::default()
    }
}

fn schema() -> Table {
    match Value::try_from(full_sample()) {
        Ok(Value::Table(t)) => t,
        // Unreachable: every field of `Config` serialises to TOML (a unit test checks it).
        _ => Table::new(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `inputs[3].mapping` → `inputs[*].mapping`, for matching against [`OPAQUE`].
fn generic(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[*]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

fn check_table(table: &Table, schema: &Table, path: &str, problems: &mut Vec<String>) {
    for (key, value) in table {
        let p = join(path, key);
        match schema.get(key) {
            None => problems.push(format!("unknown setting `{p}`")),
            Some(s) => check_value(value, s, &p, problems),
        }
    }
}

fn check_value(value: &Value, schema: &Value, path: &str, problems: &mut Vec<String>) {
    if OPEN_MAPS.contains(&path) {
        match value {
            Value::Table(t) => {
                for (k, v) in t {
                    if !matches!(v, Value::String(_) | Value::Integer(_) | Value::Float(_) | Value::Boolean(_)) {
                        problems
                            .push(format!("{path}.\"{k}\": expected a string, number or boolean, found {}", kind(v)));
                    }
                }
            }
            _ => problems.push(format!("{path}: expected a table of librdkafka options, found {}", kind(value))),
        }
        return;
    }
    if OPAQUE.contains(&generic(path).as_str()) {
        return;
    }
    match (value, schema) {
        (Value::Table(t), Value::Table(s)) => check_table(t, s, path, problems),
        (Value::Array(items), Value::Array(s)) => {
            let Some(element) = s.first() else { return };
            for (i, item) in items.iter().enumerate() {
                check_value(item, element, &format!("{path}[{i}]"), problems);
            }
        }
        (Value::Integer(_), Value::Float(_)) => {}
        (v, s) if std::mem::discriminant(v) == std::mem::discriminant(s) => {}
        (v, s) => problems.push(format!("{path}: expected {}, found {}", kind(s), kind(v))),
    }
}

/// Applies one override to the file's table.
fn apply_env(root: &mut Table, schema: &Table, name: &str, raw: &str) -> Result<(), String> {
    let rest = &name[ENV_PREFIX.len()..];
    let segments: Vec<String> = rest.split(ENV_SEPARATOR).map(str::to_ascii_lowercase).collect();
    if segments.iter().any(String::is_empty) {
        return Err("empty level in the name".into());
    }
    let mut table = root;
    let mut schema = schema;
    let mut path = String::new();
    let mut i = 0;
    while i < segments.len() {
        let seg = &segments[i];
        let last = i + 1 == segments.len();
        let here = join(&path, seg);
        let Some(s) = schema.get(seg.as_str()) else {
            return Err(format!("no setting `{here}`"));
        };
        if OPEN_MAPS.contains(&here.as_str()) {
            if i + 2 != segments.len() {
                return Err(format!("name one librdkafka option after {}", name_of(&here)));
            }
            let option = segments[i + 1].replace('_', ".");
            let map = table.entry(seg.clone()).or_insert_with(|| Value::Table(Table::new()));
            let Value::Table(map) = map else { return Err(format!("`{here}` in the file is not a table")) };
            map.insert(option, Value::String(raw.to_string()));
            return Ok(());
        }
        match s {
            Value::Table(inner) if !last => {
                let entry = table.entry(seg.clone()).or_insert_with(|| Value::Table(Table::new()));
                let Value::Table(t) = entry else { return Err(format!("`{here}` in the file is not a table")) };
                table = t;
                schema = inner;
                path = here;
                i += 1;
            }
            Value::Array(elements) if !last => {
                let Some(Value::Table(element_schema)) = elements.first() else {
                    return Err(format!("`{here}` has no settings below it"));
                };
                let index: usize =
                    segments[i + 1].parse().map_err(|_| format!("`{here}` is a list: give an index after it"))?;
                let Some(Value::Array(items)) = table.get_mut(seg.as_str()) else {
                    return Err(format!("the file has no `{here}` entries to override"));
                };
                let Some(Value::Table(t)) = items.get_mut(index) else {
                    return Err(format!("the file has no `{here}[{index}]`"));
                };
                if i + 2 == segments.len() {
                    return Err(format!("name a setting inside `{here}[{index}]`"));
                }
                table = t;
                schema = element_schema;
                path = format!("{here}[{index}]");
                i += 2;
            }
            _ if !last => return Err(format!("`{here}` has no settings below it")),
            leaf => {
                let value = parse_as(leaf, raw).map_err(|e| format!("`{here}`: {e}"))?;
                table.insert(seg.clone(), value);
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The variable name that addresses `path` (for messages).
fn name_of(path: &str) -> String {
    format!("{ENV_PREFIX}{}", path.to_ascii_uppercase().replace('.', ENV_SEPARATOR))
}

/// Parses an override as the type of the setting it replaces.
fn parse_as(schema: &Value, raw: &str) -> Result<Value, String> {
    let t = raw.trim();
    match schema {
        Value::String(_) => Ok(Value::String(raw.to_string())),
        Value::Integer(_) => t.parse().map(Value::Integer).map_err(|_| format!("expected an integer, got `{t}`")),
        Value::Float(_) => t.parse().map(Value::Float).map_err(|_| format!("expected a number, got `{t}`")),
        Value::Boolean(_) => t.parse().map(Value::Boolean).map_err(|_| format!("expected true or false, got `{t}`")),
        Value::Array(_) if t.starts_with('[') => {
            let doc: Table = toml::from_str(&format!("v = {t}")).map_err(|e| format!("not a TOML list: {e}"))?;
            doc.get("v").cloned().ok_or_else(|| "not a TOML list".to_string())
        }
        Value::Array(_) => Ok(Value::Array(
            t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.into())).collect(),
        )),
        other => Err(format!("cannot be set from the environment ({})", kind(other))),
    }
}

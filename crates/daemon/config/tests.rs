//! Configuration tests: the shipped example, layering, and reporting every problem at once.

use std::collections::BTreeMap;
use std::path::PathBuf;

use credence_event::Format;

use super::layer::from_parts;
use super::*;

const EXAMPLE: &str = include_str!("../../../credence.example.toml");

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn minimal() -> String {
    "[kafka]\nbootstrap_servers = \"127.0.0.1:9092\"\n[[inputs]]\ntopics = [\"in\"]\n[alerts]\ntopic = \"out\"\n".into()
}

/// Every leaf path of a TOML table, array elements as `[*]`.
fn leaves(v: &toml::Value, path: &str, out: &mut Vec<String>) {
    match v {
        toml::Value::Table(t) if !t.is_empty() => {
            for (k, v) in t {
                leaves(v, &if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out);
            }
        }
        toml::Value::Array(a) if a.first().is_some_and(toml::Value::is_table) => {
            leaves(&a[0], &format!("{path}[*]"), out);
        }
        _ => out.push(path.to_string()),
    }
}

#[test]
fn example_is_valid_and_round_trips() {
    let config = from_parts(EXAMPLE, no_env()).unwrap_or_else(|p| panic!("example does not load: {p:#?}"));
    assert_eq!(config.problems(), Vec::<String>::new());
    assert_eq!(config.inputs.len(), 2);
    assert_eq!(config.inputs[1].format, Format::Mapped);
    assert_eq!(config.lifecycle.topic.as_deref(), Some("credential-lifecycle"));
    // Serialise and read back: nothing lost or changed.
    let text = toml::to_string(&config).expect("serialises");
    let again = from_parts(&text, no_env()).expect("re-reads");
    assert_eq!(config, again);
}

#[test]
fn example_documents_every_setting() {
    // Every setting of a configuration with all optional ones present must appear in the
    // example, set or commented out, so the example stays the reference.
    let full = super::layer::full_sample();
    let mut paths = Vec::new();
    leaves(&toml::Value::try_from(&full).expect("serialises"), "", &mut paths);
    assert!(paths.len() > 40, "{paths:?}");
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| {
            let key = p.rsplit('.').next().unwrap_or(p);
            !EXAMPLE.lines().any(|l| {
                let l = l.trim_start_matches(['#', ' ']);
                l.starts_with(&format!("{key} ="))
                    || l.starts_with(&format!("[{key}]"))
                    || l.ends_with(&format!(".{key}]"))
            })
        })
        .collect();
    assert!(missing.is_empty(), "credence.example.toml does not mention: {missing:?}");
}

#[test]
fn defaults_apply_to_a_minimal_file() {
    let c = from_parts(&minimal(), no_env()).expect("loads");
    assert_eq!(c.problems(), Vec::<String>::new());
    assert_eq!(c.kafka.group_id, "credence");
    assert_eq!(c.kafka.commit_interval_ms, 5000);
    assert_eq!(c.inputs[0].format, Format::Ocsf);
    assert_eq!(c.daemon.shutdown_timeout_secs, 20);
    assert_eq!(c.log.format, LogFormat::Json);
}

#[test]
fn unknown_keys_and_wrong_types_are_all_reported() {
    let extra = r#"
[daemon]
max_in_fligth = 5
shutdown_timeout_secs = "soon"
[kafka.librdkafka]
"a.b" = [1]
[detect]
alert_score = "high"
[surprise]
x = 1
"#;
    let text = format!("{}{extra}", minimal());
    let problems = from_parts(&text, no_env()).unwrap_err();
    let joined = problems.join("\n");
    for needle in [
        "unknown setting `daemon.max_in_fligth`",
        "daemon.shutdown_timeout_secs: expected an integer, found a string",
        "kafka.librdkafka.\"a.b\"",
        "detect.alert_score: expected an integer",
        "unknown setting `surprise`",
    ] {
        assert!(joined.contains(needle), "missing `{needle}` in:\n{joined}");
    }
    assert_eq!(problems.len(), 5, "{joined}");
}

#[test]
fn every_value_problem_is_reported_at_once() {
    let text = r#"
[kafka]
bootstrap_servers = ""
commit_interval_ms = 0
[kafka.librdkafka]
"enable.auto.offset.store" = true
[[inputs]]
topics = ["in", "bad topic!"]
format = "mapped"
[[inputs]]
topics = ["in"]
format = "kong"
mapping_file = "m.toml"
[alerts]
finding_window_secs = 0
[dead_letter]
topic = "in"
[daemon]
max_in_flight = 0
shutdown_timeout_secs = 0
[detect]
alert_score = 0
"#;
    let c = from_parts(text, no_env()).expect("well-formed");
    let problems = c.problems();
    let joined = problems.join("\n");
    for needle in [
        "kafka.bootstrap_servers is required",
        "kafka.commit_interval_ms must be positive",
        "\"enable.auto.offset.store\" is managed by credence",
        "`bad topic!` is not a legal topic name",
        "format `mapped` needs a mapping",
        "topic `in` is already used by inputs[0].topics",
        "a field mapping only applies to format `mapped`",
        "alerts: set alerts.topic, alerts.file, or both",
        "alerts.finding_window_secs must be positive",
        "dead_letter.topic: topic `in` is already used",
        "daemon.max_in_flight",
        "daemon.shutdown_timeout_secs must be positive",
        "detect.alert_score",
    ] {
        assert!(joined.contains(needle), "missing `{needle}` in:\n{joined}");
    }
}

#[test]
fn environment_overrides_the_file() {
    let e = env(&[
        ("CREDENCE_KAFKA__BOOTSTRAP_SERVERS", "b1:9092,b2:9092"),
        ("CREDENCE_KAFKA__COMMIT_INTERVAL_MS", "250"),
        ("CREDENCE_KAFKA__LIBRDKAFKA__SASL_PASSWORD", "s3cret"),
        ("CREDENCE_KAFKA__LIBRDKAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        ("CREDENCE_INPUTS__0__TOPICS", "a, b"),
        ("CREDENCE_INPUTS__0__FORMAT", "cloudtrail"),
        ("CREDENCE_ALERTS__FILE", "-"),
        ("CREDENCE_DETECT__MAX_TRAVEL_KMH", "900.5"),
        ("CREDENCE_DAEMON__WORKER_THREADS", "3"),
        // Not overrides: no `__`, or another prefix.
        ("CREDENCE_PSEUDONYM_KEY", "x"),
        ("CREDENCE_KAFKA_DIR", "/tmp/k"),
        ("KAFKA__GROUP_ID", "nope"),
    ]);
    let c = from_parts(&minimal(), e).expect("loads");
    assert_eq!(c.kafka.bootstrap_servers, "b1:9092,b2:9092");
    assert_eq!(c.kafka.commit_interval_ms, 250);
    assert_eq!(c.kafka.librdkafka.get("sasl.password"), Some(&RawOption::Text("s3cret".into())));
    assert_eq!(c.kafka.librdkafka.get("security.protocol").map(ToString::to_string).as_deref(), Some("SASL_PLAINTEXT"));
    assert_eq!(c.inputs[0].topics, vec!["a", "b"]);
    assert_eq!(c.inputs[0].format, Format::Cloudtrail);
    assert_eq!(c.alerts.file, Some(PathBuf::from("-")));
    assert!((c.detect.max_travel_kmh - 900.5).abs() < 1e-3);
    assert_eq!(c.daemon.worker_threads, 3);
    assert_eq!(c.kafka.group_id, "credence");
    // A TOML list works too.
    let c = from_parts(&minimal(), env(&[("CREDENCE_INPUTS__0__TOPICS", r#"["x","y"]"#)])).expect("loads");
    assert_eq!(c.inputs[0].topics, vec!["x", "y"]);
}

#[test]
fn bad_overrides_name_their_variable() {
    let e = env(&[
        ("CREDENCE_KAFKA__BOOTSTRAP_SERVRES", "x"),
        ("CREDENCE_DAEMON__MAX_IN_FLIGHT", "lots"),
        ("CREDENCE_INPUTS__3__TOPICS", "x"),
        ("CREDENCE_KAFKA__LIBRDKAFKA", "x"),
    ]);
    let problems = from_parts(&minimal(), e).unwrap_err();
    let joined = problems.join("\n");
    assert_eq!(problems.len(), 4, "{joined}");
    assert!(joined.contains("CREDENCE_KAFKA__BOOTSTRAP_SERVRES: no setting `kafka.bootstrap_servres`"), "{joined}");
    assert!(joined.contains("CREDENCE_DAEMON__MAX_IN_FLIGHT: `daemon.max_in_flight`: expected an integer"), "{joined}");
    assert!(joined.contains("CREDENCE_INPUTS__3__TOPICS: the file has no `inputs[3]`"), "{joined}");
    assert!(joined.contains("CREDENCE_KAFKA__LIBRDKAFKA: name one librdkafka option"), "{joined}");
}

#[test]
fn resolve_checks_keys_mappings_and_librdkafka_options() {
    let dir = std::env::temp_dir().join(format!("credence-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = dir.join("key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n").expect("key");
    let mut c = from_parts(&minimal(), no_env()).expect("loads");
    c.pseudonym.key_file = Some(key.clone());
    let settings = Settings::resolve(c.clone()).expect("resolves");
    assert_eq!(settings.inputs.len(), 1);
    assert_eq!(settings.inputs[0].decoder.format(), Format::Ocsf);

    let mut bad = c.clone();
    bad.kafka.librdkafka = BTreeMap::from([
        ("sasl.pasword".to_string(), RawOption::Text("hunter2-secret".into())),
        ("socket.timeout.ms".to_string(), RawOption::Text("hunter2-secret".into())),
    ]);
    bad.inputs[0].format = Format::Mapped;
    bad.inputs[0].mapping_file = Some(dir.join("missing-mapping.toml"));
    bad.pseudonym.key_file = Some(dir.join("missing-key"));
    bad.detect.catalogue_file = Some(dir.join("missing-catalogue.toml"));
    let problems = Settings::resolve(bad).unwrap_err();
    let joined = problems.join("\n");
    assert!(joined.contains("kafka.librdkafka.\"sasl.pasword\""), "{joined}");
    assert!(joined.contains("kafka.librdkafka.\"socket.timeout.ms\""), "{joined}");
    assert!(!joined.contains("hunter2"), "a configured value leaked into a message: {joined}");
    assert!(joined.contains("inputs[0].mapping_file"), "{joined}");
    assert!(joined.contains("pseudonym"), "{joined}");
    assert!(joined.contains("detect.catalogue_file: cannot read"), "{joined}");
    assert_eq!(problems.len(), 5, "{joined}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn resolve_loads_the_users_risk_catalogue_and_reports_its_problems_by_line() {
    let dir = std::env::temp_dir().join(format!("credence-catalogue-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = dir.join("key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n").expect("key");
    let mut c = from_parts(&minimal(), no_env()).expect("loads");
    c.pseudonym.key_file = Some(key);
    let builtin = Settings::resolve(c.clone()).expect("resolves").catalogue.len();
    let rule = "[[rest]]\nmethods = [\"POST\"]\nnouns = [\"partner-link\"]\ntactic = \"persistence\"\ntechnique = \"T1098\"\nseverity = \"high\"\ntitle = \"t\"\nreason = \"r\"\nremediation = \"m\"\n";
    let good = dir.join("catalogue.toml");
    std::fs::write(&good, rule).expect("catalogue");
    c.detect.catalogue_file = Some(good);
    assert_eq!(Settings::resolve(c.clone()).expect("resolves").catalogue.len(), builtin + 1);
    let bad = dir.join("bad-catalogue.toml");
    std::fs::write(&bad, format!("\n{}", rule.replace("T1098", "T9999"))).expect("catalogue");
    c.detect.catalogue_file = Some(bad.clone());
    let joined = Settings::resolve(c).unwrap_err().join("\n");
    assert!(
        joined.contains(&format!("detect.catalogue_file: {}: line 2: [[rest]]: technique \"T9999\"", bad.display())),
        "{joined}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A changelog topic name is always legal and stable: the group id made legal (any character
/// may be in one), cut and tagged with a hash of the group when too long; a prefix given wins.
#[test]
fn changelog_topics_are_legal_names_derived_from_the_group() {
    let mut c = from_parts(&minimal(), no_env()).expect("loads");
    c.kafka.group_id = "credence".into();
    assert_eq!(c.changelog_topic("api-logs"), "credence-api-logs-changelog");
    c.kafka.group_id = "sec ops/credence ☃".into();
    assert_eq!(c.changelog_topic("api-logs"), "sec_ops_credence__-api-logs-changelog");
    c.kafka.group_id = "g".repeat(300);
    let long = c.changelog_topic("api-logs");
    assert_eq!(long.len(), 249, "{long}");
    assert!(long.ends_with("-api-logs-changelog") && long.starts_with("ggg"), "{long}");
    assert_eq!(long, c.changelog_topic("api-logs"), "stable");
    let tag = |t: &str| t.trim_end_matches("-api-logs-changelog").rsplit('-').next().map(str::to_string);
    c.kafka.group_id = "h".repeat(300);
    assert_ne!(tag(&c.changelog_topic("api-logs")), tag(&long), "another group, another tag");
    c.state.changelog_prefix = Some("team-a".into());
    assert_eq!(c.changelog_topic("api-logs"), "team-a-api-logs-changelog");
}

/// Structured fuzzing of the configuration loader (issue 21): thousands of seeded mutations of the
/// shipped example (lines dropped, repeated and swapped, values replaced by other types and
/// extreme numbers, bytes flipped) and of the environment overlay: every one is a configuration
/// or a list of problems, never a panic; and a configuration that loads can be checked.
#[test]
fn mutated_configurations_load_or_report_never_panic() {
    use rand::{Rng as _, SeedableRng as _};
    const VALUES: [&str; 14] = [
        "0",
        "-1",
        "18446744073709551616",
        "1e308",
        "nan",
        "\"\"",
        "[]",
        "{}",
        "[[1]]",
        "true",
        "\"\\u0000\"",
        "1979-05-27T07:32:00Z",
        "\"0.0.0.0:99999\"",
        "'''\n",
    ];
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let mut rng = rand_pcg::Pcg64::seed_from_u64(21);
    let (mut loaded, mut refused) = (0, 0);
    for n in 0..3000 {
        let mut doc: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        for _ in 0..rng.gen_range(1..=4) {
            if doc.is_empty() {
                break;
            }
            let i = rng.gen_range(0..doc.len());
            match rng.gen_range(0..6) {
                0 => {
                    doc.remove(i);
                }
                1 => doc.insert(i, doc[i].clone()),
                2 => {
                    let j = rng.gen_range(0..doc.len());
                    doc.swap(i, j);
                }
                3 => {
                    if let Some((k, _)) = doc[i].split_once(" = ") {
                        doc[i] = format!("{k} = {}", VALUES[rng.gen_range(0..VALUES.len())]);
                    }
                }
                4 => {
                    let mut bytes = doc[i].clone().into_bytes();
                    if !bytes.is_empty() {
                        let at = rng.gen_range(0..bytes.len());
                        bytes[at] = rng.gen_range(0x20..0x7f);
                    }
                    doc[i] = String::from_utf8_lossy(&bytes).into_owned();
                }
                _ => doc.truncate(i),
            }
        }
        let text = doc.join("\n");
        let env = if rng.gen_ratio(1, 3) {
            let leaf =
                ["KAFKA__GROUP_ID", "DAEMON__SCORING_WORKERS", "ADMIN__LISTEN_ADDR", "DETECT__MAX_CREDENTIALS", "X__Y"]
                    [rng.gen_range(0..5)];
            let value = VALUES[rng.gen_range(0..VALUES.len())];
            vec![(format!("CREDENCE_{leaf}"), value.to_string())]
        } else {
            Vec::new()
        };
        let result = std::panic::catch_unwind(|| from_parts(&text, env.clone()).map(|c| c.problems()));
        match result {
            Ok(Ok(_)) => loaded += 1,
            Ok(Err(problems)) => {
                assert!(!problems.is_empty() && problems.iter().all(|p| !p.is_empty()), "mutation {n}: empty report");
                refused += 1;
            }
            Err(_) => panic!("mutation {n} panicked the loader:\n{text}\nenv {env:?}"),
        }
    }
    assert!(loaded > 100 && refused > 100, "the mutations reach both outcomes: {loaded} loaded, {refused} refused");
}

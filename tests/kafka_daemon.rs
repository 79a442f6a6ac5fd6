//! `credence run` against a real Apache Kafka broker (tests/kafka/kafka.sh), through the real
//! binary: end to end against `credence replay`, dead letters, SIGKILL and restart, SIGTERM, and
//! authenticated connections. One test at a time (they share the broker); each makes its own
//! topics and consumer group.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use credence_event::Pseudonymizer;
use credence_finding::schema::OcsfSchema;
use support::io::{self, Msg};
use support::stream::{self, Kind};
use support::{kafka, replay, unique, wait_until_consumed, write_lines, Daemon, TestTopics, KEY};

fn pseudonymizer() -> Pseudonymizer {
    Pseudonymizer::new(&hex::decode(KEY).expect("hex key")).expect("key")
}

/// A finding's identity and content as both paths must agree on it.
/// A finding's close record (OCSF activity 3).
fn is_close(v: &serde_json::Value) -> bool {
    v["activity_id"] == 3
}

fn identity(v: &serde_json::Value) -> (String, String, Vec<String>) {
    let types = v["finding_info"]["types"].as_array().expect("types").iter().map(|t| t.to_string()).collect();
    (v["metadata"]["uid"].as_str().expect("uid").to_string(), v["severity"].to_string(), types)
}

/// A simulated stream through the daemon and through `credence replay`.
struct Run {
    dir: std::path::PathBuf,
    events: usize,
    /// The daemon's finding records.
    alerts: Vec<Msg>,
    /// `credence replay`'s on the same files.
    reference: Vec<serde_json::Value>,
    /// The dead-letter topic's records.
    dead_letters: Vec<Msg>,
    /// The daemon's last log line.
    stopped: serde_json::Value,
}

/// Simulates `credentials` over `days`, produces the stream keyed by credential to a topic of
/// `partitions`, and runs it through a daemon with `env` and through `credence replay`.
fn simulate_and_run(tag: &str, credentials: u32, days: u32, partitions: i32, env: &[(&str, &str)]) -> Run {
    simulate_edit_and_run(tag, credentials, days, partitions, env, &|_| {})
}

/// Like [`simulate_and_run`], with `edit` applied to the lines produced to Kafka (not to those
/// `credence replay` reads).
fn simulate_edit_and_run(
    tag: &str,
    credentials: u32,
    days: u32,
    partitions: i32,
    env: &[(&str, &str)],
    edit: &dyn Fn(&mut Vec<String>),
) -> Run {
    let k = kafka();
    let dir = std::env::temp_dir().join(unique(&format!("credence-{tag}")));
    let sim = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["simulate", "--credentials", &credentials.to_string(), "--days", &days.to_string()])
        .args(["--incidents-per-kind", "1", "--seed", "7", "--out"])
        .arg(&dir)
        .output()
        .expect("credence simulate");
    assert!(sim.status.success(), "simulate: {}", String::from_utf8_lossy(&sim.stderr));
    let events_path = dir.join("events.ocsf.jsonl");
    let lifecycle_path = dir.join("lifecycle.jsonl");
    let events: Vec<String> =
        std::fs::read_to_string(&events_path).expect("events").lines().map(String::from).collect();
    let lifecycle: Vec<String> =
        std::fs::read_to_string(&lifecycle_path).expect("lifecycle").lines().map(String::from).collect();
    assert!(events.len() > 10_000, "{}", events.len());

    let t = TestTopics::create(&k.env, tag, partitions);
    let mut produced = events.clone();
    edit(&mut produced);
    let mut items: Vec<stream::Item> = produced
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("event JSON");
            let key = v["actor"]["user"]["credential_uid"].as_str().unwrap_or("").to_string();
            stream::Item::raw(&key, l.clone().into_bytes())
        })
        .collect();
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &lifecycle);
    io::produce(&k.env.bootstrap, &t.input, &mut items, None);

    let mut daemon = Daemon::start(&t.config(&k.env, ""), env);
    let took = wait_until_consumed(&k.env, &mut daemon, &t, Duration::from_secs(180));
    daemon.sigterm();
    assert!(daemon.wait_exit(Duration::from_secs(15)).is_some_and(|s| s.success()), "{}", daemon.logs());
    let rate = events.len() as f64 / took.as_secs_f64();
    eprintln!("{tag}: {} events in {took:?} ({rate:.0} events/s, debug build)", events.len());
    // Close records aside: replay closes every finding still open at the end of its input, the
    // daemon's stream has no end (it closes a finding when its watermark passes the window; close
    // records are tested in tests/findings.rs and, through the daemon, tests/sinks.rs).
    let alerts: Vec<Msg> =
        io::read_all(&k.env.bootstrap, &t.alerts).into_iter().filter(|m| !is_close(&m.json())).collect();
    let dead_letters = io::read_all(&k.env.bootstrap, &t.dead_letter);
    let stopped = daemon.log_line("credence stopped").expect("final log line");
    let reference: Vec<_> = replay(&events_path, &lifecycle_path).into_iter().filter(|v| !is_close(v)).collect();
    Run { dir, events: events.len(), alerts, reference, dead_letters, stopped }
}

impl Run {
    /// The labelled incidents the findings detect (a finding on one of the incident's credentials).
    fn detected(&self, findings: &[serde_json::Value]) -> BTreeSet<u64> {
        let truth: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("truth.json")).expect("truth"))
                .expect("truth JSON");
        let p = pseudonymizer();
        let flagged: BTreeSet<&str> =
            findings.iter().filter_map(|f| f["actor"]["user"]["credential_uid"].as_str()).collect();
        truth["labels"]
            .as_array()
            .expect("labels")
            .iter()
            .filter(|l| {
                l["credentials"].as_array().is_some_and(|cs| {
                    cs.iter().filter_map(|c| c.as_str()).any(|c| flagged.contains(p.credential(c).to_string().as_str()))
                })
            })
            .filter_map(|l| l["id"].as_u64())
            .collect()
    }

    fn alert_values(&self) -> Vec<serde_json::Value> {
        self.alerts.iter().map(Msg::json).collect()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// End to end: a labelled simulator stream through Kafka. The daemon's alerts are exactly the findings of
/// `credence replay` on the same stream (same uids, revisions, severities, detectors), they
/// detect the same labelled incidents, are keyed by the pseudonymised credential, and are valid
/// OCSF Detection Findings.
#[test]
fn end_to_end_alerts_match_replay() {
    // One input partition: the daemon sees the file's order, so it must match replay exactly.
    let run = simulate_and_run("e2e", 50, 6, 1, &[]);
    assert!(run.reference.len() >= 10, "the simulator stream should raise findings: {}", run.reference.len());
    let mut got: Vec<_> = run.alerts.iter().map(|m| identity(&m.json())).collect();
    let mut want: Vec<_> = run.reference.iter().map(identity).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "daemon alerts differ from credence replay");

    // Keys, headers, schema.
    let schema = OcsfSchema::load(&support::repo().join("../shared/ocsf")).expect("OCSF schema");
    for m in &run.alerts {
        let v = m.json();
        let credential = v["actor"]["user"]["credential_uid"].as_str().expect("credential");
        assert_eq!(m.key.as_deref(), Some(credential.as_bytes()), "alerts are keyed by the credential pseudonym");
        assert_eq!(m.header("credence.finding_uid"), v["finding_info"]["uid"].as_str().unwrap_or_default());
        assert_eq!(schema.check(&v), Ok(()), "not a valid OCSF finding: {v}");
    }
    let daemon_found = run.detected(&run.alert_values());
    assert_eq!(daemon_found, run.detected(&run.reference));
    assert!(daemon_found.len() >= 3, "labelled incidents detected: {daemon_found:?}");
}

/// Regression (issue 19): one forged record dated 2100 in a stream moved the clock to 2100 (17
/// ghost-credential findings became 0). Through the daemon it is set aside against its Kafka
/// timestamp, dead-lettered with its reason, and every finding is exactly what `credence replay`
/// raises on the stream without it.
#[test]
fn a_forged_record_dated_2100_changes_no_finding() {
    let forge = |lines: &mut Vec<String>| {
        let at = lines.len() / 3;
        let mut forged: serde_json::Value = serde_json::from_str(&lines[at]).expect("event JSON");
        forged["time"] = serde_json::Value::from(4_102_444_800_000_i64); // 2100-01-01
        lines.insert(at, forged.to_string());
    };
    let run = simulate_edit_and_run("forged", 50, 6, 1, &[], &forge);
    let mut got: Vec<_> = run.alerts.iter().map(|m| identity(&m.json())).collect();
    let mut want: Vec<_> = run.reference.iter().map(identity).collect();
    got.sort();
    want.sort();
    assert!(want.len() >= 10, "the simulator stream should raise findings: {}", want.len());
    assert!(run.reference.iter().any(|f| f.to_string().contains("ghost_credential")), "ghost uses among them");
    assert_eq!(got, want, "the forged record changed findings");
    assert_eq!(run.dead_letters.len(), 1, "the forged record alone is a dead letter");
    let dl = &run.dead_letters[0];
    assert_eq!(dl.header("credence.error_type"), "future");
    assert!(dl.header("credence.error").contains("2100-01-01T00:00:00.000Z is ahead of its arrival clock"));
    assert!(String::from_utf8_lossy(&dl.payload).contains("4102444800000"), "the original message");
    assert_eq!(run.stopped["events"], run.events as u64, "every other event scored");
    assert_eq!(run.stopped["dead_letters"], 1);
}

/// A backlog over several partitions: librdkafka hands them over at their own pace, so one
/// partition's events run hours behind another's, as after downtime. The daemon (one scoring
/// worker: every partition on one clock, the worst case) must not turn that skew into alerts
/// (uses before a revocation taken for ghost uses, findings closed and reopened, late events
/// taken as bursts or travel): its findings stay close to replay's of the time-ordered file and
/// detect most of the same incidents.
#[test]
fn a_backlog_over_partitions_raises_what_replay_raises() {
    let run = simulate_and_run("skew", 150, 8, 4, &[("CREDENCE_DAEMON__SCORING_WORKERS", "1")]);
    let (got, want) = (run.alerts.len(), run.reference.len());
    eprintln!("backlog over 4 partitions: {} events, {got} finding records (replay {want})", run.events);
    assert!(want >= 10, "the simulator stream should raise findings: {want}");
    assert!(got * 4 <= want * 5 + 8, "{got} finding records from the daemon against {want} from replay");
    let ghosts = |v: &[serde_json::Value]| v.iter().filter(|f| f.to_string().contains("ghost_credential")).count();
    assert!(ghosts(&run.alert_values()) <= ghosts(&run.reference) + 1, "ghost uses invented by the skew");
    // Known gap (docs/ARCHITECTURE.md): a subject whose events span partitions (a role session's
    // temporary keys) is judged out of order while the backlog is skewed; 1 of the 11 incidents
    // replay detects is missed here, a rate burst (2 with librdkafka's 1 MiB partition fetches).
    let (found, reference) = (run.detected(&run.alert_values()), run.detected(&run.reference));
    let missed: Vec<_> = reference.difference(&found).copied().collect();
    eprintln!("incidents detected: daemon {found:?}, replay {reference:?}");
    assert!(missed.len() * 4 <= reference.len(), "incidents replay detects and the daemon does not: {missed:?}");
}

/// Dead letters: good and malformed messages mixed. Every good event is scored (each ghost use raised its
/// finding), every bad one is on the dead-letter topic with its reason and origin, unchanged
/// (or, when oversized, without its payload), and every offset was committed.
#[test]
fn dead_letters_carry_every_bad_message_and_offsets_advance() {
    let k = kafka();
    let t = TestTopics::create(&k.env, "dlq", 2);
    let mut s = stream::build("dlq", 3000, 4, 7);
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &s.lifecycle);
    // Tombstones (no value) are undecodable too.
    s.items.push(stream::Item { kind: Kind::Poison("invalid_json"), ..stream::Item::raw("tombstone", Vec::new()) });
    io::produce(&k.env.bootstrap, &t.input, &mut s.items, None);

    const DLQ_MAX: usize = 8192;
    let limit = DLQ_MAX.to_string();
    let env = [("CREDENCE_DEAD_LETTER__MAX_PAYLOAD_BYTES", limit.as_str()), ("CREDENCE_DAEMON__SCORING_WORKERS", "2")];
    let mut daemon = Daemon::start(&t.config(&k.env, ""), &env);
    wait_until_consumed(&k.env, &mut daemon, &t, Duration::from_secs(60));
    daemon.sigterm();
    assert!(daemon.wait_exit(Duration::from_secs(15)).is_some_and(|s| s.success()), "{}", daemon.logs());

    let alerts = io::read_all(&k.env.bootstrap, &t.alerts);
    let dlq = io::read_all(&k.env.bootstrap, &t.dead_letter);
    let bad: Vec<&stream::Item> = s.items.iter().filter(|i| matches!(i.kind, Kind::Poison(_))).collect();
    let good = s.items.len() - bad.len();
    assert_eq!(dlq.len(), bad.len(), "exactly the bad messages are dead letters");
    let by_origin = stream::dead_letters(&dlq);
    let mut types = BTreeMap::new();
    for item in &bad {
        let m = &by_origin[&(item.partition, item.offset)];
        assert_eq!(m.header("credence.source.topic"), t.input);
        assert_eq!(m.header("credence.format"), "ocsf");
        assert!(!m.header("credence.error").is_empty());
        if item.payload.len() > DLQ_MAX {
            assert!(m.payload.is_empty(), "a payload over dead_letter.max_payload_bytes is not copied");
            assert_eq!(m.header("credence.payload_omitted_bytes"), item.payload.len().to_string());
        } else {
            assert_eq!(m.payload, item.payload, "the dead letter is the original message");
        }
        *types.entry(m.header("credence.error_type").to_string()).or_insert(0) += 1;
    }
    assert_eq!(types.len(), 5, "all five kinds of bad input: {types:?}");
    stream::check_traces(&s.items, &alerts, &dlq, None);
    let ghosts = s.items.iter().filter(|i| i.kind == Kind::Ghost).count();
    assert_eq!(alerts.len(), ghosts, "one finding per ghost use and none from ordinary traffic");

    let stopped = daemon.log_line("credence stopped").expect("final log line");
    assert_eq!(stopped["events"], good as u64, "every good event scored");
    assert_eq!(stopped["dead_letters"], bad.len() as u64);
    assert_eq!(stopped["unacked"], 0);
    // Nothing logged above DEBUG per message: the log stays a handful of lifecycle lines.
    assert!(daemon.log_lines().len() < 30, "{}", daemon.logs());
    assert!(!daemon.logs().contains("ghost-dlq-"), "a raw credential id was logged");
}

/// Backpressure: a slow alert producer (each delivery lingers 600 ms) with one delivery allowed
/// in flight per scoring worker (two of them) and a one-batch queue each. The consumer pauses its
/// partitions while alerts are unacknowledged and resumes by itself; nothing is lost. (More
/// messages than every queue on the way can hold, so the consumer must pause.)
#[test]
fn backpressure_pauses_and_resumes_consumption() {
    let k = kafka();
    let t = TestTopics::create(&k.env, "pressure", 2);
    let mut s = stream::build("pressure", 6000, 1, 0);
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &s.lifecycle);
    io::produce(&k.env.bootstrap, &t.input, &mut s.items, None);
    let env = [
        ("CREDENCE_DAEMON__MAX_IN_FLIGHT", "2"),
        ("CREDENCE_DAEMON__BUFFER_MESSAGES", "1"),
        ("CREDENCE_DAEMON__SCORING_WORKERS", "2"),
        ("RUST_LOG", "info,credence=debug"),
    ];
    let slow = "[kafka.producer_librdkafka]\n\"linger.ms\" = 600\n";
    let mut daemon = Daemon::start(&t.config(&k.env, slow), &env);
    wait_until_consumed(&k.env, &mut daemon, &t, Duration::from_secs(60));
    daemon.sigterm();
    assert!(daemon.wait_exit(Duration::from_secs(15)).is_some_and(|s| s.success()), "{}", daemon.logs());
    let logs = daemon.log_lines();
    let count = |m: &str| logs.iter().filter(|l| l["message"] == m).count();
    assert!(count("consumption paused: the pipeline is full") > 0, "never paused");
    assert!(count("consumption resumed") > 0, "never resumed");
    let alerts = io::read_all(&k.env.bootstrap, &t.alerts);
    let dlq = io::read_all(&k.env.bootstrap, &t.dead_letter);
    assert_eq!(stream::check_traces(&s.items, &alerts, &dlq, None), s.items.len());
}

/// Kill and restart: SIGKILL mid-stream, then a restart. Every input offset is processed at least once (each
/// message's finding or dead letter is there) and no finding of `credence replay` is missing.
#[test]
fn sigkill_mid_stream_and_restart_lose_nothing() {
    let k = kafka();
    let t = TestTopics::create(&k.env, "kill", 3);
    let s = stream::build("kill", 6000, 1, 5);
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &s.lifecycle);
    // Produce while the daemon runs, so the kill lands mid-stream.
    let producer = {
        let (bootstrap, topic, mut items) = (k.env.bootstrap.clone(), t.input.clone(), s.items.clone());
        std::thread::spawn(move || {
            io::produce(&bootstrap, &topic, &mut items, Some(400));
            items
        })
    };
    let config = t.config(&k.env, "");
    // Two scoring workers, then three after the restart: partitions dealt out differently.
    let mut first = Daemon::start(&config, &[("CREDENCE_DAEMON__SCORING_WORKERS", "2")]);
    let seen = support::wait_for(Duration::from_secs(30), || {
        first.assert_running();
        let c = io::committed(&k.env.bootstrap, &t.group, &t.input);
        (c.values().sum::<i64>() >= 500).then_some(c)
    })
    .expect("the daemon makes progress");
    first.sigkill();
    let produced_at_kill = io::end_offsets(&k.env.bootstrap, &t.input).values().sum::<i64>();
    assert!(produced_at_kill < s.items.len() as i64, "killed mid-stream");
    eprintln!("killed after committing {seen:?}");

    let mut second = Daemon::start(&config, &[("CREDENCE_DAEMON__SCORING_WORKERS", "3")]);
    let items = producer.join().expect("producer");
    wait_until_consumed(&k.env, &mut second, &t, Duration::from_secs(90));
    second.sigterm();
    assert!(second.wait_exit(Duration::from_secs(15)).is_some_and(|s| s.success()), "{}", second.logs());

    let alerts = io::read_all(&k.env.bootstrap, &t.alerts);
    let dlq = io::read_all(&k.env.bootstrap, &t.dead_letter);
    assert_eq!(stream::check_traces(&items, &alerts, &dlq, None), items.len());

    // And against replay: no finding uid of the uninterrupted run is missing.
    let dir = std::env::temp_dir().join(unique("credence-kill"));
    std::fs::create_dir_all(&dir).expect("dir");
    let lines: Vec<String> = items.iter().map(|i| String::from_utf8_lossy(&i.payload).into_owned()).collect();
    write_lines(&dir.join("events.jsonl"), &lines);
    write_lines(&dir.join("lifecycle.jsonl"), &s.lifecycle);
    let reference: Vec<_> =
        replay(&dir.join("events.jsonl"), &dir.join("lifecycle.jsonl")).into_iter().filter(|v| !is_close(v)).collect();
    let got: BTreeSet<String> = alerts.iter().map(|m| identity(&m.json()).0).collect();
    let missing: Vec<String> = reference.iter().map(|v| identity(v).0).filter(|u| !got.contains(u)).collect();
    assert!(reference.len() >= 4000, "{}", reference.len());
    assert!(missing.is_empty(), "{} findings lost, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Graceful shutdown: SIGTERM to the real binary mid-stream. It exits 0 within `shutdown_timeout_secs`, has
/// committed offsets, and every message below a committed offset left its trace (the commit never
/// ran ahead of an unacknowledged alert).
#[test]
fn sigterm_exits_within_the_deadline_with_offsets_committed() {
    let k = kafka();
    let t = TestTopics::create(&k.env, "term", 2);
    let mut s = stream::build("term", 12_000, 2, 9);
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &s.lifecycle);
    io::produce(&k.env.bootstrap, &t.input, &mut s.items, None);

    let mut daemon = Daemon::start(&t.config(&k.env, ""), &[]);
    support::wait_for(Duration::from_secs(30), || {
        daemon.assert_running();
        (io::committed(&k.env.bootstrap, &t.group, &t.input).values().sum::<i64>() > 0).then_some(())
    })
    .expect("the daemon makes progress");
    let signalled = Instant::now();
    daemon.sigterm();
    let status = daemon.wait_exit(Duration::from_secs(12)).expect("exited");
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status}; log:\n{}", daemon.logs());
    assert!(took < Duration::from_secs(10), "took {took:?}, deadline is 10 s");

    let committed = io::committed(&k.env.bootstrap, &t.group, &t.input);
    let total: i64 = committed.values().sum();
    assert!(total > 0, "offsets committed: {committed:?}");
    let alerts = io::read_all(&k.env.bootstrap, &t.alerts);
    let dlq = io::read_all(&k.env.bootstrap, &t.dead_letter);
    let checked = stream::check_traces(&s.items, &alerts, &dlq, Some(&committed));
    assert!(checked > 0);
    let logs = daemon.logs();
    for line in ["shutting down: stop fetching, drain, flush alerts, commit", "offsets committed", "credence stopped"] {
        assert!(logs.contains(line), "missing `{line}` in:\n{logs}");
    }
    let stopped = daemon.log_line("credence stopped").expect("final line");
    assert_eq!(stopped["unacked"], 0, "{stopped}");
    eprintln!("SIGTERM: exited in {took:?}; committed {total} of {} messages", s.items.len());
}

/// Authenticated connections: SASL/SCRAM-SHA-256 in clear and over TLS, with the password
/// passed only through the environment (the raw librdkafka pass-through); a wrong password stops
/// the daemon at start-up.
#[test]
fn sasl_scram_and_sasl_ssl_connections_work() {
    let k = kafka();
    let e = &k.env;
    for (listener, protocol, tls) in
        [(&e.sasl_bootstrap, "SASL_PLAINTEXT", false), (&e.sasl_ssl_bootstrap, "SASL_SSL", true)]
    {
        let t = TestTopics::create(e, "sasl", 2);
        let mut s = stream::build("sasl", 400, 4, 0);
        io::produce_lines(&e.bootstrap, &t.lifecycle, &s.lifecycle);
        io::produce(&e.bootstrap, &t.input, &mut s.items, None);
        let mut extra = format!(
            "[kafka.librdkafka]\n\"security.protocol\" = \"{protocol}\"\n\"sasl.mechanisms\" = \"{}\"\n",
            e.sasl_mechanism
        );
        extra.push_str(&format!("\"sasl.username\" = \"{}\"\n", e.sasl_username));
        if tls {
            extra.push_str(&format!("\"ssl.ca.location\" = \"{}\"\n", e.ca_location));
        }
        let config = t.config(e, &extra);
        let env = [
            ("CREDENCE_KAFKA__BOOTSTRAP_SERVERS", listener.as_str()),
            ("CREDENCE_KAFKA__LIBRDKAFKA__SASL_PASSWORD", e.sasl_password.as_str()),
        ];
        let mut daemon = Daemon::start(&config, &env);
        wait_until_consumed(e, &mut daemon, &t, Duration::from_secs(60));
        daemon.sigterm();
        assert!(daemon.wait_exit(Duration::from_secs(15)).is_some_and(|s| s.success()), "{}", daemon.logs());
        let alerts = io::read_all(&e.bootstrap, &t.alerts);
        assert_eq!(alerts.len(), s.items.iter().filter(|i| i.kind == Kind::Ghost).count(), "{protocol}");
        assert!(!daemon.logs().contains(&e.sasl_password), "the password was logged");

        // The same with a wrong password: no connection, exit 1 after the start-up timeout.
        let bad = [
            ("CREDENCE_KAFKA__BOOTSTRAP_SERVERS", listener.as_str()),
            ("CREDENCE_KAFKA__LIBRDKAFKA__SASL_PASSWORD", "wrong"),
            ("CREDENCE_KAFKA__STARTUP_TIMEOUT_SECS", "3"),
        ];
        let mut refused = Daemon::start(&config, &bad);
        let status = refused.wait_exit(Duration::from_secs(30)).expect("exits");
        assert_eq!(status.code(), Some(1), "{}", refused.logs());
        assert!(refused.logs().contains("authentication"), "{}", refused.logs());
    }
}

//! Zero storage of secrets, end to end: the real `credence run` against a real Kafka broker is
//! fed the simulator's traffic (every raw credential value known to the test), its lifecycle
//! records, and poison messages that carry credential values where decoders complain; it logs at
//! debug level. Then everything Credence wrote is scanned for every raw value: the findings
//! (values, keys, headers), the dead letters' keys and headers, the changelog records (keys and
//! values, committed or not), its log, its metrics, and the snapshot and findings of
//! `credence replay --state` over the same traffic. Not one may contain a raw credential value.
//! The dead letters' payloads are the original messages, so they do hold them: the scan finds
//! them there, which shows it can find what it looks for.

mod support;

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::ClientConfig;
use support::stream::Item;
use support::{io, kafka, unique, wait_for, wait_until_consumed, Daemon, TestTopics, KEY};

/// Everything on `topic` (every partition, aborted transactions too), until nothing new comes for
/// a few seconds: key, value and each header's key and value, as text.
fn read_everything(bootstrap: &str, topic: &str) -> Vec<String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("credence-secrets-reader"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("consumer");
    c.subscribe(&[topic]).expect("subscribe");
    let mut out = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(5) {
        let Some(r) = c.poll(Duration::from_millis(200)) else { continue };
        let m = r.expect("consume");
        last = Instant::now();
        let mut text = String::new();
        text.push_str(&String::from_utf8_lossy(m.key().unwrap_or_default()));
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(m.payload().unwrap_or_default()));
        if let Some(h) = m.headers() {
            for x in h.iter() {
                text.push_str(&format!("\n{}={}", x.key, String::from_utf8_lossy(x.value.unwrap_or_default())));
            }
        }
        out.push(text);
    }
    out
}

/// Headers and key of each message (not its payload).
fn envelope(msgs: &[io::Msg]) -> Vec<String> {
    msgs.iter()
        .map(|m| {
            let key = String::from_utf8_lossy(m.key.as_deref().unwrap_or_default());
            format!("{key}\n{:?}", m.headers)
        })
        .collect()
}

/// Which of `secrets` occur in `haystack`.
fn found<'a>(secrets: &'a BTreeSet<String>, haystack: &str) -> Vec<&'a str> {
    secrets.iter().filter(|s| haystack.contains(s.as_str())).map(String::as_str).collect()
}

fn metrics(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("admin port");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    text
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).into_owned()
}

#[test]
fn no_raw_credential_value_is_written_anywhere() {
    let k = kafka();
    let dir = std::env::temp_dir().join(unique("credence-secrets"));
    let sim = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["simulate", "--credentials", "30", "--days", "5", "--incidents-per-kind", "1", "--seed", "21", "--out"])
        .arg(dir.join("sim"))
        .output()
        .expect("credence simulate");
    assert!(sim.status.success(), "simulate: {}", String::from_utf8_lossy(&sim.stderr));
    let events_path = dir.join("sim/events.ocsf.jsonl");
    let lifecycle_path = dir.join("sim/lifecycle.jsonl");
    let events: Vec<String> = read(&events_path).lines().map(String::from).collect();
    let lifecycle: Vec<String> = read(&lifecycle_path).lines().map(String::from).collect();
    let json = |l: &str| serde_json::from_str::<serde_json::Value>(l).expect("JSON");
    let credential = |v: &serde_json::Value| v["actor"]["user"]["credential_uid"].as_str().map(str::to_string);
    let mut secrets: BTreeSet<String> = events.iter().filter_map(|l| credential(&json(l))).collect();
    secrets.extend(lifecycle.iter().filter_map(|l| json(l)["credential_uid"].as_str().map(str::to_string)));
    // Values short enough to occur by chance in other text would make the scan meaningless.
    secrets.retain(|s| !s.is_empty());
    assert!(secrets.len() >= 30, "{secrets:?}");
    assert!(secrets.iter().all(|s| s.len() >= 8), "the simulator's credential values are distinctive: {secrets:?}");

    // Poison messages with credential values where the decoders complain: a wrong type next to
    // the credential, the credential itself of the wrong shape, a cut record, oversized.
    let some: Vec<&String> = secrets.iter().take(4).collect();
    let mut poison = Vec::new();
    for (i, s) in some.iter().enumerate() {
        let mut v = json(&events[i]);
        v["actor"]["user"]["credential_uid"] = serde_json::Value::String((*s).clone());
        let mut bad_time = v.clone();
        bad_time["time"] = serde_json::Value::String((*s).clone());
        poison.push(bad_time.to_string());
        let mut bad_uid = v.clone();
        bad_uid["actor"]["user"]["credential_uid"] = serde_json::json!({ "value": s, "n": [s] });
        poison.push(bad_uid.to_string());
        let whole = v.to_string();
        let at = whole.find(s.as_str()).expect("credential in record") + s.len() + 2;
        poison.push(whole[..at].to_string());
        let mut big = v.clone();
        big["padding"] = serde_json::Value::String(format!("{s} ").repeat(1000));
        poison.push(big.to_string());
        poison.push(format!("credential {s} in no format at all"));
    }
    let t = TestTopics::create(&k.env, "secrets", 2);
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &lifecycle);
    let mut items: Vec<Item> = events
        .iter()
        .map(|l| Item::raw(&credential(&json(l)).unwrap_or_default(), l.clone().into_bytes()))
        .chain(poison.iter().map(|p| Item::raw("poison", p.clone().into_bytes())))
        .collect();
    io::produce(&k.env.bootstrap, &t.input, &mut items, None);

    let mut d = Daemon::start(&t.config(&k.env, ""), &[("CREDENCE_LOG__LEVEL", "debug")]);
    let addr = d.admin_addr();
    wait_until_consumed(&k.env, &mut d, &t, Duration::from_secs(300));
    let scraped = wait_for(Duration::from_secs(30), || {
        let m = metrics(&addr);
        m.lines().any(|l| l.starts_with("credence_baselines_active") && !l.ends_with(" 0")).then_some(m)
    })
    .expect("the baseline gauges refresh");
    d.sigterm();
    assert!(d.wait_exit(Duration::from_secs(30)).is_some_and(|s| s.success()), "{}", d.logs());
    let log = d.logs();

    let alerts = io::read_all(&k.env.bootstrap, &t.alerts);
    let dlq = io::read_all(&k.env.bootstrap, &t.dead_letter);
    let changelog = read_everything(&k.env.bootstrap, &format!("{}-{}-changelog", t.group, t.input));
    assert!(!alerts.is_empty(), "the simulator's incidents raise findings");
    assert_eq!(dlq.len(), poison.len(), "every poison message is dead-lettered");
    assert!(!changelog.is_empty(), "the state is on the changelog");
    assert!(log.lines().filter(|l| l.contains("\"level\":\"DEBUG\"")).count() > 10, "debug logging is on");

    // The same traffic through `credence replay --state`: its snapshot and findings.
    let state = dir.join("state");
    let replayed = dir.join("replay.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["replay", "--format", "ocsf", "--lifecycle"])
        .arg(&lifecycle_path)
        .arg("--state")
        .arg(&state)
        .arg("--out")
        .arg(&replayed)
        .arg(&events_path)
        .env("CREDENCE_PSEUDONYM_KEY", KEY)
        .env("RUST_LOG", "debug")
        .output()
        .expect("credence replay");
    assert!(o.status.success(), "replay: {}", String::from_utf8_lossy(&o.stderr));
    let snapshot = read(&state.join("credence.snapshot"));
    assert!(snapshot.len() > 1000, "a snapshot of the baselines");

    let mut leaks = Vec::new();
    let mut scan = |what: &str, text: &str| {
        let f = found(&secrets, text);
        if !f.is_empty() {
            leaks.push(format!("{what}: {f:?} in {text:.300}"));
        }
    };
    for m in &alerts {
        scan("finding", &String::from_utf8_lossy(&m.payload));
    }
    for e in envelope(&alerts) {
        scan("finding key or header", &e);
    }
    for e in envelope(&dlq) {
        scan("dead-letter key or header", &e);
    }
    for c in &changelog {
        scan("changelog record", c);
    }
    scan("daemon log", &log);
    scan("metrics", &scraped);
    scan("snapshot", &snapshot);
    scan("replay findings", &read(&replayed));
    scan("replay output", &String::from_utf8_lossy(&o.stderr));
    scan("replay output", &String::from_utf8_lossy(&o.stdout));
    assert!(leaks.is_empty(), "raw credential values written:\n{}", leaks.join("\n"));

    // The scan finds what is there: the dead letters keep the original messages.
    let payloads: String = dlq.iter().map(|m| String::from_utf8_lossy(&m.payload).into_owned()).collect();
    assert!(some.iter().all(|s| payloads.contains(s.as_str())), "the scan would not see a leak");
    let _ = std::fs::remove_dir_all(&dir);
}

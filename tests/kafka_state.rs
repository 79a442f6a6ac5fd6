//! Baselines that survive, against the real broker and the real binary (issue 17): a partition's
//! state lives in its task and on a compacted changelog, checkpointed in Kafka transactions with
//! the input offsets it covers. Killed, restarted, joined by a second daemon or restarted one pod
//! at a time, the daemon raises exactly the findings of an uninterrupted run: nothing learned is
//! lost, nothing is learned twice, no credential starts over. A damaged changelog record is
//! skipped and counted; tasks are placed on the workers by load.
//!
//! The reference is one uninterrupted daemon (one scoring worker) over the same stream: a
//! partition's findings depend on that partition's messages only (its task owns its baselines,
//! peer profiles, population view, open findings and clock), so they must not depend on
//! restarts, on which pod or worker holds the task, or on how partitions interleave.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use support::io::{self, Msg};
use support::stream::Item;
use support::{kafka, unique, wait_for, Daemon, Kafka, TestTopics};

/// Input partitions of every run here.
const PARTITIONS: i32 = 4;

/// A finding record's identity: uid, revision, severity.
type Record = (String, u64, String);

/// The simulated stream: (keyed items, lifecycle lines).
fn stream() -> &'static (Vec<Item>, Vec<String>) {
    static STREAM: OnceLock<(Vec<Item>, Vec<String>)> = OnceLock::new();
    STREAM.get_or_init(|| {
        let dir = std::env::temp_dir().join(unique("credence-kafka-state"));
        let sim = Command::new(env!("CARGO_BIN_EXE_credence"))
            .args([
                "simulate",
                "--credentials",
                "50",
                "--days",
                "6",
                "--incidents-per-kind",
                "1",
                "--seed",
                "23",
                "--out",
            ])
            .arg(&dir)
            .output()
            .expect("credence simulate");
        assert!(sim.status.success(), "simulate: {}", String::from_utf8_lossy(&sim.stderr));
        let read = |f: &str| -> Vec<String> {
            std::fs::read_to_string(dir.join(f)).expect("simulated file").lines().map(String::from).collect()
        };
        let items = read("events.ocsf.jsonl")
            .into_iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(&l).expect("event JSON");
                let key = v["actor"]["user"]["credential_uid"].as_str().unwrap_or("").to_string();
                Item::raw(&key, l.into_bytes())
            })
            .collect();
        let lifecycle = read("lifecycle.jsonl");
        let _ = std::fs::remove_dir_all(&dir);
        (items, lifecycle)
    })
}

/// Fresh topics with the stream's lifecycle records, and a daemon configuration for them.
fn topics(k: &Kafka, tag: &str) -> (TestTopics, String) {
    let t = TestTopics::create(&k.env, tag, PARTITIONS);
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &stream().1);
    let config = t.config(&k.env, "");
    (t, config)
}

/// Produces the stream to `t`'s input, at `per_sec` (`None`: at once).
fn produce(k: &Kafka, t: &TestTopics, per_sec: Option<u32>) -> std::thread::JoinHandle<()> {
    let (bootstrap, topic, mut items) = (k.env.bootstrap.clone(), t.input.clone(), stream().0.clone());
    std::thread::spawn(move || io::produce(&bootstrap, &topic, &mut items, per_sec))
}

fn records(alerts: &[Msg]) -> BTreeSet<Record> {
    alerts
        .iter()
        .map(|m| {
            let v = m.json();
            (
                v["finding_info"]["uid"].as_str().expect("uid").to_string(),
                m.header("credence.revision").parse().unwrap_or(0),
                v["severity"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Waits until every input message is consumed and committed, then stops the daemons.
fn finish(k: &Kafka, t: &TestTopics, daemons: &mut [&mut Daemon]) {
    for d in daemons.iter_mut() {
        d.assert_running();
    }
    let end = io::end_offsets(&k.env.bootstrap, &t.input);
    assert_eq!(end.values().sum::<i64>(), stream().0.len() as i64, "the whole stream was produced");
    let done = wait_for(Duration::from_secs(240), || {
        for d in daemons.iter_mut() {
            d.assert_running();
        }
        let c = io::committed(&k.env.bootstrap, &t.group, &t.input);
        end.iter().all(|(p, e)| c.get(p).copied().unwrap_or(0) >= *e).then_some(())
    });
    assert!(done.is_some(), "not consumed; logs:\n{}", daemons.iter().map(|d| d.logs()).collect::<String>());
    for d in daemons.iter() {
        d.sigterm();
    }
    for d in daemons.iter_mut() {
        let status = d.wait_exit(Duration::from_secs(20));
        assert!(status.is_some_and(|s| s.success()), "exit {status:?}:\n{}", d.logs());
    }
}

/// The uninterrupted run's finding records (one daemon, one scoring worker).
fn reference(k: &Kafka) -> &'static BTreeSet<Record> {
    static REFERENCE: OnceLock<BTreeSet<Record>> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let (t, config) = topics(k, "state-ref");
        produce(k, &t, None).join().expect("producer");
        let mut d = Daemon::start(&config, &[("CREDENCE_DAEMON__SCORING_WORKERS", "1")]);
        finish(k, &t, &mut [&mut d]);
        let r = records(&io::read_all(&k.env.bootstrap, &t.alerts));
        assert!(r.len() >= 10, "the stream should raise findings: {r:?}");
        r
    })
}

fn assert_same(got: &BTreeSet<Record>, want: &BTreeSet<Record>, what: &str) {
    let missing: Vec<_> = want.difference(got).collect();
    let extra: Vec<_> = got.difference(want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} finding records missing, {} not in the uninterrupted run\nmissing: {missing:?}\nextra: {extra:?}",
        missing.len(),
        extra.len()
    );
}

/// A restore seen in a daemon's log: (partition, records, baselines).
fn restores(d: &Daemon) -> Vec<(String, u64, u64)> {
    d.log_lines()
        .into_iter()
        .filter(|l| l["message"] == "partition state restored")
        .map(|l| {
            (
                l["partition"].as_str().unwrap_or_default().to_string(),
                l["records"].as_u64().unwrap_or(0),
                l["baselines"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Test 1: SIGKILL mid-stream, then a restart with another number of scoring workers. The
/// restarted daemon reads each partition's state back and goes on from the offsets its last
/// checkpoint committed: the finding records (uid, revision, severity) are exactly those of an
/// uninterrupted run, so no learning was lost or repeated (records between the checkpoint and
/// the kill are raised again: the same records).
#[test]
fn sigkill_and_restart_raise_exactly_the_uninterrupted_findings() {
    let k = kafka();
    let want = reference(&k).clone();
    let (t, config) = topics(&k, "state-kill");
    let producer = produce(&k, &t, Some(3_000));
    let mut first = Daemon::start(&config, &[("CREDENCE_DAEMON__SCORING_WORKERS", "2")]);
    let seen = wait_for(Duration::from_secs(60), || {
        first.assert_running();
        let c = io::committed(&k.env.bootstrap, &t.group, &t.input);
        (c.values().sum::<i64>() >= stream().0.len() as i64 / 3).then_some(c)
    })
    .expect("the daemon checkpoints its progress");
    first.sigkill();
    eprintln!("killed after checkpoints committed {seen:?}");
    let mut second = Daemon::start(&config, &[("CREDENCE_DAEMON__SCORING_WORKERS", "3")]);
    producer.join().expect("producer");
    finish(&k, &t, &mut [&mut second]);
    let got = records(&io::read_all(&k.env.bootstrap, &t.alerts));
    assert_same(&got, &want, "killed and restarted");
    let restored = restores(&second);
    assert_eq!(restored.len(), PARTITIONS as usize, "{restored:?}");
    assert!(restored.iter().all(|r| r.1 > 0 && r.2 > 0), "every partition read its state back: {restored:?}");
}

/// Tests 2 and 3: one daemon starts alone; a second joins mid-stream (partitions move to it with
/// their baselines); then each is restarted in turn (a rolling update) while events flow. The
/// finding records are exactly the uninterrupted run's: no credential re-entered learning.
#[test]
fn a_joining_daemon_and_a_rolling_restart_change_no_finding() {
    let k = kafka();
    let want = reference(&k).clone();
    let (t, config) = topics(&k, "state-roll");
    let producer = produce(&k, &t, Some(1_500));
    let progress = |min: i64| {
        let c = io::committed(&k.env.bootstrap, &t.group, &t.input);
        (c.values().sum::<i64>() >= min).then_some(())
    };
    let n = stream().0.len() as i64;
    let workers = [("CREDENCE_DAEMON__SCORING_WORKERS", "2")];
    let mut a = Daemon::start(&config, &workers);
    wait_for(Duration::from_secs(60), || progress(n / 5)).expect("a makes progress");
    let mut b = Daemon::start(&config, &workers);
    // B takes partitions from A, with their state.
    let moved = wait_for(Duration::from_secs(60), || {
        a.assert_running();
        let r = restores(&b);
        (!r.is_empty()).then_some(r)
    })
    .expect("partitions move to the second daemon");
    assert!(moved.iter().all(|r| r.1 > 0 && r.2 > 0), "moved partitions bring their baselines: {moved:?}");
    wait_for(Duration::from_secs(90), || progress(n / 2)).expect("both make progress");
    // Rolling restart: A, then B.
    a.sigterm();
    assert!(a.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()), "{}", a.logs());
    let mut a = Daemon::start(&config, &workers);
    wait_for(Duration::from_secs(60), || (!restores(&a).is_empty()).then_some(())).expect("a restarts");
    b.sigterm();
    assert!(b.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()), "{}", b.logs());
    let mut b = Daemon::start(&config, &workers);
    producer.join().expect("producer");
    finish(&k, &t, &mut [&mut a, &mut b]);
    let got = records(&io::read_all(&k.env.bootstrap, &t.alerts));
    assert_same(&got, &want, "joined and rolled");
}

/// Test 5 (changelog half): a damaged record on a changelog is skipped and counted, with an
/// error naming the changelog; the partition's other state loads and the daemon runs on.
#[test]
fn a_damaged_changelog_record_is_skipped_and_counted() {
    let k = kafka();
    let (t, config) = topics(&k, "state-damage");
    produce(&k, &t, None).join().expect("producer");
    let mut d = Daemon::start(&config, &[("CREDENCE_DAEMON__SCORING_WORKERS", "1")]);
    finish(&k, &t, &mut [&mut d]);
    // A record no Credence wrote, on partition 0 of the changelog: a known key shape (a
    // baseline's) with a value that is not one.
    let changelog = format!("{}-{}-changelog", t.group, t.input);
    let mut bad = Item::raw("", b"\x05\x00this is not a baseline".to_vec());
    bad.key = String::from_utf8_lossy(&[b'b'; 17]).into_owned();
    io::produce(&k.env.bootstrap, &changelog, std::slice::from_mut(&mut bad), None);
    let mut again = Daemon::start(&config, &[]);
    let admin = again.admin_addr();
    let restored = wait_for(Duration::from_secs(60), || {
        again.assert_running();
        (restores(&again).len() == PARTITIONS as usize).then(|| restores(&again))
    })
    .expect("every partition restored");
    assert!(restored.iter().all(|r| r.2 > 0), "{restored:?}");
    let line = again
        .log_line("changelog records could not be read back and were skipped; the credentials they held start afresh");
    let line = line.unwrap_or_else(|| panic!("no error logged:\n{}", again.logs()));
    assert_eq!(line["records"], 1, "{line}");
    let metrics = wait_for(Duration::from_secs(20), || support::http_get_text(&admin, "/metrics")).expect("metrics");
    assert!(metrics.contains("credence_state_damaged_records_total 1"), "{metrics}");
    again.sigterm();
    assert!(again.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()), "{}", again.logs());
}

/// Test 6: two pods of two scoring workers each and eight partitions: every worker holds at
/// most half its pod's partitions.
#[test]
fn tasks_are_placed_on_the_workers_by_load() {
    let k = kafka();
    let t = TestTopics::create(&k.env, "state-place", 8);
    let config = t.config(&k.env, "");
    let mut pods: Vec<Daemon> =
        (0..2).map(|_| Daemon::start(&config, &[("CREDENCE_DAEMON__SCORING_WORKERS", "2")])).collect();
    let addrs: Vec<String> = pods.iter_mut().map(Daemon::admin_addr).collect();
    let placed = wait_for(Duration::from_secs(90), || {
        for p in &mut pods {
            p.assert_running();
        }
        let per_pod: Vec<BTreeMap<String, i64>> = addrs
            .iter()
            .map(|a| worker_partitions(&support::http_get_text(a, "/metrics").unwrap_or_default()))
            .collect();
        let total: i64 = per_pod.iter().flat_map(|p| p.values()).sum();
        (total == 8 && per_pod.iter().all(|p| p.values().sum::<i64>() > 0)).then_some(per_pod)
    })
    .expect("both pods hold tasks of all eight partitions");
    for (pod, workers) in placed.iter().enumerate() {
        let held: i64 = workers.values().sum();
        assert_eq!(workers.len(), 2, "pod {pod}: {workers:?}");
        for (w, n) in workers {
            assert!(*n * 2 <= held, "pod {pod} worker {w} holds {n} of its pod's {held} partitions: {placed:?}");
        }
    }
    for p in &pods {
        p.sigterm();
    }
    for p in &mut pods {
        assert!(p.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()), "{}", p.logs());
    }
}

/// `credence_worker_partitions{worker="N"} V` samples.
fn worker_partitions(body: &str) -> BTreeMap<String, i64> {
    body.lines()
        .filter_map(|l| l.strip_prefix("credence_worker_partitions{worker=\""))
        .filter_map(|l| {
            let (w, rest) = l.split_once("\"}")?;
            Some((w.to_string(), rest.trim().parse().ok()?))
        })
        .collect()
}

/// The warm start (issue 17's day one): history replayed into a snapshot (`credence replay
/// --state`), then a new daemon with `[state] initial_snapshot` and an empty changelog. Its
/// partition starts from the snapshot, so the daemon raises exactly what a replay continued from
/// the same snapshot raises on the same later events; and it says it was seeded.
#[test]
fn a_daemon_seeded_from_a_replayed_snapshot_goes_on_as_the_replay_would() {
    let k = kafka();
    let dir = std::env::temp_dir().join(unique("credence-warm"));
    let sim = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["simulate", "--credentials", "40", "--days", "7", "--incidents-per-kind", "1", "--seed", "31", "--out"])
        .arg(dir.join("sim"))
        .output()
        .expect("credence simulate");
    assert!(sim.status.success(), "simulate: {}", String::from_utf8_lossy(&sim.stderr));
    let events: Vec<String> =
        std::fs::read_to_string(dir.join("sim/events.ocsf.jsonl")).expect("events").lines().map(String::from).collect();
    let lifecycle = dir.join("sim/lifecycle.jsonl");
    let time = |l: &str| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["time"].as_i64().expect("time");
    let cut = events.iter().position(|l| time(l) >= time(&events[0]) + 5 * 86_400_000).expect("seven days");
    let (history, live) = (dir.join("history.jsonl"), dir.join("live.jsonl"));
    support::write_lines(&history, &events[..cut]);
    support::write_lines(&live, &events[cut..]);
    let replay = |file: &std::path::Path, state: &std::path::Path, out: &std::path::Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_credence"))
            .args(["replay", "--format", "ocsf", "--lifecycle"])
            .arg(&lifecycle)
            .arg("--state")
            .arg(state)
            .arg("--out")
            .arg(out)
            .arg(file)
            .env("CREDENCE_PSEUDONYM_KEY", support::KEY)
            .output()
            .expect("credence replay");
        assert!(o.status.success(), "replay: {}", String::from_utf8_lossy(&o.stderr));
    };
    let (snapshot, continued) = (dir.join("snapshot"), dir.join("continued"));
    replay(&history, &snapshot, &dir.join("history.out"));
    std::fs::create_dir_all(&continued).expect("dir");
    std::fs::copy(snapshot.join("credence.snapshot"), continued.join("credence.snapshot")).expect("copy");
    replay(&live, &continued, &dir.join("live.out"));
    let want: BTreeSet<(String, String)> = std::fs::read_to_string(dir.join("live.out"))
        .expect("replay output")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("finding");
            (v["finding_info"]["uid"].as_str().unwrap_or_default().to_string(), v["severity"].to_string())
        })
        .collect();
    assert!(want.len() >= 3, "the live days should raise findings: {want:?}");

    let t = TestTopics::create(&k.env, "state-warm", 1);
    let lines: Vec<String> =
        std::fs::read_to_string(&lifecycle).expect("lifecycle").lines().map(String::from).collect();
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &lines);
    let mut items: Vec<Item> = events[cut..]
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("event JSON");
            Item::raw(v["actor"]["user"]["credential_uid"].as_str().unwrap_or(""), l.clone().into_bytes())
        })
        .collect();
    io::produce(&k.env.bootstrap, &t.input, &mut items, None);
    let snapshot_env = snapshot.to_string_lossy().into_owned();
    let mut d = Daemon::start(&t.config(&k.env, ""), &[("CREDENCE_STATE__INITIAL_SNAPSHOT", snapshot_env.as_str())]);
    let end = io::end_offsets(&k.env.bootstrap, &t.input);
    let done = wait_for(Duration::from_secs(120), || {
        d.assert_running();
        let c = io::committed(&k.env.bootstrap, &t.group, &t.input);
        end.iter().all(|(p, e)| c.get(p).copied().unwrap_or(0) >= *e).then_some(())
    });
    assert!(done.is_some(), "not consumed:\n{}", d.logs());
    d.sigterm();
    assert!(d.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()), "{}", d.logs());
    let seeded = d.log_line("partition state restored").expect("restored");
    assert_eq!(seeded["seeded"], true, "{seeded}");
    let got: BTreeSet<(String, String)> = io::read_all(&k.env.bootstrap, &t.alerts)
        .iter()
        .map(|m| {
            let v = m.json();
            (v["finding_info"]["uid"].as_str().unwrap_or_default().to_string(), v["severity"].to_string())
        })
        .collect();
    assert_eq!(got, want, "the seeded daemon and the continued replay differ");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 21's flood: 30,000 made-up credential ids, each used once, interleaved with the last two
/// of the simulator's six days, into a daemon whose bound (200 baselines) is far below them. The store
/// stays within its bound, every eviction is counted and none is of an established baseline, and
/// the findings on the simulator's established credentials are exactly those of a run without
/// the flood.
#[test]
fn a_flood_of_new_credential_ids_evicts_none_of_the_established() {
    use credence_event::ocsf::ApiActivity;
    let k = kafka();
    let (items, lifecycle) = stream();
    let time = |i: &Item| {
        serde_json::from_slice::<serde_json::Value>(&i.payload).expect("JSON")["time"].as_i64().expect("time")
    };
    // The flood comes once the simulator's credentials are established (after four days).
    let (first, last) = (time(&items[0]) + 4 * 86_400_000, time(&items[items.len() - 1]));
    const FLOOD: i64 = 30_000;
    let flood: Vec<Item> = (0..FLOOD)
        .map(|i| {
            let id = format!("flood-{i}");
            let ip: std::net::IpAddr = format!("10.{}.{}.{}", i % 200, (i / 200) % 250, i % 7 + 1).parse().expect("ip");
            let rec = ApiActivity {
                time_ms: first + (last - first) * i / FLOOD,
                uid: &id,
                credential_uid: &id,
                user_uid: "unknown",
                issuer: None,
                operation: "GET /",
                service: "gateway",
                http_method: "GET",
                path: "/",
                status: 200,
                error: None,
                bytes_out: 120,
                ip,
                asn: None,
                country: None,
                city: None,
                geo: None,
                user_agent: "curl/8.5.0",
            };
            Item::raw(&id, serde_json::to_vec(&rec).expect("OCSF"))
        })
        .collect();
    let mut flooded: Vec<Item> = items.iter().cloned().chain(flood).collect();
    flooded.sort_by_key(time);
    let bound = [("CREDENCE_DETECT__MAX_CREDENTIALS", "200"), ("CREDENCE_DAEMON__SCORING_WORKERS", "1")];
    let p = credence_event::Pseudonymizer::new(&hex::decode(support::KEY).expect("hex")).expect("key");
    let flooders: BTreeSet<String> = (0..FLOOD).map(|i| p.credential(&format!("flood-{i}")).to_string()).collect();
    let run = |tag: &str, events: &[Item]| -> (BTreeSet<Record>, String) {
        let t = TestTopics::create(&k.env, tag, 1);
        io::produce_lines(&k.env.bootstrap, &t.lifecycle, lifecycle);
        let mut events = events.to_vec();
        io::produce(&k.env.bootstrap, &t.input, &mut events, None);
        let mut d = Daemon::start(&t.config(&k.env, ""), &bound);
        let admin = d.admin_addr();
        let end = io::end_offsets(&k.env.bootstrap, &t.input);
        let done = wait_for(Duration::from_secs(300), || {
            d.assert_running();
            let c = io::committed(&k.env.bootstrap, &t.group, &t.input);
            end.iter().all(|(p, e)| c.get(p).copied().unwrap_or(0) >= *e).then_some(())
        });
        assert!(done.is_some(), "{tag}: not consumed:\n{}", d.logs());
        // The eviction counters follow within a gauge refresh.
        std::thread::sleep(Duration::from_secs(11));
        let metrics = support::http_get_text(&admin, "/metrics").expect("metrics");
        d.sigterm();
        assert!(d.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()), "{}", d.logs());
        let alerts = io::read_all(&k.env.bootstrap, &t.alerts);
        // The findings on established credentials (their state when the finding opened): a
        // credential still new or learning may be evicted by newcomers, flood or not.
        let own: Vec<Msg> = alerts
            .into_iter()
            .filter(|m| {
                let v = m.json();
                !flooders.contains(v["actor"]["user"]["credential_uid"].as_str().unwrap_or_default())
                    && v["unmapped"]["credence"]["lifecycle_state"] == "established"
            })
            .collect();
        (records(&own), metrics)
    };
    let (want, _) = run("state-calm", items);
    let (got, metrics) = run("state-flood", &flooded);
    let sample = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
    };
    assert!(sample("credence_baselines_active ") <= 200.0, "{metrics}");
    assert!(sample("credence_baselines_evicted_total{reason=\"capacity\"}") >= (FLOOD - 200) as f64, "{metrics}");
    assert_eq!(sample("credence_baselines_evicted_total{reason=\"capacity_established\"}"), 0.0, "{metrics}");
    assert!(want.len() >= 10, "{want:?}");
    assert_same(&got, &want, "with the flood");
}

//! Incidents through the real binary: a simulated world replayed with `--incidents`, and the same
//! events through `credence run` with `[alerts] incidents` on, against a real broker and a real
//! PagerDuty receiver that takes incidents only. The daemon raises the incidents the replay
//! raises (same uids, severities and findings), each a valid OCSF Incident Finding listing
//! findings that were themselves published, and pages once per incident, not per finding.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::io;
use support::receiver::{Behaviour, Receiver};
use support::stream::Item;
use support::{kafka, unique, wait_until_consumed, Daemon, TestTopics};

/// (incident uid, revision) → (severity, finding uids listed).
type Incidents = BTreeMap<(String, u64), (String, BTreeSet<String>)>;

fn incidents(records: &[Value]) -> Incidents {
    records
        .iter()
        .filter(|v| v["class_uid"] == 2005 && v["activity_id"] != 3)
        .map(|v| {
            let uid = v["metadata"]["uid"].as_str().expect("record uid");
            let (incident, revision) = uid.rsplit_once("-r").expect("uid-rN");
            let listed = v["finding_info_list"]
                .as_array()
                .expect("finding_info_list")
                .iter()
                .map(|f| f["uid"].as_str().expect("finding uid").to_string())
                .collect();
            ((incident.to_string(), revision.parse().expect("revision")), (v["severity"].to_string(), listed))
        })
        .collect()
}

#[test]
fn the_daemon_raises_the_incidents_replay_raises_and_pages_once_per_incident() {
    let dir = std::env::temp_dir().join(unique("credence-incidents"));
    // Two incidents of each kind on 120 credentials: several principals get more than one finding.
    let sim = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["simulate", "--credentials", "120", "--days", "8", "--incidents-per-kind", "2", "--seed", "5", "--out"])
        .arg(dir.join("sim"))
        .output()
        .expect("credence simulate");
    assert!(sim.status.success(), "simulate: {}", String::from_utf8_lossy(&sim.stderr));
    let events = dir.join("sim/events.ocsf.jsonl");
    let lifecycle = dir.join("sim/lifecycle.jsonl");
    let out = dir.join("replay.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["replay", "--format", "ocsf", "--incidents", "--lifecycle"])
        .arg(&lifecycle)
        .arg("--out")
        .arg(&out)
        .arg(&events)
        .env("CREDENCE_PSEUDONYM_KEY", support::KEY)
        .output()
        .expect("credence replay");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "replay: {stderr}");
    let replayed: Vec<Value> = std::fs::read_to_string(&out)
        .expect("replay output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let want = incidents(&replayed);
    let opened: BTreeSet<&String> = want.keys().map(|(u, _)| u).collect();
    assert!(!opened.is_empty(), "the world should hold incidents: {stderr}");
    assert!(stderr.contains(&format!("incidents: {} opened", opened.len())), "{stderr}");
    // Every incident lists findings that were published, and at least two of them.
    let findings: BTreeSet<String> = replayed
        .iter()
        .filter(|v| v["class_uid"] == 2004)
        .map(|v| v["finding_info"]["uid"].as_str().expect("uid").to_string())
        .collect();
    for (key, (_, listed)) in &want {
        assert!(listed.len() >= 2 && listed.is_subset(&findings), "{key:?}: {listed:?}");
    }
    // Every incident closes at the end of the replay.
    let closed = replayed.iter().filter(|v| v["class_uid"] == 2005 && v["activity_id"] == 3).count();
    assert_eq!(closed, opened.len());

    // The daemon, on one partition and one scoring worker (the replay's order), with a PagerDuty
    // receiver for incidents only.
    let k = kafka();
    let t = TestTopics::create(&k.env, "incidents", 1);
    let lines: Vec<String> =
        std::fs::read_to_string(&lifecycle).expect("lifecycle").lines().map(String::from).collect();
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &lines);
    let mut items: Vec<Item> = std::fs::read_to_string(&events)
        .expect("events")
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("event JSON");
            Item::raw(v["actor"]["user"]["credential_uid"].as_str().unwrap_or(""), l.as_bytes().to_vec())
        })
        .collect();
    io::produce(&k.env.bootstrap, &t.input, &mut items, None);
    let pagerduty = Receiver::start(Behaviour::default());
    let routing = dir.join("routing.key");
    std::fs::write(&routing, "R0UT1NGKEY0123456789INCIDENTS000").expect("key file");
    let sink = format!(
        "[[sinks]]\nname = \"pager\"\nkind = \"pagerduty\"\nendpoint = \"{}\"\nsecret_file = \"{}\"\nmin_severity = \"low\"\nrecords = \"incidents\"\n",
        pagerduty.url(),
        routing.display()
    );
    let env = [("CREDENCE_ALERTS__INCIDENTS", "true"), ("CREDENCE_DAEMON__SCORING_WORKERS", "1")];
    let mut daemon = Daemon::start(&t.config(&k.env, &sink), &env);
    wait_until_consumed(&k.env, &mut daemon, &t, Duration::from_secs(300));
    daemon.sigterm();
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some_and(|s| s.success()), "{}", daemon.logs());
    let alerts: Vec<Value> = io::read_all(&k.env.bootstrap, &t.alerts).iter().map(|m| m.json()).collect();
    assert_eq!(incidents(&alerts), want, "the daemon's incidents differ from the replay's");

    // Paged once per incident (its uid the dedup key), never for a finding.
    let mut paged = BTreeSet::new();
    for r in pagerduty.received() {
        let e = r.json();
        if e["event_action"] == "trigger" {
            assert_eq!(e["payload"]["class"], "incident", "{e}");
            assert!(e["payload"]["summary"].as_str().unwrap_or("").contains("incident"), "{e}");
            paged.insert(e["dedup_key"].as_str().expect("dedup_key").to_string());
        }
    }
    let opened: BTreeSet<String> = opened.into_iter().cloned().collect();
    assert_eq!(paged, opened, "PagerDuty's incidents");
    let _ = std::fs::remove_dir_all(&dir);
}

//! Suppression rules with expiry, through the real binary: `credence replay --suppressions` on a
//! simulated world (rules apply by event time), and `credence run` against a real broker with a
//! real webhook receiver (suppressed findings are published with status Suppressed and counted,
//! not sent to people; the file is reloaded while the daemon runs, and a broken edit keeps the
//! rules in use).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::receiver::{Behaviour, Receiver};
use support::{io, kafka, stream, unique, wait_for, wait_until_consumed, Daemon, TestTopics};

fn uid(v: &Value) -> String {
    v["finding_info"]["uid"].as_str().expect("uid").to_string()
}

fn replay(dir: &Path, rules: Option<&str>) -> (Vec<Value>, String) {
    let out = dir.join("out.jsonl");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_credence"));
    cmd.args(["replay", "--format", "ocsf", "--lifecycle"])
        .arg(dir.join("sim/lifecycle.jsonl"))
        .arg("--out")
        .arg(&out)
        .env("CREDENCE_PSEUDONYM_KEY", support::KEY);
    if let Some(text) = rules {
        std::fs::write(dir.join("rules.toml"), text).expect("rules");
        cmd.arg("--suppressions").arg(dir.join("rules.toml"));
    }
    let o = cmd.arg(dir.join("sim/events.ocsf.jsonl")).output().expect("credence replay");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "replay: {stderr}");
    let text = std::fs::read_to_string(&out).expect("findings");
    (text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect(), stderr)
}

/// Writes `text` to `path` as a ConfigMap update does: a new file renamed over the old, so a
/// reader sees the old file or the new, never half of one.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// One credential's findings, suppressed by a rule naming its pseudonym and their detectors:
/// every record of them is Suppressed while the rule lives (by event time), none once it has
/// expired, and nothing else changes.
#[test]
fn replay_applies_rules_by_event_time_and_touches_nothing_else() {
    let dir = std::env::temp_dir().join(unique("credence-suppress"));
    let sim = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["simulate", "--credentials", "40", "--days", "7", "--incidents-per-kind", "1", "--seed", "31", "--out"])
        .arg(dir.join("sim"))
        .output()
        .expect("credence simulate");
    assert!(sim.status.success(), "simulate: {}", String::from_utf8_lossy(&sim.stderr));
    let (plain, _) = replay(&dir, None);
    assert!(plain.iter().all(|v| v["status_id"] != 3), "nothing is suppressed without rules");

    // The credential of the first finding, and every detector its findings show.
    let target = plain[0]["actor"]["user"]["credential_uid"].as_str().expect("credential").to_string();
    let of_target: Vec<&Value> =
        plain.iter().filter(|v| v["actor"]["user"]["credential_uid"] == target.as_str()).collect();
    let detectors: BTreeSet<String> = of_target
        .iter()
        .flat_map(|v| v["finding_info"]["types"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    assert!(!detectors.is_empty(), "{:?}", of_target[0]);
    let first = of_target.iter().map(|v| v["start_time"].as_i64().expect("start")).min().expect("one");
    let last = of_target.iter().map(|v| v["end_time"].as_i64().expect("end")).max().expect("one");
    let rule = |expires: i64| {
        format!(
            "[[rule]]\nid = \"expected-key\"\nreason = \"a load test (CHG-42)\"\nauthor = \"alice@example.com\"\n\
             expires = \"{}\"\ncredentials = [\"{target}\"]\ndetectors = {:?}\n",
            credence_event::time::format_rfc3339_ms(expires),
            detectors.iter().collect::<Vec<_>>()
        )
    };
    let status = |out: &[Value]| -> BTreeMap<(String, i64, u64), u64> {
        out.iter()
            .map(|v| {
                let key = (uid(v), v["activity_id"].as_i64().unwrap_or(0), v["count"].as_u64().unwrap_or(0));
                (key, v["status_id"].as_u64().unwrap_or(0))
            })
            .collect()
    };

    // Alive through the whole stream: every record of the credential is Suppressed.
    let (live, stderr) = replay(&dir, Some(&rule(last + 86_400_000)));
    let before = status(&plain);
    let after = status(&live);
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "the same records");
    let mut suppressed = 0;
    for v in &live {
        let mine = v["actor"]["user"]["credential_uid"] == target.as_str();
        if mine {
            assert_eq!(v["status_id"], 3, "{v}");
            assert_eq!(v["is_alert"], false);
            assert!(v["status_detail"].as_str().is_some_and(|d| d.contains("expected-key") && d.contains("CHG-42")));
            suppressed += 1;
        } else {
            assert_ne!(v["status_id"], 3, "another credential's finding suppressed: {v}");
        }
    }
    assert_eq!(suppressed, of_target.len());
    assert!(stderr.contains(&format!("suppressed: {suppressed} finding records")), "{stderr}");

    // Expired before the credential's first anomaly: nothing is suppressed.
    let (expired, _) = replay(&dir, Some(&rule(first - 1)));
    assert_eq!(status(&expired), before, "an expired rule applies to nothing");

    // A rule file with a problem is refused, with the problem named.
    std::fs::write(
        dir.join("bad.toml"),
        "[[rule]]\nid = \"x\"\nreason = \"r\"\nauthor = \"a\"\nexpires = \"soon\"\nasns = [1]\n",
    )
    .expect("bad rules");
    let o = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["replay", "--format", "ocsf", "--suppressions"])
        .arg(dir.join("bad.toml"))
        .arg(dir.join("sim/events.ocsf.jsonl"))
        .env("CREDENCE_PSEUDONYM_KEY", support::KEY)
        .output()
        .expect("credence replay");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && stderr.contains("`expires` = \"soon\" is not an RFC 3339 time"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The daemon: the rules file is reloaded while it runs (a broken edit is reported and the rules
/// in use stay), then covers the ghost credentials used from one network. Their findings are on
/// the alerts topic as Suppressed and counted by rule; the webhook receives exactly the others.
#[test]
fn the_daemon_reloads_rules_and_keeps_suppressed_findings_from_people() {
    let k = kafka();
    let t = TestTopics::create(&k.env, "suppress", 2);
    // Ghost uses from 198.51.0.0/24 (the first 250 messages) and from 198.51.1.0/24 and beyond.
    let mut s = stream::build("suppress", 600, 10, 0);
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &s.lifecycle);
    let dir = std::env::temp_dir().join(unique("credence-suppress-run"));
    std::fs::create_dir_all(&dir).expect("dir");
    let rules = dir.join("rules.toml");
    let header = "[[rule]]\nid = \"pentest-net\"\nreason = \"the agreed penetration test (PT-7)\"\nauthor = \"soc-lead\"\nexpires = \"2099-01-01T00:00:00Z\"\n";
    // At first, a rule that covers nothing here.
    write_atomically(&rules, &format!("{header}asns = [1]\n"));
    let receiver = Receiver::start(Behaviour::default());
    let sink = "[[sinks]]\nname = \"soc-webhook\"\nurl_env = \"TEST_WEBHOOK_URL\"\nsecret_env = \"TEST_WEBHOOK_KEY\"\nmin_severity = \"low\"\n";
    let url = receiver.url();
    let rules_path = rules.display().to_string();
    let env = [
        ("TEST_WEBHOOK_URL", url.as_str()),
        ("TEST_WEBHOOK_KEY", "suppress-test-signing-key-0123456789abcdef"),
        ("CREDENCE_ALERTS__SUPPRESSIONS_FILE", rules_path.as_str()),
        ("CREDENCE_ALERTS__SUPPRESSIONS_RELOAD_SECS", "1"),
    ];
    let mut daemon = Daemon::start(&t.config(&k.env, sink), &env);
    let admin = daemon.admin_addr();

    // A broken edit: reported, the rules in use stay.
    write_atomically(&rules, &format!("{header}networks = [\"not a network\"]\n"));
    let failed = wait_for(Duration::from_secs(30), || {
        daemon.assert_running();
        daemon.log_line("the suppressions file changed but could not be loaded; the rules in use stay in use")
    });
    assert!(failed.is_some(), "the broken edit was not reported:\n{}", daemon.logs());
    // The real rule: ghosts' findings from 198.51.0.0/24 only.
    write_atomically(&rules, &format!("{header}detectors = [\"ghost_credential\"]\nnetworks = [\"198.51.0.0/24\"]\n"));
    let reloaded = wait_for(Duration::from_secs(30), || {
        daemon.assert_running();
        daemon.log_line("suppression rules reloaded")
    });
    assert!(reloaded.is_some_and(|l| l["rules"] == 1 || l["fields"]["rules"] == 1), "{}", daemon.logs());

    io::produce(&k.env.bootstrap, &t.input, &mut s.items, None);
    wait_until_consumed(&k.env, &mut daemon, &t, Duration::from_secs(120));
    let alerts: Vec<Value> = io::read_all(&k.env.bootstrap, &t.alerts).iter().map(|m| m.json()).collect();
    // Every source of the finding in the rule's network.
    let from_rule_net = |v: &Value| {
        let evidences = v["evidences"].as_array().cloned().unwrap_or_default();
        !evidences.is_empty()
            && evidences.iter().all(|e| e["src_endpoint"]["ip"].as_str().is_some_and(|ip| ip.starts_with("198.51.0.")))
    };
    let (quiet, loud): (Vec<&Value>, Vec<&Value>) = alerts.iter().partition(|v| v["status_id"] == 3);
    assert!(!quiet.is_empty() && !loud.is_empty(), "{} suppressed, {} not", quiet.len(), loud.len());
    let quiet_uids: BTreeSet<String> = quiet.iter().map(|v| uid(v)).collect();
    let loud_uids: BTreeSet<String> = loud.iter().map(|v| uid(v)).collect();
    assert!(quiet_uids.is_disjoint(&loud_uids), "a finding both suppressed and not");
    // Every ghost finding is on the alerts topic, and the rule's network decides its status.
    let ghosts = s.items.iter().filter(|i| i.kind == stream::Kind::Ghost).count();
    assert!(quiet_uids.len() + loud_uids.len() >= ghosts, "{ghosts} ghost uses");
    assert!(quiet.iter().all(|v| from_rule_net(v)), "suppressed outside the rule's network");
    assert!(loud.iter().filter(|v| v.to_string().contains("ghost_credential")).all(|v| !from_rule_net(v)));

    // Counted by rule, within a scrape.
    let metrics = wait_for(Duration::from_secs(20), || {
        let m = support::http_get_text(&admin, "/metrics")?;
        m.contains(&format!("credence_findings_suppressed_total{{rule=\"pentest-net\"}} {}", quiet.len())).then_some(m)
    });
    assert!(metrics.is_some(), "{:?}", support::http_get_text(&admin, "/metrics"));
    let m = metrics.unwrap_or_default();
    assert!(m.contains("credence_suppression_reloads_total{result=\"failed\"} 1"), "{m}");
    assert!(m.contains("credence_suppression_rules 1"), "{m}");
    daemon.sigterm();
    assert!(daemon.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()), "{}", daemon.logs());

    // The webhook received exactly the findings not suppressed.
    let hooked: BTreeSet<String> = receiver.received().iter().map(|r| uid(&r.json())).collect();
    assert_eq!(hooked, loud_uids, "the webhook's findings");
    let _ = std::fs::remove_dir_all(&dir);
}

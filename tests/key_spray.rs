//! Attempts without a valid credential (issue 18, part 2), end to end through the real binary:
//! an Envoy access log in which one network sprays guessed keys while elsewhere a client retries
//! with one old key, a client forgets its token, and a NAT gateway's many users now and then
//! mistype. `credence replay` raises one finding for the spray, about its network, at High with
//! the ATT&CK mapping; none for the benign failures; no key value anywhere in its output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use credence_event::time::format_rfc3339_ms;

const KEY: &str = "key-spray-test-pseudonym-key-0123456789abcdef";
/// 2026-03-02T00:00:00Z.
const T0: i64 = 1_772_409_600_000;
const MIN: i64 = 60_000;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credence-key-spray-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One Istio/Envoy JSON access-log line; `key` None: no credential header logged.
fn line(out: &mut String, t: i64, ip: &str, key: Option<&str>, status: u16, id: &str) {
    let key = key.map_or(String::new(), |k| format!(r#","x_api_key":"{k}""#));
    writeln!(
        out,
        r#"{{"start_time":"{}","method":"GET","path":"/v1/orders","response_code":{status},"x_forwarded_for":"{ip}","user_agent":"client/1.0","authority":"api.example.com","request_id":"{id}","bytes_sent":512{key}}}"#,
        format_rfc3339_ms(t)
    )
    .unwrap();
}

/// The log: four hours of 40 credentials' ordinary use from their own networks and from a NAT
/// gateway (192.0.2.0/24); in it the benign failures and, in the third hour, the spray.
fn gateway_log() -> String {
    let mut s = String::new();
    let mut n = 0u64;
    let mut id = || {
        n += 1;
        format!("req-{n}")
    };
    for m in 0..240 {
        let t = T0 + m * MIN;
        for c in 0..40 {
            // Each credential calls every other minute; half of them from behind the NAT.
            if (m + c) % 2 == 0 {
                let ip = if c % 2 == 0 { "192.0.2.10".to_string() } else { format!("100.64.{c}.7") };
                line(&mut s, t + c * 500, &ip, Some(&format!("live-key-{c:02}")), 200, &id());
            }
        }
        // The NAT's users mistype now and then: a distinct wrong key every other minute (15 in
        // the busiest half hour), among about 10 good requests a minute from there.
        if m % 2 == 1 {
            line(&mut s, t + 30_000, "192.0.2.10", Some(&format!("live-key-{m:03}x")), 401, &id());
        }
        // A misconfigured client retrying with one old key every 10 s for the whole run.
        for k in 0..6 {
            line(&mut s, t + k * 10_000 + 1_000, "198.51.100.20", Some("retired-old-key-0001"), 401, &id());
        }
        // A client that forgets its token: 401 with no credential, twice a minute.
        line(&mut s, t + 5_000, "198.51.100.30", None, 401, &id());
        line(&mut s, t + 35_000, "198.51.100.30", None, 401, &id());
        // The spray: 300 guessed keys from 203.0.113.0/24 in 5 minutes, from three addresses.
        if (120..125).contains(&m) {
            for k in 0..60 {
                let ip = format!("203.0.113.{}", 40 + k % 3);
                line(&mut s, t + k * 1_000 + 200, &ip, Some(&format!("sk_live_guess_{m}_{k:02}")), 401, &id());
            }
        }
    }
    s
}

fn replay(dir: &Path, log: &str) -> (Vec<serde_json::Value>, serde_json::Value, String) {
    let input = dir.join("access.jsonl");
    std::fs::write(&input, log).unwrap();
    let findings = dir.join("findings.jsonl");
    let report = dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["replay", "--format", "envoy", "--out", findings.to_str().unwrap(), "--report-json"])
        .arg(&report)
        .arg(&input)
        .env("CREDENCE_PSEUDONYM_KEY", KEY)
        .output()
        .expect("credence runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let text = std::fs::read_to_string(&findings).unwrap();
    let records = text.lines().map(|l| serde_json::from_str(l).expect("finding JSON")).collect();
    let report = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    (records, report, text + &stderr)
}

#[test]
fn a_spray_raises_one_finding_about_its_network_and_benign_failures_none() {
    let dir = scratch("e2e");
    let log = gateway_log();
    let (records, report, all_output) = replay(&dir, &log);

    // Nothing is a decode error: the rejected requests are kept as evidence, and the keys they
    // tried get no baseline (the 40 live keys do).
    assert_eq!(report["not_replayed"]["total"], 0, "{report}");
    assert_eq!(report["events"].as_u64(), Some(log.lines().count() as u64));
    assert_eq!(report["credentials"], 40, "{report}");
    assert_eq!(report["findings_by_detector"]["key_spray"], 1, "{report}");

    // Findings by uid, with the detectors and the latest severity of each.
    let mut by_uid: BTreeMap<String, (String, u64, serde_json::Value)> = BTreeMap::new();
    for r in &records {
        let uid = r["finding_info"]["uid"].as_str().unwrap().to_string();
        let analytic = r["finding_info"]["analytic"]["name"].as_str().unwrap().to_string();
        by_uid.insert(uid, (analytic, r["severity_id"].as_u64().unwrap(), r.clone()));
    }
    let sprays: Vec<_> = by_uid.values().filter(|(a, _, _)| a == "key_spray").collect();
    assert_eq!(sprays.len(), 1, "one finding for the spray, not one per key: {:#?}", by_uid.keys());
    let (_, severity, last) = sprays[0];
    assert_eq!(*severity, 4, "High: hundreds of keys in minutes");
    assert_eq!(last["unmapped"]["credence"]["network"], "203.0.113.0/24");
    assert_eq!(last["anomaly_analyses"][0]["analysis_targets"][0]["type"], "network");
    let attack = &last["finding_info"]["attacks"][0];
    assert_eq!(attack["tactic"]["uid"], "TA0006", "Credential Access");
    assert!(attack["technique"]["uid"].as_str().unwrap().starts_with("T1110"), "{attack}");
    let observed = last["anomaly_analyses"][0]["anomalies"][0]["observations"][0]["value"].as_str().unwrap();
    assert!(observed.contains("distinct rejected keys from 203.0.113.0/24"), "{observed}");

    // The benign failures raise nothing about their networks, and the keys tried are no one's:
    // no finding names them.
    for r in &records {
        let text = r.to_string();
        assert!(!text.contains("198.51.100.0/24") && !text.contains("192.0.2.0/24"), "{text}");
    }
    // No raw key value anywhere in what the binary wrote.
    for raw in ["sk_live_guess_", "retired-old-key", "live-key-"] {
        assert!(!all_output.contains(raw), "raw key {raw} in the output");
    }
}

/// The same log without the spray: no key-spray finding at all.
#[test]
fn without_the_spray_the_benign_failures_raise_nothing() {
    let dir = scratch("benign");
    let log: String =
        gateway_log().lines().filter(|l| !l.contains("sk_live_guess_")).map(|l| format!("{l}\n")).collect();
    let (records, _, _) = replay(&dir, &log);
    let sprays = records.iter().filter(|r| r["finding_info"]["analytic"]["name"] == "key_spray").count();
    assert_eq!(sprays, 0);
}

/// Varied worlds, through the engine and aggregator (the replay's path without the file): 12
/// seeded worlds of 100 credentials over 3 days (3,600 credential-days), with the benign
/// failures a gateway sees (typos everywhere, most on shared NAT networks; clients retrying one
/// stale key; clients with no token; keys rotated while their old copies are still in use) and
/// two sprays each, slow to fast, some with a few leaked keys that work. Every spray found at
/// Medium or above; at most 1 false High per 1,000 credential-days (the issue's target).
#[test]
fn varied_worlds_find_the_sprays_and_raise_no_false_high() {
    use credence_detect::{DetectConfig, Engine, KeySpace, LearnPolicy, Severity};
    use credence_event::{CredentialKind, Event, Outcome, Pseudonymizer};
    use credence_finding::{Activity, Aggregator};
    use rand::{Rng, SeedableRng};

    const HOUR: i64 = 3_600_000;
    const DAYS: i64 = 3;
    const CREDS: usize = 100;
    let p = Pseudonymizer::insecure_demo();
    let (mut sprays_total, mut sprays_found, mut false_high, mut false_medium) = (0, 0, 0, 0);
    for seed in 0..12u64 {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let mut engine = Engine::new(DetectConfig::default(), KeySpace::new([9; 16]));
        let mut agg = Aggregator::new(HOUR, Severity::Low);
        // (time, ip, key or None, status)
        let mut events: Vec<(i64, String, Option<String>, u16)> = Vec::new();
        let nats = ["192.0.2.", "198.18.0.", "198.18.1."];
        let home: Vec<String> = (0..CREDS)
            .map(|c| {
                if rng.gen_bool(0.35) {
                    format!("{}{}", nats[rng.gen_range(0..3)], rng.gen_range(1..250))
                } else {
                    format!("100.{}.{}.{}", 64 + c % 60, rng.gen_range(0..250), rng.gen_range(1..250))
                }
            })
            .collect();
        // Up to one request in 25 a wrong key: on a busy NAT (its users call 20 to 60 times an
        // hour each) that is one or two distinct wrong keys a minute, enough to reach the
        // distinct-key threshold in a window; only the share of successes tells it from a spray.
        let typo_rate = rng.gen_range(0.01..0.04);
        let mut typo = 0;
        for (c, ip) in home.iter().enumerate() {
            let behind_nat = nats.iter().any(|n| ip.starts_with(n));
            let per_hour = if behind_nat { rng.gen_range(20..60) } else { rng.gen_range(2..12) };
            for _ in 0..(per_hour * 24 * DAYS) {
                let t = T0 + rng.gen_range(0..DAYS * 24 * HOUR);
                if rng.gen_bool(typo_rate) {
                    typo += 1;
                    events.push((t - 2_000, ip.clone(), Some(format!("typo-{seed}-{typo}")), 401));
                }
                events.push((t, ip.clone(), Some(format!("live-{seed}-{c}")), 200));
            }
        }
        // Clients retrying one stale key, and clients with no token, for hours.
        for k in 0..rng.gen_range(1..4) {
            let (start, every) = (T0 + rng.gen_range(0..60 * HOUR), rng.gen_range(5_000..30_000));
            let ip = format!("100.{}.9.{k}", 64 + k);
            for i in 0..(rng.gen_range(1..6) * HOUR / every) {
                events.push((start + i * every, ip.clone(), Some(format!("stale-{seed}-{k}")), 401));
                let none_ip = format!("100.{}.10.{k}", 64 + k);
                events.push((start + i * every + 7, none_ip, None, 401));
            }
        }
        // A team rotates 20 keys at once; its old copies keep failing from its network for 20
        // minutes: known credentials, judged by their own baselines, not a spray.
        let rotate_at = T0 + 50 * HOUR;
        for (c, ip) in home.iter().enumerate().take(20) {
            let key = format!("live-{seed}-{c}");
            events.retain(|e| !(e.2.as_deref() == Some(key.as_str()) && e.0 > rotate_at));
            for i in 0..20 {
                events.push((rotate_at + i * 60_000 + c as i64, ip.clone(), Some(key.clone()), 401));
            }
        }
        // Two sprays: 2 to 60 guessed keys a minute for 10 to 30 minutes from one /24 (the
        // second from behind a NAT the world's users share), a few of them leaked keys that work.
        let mut spray_nets = Vec::new();
        for s in 0..2 {
            let net = if s == 0 { format!("203.0.{}.", 100 + seed) } else { nats[seed as usize % 3].to_string() };
            let start = T0 + rng.gen_range(24 * HOUR..(DAYS * 24 - 1) * HOUR);
            let (rate, mins) = (rng.gen_range(2..60), rng.gen_range(10..30));
            for m in 0..mins {
                for k in 0..rate {
                    let t = start + m * 60_000 + k * 60_000 / rate;
                    let ip = format!("{net}{}", 200 + k % 5);
                    let leaked = rng.gen_bool(0.01);
                    let key = if leaked {
                        format!("live-{seed}-{}", rng.gen_range(20..CREDS))
                    } else {
                        format!("guess-{seed}-{s}-{m}-{k}")
                    };
                    events.push((t, ip, Some(key), if leaked { 200 } else { 401 }));
                }
            }
            spray_nets.push((format!("{net}0/24"), start, start + mins * 60_000));
        }
        events.sort_by_key(|e| e.0);
        let mut found = vec![false; spray_nets.len()];
        for (t, ip, key, status) in &events {
            let mut e = Event::new(*t, p.credential(key.as_deref().unwrap_or("")), "GET /v1/orders");
            e.credential_kind = if key.is_some() { CredentialKind::ApiKey } else { CredentialKind::Missing };
            e.outcome = Outcome::from_http_status(*status);
            e.http_status = Some(*status);
            e.origin.ip = Some(ip.parse().unwrap());
            let v = engine.process(&e, LearnPolicy::Default);
            let Some(u) = agg.observe(&e, &v) else { continue };
            if u.activity == Activity::Close || u.finding.primary() != credence_detect::Detector::KeySpray {
                continue;
            }
            let net = u.finding.principal.clone().unwrap_or_default();
            let hit = spray_nets.iter().position(|(n, a, b)| *n == net && (*a..=*b + 600_000).contains(t));
            match hit {
                Some(i) => found[i] = true,
                None if u.finding.severity >= Severity::High => false_high += 1,
                None if u.activity == Activity::Create => false_medium += 1,
                None => {}
            }
        }
        sprays_total += found.len();
        sprays_found += found.iter().filter(|f| **f).count();
    }
    let credential_days = (12 * CREDS as i64 * DAYS) as f64;
    let per_1000 = false_high as f64 * 1000.0 / credential_days;
    eprintln!(
        "key spray on 12 varied worlds: recall {sprays_found}/{sprays_total}; false High {false_high} ({per_1000:.2} per 1,000 credential-days); false Medium {false_medium}"
    );
    assert_eq!(sprays_found, sprays_total, "every spray found");
    assert!(per_1000 <= 1.0, "{false_high} false High findings in {credential_days} credential-days");
}

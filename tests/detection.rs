//! Detection quality, end to end: the real `credence demo` binary runs the simulator's labelled
//! stream (2,000 credentials over 14 days, 6 incidents of every kind, every benign confounder)
//! through decode, scoring and aggregation for each of the twelve seeds of docs/DETECTION.md
//! (`scripts/eval-seeds.sh` prints the same figures in full), and their JSON reports are held to
//! the floors. One seed holds six incidents of a kind, too few for a recall floor of 0.9 to mean
//! anything (5 of 6 is 0.83); the twelve hold 72 of each kind.
//!
//! Then the held-out worlds (`credence demo --world N`, `scripts/eval-worlds.sh`): populations,
//! vocabularies and attacks unlike the demo's, never looked at while the detectors were tuned,
//! held to floors of their own.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Recall every incident kind must reach, over the twelve seeds together.
const MIN_RECALL: f64 = 0.9;
/// Share of findings of Medium or above that must point at a real incident, on every seed: the
/// issue's (19) definition of precision, as the held-out worlds are held to it.
const MIN_PRECISION_MEDIUM: f64 = 0.85;
/// Share of all findings, Low included, that must point at a real incident, on every seed. Was 0.8
/// before the hour-scale, cadence-relative and corroborating detectors of issue 19: they add Low
/// findings (dormancy just past its 4-day floor on people and app installs, downloads of 5 MB or
/// more) that are evidence, not pages; measured 76.5–88.6% over the twelve seeds at 0be28f0.
const MIN_PRECISION: f64 = 0.75;
/// The seeds the detectors were built on (the default first), then six held out.
const SEEDS: [u64; 12] = [12648430, 7, 99, 2024, 1, 2, 3, 4, 5, 6, 8, 9];

/// The held-out worlds the test runs (the first of `scripts/eval-worlds.sh`'s, whose figures
/// docs/DETECTION.md quotes).
const HELD_OUT_WORLDS: [u64; 4] = [101, 102, 103, 104];
/// Recall every incident kind must reach over the held-out worlds: (any finding, a finding at
/// Medium or above). The target is 0.9 at Medium or above for every kind; where a kind
/// does not reach it yet the floor is what it measured on these worlds (2026-12-07, rounded
/// down; docs/DETECTION.md), so a change that loses ground fails here: slow exfiltration of 2–3x
/// responses over 6–28 hours (12/24, none at Medium), rate bursts (21/24, 15 at Medium), dormant
/// keys (23/24, 17 at Medium), expired-token storms (operational findings are Low by design).
const WORLD_MIN_RECALL: &[(&str, f64, f64)] = &[
    ("slow_exfiltration", 0.45, 0.0),
    ("rate_burst", 0.85, 0.6),
    ("dormant_reactivation", 0.9, 0.7),
    ("expired_token_storm", 0.9, 0.85),
];
/// Recall of the other kinds, (any finding, at Medium or above): the target.
const WORLD_MIN_RECALL_OTHERS: (f64, f64) = (0.9, 0.9);
/// Share of the findings at Medium or above that are on a real incident, over the held-out
/// worlds.
const WORLD_MIN_PRECISION_MEDIUM: f64 = 0.85;
/// False High or Critical findings per 1,000 credential-days, over the held-out worlds.
const WORLD_MAX_FALSE_HIGH_PER_1000: f64 = 2.0;
/// Credential-days of one world as the test runs it (the demo's size).
const WORLD_CREDENTIAL_DAYS: f64 = 2_000.0 * 14.0;

/// `credence demo <flag> <n>`'s JSON report.
fn run_demo(flag: &str, n: u64, dir: &Path) -> Value {
    let report = dir.join(format!("{}-{n}.json", flag.trim_start_matches('-')));
    let out = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["demo", "--quiet", flag, &n.to_string(), "--report-json"])
        .arg(&report)
        .output()
        .expect("credence demo runs");
    assert!(out.status.success(), "demo ({flag} {n}) failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap()
}

/// The demo's report for every seed (`--seed`) or world (`--world`), as many at a time as there
/// are cores.
fn reports(flag: &'static str, which: &[u64]) -> Vec<(u64, Value)> {
    let dir = std::env::temp_dir().join(format!("credence-detection{flag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let at_once = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut reports = Vec::new();
    let dir = dir.as_path();
    for chunk in which.chunks(at_once) {
        std::thread::scope(|s| {
            let runs: Vec<_> = chunk.iter().map(|&n| (n, s.spawn(move || run_demo(flag, n, dir)))).collect();
            reports.extend(runs.into_iter().map(|(n, h)| (n, h.join().expect("demo thread"))));
        });
    }
    std::fs::remove_dir_all(dir).ok();
    reports
}

#[test]
fn held_out_worlds_are_detected_within_their_floors() {
    let mut failures = Vec::new();
    // Incident kind -> (detected, detected at Medium or above, injected), over the worlds.
    let mut kinds: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let (mut medium, mut medium_on_incident, mut high_false) = (0.0, 0.0, 0u64);
    for (world, r) in reports("--world", &HELD_OUT_WORLDS) {
        for row in r["incidents"].as_array().unwrap() {
            let k = kinds.entry(row["kind"].as_str().unwrap().to_owned()).or_default();
            k.0 += row["detected"].as_u64().unwrap();
            k.1 += row["detected_medium"].as_u64().unwrap();
            k.2 += row["incidents"].as_u64().unwrap();
        }
        let m = r["findings_medium"].as_f64().unwrap();
        medium += m;
        medium_on_incident += m * r["precision_medium"].as_f64().unwrap();
        high_false += r["high_severity_false"].as_u64().unwrap();
        eprintln!(
            "world {world:>4}: precision at Medium+ {:.1}% ({} findings), false High/Critical {}, missed {}",
            100.0 * r["precision_medium"].as_f64().unwrap(),
            r["findings_medium"],
            r["high_severity_false"],
            r["missed"]
        );
    }
    assert_eq!(kinds.len(), 12, "every incident kind is in the reports");
    for (kind, &(found, medium, n)) in &kinds {
        let (recall, recall_medium) = (found as f64 / n.max(1) as f64, medium as f64 / n.max(1) as f64);
        eprintln!("{kind:<24} {found:>3}/{n:<3} {:5.1}%, at Medium+ {:5.1}%", 100.0 * recall, 100.0 * recall_medium);
        let (min, min_medium) =
            WORLD_MIN_RECALL.iter().find(|f| f.0 == kind).map_or(WORLD_MIN_RECALL_OTHERS, |f| (f.1, f.2));
        if n == 0 || recall < min || recall_medium < min_medium {
            failures.push(format!(
                "{kind}: recall {recall:.3}, at Medium+ {recall_medium:.3} ({found} and {medium} of {n}) < {min}, {min_medium}"
            ));
        }
    }
    let precision = medium_on_incident / medium.max(1.0);
    if precision < WORLD_MIN_PRECISION_MEDIUM {
        failures.push(format!("precision at Medium+ {precision:.3} < {WORLD_MIN_PRECISION_MEDIUM}"));
    }
    let per_1000 = 1000.0 * high_false as f64 / (WORLD_CREDENTIAL_DAYS * HELD_OUT_WORLDS.len() as f64);
    if per_1000 > WORLD_MAX_FALSE_HIGH_PER_1000 {
        failures.push(format!(
            "{per_1000:.2} false High/Critical per 1,000 credential-days > {WORLD_MAX_FALSE_HIGH_PER_1000}"
        ));
    }
    assert!(failures.is_empty(), "held-out world floors broken: {failures:#?}");
}

#[test]
fn simulated_incidents_are_detected_with_few_false_alarms() {
    let mut failures = Vec::new();
    // Incident kind -> (detected, injected), over all seeds.
    let mut kinds: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (seed, r) in reports("--seed", &SEEDS) {
        let incidents = r["incidents"].as_array().unwrap();
        assert_eq!(incidents.len(), 12, "seed {seed}: every incident kind is in the report");
        for row in incidents {
            let n = row["incidents"].as_u64().unwrap();
            assert!(n >= 6, "seed {seed}: only {n} incidents of {} injected", row["kind"]);
            let k = kinds.entry(row["kind"].as_str().unwrap().to_owned()).or_default();
            k.0 += row["detected"].as_u64().unwrap();
            k.1 += n;
        }
        let precision = r["precision"].as_f64().unwrap();
        eprintln!(
            "seed {seed:>8}: precision {:.1}% ({} findings), missed {}",
            100.0 * precision,
            r["findings"],
            r["missed"]
        );
        if precision < MIN_PRECISION {
            failures.push(format!("seed {seed}: precision {precision:.3} < {MIN_PRECISION}"));
        }
        let precision_medium = r["precision_medium"].as_f64().unwrap();
        eprintln!(
            "seed {seed:>8}: precision at Medium+ {:.1}% ({} findings)",
            100.0 * precision_medium,
            r["findings_medium"]
        );
        if precision_medium < MIN_PRECISION_MEDIUM {
            failures.push(format!("seed {seed}: precision at Medium+ {precision_medium:.3} < {MIN_PRECISION_MEDIUM}"));
        }
        for row in r["confounders"].as_array().unwrap() {
            assert!(row["instances"].as_u64().unwrap() >= 1, "seed {seed}: {row}");
            if row["high_severity_findings"] != 0 {
                failures.push(format!("seed {seed}: a benign confounder raised a high-severity finding: {row}"));
            }
        }
        if r["high_severity_unmatched"] != 0 {
            failures.push(format!("seed {seed}: {} high-severity false alarms", r["high_severity_unmatched"]));
        }
    }
    for (kind, (found, n)) in &kinds {
        let recall = *found as f64 / *n as f64;
        eprintln!("{kind:<24} {found:>3}/{n:<3} {:5.1}%", 100.0 * recall);
        if recall < MIN_RECALL {
            failures.push(format!("{kind}: recall {recall:.3} ({found}/{n}) < {MIN_RECALL}"));
        }
    }
    assert!(failures.is_empty(), "detection floors broken: {failures:#?}");
}

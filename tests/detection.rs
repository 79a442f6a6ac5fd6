//! Detection quality, end to end: the real `credence demo` binary runs the simulator's labelled
//! stream (2,000 credentials over 14 days, 6 incidents of every kind, every benign confounder)
//! through decode, scoring and aggregation for each of the twelve seeds of docs/DETECTION.md
//! (`scripts/eval-seeds.sh` prints the same figures in full), and their JSON reports are held to
//! the floors. One seed holds six incidents of a kind, too few for a recall floor of 0.9 to mean
//! anything (5 of 6 is 0.83); the twelve hold 72 of each kind.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Recall every incident kind must reach, over the twelve seeds together.
const MIN_RECALL: f64 = 0.9;
/// Share of findings that must point at a real incident, on every seed.
const MIN_PRECISION: f64 = 0.8;
/// The seeds the detectors were built on (the default first), then six held out.
const SEEDS: [u64; 12] = [12648430, 7, 99, 2024, 1, 2, 3, 4, 5, 6, 8, 9];

fn run_demo(seed: u64, dir: &Path) -> Value {
    let report = dir.join(format!("{seed}.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["demo", "--quiet", "--seed", &seed.to_string(), "--report-json"])
        .arg(&report)
        .output()
        .expect("credence demo runs");
    assert!(out.status.success(), "demo (seed {seed}) failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap()
}

/// The demo's report for every seed, as many at a time as there are cores.
fn reports() -> Vec<(u64, Value)> {
    let dir = std::env::temp_dir().join(format!("credence-detection-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let at_once = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut reports = Vec::new();
    let dir = dir.as_path();
    for chunk in SEEDS.chunks(at_once) {
        std::thread::scope(|s| {
            let runs: Vec<_> = chunk.iter().map(|&seed| (seed, s.spawn(move || run_demo(seed, dir)))).collect();
            reports.extend(runs.into_iter().map(|(seed, h)| (seed, h.join().expect("demo thread"))));
        });
    }
    std::fs::remove_dir_all(dir).ok();
    reports
}

#[test]
fn simulated_incidents_are_detected_with_few_false_alarms() {
    let mut failures = Vec::new();
    // Incident kind -> (detected, injected), over all seeds.
    let mut kinds: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (seed, r) in reports() {
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

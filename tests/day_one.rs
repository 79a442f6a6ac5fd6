//! The day-one layer (the risk catalogue's `risky_operation` and the temporary-credential
//! binding's `stolen_session`) against false alarms: the simulator's demo world (2,000 credentials over 14
//! days, every incident kind and benign confounder; `credence demo`) streamed from its first
//! minute, when every credential is new, through the real decoder, engine and aggregator. A
//! fresh deployment sees exactly this: workloads reading their secrets, pipelines deploying,
//! people at work, service roles and CI jobs on temporary keys. Findings that carry a day-one
//! detector and point at no injected incident are its false alarms; issue 18 allows each at most
//! one High or Critical per 1,000 credential-days.
//!
//! Two worlds: the default seed and seed 3 (held out from the detectors' design in
//! docs/DETECTION.md), one per core.

use credence_detect::{DetectConfig, Detector, Engine, KeySpace, Severity};
use credence_event::lifecycle::LifecycleEvent;
use credence_event::{Decoder, Format, Pseudonymizer};
use credence_finding::pipeline::{Output, Pipeline};
use credence_finding::{aggregate::DEFAULT_WINDOW_MS, Aggregator, Finding};
use credence_sim::eval::{Evaluation, ObservedFinding};
use credence_sim::{SimConfig, SimItem, Simulator};

/// The bound of issue 18: false High/Critical findings the new layer may add per 1,000
/// credential-days.
const MAX_FALSE_HIGH_PER_1000_CREDENTIAL_DAYS: f64 = 1.0;
/// The same bound on its false findings of any severity: Medium ones cost an analyst's time too,
/// and a catalogue that rates a start-up call (a secret read, a deployment) Medium on a new
/// credential raised 46 of them on the first day of the default world (precision 60%).
const MAX_FALSE_PER_1000_CREDENTIAL_DAYS: f64 = 1.0;

/// The day-one detectors, each held to the bounds on its own.
const DAY_ONE: [Detector; 2] = [Detector::RiskyOperation, Detector::StolenSession];

/// What one world gave.
#[derive(Debug, Default)]
struct Tally {
    credential_days: f64,
    findings: u64,
    /// One per [`DAY_ONE`] detector.
    day_one: [Layer; 2],
}

/// What one day-one detector raised in one world.
#[derive(Debug, Default)]
struct Layer {
    /// Findings carrying the detector.
    findings: u64,
    /// Of which on no incident, by severity at close.
    false_alarms: Vec<Severity>,
    /// Incident findings carrying it.
    on_incidents: u64,
}

fn run(seed: u64) -> Tally {
    let cfg = SimConfig { seed, ..SimConfig::default() };
    let sim = Simulator::new(cfg.clone());
    let truth = sim.truth().clone();
    let p = Pseudonymizer::insecure_demo();
    let eval = Evaluation::new(&truth, &p);
    // As `credence demo` configures detection: dormancy as the simulator labels it.
    let detect = DetectConfig { dormancy_secs: (cfg.dormancy_days * 86_400.0) as u32, ..DetectConfig::default() };
    let engine = Engine::new(detect, KeySpace::from_pseudonymizer(&p));
    let mut pipeline =
        Pipeline::new(Decoder::new(Format::Ocsf, p.clone()), engine, Aggregator::new(DEFAULT_WINDOW_MS, Severity::Low));
    let mut tally = Tally { credential_days: f64::from(cfg.credentials) * f64::from(cfg.days), ..Tally::default() };
    let mut closed: Vec<Finding> = Vec::new();
    let mut buf = Vec::with_capacity(1024);
    for item in sim {
        let now = item.time_ms();
        match item {
            SimItem::Event(e) => {
                e.write_json(&mut buf);
                // A live feed: each event arrives at its own time.
                pipeline.process_at(&buf, Some(now), &mut |o| {
                    if let Output::Closed(f) = o {
                        closed.push(f);
                    }
                });
            }
            SimItem::Lifecycle(l) => {
                let line = serde_json::to_string(&l.record()).unwrap();
                if let Ok(ev) = LifecycleEvent::decode(&line, &p) {
                    pipeline.lifecycle(&ev);
                }
            }
        }
    }
    pipeline.finish(&mut |o| {
        if let Output::Closed(f) = o {
            closed.push(f);
        }
    });
    for f in &closed {
        tally.findings += 1;
        let carried: Vec<usize> = (0..DAY_ONE.len()).filter(|&i| f.detectors().any(|d| d == DAY_ONE[i])).collect();
        if carried.is_empty() {
            continue;
        }
        let names: Vec<&str> = f.detectors().map(|d| d.as_str()).collect();
        let seen = ObservedFinding {
            credential: f.credential,
            subject: f.subject,
            first_time_ms: f.first_ms,
            last_time_ms: f.last_ms,
            severity: f.severity.id(),
            detectors: &names,
        };
        let incident = eval.matches(&seen).iter().any(|&id| truth.label(id).is_some_and(|l| !l.kind.is_confounder()));
        for i in carried {
            let layer = &mut tally.day_one[i];
            layer.findings += 1;
            if incident {
                layer.on_incidents += 1;
            } else {
                layer.false_alarms.push(f.severity);
            }
        }
    }
    tally
}

#[test]
fn the_day_one_layer_adds_few_false_alarms_to_a_fresh_deployment() {
    let seeds = [SimConfig::default().seed, 3];
    let tallies: Vec<(u64, Tally)> = std::thread::scope(|s| {
        let runs: Vec<_> = seeds.iter().map(|&seed| (seed, s.spawn(move || run(seed)))).collect();
        runs.into_iter().map(|(seed, h)| (seed, h.join().expect("world thread"))).collect()
    });
    let mut failures = Vec::new();
    for (seed, t) in &tallies {
        for (detector, layer) in DAY_ONE.iter().zip(&t.day_one) {
            let name = detector.as_str();
            let high = layer.false_alarms.iter().filter(|s| **s >= Severity::High).count();
            let per_1000 = |n: usize| 1_000.0 * n as f64 / t.credential_days;
            eprintln!(
                "seed {seed}: {} findings, {} with {name} ({} on incidents); false: {} ({} High or Critical) over {:.0} credential-days: {:.2} and {:.2} per 1,000",
                t.findings,
                layer.findings,
                layer.on_incidents,
                layer.false_alarms.len(),
                high,
                t.credential_days,
                per_1000(layer.false_alarms.len()),
                per_1000(high),
            );
            if per_1000(high) > MAX_FALSE_HIGH_PER_1000_CREDENTIAL_DAYS {
                failures.push(format!(
                    "seed {seed}: {high} false High/Critical {name} findings ({:.2} per 1,000 credential-days)",
                    per_1000(high)
                ));
            }
            if per_1000(layer.false_alarms.len()) > MAX_FALSE_PER_1000_CREDENTIAL_DAYS {
                let mut by_severity = layer.false_alarms.clone();
                by_severity.sort();
                by_severity.dedup();
                let counts: Vec<String> = by_severity
                    .iter()
                    .map(|s| format!("{} {}", layer.false_alarms.iter().filter(|x| *x == s).count(), s.as_str()))
                    .collect();
                failures.push(format!("seed {seed}: false {name} findings: {}", counts.join(", ")));
            }
        }
        // The privilege-escalation incidents make catalogued calls: the layer must see them.
        if t.day_one[0].on_incidents == 0 {
            failures
                .push(format!("seed {seed}: the day-one layer raised nothing on the injected privilege escalations"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

//! The day-one layer against false alarms: the simulator's demo world (2,000 credentials over 14
//! days, every incident kind and benign confounder; `credence demo`) streamed from its first
//! minute, when every credential is new, through the real decoder, engine and aggregator. A
//! fresh deployment sees exactly this: workloads reading their secrets, pipelines deploying,
//! people at work. Findings that carry the day-one detector and point at no injected incident
//! are its false alarms; issue 18 allows at most one High or Critical per 1,000 credential-days.
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

/// What one world gave.
#[derive(Debug, Default)]
struct Tally {
    credential_days: f64,
    findings: u64,
    /// Findings carrying the day-one detector.
    day_one: u64,
    /// Of which on no incident, by severity at close.
    day_one_false: Vec<Severity>,
    /// Incident findings carrying it.
    day_one_on_incidents: u64,
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
        if !f.detectors().any(|d| d == Detector::RiskyOperation) {
            continue;
        }
        tally.day_one += 1;
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
        if incident {
            tally.day_one_on_incidents += 1;
        } else {
            tally.day_one_false.push(f.severity);
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
        let high = t.day_one_false.iter().filter(|s| **s >= Severity::High).count();
        let per_1000 = |n: usize| 1_000.0 * n as f64 / t.credential_days;
        eprintln!(
            "seed {seed}: {} findings, {} with risky_operation ({} on incidents); false: {} ({} High or Critical) over {:.0} credential-days: {:.2} and {:.2} per 1,000",
            t.findings,
            t.day_one,
            t.day_one_on_incidents,
            t.day_one_false.len(),
            high,
            t.credential_days,
            per_1000(t.day_one_false.len()),
            per_1000(high),
        );
        if per_1000(high) > MAX_FALSE_HIGH_PER_1000_CREDENTIAL_DAYS {
            failures.push(format!(
                "seed {seed}: {high} false High/Critical day-one findings ({:.2} per 1,000 credential-days)",
                per_1000(high)
            ));
        }
        if per_1000(t.day_one_false.len()) > MAX_FALSE_PER_1000_CREDENTIAL_DAYS {
            failures.push(format!(
                "seed {seed}: {} false day-one findings: {:?}",
                t.day_one_false.len(),
                t.day_one_false
            ));
        }
        // The privilege-escalation incidents make catalogued calls: the layer must see them.
        if t.day_one_on_incidents == 0 {
            failures
                .push(format!("seed {seed}: the day-one layer raised nothing on the injected privilege escalations"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

//! End-to-end properties of the simulated stream.

use std::collections::{HashMap, HashSet};

use credence_event::lifecycle::LifecycleAction;
use credence_event::{Decoder, Format, Pseudonymizer};
use credence_sim::{ScenarioKind, SimConfig, SimItem, Simulator};

fn json(item: &SimItem) -> String {
    match item {
        SimItem::Event(e) => serde_json::to_string(&e.record()).unwrap(),
        SimItem::Lifecycle(l) => serde_json::to_string(&l.record()).unwrap(),
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = SimConfig::small();
    let a: Vec<String> = Simulator::new(cfg.clone()).take(10_000).map(|i| json(&i)).collect();
    let b: Vec<String> = Simulator::new(cfg.clone()).take(10_000).map(|i| json(&i)).collect();
    assert_eq!(a.len(), 10_000);
    assert!(a == b, "same seed must give identical records");
    assert_eq!(Simulator::new(cfg.clone()).truth(), Simulator::new(cfg.clone()).truth());
    let c: Vec<String> = Simulator::new(cfg.with_seed(7)).take(100).map(|i| json(&i)).collect();
    assert_ne!(a[..100], c[..]);
}

#[test]
fn truth_has_every_kind_up_front() {
    let cfg = SimConfig::small();
    let sim = Simulator::new(cfg.clone());
    let truth = sim.truth();
    for kind in ScenarioKind::INCIDENTS {
        let n = truth.of_kind(kind).count();
        assert_eq!(n, cfg.incidents_per_kind as usize, "{kind}: {n} incidents");
        assert!(!kind.is_confounder());
    }
    for kind in ScenarioKind::CONFOUNDERS {
        let n = truth.of_kind(kind).count();
        assert!(n >= 1, "{kind} missing");
        assert!(kind.is_confounder());
    }
    for (i, l) in truth.labels.iter().enumerate() {
        assert_eq!(l.id as usize, i);
        assert!(l.start_ms <= l.end_ms, "{l:?}");
        assert!(l.start_ms >= truth.start_ms && l.end_ms <= truth.end_ms + 3 * 86_400_000, "{l:?}");
        assert!(l.population_wide || !l.credentials.is_empty() || !l.subjects.is_empty(), "{l:?}");
        if !l.kind.is_confounder() {
            assert!(l.injected_events > 0, "{l:?}");
            assert!(l.principal.is_some() && l.peer_group.is_some());
        }
    }
    // Incident victims are distinct credentials.
    let mut victims = HashSet::new();
    for l in truth.incidents() {
        assert!(victims.insert(l.principal.clone().unwrap()), "victim reused: {l:?}");
    }
    let text = serde_json::to_string(truth).unwrap();
    assert_eq!(&serde_json::from_str::<credence_sim::Truth>(&text).unwrap(), truth);
}

/// One pass over the whole small stream checking ordering, labels, lifecycle consistency and
/// decodability.
#[test]
fn small_stream_invariants() {
    let cfg = SimConfig::small();
    let sim = Simulator::new(cfg.clone());
    let truth = sim.truth().clone();
    let decoder = Decoder::new(Format::Ocsf, Pseudonymizer::insecure_demo());
    let (start, end) = (truth.start_ms, truth.end_ms);

    let mut last = i64::MIN;
    let mut uids = HashSet::new();
    let mut per_label = vec![0u32; truth.labels.len()];
    let mut first_labelled: HashMap<u32, i64> = HashMap::new();
    let mut revoked: HashMap<String, i64> = HashMap::new();
    let mut rotated: HashMap<String, i64> = HashMap::new();
    let mut expired: HashMap<String, i64> = HashMap::new();
    let mut last_use: HashMap<String, i64> = HashMap::new();
    let mut events = 0u64;
    let mut statuses: HashMap<u16, u64> = HashMap::new();
    for (n, item) in sim.enumerate() {
        let t = item.time_ms();
        assert!(t >= last, "time went backwards at item {n}: {t} < {last}");
        last = t;
        match item {
            SimItem::Lifecycle(l) => match l.action() {
                LifecycleAction::Revoked => {
                    revoked.insert(l.credential_uid().to_owned(), t);
                }
                LifecycleAction::Rotated => {
                    rotated.insert(l.credential_uid().to_owned(), t);
                }
                LifecycleAction::Expired => {
                    expired.insert(l.credential_uid().to_owned(), t);
                }
                LifecycleAction::Created => {
                    assert!(!last_use.contains_key(l.credential_uid()), "created after first use");
                }
            },
            SimItem::Event(e) => {
                events += 1;
                assert!((start..end).contains(&t));
                assert!(uids.insert(e.uid().to_owned()), "duplicate uid");
                *statuses.entry(e.status()).or_default() += 1;
                let cred = e.credential_uid().to_owned();
                if let Some(label) = e.label() {
                    let l = &truth.labels[label as usize];
                    per_label[label as usize] += 1;
                    first_labelled.entry(label).or_insert(t);
                    if !l.kind.is_confounder() {
                        assert!(l.start_ms <= t && t <= l.end_ms, "{t} outside {l:?}");
                        assert!(l.credentials.contains(&cred), "{cred} not in {l:?}");
                    }
                }
                // A revoked or rotated key is only ever used again by a labelled ghost incident.
                if let Some(&r) = revoked.get(&cred) {
                    let kind = e.label().map(|l| truth.labels[l as usize].kind);
                    assert_eq!(kind, Some(ScenarioKind::GhostCredential), "use after revocation");
                    assert!(t > r);
                }
                assert!(!rotated.contains_key(&cred), "use after rotation");
                if let Some(&x) = expired.get(&cred) {
                    assert!(t > x);
                    assert_eq!(e.status(), 401, "only failures after expiry");
                }
                if let Some(l) = e.label().map(|l| &truth.labels[l as usize]) {
                    if l.kind == ScenarioKind::DormantReactivation {
                        if let Some(&prev) = last_use.get(&cred) {
                            let idle_days = (t - prev) as f64 / 86_400_000.0;
                            assert!(
                                idle_days >= truth.dormancy_days || l.start_ms < prev,
                                "dormant credential idle only {idle_days} days"
                            );
                        }
                    }
                }
                last_use.insert(cred, t);
                if n % 97 == 0 || e.label().is_some() {
                    let line = serde_json::to_vec(&e.record()).unwrap();
                    let decoded = decoder.decode_one(&line).unwrap_or_else(|err| panic!("{err}: {}", e.to_json()));
                    assert_eq!(decoded, e.event(decoder.pseudonymizer()), "direct conversion differs from decoding");
                }
            }
        }
    }
    assert!(events > 150_000 && events < 600_000, "small() produced {events} events");
    // Every incident's events are in the stream, exactly as many as the truth says.
    for l in truth.incidents() {
        assert_eq!(per_label[l.id as usize], l.injected_events, "{l:?}");
    }
    for l in truth.confounders() {
        assert!(per_label[l.id as usize] > 0, "no traffic labelled with confounder {l:?}");
    }
    // Ghost credentials: the revocation precedes the first use.
    for l in truth.of_kind(ScenarioKind::GhostCredential) {
        let r = revoked.get(&l.credentials[0]).expect("ghost credential has a revoked record");
        assert!(*r < first_labelled[&l.id]);
    }
    // Mostly success, some failures of every common kind.
    let ok: u64 = statuses.iter().filter(|(s, _)| **s < 400).map(|(_, n)| n).sum();
    assert!(ok as f64 > 0.95 * events as f64);
    for code in [403, 404, 429, 500, 401] {
        assert!(statuses.contains_key(&code), "no {code}");
    }
}

#[test]
fn tiny_and_odd_configs_do_not_panic() {
    for (credentials, days) in [(0, 1), (1, 1), (5, 2), (20, 3), (40, 5)] {
        let cfg = SimConfig { credentials, days, ..SimConfig::small() };
        let sim = Simulator::new(cfg);
        let mut last = i64::MIN;
        for item in sim {
            assert!(item.time_ms() >= last);
            last = item.time_ms();
        }
    }
}

#[test]
fn write_dir_writes_three_files() {
    let dir = std::env::temp_dir().join(format!("credence-sim-test-{}", std::process::id()));
    let cfg = SimConfig { credentials: 60, days: 6, incidents_per_kind: 1, ..SimConfig::small() };
    let stats = credence_sim::write_dir(&cfg, &dir).unwrap();
    let events = std::fs::read_to_string(dir.join("events.ocsf.jsonl")).unwrap();
    let lifecycle = std::fs::read_to_string(dir.join("lifecycle.jsonl")).unwrap();
    let truth: credence_sim::Truth =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    assert_eq!(events.lines().count() as u64, stats.events);
    assert_eq!(events.len() as u64, stats.event_bytes);
    assert_eq!(lifecycle.lines().count() as u64, stats.lifecycle);
    assert_eq!(truth.labels.len(), stats.labels);
    let p = Pseudonymizer::insecure_demo();
    for line in lifecycle.lines() {
        credence_event::lifecycle::LifecycleEvent::decode(line, &p).unwrap();
    }
    let d = Decoder::new(Format::Ocsf, p);
    for line in events.lines().step_by(50) {
        d.decode_one(line.as_bytes()).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A detector that flags exactly the labelled incident events (one finding per incident, built
/// from the decoded events' pseudonyms) scores perfectly; one that also flags confounder traffic
/// shows up in the confounder rows and loses precision.
#[test]
fn oracle_findings_score_perfectly() {
    use credence_sim::eval::{Evaluation, ObservedFinding};
    let cfg = SimConfig { credentials: 150, days: 8, incidents_per_kind: 2, ..SimConfig::small() };
    let sim = Simulator::new(cfg);
    let truth = sim.truth().clone();
    let p = Pseudonymizer::insecure_demo();
    // label -> (credential, subject, first, last)
    let mut spans: HashMap<u32, (credence_event::Pseudonym, credence_event::Pseudonym, i64, i64)> = HashMap::new();
    for item in sim {
        if let SimItem::Event(e) = item {
            if let Some(l) = e.label() {
                let ev = e.event(&p);
                let s = spans.entry(l).or_insert((ev.credential, ev.subject, ev.time_ms, ev.time_ms));
                s.3 = ev.time_ms;
            }
        }
    }
    let mut eval = Evaluation::new(&truth, &p);
    for l in truth.incidents() {
        let (c, s, a, b) = spans[&l.id];
        eval.add(&ObservedFinding {
            credential: c,
            subject: s,
            first_time_ms: a,
            last_time_ms: b,
            severity: 4,
            detectors: &["oracle"],
        });
    }
    let r = eval.report();
    assert_eq!(r.recall, 1.0, "{r}");
    assert_eq!(r.precision, 1.0, "{r}");
    for row in &r.confounders {
        assert_eq!(row.high_severity_findings, 0, "{r}");
    }
    let conf = truth.confounders().find(|l| !l.population_wide && spans.contains_key(&l.id)).unwrap();
    let (c, s, a, b) = spans[&conf.id];
    let f =
        ObservedFinding { credential: c, subject: s, first_time_ms: a, last_time_ms: b, severity: 5, detectors: &[] };
    eval.add(&f);
    let r = eval.report();
    let row = r.confounders.iter().find(|x| x.kind == conf.kind).unwrap();
    assert_eq!(row.high_severity_findings, 1);
    assert!(r.precision < 1.0);
    println!("{r}");
}

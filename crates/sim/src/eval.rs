//! Scoring a detector's findings against the simulator's truth.
//!
//! Independent of the finding crate: feed each finding as an [`ObservedFinding`] (credential and
//! subject pseudonyms, evidence time range, OCSF `severity_id`, detector names). A finding
//! *matches* a scenario when its credential or subject is one of the scenario's credentials
//! (pseudonymised the way the decoder does) and its time range overlaps the scenario's window
//! extended by a slack after its end.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use credence_event::{Namespace, Pseudonym, Pseudonymizer};
use serde::Serialize;

use crate::config::MINUTE_MS;
use crate::truth::{ScenarioKind, Truth};

/// Default slack after a scenario's end within which a finding still counts.
pub const DEFAULT_SLACK_MS: i64 = 30 * MINUTE_MS;

/// OCSF `severity_id` at and above which a finding is high severity (4 High, 5 Critical, 6 Fatal).
pub const HIGH_SEVERITY: u8 = 4;
/// OCSF `severity_id` of Medium.
pub const MEDIUM_SEVERITY: u8 = 3;

/// One finding as the evaluation sees it.
#[derive(Clone, Copy, Debug)]
pub struct ObservedFinding<'a> {
    /// Pseudonym of the credential the finding is about.
    pub credential: Pseudonym,
    /// Pseudonym of the subject (the credential, or the session it rolls up to).
    pub subject: Pseudonym,
    /// Time of the first evidence event, epoch ms.
    pub first_time_ms: i64,
    /// Time of the last evidence event, epoch ms.
    pub last_time_ms: i64,
    /// OCSF `severity_id`, 1..=6.
    pub severity: u8,
    /// Names of the detectors that contributed.
    pub detectors: &'a [&'a str],
}

#[derive(Clone, Debug, Default)]
struct Hits {
    findings: u64,
    medium: u64,
    high: u64,
    detectors: BTreeMap<String, u64>,
}

/// Accumulates findings against a truth table.
#[derive(Debug)]
pub struct Evaluation {
    labels: Vec<(ScenarioKind, i64, i64, bool)>,
    by_pseudonym: HashMap<Pseudonym, Vec<u32>>,
    population_wide: Vec<u32>,
    hits: Vec<Hits>,
    slack_ms: i64,
    findings: u64,
    on_incident: u64,
    on_confounder_only: u64,
    high_unmatched: u64,
    /// Findings at Medium or above, and those of them on an incident.
    findings_medium: u64,
    on_incident_medium: u64,
    /// High or Critical findings on no incident (on a confounder or on nothing).
    high_false: u64,
    /// Findings on no incident by the detector that raised them (the strongest).
    false_alarms_by: BTreeMap<String, u64>,
}

impl Evaluation {
    /// Indexes `truth` under `pseudonymizer` (use the one the detector's decoder used).
    pub fn new(truth: &Truth, pseudonymizer: &Pseudonymizer) -> Evaluation {
        let mut by_pseudonym: HashMap<Pseudonym, Vec<u32>> = HashMap::new();
        let mut population_wide = Vec::new();
        for l in &truth.labels {
            if l.population_wide {
                population_wide.push(l.id);
            }
            let creds = l.credentials.iter().map(|c| pseudonymizer.credential(c));
            let subjects = l.subjects.iter().map(|s| pseudonymizer.pseudonymize(Namespace::Session, s));
            for p in creds.chain(subjects) {
                let ids = by_pseudonym.entry(p).or_default();
                if !ids.contains(&l.id) {
                    ids.push(l.id);
                }
            }
        }
        Evaluation {
            labels: truth.labels.iter().map(|l| (l.kind, l.start_ms, l.end_ms, l.population_wide)).collect(),
            by_pseudonym,
            population_wide,
            hits: vec![Hits::default(); truth.labels.len()],
            slack_ms: DEFAULT_SLACK_MS,
            findings: 0,
            on_incident: 0,
            on_confounder_only: 0,
            high_unmatched: 0,
            findings_medium: 0,
            on_incident_medium: 0,
            high_false: 0,
            false_alarms_by: BTreeMap::new(),
        }
    }

    /// Sets the slack after a scenario's end (default [`DEFAULT_SLACK_MS`]).
    pub fn with_slack_ms(mut self, slack_ms: i64) -> Evaluation {
        self.slack_ms = slack_ms.max(0);
        self
    }

    /// The scenario ids a finding matches.
    pub fn matches(&self, f: &ObservedFinding<'_>) -> Vec<u32> {
        let mut ids: Vec<u32> = Vec::new();
        for p in [f.credential, f.subject] {
            if let Some(v) = self.by_pseudonym.get(&p) {
                ids.extend(v.iter().copied());
            }
        }
        ids.extend(self.population_wide.iter().copied());
        ids.sort_unstable();
        ids.dedup();
        let (a, b) = (f.first_time_ms.min(f.last_time_ms), f.first_time_ms.max(f.last_time_ms));
        ids.retain(|&id| {
            let (_, start, end, _) = self.labels[id as usize];
            a <= end + self.slack_ms && start <= b
        });
        ids
    }

    /// Records one finding.
    pub fn add(&mut self, f: &ObservedFinding<'_>) {
        self.findings += 1;
        let ids = self.matches(f);
        let high = f.severity >= HIGH_SEVERITY;
        let medium = f.severity >= MEDIUM_SEVERITY;
        self.findings_medium += u64::from(medium);
        // A finding on an incident is the incident's, even when it overlaps a confounder (a
        // population-wide surge matches every finding in its hours): only findings on no
        // incident count against a confounder.
        let incident = ids.iter().any(|&id| !self.labels[id as usize].0.is_confounder());
        for &id in &ids {
            if incident && self.labels[id as usize].0.is_confounder() {
                continue;
            }
            let h = &mut self.hits[id as usize];
            h.findings += 1;
            h.medium += u64::from(medium);
            h.high += u64::from(high);
            for d in f.detectors {
                *h.detectors.entry((*d).to_owned()).or_insert(0) += 1;
            }
        }
        if incident {
            self.on_incident += 1;
            self.on_incident_medium += u64::from(medium);
            return;
        }
        self.high_false += u64::from(high);
        if ids.is_empty() {
            self.high_unmatched += u64::from(high);
        } else {
            self.on_confounder_only += 1;
        }
        let primary = f.detectors.first().copied().unwrap_or("none");
        *self.false_alarms_by.entry(primary.to_owned()).or_insert(0) += 1;
    }

    /// The scores so far.
    pub fn report(&self) -> Report {
        let mut incidents: Vec<IncidentRow> = ScenarioKind::INCIDENTS
            .iter()
            .map(|&kind| IncidentRow {
                kind,
                incidents: 0,
                detected: 0,
                detected_medium: 0,
                detected_high: 0,
                recall: 0.0,
                detectors: Vec::new(),
            })
            .collect();
        let mut confounders: Vec<ConfounderRow> = ScenarioKind::CONFOUNDERS
            .iter()
            .map(|&kind| ConfounderRow { kind, instances: 0, findings: 0, high_severity_findings: 0 })
            .collect();
        let mut missed = Vec::new();
        let mut detectors: BTreeMap<ScenarioKind, BTreeMap<String, u64>> = BTreeMap::new();
        for (id, ((kind, ..), h)) in self.labels.iter().zip(&self.hits).enumerate() {
            if let Some(row) = confounders.iter_mut().find(|r| r.kind == *kind) {
                row.instances += 1;
                row.findings += h.findings;
                row.high_severity_findings += h.high;
            } else if let Some(row) = incidents.iter_mut().find(|r| r.kind == *kind) {
                row.incidents += 1;
                if h.findings > 0 {
                    row.detected += 1;
                } else {
                    missed.push(id as u32);
                }
                row.detected_medium += u64::from(h.medium > 0);
                row.detected_high += u64::from(h.high > 0);
                let d = detectors.entry(*kind).or_default();
                for (name, n) in &h.detectors {
                    *d.entry(name.clone()).or_insert(0) += n;
                }
            }
        }
        for r in &mut incidents {
            r.recall = ratio(r.detected, r.incidents);
            r.detectors = most_first(detectors.remove(&r.kind).unwrap_or_default());
        }
        let (total, detected) = incidents.iter().fold((0, 0), |acc, r| (acc.0 + r.incidents, acc.1 + r.detected));
        Report {
            incidents,
            confounders,
            findings: self.findings,
            incident_findings: self.on_incident,
            confounder_only_findings: self.on_confounder_only,
            unmatched_findings: self.findings - self.on_incident - self.on_confounder_only,
            high_severity_unmatched: self.high_unmatched,
            false_alarms_by_detector: most_first(self.false_alarms_by.clone()),
            precision: ratio(self.on_incident, self.findings),
            findings_medium: self.findings_medium,
            precision_medium: ratio(self.on_incident_medium, self.findings_medium),
            high_severity_false: self.high_false,
            recall: ratio(detected, total),
            missed,
        }
    }
}

/// Counts by detector, most first (ties by name).
fn most_first(counts: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Detection of one incident kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentRow {
    /// The kind.
    pub kind: ScenarioKind,
    /// Incidents of this kind in the truth.
    pub incidents: u64,
    /// Incidents with at least one matching finding.
    pub detected: u64,
    /// Of those, detected by a finding at Medium or above.
    pub detected_medium: u64,
    /// Incidents with at least one matching high-severity finding.
    pub detected_high: u64,
    /// `detected / incidents`.
    pub recall: f64,
    /// Detectors in matching findings, most frequent first, with counts.
    pub detectors: Vec<(String, u64)>,
}

/// Findings on one confounder kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConfounderRow {
    /// The kind.
    pub kind: ScenarioKind,
    /// Instances in the truth.
    pub instances: u64,
    /// Findings overlapping an instance.
    pub findings: u64,
    /// Of which high severity (`severity_id >= 4`): these should be zero.
    pub high_severity_findings: u64,
}

/// The evaluation result. `Display` prints a table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Per incident kind.
    pub incidents: Vec<IncidentRow>,
    /// Per confounder kind.
    pub confounders: Vec<ConfounderRow>,
    /// All findings.
    pub findings: u64,
    /// Findings matching an incident.
    pub incident_findings: u64,
    /// Findings matching only confounders.
    pub confounder_only_findings: u64,
    /// Findings matching nothing.
    pub unmatched_findings: u64,
    /// High-severity findings matching nothing.
    pub high_severity_unmatched: u64,
    /// Findings on no incident (on a benign confounder, or on nothing), by the detector that
    /// raised each (its strongest), most first: where the false alarms come from. They sum to
    /// `findings - incident_findings`, the complement of `precision`.
    pub false_alarms_by_detector: Vec<(String, u64)>,
    /// `incident_findings / findings`.
    pub precision: f64,
    /// Findings at Medium or above.
    pub findings_medium: u64,
    /// Share of the findings at Medium or above on an incident.
    pub precision_medium: f64,
    /// High or Critical findings on no incident (a benign confounder or nothing).
    pub high_severity_false: u64,
    /// Detected incidents over all incidents.
    pub recall: f64,
    /// Ids of undetected incidents.
    pub missed: Vec<u32>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<24} {:>9} {:>8} {:>7} {:>5}  detectors",
            "incident", "incidents", "detected", "recall", "high"
        )?;
        for r in &self.incidents {
            let det: Vec<String> = r.detectors.iter().take(3).map(|(d, n)| format!("{d}×{n}")).collect();
            let recall = if r.incidents == 0 { "-".to_owned() } else { format!("{:.1}%", 100.0 * r.recall) };
            writeln!(
                f,
                "{:<24} {:>9} {:>8} {:>7} {:>5}  {}",
                r.kind.as_str(),
                r.incidents,
                r.detected,
                recall,
                r.detected_high,
                det.join(", ")
            )?;
        }
        let (n, d) = self.incidents.iter().fold((0, 0), |acc, r| (acc.0 + r.incidents, acc.1 + r.detected));
        writeln!(f, "{:<24} {:>9} {:>8} {:>6.1}%", "all incidents", n, d, 100.0 * self.recall)?;
        writeln!(f)?;
        writeln!(f, "{:<24} {:>9} {:>8} {:>13}", "confounder", "instances", "findings", "high-severity")?;
        for r in &self.confounders {
            writeln!(
                f,
                "{:<24} {:>9} {:>8} {:>13}",
                r.kind.as_str(),
                r.instances,
                r.findings,
                r.high_severity_findings
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "findings: {} total, {} on incidents, {} on confounders only, {} unmatched ({} high severity); precision {:.1}%",
            self.findings,
            self.incident_findings,
            self.confounder_only_findings,
            self.unmatched_findings,
            self.high_severity_unmatched,
            100.0 * self.precision
        )?;
        if !self.false_alarms_by_detector.is_empty() {
            let by: Vec<String> = self.false_alarms_by_detector.iter().map(|(d, n)| format!("{d} {n}")).collect();
            writeln!(f, "findings on no incident, by detector: {}", by.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truth::Label;

    fn label(id: u32, kind: ScenarioKind, creds: &[&str], subjects: &[&str], start: i64, end: i64) -> Label {
        Label {
            id,
            kind,
            credentials: creds.iter().map(|s| s.to_string()).collect(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            principal: None,
            peer_group: None,
            population_wide: false,
            start_ms: start,
            end_ms: end,
            injected_events: 0,
            detail: String::new(),
        }
    }

    fn truth() -> Truth {
        let min = MINUTE_MS;
        let mut surge = label(3, ScenarioKind::GlobalSurge, &[], &[], 1_000 * min, 1_060 * min);
        surge.population_wide = true;
        Truth {
            seed: 1,
            start_ms: 0,
            end_ms: 10_000 * min,
            dormancy_days: 7.0,
            labels: vec![
                label(0, ScenarioKind::StolenKeyNewOrigin, &["AKIAVICTIM"], &[], 100 * min, 130 * min),
                label(
                    1,
                    ScenarioKind::Exfiltration,
                    &["ASIAKEY1"],
                    &["arn:aws:sts::1:assumed-role/r/s"],
                    500 * min,
                    510 * min,
                ),
                label(2, ScenarioKind::Travel, &["AKIATRAVELER"], &[], 2_000 * min, 3_000 * min),
                surge,
                label(4, ScenarioKind::PrivilegeEscalation, &["AKIAHIJACKED"], &[], 1_025 * min, 1_040 * min),
            ],
        }
    }

    #[test]
    fn matching_by_credential_subject_and_time() {
        let p = Pseudonymizer::insecure_demo();
        let t = truth();
        let mut ev = Evaluation::new(&t, &p);
        let min = MINUTE_MS;
        let victim = p.credential("AKIAVICTIM");
        let f = |c, s, a, b, sev| ObservedFinding {
            credential: c,
            subject: s,
            first_time_ms: a,
            last_time_ms: b,
            severity: sev,
            detectors: &["new_origin"],
        };
        // Inside the window.
        assert_eq!(ev.matches(&f(victim, victim, 110 * min, 115 * min, 4)), vec![0]);
        // Within the slack after the end, but not beyond it.
        assert_eq!(ev.matches(&f(victim, victim, 155 * min, 156 * min, 4)), vec![0]);
        assert!(ev.matches(&f(victim, victim, 170 * min, 171 * min, 4)).is_empty());
        // Before the start: no.
        assert!(ev.matches(&f(victim, victim, 10 * min, 20 * min, 4)).is_empty());
        // A different key of the same session matches through the subject.
        let other_key = p.credential("ASIAKEY2");
        let session = p.pseudonymize(Namespace::Session, "arn:aws:sts::1:assumed-role/r/s");
        assert_eq!(ev.matches(&f(other_key, session, 505 * min, 506 * min, 5)), vec![1]);
        // Population-wide confounders match any credential by time.
        let stranger = p.credential("ck_live_stranger");
        assert_eq!(ev.matches(&f(stranger, stranger, 1_010 * min, 1_020 * min, 2)), vec![3]);

        ev.add(&f(victim, victim, 110 * min, 115 * min, 4));
        ev.add(&f(victim, victim, 120 * min, 125 * min, 3));
        ev.add(&f(p.credential("AKIATRAVELER"), p.credential("AKIATRAVELER"), 2_100 * min, 2_100 * min, 5));
        ev.add(&f(stranger, stranger, 1_010 * min, 1_020 * min, 2));
        ev.add(&f(stranger, stranger, 5_000 * min, 5_000 * min, 5));
        // A high-severity finding on a real incident during the surge is the incident's.
        let hijacked = p.credential("AKIAHIJACKED");
        ev.add(&f(hijacked, hijacked, 1_030 * min, 1_031 * min, 5));
        let r = ev.report();
        assert_eq!(r.findings, 6);
        assert_eq!(r.incident_findings, 3);
        assert_eq!(r.confounder_only_findings, 2);
        assert_eq!(r.unmatched_findings, 1);
        assert_eq!(r.high_severity_unmatched, 1);
        // Two on the travel confounder and one on nothing, all raised by `new_origin`.
        assert_eq!(r.false_alarms_by_detector, vec![("new_origin".to_owned(), 3)]);
        assert!((r.precision - 0.5).abs() < 1e-9);
        let stolen = r.incidents.iter().find(|x| x.kind == ScenarioKind::StolenKeyNewOrigin).unwrap();
        assert_eq!((stolen.incidents, stolen.detected, stolen.detected_high), (1, 1, 1));
        assert_eq!(stolen.detectors, vec![("new_origin".to_owned(), 2)]);
        let exfil = r.incidents.iter().find(|x| x.kind == ScenarioKind::Exfiltration).unwrap();
        assert_eq!(exfil.detected, 0);
        assert_eq!(r.missed, vec![1]);
        assert!((r.recall - 2.0 / 3.0).abs() < 1e-9);
        let travel = r.confounders.iter().find(|x| x.kind == ScenarioKind::Travel).unwrap();
        assert_eq!((travel.instances, travel.findings, travel.high_severity_findings), (1, 1, 1));
        let surge = r.confounders.iter().find(|x| x.kind == ScenarioKind::GlobalSurge).unwrap();
        assert_eq!((surge.instances, surge.findings, surge.high_severity_findings), (1, 1, 0));
        let text = r.to_string();
        assert!(text.contains("stolen_key_new_origin") && text.contains("precision 50.0%"), "{text}");
        assert!(text.contains("findings on no incident, by detector: new_origin 3"), "{text}");
    }

    #[test]
    fn slack_is_configurable() {
        let p = Pseudonymizer::insecure_demo();
        let t = truth();
        let ev = Evaluation::new(&t, &p).with_slack_ms(0);
        let v = p.credential("AKIAVICTIM");
        let f = ObservedFinding {
            credential: v,
            subject: v,
            first_time_ms: 131 * MINUTE_MS,
            last_time_ms: 140 * MINUTE_MS,
            severity: 3,
            detectors: &[],
        };
        assert!(ev.matches(&f).is_empty());
    }
}

//! Incidents: findings of one principal that follow each other roll up into one incident, whose
//! severity rises with the chain (GuardDuty's attack sequences, Sentinel's incidents).
//!
//! A stolen key is seldom one finding: a new origin, then enumeration, then a privilege grant,
//! then a download. Each finding is published on its own; an analyst (and a pager) wants the one
//! story. Findings are grouped by principal (the identity behind the credentials: an IAM user or
//! role), else by subject (the baseline's key), so two keys of one user that misbehave together
//! are one incident. An incident opens with the second finding that comes within
//! [`DEFAULT_INCIDENT_WINDOW_MS`] of the group's last one (a lone finding is already published as
//! itself), lists every finding, and closes once the window passes without another.
//!
//! Severity: the highest of its findings', one level higher once the chain spans
//! [`TACTICS_TO_ESCALATE`] distinct ATT&CK tactics (capped at Critical). Independent false alarms
//! on one principal rarely line up across stages of an intrusion; an attack moves through them.
//! Suppressed findings take no part: what an analyst has judged expected is not evidence of an
//! intrusion.
//!
//! Time is event time: callers hand findings in the order they are raised, and an incident
//! closes when a later finding (of any principal) shows that its window has passed, or at
//! [`Incidents::finish`]. Open incidents are kept in memory only: after a restart the next
//! finding of a principal starts a new chain.

use std::collections::HashMap;

use credence_detect::{Attack, Detector, Severity, Tactic};
use sha2::{Digest, Sha256};

use crate::{Activity, FindingUpdate};

/// How long after a principal's last finding the next one still joins its incident: a day.
/// The stages of a key's abuse (access, discovery, escalation, collection, exfiltration) unfold
/// over minutes to hours; GuardDuty's attack sequences correlate signals over a 24-hour window.
pub const DEFAULT_INCIDENT_WINDOW_MS: i64 = 24 * 3_600_000;

/// Distinct ATT&CK tactics from which an incident is one severity level above its worst finding.
/// Three: access and discovery are often both seen in a benign first day of a new integration;
/// a third stage (privilege escalation, persistence, exfiltration...) rarely is.
pub const TACTICS_TO_ESCALATE: usize = 3;

/// Findings listed in one incident at most (the first ones, then the count): a principal's day of
/// findings stays one readable record.
pub const MAX_MEMBERS: usize = 32;

/// One finding of an incident, as the incident lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The finding's uid.
    pub uid: String,
    /// Its title.
    pub title: String,
    /// Its severity as last seen.
    pub severity: Severity,
    /// Its detectors.
    pub detectors: Vec<Detector>,
    /// Its ATT&CK tactics and techniques.
    pub attacks: Vec<Attack>,
    /// First anomalous event.
    pub first_ms: i64,
    /// Latest anomalous event.
    pub last_ms: i64,
}

/// An incident.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    /// Deterministic id: from the group and its first finding.
    pub uid: String,
    /// The principal, when the findings name one.
    pub principal: Option<String>,
    /// The first finding's credential pseudonym.
    pub credential: String,
    /// Its findings, first raised first (at most [`MAX_MEMBERS`]).
    pub members: Vec<Member>,
    /// Findings joined, including any beyond [`MAX_MEMBERS`].
    pub findings: usize,
    /// First anomalous event of any of its findings.
    pub first_ms: i64,
    /// Latest.
    pub last_ms: i64,
    /// The rolled-up severity.
    pub severity: Severity,
    /// 0 when opened, +1 per update.
    pub revision: u32,
}

impl Incident {
    /// The distinct tactics of its findings, in the ATT&CK matrix's order.
    pub fn tactics(&self) -> Vec<Tactic> {
        let mut t: Vec<Tactic> = self.members.iter().flat_map(|m| m.attacks.iter().map(|a| a.tactic)).collect();
        t.sort();
        t.dedup();
        t
    }

    fn rollup(&mut self) {
        let worst = self.members.iter().map(|m| m.severity).max().unwrap_or(Severity::Low);
        self.severity = if self.tactics().len() >= TACTICS_TO_ESCALATE { escalate(worst) } else { worst };
    }
}

fn escalate(s: Severity) -> Severity {
    let i = Severity::ALL.iter().position(|x| *x == s).unwrap_or(0);
    Severity::ALL[(i + 1).min(Severity::ALL.len() - 1)]
}

/// An incident record to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentUpdate {
    /// Opened, changed (a new finding, or a finding's severity), or closed.
    pub activity: Activity,
    /// The incident as it now stands.
    pub incident: Incident,
}

/// A principal's recent findings, and its incident once there are two.
#[derive(Debug)]
struct Chain {
    members: Vec<Member>,
    last_ms: i64,
    incident: Option<Incident>,
}

/// Rolls findings up into incidents. One per pipeline; not shared.
#[derive(Debug)]
pub struct Incidents {
    window_ms: i64,
    chains: HashMap<String, Chain>,
}

impl Incidents {
    /// Incidents of findings at most `window_ms` apart.
    pub fn new(window_ms: i64) -> Incidents {
        Incidents { window_ms, chains: HashMap::new() }
    }

    /// Open incidents.
    pub fn open_count(&self) -> usize {
        self.chains.values().filter(|c| c.incident.is_some()).count()
    }

    /// Takes a finding record; returns the incident records it causes (closes of incidents whose
    /// window it shows to have passed, then this finding's incident's open or update).
    pub fn observe(&mut self, u: &FindingUpdate) -> Vec<IncidentUpdate> {
        let f = &u.finding;
        let mut out = self.close_idle(f.last_ms);
        if u.suppressed.is_some() || u.activity == Activity::Close {
            return out;
        }
        let key = f.principal.clone().unwrap_or_else(|| format!("subject:{}", f.subject));
        let member = Member {
            uid: f.uid.clone(),
            title: crate::ocsf::title(f),
            severity: f.severity,
            detectors: f.detectors().collect(),
            attacks: f.attacks().cloned().collect(),
            first_ms: f.first_ms,
            last_ms: f.last_ms,
        };
        let chain = self.chains.entry(key.clone()).or_insert_with(|| Chain {
            members: Vec::new(),
            last_ms: f.last_ms,
            incident: None,
        });
        chain.last_ms = chain.last_ms.max(f.last_ms);
        let known = chain.members.iter().position(|m| m.uid == member.uid);
        match known {
            Some(i) => chain.members[i] = member,
            None if chain.members.len() < MAX_MEMBERS => chain.members.push(member),
            None => {}
        }
        let findings =
            chain.incident.as_ref().map_or(chain.members.len(), |i| i.findings + usize::from(known.is_none()));
        if chain.members.len() < 2 {
            return out;
        }
        let first = &chain.members[0];
        let mut next = Incident {
            uid: chain.incident.as_ref().map_or_else(|| incident_uid(&key, &first.uid), |i| i.uid.clone()),
            principal: f.principal.clone(),
            credential: chain.incident.as_ref().map_or_else(|| f.credential.to_string(), |i| i.credential.clone()),
            members: chain.members.clone(),
            findings,
            first_ms: chain.members.iter().map(|m| m.first_ms).min().unwrap_or(f.first_ms),
            last_ms: chain.last_ms,
            severity: Severity::Low,
            revision: chain.incident.as_ref().map_or(0, |i| i.revision + 1),
        };
        next.rollup();
        let activity = match &chain.incident {
            None => Activity::Create,
            // Only what changes what an analyst sees: a new finding, or a finding's severity.
            Some(old) if old.members == next.members && old.findings == next.findings => return out,
            Some(_) => Activity::Update,
        };
        chain.incident = Some(next.clone());
        out.push(IncidentUpdate { activity, incident: next });
        out
    }

    /// Closes the incidents (and forgets the lone findings) whose window has passed at `now_ms`.
    pub fn close_idle(&mut self, now_ms: i64) -> Vec<IncidentUpdate> {
        let window = self.window_ms;
        let mut out = Vec::new();
        self.chains.retain(|_, c| {
            if now_ms.saturating_sub(c.last_ms) <= window {
                return true;
            }
            if let Some(i) = c.incident.take() {
                out.push(IncidentUpdate { activity: Activity::Close, incident: i });
            }
            false
        });
        out.sort_by(|a, b| a.incident.uid.cmp(&b.incident.uid));
        out
    }

    /// Closes every open incident (the end of a replay).
    pub fn finish(&mut self) -> Vec<IncidentUpdate> {
        self.close_idle(i64::MAX)
    }
}

fn incident_uid(key: &str, first_finding: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"credence-incident\0");
    h.update(key.as_bytes());
    h.update(b"\0");
    h.update(first_finding.as_bytes());
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregator;
    use crate::ocsf::{render_incident, Product};
    use credence_detect::{CredentialState, Signal, Verdict};
    use credence_event::{Event, Pseudonymizer};

    const T0: i64 = 1_796_083_200_000;
    const HOUR: i64 = 3_600_000;

    /// A finding of `detector` (evidence of `tactic`) on `principal`'s key at `t`, severity `s`.
    fn finding(principal: &str, detector: Detector, tactic: Tactic, s: Severity, t: i64) -> FindingUpdate {
        let p = Pseudonymizer::insecure_demo();
        let mut e = Event::new(t, p.credential(&format!("key-of-{principal}")), "Call");
        e.principal = Some(principal.into());
        let signal = Signal::new(detector, 80, format!("{detector:?}"), "usual: not this".into())
            .with_attack(Attack::new(tactic, "T1078", "Valid Accounts"));
        let v = Verdict {
            score: 80,
            confidence: 80,
            severity: Some(s),
            signals: vec![signal],
            state: CredentialState::Established,
            network: None,
        };
        // A fresh aggregator per finding: each its own finding, as a later anomaly of another
        // detector beyond the finding window would be.
        Aggregator::new(HOUR, Severity::Low).observe(&e, &v).expect("a finding")
    }

    #[test]
    fn a_chain_of_findings_becomes_one_incident_that_escalates_and_closes() {
        let mut inc = Incidents::new(DEFAULT_INCIDENT_WINDOW_MS);
        let alice = "arn:aws:iam::1:user/alice";
        let a = finding(alice, Detector::NewOrigin, Tactic::InitialAccess, Severity::Medium, T0);
        assert!(inc.observe(&a).is_empty(), "a lone finding is no incident");
        // Another principal's finding joins nothing.
        let other =
            finding("arn:aws:iam::1:user/bob", Detector::Enumeration, Tactic::Discovery, Severity::High, T0 + 1);
        assert!(inc.observe(&other).is_empty());
        let b = finding(alice, Detector::Enumeration, Tactic::Discovery, Severity::Medium, T0 + HOUR);
        let opened = inc.observe(&b);
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].activity, Activity::Create);
        let i = &opened[0].incident;
        assert_eq!((i.findings, i.severity, i.revision), (2, Severity::Medium, 0));
        assert_eq!(i.members.iter().map(|m| m.uid.as_str()).collect::<Vec<_>>(), [&a.finding.uid, &b.finding.uid]);
        // The same finding again, unchanged: nothing new for the analyst.
        assert!(inc.observe(&b).is_empty());
        // A third stage: one level above the worst finding.
        let c = finding(alice, Detector::Exfiltration, Tactic::Exfiltration, Severity::High, T0 + 3 * HOUR);
        let up = inc.observe(&c);
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].activity, Activity::Update);
        assert_eq!(
            (up[0].incident.findings, up[0].incident.severity, up[0].incident.revision),
            (3, Severity::Critical, 1)
        );
        assert_eq!(up[0].incident.uid, i.uid, "one incident");
        // A day without another finding of alice's: the next finding anywhere closes it first.
        let later = finding(
            "arn:aws:iam::1:user/carol",
            Detector::NewOrigin,
            Tactic::InitialAccess,
            Severity::Low,
            T0 + 28 * HOUR,
        );
        let closed = inc.observe(&later);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].activity, Activity::Close);
        assert_eq!(closed[0].incident.uid, i.uid);
        assert_eq!(inc.open_count(), 0);
    }

    #[test]
    fn suppressed_findings_and_findings_beyond_the_window_start_no_incident() {
        let mut inc = Incidents::new(DEFAULT_INCIDENT_WINDOW_MS);
        let alice = "arn:aws:iam::1:user/alice";
        let mut a = finding(alice, Detector::NewOrigin, Tactic::InitialAccess, Severity::High, T0);
        a.suppressed =
            Some(crate::suppress::Suppressed { rule: "pt".into(), reason: "test".into(), author: "soc".into() });
        assert!(inc.observe(&a).is_empty());
        let b = finding(alice, Detector::Enumeration, Tactic::Discovery, Severity::High, T0 + HOUR);
        assert!(inc.observe(&b).is_empty(), "the suppressed finding does not count");
        let c = finding(alice, Detector::Exfiltration, Tactic::Exfiltration, Severity::High, T0 + 30 * HOUR);
        assert!(inc.observe(&c).is_empty(), "more than a day after the last: a new chain");
        assert!(inc.finish().is_empty());
    }

    #[test]
    fn incidents_render_as_valid_ocsf_incident_findings() {
        let mut inc = Incidents::new(DEFAULT_INCIDENT_WINDOW_MS);
        let alice = "arn:aws:iam::1:user/alice";
        inc.observe(&finding(alice, Detector::NewOrigin, Tactic::InitialAccess, Severity::Medium, T0));
        inc.observe(&finding(alice, Detector::Enumeration, Tactic::Discovery, Severity::Medium, T0 + HOUR));
        let mut records =
            inc.observe(&finding(alice, Detector::Exfiltration, Tactic::Exfiltration, Severity::High, T0 + 2 * HOUR));
        records.extend(inc.finish());
        assert_eq!(records.iter().map(|r| r.activity).collect::<Vec<_>>(), [Activity::Update, Activity::Close]);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ocsf");
        let schema = crate::schema::OcsfSchema::load(&dir).expect("the OCSF schema in ../shared/ocsf");
        for r in &records {
            let json = render_incident(r, &Product { instance: Some("pod-1".into()), ..Product::default() });
            let violations = schema.validate(&json);
            assert!(
                violations.is_empty(),
                "{}",
                violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
            );
            assert_eq!(json["class_uid"], 2005);
            assert_eq!(json["finding_info_list"].as_array().map(Vec::len), Some(3));
            assert_eq!(json["severity"], "Critical");
            let tactics: Vec<&str> =
                json["attacks"].as_array().unwrap().iter().map(|a| a["tactic"]["name"].as_str().unwrap()).collect();
            assert_eq!(tactics, ["Initial Access", "Discovery", "Exfiltration"]);
            let desc = json["desc"].as_str().unwrap();
            assert!(desc.contains("3 findings on arn:aws:iam::1:user/alice within 2 h 0 min"), "{desc}");
        }
    }
}

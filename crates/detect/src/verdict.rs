//! What scoring says about one event.

use serde::{Deserialize, Serialize};

use crate::attack::{Attack, Tactic};
use crate::baseline::CredentialState;

/// A detector: one kind of anomaly Credence looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// A revoked, expired or rotated-out credential is still in use.
    GhostCredential,
    /// Used from a network, ASN or country this credential has not used.
    NewOrigin,
    /// Used with a client (user agent) this credential has not used.
    NewClient,
    /// Consecutive uses too far apart for the time between them.
    ImpossibleTravel,
    /// Interleaved use from two distant origins.
    ConcurrentUse,
    /// Activity in an hour of the week this credential is normally idle.
    UnusualHour,
    /// Request rate far above this credential's own history.
    RateBurst,
    /// Many denied calls across many operations: probing for permissions.
    AccessProbing,
    /// A client retrying with an expired or invalid token: an operational problem.
    ExpiredTokenStorm,
    /// Response volume far above this credential's own distribution.
    Exfiltration,
    /// Response volume moderately but persistently above normal for hours.
    SlowExfiltration,
    /// Many distinct operations or resources in a short window.
    Enumeration,
    /// Privilege-changing or security-control-weakening operations this credential has never
    /// performed (new access keys, attached policies, role trust changes, stopped audit trails).
    PrivilegeEscalation,
    /// Activity after a long idle period.
    DormantReactivation,
    /// An operation the risk catalogue rates Medium or above (stopping audit logs, new access
    /// keys, shared snapshots, secrets read, ...), the first time this credential makes it:
    /// raised at the catalogue's severity, with no baseline needed.
    RiskyOperation,
    /// An operation that changes or deletes something (a refund, a deletion, a new webhook),
    /// never made by this established credential nor by its peers: weak alone (at most
    /// [`NEW_OPERATION_MAX_SCORE`]), evidence when an unusual hour, a new client or a new origin
    /// comes with it.
    NewOperation,
    /// Many distinct keys rejected from one source network, with few successes: a spray of
    /// guessed or leaked keys, or credential stuffing (`spray.rs`). Its subject is the network,
    /// not a credential. Last, so the indices of saved findings' detectors are unchanged.
    KeySpray,
    /// A temporary credential (an assumed role's or instance profile's session key) used from a
    /// network other than the one it was bound to at its first use, while it lives: someone else
    /// holds the session (`session::Sessions`). Needs no baseline.
    StolenSession,
}

/// The most a first-ever changing operation scores: below the alert score, so alone it never
/// alerts, and enough that with a strong unusual hour (at most 40) it does.
pub const NEW_OPERATION_MAX_SCORE: u8 = 35;

/// Whether a detector speaks of an attack or of an operational problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Possible compromise or misuse.
    Security,
    /// A client or integration misbehaving.
    Operational,
}

impl Detector {
    /// Every detector, for metrics.
    pub const ALL: [Detector; 18] = [
        Detector::GhostCredential,
        Detector::NewOrigin,
        Detector::NewClient,
        Detector::ImpossibleTravel,
        Detector::ConcurrentUse,
        Detector::UnusualHour,
        Detector::RateBurst,
        Detector::AccessProbing,
        Detector::ExpiredTokenStorm,
        Detector::Exfiltration,
        Detector::SlowExfiltration,
        Detector::Enumeration,
        Detector::PrivilegeEscalation,
        Detector::DormantReactivation,
        Detector::RiskyOperation,
        Detector::NewOperation,
        Detector::KeySpray,
        Detector::StolenSession,
    ];

    /// Stable identifier, as in findings and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::GhostCredential => "ghost_credential",
            Detector::NewOrigin => "new_origin",
            Detector::NewClient => "new_client",
            Detector::ImpossibleTravel => "impossible_travel",
            Detector::ConcurrentUse => "concurrent_use",
            Detector::UnusualHour => "unusual_hour",
            Detector::RateBurst => "rate_burst",
            Detector::AccessProbing => "access_probing",
            Detector::ExpiredTokenStorm => "expired_token_storm",
            Detector::Exfiltration => "exfiltration",
            Detector::SlowExfiltration => "slow_exfiltration",
            Detector::Enumeration => "enumeration",
            Detector::PrivilegeEscalation => "privilege_escalation",
            Detector::DormantReactivation => "dormant_reactivation",
            Detector::RiskyOperation => "risky_operation",
            Detector::NewOperation => "new_operation",
            Detector::KeySpray => "key_spray",
            Detector::StolenSession => "stolen_session",
        }
    }

    /// A short title for an alert.
    pub fn title(self) -> &'static str {
        match self {
            Detector::GhostCredential => "Revoked credential still in use",
            Detector::NewOrigin => "Credential used from a new origin",
            Detector::NewClient => "Credential used by a new client",
            Detector::ImpossibleTravel => "Impossible travel between uses of a credential",
            Detector::ConcurrentUse => "Credential used concurrently from distant origins",
            Detector::UnusualHour => "Credential active at an unusual hour",
            Detector::RateBurst => "Request rate burst",
            Detector::AccessProbing => "Permission probing: many denied operations",
            Detector::ExpiredTokenStorm => "Expired-token retry storm",
            Detector::Exfiltration => "Unusual data volume returned to a credential",
            Detector::SlowExfiltration => "Sustained elevated data volume",
            Detector::Enumeration => "Enumeration of operations or resources",
            Detector::PrivilegeEscalation => "Privilege or security-control change never made before",
            Detector::DormantReactivation => "Dormant credential reactivated",
            Detector::RiskyOperation => "Risky operation, first made by this credential",
            Detector::NewOperation => "Data changed by an operation this credential never made",
            Detector::KeySpray => "Key spray: many rejected keys from one network",
            Detector::StolenSession => "Temporary credential used from a second network: stolen session",
        }
    }

    /// The ATT&CK tactic and technique a signal of this detector is evidence of, unless the
    /// signal names its own (privilege escalation names the operation's, from the catalogue).
    /// Someone else using a valid credential is Valid Accounts: Cloud Accounts (T1078.004), the
    /// technique GuardDuty and the AWS Threat Technique Catalog name for stolen keys; the rest as
    /// their names say. Operational detectors, and a burst that may be scraping, denial of
    /// service or a runaway client, have none.
    pub fn attack(self) -> Option<Attack> {
        let (tactic, technique, name) = match self {
            Detector::GhostCredential => (Tactic::InitialAccess, "T1078", "Valid Accounts"),
            Detector::NewOrigin
            | Detector::NewClient
            | Detector::ImpossibleTravel
            | Detector::ConcurrentUse
            | Detector::UnusualHour
            | Detector::NewOperation
            | Detector::DormantReactivation => (Tactic::InitialAccess, "T1078.004", "Valid Accounts: Cloud Accounts"),
            Detector::AccessProbing => (Tactic::Discovery, "T1069", "Permission Groups Discovery"),
            Detector::Enumeration => (Tactic::Discovery, "T1526", "Cloud Service Discovery"),
            Detector::Exfiltration | Detector::SlowExfiltration => {
                (Tactic::Exfiltration, "T1567", "Exfiltration Over Web Service")
            }
            Detector::PrivilegeEscalation => (Tactic::PrivilegeEscalation, "T1098", "Account Manipulation"),
            // Names the catalogue's technique for its operation.
            Detector::RiskyOperation => return None,
            // Names Credential Stuffing when some requests succeed, else Brute Force (`spray.rs`).
            Detector::KeySpray => (Tactic::CredentialAccess, "T1110", "Brute Force"),
            // Instance metadata theft (T1552.005) for an instance profile's key, else Application
            // Access Token (T1550.001): `session::attack_of` decides per event; this is the latter.
            Detector::StolenSession => {
                (Tactic::DefenseEvasion, "T1550.001", "Use Alternate Authentication Material: Application Access Token")
            }
            Detector::RateBurst | Detector::ExpiredTokenStorm => return None,
        };
        Some(Attack::new(tactic, technique, name))
    }

    /// This detector's bit in a set of weak detectors (`Baseline::weak`, 16 bits, saved in
    /// snapshots): only a detector that corroborates has one (0 for the others, which never enter
    /// the set); a test keeps every one that does among the first 16.
    pub fn bit(self) -> u16 {
        if self.corroborates() {
            1 << (self as u16)
        } else {
            0
        }
    }

    /// Whether a signal of this detector too weak to alert alone can corroborate another
    /// detector's: evidence about who uses the credential and what they do with it. Operational
    /// trouble corroborates no attack; a ghost credential and a stolen session always alert.
    pub fn corroborates(self) -> bool {
        self.category() == Category::Security
            && !matches!(self, Detector::GhostCredential | Detector::KeySpray | Detector::StolenSession)
    }

    /// Security or operational.
    pub fn category(self) -> Category {
        match self {
            Detector::ExpiredTokenStorm => Category::Operational,
            _ => Category::Security,
        }
    }

    /// What the analyst should do first.
    pub fn remediation(self) -> &'static str {
        match self {
            Detector::GhostCredential => "Block the credential at every gateway and identity provider now; confirm the revocation propagated; treat the source as hostile and search for other credentials it used.",
            Detector::NewOrigin | Detector::NewClient => "Confirm with the credential's owner that this origin and client are theirs; if not, revoke and rotate the credential and review what it accessed from the new origin.",
            Detector::ImpossibleTravel | Detector::ConcurrentUse => "Two parties are likely using the credential. Revoke and reissue it, and review the activity from the origin the owner does not recognise.",
            Detector::UnusualHour => "Check with the owner whether this activity was scheduled; correlate with other signals before acting.",
            Detector::RateBurst => "Check for scraping or a runaway client; rate-limit the credential and confirm the owner expects this load.",
            Detector::AccessProbing => "A caller is testing what the credential may do. Revoke it if the owner does not recognise the calls, and review the operations that succeeded.",
            Detector::ExpiredTokenStorm => "A client keeps retrying with an expired or invalid token: tell the owning team to fix token refresh; no compromise is indicated by this alone.",
            Detector::Exfiltration | Detector::SlowExfiltration => "Identify the data returned in the window, confirm the owner expects that volume, and revoke the credential if not; assess data-breach obligations.",
            Detector::Enumeration => "Review the listed operations and resources; enumeration often precedes privilege escalation or exfiltration. Restrict the credential if it is not expected.",
            Detector::PrivilegeEscalation => "Review and roll back the changes (new keys, attached policies, role trust changes, stopped or deleted audit logs); revoke the credential if the owner did not make them.",
            Detector::DormantReactivation => "Confirm the owner resumed using this credential; dormant credentials are prime targets—retire it if it is no longer needed.",
            Detector::RiskyOperation => "Confirm with the credential's owner that they made this call; if not, undo what it changed and revoke the credential.",
            Detector::NewOperation => "Confirm with the credential's owner that they made these changes; if not, undo them and revoke the credential.",
            Detector::KeySpray => "Block or rate-limit the source network at the gateway; if any request from it succeeded during the spray, find which credentials it used and rotate them; check where the keys it tried could have leaked from.",
            Detector::StolenSession => "Someone else holds this session. Revoke the role's sessions issued until now (IAM 'Revoke active sessions': `aws iam put-role-policy --role-name ROLE --policy-name AWSRevokeOlderSessions` with a Deny of everything on `aws:TokenIssueTime` before now); for an instance profile, replace the instance or its profile association, require IMDSv2 and pin the role to its network (`aws:ec2InstanceSourceVPC`, `aws:ec2InstanceSourcePrivateIPv4`); review what the key did from the other network and find how it leaked (SSRF, a compromised host, logged credentials).",
        }
    }
}

/// Severity, as OCSF `severity_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Not alert-worthy.
    Informational = 1,
    /// Worth a look.
    Low = 2,
    /// Investigate.
    Medium = 3,
    /// Investigate now.
    High = 4,
    /// Act now.
    Critical = 5,
}

impl Severity {
    /// Every severity, for metrics.
    pub const ALL: [Severity; 5] =
        [Severity::Informational, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// OCSF `severity_id`.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// Lower-case name, for labels and text.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The severity band of a combined score, before the caps `Engine::judge` applies.
    pub fn of_score(score: u8) -> Severity {
        match score {
            96.. => Severity::Critical,
            87..=95 => Severity::High,
            75..=86 => Severity::Medium,
            _ => Severity::Low,
        }
    }

    /// A score inside this severity's band ([`Severity::of_score`]), for a signal whose
    /// severity is known ahead (a catalogued operation): about the band's middle, so a second
    /// piece of evidence can lift it to the next band.
    pub fn typical_score(self) -> u8 {
        match self {
            Severity::Critical => 97,
            Severity::High => 90,
            Severity::Medium => 80,
            Severity::Low => 65,
            Severity::Informational => 0,
        }
    }

    /// One step down (an attempt that was refused, rather than an effect).
    pub fn lower(self) -> Severity {
        match self {
            Severity::Critical => Severity::High,
            Severity::High => Severity::Medium,
            Severity::Medium => Severity::Low,
            Severity::Low | Severity::Informational => Severity::Informational,
        }
    }

    /// OCSF caption.
    pub fn caption(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }
}

/// One detector's finding about one event, with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Which detector.
    pub detector: Detector,
    /// Its score, 0–100.
    pub score: u8,
    /// What was observed, in words and numbers ("country BR", "412 requests in 1 min").
    pub observed: String,
    /// The baseline it broke ("never seen in 41 days; usual: US 97%, CA 3%").
    pub baseline: String,
    /// The ATT&CK tactic and technique this is evidence of, when one applies.
    #[serde(default)]
    pub attack: Option<Attack>,
    /// For an operation the risk catalogue knows: its title and remediation, which say more than
    /// the detector's.
    #[serde(default)]
    pub advice: Option<Advice>,
}

impl Signal {
    /// A signal with its detector's ATT&CK mapping ([`Detector::attack`]) and no advice.
    pub fn new(detector: Detector, score: u8, observed: String, baseline: String) -> Signal {
        Signal { detector, score, observed, baseline, attack: detector.attack(), advice: None }
    }

    /// The same signal, evidence of `attack`.
    pub fn with_attack(mut self, attack: Attack) -> Signal {
        self.attack = Some(attack);
        self
    }
}

/// What the risk catalogue says to do about an operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advice {
    /// A short title ("CloudTrail trail stopped or deleted").
    pub title: String,
    /// What to do first.
    pub remediation: String,
    /// The provider's documentation of the operation.
    #[serde(default)]
    pub docs: Option<String>,
}

/// The judgement of one event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Combined anomaly score, 0–100.
    pub score: u8,
    /// How sure the score is, 0–100: low while the baseline is immature.
    pub confidence: u8,
    /// Severity, when the event is alert-worthy.
    pub severity: Option<Severity>,
    /// The detectors that fired, strongest first.
    pub signals: Vec<Signal>,
    /// The subject's lifecycle state when the event arrived.
    pub state: CredentialState,
    /// When the verdict is about a source network rather than the event's credential (a key
    /// spray): the network, which is then the finding's subject. Never persisted.
    #[serde(skip)]
    pub network: Option<NetworkSubject>,
}

/// A source network as the subject of a finding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkSubject {
    /// A keyed pseudonym of the network, in the space of subjects.
    pub subject: credence_event::Pseudonym,
    /// The network as text (`203.0.113.0/24`).
    pub label: String,
}

impl Verdict {
    /// Whether this event should raise (or update) a finding.
    pub fn is_alert(&self) -> bool {
        self.severity.is_some_and(|s| s >= Severity::Low)
    }

    /// The strongest detector, if any fired.
    pub fn primary(&self) -> Option<Detector> {
        self.signals.first().map(|s| s.detector)
    }

    /// The signals of an event that did not alert that can corroborate later ones
    /// ([`Detector::corroborates`]): their detectors (bits) and their noisy-OR score.
    pub fn weak(&self) -> (u16, u8) {
        if self.is_alert() {
            return (0, 0);
        }
        let weak = self.signals.iter().filter(|s| s.detector.corroborates());
        let (mask, miss) =
            weak.fold((0u16, 1.0f32), |(m, miss), s| (m | s.detector.bit(), miss * (1.0 - f32::from(s.score) / 100.0)));
        (mask, (100.0 * (1.0 - miss)).round().min(100.0) as u8)
    }
}

/// Combines signals by noisy-OR into a score 0–100: independent pieces of evidence reinforce each
/// other. The first call of a catalogued operation raises both the behavioural privilege detector
/// and the day-one one: one piece of evidence, counted once (the stronger).
pub fn combine(signals: &[Signal]) -> u8 {
    let same_call = |d: Detector| matches!(d, Detector::PrivilegeEscalation | Detector::RiskyOperation);
    let call = signals.iter().filter(|s| same_call(s.detector)).map(|s| s.score).max();
    let miss_of = |score: u8| 1.0 - f32::from(score.min(100)) / 100.0;
    let miss: f32 = signals.iter().filter(|s| !same_call(s.detector)).map(|s| miss_of(s.score)).product::<f32>()
        * call.map_or(1.0, miss_of);
    (100.0 * (1.0 - miss)).round().min(100.0) as u8
}

/// Adds the weak signals of other detectors seen on the credential within the last hour
/// (`earlier`: their detectors and noisy-OR score, from `Baseline::recent_weak`) to an event's
/// own weak signals, one per earlier detector, sharing the earlier score: an unusual hour, a new
/// client and a first administrative call are each what an owner sometimes does; one session with
/// all three is what someone else with the key does. Only an event with a weak signal of its own
/// that corroborates (a detector not among the earlier ones) is lifted; returns whether any was
/// added.
pub fn corroborate(signals: &mut Vec<Signal>, (earlier, score): (u16, u8)) -> bool {
    let own = signals.iter().filter(|s| s.detector.corroborates()).fold(0u16, |m, s| m | s.detector.bit());
    let others = earlier & !own;
    if own == 0 || others == 0 || score == 0 {
        return false;
    }
    // Each earlier detector's share of the earlier score (so that together they weigh it); only
    // the detectors this event does not carry itself are added.
    let k = earlier.count_ones() as f32;
    let each = 100.0 * (1.0 - (1.0 - f32::from(score) / 100.0).powf(1.0 / k));
    for d in Detector::ALL.into_iter().filter(|d| others & d.bit() != 0) {
        signals.push(Signal::new(
            d,
            each.round() as u8,
            format!("a weak {} signal on this credential within the last hour", d.as_str()),
            "below the alert score alone; corroborated by this event's own".into(),
        ));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Open findings are persisted with their signals: the mapping survives a round trip, and a
    /// signal written before there was one still reads.
    #[test]
    fn signals_keep_their_attack_through_serde_and_old_ones_still_read() {
        let s = Signal::new(Detector::ImpossibleTravel, 80, "9,000 km in 1 hour".into(), "none".into());
        assert_eq!(s.attack.as_ref().map(|a| a.technique.as_str()), Some("T1078.004"));
        let back: Signal = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let old = r#"{"detector":"new_origin","score":70,"observed":"o","baseline":"b"}"#;
        let read: Signal = serde_json::from_str(old).unwrap();
        assert_eq!((read.attack, read.advice), (None, None));
    }

    #[test]
    fn every_security_detector_but_the_burst_has_a_default_technique() {
        for d in Detector::ALL {
            let mapped = d.attack().is_some();
            let expected =
                d.category() == Category::Security && !matches!(d, Detector::RateBurst | Detector::RiskyOperation);
            assert_eq!(mapped, expected, "{d:?}");
        }
        assert_eq!(Detector::Enumeration.attack().unwrap().tactic, Tactic::Discovery);
        assert_eq!(Detector::AccessProbing.attack().unwrap().tactic, Tactic::Discovery);
        assert_eq!(Detector::Exfiltration.attack().unwrap().tactic.uid(), "TA0010");
        assert_eq!(Detector::GhostCredential.attack().unwrap().technique, "T1078");
    }

    /// `Baseline::weak` keeps the corroborating detectors in 16 bits; a new one past the 16th
    /// would need a wider field (and a new snapshot format).
    #[test]
    fn every_corroborating_detector_has_a_bit_of_its_own() {
        let mut seen = 0u16;
        for d in Detector::ALL {
            if d.corroborates() {
                assert!((d as u16) < 16, "{d:?}");
                assert_eq!(seen & d.bit(), 0, "{d:?}");
                seen |= d.bit();
            } else {
                assert_eq!(d.bit(), 0, "{d:?}");
            }
        }
        assert!(!Detector::StolenSession.corroborates());
    }

    #[test]
    fn typical_scores_fall_in_their_bands() {
        for s in [Severity::Low, Severity::Medium, Severity::High, Severity::Critical] {
            assert_eq!(Severity::of_score(s.typical_score()), s);
        }
        assert_eq!(Severity::Critical.lower(), Severity::High);
        assert_eq!(Severity::Low.lower(), Severity::Informational);
    }
}

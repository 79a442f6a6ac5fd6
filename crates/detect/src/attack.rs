//! MITRE ATT&CK® tactics and techniques, as findings carry them (OCSF `finding_info.attacks`).
//!
//! Ids and names are those of ATT&CK Enterprise ([`ATTACK_VERSION`]), <https://attack.mitre.org>:
//! tactics at `/tactics/TA00xx/`, techniques at `/techniques/T1xxx/` and sub-techniques at
//! `/techniques/T1xxx/00y/`.

use serde::{Deserialize, Serialize};

/// The ATT&CK Enterprise version the ids and names refer to.
pub const ATTACK_VERSION: &str = "16.1";

/// An ATT&CK Enterprise tactic: the adversary's goal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tactic {
    /// TA0043.
    Reconnaissance,
    /// TA0042.
    ResourceDevelopment,
    /// TA0001.
    InitialAccess,
    /// TA0002.
    Execution,
    /// TA0003.
    Persistence,
    /// TA0004.
    PrivilegeEscalation,
    /// TA0005.
    DefenseEvasion,
    /// TA0006.
    CredentialAccess,
    /// TA0007.
    Discovery,
    /// TA0008.
    LateralMovement,
    /// TA0009.
    Collection,
    /// TA0011.
    CommandAndControl,
    /// TA0010.
    Exfiltration,
    /// TA0040.
    Impact,
}

impl Tactic {
    /// Every tactic, in the order of the ATT&CK matrix.
    pub const ALL: [Tactic; 14] = [
        Tactic::Reconnaissance,
        Tactic::ResourceDevelopment,
        Tactic::InitialAccess,
        Tactic::Execution,
        Tactic::Persistence,
        Tactic::PrivilegeEscalation,
        Tactic::DefenseEvasion,
        Tactic::CredentialAccess,
        Tactic::Discovery,
        Tactic::LateralMovement,
        Tactic::Collection,
        Tactic::CommandAndControl,
        Tactic::Exfiltration,
        Tactic::Impact,
    ];

    /// The ATT&CK id (`TA0005`).
    pub fn uid(self) -> &'static str {
        match self {
            Tactic::Reconnaissance => "TA0043",
            Tactic::ResourceDevelopment => "TA0042",
            Tactic::InitialAccess => "TA0001",
            Tactic::Execution => "TA0002",
            Tactic::Persistence => "TA0003",
            Tactic::PrivilegeEscalation => "TA0004",
            Tactic::DefenseEvasion => "TA0005",
            Tactic::CredentialAccess => "TA0006",
            Tactic::Discovery => "TA0007",
            Tactic::LateralMovement => "TA0008",
            Tactic::Collection => "TA0009",
            Tactic::CommandAndControl => "TA0011",
            Tactic::Exfiltration => "TA0010",
            Tactic::Impact => "TA0040",
        }
    }

    /// The ATT&CK name (`Defense Evasion`).
    pub fn name(self) -> &'static str {
        match self {
            Tactic::Reconnaissance => "Reconnaissance",
            Tactic::ResourceDevelopment => "Resource Development",
            Tactic::InitialAccess => "Initial Access",
            Tactic::Execution => "Execution",
            Tactic::Persistence => "Persistence",
            Tactic::PrivilegeEscalation => "Privilege Escalation",
            Tactic::DefenseEvasion => "Defense Evasion",
            Tactic::CredentialAccess => "Credential Access",
            Tactic::Discovery => "Discovery",
            Tactic::LateralMovement => "Lateral Movement",
            Tactic::Collection => "Collection",
            Tactic::CommandAndControl => "Command and Control",
            Tactic::Exfiltration => "Exfiltration",
            Tactic::Impact => "Impact",
        }
    }

    /// The lower-case, hyphenated form used in configuration and in Stratus Red Team's technique
    /// ids (`defense-evasion`).
    pub fn as_str(self) -> &'static str {
        match self {
            Tactic::Reconnaissance => "reconnaissance",
            Tactic::ResourceDevelopment => "resource-development",
            Tactic::InitialAccess => "initial-access",
            Tactic::Execution => "execution",
            Tactic::Persistence => "persistence",
            Tactic::PrivilegeEscalation => "privilege-escalation",
            Tactic::DefenseEvasion => "defense-evasion",
            Tactic::CredentialAccess => "credential-access",
            Tactic::Discovery => "discovery",
            Tactic::LateralMovement => "lateral-movement",
            Tactic::Collection => "collection",
            Tactic::CommandAndControl => "command-and-control",
            Tactic::Exfiltration => "exfiltration",
            Tactic::Impact => "impact",
        }
    }

    /// The tactic written `s` (as [`Tactic::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Tactic> {
        Tactic::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What a signal is evidence of: an ATT&CK tactic and the technique (or sub-technique) serving it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attack {
    /// The tactic.
    pub tactic: Tactic,
    /// The technique or sub-technique id (`T1078`, `T1562.008`).
    pub technique: String,
    /// Its ATT&CK name; a sub-technique's is written as ATT&CK writes it, parent first
    /// (`Impair Defenses: Disable or Modify Cloud Logs`).
    pub name: String,
}

impl Attack {
    /// An attack from its tactic, technique id and ATT&CK name.
    pub fn new(tactic: Tactic, technique: &str, name: &str) -> Attack {
        Attack { tactic, technique: technique.to_owned(), name: name.to_owned() }
    }

    /// The parent technique's id and name: the technique itself when it is not a sub-technique.
    pub fn technique(&self) -> (&str, &str) {
        let uid = self.technique.split('.').next().unwrap_or(&self.technique);
        let name = self.name.split(": ").next().unwrap_or(&self.name);
        (uid, name)
    }

    /// The sub-technique's id and full name, when the technique is one.
    pub fn sub_technique(&self) -> Option<(&str, &str)> {
        self.technique.contains('.').then_some((self.technique.as_str(), self.name.as_str()))
    }
}

/// Whether `id` is shaped like an ATT&CK technique id: `T` and four digits, optionally `.` and
/// three digits.
pub fn is_technique_id(id: &str) -> bool {
    let b = id.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => b[0] == b'T' && digits(&b[1..]),
        9 => b[0] == b'T' && digits(&b[1..5]) && b[5] == b'.' && digits(&b[6..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tactics_round_trip_and_have_their_attack_ids() {
        for t in Tactic::ALL {
            assert_eq!(Tactic::parse(t.as_str()), Some(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert!(t.uid().starts_with("TA00") && t.uid().len() == 6);
        }
        assert_eq!(Tactic::DefenseEvasion.uid(), "TA0005");
        assert_eq!(Tactic::Exfiltration.uid(), "TA0010");
        assert_eq!(Tactic::CommandAndControl.uid(), "TA0011");
        let uids: std::collections::BTreeSet<_> = Tactic::ALL.iter().map(|t| t.uid()).collect();
        assert_eq!(uids.len(), Tactic::ALL.len());
    }

    #[test]
    fn sub_techniques_split_into_parent_and_child() {
        let a = Attack::new(Tactic::DefenseEvasion, "T1562.008", "Impair Defenses: Disable or Modify Cloud Logs");
        assert_eq!(a.technique(), ("T1562", "Impair Defenses"));
        assert_eq!(a.sub_technique(), Some(("T1562.008", "Impair Defenses: Disable or Modify Cloud Logs")));
        let b = Attack::new(Tactic::InitialAccess, "T1078", "Valid Accounts");
        assert_eq!(b.technique(), ("T1078", "Valid Accounts"));
        assert_eq!(b.sub_technique(), None);
        assert!(is_technique_id("T1078") && is_technique_id("T1562.008"));
        assert!(!is_technique_id("T15") && !is_technique_id("TA0005") && !is_technique_id("T1562.8"));
    }
}

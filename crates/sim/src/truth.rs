//! Ground truth: every injected incident and benign confounder, known up front.

use serde::{Deserialize, Serialize};

/// The kind of an injected scenario: an incident (to be detected) or a benign confounder (which
/// must not raise high-severity alerts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioKind {
    /// A stolen key used from a new ASN/country with an attacker's tool, doing the victim's usual
    /// calls plus reconnaissance, while the owner keeps working.
    StolenKeyNewOrigin,
    /// A use from thousands of km away minutes after a legitimate use at home.
    ImpossibleTravel,
    /// Interleaved use from two distant origins for 30–60 minutes.
    ConcurrentUse,
    /// Many distinct list/describe/get calls or sequential resource ids within minutes.
    Enumeration,
    /// A burst of response bytes many times the credential's usual, over 5–20 minutes.
    Exfiltration,
    /// A modest per-request elevation of response bytes sustained for 3–8 hours.
    SlowExfiltration,
    /// Sensitive IAM/admin calls never made before by the credential, often after denials.
    PrivilegeEscalation,
    /// Use of a credential idle for longer than the dormancy threshold.
    DormantReactivation,
    /// Successful use of a credential after its `revoked` lifecycle record.
    GhostCredential,
    /// A client retrying an expired token: many 401 `ExpiredToken` failures in minutes.
    ExpiredTokenStorm,
    /// Many different operations tried in minutes, most denied with 403 `AccessDenied`.
    DenialProbing,
    /// Request rate many times the credential's own history for 5–15 minutes.
    RateBurst,
    /// Confounder: every credential of a service peer group moves to new addresses at once.
    DeployIpChange,
    /// Confounder: most active credentials of a client population start calling a new
    /// operation within an hour.
    NewEndpointForAll,
    /// Confounder: traffic of every credential ×3–5 for an hour.
    GlobalSurge,
    /// Confounder: a person travels abroad after a plausible flight and works from there.
    Travel,
}

impl ScenarioKind {
    /// The incident kinds.
    pub const INCIDENTS: [ScenarioKind; 12] = [
        ScenarioKind::StolenKeyNewOrigin,
        ScenarioKind::ImpossibleTravel,
        ScenarioKind::ConcurrentUse,
        ScenarioKind::Enumeration,
        ScenarioKind::Exfiltration,
        ScenarioKind::SlowExfiltration,
        ScenarioKind::PrivilegeEscalation,
        ScenarioKind::DormantReactivation,
        ScenarioKind::GhostCredential,
        ScenarioKind::ExpiredTokenStorm,
        ScenarioKind::DenialProbing,
        ScenarioKind::RateBurst,
    ];

    /// The confounder kinds.
    pub const CONFOUNDERS: [ScenarioKind; 4] = [
        ScenarioKind::DeployIpChange,
        ScenarioKind::NewEndpointForAll,
        ScenarioKind::GlobalSurge,
        ScenarioKind::Travel,
    ];

    /// The kind's name, as in `truth.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioKind::StolenKeyNewOrigin => "stolen_key_new_origin",
            ScenarioKind::ImpossibleTravel => "impossible_travel",
            ScenarioKind::ConcurrentUse => "concurrent_use",
            ScenarioKind::Enumeration => "enumeration",
            ScenarioKind::Exfiltration => "exfiltration",
            ScenarioKind::SlowExfiltration => "slow_exfiltration",
            ScenarioKind::PrivilegeEscalation => "privilege_escalation",
            ScenarioKind::DormantReactivation => "dormant_reactivation",
            ScenarioKind::GhostCredential => "ghost_credential",
            ScenarioKind::ExpiredTokenStorm => "expired_token_storm",
            ScenarioKind::DenialProbing => "denial_probing",
            ScenarioKind::RateBurst => "rate_burst",
            ScenarioKind::DeployIpChange => "deploy_ip_change",
            ScenarioKind::NewEndpointForAll => "new_endpoint_for_all",
            ScenarioKind::GlobalSurge => "global_surge",
            ScenarioKind::Travel => "travel",
        }
    }

    /// True for benign confounders.
    pub fn is_confounder(self) -> bool {
        ScenarioKind::CONFOUNDERS.contains(&self)
    }
}

impl std::fmt::Display for ScenarioKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ScenarioKind {
    type Err = String;

    fn from_str(s: &str) -> Result<ScenarioKind, String> {
        ScenarioKind::INCIDENTS
            .into_iter()
            .chain(ScenarioKind::CONFOUNDERS)
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown scenario kind `{s}`"))
    }
}

/// One injected scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Label {
    /// Index in [`Truth::labels`]; events carry it.
    pub id: u32,
    /// What was injected.
    pub kind: ScenarioKind,
    /// Raw ids of the credentials involved (for a temporary-key victim, the keys the incident used).
    pub credentials: Vec<String>,
    /// Rolled-up sessions involved: the principals of temporary (`ASIA...`) keys, which the decoder
    /// pseudonymises in the session namespace to form the event's subject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    /// The principal behind the credential, for single-credential scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The peer group (`issuer`) involved, where relevant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_group: Option<String>,
    /// True when the scenario touches every credential (`global_surge`); `credentials` is empty.
    #[serde(default)]
    pub population_wide: bool,
    /// Start, epoch ms.
    pub start_ms: i64,
    /// End, epoch ms (inclusive of the last labelled event).
    pub end_ms: i64,
    /// Number of labelled events the scenario injected (incidents), or 0 where the scenario
    /// reshapes ordinary traffic (confounders).
    pub injected_events: u32,
    /// What happened, for people reading the truth file.
    pub detail: String,
}

/// The truth table of one simulated stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Seed the stream was generated with.
    pub seed: u64,
    /// Start of the stream, epoch ms.
    pub start_ms: i64,
    /// End of the stream, epoch ms (exclusive).
    pub end_ms: i64,
    /// The dormancy threshold, in days, that `dormant_reactivation` labels assume.
    pub dormancy_days: f64,
    /// Every scenario, incidents and confounders, by id.
    pub labels: Vec<Label>,
}

impl Truth {
    /// The label with this id.
    pub fn label(&self, id: u32) -> Option<&Label> {
        self.labels.get(id as usize)
    }

    /// Incidents only.
    pub fn incidents(&self) -> impl Iterator<Item = &Label> {
        self.labels.iter().filter(|l| !l.kind.is_confounder())
    }

    /// Confounders only.
    pub fn confounders(&self) -> impl Iterator<Item = &Label> {
        self.labels.iter().filter(|l| l.kind.is_confounder())
    }

    /// Scenarios of one kind.
    pub fn of_kind(&self, kind: ScenarioKind) -> impl Iterator<Item = &Label> {
        self.labels.iter().filter(move |l| l.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in ScenarioKind::INCIDENTS.into_iter().chain(ScenarioKind::CONFOUNDERS) {
            assert_eq!(k.as_str().parse::<ScenarioKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.as_str()));
        }
        assert!(ScenarioKind::Travel.is_confounder());
        assert!(!ScenarioKind::RateBurst.is_confounder());
    }
}

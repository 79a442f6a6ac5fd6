//! Credential lifecycle records: created, revoked, expired, rotated.
//!
//! They arrive on their own input (a file for `replay`, a topic for the daemon) as JSON lines:
//! `{"time": <epoch ms>, "credential_uid": "<raw id>", "action": "revoked", "reason": "..."}`.
//! The raw id is pseudonymised exactly like an event's credential, then dropped.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::json::{cow, BStr, OptStr};
use crate::{DecodeError, Pseudonym, Pseudonymizer};

/// What happened to a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleAction {
    /// Issued.
    Created,
    /// Revoked by an operator or system: any later use is a ghost credential.
    Revoked,
    /// Reached its expiry.
    Expired,
    /// Replaced by a successor; the old value should fall out of use.
    Rotated,
}

impl LifecycleAction {
    /// The action's name.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleAction::Created => "created",
            LifecycleAction::Revoked => "revoked",
            LifecycleAction::Expired => "expired",
            LifecycleAction::Rotated => "rotated",
        }
    }
}

/// A decoded lifecycle record: the credential is already pseudonymised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleEvent<'a> {
    /// When it happened, epoch ms.
    pub time_ms: i64,
    /// The credential, pseudonymised as events' credentials are.
    pub credential: Pseudonym,
    /// What happened.
    pub action: LifecycleAction,
    /// Free-text reason, if given.
    pub reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw<'a> {
    time: Option<i64>,
    #[serde(borrow)]
    credential_uid: OptStr<'a>,
    action: Option<LifecycleAction>,
    #[serde(borrow)]
    reason: OptStr<'a>,
}

impl<'a> LifecycleEvent<'a> {
    /// Decodes one JSON line, pseudonymising its credential.
    pub fn decode(line: &'a str, pseudonymizer: &Pseudonymizer) -> Result<LifecycleEvent<'a>, DecodeError> {
        let raw: Raw<'a> = serde_json::from_str(line).map_err(DecodeError::json)?;
        let time_ms = raw.time.ok_or(DecodeError::MissingField("time"))?;
        if !crate::time::in_range(time_ms) {
            return Err(DecodeError::invalid("time", crate::time::out_of_range_reason(time_ms)));
        }
        let credential = cow(raw.credential_uid).ok_or(DecodeError::MissingField("credential_uid"))?;
        let action = raw.action.ok_or(DecodeError::MissingField("action"))?;
        Ok(LifecycleEvent {
            time_ms,
            credential: pseudonymizer.credential(&credential),
            action,
            reason: raw.reason.map(BStr::into_cow),
        })
    }
}

/// A lifecycle record for writing (the simulator, tests). Holds the raw, synthetic credential id.
#[derive(Clone, Debug, Serialize)]
pub struct LifecycleRecord<'a> {
    /// Epoch ms.
    pub time: i64,
    /// The raw credential id, as the identity provider would send it.
    pub credential_uid: &'a str,
    /// What happened.
    pub action: LifecycleAction,
    /// Why.
    pub reason: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let p = Pseudonymizer::insecure_demo();
        let rec =
            LifecycleRecord { time: 5, credential_uid: "key-1", action: LifecycleAction::Revoked, reason: "leak" };
        let line = serde_json::to_string(&rec).unwrap();
        let ev = LifecycleEvent::decode(&line, &p).unwrap();
        assert_eq!(ev.credential, p.credential("key-1"));
        assert_eq!(ev.action, LifecycleAction::Revoked);
        assert_eq!(ev.reason.as_deref(), Some("leak"));
        assert!(LifecycleEvent::decode(r#"{"time":1,"action":"revoked"}"#, &p).is_err());
        assert!(LifecycleEvent::decode(r#"{"time":1,"credential_uid":"k","action":"stolen"}"#, &p).is_err());
        let err = LifecycleEvent::decode(r#"{"time":1,"credential_uid":"SECRETKEY","action":7}"#, &p).unwrap_err();
        assert!(!err.to_string().contains("SECRETKEY"));
    }
}

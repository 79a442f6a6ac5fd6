//! What each HTTP sink receives for a finding record: the generic webhook the OCSF finding itself
//! (signed), Slack a message a person reads in five seconds, PagerDuty an Events API v2 event.

use credence_detect::Severity;
use credence_event::time::format_rfc3339_ms;
use credence_finding::incident::IncidentUpdate;
use credence_finding::{Activity, FindingUpdate};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::config::HttpSinkKind;

/// Most evidence lines in a Slack message: one per detector, the strongest first.
const SLACK_EVIDENCE_LINES: usize = 4;

/// The body a sink of `kind` receives for a finding record; `ocsf` is the rendered OCSF finding.
pub fn body(
    kind: HttpSinkKind,
    u: &FindingUpdate,
    ocsf: &[u8],
    routing_key: Option<&str>,
    link: Option<&str>,
) -> Vec<u8> {
    match kind {
        HttpSinkKind::Webhook => ocsf.to_vec(),
        HttpSinkKind::Slack => slack(u, link).to_string().into_bytes(),
        HttpSinkKind::Pagerduty => pagerduty(u, routing_key.unwrap_or_default(), link).to_string().into_bytes(),
    }
}

/// The title of a finding: its strongest signal's advice, or its detector's title.
fn title(u: &FindingUpdate) -> String {
    let f = &u.finding;
    f.signals
        .first()
        .and_then(|s| s.advice.as_ref())
        .map_or_else(|| f.primary().title().to_string(), |a| a.title.clone())
}

fn slack(u: &FindingUpdate, link: Option<&str>) -> Value {
    let f = &u.finding;
    let icon = match f.severity {
        Severity::Critical => ":rotating_light:",
        Severity::High => ":red_circle:",
        Severity::Medium => ":large_orange_circle:",
        _ => ":large_blue_circle:",
    };
    let verb = match u.activity {
        Activity::Create => "new",
        Activity::Update => "updated",
        Activity::Close => "closed",
    };
    let who = f.principal.as_deref().unwrap_or("unknown principal");
    let mut lines = vec![
        format!("{icon} *{}* ({verb}) {}", f.severity.as_str().to_uppercase(), title(u)),
        format!(
            "credential `{}` · {who} · score {}/100, confidence {}/100 · {} request(s) since {}",
            f.credential,
            f.score,
            f.confidence,
            f.count,
            format_rfc3339_ms(f.first_ms)
        ),
    ];
    if !u.changes.is_empty() {
        lines.push(format!("new: {}", u.changes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")));
    }
    if let Some(h) = &f.context.key_hint {
        lines.push(format!("access key `{h}`"));
    }
    for s in f.signals.iter().take(SLACK_EVIDENCE_LINES) {
        lines.push(format!("• *{}*: {} (usual: {})", s.detector.as_str(), s.observed, s.baseline));
    }
    if let Some(l) = link {
        lines.push(format!("<{l}|Open the finding>"));
    }
    json!({ "text": lines.join("\n") })
}

/// PagerDuty's severities: critical, error, warning, info.
fn pagerduty_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Informational => "info",
    }
}

/// A trigger for a finding's create and update records (one incident: the dedup key is the
/// finding's uid), a resolve for its close record.
fn pagerduty(u: &FindingUpdate, routing_key: &str, link: Option<&str>) -> Value {
    let f = &u.finding;
    if u.activity == Activity::Close {
        return json!({ "routing_key": routing_key, "event_action": "resolve", "dedup_key": f.uid });
    }
    let who = f.principal.as_deref().unwrap_or("unknown principal");
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": f.uid,
        "payload": {
            "summary": format!("{}: {} ({who})", f.severity.as_str().to_uppercase(), title(u)),
            "source": format!("credential {}", f.credential),
            "severity": pagerduty_severity(f.severity),
            "timestamp": format_rfc3339_ms(f.last_ms),
            "component": "credence",
            "group": f.principal.clone().unwrap_or_default(),
            "class": f.primary().as_str(),
            "custom_details": {
                "finding_uid": f.uid,
                "revision": f.revision,
                "score": f.score,
                "confidence": f.confidence,
                "count": f.count,
                "detectors": f.detectors().map(|d| d.as_str()).collect::<Vec<_>>(),
                "operations": f.context.operations,
                "changes": u.changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "key_hint": f.context.key_hint,
                "evidence": f.signals.iter().map(|s| format!("{}: {} (usual: {})", s.detector.as_str(), s.observed, s.baseline)).collect::<Vec<_>>(),
            },
        },
    });
    if let Some(l) = link {
        event["links"] = json!([{ "href": l, "text": "The finding" }]);
    }
    event
}

/// The body a sink of `kind` receives for an incident record; `ocsf` is the rendered OCSF
/// Incident Finding. PagerDuty: one PagerDuty incident per Credence incident (its uid is the
/// dedup key), resolved when it closes.
pub fn incident_body(
    kind: HttpSinkKind,
    u: &IncidentUpdate,
    ocsf: &[u8],
    routing_key: Option<&str>,
    link: Option<&str>,
) -> Vec<u8> {
    let i = &u.incident;
    let who = i.principal.clone().unwrap_or_else(|| format!("credential {}", i.credential));
    let summary = format!("{}: incident, {} findings on {who}", i.severity.as_str().to_uppercase(), i.findings);
    let tactics: Vec<&str> = i.tactics().iter().map(|t| t.name()).collect();
    match kind {
        HttpSinkKind::Webhook => ocsf.to_vec(),
        HttpSinkKind::Slack => {
            let verb = match u.activity {
                Activity::Create => "new",
                Activity::Update => "updated",
                Activity::Close => "closed",
            };
            let mut lines =
                vec![format!(":rotating_light: *{summary}* ({verb}) since {}", format_rfc3339_ms(i.first_ms))];
            for m in i.members.iter().take(SLACK_EVIDENCE_LINES) {
                lines.push(format!("• {} [{}] {}", format_rfc3339_ms(m.first_ms), m.severity.as_str(), m.title));
            }
            if !tactics.is_empty() {
                lines.push(format!("ATT&CK: {}", tactics.join(" → ")));
            }
            if let Some(l) = link {
                lines.push(format!("<{l}|Open the incident>"));
            }
            json!({ "text": lines.join("\n") }).to_string().into_bytes()
        }
        HttpSinkKind::Pagerduty => {
            let routing_key = routing_key.unwrap_or_default();
            if u.activity == Activity::Close {
                return json!({ "routing_key": routing_key, "event_action": "resolve", "dedup_key": i.uid })
                    .to_string()
                    .into_bytes();
            }
            let mut event = json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": i.uid,
                "payload": {
                    "summary": summary,
                    "source": format!("credential {}", i.credential),
                    "severity": pagerduty_severity(i.severity),
                    "timestamp": format_rfc3339_ms(i.last_ms),
                    "component": "credence",
                    "group": i.principal.clone().unwrap_or_default(),
                    "class": "incident",
                    "custom_details": {
                        "incident_uid": i.uid,
                        "revision": i.revision,
                        "findings": i.members.iter().map(|m| format!("{} [{}] {} ({})", format_rfc3339_ms(m.first_ms), m.severity.as_str(), m.title, m.uid)).collect::<Vec<_>>(),
                        "tactics": tactics,
                    },
                },
            });
            if let Some(l) = link {
                event["links"] = json!([{ "href": l, "text": "The incident" }]);
            }
            event.to_string().into_bytes()
        }
    }
}

/// The webhook's signature: `sha256=` and the hex HMAC-SHA256 under `key` of the timestamp, a
/// dot and the body (so a captured request cannot be replayed with another timestamp).
pub fn signature(key: &[u8], timestamp: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length: the error cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

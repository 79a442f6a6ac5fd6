//! Human-readable alert text for terminals (`demo`, `replay --human`).

use std::fmt::Write as _;

use credence_event::time::format_rfc3339_ms;
use credence_finding::{Activity, FindingUpdate};

/// Renders a finding record as a few lines of text a person can act on.
pub fn alert_text(u: &FindingUpdate) -> String {
    let f = &u.finding;
    let mut s = String::new();
    let verb = match u.activity {
        Activity::Create => "NEW",
        Activity::Update => "UPDATED",
        Activity::Close => "CLOSED",
    };
    let who = f.principal.as_deref().unwrap_or("unknown principal");
    let _ = writeln!(
        s,
        "[{}] {verb} {} — {}",
        f.severity.as_str().to_uppercase(),
        format_rfc3339_ms(f.last_ms),
        f.signals.first().and_then(|s| s.advice.as_ref()).map_or(f.primary().title(), |a| a.title.as_str())
    );
    let _ = writeln!(
        s,
        "  credential {} ({who}), score {}/100, confidence {}/100, {} anomalous request(s) since {}",
        f.credential,
        f.score,
        f.confidence,
        f.count,
        format_rfc3339_ms(f.first_ms)
    );
    if let Some(h) = &f.context.key_hint {
        let _ = writeln!(s, "  access key {h}");
    }
    if let Some(x) = &u.suppressed {
        let _ = writeln!(s, "  SUPPRESSED by rule {:?} ({}): {}", &*x.rule, x.author, x.reason);
    }
    if !u.changes.is_empty() {
        let new: Vec<String> = u.changes.iter().map(ToString::to_string).collect();
        let _ = writeln!(s, "  new: {}", new.join("; "));
    }
    if !f.context.operations.is_empty() {
        let _ = writeln!(s, "  operations: {}", f.context.operations.join(", "));
    }
    for sig in &f.signals {
        let _ = writeln!(s, "  • {} ({}): {}", sig.detector.as_str(), sig.score, sig.observed);
        let _ = writeln!(s, "      baseline: {}", sig.baseline);
        if let Some(a) = &sig.attack {
            let _ = writeln!(s, "      ATT&CK: {} {}, {} {}", a.tactic.uid(), a.tactic.name(), a.technique, a.name);
        }
    }
    let first = f.signals.first();
    let _ = writeln!(
        s,
        "  do: {}",
        first.and_then(|s| s.advice.as_ref()).map_or(f.primary().remediation(), |a| &a.remediation)
    );
    s
}

/// Renders an incident record as a few lines of text: its findings, in order, and its tactics.
pub fn incident_text(u: &credence_finding::incident::IncidentUpdate) -> String {
    let i = &u.incident;
    let mut s = String::new();
    let verb = match u.activity {
        Activity::Create => "NEW INCIDENT",
        Activity::Update => "INCIDENT UPDATED",
        Activity::Close => "INCIDENT CLOSED",
    };
    let who = i.principal.clone().unwrap_or_else(|| format!("credential {}", i.credential));
    let _ = writeln!(
        s,
        "[{}] {verb} {} — {} findings on {who} since {}",
        i.severity.as_str().to_uppercase(),
        format_rfc3339_ms(i.last_ms),
        i.findings,
        format_rfc3339_ms(i.first_ms)
    );
    for m in &i.members {
        let _ = writeln!(s, "  {} [{}] {}", format_rfc3339_ms(m.first_ms), m.severity.as_str(), m.title);
    }
    let tactics: Vec<&str> = i.tactics().iter().map(|t| t.name()).collect();
    if !tactics.is_empty() {
        let _ = writeln!(s, "  ATT&CK tactics: {}", tactics.join(" → "));
    }
    s.push('\n');
    s
}

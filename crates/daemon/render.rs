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

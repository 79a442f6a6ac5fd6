//! The detectors of what an operation does, read from the operation risk catalogue: the
//! behavioural privilege detector (a privilege-changing or control-weakening call new to the
//! credential, weighed by its history and its peers') and the day-one risky-operation detector
//! (a catalogued risky call new to the credential, at the catalogue's severity, no baseline
//! needed).

use credence_event::Outcome;

use super::{adoption_discount, usual, Scope, PEER_KNOWN_SHARE};
use crate::catalogue::{Entry, OpClass};
use crate::population::Dim;
use crate::verdict::{Advice, Detector, Severity, Signal};

pub(super) fn privilege(s: &Scope<'_>, entry: &Entry, out: &mut Vec<Signal>) {
    let Scope { b, obs, ctx, peer, .. } = *s;
    let mut score: f32 = if b.privileged_ops == 0 { 72.0 } else { 35.0 };
    if b.short.contains(obs.t, ctx.cfg.short_window_secs) && b.short.failures > 0 {
        score += 10.0; // Denials just before: trying until something works.
    }
    if peer.is_some_and(|p| {
        let l = p.ops.lookup(obs.op, obs.t, ctx.cfg.profile_half_life_secs);
        !l.novel && l.share >= PEER_KNOWN_SHARE
    }) {
        score -= 30.0;
    }
    let adopters = ctx.population.adopters(Dim::Op, obs.op, obs.t);
    score -= 5.0 * adoption_discount(adopters);
    if b.events == 0 || score <= 0.0 {
        return;
    }
    let e = obs.event;
    let api = match e.service.as_deref() {
        Some(s) => format!("{s} {}", e.operation),
        None => e.operation.to_string(),
    };
    let before = if b.privileged_ops == 0 {
        "no privilege-changing operation".to_string()
    } else {
        format!("{} other privilege-changing operations", b.privileged_ops)
    };
    out.push(
        Signal::new(
            Detector::PrivilegeEscalation,
            score.min(95.0) as u8,
            format!(
                "first call of {api} ({}, {})",
                if entry.class() == OpClass::Tamper { "weakens a security control" } else { "changes privileges" },
                format!("{:?}", e.outcome).to_lowercase()
            ),
            format!(
                "{before} in {} of history; usual operations: {}",
                s.history(),
                usual(&b.ops, |k| ctx.population.op_label(k))
            ),
        )
        .with_attack(entry.attack.clone()),
    );
}

/// The day-one layer: an operation the catalogue rates Medium or above, the first time this
/// credential makes it (it is only asked about operations new to the credential), whatever the
/// baseline's maturity, at the catalogue's severity: the second call is no longer new, and a
/// mature credential that makes the call routinely is judged by its baseline. A mature peer group
/// that makes the call routinely judges it instead, as the maturity gate lets peers judge a
/// newcomer: an operation the credential's role performs every day is the role's work. With
/// neither its own history nor peers to judge it by, a credential is rated at the catalogue's
/// `new_credential` severity (lower for the calls every workload makes when it starts). A call
/// that was refused or failed is an attempt, not an effect: one severity lower.
pub(super) fn risky(s: &Scope<'_>, entry: &Entry, out: &mut Vec<Signal>) {
    let Scope { b, obs, ctx, peer, established } = *s;
    let rated = if established || peer.is_some() { entry.severity } else { entry.new_credential };
    if rated < Severity::Medium {
        return;
    }
    let peer_routine = peer.is_some_and(|p| {
        let l = p.ops.lookup(obs.op, obs.t, ctx.cfg.profile_half_life_secs);
        !l.novel && l.share >= PEER_KNOWN_SHARE
    });
    let e = obs.event;
    let attempt = !matches!(e.outcome, Outcome::Success | Outcome::Unknown);
    let severity = if attempt { rated.lower() } else { rated };
    if peer_routine || severity < Severity::Medium {
        return;
    }
    let a = &entry.attack;
    let mut observed = format!(
        "{}{}: {}, {} {}; {}",
        e.operation,
        e.service.as_deref().map(|s| format!(" ({s})")).unwrap_or_default(),
        a.tactic.name().to_lowercase(),
        a.technique,
        a.name,
        entry.reason
    );
    if !e.request.is_empty() {
        observed.push_str(&format!(" [request: {}]", e.request));
    }
    if attempt {
        let why = e.error_code.as_deref().map_or_else(|| format!("{:?}", e.outcome).to_lowercase(), str::to_owned);
        let how = if e.outcome.is_access_failure() { "refused" } else { "failed" };
        observed.push_str(&format!(" (attempted, {how}: {why})"));
    }
    let mut baseline = if b.events == 0 {
        "the credential's first call seen: no history".to_string()
    } else {
        format!("this credential has never called it in {} events over {}", b.events, s.history())
    };
    if peer.is_some() {
        baseline.push_str("; nor does its peer group");
    }
    let advice =
        Advice { title: entry.title.clone(), remediation: entry.remediation.clone(), docs: entry.docs.clone() };
    let signal = Signal::new(Detector::RiskyOperation, severity.typical_score(), observed, baseline);
    out.push(Signal { advice: Some(advice), ..signal.with_attack(a.clone()) });
}

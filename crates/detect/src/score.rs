//! The detectors: each reads a [`Baseline`] (never writes it) and one [`Observation`], and may
//! produce a [`Signal`] with its evidence. Evidence text is built only when a detector fires.

use credence_event::{time::format_rfc3339_ms, Outcome};

use crate::baseline::{is_jump, to_ms, Baseline, CredentialState, Observation, RecentVolume, CONCURRENCY_WINDOW_SECS};
use crate::catalogue::{Catalogue, Entry, Op, OpClass};
use crate::config::DetectConfig;
use crate::keys;
use crate::population::{Dim, PeerProfile, Population};
use crate::stats::{FreqTable, Lookup};
use crate::verdict::{Detector, Signal};

mod hourly;
mod operation;
use operation::{privilege, risky};

/// Surprise, in bits, below which a novel value is unremarkable.
const NOVELTY_FLOOR_BITS: f32 = 4.0;
/// Bits per e-fold of score above the floor: 10 bits of surprise scores about 63.
const NOVELTY_SCALE_BITS: f32 = 6.0;
/// Weight of a new network (/24, /64) relative to a new ASN or country: addresses churn more.
const NET_WEIGHT: f32 = 0.7;
/// Weight of a new network or ASN when the country is a known one.
const DOMESTIC_WEIGHT: f32 = 0.75;
/// Weight of a new client (user agent): clients update, so a new one is weaker evidence.
const CLIENT_WEIGHT: f32 = 0.7;
/// Other credentials that must take up a value before it counts as a population-wide change:
/// fewer could be one attacker using several stolen keys.
const ADOPTION_MIN: u32 = 3;
/// Share of a peer group's traffic from which a value counts as known to the peers.
const PEER_KNOWN_SHARE: f32 = 0.01;
/// Minimum per-minute requests for a burst, whatever the history: quieter is never a burst.
const RATE_MIN_PER_MINUTE: f32 = 20.0;
/// A burst is at least this many times the usual per-minute rate.
const RATE_MIN_RATIO: f32 = 6.0;
/// Minutes of history before the rate detector trusts its baseline.
const RATE_MIN_MINUTES: u32 = 30;
/// Active short windows of history before the sustained-rate check trusts its baseline.
const RATE_MIN_WINDOWS: u32 = 20;
/// A sustained burst is at least this many times the usual requests per active window.
const RATE_MIN_WINDOW_RATIO: f32 = 8.0;
/// Minimum requests in a short window for a sustained burst, whatever the history.
const RATE_MIN_PER_WINDOW: f32 = 60.0;
/// Smallest short-window volume that can be exfiltration, bytes.
const EXFIL_MIN_BYTES: f64 = 5.0e6;
/// Smallest excess volume that can be slow exfiltration, bytes.
const SLOW_EXFIL_MIN_BYTES: f64 = 1.0e5;
/// Responses (decayed count) before slow exfiltration is considered.
const SLOW_EXFIL_MIN_EVENTS: f32 = 30.0;
/// Recent responses typically at least this many times their operations' usual size.
const SLOW_EXFIL_MIN_RATIO: f32 = 1.5;
/// Standard errors of the recent mean excess above usual that make slow exfiltration.
const SLOW_EXFIL_MIN_Z: f32 = 4.0;
/// Responses of history before the test is trusted.
const SLOW_EXFIL_MIN_HISTORY: u32 = 100;
/// Inflated responses (decayed count) before the mixed-in test is considered.
const SLOW_INFLATED_MIN: f32 = 12.0;
/// Odds of a recent response being inflated, at least this many times the usual odds.
const SLOW_INFLATED_MIN_ODDS: f32 = 4.0;
/// Binomial standard deviations of the inflated count above its expectation.
const SLOW_INFLATED_MIN_Z: f32 = 5.0;
/// Standard deviations of the surplus above the credential's usual surplus (its runs).
const SLOW_INFLATED_MIN_RUN_Z: f32 = 3.0;
/// The surplus at least this many times the longest recent run that has ended.
const SLOW_INFLATED_PEAK_RATIO: f32 = 3.0;
/// Smallest volume the recent responses returned beyond usual, bytes.
const SLOW_INFLATED_MIN_BYTES: f64 = 1.6e4;
/// Enumeration floors: distinct operations / resources in one short window.
const ENUM_MIN_OPS: f32 = 12.0;
const ENUM_MIN_RESOURCES: f32 = 40.0;
/// Operations new to a credential (and its peers) among the distinct operations of its window,
/// once it has a usual level, for them to count as enumeration.
const ENUM_MIN_UNFAMILIAR_OPS: f32 = 4.0;
/// Probing floors: failures and distinct failed operations in one short window.
const PROBE_MIN_FAILURES: u32 = 8;
const PROBE_MIN_FAILED_OPS: f32 = 5.0;
/// Expired-token storm floor: rejected-credential failures in one short window.
const STORM_MIN_FAILURES: u32 = 20;
/// Alternations between two distant origins that make concurrent use.
const CONCURRENT_MIN_SWITCHES: u16 = 4;
/// Origins closer than this are one place for concurrency, km.
const CONCURRENT_MIN_KM: f64 = 300.0;

/// What scoring needs besides the subject's baseline.
#[derive(Debug)]
pub struct Context<'a> {
    /// Settings.
    pub cfg: &'a DetectConfig,
    /// The subject's peer profile, if any.
    pub peer: Option<&'a PeerProfile>,
    /// Population-wide state.
    pub population: &'a Population,
    /// What operations mean (ATT&CK tactic and technique, risk).
    pub catalogue: &'a Catalogue,
    /// Lifecycle state of the presented credential when it differs from the subject (a revoked
    /// temporary key of a still-valid session).
    pub credential_state: Option<(CredentialState, u32)>,
}

/// What scoring found, beyond the signals: what the learning step needs to know.
#[derive(Clone, Copy, Debug)]
pub struct Novelty {
    /// The operation is new to the subject.
    pub op: bool,
    /// The operation is new to the subject and, when it has a mature peer group, to its peers
    /// too: an operation others in its role or app already call is no exploration.
    pub op_unfamiliar: bool,
    /// The operation changes privileges or weakens a security control.
    pub privileged: bool,
    /// The operation's class (computed only when it is new to the subject).
    pub class: OpClass,
    /// The network, ASN, country, client are new to the subject.
    pub net: bool,
    /// ASN new.
    pub asn: bool,
    /// Country new.
    pub country: bool,
    /// Client new.
    pub agent: bool,
    /// The baseline was trusted: established, or judged through a mature peer group.
    pub supported: bool,
}

/// Bits of surprise removed because other credentials took up the same value recently.
fn adoption_discount(adopters: u32) -> f32 {
    if adopters < ADOPTION_MIN {
        0.0
    } else {
        2.0 * (1.0 + adopters as f32).log2()
    }
}

fn novelty_score(bits: f32) -> f32 {
    if bits <= NOVELTY_FLOOR_BITS {
        0.0
    } else {
        100.0 * (1.0 - (-(bits - NOVELTY_FLOOR_BITS) / NOVELTY_SCALE_BITS).exp())
    }
}

/// `1 operation`, `3 operations` (a count estimated by a sketch is rounded first).
fn count(n: f32, noun: &str) -> String {
    let n = n.round().max(0.0);
    if n == 1.0 {
        format!("1 {noun}")
    } else {
        format!("{n:.0} {noun}s")
    }
}

/// A span of event time: `under a minute`, `1 minute`, `12 minutes`.
fn span(secs: u32) -> String {
    match secs / 60 {
        0 => "under a minute".into(),
        1 => "1 minute".into(),
        m => format!("{m} minutes"),
    }
}

fn pct(share: f32) -> String {
    let p = share * 100.0;
    if p >= 10.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

fn days(secs: u32) -> String {
    let d = secs as f32 / 86_400.0;
    if d >= 2.0 {
        format!("{d:.0} days")
    } else {
        format!("{:.0} hours", secs as f32 / 3600.0)
    }
}

fn bytes(b: f64) -> String {
    match b {
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        b => format!("{b:.0} B"),
    }
}

fn usual<const K: usize, const W: usize>(t: &FreqTable<K, W>, label: impl Fn(u32) -> String) -> String {
    let top = t.top(3);
    if top.is_empty() {
        return "none recorded".into();
    }
    top.iter().map(|(k, share, _)| format!("{} {}", label(*k), pct(*share))).collect::<Vec<_>>().join(", ")
}

/// Scores one observation against its subject's baseline. Read-only.
pub fn score(b: &Baseline, obs: &Observation<'_>, ctx: &Context<'_>) -> (Vec<Signal>, Novelty) {
    let cfg = ctx.cfg;
    let t = obs.t;
    let hl = cfg.profile_half_life_secs;
    let state = b.state_at(cfg, t);
    let established = matches!(state, CredentialState::Established)
        || (state == CredentialState::Dormant && b.events >= cfg.mature_events);
    let peer = ctx.peer.filter(|p| p.is_mature());
    let mut signals = Vec::new();
    let mut nov = Novelty {
        op: false,
        op_unfamiliar: false,
        privileged: false,
        class: OpClass::Other,
        net: false,
        asn: false,
        country: false,
        agent: false,
        supported: established || (peer.is_some() && b.events < cfg.mature_events),
    };
    ghost(b, obs, ctx, &mut signals);

    // Categorical novelty, against the subject's own tables.
    let op = b.ops.lookup(obs.op, t, hl);
    nov.op = op.novel;
    let mut entry = None;
    if op.novel {
        nov.op_unfamiliar = peer.is_none_or(|p| p.ops.lookup(obs.op, t, hl).novel);
        let e = obs.event;
        let call = Op {
            service: e.service.as_deref(),
            operation: &e.operation,
            method: e.http_method.as_deref(),
            facts: e.request,
        };
        entry = ctx.catalogue.classify(obs.op, call);
        nov.class = entry.map_or(OpClass::Other, Entry::class);
        nov.privileged = matches!(nov.class, OpClass::Privilege | OpClass::Tamper);
    }
    let look = |table: Option<u32>, f: &dyn Fn(u32) -> Lookup| table.map(f);
    let net = look(obs.net, &|k| b.nets.lookup(k, t, hl));
    let asn = look(obs.asn, &|k| b.asns.lookup(k, t, hl));
    let country = look(obs.country, &|k| b.countries.lookup(k, t, hl));
    let agent = look(obs.agent, &|k| b.agents.lookup(k, t, hl));
    nov.net = net.is_some_and(|l| l.novel);
    nov.asn = asn.is_some_and(|l| l.novel);
    nov.country = country.is_some_and(|l| l.novel);
    nov.agent = agent.is_some_and(|l| l.novel);

    let scope = Scope { b, obs, ctx, peer, established };
    if b.events > 0 && !origin(&scope, [net, asn, country], agent, &mut signals) {
        client(b, obs, ctx, agent, &mut signals);
    }
    if let Some(entry) = entry {
        if nov.privileged {
            privilege(&scope, entry, &mut signals);
        }
        risky(&scope, entry, &mut signals);
    }
    if nov.op_unfamiliar && established && !nov.privileged && changes_data(obs.event) {
        new_operation(&scope, op, &mut signals);
    }
    dormant(b, t, cfg, &mut signals);
    if established {
        unusual_hour(b, obs, &mut signals);
    }
    // The detectors of sequences and windows judge the present: a late event (see
    // `LATE_AFTER_SECS`) is not compared with events that came after it.
    if !b.is_late(t) {
        travel(b, obs, cfg, &mut signals);
        concurrency(b, obs, &mut signals);
        rate(b, obs, ctx, &mut signals);
        volume(b, obs, cfg, &mut signals);
        let fired = |d: &[Detector]| signals.iter().any(|s| d.contains(&s.detector));
        let fired = [fired(&[Detector::RateBurst]), fired(&[Detector::Exfiltration, Detector::SlowExfiltration])];
        hourly::hourly(b, obs, ctx, fired, &mut signals);
        window(b, obs, cfg, ctx.population.surge_factor(), nov.op_unfamiliar, &mut signals);
    }

    // Without a trusted baseline, behavioural signals are only hints.
    if !nov.supported {
        let m = b.maturity(cfg, t);
        for s in &mut signals {
            if matches!(
                s.detector,
                Detector::NewOrigin
                    | Detector::NewClient
                    | Detector::UnusualHour
                    | Detector::PrivilegeEscalation
                    | Detector::RateBurst
                    | Detector::Exfiltration
                    | Detector::SlowExfiltration
                    | Detector::Enumeration
            ) {
                s.score = (f32::from(s.score) * (0.4 + 0.4 * m)) as u8;
            }
        }
    }
    signals.retain(|s| s.score > 0);
    signals.sort_by_key(|s| std::cmp::Reverse(s.score));
    (signals, nov)
}

/// Whether a call changes or deletes something: by its HTTP method, else by the verb an
/// AWS-style operation name starts with.
fn changes_data(e: &credence_event::Event<'_>) -> bool {
    const VERBS: [&str; 14] = [
        "Create",
        "Delete",
        "Put",
        "Update",
        "Modify",
        "Remove",
        "Terminate",
        "Attach",
        "Detach",
        "Set",
        "Add",
        "Restore",
        "Revoke",
        "Cancel",
    ];
    match e.http_method.as_deref() {
        Some(m) => matches!(m, "POST" | "PUT" | "PATCH" | "DELETE"),
        None => {
            let op = e.operation.as_ref();
            let first = op.split_whitespace().next().unwrap_or("");
            matches!(first, "POST" | "PUT" | "PATCH" | "DELETE") || VERBS.iter().any(|v| op.starts_with(v))
        }
    }
}

/// A first-ever changing operation of an established credential, new to its peers too: weak,
/// scored by how rarely the credential meets new operations (a person exploring scores less than
/// a service with five calls), at most [`crate::verdict::NEW_OPERATION_MAX_SCORE`].
fn new_operation(s: &Scope<'_>, op: Lookup, out: &mut Vec<Signal>) {
    let Scope { b, obs, ctx, .. } = *s;
    let score = novelty_score(op.surprise_bits()).min(f32::from(crate::verdict::NEW_OPERATION_MAX_SCORE));
    if score < 1.0 {
        return;
    }
    out.push(Signal::new(
        Detector::NewOperation,
        score as u8,
        format!("first call of {} (changes data)", obs.event.operation),
        format!(
            "never made by this credential in {} of history, nor by its peers; usual operations: {}",
            s.history(),
            usual(&b.ops, |k| ctx.population.op_label(k))
        ),
    ));
}

/// Score of a dormant credential waking just past its threshold: below the alert score, a weak
/// signal that corroborates a new origin, client or operation (a returning owner looks like it
/// too: on the demo world, at 68 the silences of 4 to 7 days just past the bar raised 9 to 13
/// false alarms a seed, where the fixed 7-day threshold had raised about 2).
const DORMANT_SCORE: f32 = 55.0;
/// Score added per doubling of the idle time beyond the threshold: 1.3 times it alerts (Low),
/// 2.5 times it (a key used daily, back after ten days) and a credential first used months after
/// its creation are Medium alone.
const DORMANT_SCORE_PER_DOUBLING: f32 = 15.0;
/// Most a dormancy scores alone: Medium, never High without other evidence.
const DORMANT_MAX_SCORE: f32 = 85.0;

/// A credential used after a silence its own cadence makes improbable, or for the first time long
/// after it was created (see [`Baseline::dormancy`]).
fn dormant(b: &Baseline, t: u32, cfg: &DetectConfig, out: &mut Vec<Signal>) {
    if b.events > 0 && b.events < cfg.learning_events {
        return;
    }
    let Some(idle) = b.dormancy(cfg, t) else { return };
    let threshold = if b.events == 0 { cfg.dormancy_secs } else { b.dormant_after(cfg) };
    let beyond = (idle as f32 / threshold.max(1) as f32).max(1.0).log2();
    let score = (DORMANT_SCORE + DORMANT_SCORE_PER_DOUBLING * beyond).min(DORMANT_MAX_SCORE) as u8;
    let (observed, baseline) = if b.events == 0 {
        (
            format!("first use, {} after the credential was created", days(idle)),
            format!(
                "created {} and never used since; a credential unused for {} is dormant",
                format_rfc3339_ms(to_ms(b.first_seen)),
                days(cfg.dormancy_secs)
            ),
        )
    } else {
        let longest = (b.gap_peak_hours.get() * 3_600.0) as u32;
        let usual = if b.gaps == 0 {
            "no silence of an hour or more before".to_string()
        } else {
            format!("its longest silence lately {} (of {} seen)", days(longest), b.gaps)
        };
        (
            format!("first use after {} idle", days(idle)),
            format!(
                "last used {}; {usual}; dormant from {} idle for this credential",
                format_rfc3339_ms(to_ms(b.last_seen)),
                days(b.dormant_after(cfg))
            ),
        )
    };
    out.push(Signal::new(Detector::DormantReactivation, score, observed, baseline));
}

fn ghost(b: &Baseline, obs: &Observation<'_>, ctx: &Context<'_>, out: &mut Vec<Signal>) {
    let (state, since) = ctx.credential_state.unwrap_or((b.state, b.state_since));
    // A use from before the retirement that arrives after it (another partition behind in a
    // backlog, a late delivery) is not a ghost: the credential was still valid then.
    if state.is_retired() && obs.t < since {
        return;
    }
    let outcome = obs.event.outcome;
    let accepted = !outcome.is_access_failure();
    let (score, what) = match state {
        CredentialState::Revoked => (if accepted { 100 } else { 85 }, "revoked"),
        CredentialState::Expired if accepted => (95, "expired"),
        CredentialState::Rotated if obs.t.saturating_sub(since) > ctx.cfg.rotation_grace_secs => {
            (if accepted { 85 } else { 70 }, "rotated out")
        }
        _ => return,
    };
    let result = if accepted { "and the request was accepted" } else { "and the request was refused" };
    let when = format_rfc3339_ms(to_ms(since));
    out.push(Signal::new(
        Detector::GhostCredential,
        score,
        format!("{} used at {} {result}", obs.event.operation, format_rfc3339_ms(obs.event.time_ms)),
        format!("credential {what} at {when}; no use is legitimate after that"),
    ));
}

/// What the novelty detectors share.
struct Scope<'s> {
    b: &'s Baseline,
    obs: &'s Observation<'s>,
    ctx: &'s Context<'s>,
    peer: Option<&'s PeerProfile>,
    established: bool,
}

impl Scope<'_> {
    /// How much history the subject has, in words (built only for evidence).
    fn history(&self) -> String {
        days(self.obs.t.saturating_sub(self.b.first_seen))
    }
}

/// Novelty of where the credential is used from, strengthened when the client is new too (the
/// shape of a stolen key: someone else's machine, somewhere else). Returns whether it fired.
fn origin(
    s: &Scope<'_>,
    [net, asn, country]: [Option<Lookup>; 3],
    agent: Option<Lookup>,
    out: &mut Vec<Signal>,
) -> bool {
    let Scope { b, obs, ctx, peer, established } = *s;
    let t = obs.t;
    let hl = ctx.cfg.profile_half_life_secs;
    // Judge a newcomer by its peers; judge an established credential by itself, discounting
    // values its peers already use.
    let judge = |own: Option<Lookup>, peer_table: Option<Lookup>, dim: Dim, key: Option<u32>, weight: f32| -> f32 {
        let Some(own) = own else { return 0.0 };
        let mut bits = if established {
            if !own.novel {
                return 0.0;
            }
            own.surprise_bits()
        } else {
            match peer_table {
                Some(p) if p.novel => p.surprise_bits(),
                _ => return 0.0,
            }
        };
        if established && peer_table.is_some_and(|p| !p.novel && p.share >= PEER_KNOWN_SHARE) {
            bits -= 4.0;
        }
        if let Some(k) = key {
            bits -= adoption_discount(ctx.population.adopters(dim, k, t));
        }
        bits * weight
    };
    let pc = |f: &dyn Fn(&PeerProfile) -> Lookup| peer.map(f);
    let c_bits =
        judge(country, obs.country.and_then(|k| pc(&|p| p.countries.lookup(k, t, hl))), Dim::Country, obs.country, 1.0);
    // A new network operator in a known country is what VPNs, hotels and tethering look like;
    // it counts, but less than a new country.
    let home = if country.is_some_and(|l| !l.novel) { DOMESTIC_WEIGHT } else { 1.0 };
    let a_bits = judge(asn, obs.asn.and_then(|k| pc(&|p| p.asns.lookup(k, t, hl))), Dim::Asn, obs.asn, home);
    let n_bits =
        judge(net, obs.net.and_then(|k| pc(&|p| p.nets.lookup(k, t, hl))), Dim::Net, obs.net, NET_WEIGHT * home);
    let mut parts = [c_bits, a_bits, n_bits];
    parts.sort_by(|x, y| y.total_cmp(x));
    let mut bits = parts[0] + 0.3 * parts[1].max(0.0);
    if bits <= 0.0 {
        return false;
    }
    let new_client = agent.filter(|l| l.novel && !b.agents.is_empty()).map(|l| {
        let adopters = obs.agent.map_or(0, |k| ctx.population.adopters(Dim::Agent, k, t));
        (CLIENT_WEIGHT * l.surprise_bits() - adoption_discount(adopters)).max(0.0)
    });
    bits += new_client.unwrap_or(0.0);
    let score = novelty_score(bits);
    if score < 1.0 {
        return false;
    }
    let o = &obs.event.origin;
    let mut observed = String::from("origin");
    if let Some(c) = o.country {
        observed.push_str(&format!(" country {c}"));
    }
    if let Some(a) = o.asn {
        observed.push_str(&format!(" AS{a}"));
    }
    match (o.ip, o.host.as_deref()) {
        (Some(ip), _) => observed.push_str(&format!(" {}", keys::network_label(keys::network(ip)))),
        (None, Some(h)) => observed.push_str(&format!(" host {h}")),
        _ => {}
    }
    if let Some(city) = o.city.as_deref() {
        observed.push_str(&format!(" ({city})"));
    }
    if new_client.is_some_and(|b| b > 0.0) {
        let ua: String = obs.event.user_agent.as_deref().unwrap_or("").chars().take(120).collect();
        observed.push_str(&format!(", with a client never seen on this credential: \"{ua}\""));
    }
    let mut never = Vec::new();
    if country.is_some_and(|l| l.novel) {
        never.push("country");
    }
    if asn.is_some_and(|l| l.novel) {
        never.push("ASN");
    }
    if net.is_some_and(|l| l.novel) {
        never.push("network");
    }
    let whose = if established { "this credential" } else { "this new credential or its peers" };
    let usual_txt = if !b.countries.is_empty() {
        format!("usual countries: {}", usual(&b.countries, keys::country_label))
    } else if !b.asns.is_empty() {
        format!("usual ASNs: {}", usual(&b.asns, |k| format!("AS{k}")))
    } else {
        format!("usual networks: {}", usual(&b.nets, keys::network_label))
    };
    out.push(Signal::new(
        Detector::NewOrigin,
        score.min(99.0) as u8,
        observed,
        format!("{} never used by {whose} in {} of history; {usual_txt}", never.join(" and "), s.history()),
    ));
    true
}

fn client(b: &Baseline, obs: &Observation<'_>, ctx: &Context<'_>, agent: Option<Lookup>, out: &mut Vec<Signal>) {
    let (Some(l), Some(k)) = (agent, obs.agent) else { return };
    if !l.novel || b.agents.is_empty() {
        return;
    }
    let adopters = ctx.population.adopters(Dim::Agent, k, obs.t);
    let bits = CLIENT_WEIGHT * l.surprise_bits() - adoption_discount(adopters);
    let score = novelty_score(bits);
    if score < 1.0 {
        return;
    }
    let ua = obs.event.user_agent.as_deref().unwrap_or("");
    out.push(Signal::new(
        Detector::NewClient,
        score.min(90.0) as u8,
        format!("user agent \"{}\"", ua.chars().take(120).collect::<String>()),
        format!(
            "never seen on this credential; usual clients: {}",
            usual(&b.agents, |k| format!("\"{}\"", ctx.population.agent_label(k)))
        ),
    ));
}

fn unusual_hour(b: &Baseline, obs: &Observation<'_>, out: &mut Vec<Signal>) {
    /// Activity profile weight before the hour-of-week profile is trusted.
    const MIN_PROFILE: u32 = 200;
    if b.hours.total() < MIN_PROFILE {
        return;
    }
    // The hour of the week, unless the hour of the day is usual on other days: a weekday not yet
    // seen is not an unusual hour. The weekly pattern speaks only after two weeks of history.
    let week = obs.t.saturating_sub(b.first_seen) >= 14 * 86_400;
    let by_day = b.hours.relative_hour_of_day(obs.hour_of_week);
    let rel = if week { b.hours.relative(obs.hour_of_week).max(by_day * 0.25) } else { by_day };
    if rel >= 0.05 {
        return;
    }
    let bits = -rel.max(1e-4).log2();
    let score = (bits * 6.0).min(40.0);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let h = obs.hour_of_week;
    out.push(Signal::new(
        Detector::UnusualHour,
        score as u8,
        format!("activity on {} {:02}:00 UTC", DAYS[usize::from(h / 24)], h % 24),
        format!("this hour of the week carries {:.1}x an average hour's activity", rel),
    ));
}

/// Jump rate above which a credential is one used from many places at once: impossible travel
/// is then its normal (1 located event in 100).
const ROUTINE_JUMP_RATE: f32 = 0.01;
/// Located events before the jump rate is trusted; before that, a jump scores lower.
const JUMP_MIN_EVENTS: u32 = 20;

fn travel(b: &Baseline, obs: &Observation<'_>, cfg: &DetectConfig, out: &mut Vec<Signal>) {
    let (Some(here), Some((there, then))) = (obs.event.origin.geo, b.whereabouts.last_geo) else { return };
    let km = here.distance_km(there);
    let secs = obs.t.saturating_sub(then);
    if !is_jump(km, secs, cfg) || b.jump_rate.mean >= ROUTINE_JUMP_RATE {
        return;
    }
    let domestic = obs.event.origin.country.is_some() && b.countries.top(1).first().map(|(k, ..)| *k) == obs.country;
    // Within one network operator and one country, a "jump" is how carrier-grade NAT and mobile
    // egress geolocate, not a journey: a second party shows up from another network.
    let same_operator =
        obs.asn.is_some() && b.asns.lookup(obs.asn.unwrap_or(0), obs.t, cfg.profile_half_life_secs).share > 0.0;
    let same_country = obs.country.is_some_and(|c| b.countries.top(1).first().is_some_and(|(k, ..)| *k == c));
    if same_operator && same_country {
        return;
    }
    let hours = f64::from(secs.max(60)) / 3600.0;
    let kmh = km / hours;
    let mut score = (70.0 + 8.0 * (kmh / f64::from(cfg.max_travel_kmh)).log2()).min(95.0);
    if b.jump_rate.n < JUMP_MIN_EVENTS {
        score -= 20.0;
    }
    if domestic {
        // Within one country, mixed Wi-Fi and carrier networks geolocate far apart: only a
        // credential known to stay put is judged on a domestic jump.
        if b.jump_rate.n < JUMP_MIN_EVENTS {
            return;
        }
        score -= 15.0;
    }
    let rate = if b.jump_rate.n >= JUMP_MIN_EVENTS {
        format!("; this credential jumped like this in {} of its located requests", pct(b.jump_rate.mean))
    } else {
        String::new()
    };
    out.push(Signal::new(
        Detector::ImpossibleTravel,
        score.min(95.0) as u8,
        format!(
            "{:.0} km from the previous use (at {:.2}, {:.2}{}) in {:.0} minutes ({:.0} km/h){}",
            km,
            there.lat,
            there.lon,
            b.countries
                .top(1)
                .first()
                .map(|(k, ..)| format!(", usually {}", keys::country_label(*k)))
                .unwrap_or_default(),
            hours * 60.0,
            kmh,
            obs.event.origin.country.map(|c| format!(", now in {c}")).unwrap_or_default()
        ),
        format!("no journey is faster than {:.0} km/h{rate}", cfg.max_travel_kmh),
    ));
}

fn concurrency(b: &Baseline, obs: &Observation<'_>, out: &mut Vec<Signal>) {
    let w = &b.whereabouts;
    let Some(o) = obs.origin else { return };
    if o != w.alt || o == w.origin || obs.t.saturating_sub(w.since) > CONCURRENCY_WINDOW_SECS {
        return;
    }
    let switches = w.switches + 1;
    if switches < CONCURRENT_MIN_SWITCHES {
        return;
    }
    let far = match (w.origin_geo, obs.event.origin.geo.or(w.alt_geo)) {
        (Some(a), Some(c)) => a.distance_km(c) >= CONCURRENT_MIN_KM,
        // Without coordinates, two countries are far apart; two networks of one country are not.
        _ => obs.country.is_some(),
    };
    if !far {
        return;
    }
    let score = 70.0 + 4.0 * f32::from(switches - CONCURRENT_MIN_SWITCHES);
    out.push(Signal::new(
        Detector::ConcurrentUse,
        score.min(95.0) as u8,
        format!("{switches} alternations between two distant origins in {}", span(obs.t.saturating_sub(w.since))),
        "one holder uses a credential from one place at a time".into(),
    ));
}

fn rate(b: &Baseline, obs: &Observation<'_>, ctx: &Context<'_>, out: &mut Vec<Signal>) {
    let surge = ctx.population.surge_factor();
    // Evidence text only when the detector fires: a population-wide surge is when every event
    // passes through here.
    let surge_note = || {
        if surge > 1.5 {
            format!(" (population-wide traffic {surge:.1}x usual, allowed for)")
        } else {
            String::new()
        }
    };
    // A spike within a minute.
    if b.rate.n >= RATE_MIN_MINUTES {
        let same_minute = b.events > 0 && obs.t / 60 == b.last_seen / 60;
        let count = if same_minute { f32::from(b.minute_count) + 1.0 } else { 1.0 };
        let threshold =
            RATE_MIN_PER_MINUTE.max(b.rate.mean * RATE_MIN_RATIO).max(b.rate.mean + 8.0 * b.rate.sd(1.0)) * surge;
        if count >= threshold {
            out.push(Signal::new(
                Detector::RateBurst,
                (55.0 + 12.0 * (count / threshold).log2()).min(95.0) as u8,
                format!("{count:.0} requests in the current minute"),
                format!("usual {:.1} ± {:.1} per active minute{}", b.rate.mean, b.rate.sd(0.0), surge_note()),
            ));
            return;
        }
    }
    // A sustained burst over the short window.
    let st = &b.short_stats.events;
    if st.n < RATE_MIN_WINDOWS {
        return;
    }
    let w = ctx.cfg.short_window_secs;
    // A sliding count (the window so far and the part of the one before that the last `w`
    // seconds cover), so a burst split by the window boundary is seen whole.
    let count = if b.short.contains(obs.t, w) { b.short.sliding_events(obs.t, w) + 1.0 } else { 1.0 };
    let threshold = RATE_MIN_PER_WINDOW.max(st.mean * RATE_MIN_WINDOW_RATIO).max(st.mean + 6.0 * st.sd(2.0)) * surge;
    if count >= threshold {
        out.push(Signal::new(
            Detector::RateBurst,
            (60.0 + 12.0 * (count / threshold).log2()).min(95.0) as u8,
            if b.short.previous > 0 {
                format!("about {count:.0} requests in the last {} minutes", w / 60)
            } else {
                format!("{count:.0} requests in {} minutes", obs.t.saturating_sub(b.short.start) / 60 + 1)
            },
            format!("usual {:.1} ± {:.1} per active {}-minute window{}", st.mean, st.sd(0.0), w / 60, surge_note()),
        ));
    }
}

fn volume(b: &Baseline, obs: &Observation<'_>, cfg: &DetectConfig, out: &mut Vec<Signal>) {
    let Some(this) = obs.event.bytes_out else { return };
    let this_f = this as f64;
    let st = &b.short_stats.log_bytes;
    let in_short = b.short.contains(obs.t, cfg.short_window_secs);
    let (sum, n) = if in_short { (f64::from(b.short.bytes) + this_f, b.short.events + 1) } else { (this_f, 1) };
    let mut fired = false;
    if st.n >= 10 && sum >= EXFIL_MIN_BYTES {
        let ln = sum.ln_1p() as f32;
        let threshold = (st.mean + 4.0 * st.sd(0.5)).max(st.mean + 10f32.ln());
        if ln > threshold {
            fired = true;
            out.push(Signal::new(
                Detector::Exfiltration,
                (62.0 + 8.0 * (ln - threshold)).min(97.0) as u8,
                format!(
                    "{} returned in {} over {}",
                    bytes(sum),
                    span(obs.t.saturating_sub(if in_short { b.short.start } else { obs.t })),
                    count(n as f32, "request")
                ),
                format!(
                    "usual {}-minute volume about {} (p99 about {})",
                    cfg.short_window_secs / 60,
                    bytes(f64::from(st.mean).exp_m1()),
                    bytes(f64::from(st.mean + 2.33 * st.sd(0.0)).exp_m1())
                ),
            ));
        }
    }
    // Slow exfiltration: responses over the last hours larger than their operations usually
    // return, consistently enough to rule out chance and in enough volume to matter.
    if fired || b.residual.n < SLOW_EXFIL_MIN_HISTORY {
        return;
    }
    let Some(sized) = b.sized(obs) else { return };
    let recent = b.recent.at(obs.t, cfg.long_window_secs, &sized);
    if let Some(signal) = slow_shift(b, &recent).or_else(|| slow_inflated(b, &recent)) {
        out.push(signal);
    }
}

/// Slow exfiltration as a shift of the whole recent distribution: the mean excess over the
/// operations' usual sizes, in standard errors.
fn slow_shift(b: &Baseline, recent: &RecentVolume) -> Option<Signal> {
    if recent.n < SLOW_EXFIL_MIN_EVENTS {
        return None;
    }
    let (shift, z) = b.recent_shift(recent);
    let extra = recent.extra_bytes();
    if z < SLOW_EXFIL_MIN_Z || shift < SLOW_EXFIL_MIN_RATIO.ln() || extra < SLOW_EXFIL_MIN_BYTES {
        return None;
    }
    Some(Signal::new(
        Detector::SlowExfiltration,
        (60.0 + 3.0 * (z - SLOW_EXFIL_MIN_Z)).min(92.0) as u8,
        format!(
            "{} returned over about {:.0} requests in the last hours; responses typically {:.1}x their operations' usual size",
            bytes(f64::from(recent.bytes)),
            recent.n,
            shift.exp()
        ),
        format!(
            "about {} at those operations' usual sizes; a shift this large over this many requests is {z:.0} standard errors out",
            bytes(f64::from(recent.expected_bytes)),
        ),
    ))
}

/// Slow exfiltration mixed into the credential's own traffic: more inflated responses (at least
/// 2.5x their operation's usual size) in the last hours than the credential's share of them
/// explains, and a longer run of them than it has had lately or usually has.
fn slow_inflated(b: &Baseline, recent: &RecentVolume) -> Option<Signal> {
    let (k, expected) = (recent.inflated, recent.expected_inflated);
    if k < SLOW_INFLATED_MIN {
        return None;
    }
    let z = recent.surplus_z();
    let odds = |p: f32| p / (1.0 - p).max(1e-3);
    let inflation = &b.inflation;
    let surplus = recent.surplus();
    let extra = recent.extra_bytes();
    if odds(k / recent.n) < SLOW_INFLATED_MIN_ODDS * odds(expected / recent.n)
        || z < SLOW_INFLATED_MIN_Z
        || inflation.surplus.z(surplus, 1.0) < SLOW_INFLATED_MIN_RUN_Z
        || surplus < SLOW_INFLATED_PEAK_RATIO * inflation.peak.max(1.0)
        || extra < SLOW_INFLATED_MIN_BYTES
    {
        return None;
    }
    Some(Signal::new(
        Detector::SlowExfiltration,
        (60.0 + 2.0 * (z - SLOW_INFLATED_MIN_Z)).min(90.0) as u8,
        format!(
            "about {k:.0} of {:.0} responses in the last hours were at least 2.5x their operations' usual size; {} returned against about {} usual",
            recent.n,
            bytes(f64::from(recent.bytes)),
            bytes(f64::from(recent.expected_bytes)),
        ),
        format!(
            "usually {:.1}% of this credential's responses are that large ({expected:.1} expected); its longest run lately: {:.0} beyond that",
            100.0 * inflation.share,
            inflation.peak,
        ),
    ))
}

fn window(
    b: &Baseline,
    obs: &Observation<'_>,
    cfg: &DetectConfig,
    surge: f32,
    unfamiliar_op: bool,
    out: &mut Vec<Signal>,
) {
    let e = obs.event;
    let mut w = if b.short.contains(obs.t, cfg.short_window_secs) { b.short } else { Default::default() };
    // The window as it will be once this event is added.
    w.add(obs, unfamiliar_op);
    let elapsed = obs.t.saturating_sub(if w.start == 0 { obs.t } else { w.start });
    let st = &b.short_stats;
    let failed_ops = w.failed_ops.estimate();
    let usual_fail = if st.failure_ratio.n >= 5 { st.failure_ratio.mean } else { 0.0 };

    if e.outcome.is_access_failure() {
        if matches!(e.outcome, Outcome::Expired | Outcome::AuthFailed)
            && w.auth_failures >= STORM_MIN_FAILURES
            && failed_ops <= 3.5
        {
            out.push(Signal::new(
                Detector::ExpiredTokenStorm,
                (62.0 + 5.0 * (w.auth_failures as f32 / STORM_MIN_FAILURES as f32).log2()).min(75.0) as u8,
                format!(
                    "{} ({}) on {} in {}",
                    count(w.auth_failures as f32, "rejected-credential failure"),
                    e.error_code.as_deref().unwrap_or("401"),
                    count(failed_ops.max(1.0), "operation"),
                    span(elapsed)
                ),
                format!("usual failure rate {}", pct(usual_fail)),
            ));
        } else if w.failures >= PROBE_MIN_FAILURES
            && (failed_ops >= PROBE_MIN_FAILED_OPS || w.failed_resources.estimate() >= PROBE_MIN_FAILED_OPS)
            && w.failures as f32 / w.events as f32 >= 0.3
            && usual_fail < 0.2
        {
            out.push(Signal::new(
                Detector::AccessProbing,
                (62.0 + 3.0 * (failed_ops.max(w.failed_resources.estimate()) - PROBE_MIN_FAILED_OPS)).min(92.0) as u8,
                format!(
                    "{} across {} and {} in {}, latest {} → {}",
                    count(w.failures as f32, "failed call"),
                    count(failed_ops, "operation"),
                    count(w.failed_resources.estimate(), "resource"),
                    span(elapsed),
                    e.operation,
                    e.error_code.as_deref().unwrap_or("denied")
                ),
                format!("usual failure rate {}", pct(usual_fail)),
            ));
        }
    }

    let trusted = st.ops.n >= 5;
    let ops = w.ops.estimate();
    let ops_threshold =
        if trusted { ENUM_MIN_OPS.max(st.ops.mean + 5.0 * st.ops.sd(1.0) + 3.0) } else { ENUM_MIN_OPS * 1.5 };
    let res = w.resources.estimate();
    // Distinct resources grow with traffic: a population-wide surge raises the bar with it.
    let res_threshold = surge
        * if trusted {
            ENUM_MIN_RESOURCES.max(st.resources.mean + 5.0 * st.resources.sd(2.0) + 10.0)
        } else {
            ENUM_MIN_RESOURCES * 1.5
        };
    // Breadth across operations the credential or its peers already call is their repertoire
    // (an app's screens, a person's console), not a map of the API being drawn: a credential
    // with a usual level enumerates operations only when several of them are new to it and to
    // its peers.
    let unfamiliar_ops = f32::from(w.unfamiliar_ops);
    let over_ops = if trusted && unfamiliar_ops < ENUM_MIN_UNFAMILIAR_OPS { f32::MIN } else { ops - ops_threshold };
    let over_res = (res - res_threshold) / 4.0;
    if over_ops >= 0.0 || over_res >= 0.0 {
        out.push(Signal::new(
            Detector::Enumeration,
            (60.0 + 3.0 * over_ops.max(over_res)).min(95.0) as u8,
            format!(
                "{} ({:.0} new to this credential and its peers) and {} in {}",
                count(ops, "distinct operation"),
                unfamiliar_ops.min(ops),
                count(res, "distinct resource"),
                span(elapsed)
            ),
            if trusted {
                format!(
                    "usual per {} minutes: {:.0} operations, {:.0} resources",
                    cfg.short_window_secs / 60,
                    st.ops.mean,
                    st.resources.mean
                )
            } else {
                "no usual level yet; judged against absolute floors".into()
            },
        ));
    }
}

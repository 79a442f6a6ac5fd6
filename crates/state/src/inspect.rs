//! What a baseline holds, in words and numbers: the analyst's first two questions, "what is
//! normal for this key?" and "why did this event break it?" (`credence state inspect`).

use credence_detect::baseline::{to_ms, Baseline};
use credence_detect::{keys, DetectConfig, Population};
use credence_event::time::format_rfc3339_ms;
use credence_event::Pseudonym;
use serde::Serialize;

/// One usual value and how much of the recent activity it accounts for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Usual {
    /// The value, in words where it can be told (operations and clients by their first-seen
    /// label, networks, ASNs and countries by themselves).
    pub value: String,
    /// Share of the recent weight in the table, 0–1.
    pub share: f32,
    /// First day seen (RFC 3339).
    pub first_seen: String,
}

/// A subject's baseline, described.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Profile {
    /// The subject's pseudonym.
    pub pseudonym: String,
    /// Lifecycle state as of the state's clock.
    pub state: &'static str,
    /// Since when (RFC 3339).
    pub state_since: String,
    /// First event or creation record.
    pub first_seen: String,
    /// Last event.
    pub last_seen: String,
    /// Events learned.
    pub events: u32,
    /// Maturity 0–1 (events and age against the configured maturity).
    pub maturity: f32,
    /// Operations, heaviest first.
    pub operations: Vec<Usual>,
    /// Source networks.
    pub networks: Vec<Usual>,
    /// Autonomous systems.
    pub asns: Vec<Usual>,
    /// Countries.
    pub countries: Vec<Usual>,
    /// Clients (user agents).
    pub clients: Vec<Usual>,
    /// Activity per hour of the week relative to an even week (1 = average), 0 = Monday 00:00 UTC.
    pub hour_of_week: Vec<f32>,
    /// Requests per active minute: mean and standard deviation.
    pub requests_per_minute: (f32, f32),
    /// Typical response size, bytes (from the mean of ln(1 + bytes)), when sizes are logged.
    pub typical_response_bytes: Option<f64>,
    /// Privilege-changing operations learned.
    pub privileged_operations: u16,
}

/// Describes a baseline as of `now_ms`, naming values with the population's labels.
pub fn profile(subject: Pseudonym, b: &Baseline, population: &Population, cfg: &DetectConfig, now_ms: i64) -> Profile {
    let now = credence_detect::baseline::to_secs(now_ms);
    let day = |t: u32| format_rfc3339_ms(to_ms(t)).chars().take(10).collect::<String>();
    let usual = |top: Vec<(u32, f32, u32)>, name: &dyn Fn(u32) -> String| -> Vec<Usual> {
        top.into_iter().map(|(k, share, first)| Usual { value: name(k), share, first_seen: day(first) }).collect()
    };
    let hours = &b.hours;
    Profile {
        pseudonym: subject.to_string(),
        state: b.state_at(cfg, now).as_str(),
        state_since: format_rfc3339_ms(to_ms(b.state_since)),
        first_seen: format_rfc3339_ms(to_ms(b.first_seen)),
        last_seen: format_rfc3339_ms(to_ms(b.last_seen)),
        events: b.events,
        maturity: b.maturity(cfg, now),
        operations: usual(b.ops.top(10), &|k| population.op_label(k)),
        networks: usual(b.nets.top(4), &keys::network_label),
        asns: usual(b.asns.top(3), &|k| format!("AS{k}")),
        countries: usual(b.countries.top(3), &keys::country_label),
        clients: usual(b.agents.top(3), &|k| population.agent_label(k)),
        hour_of_week: (0..168).map(|h| if hours.total() == 0 { 0.0 } else { hours.relative(h) }).collect(),
        requests_per_minute: (b.rate.mean, b.rate.sd(0.0)),
        typical_response_bytes: (b.volume.n > 0).then(|| f64::from(b.volume.mean).exp_m1().max(0.0)),
        privileged_operations: u16::from(b.privileged_ops),
    }
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The profile as text for a terminal.
pub fn render_text(p: &Profile) -> String {
    let mut out = String::new();
    let line = |out: &mut String, s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(&mut out, format!("credential {}", p.pseudonym));
    line(&mut out, format!("  state        {} since {}", p.state, p.state_since));
    line(
        &mut out,
        format!(
            "  seen         {} .. {} ({} events, maturity {:.0}%)",
            p.first_seen,
            p.last_seen,
            p.events,
            p.maturity * 100.0
        ),
    );
    let (mean, sd) = p.requests_per_minute;
    line(&mut out, format!("  rate         {mean:.1} requests per active minute (sd {sd:.1})"));
    if let Some(bytes) = p.typical_response_bytes {
        line(&mut out, format!("  responses    typically {bytes:.0} bytes"));
    }
    if p.privileged_operations > 0 {
        line(&mut out, format!("  privileged   {} privilege-changing operations learned", p.privileged_operations));
    }
    for (name, values) in [
        ("operations", &p.operations),
        ("networks", &p.networks),
        ("ASNs", &p.asns),
        ("countries", &p.countries),
        ("clients", &p.clients),
    ] {
        if values.is_empty() {
            continue;
        }
        line(&mut out, format!("  {name}"));
        for u in values {
            line(&mut out, format!("    {:>5.1}%  {}  (since {})", u.share * 100.0, u.value, u.first_seen));
        }
    }
    if p.hour_of_week.iter().any(|&x| x > 0.0) {
        line(&mut out, "  hour of week (UTC; . quiet, - below average, + above, # busiest)".to_string());
        line(&mut out, format!("         {}", (0..24).map(|h| format!("{:<3}", h)).collect::<String>().trim_end()));
        for (d, name) in DAYS.iter().enumerate() {
            let row: String = p.hour_of_week[d * 24..d * 24 + 24]
                .iter()
                .map(|&x| match x {
                    x if x < 0.2 => " . ",
                    x if x < 1.0 => " - ",
                    x if x < 2.5 => " + ",
                    _ => " # ",
                })
                .collect();
            line(&mut out, format!("    {name} {}", row.trim_end()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use credence_detect::{Engine, KeySpace, LearnPolicy};
    use credence_event::{Event, Pseudonymizer};

    #[test]
    fn a_profile_names_what_the_credential_usually_does() {
        let mut engine = Engine::new(DetectConfig::default(), KeySpace::new([1; 16]));
        let p = Pseudonymizer::insecure_demo();
        let credential = p.credential("key");
        // Monday 2026-03-02, 09:00–10:00 UTC, a request a minute.
        let t0 = 1_772_409_600_000 + 9 * 3_600_000;
        for i in 0..60 {
            let mut e = Event::new(t0 + i * 60_000, credential, if i % 3 == 0 { "PUT /orders" } else { "GET /orders" });
            e.origin.ip = Some("203.0.113.7".parse().unwrap());
            e.origin.country = credence_event::Country::parse("DE");
            e.user_agent = Some("billing-service/2.1".into());
            e.bytes_out = Some(2_000);
            engine.process(&e, LearnPolicy::Default);
        }
        let b = engine.baseline(credential).unwrap();
        let prof = profile(credential, b, engine.population(), engine.config(), t0 + 3_600_000);
        assert_eq!(prof.events, 60);
        assert_eq!(prof.operations[0].value, "GET /orders");
        assert!((prof.operations[0].share - 2.0 / 3.0).abs() < 0.05, "{:?}", prof.operations);
        assert_eq!(prof.networks[0].value, "203.0.113.0/24");
        assert_eq!(prof.countries[0].value, "DE");
        assert_eq!(prof.clients[0].value, "billing-service/2.1");
        assert!(prof.hour_of_week[9] > 10.0, "Monday 09:00 is its hour: {}", prof.hour_of_week[9]);
        let bytes = prof.typical_response_bytes.unwrap();
        assert!((1_900.0..2_100.0).contains(&bytes), "{bytes}");
        let text = render_text(&prof);
        for want in ["GET /orders", "203.0.113.0/24", "DE", "billing-service/2.1", "Mon", "60 events"] {
            assert!(text.contains(want), "{want} missing from:\n{text}");
        }
    }
}

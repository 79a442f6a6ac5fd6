//! Hour-scale tests of request counts and response volume, against the credential's own hourly
//! rate for that hour of the day and its own busiest hours: a credential that makes five calls an
//! hour is too quiet for the per-minute and ten-minute tests' floors, not for these.

use super::{bytes, Context};
use crate::baseline::{Baseline, Observation};
use crate::verdict::{Detector, Signal};

/// Fewest requests in about an hour (the decayed count) that can be a surge, whatever the
/// history: a person's ordinary console session makes a few dozen.
const HOUR_MIN_COUNT: f32 = 40.0;
/// A surge is at least this many times the credential's busiest hour lately: a service keeps its
/// pace, a person's sessions come in bursts, and what each does in its busy hours is its own.
const HOUR_PEAK_RATIO: f32 = 3.0;
/// Standard deviations above the expected count for this hour of the day, under a gamma-Poisson
/// (negative binomial) predictive whose spread grows as history shrinks: six, so that across a
/// million credential-hours chance raises about none.
const HOUR_MIN_Z: f32 = 6.0;
/// Fewest response bytes in about an hour that can be exfiltration at this scale: the ten-minute
/// test's floor (5 MB). At half a megabyte (with the ratio below) this test raised 5 to 11 false
/// alarms a world on people's downloads of a few megabytes; what it adds is the bulk read spread
/// over hours, not a lower floor.
const HOUR_MIN_BYTES: f32 = 5.0e6;
/// Response bytes at least this many times the credential's largest hour lately: ten, since
/// people's hourly volumes are heavy-tailed (on the demo world, 4 to 6.5 times a person's largest
/// hour of the last days came up dozens of times a fortnight; at 4 this test raised 63 false
/// alarms on the default seed), while bulk reads of 34 to 150 times the usual response size run
/// tens of times a sparse credential's largest hour.
const HOUR_BYTES_PEAK_RATIO: f32 = 10.0;
/// History before the hour-scale tests speak: a day (every hour of the day seen once) and the
/// maturity gate's events.
const HOUR_MIN_HISTORY_SECS: u32 = 86_400;
/// Share of an average hour assumed at least for any hour of the day: an hour the credential is
/// usually idle in is the unusual-hour detector's evidence; here it must not make a handful of
/// calls a surge.
const HOUR_MIN_SHARE: f32 = 0.25;

/// Request counts and response volume over about an hour (decayed, half-life an hour). `fired`:
/// the burst and volume detectors of shorter windows already spoke for this event.
pub(super) fn hourly(b: &Baseline, obs: &Observation<'_>, ctx: &Context<'_>, fired: [bool; 2], out: &mut Vec<Signal>) {
    let span = b.last_seen.saturating_sub(b.first_seen);
    if b.events < ctx.cfg.mature_events || span < HOUR_MIN_HISTORY_SECS {
        return;
    }
    let surge = ctx.population.surge_factor();
    let (count, volume) = b.hour_totals(obs.t, obs.event.bytes_out.unwrap_or(0));
    if !fired[0] && count >= HOUR_MIN_COUNT * surge {
        // The credential's own rate for this hour of the day: events per hour of history, scaled
        // by the hour's share of its activity. A steady rate r keeps the decayed count near
        // r / ln 2. The rate is a gamma posterior with as many events as were seen, so its
        // predictive count is negative binomial: variance mu + mu^2 / events.
        let per_hour = b.events as f32 / (span as f32 / 3_600.0);
        let share = b.hours.relative_hour_of_day(obs.hour_of_week).max(HOUR_MIN_SHARE);
        let mu = per_hour * share / std::f32::consts::LN_2 * surge;
        let sd = (mu + mu * mu / b.events as f32).sqrt().max(1.0);
        let z = (count - mu) / sd;
        let peak = b.hour_count_peak.get() * surge;
        let bar = (HOUR_PEAK_RATIO * peak).max(HOUR_MIN_COUNT * surge);
        if z >= HOUR_MIN_Z && count >= bar {
            out.push(Signal::new(
                Detector::RateBurst,
                (60.0 + 10.0 * (count / bar).log2()).min(90.0) as u8,
                format!("about {count:.0} requests in the last hour"),
                format!(
                    "usual about {:.1} an hour at this hour of the day ({z:.0} standard deviations out); its busiest hour lately about {:.0}",
                    mu * std::f32::consts::LN_2,
                    b.hour_count_peak.get()
                ),
            ));
        }
    }
    let this = obs.event.bytes_out.unwrap_or(0) as f32;
    if !fired[1] && obs.event.bytes_out.is_some() && volume >= HOUR_MIN_BYTES {
        let peak = b.hour_bytes_peak.get();
        let bar = (HOUR_BYTES_PEAK_RATIO * peak).max(HOUR_MIN_BYTES);
        // Reads in bulk, not one large response (the ten-minute test's, judged against the
        // spread of the credential's own windows): half the bar came before this response.
        if volume >= bar && volume - this >= bar / 2.0 {
            out.push(Signal::new(
                Detector::Exfiltration,
                (60.0 + 8.0 * (volume / bar).log2()).min(90.0) as u8,
                format!("about {} returned in the last hour", bytes(f64::from(volume))),
                format!("its largest hour lately about {}", bytes(f64::from(peak))),
            ));
        }
    }
}

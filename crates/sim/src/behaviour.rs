//! How a credential behaves from moment to moment: its rate over the week, where a request comes
//! from, which operation it calls, how it ends, how big the response is, and the concrete path.

use std::net::IpAddr;
use std::sync::Arc;

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::catalogue::{self, Op, OpClass, OpId, Style};
use crate::config::{DAY_MS, HOUR_MS};
use crate::geo::{Networks, CITIES};
use crate::population::{Actor, Archetype, Group, KeyKind, Net};
use crate::text::{civil_from_days, mix64, InlineStr, UPPER_ALNUM};

/// Relative request rate by local hour, weekdays then weekends.
const SERVICE: ([f32; 24], f32) = (
    [
        0.55, 0.5, 0.45, 0.45, 0.45, 0.5, 0.6, 0.75, 0.9, 1.0, 1.05, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.05, 1.0, 0.95,
        0.9, 0.8, 0.7, 0.6,
    ],
    0.8,
);
const HUMAN: [f32; 24] = [
    0.01, 0.005, 0.005, 0.005, 0.005, 0.01, 0.03, 0.15, 0.6, 1.0, 1.0, 0.95, 0.55, 0.8, 1.0, 1.0, 0.9, 0.6, 0.25, 0.1,
    0.08, 0.06, 0.04, 0.02,
];
const CI: [f32; 24] = [
    0.02, 0.02, 0.25, 0.02, 0.02, 0.02, 0.05, 0.2, 0.6, 0.9, 1.0, 1.0, 0.6, 0.9, 1.0, 1.0, 0.9, 0.7, 0.4, 0.2, 0.1,
    0.05, 0.03, 0.02,
];
const PARTNER: [f32; 24] = [
    0.05, 0.05, 0.05, 0.05, 0.05, 0.08, 0.2, 0.6, 1.0, 1.0, 1.0, 1.0, 0.8, 1.0, 1.0, 1.0, 0.9, 0.6, 0.3, 0.15, 0.1,
    0.08, 0.06, 0.05,
];
const MOBILE_WEEKDAY: [f32; 24] = [
    0.25, 0.12, 0.06, 0.04, 0.04, 0.06, 0.18, 0.35, 0.4, 0.35, 0.35, 0.4, 0.55, 0.45, 0.4, 0.4, 0.45, 0.55, 0.75, 0.95,
    1.0, 0.95, 0.75, 0.45,
];
const MOBILE_WEEKEND: [f32; 24] = [
    0.3, 0.18, 0.08, 0.05, 0.04, 0.05, 0.1, 0.2, 0.35, 0.55, 0.65, 0.7, 0.75, 0.7, 0.65, 0.65, 0.7, 0.75, 0.85, 0.95,
    1.0, 0.95, 0.8, 0.5,
];

/// Relative rate of an archetype at a local hour (0–23) on a weekday (0 = Monday).
pub(crate) fn profile(arch: Archetype, hour: usize, weekday: usize) -> f64 {
    let weekend = weekday >= 5;
    let w = match arch {
        Archetype::Service => SERVICE.0[hour] * if weekend { SERVICE.1 } else { 1.0 },
        Archetype::Human => HUMAN[hour] * if weekend { 0.04 } else { 1.0 },
        Archetype::Ci if weekend => {
            if hour == 2 {
                0.25
            } else {
                CI[hour] * 0.06
            }
        }
        Archetype::Ci => CI[hour],
        Archetype::Partner => PARTNER[hour] * if weekend { 0.12 } else { 1.0 },
        Archetype::Mobile if weekend => MOBILE_WEEKEND[hour],
        Archetype::Mobile => MOBILE_WEEKDAY[hour],
    };
    f64::from(w)
}

/// Mean daily profile sum over a week, so that `arrivals_per_day` is a weekly average.
pub(crate) fn mean_daily_weight(arch: Archetype) -> f64 {
    let mut s = 0.0;
    for d in 0..7 {
        for h in 0..24 {
            s += profile(arch, h, d);
        }
    }
    s / 7.0
}

/// Local (hour, weekday) at `t` for a UTC offset in minutes. Epoch day 0 was a Thursday.
pub(crate) fn local_hour_weekday(t: i64, tz_min: i16) -> (usize, usize) {
    let local = t + i64::from(tz_min) * 60_000;
    let hour = local.rem_euclid(DAY_MS) / HOUR_MS;
    let day = local.div_euclid(DAY_MS);
    (hour as usize, (day + 3).rem_euclid(7) as usize)
}

impl Actor {
    /// Time zone in effect at `t` (abroad while travelling).
    pub(crate) fn tz_at(&self, t: i64) -> i16 {
        match &self.travel {
            Some(tr) if tr.arrive <= t && t < tr.back => CITIES[usize::from(tr.city)].tz_min,
            _ => self.tz_min,
        }
    }

    /// Relative activity at `t` (profile only, ignoring active intervals).
    pub(crate) fn weight_at(&self, t: i64) -> f64 {
        let tz = self.tz_at(t);
        let (h, d) = local_hour_weekday(t + i64::from(self.shift_h) * HOUR_MS, tz);
        profile(self.archetype, h, d)
    }

    /// The raw credential id presented at `t`. For role sessions the key is refreshed about
    /// hourly; for CI jobs it is issued per job (`job`).
    pub(crate) fn key_at(&self, t: i64, job: u64) -> Arc<str> {
        match self.key_kind {
            KeyKind::TempHourly => temp_key(self.key_seed, ((t + self.temp_phase) / HOUR_MS) as u64),
            KeyKind::TempPerJob => temp_key(self.key_seed, job),
            _ => self.long_key_at(t).clone(),
        }
    }

    /// Draws one of the credential's usual operations.
    pub(crate) fn sample_op(&self, t: i64, rng: &mut impl Rng) -> OpId {
        if let Some((from, op, p)) = self.extra_op {
            if t >= from && rng.gen::<f32>() < p {
                return op;
            }
        }
        let total = *self.op_cum.last().unwrap_or(&1.0);
        let x = rng.gen::<f32>() * total;
        let i = self.op_cum.iter().position(|&c| x < c).unwrap_or(0);
        self.ops[i]
    }

    /// Draws one of the credential's user agents.
    pub(crate) fn sample_ua(&self, t: i64, rng: &mut impl Rng) -> Arc<str> {
        if let Some((from, ua)) = &self.ua_update {
            if t >= *from {
                return ua.clone();
            }
        }
        let total = *self.ua_cum.last().unwrap_or(&1.0);
        let x = rng.gen::<f32>() * total;
        let i = self.ua_cum.iter().position(|&c| x < c).unwrap_or(0);
        self.uas[i].clone()
    }

    /// The user agent most used by the credential.
    pub(crate) fn main_ua(&self) -> Arc<str> {
        self.uas[0].clone()
    }
}

/// A deterministic `ASIA...` key for a session seed and epoch.
pub(crate) fn temp_key(seed: u64, epoch: u64) -> Arc<str> {
    let mut s = String::with_capacity(20);
    s.push_str("ASIA");
    let mut h = mix64(seed ^ mix64(epoch));
    for i in 0..16 {
        if i == 12 {
            h = mix64(h);
        }
        s.push(char::from(UPPER_ALNUM[(h & 31) as usize]));
        h >>= 5;
    }
    Arc::from(s)
}

/// Where one request came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Place {
    pub city: u16,
    pub asn: u32,
    pub ip: IpAddr,
}

/// Where the credential's own client is at `t`: the origin of its ordinary traffic.
pub(crate) fn owner_origin(a: &Actor, group: &Group, nets: &Networks, t: i64, rng: &mut impl Rng) -> Place {
    if let Some(tr) = &a.travel {
        if tr.arrive <= t && t < tr.back {
            let day = (t / DAY_MS) as u64;
            return Place { city: tr.city, asn: tr.asn, ip: nets.stable_v4(tr.asn, a.key_seed ^ day) };
        }
    }
    match &a.net {
        Net::Service { slots } => match group.pool_at(t) {
            Some(pool) => {
                let slot = usize::from(slots[rng.gen_range(0..slots.len())]) % pool.ips.len();
                Place { city: pool.city, asn: pool.asn, ip: pool.ips[slot] }
            }
            None => Place { city: a.home_city, asn: 16509, ip: nets.v4(16509, rng) },
        },
        Net::Human { office, home_isp, office_share, vpn } => {
            let day = (t + i64::from(a.tz_min) * 60_000).div_euclid(DAY_MS) as u64;
            let (hour, weekday) = local_hour_weekday(t, a.tz_min);
            let dice = mix64(a.key_seed ^ day);
            let in_office = weekday < 5 && (8..19).contains(&hour) && (dice % 1000) as f32 / 1000.0 < *office_share;
            match (office, vpn) {
                (Some((city, asn, ip)), _) if in_office => Place { city: *city, asn: *asn, ip: *ip },
                // On some days from home the laptop runs a commercial VPN.
                (_, Some((city, asn))) if (dice >> 20) % 3 == 0 => {
                    Place { city: *city, asn: *asn, ip: nets.stable_v4(*asn, a.key_seed ^ (dice >> 8)) }
                }
                _ => {
                    // Home broadband: the lease changes every week or two.
                    let lease = day / 10;
                    Place { city: a.home_city, asn: *home_isp, ip: nets.stable_v4(*home_isp, a.key_seed ^ lease) }
                }
            }
        }
        Net::Ci => match &group.runners {
            Some(r) => {
                let subnet = r.subnets[rng.gen_range(0..r.subnets.len())];
                Place { city: r.city, asn: r.asn, ip: Networks::host_in(subnet, rng) }
            }
            None => Place { city: a.home_city, asn: 8075, ip: nets.v4(8075, rng) },
        },
        Net::Partner { asn, ips } => Place { city: a.home_city, asn: *asn, ip: ips[rng.gen_range(0..ips.len())] },
        Net::Mobile { cities, carriers, home_isp, v6 } => {
            let (hour, _) = local_hour_weekday(t, a.tz_min);
            let at_home = !(7..19).contains(&hour) && rng.gen_bool(0.55);
            if at_home {
                let week = (t / (7 * DAY_MS)) as u64;
                return Place { city: a.home_city, asn: *home_isp, ip: nets.stable_v4(*home_isp, a.key_seed ^ week) };
            }
            let city = if rng.gen_bool(0.9) { a.home_city } else { cities[rng.gen_range(0..cities.len())] };
            let asn = carriers[usize::from(carriers.len() > 1 && rng.gen_bool(0.2))];
            let ip = if *v6 { nets.v6(asn, rng) } else { nets.v4(asn, rng) };
            Place { city, asn, ip }
        }
    }
}

/// Status and error code of an ordinary request.
pub(crate) fn normal_outcome(op: &Op, rng: &mut impl Rng) -> (u16, Option<&'static str>) {
    let aws = op.style == Style::Aws;
    let u: f32 = rng.gen();
    let has_id = op.path.contains("{id}") || op.path.contains("{obj}");
    if u < 0.0003 {
        return (403, Some(if aws { "AccessDenied" } else { "Forbidden" }));
    }
    if u < 0.0033 {
        return if op.service.starts_with("s3.") {
            (503, Some("SlowDown"))
        } else {
            (429, Some(if aws { "ThrottlingException" } else { "TooManyRequests" }))
        };
    }
    if u < 0.0053 {
        return (500, Some(if aws { "InternalError" } else { "InternalServerError" }));
    }
    if has_id && op.method != "POST" && u < 0.0153 {
        return (
            404,
            Some(if op.service.starts_with("s3.") {
                "NoSuchKey"
            } else if aws {
                "ResourceNotFoundException"
            } else {
                "NotFound"
            }),
        );
    }
    if matches!(op.class, OpClass::Write) && u < 0.0183 {
        return (400, Some(if aws { "ValidationException" } else { "ValidationError" }));
    }
    let status = match (aws, op.method) {
        (false, "POST") if op.class == OpClass::Write || op.class == OpClass::Sensitive => 201,
        (false, "DELETE") => 204,
        _ => 200,
    };
    (status, None)
}

/// Response bytes: log-normal around the operation's median, scaled per credential.
pub(crate) fn sample_bytes(op: &Op, scale: f32, status: u16, rng: &mut impl Rng) -> u64 {
    if status == 204 || op.method == "HEAD" {
        return 0;
    }
    if status >= 400 {
        return rng.gen_range(110..420);
    }
    let z: f64 = StandardNormal.sample(rng);
    let v = f64::from(op.bytes_median) * f64::from(scale) * (f64::from(op.bytes_sigma) * z).exp();
    v.max(2.0) as u64
}

/// Overrides for path holes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PathArgs<'a> {
    pub id: Option<u64>,
    pub user: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// Fills an operation's path template for a credential at `t`.
pub(crate) fn render_path(op: &Op, a: &Actor, t: i64, args: PathArgs<'_>, rng: &mut impl Rng) -> InlineStr<96> {
    let mut out = InlineStr::default();
    let mut rest = op.path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else { break };
        match &rest[open + 1..open + close] {
            "id" => {
                let id = args.id.unwrap_or_else(|| {
                    // Skewed towards a working set of recent resources.
                    let u: f64 = rng.gen();
                    a.res.id_base + (a.res.id_span as f64 * u * u * u) as u64
                });
                out.push_u64(id, 0);
            }
            "bucket" => out.push_str(&a.res.bucket),
            "name" => out.push_str(args.name.unwrap_or(&a.res.name)),
            "user" => out.push_str(args.user.unwrap_or(&a.res.user)),
            "obj" => {
                let (y, m, d) = civil_from_days(t.div_euclid(DAY_MS));
                out.push_str(a.res.prefix);
                out.push_str("/dt=");
                out.push_u64(y as u64, 4);
                out.push_byte(b'-');
                out.push_u64(u64::from(m), 2);
                out.push_byte(b'-');
                out.push_u64(u64::from(d), 2);
                out.push_str("/part-");
                out.push_u64(rng.gen_range(0..512), 5);
                out.push_str(".json.gz");
            }
            other => out.push_str(other),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Operations of the credential's own set that read data (for exfiltration and bursts); all of
/// its operations when none do.
pub(crate) fn read_ops(a: &Actor) -> Vec<OpId> {
    let reads: Vec<OpId> = a.ops.iter().copied().filter(|&o| catalogue::op(o).class.reads_data()).collect();
    if reads.is_empty() {
        a.ops.clone()
    } else {
        reads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time() {
        // 2026-03-02T00:00Z is a Monday.
        assert_eq!(local_hour_weekday(1_772_409_600_000, 0), (0, 0));
        assert_eq!(local_hour_weekday(1_772_409_600_000, -300), (19, 6));
        assert_eq!(local_hour_weekday(1_772_409_600_000 + 5 * DAY_MS + 9 * HOUR_MS, 60), (10, 5));
    }

    #[test]
    fn temp_keys_look_like_aws() {
        let k = temp_key(1, 2);
        assert!(k.starts_with("ASIA") && k.len() == 20);
        assert_eq!(k, temp_key(1, 2));
        assert_ne!(k, temp_key(1, 3));
    }
}

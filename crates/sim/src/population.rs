//! The credential population: archetypes, peer groups, networks, keys and per-credential
//! behaviour parameters, built once from the seed.

use std::net::IpAddr;
use std::sync::Arc;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::catalogue::{self, OpId, Style};
use crate::geo::Networks;
use crate::text::{random_chars, BASE62, UPPER_ALNUM};

pub(crate) use crate::archetypes::build;

/// The kind of client behind a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Archetype {
    /// A machine workload: steady, few operations, fixed cloud egress addresses.
    Service,
    /// A person: working hours, office and home networks, a few tools.
    Human,
    /// A CI pipeline: bursts of a fixed call sequence from a runner pool.
    Ci,
    /// A B2B partner integration: business hours in its time zone, its own network.
    Partner,
    /// A mobile app install: carrier networks in one country, evening peaks.
    Mobile,
}

impl Archetype {
    /// Every archetype.
    pub const ALL: [Archetype; 5] =
        [Archetype::Service, Archetype::Human, Archetype::Ci, Archetype::Partner, Archetype::Mobile];

    /// The archetype's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Archetype::Service => "service",
            Archetype::Human => "human",
            Archetype::Ci => "ci",
            Archetype::Partner => "partner",
            Archetype::Mobile => "mobile",
        }
    }
}

/// The shape of a credential's raw id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// `AKIA...`, long-lived.
    AccessKey,
    /// `ASIA...` role-session keys refreshed about hourly.
    TempHourly,
    /// `ASIA...` keys issued per CI job (OIDC web identity).
    TempPerJob,
    /// `ck_live_...` gateway service key.
    GatewayKey,
    /// `pk_live_...` partner key.
    PartnerKey,
    /// `pat_...` personal access token.
    PersonalToken,
    /// `mt_...` mobile app token.
    MobileToken,
}

impl KeyKind {
    pub(crate) fn is_temporary(self) -> bool {
        matches!(self, KeyKind::TempHourly | KeyKind::TempPerJob)
    }
}

/// A long-lived key of the given kind.
pub(crate) fn new_key(kind: KeyKind, rng: &mut impl Rng) -> Arc<str> {
    let mut s = String::with_capacity(40);
    match kind {
        KeyKind::AccessKey => {
            s.push_str("AKIA");
            random_chars(rng, UPPER_ALNUM, 16, &mut s);
        }
        KeyKind::TempHourly | KeyKind::TempPerJob => {
            s.push_str("ASIA");
            random_chars(rng, UPPER_ALNUM, 16, &mut s);
        }
        KeyKind::GatewayKey => {
            s.push_str("ck_live_");
            random_chars(rng, BASE62, 24, &mut s);
        }
        KeyKind::PartnerKey => {
            s.push_str("pk_live_");
            random_chars(rng, BASE62, 24, &mut s);
        }
        KeyKind::PersonalToken => {
            s.push_str("pat_");
            random_chars(rng, BASE62, 30, &mut s);
        }
        KeyKind::MobileToken => {
            s.push_str("mt_");
            random_chars(rng, BASE62, 32, &mut s);
        }
    }
    Arc::from(s)
}

/// Egress addresses in effect from a time.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    pub city: u16,
    pub asn: u32,
    pub ips: Vec<IpAddr>,
}

/// A CI runner fleet: many /24s inside one AS.
#[derive(Debug, Clone)]
pub(crate) struct Runners {
    pub city: u16,
    pub asn: u32,
    pub subnets: Vec<[u8; 3]>,
}

/// A peer group: credentials that should behave alike.
#[derive(Debug)]
pub(crate) struct Group {
    pub name: Arc<str>,
    pub archetype: Archetype,
    /// Service egress pools, each from a time (the first from `i64::MIN`).
    pub pools: Vec<(i64, Pool)>,
    pub runners: Option<Runners>,
    pub members: Vec<u32>,
}

impl Group {
    pub(crate) fn pool_at(&self, t: i64) -> Option<&Pool> {
        self.pools.iter().rev().find(|(from, _)| *from <= t).map(|(_, p)| p)
    }
}

/// Where a credential's ordinary traffic comes from.
#[derive(Debug)]
pub(crate) enum Net {
    /// Indices into the group's pool.
    Service { slots: Vec<u8> },
    /// Office (shared egress) and home broadband.
    Human {
        office: Option<(u16, u32, IpAddr)>,
        home_isp: u32,
        office_share: f32,
        /// A commercial VPN exit (city, AS) used on some days.
        vpn: Option<(u16, u32)>,
    },
    /// The group's runner fleet.
    Ci,
    /// The partner's own egress addresses.
    Partner { asn: u32, ips: Vec<IpAddr> },
    /// Carriers of the home country, and home Wi-Fi.
    Mobile { cities: Vec<u16>, carriers: Vec<u32>, home_isp: u32, v6: bool },
}

/// A trip abroad (the `travel` confounder).
#[derive(Debug, Clone)]
pub(crate) struct Travel {
    pub arrive: i64,
    pub back: i64,
    pub city: u16,
    pub asn: u32,
}

/// Names that fill path templates.
#[derive(Debug)]
pub(crate) struct Resources {
    pub bucket: Box<str>,
    pub name: Box<str>,
    pub user: Box<str>,
    pub prefix: &'static str,
    pub id_base: u64,
    pub id_span: u64,
}

/// One credential holder and its behaviour.
#[derive(Debug)]
pub(crate) struct Actor {
    pub archetype: Archetype,
    pub group: u32,
    pub key_kind: KeyKind,
    /// Long-lived keys, each in use from a time (rotation appends). For temporary keys, the
    /// first entry only seeds the derivation.
    pub keys: Vec<(i64, Arc<str>)>,
    pub key_seed: u64,
    pub principal: Arc<str>,
    pub issuer: Arc<str>,
    pub style: Style,
    pub ops: Vec<OpId>,
    pub op_cum: Vec<f32>,
    pub pipeline: u8,
    /// A new operation adopted from a time, with the probability of calling it.
    pub extra_op: Option<(i64, OpId, f32)>,
    pub uas: Vec<Arc<str>>,
    pub ua_cum: Vec<f32>,
    /// An app update: from this time on the install sends a new user agent.
    pub ua_update: Option<(i64, Arc<str>)>,
    pub net: Net,
    pub home_city: u16,
    pub tz_min: i16,
    pub shift_h: i8,
    pub arrivals_per_day: f64,
    pub burst_mean: f64,
    pub burst_gap_ms: f64,
    /// Sorted, disjoint `[from, to)` intervals in which the credential is used.
    pub active: Vec<(i64, i64)>,
    pub created_ms: Option<i64>,
    pub travel: Option<Travel>,
    pub bytes_scale: f32,
    pub res: Resources,
    /// Taken by a scenario already.
    pub used: bool,
    pub temp_phase: i64,
}

impl Actor {
    /// Expected events per active day.
    pub(crate) fn daily_events(&self) -> f64 {
        self.arrivals_per_day * self.burst_mean
    }

    pub(crate) fn start_ms(&self) -> i64 {
        self.active.first().map_or(i64::MAX, |a| a.0)
    }

    pub(crate) fn active_at(&self, t: i64) -> bool {
        self.active.iter().any(|&(a, b)| a <= t && t < b)
    }

    /// Active over all of `[a, b)`.
    pub(crate) fn active_over(&self, a: i64, b: i64) -> bool {
        self.active.iter().any(|&(x, y)| x <= a && b <= y)
    }

    /// Removes `[a, b)` from the active intervals.
    pub(crate) fn pause(&mut self, a: i64, b: i64) {
        let mut out = Vec::with_capacity(self.active.len() + 1);
        for &(x, y) in &self.active {
            if y <= a || b <= x {
                out.push((x, y));
            } else {
                if x < a {
                    out.push((x, a));
                }
                if b < y {
                    out.push((b, y));
                }
            }
        }
        self.active = out;
    }

    /// The long-lived key in effect at `t`.
    pub(crate) fn long_key_at(&self, t: i64) -> &Arc<str> {
        let mut k = &self.keys[0].1;
        for (from, key) in &self.keys {
            if *from <= t {
                k = key;
            }
        }
        k
    }

    pub(crate) fn has_sensitive_ops(&self) -> bool {
        self.ops.iter().any(|&o| catalogue::op(o).class == catalogue::OpClass::Sensitive)
    }

    /// Whether some of its operations read or list data.
    pub(crate) fn reads_data(&self) -> bool {
        self.ops.iter().any(|&o| catalogue::op(o).class.reads_data())
    }
}

/// Company-wide facts: AWS accounts, offices, cloud regions.
#[derive(Debug)]
pub(crate) struct World {
    pub accounts: [String; 3],
    pub offices: Vec<u16>,
    pub regions: [u16; 2],
    pub hq_tz: i16,
}

/// Everything built from the seed before streaming.
#[derive(Debug)]
pub(crate) struct Population {
    pub actors: Vec<Actor>,
    pub groups: Vec<Group>,
    pub nets: Networks,
    pub world: World,
}

/// Zipf-like cumulative weights over `n` items with exponent `s`.
pub(crate) fn zipf_cum(n: usize, s: f64) -> Vec<f32> {
    let mut acc = 0.0;
    (0..n)
        .map(|i| {
            acc += 1.0 / ((i + 1) as f64).powf(s);
            acc as f32
        })
        .collect()
}

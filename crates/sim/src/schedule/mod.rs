//! Up-front scheduling of benign confounders and incidents: chooses victims and times, reshapes
//! the population where a scenario needs it (dormancy, revocation, expiry, travel, address
//! moves), and records the truth.

use std::net::IpAddr;
use std::sync::Arc;

use credence_event::lifecycle::LifecycleAction;
use credence_event::time::format_rfc3339_ms;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::{Pcg32, Pcg64Mcg};

use crate::behaviour::{owner_origin, read_ops};
use crate::catalogue::{self, op_id, op_ids, OpId, Style};
use crate::config::{SimConfig, DAY_MS, HOUR_MS, MINUTE_MS};
use crate::geo::{Networks, CITIES};
use crate::item::SimLifecycle;
use crate::population::{Actor, Archetype, KeyKind, Pool, Population, Travel};
use crate::script::{Planned, Remote, Script};
use crate::truth::{Label, ScenarioKind};

/// A population-wide traffic multiplier (`global_surge`).
#[derive(Debug, Clone)]
pub(crate) struct Surge {
    pub start: i64,
    pub end: i64,
    pub mult: f64,
    pub label: u32,
}

/// A newly adopted operation whose calls in a window carry a confounder label.
#[derive(Debug, Clone)]
pub(crate) struct NewOp {
    pub op: OpId,
    pub start: i64,
    pub end: i64,
    pub label: u32,
}

/// Everything scheduled up front.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub labels: Vec<Label>,
    pub scripts: Vec<Script>,
    pub lifecycle: Vec<SimLifecycle>,
    pub surges: Vec<Surge>,
    pub new_ops: Vec<NewOp>,
    /// Per actor: windows in which its ordinary traffic carries a confounder label.
    pub actor_windows: Vec<(u32, i64, i64, u32)>,
}

struct Ctx<'a> {
    cfg: &'a SimConfig,
    pop: &'a mut Population,
    rng: &'a mut Pcg64Mcg,
    plan: Plan,
    /// Windows of population-wide confounders.
    blocked: Vec<(i64, i64)>,
    /// Windows of incidents.
    incidents: Vec<(i64, i64)>,
    lo: i64,
    hi: i64,
}

fn minutes(rng: &mut impl Rng, lo: f64, hi: f64) -> i64 {
    (rng.gen_range(lo..hi) * MINUTE_MS as f64) as i64
}

fn when(t: i64) -> String {
    format_rfc3339_ms(t)
}

fn place_text(city: u16, asn: u32) -> String {
    let c = &CITIES[usize::from(city)];
    format!("AS{asn} {} {}", c.name, c.country)
}

/// A network in another country at least `min_km` from `home`: a hosting provider (or VPN exit)
/// when `hosting`, else a residential or mobile network (a residential proxy, a second user).
fn remote(nets: &Networks, home: u16, avoid_asn: u32, min_km: f64, hosting: bool, rng: &mut impl Rng) -> Remote {
    let h = &CITIES[usize::from(home)];
    let mut cands: Vec<u16> = (0..CITIES.len() as u16)
        .filter(|&i| {
            let c = &CITIES[usize::from(i)];
            c.country != h.country && c.geo().distance_km(h.geo()) >= min_km && (!hosting || !c.hosting.is_empty())
        })
        .collect();
    if cands.is_empty() {
        cands = (0..CITIES.len() as u16).filter(|&i| CITIES[usize::from(i)].country != h.country).collect();
    }
    let city = cands[rng.gen_range(0..cands.len())];
    let c = &CITIES[usize::from(city)];
    let list: Vec<u32> = if hosting && !c.hosting.is_empty() { c.hosting.to_vec() } else { [c.isp, c.mobile].concat() };
    let list: Vec<u32> = list.iter().copied().filter(|&a| a != avoid_asn).collect();
    let asn = list.choose(rng).copied().unwrap_or(c.isp[0]);
    let ips = (0..rng.gen_range(1..=3)).map(|_| nets.v4(asn, rng)).collect();
    Remote { city, asn, ips }
}

fn attacker_ua(style: Style, rng: &mut impl Rng) -> Arc<str> {
    let list = if style == Style::Aws { catalogue::ATTACKER_AWS_UAS } else { catalogue::ATTACKER_REST_UAS };
    Arc::from(list[rng.gen_range(0..list.len())])
}

/// The requirements an incident kind puts on its victim.
struct Spec {
    archs: &'static [Archetype],
    min_daily: f64,
    max_daily: f64,
    owner_hours: bool,
    long_lived_key: bool,
    /// The victim must never have used a sensitive operation.
    no_sensitive_ops: bool,
    /// The victim must read data (some of its operations read or list): slow exfiltration
    /// drains it through the victim's own read calls.
    reads_data: bool,
}

fn spec(kind: ScenarioKind) -> Spec {
    use Archetype::*;
    let s = |archs, min_daily, owner_hours| Spec {
        archs,
        min_daily,
        max_daily: f64::INFINITY,
        owner_hours,
        long_lived_key: false,
        no_sensitive_ops: false,
        reads_data: false,
    };
    match kind {
        ScenarioKind::StolenKeyNewOrigin => s(&[Service, Human, Partner, Ci], 5.0, true),
        ScenarioKind::ImpossibleTravel => s(&[Human, Mobile, Partner], 5.0, true),
        ScenarioKind::ConcurrentUse => s(&[Human, Partner, Service, Mobile], 5.0, true),
        ScenarioKind::Enumeration => s(&[Service, Human, Partner, Ci, Mobile], 3.0, false),
        ScenarioKind::Exfiltration => Spec { max_daily: 3_000.0, ..s(&[Service, Human, Partner], 5.0, false) },
        ScenarioKind::SlowExfiltration => {
            Spec { max_daily: 5_000.0, reads_data: true, ..s(&[Service, Partner, Human], 10.0, false) }
        }
        ScenarioKind::PrivilegeEscalation => {
            Spec { no_sensitive_ops: true, ..s(&[Human, Service, Ci, Partner], 3.0, false) }
        }
        ScenarioKind::DormantReactivation => {
            Spec { long_lived_key: true, ..s(&[Service, Human, Partner, Mobile], 5.0, false) }
        }
        ScenarioKind::GhostCredential => {
            Spec { long_lived_key: true, ..s(&[Service, Human, Partner, Mobile], 3.0, false) }
        }
        ScenarioKind::ExpiredTokenStorm => s(&[Service, Partner, Mobile, Human, Ci], 3.0, true),
        ScenarioKind::DenialProbing => s(&[Service, Human, Ci, Partner], 3.0, false),
        ScenarioKind::RateBurst => Spec { max_daily: 20_000.0, ..s(&[Service, Partner, Mobile, Human], 40.0, false) },
        _ => s(&[], 0.0, false),
    }
}

/// A victim spec with a world's attack shape applied.
fn spec_in(kind: ScenarioKind, cfg: &SimConfig) -> Spec {
    let sp = spec(kind);
    match kind {
        ScenarioKind::RateBurst => Spec { min_daily: cfg.attacks.burst_min_daily, ..sp },
        _ => sp,
    }
}

impl Ctx<'_> {
    fn label(&mut self, kind: ScenarioKind, start: i64, end: i64, detail: String) -> u32 {
        let id = self.plan.labels.len() as u32;
        self.plan.labels.push(Label {
            id,
            kind,
            credentials: Vec::new(),
            subjects: Vec::new(),
            principal: None,
            peer_group: None,
            population_wide: false,
            start_ms: start,
            end_ms: end,
            injected_events: 0,
            detail,
        });
        id
    }

    fn lifecycle(&mut self, t: i64, key: &Arc<str>, action: LifecycleAction, reason: &'static str, label: Option<u32>) {
        self.plan.lifecycle.push(SimLifecycle { time_ms: t, credential: key.clone(), action, reason, label });
    }

    /// True when `[a, b)` comes within an hour of an incident.
    fn near_incident(&self, a: i64, b: i64) -> bool {
        self.incidents.iter().any(|&(x, y)| a < y + HOUR_MS && x - HOUR_MS < b)
    }

    /// A time in `[a, b)` on a weekday at UTC hours `hours`, aligned to the hour.
    /// A time in `[a, b)` on a weekday at UTC hours `hours`, aligned to the hour, such that
    /// `[t, t + len)` keeps clear of incidents and earlier population-wide confounders.
    fn weekday_hour(&mut self, a: i64, b: i64, hours: std::ops::Range<i64>, len: i64) -> i64 {
        let mut fallback = None;
        for _ in 0..2_000 {
            let t = self.rng.gen_range(a..b.max(a + 1)) / HOUR_MS * HOUR_MS;
            let (h, d) = crate::behaviour::local_hour_weekday(t, 0);
            if d < 5 && hours.contains(&(h as i64)) {
                fallback.get_or_insert(t);
                let clear = self.blocked.iter().all(|&(x, y)| t + len + 6 * HOUR_MS <= x || y + 6 * HOUR_MS <= t);
                if clear && !self.near_incident(t, t + len) {
                    return t;
                }
            }
        }
        fallback.unwrap_or(a / HOUR_MS * HOUR_MS)
    }

    fn stratum(&self, j: u32, n: u32) -> (i64, i64) {
        let span = (self.hi - self.lo) / i64::from(n.max(1));
        (self.lo + span * i64::from(j), self.lo + span * i64::from(j + 1))
    }

    fn eligible(&self, a: &Actor, sp: &Spec, arch: Option<Archetype>) -> bool {
        !a.used
            && arch.is_none_or(|x| a.archetype == x)
            && sp.archs.contains(&a.archetype)
            && (sp.min_daily..=sp.max_daily).contains(&a.daily_events())
            && !(sp.long_lived_key && a.key_kind.is_temporary())
            && !(sp.no_sensitive_ops && a.has_sensitive_ops())
            && (!sp.reads_data || a.reads_data())
    }

    /// Chooses a victim and a time in `[a, b)` with `hist` of prior activity and `dur` after.
    fn victim(&mut self, kind: ScenarioKind, j: u32, (a, b): (i64, i64), hist: i64, dur: i64) -> Option<(usize, i64)> {
        let sp = spec_in(kind, self.cfg);
        let prefer = sp.archs[(j as usize + kind as usize) % sp.archs.len()];
        for arch in [Some(prefer), None] {
            let mut cands: Vec<usize> =
                (0..self.pop.actors.len()).filter(|&i| self.eligible(&self.pop.actors[i], &sp, arch)).collect();
            cands.shuffle(self.rng);
            for &i in cands.iter().take(60) {
                for _ in 0..60 {
                    let t = self.rng.gen_range(a..b.max(a + 1));
                    let act = &self.pop.actors[i];
                    if act.start_ms() <= t - hist
                        && act.active_over(t - hist.min(DAY_MS), t + dur)
                        && (!sp.owner_hours || act.weight_at(t) >= 0.5)
                    {
                        return Some((i, t));
                    }
                }
            }
        }
        None
    }

    fn script(&mut self, kind: ScenarioKind, label: u32, actor: usize, key: Arc<str>) -> Script {
        Script {
            kind,
            label,
            actor: actor as u32,
            rng: Pcg32::seed_from_u64(self.rng.gen()),
            anchor: None,
            anchor_window: None,
            next: None,
            end: 0,
            left: 0,
            key,
            remote: None,
            p_remote: 0.0,
            remote_ua: self.pop.actors[actor].main_ua(),
            owner_place: None,
            plan: Vec::new(),
            ops: Vec::new(),
            p_special: 0.0,
            p_deny: 0.0,
            bytes_mult: (1.0, 1.0),
            user: None,
            emitted: 0,
        }
    }

    /// Fills a label's credential fields for a single victim.
    fn label_victim(&mut self, label: u32, actor: usize, keys: &[Arc<str>], n: u32) {
        let a = &self.pop.actors[actor];
        let l = &mut self.plan.labels[label as usize];
        l.credentials = keys.iter().map(|k| k.to_string()).collect();
        if a.key_kind.is_temporary() {
            l.subjects = vec![a.principal.to_string()];
        }
        l.principal = Some(a.principal.to_string());
        l.peer_group = Some(a.issuer.to_string());
        l.injected_events = n;
    }

    // ---- confounders ---------------------------------------------------------------------------

    fn global_surge(&mut self) {
        let t = self.weekday_hour(self.lo, self.hi, 14..20, HOUR_MS);
        let mult = self.rng.gen_range(3.0..5.0);
        let id = self.label(ScenarioKind::GlobalSurge, t, t + HOUR_MS, format!("all traffic x{mult:.1} for an hour"));
        self.plan.labels[id as usize].population_wide = true;
        self.plan.surges.push(Surge { start: t, end: t + HOUR_MS, mult, label: id });
        self.blocked.push((t, t + HOUR_MS));
    }

    fn new_endpoint(&mut self, i: u32) {
        let mobile = i % 2 == 0;
        let list = if mobile { catalogue::MOBILE_NEW_OPS } else { catalogue::REST_NEW_OPS };
        let Some(key) = list.get((i / 2) as usize) else { return };
        let op = op_id(key);
        let t = self.weekday_hour(self.lo, self.hi, 13..19, 2 * HOUR_MS) + minutes(self.rng, 0.0, 40.0);
        // Adoption takes an hour; installs idle at release pick it up at their next session, so
        // first calls (what a detector would flag) spread over the following day.
        let window = (t, t + DAY_MS);
        let why = if mobile { "feature flag enabled for every app install" } else { "shared client library release" };
        let id = self.label(
            ScenarioKind::NewEndpointForAll,
            window.0,
            window.1,
            format!("{why}: clients start calling {} {}", catalogue::op(op).service, catalogue::op(op).operation),
        );
        let mut creds = Vec::new();
        for a in &mut self.pop.actors {
            let target = if mobile { a.archetype == Archetype::Mobile } else { a.key_kind == KeyKind::GatewayKey };
            if target && !a.used && a.active_at(t) && a.extra_op.is_none() && self.rng.gen_bool(0.92) {
                let from = t + minutes(self.rng, 0.0, 60.0);
                a.extra_op = Some((from, op, self.rng.gen_range(0.15..0.35)));
                creds.push(a.long_key_at(t).to_string());
            }
        }
        self.plan.labels[id as usize].credentials = creds;
        self.plan.new_ops.push(NewOp { op, start: window.0, end: window.1, label: id });
        self.blocked.push((t, t + 2 * HOUR_MS));
    }

    fn deploy_ip_change(&mut self) {
        let t = self.rng.gen_range(self.lo..self.hi);
        let mut groups: Vec<usize> = (0..self.pop.groups.len())
            .filter(|&g| {
                let grp = &self.pop.groups[g];
                grp.archetype == Archetype::Service
                    && grp.members.len() >= 3
                    && grp.members.iter().all(|&m| !self.pop.actors[m as usize].used)
            })
            .collect();
        groups.shuffle(self.rng);
        let Some(&g) = groups.first() else { return };
        let Some(old) = self.pop.groups[g].pool_at(t).cloned() else { return };
        let city = &CITIES[usize::from(old.city)];
        let asn = match city.cloud.iter().find(|&&a| a != old.asn) {
            Some(&other) if self.rng.gen_bool(0.4) => other,
            _ => old.asn,
        };
        let subnets: Vec<[u8; 3]> =
            (0..self.rng.gen_range(1..=2)).map(|_| self.pop.nets.subnet(asn, self.rng)).collect();
        let ips: Vec<IpAddr> =
            (0..old.ips.len()).map(|i| Networks::host_in(subnets[i % subnets.len()], self.rng)).collect();
        let end = t + DAY_MS;
        let id = self.label(
            ScenarioKind::DeployIpChange,
            t,
            end,
            format!("deploy moved every instance from {} to new /24s in AS{asn}", place_text(old.city, old.asn)),
        );
        self.pop.groups[g].pools.push((t, Pool { city: old.city, asn, ips }));
        let members = self.pop.groups[g].members.clone();
        let (mut creds, mut subjects) = (Vec::new(), Vec::new());
        for &m in &members {
            let a = &mut self.pop.actors[m as usize];
            a.used = true;
            if a.key_kind.is_temporary() {
                subjects.push(a.principal.to_string());
            } else {
                creds.push(a.long_key_at(t).to_string());
            }
            self.plan.actor_windows.push((m, t, end, id));
        }
        let l = &mut self.plan.labels[id as usize];
        l.credentials = creds;
        l.subjects = subjects;
        l.peer_group = Some(self.pop.groups[g].name.to_string());
    }

    fn travel(&mut self) {
        let mut cands: Vec<usize> = (0..self.pop.actors.len())
            .filter(|&i| {
                let a = &self.pop.actors[i];
                a.archetype == Archetype::Human && !a.used && a.daily_events() >= 15.0 && a.created_ms.is_none()
            })
            .collect();
        cands.shuffle(self.rng);
        let Some(&i) = cands.first() else { return };
        let home = self.pop.actors[i].home_city;
        let h = CITIES[usize::from(home)].geo();
        let mut dests: Vec<u16> = (0..CITIES.len() as u16)
            .filter(|&c| {
                let d = CITIES[usize::from(c)].geo().distance_km(h);
                CITIES[usize::from(c)].country != CITIES[usize::from(home)].country && (4_500.0..8_500.0).contains(&d)
            })
            .collect();
        if dests.is_empty() {
            dests =
                (0..CITIES.len() as u16).filter(|&c| CITIES[usize::from(c)].geo().distance_km(h) >= 3_000.0).collect();
        }
        let Some(&dest) = dests.choose(self.rng) else { return };
        let km = CITIES[usize::from(dest)].geo().distance_km(h);
        let gap = ((km / 850.0 + 2.5).max(8.0) * HOUR_MS as f64) as i64;
        // Leave in the local evening on a weekday.
        let tz = self.pop.actors[i].tz_min;
        let mut depart = self.rng.gen_range(self.lo..(self.hi - 3 * DAY_MS).max(self.lo + 1));
        for _ in 0..200 {
            let (hr, d) = crate::behaviour::local_hour_weekday(depart, tz);
            if d < 4 && (18..22).contains(&hr) {
                break;
            }
            depart += HOUR_MS;
        }
        let arrive = depart + gap;
        let back = arrive + self.rng.gen_range(DAY_MS..2 * DAY_MS);
        let dc = &CITIES[usize::from(dest)];
        let asn = *dc.isp.choose(self.rng).unwrap_or(&dc.isp[0]);
        let id = self.label(
            ScenarioKind::Travel,
            arrive,
            back,
            format!(
                "trip from {} to {} ({km:.0} km, {:.1} h door to door), working from a hotel on AS{asn}",
                CITIES[usize::from(home)].name,
                dc.name,
                gap as f64 / HOUR_MS as f64
            ),
        );
        let a = &mut self.pop.actors[i];
        a.used = true;
        a.pause(depart, arrive);
        a.pause(back, back + gap);
        a.travel = Some(Travel { arrive, back, city: dest, asn });
        let key = a.long_key_at(arrive).clone();
        self.label_victim(id, i, &[key], 0);
        self.plan.actor_windows.push((i as u32, arrive, back, id));
    }

    // ---- incidents -----------------------------------------------------------------------------

    fn incident(&mut self, kind: ScenarioKind, j: u32, n_kind: u32) {
        let stratum = self.stratum(j, n_kind);
        let hist = (self.cfg.min_history_days * DAY_MS as f64) as i64;
        match kind {
            ScenarioKind::DormantReactivation => self.dormant(j),
            ScenarioKind::GhostCredential => self.ghost(j, stratum, hist),
            ScenarioKind::ExpiredTokenStorm => self.expired_storm(j, stratum),
            _ => self.attack(kind, j, stratum, hist),
        }
    }

    /// Incidents that add attacker traffic on top of the victim's own.
    fn attack(&mut self, kind: ScenarioKind, j: u32, stratum: (i64, i64), hist: i64) {
        use ScenarioKind::*;
        let shape = self.cfg.attacks.clone();
        let dur = match kind {
            StolenKeyNewOrigin => minutes(self.rng, 10.0, 60.0),
            ImpossibleTravel => minutes(self.rng, 5.0, 30.0),
            ConcurrentUse => minutes(self.rng, 30.0, 60.0),
            Enumeration | DenialProbing => minutes(self.rng, 3.0, 15.0),
            Exfiltration => minutes(self.rng, 5.0, 20.0),
            SlowExfiltration => minutes(self.rng, shape.slow_minutes.0, shape.slow_minutes.1),
            RateBurst => minutes(self.rng, shape.burst_minutes.0, shape.burst_minutes.1),
            PrivilegeEscalation => minutes(self.rng, 5.0, 30.0),
            _ => minutes(self.rng, 5.0, 15.0),
        };
        let Some((v, t0)) = self.victim(kind, j, stratum, hist, dur + 30 * MINUTE_MS) else { return };
        self.pop.actors[v].used = true;
        let a = &self.pop.actors[v];
        let style = a.style;
        let key = match a.key_kind {
            KeyKind::TempPerJob => crate::behaviour::temp_key(a.key_seed, (1 << 40) | u64::from(j)),
            _ => a.key_at(t0, 0),
        };
        let home_asn = owner_origin(a, &self.pop.groups[a.group as usize], &self.pop.nets, t0, self.rng).asn;
        let home = a.home_city;
        let daily = a.daily_events();
        let label = self.label(kind, t0, t0 + dur, String::new());
        let mut s = self.script(kind, label, v, key.clone());
        let (mut start, mut end) = (t0, t0 + dur);
        let owner_place = |ctx: &mut Ctx<'_>| {
            let a = &ctx.pop.actors[v];
            Some(owner_origin(a, &ctx.pop.groups[a.group as usize], &ctx.pop.nets, t0, ctx.rng))
        };
        let recon = op_ids(if style == Style::Aws { catalogue::AWS_RECON } else { catalogue::REST_RECON });
        let n: u32 = match kind {
            StolenKeyNewOrigin => {
                s.remote = Some(remote(&self.pop.nets, home, home_asn, 1_500.0, self.rng.gen_bool(0.8), self.rng));
                s.p_remote = 1.0;
                s.remote_ua = attacker_ua(style, self.rng);
                s.ops = recon;
                s.p_special = 0.35;
                s.p_deny = 0.3;
                let first = if style == Style::Aws { "sts:GetCallerIdentity" } else { "users-api:GET /v1/me" };
                s.plan = vec![Planned { op: op_id(first), status: 200, error: None, id: None }];
                ((dur / MINUTE_MS) as f64 * self.rng.gen_range(1.0..3.0)).clamp(12.0, 200.0) as u32
            }
            ImpossibleTravel => {
                let far = if self.rng.gen_bool(0.7) { 5_000.0 } else { 3_000.0 };
                s.remote = Some(remote(&self.pop.nets, home, home_asn, far, self.rng.gen_bool(0.5), self.rng));
                s.p_remote = 1.0;
                if self.rng.gen_bool(0.5) {
                    s.remote_ua = attacker_ua(style, self.rng);
                }
                s.anchor = Some(t0);
                start = t0 + minutes(self.rng, 2.0, 20.0);
                end = start + dur;
                self.rng.gen_range(3..=25)
            }
            ConcurrentUse => {
                s.remote = Some(remote(&self.pop.nets, home, home_asn, 1_500.0, self.rng.gen_bool(0.3), self.rng));
                s.p_remote = 0.5;
                if self.rng.gen_bool(0.3) {
                    s.remote_ua = attacker_ua(style, self.rng);
                }
                ((dur / MINUTE_MS) as f64 * self.rng.gen_range(0.8..2.5)).clamp(20.0, 150.0) as u32
            }
            Enumeration | DenialProbing | PrivilegeEscalation => {
                let from_remote = kind == DenialProbing || self.rng.gen_bool(0.5);
                if from_remote {
                    s.remote = Some(remote(&self.pop.nets, home, home_asn, 1_500.0, true, self.rng));
                    s.p_remote = 1.0;
                    s.remote_ua = attacker_ua(style, self.rng);
                } else {
                    s.owner_place = owner_place(self);
                }
                s.plan = match kind {
                    Enumeration => self.enumeration_plan(v, style, recon),
                    DenialProbing => self.probing_plan(style, recon),
                    _ => self.privesc_plan(style, &mut s),
                };
                s.plan.len() as u32
            }
            Exfiltration => {
                if self.rng.gen_bool(0.6) {
                    s.remote = Some(remote(&self.pop.nets, home, home_asn, 1_500.0, true, self.rng));
                    s.p_remote = 1.0;
                    let uas = catalogue::EXFIL_UAS;
                    s.remote_ua = Arc::from(if style == Style::Aws { uas[self.rng.gen_range(0..2)] } else { uas[2] });
                } else {
                    s.owner_place = owner_place(self);
                }
                s.p_special = 1.0;
                if style == Style::Aws {
                    s.ops = op_ids(catalogue::AWS_EXFIL);
                    s.bytes_mult = shape.exfil_bytes;
                    self.rng.gen_range(80..=400)
                } else {
                    s.ops = op_ids(catalogue::REST_EXFIL);
                    s.bytes_mult = ((shape.exfil_bytes.0 / 5.0).max(3.0), (shape.exfil_bytes.1 / 7.5).max(8.0));
                    self.rng.gen_range(60..=300)
                }
            }
            SlowExfiltration => {
                if self.rng.gen_bool(0.3) {
                    // Low and slow through a residential proxy in the victim's own country.
                    let c = &CITIES[usize::from(home)];
                    let asn = c.isp.iter().copied().find(|&x| x != home_asn).unwrap_or(c.isp[0]);
                    let ips = (0..2).map(|_| self.pop.nets.v4(asn, self.rng)).collect();
                    s.remote = Some(Remote { city: home, asn, ips });
                    s.p_remote = 1.0;
                }
                s.ops = read_ops(&self.pop.actors[v]);
                s.p_special = 1.0;
                s.bytes_mult = shape.slow_bytes;
                let per_hour = (daily / 24.0).max(12.0) * self.rng.gen_range(shape.slow_rate.0..shape.slow_rate.1);
                (per_hour * dur as f64 / HOUR_MS as f64).clamp(30.0, 1_500.0) as u32
            }
            _ => {
                // Rate burst: scraping with the usual calls.
                if self.rng.gen_bool(0.4) {
                    s.remote = Some(remote(&self.pop.nets, home, home_asn, 1_500.0, true, self.rng));
                    s.p_remote = 1.0;
                } else {
                    s.owner_place = owner_place(self);
                }
                // (Drawn as half the ratio, doubled: the demo's streams stay as they were.)
                let half = self.rng.gen_range(shape.burst_ratio.0 / 2.0..shape.burst_ratio.1 / 2.0);
                let per_hour = (daily / 24.0 * 2.0 * half).max(shape.burst_min_per_hour);
                (per_hour * dur as f64 / HOUR_MS as f64).clamp(80.0, 5_000.0) as u32
            }
        };
        let where_ = match (&s.remote, &s.owner_place) {
            (Some(r), _) => format!("from {} ({} IPs)", place_text(r.city, r.asn), r.ips.len()),
            (None, Some(p)) => format!("from the victim's own host {} ({})", p.ip, place_text(p.city, p.asn)),
            _ => "from the victim's usual networks".to_owned(),
        };
        let detail =
            format!("{n} requests over {:.0} min {where_}, user agent `{}`", dur as f64 / 60_000.0, s.remote_ua);
        s.schedule_times(start, end, n);
        let l = &mut self.plan.labels[label as usize];
        l.start_ms = start;
        l.end_ms = end;
        l.detail = detail;
        self.label_victim(label, v, &[key], n);
        self.plan.scripts.push(s);
        self.incidents.push((start, end));
    }

    fn enumeration_plan(&mut self, v: usize, style: Style, mut recon: Vec<OpId>) -> Vec<Planned> {
        let a = &self.pop.actors[v];
        if style == Style::Aws {
            recon.shuffle(self.rng);
            recon.truncate(self.rng.gen_range(25..=45));
            let mut plan = Vec::new();
            for op in recon {
                let denied = self.rng.gen_bool(0.3);
                // Region-scoped calls are swept across regions.
                let reps = if catalogue::op(op).service.starts_with("ec2.") { self.rng.gen_range(1..=8) } else { 1 };
                for _ in 0..reps {
                    let (status, error) = if denied { (403, Some("AccessDenied")) } else { (200, None) };
                    plan.push(Planned { op, status, error, id: None });
                }
            }
            plan
        } else {
            let by_id = a.ops.iter().copied().find(|&o| {
                let op = catalogue::op(o);
                op.method == "GET" && op.path.ends_with("{id}")
            });
            let op = by_id.unwrap_or_else(|| op_id("customers-api:GET /v1/customers/{id}"));
            let mut id = a.res.id_base + self.rng.gen_range(0..1_000);
            (0..self.rng.gen_range(100..=600))
                .map(|_| {
                    id += if self.rng.gen_bool(0.9) { 1 } else { self.rng.gen_range(2..20) };
                    let (status, error) = if self.rng.gen_bool(0.12) { (404, Some("NotFound")) } else { (200, None) };
                    Planned { op, status, error, id: Some(id) }
                })
                .collect()
        }
    }

    fn probing_plan(&mut self, style: Style, mut ops: Vec<OpId>) -> Vec<Planned> {
        ops.extend(op_ids(if style == Style::Aws { catalogue::AWS_PRIVESC } else { catalogue::REST_PRIVESC }));
        ops.shuffle(self.rng);
        ops.truncate(self.rng.gen_range(20..=60).min(ops.len()));
        let p_deny = self.rng.gen_range(0.7..0.95);
        let denied: Vec<bool> = ops.iter().map(|_| self.rng.gen_bool(p_deny)).collect();
        let n = self.rng.gen_range(30..=150).max(ops.len());
        (0..n)
            .map(|i| {
                let k = if i < ops.len() { i } else { self.rng.gen_range(0..ops.len()) };
                let (status, error) = if denied[k] { (403, Some("AccessDenied")) } else { (200, None) };
                Planned { op: ops[k], status, error, id: None }
            })
            .collect()
    }

    fn privesc_plan(&mut self, style: Style, s: &mut Script) -> Vec<Planned> {
        let ok = |op: OpId| Planned { op, status: 200, error: None, id: None };
        let deny = |op: OpId| Planned { op, status: 403, error: Some("AccessDenied"), id: None };
        let mut plan = Vec::new();
        let k_deny = if self.rng.gen_bool(0.3) { 0 } else { self.rng.gen_range(2..=6) };
        if style == Style::Aws {
            s.user = Some(
                ["backup-admin", "svc-monitoring", "support-ops", "ci-bootstrap"][self.rng.gen_range(0..4)].into(),
            );
            plan.push(ok(op_id("sts:GetCallerIdentity")));
            plan.push(ok(op_id(if self.rng.gen_bool(0.5) { "iam:GetUser" } else { "iam:ListAttachedUserPolicies" })));
            let mut esc = op_ids(catalogue::AWS_PRIVESC);
            esc.shuffle(self.rng);
            for &op in esc.iter().cycle().take(k_deny) {
                plan.push(deny(op));
            }
            let k_ok = self.rng.gen_range(1..=4);
            let mut succ = op_ids(catalogue::AWS_PRIVESC);
            succ.shuffle(self.rng);
            for op in succ.into_iter().take(k_ok) {
                plan.push(ok(op));
                if self.rng.gen_bool(0.4) {
                    plan.push(ok(op_id("iam:ListAttachedUserPolicies")));
                }
            }
        } else {
            plan.push(ok(op_id("users-api:GET /v1/me")));
            for _ in 0..k_deny {
                plan.push(deny(op_id(if self.rng.gen_bool(0.6) {
                    "admin-api:POST /admin/roles"
                } else {
                    "admin-api:POST /admin/api-keys"
                })));
            }
            let user_id = self.rng.gen_range(1_000..900_000);
            plan.push(Planned {
                op: op_id("users-api:PUT /v1/users/{id}/permissions"),
                status: 200,
                error: None,
                id: Some(user_id),
            });
            if self.rng.gen_bool(0.6) {
                plan.push(ok(op_id("admin-api:POST /admin/api-keys")));
            }
            if self.rng.gen_bool(0.5) {
                plan.push(ok(op_id("admin-api:GET /admin/users")));
            }
        }
        plan
    }
}

mod lifecycle;

/// Schedules every confounder and incident for `cfg`, reshaping `pop` where needed.
pub(crate) fn plan(cfg: &SimConfig, pop: &mut Population, rng: &mut Pcg64Mcg) -> Plan {
    let (start, end) = (cfg.start_ms, cfg.end_ms());
    let hist = (cfg.min_history_days * DAY_MS as f64) as i64;
    let window = (cfg.incident_window_days * DAY_MS as f64) as i64;
    let mut lo = (start + hist).max(end - window);
    let hi = end - 4 * HOUR_MS;
    if hi - lo < 12 * HOUR_MS {
        lo = start + (end - start) / 2;
    }
    let mut ctx = Ctx { cfg, pop, rng, plan: Plan::default(), blocked: Vec::new(), incidents: Vec::new(), lo, hi };
    ctx.created_records();
    // Incidents first, so that confounders can keep clear of them: population-wide confounders
    // avoid incident windows, per-credential ones avoid incident victims.
    let n = cfg.incidents_per_kind;
    for kind in ScenarioKind::INCIDENTS {
        for j in 0..n {
            ctx.incident(kind, j, n);
        }
    }
    let c = cfg.confounders_per_kind;
    for _ in 0..c {
        ctx.global_surge();
    }
    for i in 0..c {
        ctx.new_endpoint(i);
    }
    for _ in 0..c {
        ctx.deploy_ip_change();
    }
    for _ in 0..c {
        ctx.travel();
    }
    ctx.rotations();
    ctx.plan.lifecycle.sort_by_key(|l| l.time_ms);
    ctx.plan
}

//! Building the population: one builder per archetype.

use std::net::IpAddr;
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, LogNormal};
use rand_pcg::Pcg64Mcg;

use crate::catalogue::{self, op_ids, Family, OpId, Style};
use crate::config::{SimConfig, DAY_MS, HOUR_MS};
use crate::geo::{cities_in, city_index, Networks, CITIES};
use crate::names;
use crate::population::{
    new_key, zipf_cum, Actor, Archetype, Group, KeyKind, Net, Pool, Population, Resources, Runners, World,
};

fn lognormal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    LogNormal::new(median.ln(), sigma).map_or(median, |d| d.sample(rng))
}

/// The family's operations, lightly reordered, the first `k` kept.
fn pick_ops(fam: &Family, k: usize, rng: &mut impl Rng) -> Vec<OpId> {
    let mut ops = op_ids(fam.ops);
    for _ in 0..ops.len() / 2 {
        let i = rng.gen_range(0..ops.len());
        let j = (i + rng.gen_range(0..3)).min(ops.len() - 1);
        ops.swap(i, j);
    }
    ops.truncate(k.clamp(1, ops.len()));
    ops
}

/// Everything that differs between credential holders, gathered before pushing one.
struct Spec {
    archetype: Archetype,
    group: u32,
    key_kind: KeyKind,
    principal: String,
    style: Style,
    ops: Vec<OpId>,
    zipf_s: f64,
    uas: Vec<Arc<str>>,
    net: Net,
    home_city: u16,
    tz_min: i16,
    daily: f64,
    burst_mean: f64,
    burst_gap_ms: f64,
    res: Resources,
}

struct Builder<'a> {
    cfg: &'a SimConfig,
    rng: &'a mut Pcg64Mcg,
    pop: Population,
    used_names: std::collections::HashSet<String>,
}

impl Builder<'_> {
    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 2;
        while !self.used_names.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        name
    }

    fn pick<'t>(&mut self, list: &'t [&'t str]) -> &'t str {
        list[self.rng.gen_range(0..list.len())]
    }

    fn resources(&mut self, bucket: String, name: String, user: String, prefix: &'static str) -> Resources {
        Resources {
            bucket: bucket.into(),
            name: name.into(),
            user: user.into(),
            prefix,
            id_base: self.rng.gen_range(10_000..5_000_000u64),
            id_span: self.rng.gen_range(500..200_000),
        }
    }

    fn push_actor(&mut self, s: Spec) {
        let id = self.pop.actors.len() as u32;
        let key = new_key(s.key_kind, self.rng);
        let issuer = self.pop.groups[s.group as usize].name.clone();
        self.pop.groups[s.group as usize].members.push(id);
        let daily = s.daily * self.cfg.activity_scale;
        let actor = Actor {
            archetype: s.archetype,
            group: s.group,
            key_kind: s.key_kind,
            keys: vec![(i64::MIN, key)],
            key_seed: self.rng.gen(),
            principal: Arc::from(s.principal),
            issuer,
            style: s.style,
            op_cum: zipf_cum(s.ops.len(), s.zipf_s),
            ops: s.ops,
            pipeline: 0,
            extra_op: None,
            ua_cum: zipf_cum(s.uas.len(), 2.0),
            uas: s.uas,
            ua_update: None,
            net: s.net,
            home_city: s.home_city,
            tz_min: s.tz_min,
            shift_h: self.rng.gen_range(-1..=1),
            arrivals_per_day: daily / s.burst_mean,
            burst_mean: s.burst_mean,
            burst_gap_ms: s.burst_gap_ms,
            active: vec![(self.cfg.start_ms, self.cfg.end_ms())],
            created_ms: None,
            travel: None,
            bytes_scale: lognormal(self.rng, 1.0, 0.35) as f32,
            res: s.res,
            used: false,
            temp_phase: self.rng.gen_range(0..HOUR_MS),
        };
        self.pop.actors.push(actor);
    }

    fn new_group(&mut self, name: String, archetype: Archetype) -> u32 {
        self.pop.groups.push(Group {
            name: Arc::from(name),
            archetype,
            pools: Vec::new(),
            runners: None,
            members: Vec::new(),
        });
        (self.pop.groups.len() - 1) as u32
    }

    fn services(&mut self, n: usize) {
        let mut left = n;
        while left > 0 {
            let size = (lognormal(self.rng, 2.5, 0.9).round() as usize).clamp(1, 40).min(left);
            left -= size;
            let (p, s) = (self.pick(names::SERVICE_PREFIX), self.pick(names::SERVICE_SUFFIX));
            let svc = self.unique(&format!("{p}-{s}"));
            // A world's vocabulary moves the share of REST routes; the AWS side keeps its split.
            let u: f64 = self.rng.gen();
            let u = self.cfg.rest_share.map_or(u, |r| {
                if u < 1.0 - r {
                    u / (1.0 - r) * 0.65
                } else {
                    0.65 + (u - (1.0 - r)) / r * 0.35
                }
            });
            let (kind, style) = if u < 0.45 {
                (KeyKind::TempHourly, Style::Aws)
            } else if u < 0.65 {
                (KeyKind::AccessKey, Style::Aws)
            } else {
                (KeyKind::GatewayKey, Style::Rest)
            };
            let acct = self.pop.world.accounts[usize::from(self.rng.gen_bool(0.2))].clone();
            let region = self.pop.world.regions[usize::from(self.rng.gen_bool(0.3))];
            let city = &CITIES[usize::from(region)];
            let u: f64 = self.rng.gen();
            let asn = if style == Style::Rest && u < 0.2 {
                city.cloud[self.rng.gen_range(0..city.cloud.len())]
            } else if style == Style::Rest && u < 0.3 && !city.hosting.is_empty() {
                // Some gateway clients run on a VPS provider.
                city.hosting[self.rng.gen_range(0..city.hosting.len())]
            } else {
                city.cloud[0]
            };
            let group_name = match kind {
                KeyKind::TempHourly => format!("arn:aws:iam::{acct}:role/{svc}-role"),
                KeyKind::AccessKey => format!("arn:aws:iam::{acct}:group/{svc}"),
                _ => svc.clone(),
            };
            let g = self.new_group(group_name, Archetype::Service);
            let n_subnets = self.rng.gen_range(1..=2);
            let subnets: Vec<[u8; 3]> = (0..n_subnets).map(|_| self.pop.nets.subnet(asn, self.rng)).collect();
            let n_ips = self.rng.gen_range(2..=6);
            let ips: Vec<IpAddr> =
                (0..n_ips).map(|i| Networks::host_in(subnets[i % subnets.len()], self.rng)).collect();
            self.pop.groups[g as usize].pools.push((i64::MIN, Pool { city: region, asn, ips }));
            let (family, ua): (&Family, Arc<str>) = if style == Style::Aws {
                let fams = catalogue::AWS_SERVICE_FAMILIES;
                let f = if self.rng.gen_bool(0.05) { &fams[5] } else { &fams[self.rng.gen_range(0..5)] };
                (f, Arc::from(self.pick(catalogue::SDK_UAS)))
            } else {
                let fams = catalogue::REST_SERVICE_FAMILIES;
                let f = &fams[self.rng.gen_range(0..fams.len())];
                let lib = self.pick(catalogue::SERVICE_REST_UAS);
                let ua = if self.rng.gen_bool(0.5) {
                    let (a, b, c) = (self.rng.gen_range(1..6), self.rng.gen_range(0..30), self.rng.gen_range(0..12));
                    format!("{svc}/{a}.{b}.{c} {lib}")
                } else {
                    lib.to_owned()
                };
                (f, Arc::from(ua))
            };
            let k = self.rng.gen_range(2..=6);
            let ops = pick_ops(family, k, self.rng);
            let group_rate = lognormal(self.rng, 55.0, 1.2);
            for i in 0..size {
                let principal = match kind {
                    KeyKind::TempHourly => {
                        let session = if self.rng.gen_bool(0.5) {
                            format!("i-0{:016x}", self.rng.gen::<u64>())
                        } else {
                            format!("{:032x}", self.rng.gen::<u128>())
                        };
                        format!("arn:aws:sts::{acct}:assumed-role/{svc}-role/{session}")
                    }
                    KeyKind::AccessKey => format!("arn:aws:iam::{acct}:user/svc-{svc}-{}", i + 1),
                    _ => format!("{svc}-prod-{}", i + 1),
                };
                let pool_len = n_ips;
                let mut slots: Vec<u8> = (0..pool_len as u8).collect();
                slots.shuffle(self.rng);
                slots.truncate(self.rng.gen_range(1..=3usize).min(pool_len));
                let daily = (group_rate * lognormal(self.rng, 1.0, 0.5)).clamp(4.0, 40_000.0);
                let prefix = ["exports", "raw/events", "snapshots", "batch/out"][i % 4];
                let res = self.resources(
                    format!("acme-{svc}-prod"),
                    format!("prod-{svc}"),
                    format!("svc-{svc}-{}", i + 1),
                    prefix,
                );
                let zipf_s = self.rng.gen_range(0.6..1.4);
                self.push_actor(Spec {
                    archetype: Archetype::Service,
                    group: g,
                    key_kind: kind,
                    principal,
                    style,
                    ops: ops.clone(),
                    zipf_s,
                    uas: vec![ua.clone()],
                    net: Net::Service { slots },
                    home_city: region,
                    tz_min: self.pop.world.hq_tz,
                    daily,
                    burst_mean: 1.6,
                    burst_gap_ms: 400.0,
                    res,
                });
            }
        }
    }

    fn humans(&mut self, n: usize) {
        let mut left = n;
        while left > 0 {
            let size = self.rng.gen_range(3..=12).min(left);
            left -= size;
            let team = self.pick(names::TEAMS);
            let team = self.unique(team);
            let u: f64 = self.rng.gen();
            let u = self.cfg.rest_share.map_or(u, |r| {
                if u < 1.0 - r {
                    u / (1.0 - r) * 0.7
                } else {
                    0.7 + (u - (1.0 - r)) / r * 0.3
                }
            });
            let (style, family) = if u < 0.45 {
                (Style::Aws, &catalogue::HUMAN_AWS_FAMILIES[0])
            } else if u < 0.6 {
                (Style::Aws, &catalogue::HUMAN_AWS_FAMILIES[1])
            } else if u < 0.7 {
                (Style::Aws, &catalogue::HUMAN_AWS_FAMILIES[2])
            } else if u < 0.9 {
                (Style::Rest, &catalogue::HUMAN_REST_FAMILIES[0])
            } else {
                (Style::Rest, &catalogue::HUMAN_REST_FAMILIES[1])
            };
            let acct = self.pop.world.accounts[0].clone();
            let g = self.new_group(
                if style == Style::Aws { format!("arn:aws:iam::{acct}:group/{team}") } else { format!("team:{team}") },
                Archetype::Human,
            );
            let offices = &self.pop.world.offices;
            let office_city = offices[self.rng.gen_range(0..offices.len())];
            let oc = &CITIES[usize::from(office_city)];
            let office_asn = oc.isp[0];
            let office_ip = self.pop.nets.stable_v4(office_asn, u64::from(office_city) * 7919 + 17);
            for _ in 0..size {
                let (first, last) = (self.pick(names::FIRST), self.pick(names::LAST));
                let person = self.unique(&format!("{first}.{last}"));
                let r: f64 = self.rng.gen();
                let home_city = if r < 0.85 {
                    office_city
                } else if r < 0.95 {
                    let same = cities_in(oc.country);
                    same[self.rng.gen_range(0..same.len())]
                } else {
                    self.rng.gen_range(0..CITIES.len() as u16)
                };
                let hc = &CITIES[usize::from(home_city)];
                let office = (home_city == office_city).then_some((office_city, office_asn, office_ip));
                let home_isp = hc.isp[self.rng.gen_range(0..hc.isp.len())];
                let all = if style == Style::Aws { catalogue::HUMAN_AWS_UAS } else { catalogue::HUMAN_REST_UAS };
                let k = self.rng.gen_range(1..=3);
                let uas: Vec<Arc<str>> = all.choose_multiple(self.rng, k).map(|s| Arc::from(*s)).collect();
                let (key_kind, principal) = if style == Style::Aws {
                    (KeyKind::AccessKey, format!("arn:aws:iam::{acct}:user/{person}"))
                } else {
                    (KeyKind::PersonalToken, format!("{person}@acme-corp.example"))
                };
                let k = self.rng.gen_range(6..=family.ops.len());
                let ops = pick_ops(family, k, self.rng);
                let daily = lognormal(self.rng, 30.0, 1.0).clamp(2.0, 3_000.0);
                let res = self.resources("acme-data-lake".into(), "prod-orders".into(), person.clone(), "analytics");
                let zipf_s = self.rng.gen_range(0.7..1.3);
                let office_share = self.rng.gen_range(0.3..0.8);
                let vpn = self.rng.gen_bool(0.12).then(|| vpn_exit(home_city, self.rng)).flatten();
                self.push_actor(Spec {
                    archetype: Archetype::Human,
                    group: g,
                    key_kind,
                    principal,
                    style,
                    ops,
                    zipf_s,
                    uas,
                    net: Net::Human { office, home_isp, office_share, vpn },
                    home_city,
                    tz_min: hc.tz_min,
                    daily,
                    burst_mean: 4.0,
                    burst_gap_ms: 6_000.0,
                    res,
                });
            }
        }
    }

    fn ci(&mut self, n: usize) {
        let mut left = n;
        while left > 0 {
            let size = self.rng.gen_range(2..=8).min(left);
            left -= size;
            let pipeline = self.rng.gen_range(0..catalogue::PIPELINES.len());
            let p = &catalogue::PIPELINES[pipeline];
            let acct = self.pop.world.accounts[0].clone();
            let hosted = self.rng.gen_bool(0.6);
            let oidc = self.rng.gen_bool(0.45);
            let g = self.new_group(
                if oidc {
                    format!("arn:aws:iam::{acct}:oidc-provider/token.actions.githubusercontent.com#{}", p.name)
                } else {
                    format!("arn:aws:iam::{acct}:group/ci-{}", p.name)
                },
                Archetype::Ci,
            );
            let (city, asn, n_subnets) = if hosted {
                (city_index(["Ashburn", "Chicago", "Seattle"][self.rng.gen_range(0..3)]), 8075, 40)
            } else {
                let r = self.pop.world.regions[0];
                (r, CITIES[usize::from(r)].cloud[0], 4)
            };
            let subnets = (0..n_subnets).map(|_| self.pop.nets.subnet(asn, self.rng)).collect();
            self.pop.groups[g as usize].runners = Some(Runners { city, asn, subnets });
            let ua: Arc<str> =
                Arc::from(if hosted { catalogue::CI_UAS[self.rng.gen_range(0..3)] } else { catalogue::CI_UAS[3] });
            let steps: f64 = p.steps.iter().map(|s| f64::from(s.reps.0 + s.reps.1) / 2.0).sum();
            for _ in 0..size {
                let repo = self.pick(names::REPOS);
                let repo = self.unique(repo);
                let (key_kind, principal) = if oidc {
                    (KeyKind::TempPerJob, format!("arn:aws:sts::{acct}:assumed-role/gha-{repo}/GitHubActions"))
                } else {
                    (KeyKind::AccessKey, format!("arn:aws:iam::{acct}:user/ci-{repo}"))
                };
                let pushes = lognormal(self.rng, 5.0, 0.8).clamp(0.5, 60.0);
                let res =
                    self.resources(format!("acme-{repo}-artifacts"), repo.clone(), format!("ci-{repo}"), "builds");
                self.push_actor(Spec {
                    archetype: Archetype::Ci,
                    group: g,
                    key_kind,
                    principal,
                    style: Style::Aws,
                    ops: p.steps.iter().map(|s| catalogue::op_id(s.op)).collect(),
                    zipf_s: 1.0,
                    uas: vec![ua.clone()],
                    net: Net::Ci,
                    home_city: city,
                    tz_min: self.pop.world.hq_tz,
                    daily: pushes * steps,
                    burst_mean: steps,
                    burst_gap_ms: 2_000.0,
                    res,
                });
                if let Some(a) = self.pop.actors.last_mut() {
                    a.pipeline = pipeline as u8;
                }
            }
        }
    }

    fn partners(&mut self, n: usize) {
        let groups: Vec<u32> = catalogue::PARTNER_FAMILIES
            .iter()
            .map(|f| self.new_group(format!("partners/{}", f.name), Archetype::Partner))
            .collect();
        let mut left = n;
        while left > 0 {
            let size = self.rng.gen_range(1..=3).min(left);
            left -= size;
            let company = self.pick(names::COMPANIES);
            let company = self.unique(company);
            let fi = self.rng.gen_range(0..groups.len());
            let family = &catalogue::PARTNER_FAMILIES[fi];
            let city = self.rng.gen_range(0..CITIES.len() as u16);
            let c = &CITIES[usize::from(city)];
            let u: f64 = self.rng.gen();
            let asn = if !c.cloud.is_empty() && u < 0.4 {
                c.cloud[self.rng.gen_range(0..c.cloud.len())]
            } else if !c.hosting.is_empty() && u < 0.6 {
                c.hosting[self.rng.gen_range(0..c.hosting.len())]
            } else {
                c.isp[0]
            };
            let n_ips = self.rng.gen_range(1..=4);
            let ips: Vec<IpAddr> = (0..n_ips).map(|_| self.pop.nets.v4(asn, self.rng)).collect();
            let ua: Arc<str> = if self.rng.gen_bool(0.6) {
                Arc::from(self.pick(catalogue::PARTNER_UAS))
            } else {
                let (a, b) = (self.rng.gen_range(1..5), self.rng.gen_range(0..20));
                Arc::from(format!("{company}-connector/{a}.{b}"))
            };
            let k = self.rng.gen_range(3..=family.ops.len());
            let ops = pick_ops(family, k, self.rng);
            let rate = lognormal(self.rng, 110.0, 1.1);
            for i in 0..size {
                let daily = (rate * lognormal(self.rng, 1.0, 0.4)).clamp(5.0, 30_000.0);
                let res = self.resources(String::new(), company.clone(), company.clone(), "");
                let zipf_s = self.rng.gen_range(0.6..1.2);
                self.push_actor(Spec {
                    archetype: Archetype::Partner,
                    group: groups[fi],
                    key_kind: KeyKind::PartnerKey,
                    principal: format!("partner:{company}/{}", ["prod", "prod-eu", "batch"][i % 3]),
                    style: Style::Rest,
                    ops: ops.clone(),
                    zipf_s,
                    uas: vec![ua.clone()],
                    net: Net::Partner { asn, ips: ips.clone() },
                    home_city: city,
                    tz_min: c.tz_min,
                    daily,
                    burst_mean: 3.0,
                    burst_gap_ms: 1_500.0,
                    res,
                });
            }
        }
    }

    fn mobile(&mut self, n: usize) {
        let ios = self.new_group("app:shop-ios".into(), Archetype::Mobile);
        let android = self.new_group("app:shop-android".into(), Archetype::Mobile);
        const MARKETS: &[(&str, f64)] = &[
            ("US", 30.0),
            ("GB", 10.0),
            ("DE", 10.0),
            ("FR", 7.0),
            ("BR", 8.0),
            ("IN", 8.0),
            ("JP", 7.0),
            ("AU", 5.0),
            ("CA", 5.0),
            ("ES", 5.0),
            ("MX", 5.0),
        ];
        let total: f64 = MARKETS.iter().map(|m| m.1).sum();
        let ops = op_ids(catalogue::MOBILE_OPS);
        let release = self.cfg.start_ms + DAY_MS * i64::from(self.cfg.days / 3);
        for _ in 0..n {
            let mut x = self.rng.gen_range(0.0..total);
            let country = MARKETS.iter().find(|m| {
                x -= m.1;
                x < 0.0
            });
            let cities = cities_in(country.map_or("US", |m| m.0));
            let home_city = cities[self.rng.gen_range(0..cities.len())];
            let hc = &CITIES[usize::from(home_city)];
            let mut carriers: Vec<u32> =
                cities.iter().flat_map(|&c| CITIES[usize::from(c)].mobile.iter().copied()).collect();
            carriers.sort_unstable();
            carriers.dedup();
            carriers.shuffle(self.rng);
            carriers.truncate(self.rng.gen_range(1..=2));
            let is_ios = self.rng.gen_bool(0.45);
            let (g, ua_idx) =
                if is_ios { (ios, self.rng.gen_range(0..2)) } else { (android, self.rng.gen_range(2..5)) };
            let (before, after) = catalogue::MOBILE_UAS[ua_idx];
            let daily = lognormal(self.rng, 18.0, 1.0).clamp(2.0, 1_000.0);
            let user = self.rng.gen_range(10_000_000..99_999_999u64);
            let mut res = self.resources(String::new(), String::new(), user.to_string(), "");
            res.id_base = 100_000;
            res.id_span = 60_000;
            let home_isp = hc.isp[self.rng.gen_range(0..hc.isp.len())];
            let zipf_s = self.rng.gen_range(0.8..1.1);
            let v6 = self.rng.gen_bool(0.4);
            self.push_actor(Spec {
                archetype: Archetype::Mobile,
                group: g,
                key_kind: KeyKind::MobileToken,
                principal: format!("user:{user}"),
                style: Style::Rest,
                ops: ops.clone(),
                zipf_s,
                uas: vec![Arc::from(before)],
                net: Net::Mobile { cities, carriers, home_isp, v6 },
                home_city,
                tz_min: hc.tz_min,
                daily,
                burst_mean: 6.0,
                burst_gap_ms: 9_000.0,
                res,
            });
            // Staged app release: installs update over the days after the release date.
            let delay = (lognormal(self.rng, 2.0, 1.0) * DAY_MS as f64) as i64;
            if before != after {
                if let Some(a) = self.pop.actors.last_mut() {
                    a.ua_update = Some((release + delay, Arc::from(after)));
                }
            }
        }
    }
}

/// A VPN exit near `home`: a hosting network in the same country, else in the nearest city with one.
fn vpn_exit(home: u16, rng: &mut impl Rng) -> Option<(u16, u32)> {
    let h = &CITIES[usize::from(home)];
    let city = (0..CITIES.len() as u16).filter(|&c| !CITIES[usize::from(c)].hosting.is_empty()).min_by(|&x, &y| {
        let d = |c: u16| {
            let c = &CITIES[usize::from(c)];
            c.geo().distance_km(h.geo()) + if c.country == h.country { 0.0 } else { 5_000.0 }
        };
        d(x).total_cmp(&d(y))
    })?;
    let hosting = CITIES[usize::from(city)].hosting;
    Some((city, hosting[rng.gen_range(0..hosting.len())]))
}

fn world(rng: &mut impl Rng) -> World {
    let mut acct = || format!("{:012}", rng.gen_range(100_000_000_000u64..999_999_999_999));
    let accounts = [acct(), acct(), acct()];
    const HQS: &[&str] = &[
        "San Francisco",
        "New York",
        "London",
        "Berlin",
        "Amsterdam",
        "Toronto",
        "Sydney",
        "Stockholm",
        "Paris",
        "Singapore",
    ];
    let offices: Vec<u16> = HQS.choose_multiple(rng, 3).map(|c| city_index(c)).collect();
    let hq = &CITIES[usize::from(offices[0])];
    let regions = if hq.tz_min < -120 {
        [city_index("Ashburn"), city_index("Seattle")]
    } else if hq.tz_min <= 180 {
        [city_index(if rng.gen_bool(0.5) { "Dublin" } else { "Frankfurt" }), city_index("Ashburn")]
    } else {
        [city_index(if rng.gen_bool(0.5) { "Singapore" } else { "Tokyo" }), city_index("Sydney")]
    };
    World { accounts, offices, regions, hq_tz: hq.tz_min }
}

/// Builds the population for `cfg`.
pub(crate) fn build(cfg: &SimConfig, rng: &mut Pcg64Mcg) -> Population {
    let nets = Networks::allocate(rng);
    let world = world(rng);
    let pop = Population { actors: Vec::new(), groups: Vec::new(), nets, world };
    let mut b = Builder { cfg, rng, pop, used_names: Default::default() };
    let m = &cfg.mix;
    let weights = [m.services, m.humans, m.ci, m.partners, m.mobile].map(|w| w.max(0.0));
    let total: f64 = weights.iter().sum::<f64>().max(1e-9);
    let n = cfg.credentials as usize;
    let mut counts = weights.map(|w| (w / total * n as f64).floor() as usize);
    counts[0] += n - counts.iter().sum::<usize>();
    b.services(counts[0]);
    b.humans(counts[1]);
    b.ci(counts[2]);
    b.partners(counts[3]);
    b.mobile(counts[4]);
    // Some credentials are first issued mid-stream.
    let (start, end) = (cfg.start_ms, cfg.end_ms());
    if end - start > 2 * DAY_MS {
        for a in &mut b.pop.actors {
            if b.rng.gen_bool(cfg.created_mid_stream.clamp(0.0, 1.0)) {
                let created = b.rng.gen_range(start + DAY_MS / 2..end - DAY_MS);
                a.active = vec![(created, end)];
                a.created_ms = Some(created);
            }
        }
    }
    b.pop
}

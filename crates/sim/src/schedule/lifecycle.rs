//! Incidents and churn tied to a credential's lifecycle: dormancy, revocation, expiry, rotation.

use std::sync::Arc;

use credence_event::lifecycle::LifecycleAction;
use rand::seq::SliceRandom;
use rand::Rng;

use super::{attacker_ua, minutes, place_text, remote, spec, when, Ctx};
use crate::behaviour::{owner_origin, temp_key};
use crate::config::{DAY_MS, HOUR_MS, MINUTE_MS};
use crate::population::{new_key, KeyKind};
use crate::truth::ScenarioKind;

impl Ctx<'_> {
    /// `created` records for credentials first issued mid-stream.
    pub(super) fn created_records(&mut self) {
        for i in 0..self.pop.actors.len() {
            if let Some(t) = self.pop.actors[i].created_ms {
                let key = self.pop.actors[i].keys[0].1.clone();
                self.lifecycle(t, &key, LifecycleAction::Created, "issued", None);
            }
        }
    }

    /// A credential that goes silent on day 1–2 and is used again after the dormancy threshold.
    pub(super) fn dormant(&mut self, j: u32) {
        let kind = ScenarioKind::DormantReactivation;
        let sp = spec(kind);
        let (start, end) = (self.cfg.start_ms, self.cfg.end_ms());
        let prefer = sp.archs[j as usize % sp.archs.len()];
        let pick = |ctx: &mut Self, arch: Option<_>| {
            let mut c: Vec<usize> = (0..ctx.pop.actors.len())
                .filter(|&i| {
                    let a = &ctx.pop.actors[i];
                    ctx.eligible(a, &sp, arch) && a.active == [(start, end)]
                })
                .collect();
            c.shuffle(ctx.rng);
            c.first().copied()
        };
        let Some(v) = pick(self, Some(prefer)).or_else(|| pick(self, None)) else { return };
        let shape = self.cfg.attacks.clone();
        let dorm = (self.cfg.dormancy_days * DAY_MS as f64) as i64;
        let dur = minutes(self.rng, 10.0, 90.0);
        // A key created months before the period, first used in it.
        let created = shape.dormant_created_share > 0.0 && self.rng.gen_bool(shape.dormant_created_share.min(1.0));
        // Silent from day 1–2, earlier when the stream is too short for the threshold.
        let idle = shape.dormant_idle_days.map(|(lo, hi)| (self.rng.gen_range(lo..hi) * DAY_MS as f64) as i64);
        let latest = end - dur - 30 * MINUTE_MS - idle.unwrap_or(dorm) - 2 * HOUR_MS;
        let silent = (start + self.rng.gen_range(DAY_MS..2 * DAY_MS)).min(latest);
        if silent < start + 6 * HOUR_MS {
            return;
        }
        let hi = end - dur - 30 * MINUTE_MS - silent;
        let lo = (dorm + 3 * DAY_MS).min(hi - DAY_MS).max(dorm + 2 * HOUR_MS);
        let r = match idle {
            _ if created => self.rng.gen_range(self.lo..self.hi.max(self.lo + 1)),
            Some(idle) => silent + idle,
            None if hi < lo => return,
            None => silent + self.rng.gen_range(lo..=hi),
        };
        let a = &mut self.pop.actors[v];
        a.used = true;
        let silent = if created { start } else { silent };
        a.pause(silent, end);
        if created {
            let key = a.long_key_at(r).clone();
            let issued = start - (self.rng.gen_range(60.0..180.0) * DAY_MS as f64) as i64;
            self.lifecycle(issued, &key, LifecycleAction::Created, "issued", None);
        }
        let a = &mut self.pop.actors[v];
        let (key, home, style) = (a.long_key_at(r).clone(), a.home_city, a.style);
        let home_asn = owner_origin(a, &self.pop.groups[a.group as usize], &self.pop.nets, silent, self.rng).asn;
        let label = self.label(kind, r, r + dur, String::new());
        let mut s = self.script(kind, label, v, key.clone());
        let from = if self.rng.gen_bool(0.5) {
            let rem = remote(&self.pop.nets, home, home_asn, 1_500.0, self.rng.gen_bool(0.7), self.rng);
            let text = place_text(rem.city, rem.asn);
            s.remote = Some(rem);
            s.p_remote = 1.0;
            s.remote_ua = attacker_ua(style, self.rng);
            format!("from a new network, {text}")
        } else {
            "from its usual network".to_owned()
        };
        let n = self.rng.gen_range(5..=60);
        s.schedule_times(r, r + dur, n);
        self.plan.scripts.push(s);
        self.incidents.push((r, r + dur));
        self.label_victim(label, v, &[key], n);
        self.plan.labels[label as usize].detail = if created {
            format!("created months before the period and never used, then {n} requests {from}")
        } else {
            format!(
                "last used {}, idle {:.1} days (threshold {} days), then {n} requests {from}",
                when(silent),
                (r - silent) as f64 / DAY_MS as f64,
                self.cfg.dormancy_days
            )
        };
    }

    /// A key revoked (rotation or offboarding) and later used successfully, looking normal.
    pub(super) fn ghost(&mut self, j: u32, (a, b): (i64, i64), hist: i64) {
        let kind = ScenarioKind::GhostCredential;
        let end = self.cfg.end_ms();
        let b = b.min(end - 10 * HOUR_MS);
        if b <= a {
            return;
        }
        let Some((v, r)) = self.victim(kind, j, (a, b), hist, 2 * HOUR_MS) else { return };
        let act = &mut self.pop.actors[v];
        act.used = true;
        let old = act.long_key_at(r).clone();
        let offboard = act.archetype == crate::population::Archetype::Human && self.rng.gen_bool(0.4);
        let label = self.label(kind, r, r, String::new());
        let reason = if offboard {
            self.pop.actors[v].pause(r, end);
            "owner offboarded"
        } else {
            let created = r - minutes(self.rng, 10.0, 60.0);
            let switch = created + minutes(self.rng, 1.0, 10.0);
            let k2 = new_key(self.pop.actors[v].key_kind, self.rng);
            self.pop.actors[v].keys.push((switch, k2.clone()));
            self.lifecycle(created, &k2, LifecycleAction::Created, "key rotation", None);
            "superseded by rotation"
        };
        self.lifecycle(r, &old, LifecycleAction::Revoked, reason, Some(label));
        let use_at = r + self.rng.gen_range(3 * HOUR_MS..(end - r - 4 * HOUR_MS).clamp(3 * HOUR_MS + 1, 2 * DAY_MS));
        let dur = minutes(self.rng, 10.0, 180.0).min(end - use_at - 30 * MINUTE_MS);
        let daily = self.pop.actors[v].daily_events();
        let n = (daily / 24.0 * dur as f64 / HOUR_MS as f64 * 1.5).clamp(5.0, 150.0) as u32;
        let mut s = self.script(kind, label, v, old.clone());
        s.schedule_times(use_at, use_at + dur, n);
        self.plan.scripts.push(s);
        self.incidents.push((use_at, use_at + dur));
        self.label_victim(label, v, &[old], n);
        let l = &mut self.plan.labels[label as usize];
        l.start_ms = use_at;
        l.end_ms = use_at + dur;
        l.detail = format!(
            "revoked {} ({reason}), then {n} successful requests {:.1} h later from the usual network",
            when(r),
            (use_at - r) as f64 / HOUR_MS as f64
        );
    }

    /// A client hammering the API with an expired token.
    pub(super) fn expired_storm(&mut self, j: u32, stratum: (i64, i64)) {
        let kind = ScenarioKind::ExpiredTokenStorm;
        let dur = minutes(self.rng, 2.0, 10.0);
        let Some((v, e)) = self.victim(kind, j, stratum, DAY_MS, dur + 2 * HOUR_MS) else { return };
        let label = self.label(kind, e, e + dur, String::new());
        let act = &mut self.pop.actors[v];
        act.used = true;
        let (key, storm) = match act.key_kind {
            KeyKind::TempHourly => (act.key_at(e - HOUR_MS, 0), e),
            KeyKind::TempPerJob => (temp_key(act.key_seed, (1 << 41) | u64::from(j)), e),
            key_kind => {
                let old = act.long_key_at(e).clone();
                let storm = e + minutes(self.rng, 1.0, 20.0);
                let renew = storm + dur + minutes(self.rng, 5.0, 40.0);
                act.pause(e, renew);
                let k2 = new_key(key_kind, self.rng);
                self.pop.actors[v].keys.push((renew, k2.clone()));
                self.lifecycle(e, &old, LifecycleAction::Expired, "token reached its expiry", Some(label));
                self.lifecycle(renew, &k2, LifecycleAction::Created, "re-issued after expiry", None);
                (old, storm)
            }
        };
        let a = &self.pop.actors[v];
        let place = owner_origin(a, &self.pop.groups[a.group as usize], &self.pop.nets, storm, self.rng);
        let ops: Vec<_> = (0..self.rng.gen_range(1..=2)).map(|_| a.sample_op(storm, self.rng)).collect();
        let ua: Arc<str> = a.main_ua();
        let mut s = self.script(kind, label, v, key.clone());
        s.owner_place = Some(place);
        s.remote_ua = ua;
        s.ops = ops;
        s.p_special = 1.0;
        let n = self.rng.gen_range(40..=500);
        s.schedule_times(storm, storm + dur, n);
        self.plan.scripts.push(s);
        self.incidents.push((storm, storm + dur));
        self.label_victim(label, v, &[key], n);
        let l = &mut self.plan.labels[label as usize];
        l.start_ms = storm;
        l.end_ms = storm + dur;
        l.detail =
            format!("{n} retries failing 401 ExpiredToken within {:.0} min from {}", dur as f64 / 60_000.0, place.ip);
    }

    /// Benign scheduled rotations: a new key, then the old one marked rotated.
    pub(super) fn rotations(&mut self) {
        let (start, end) = (self.cfg.start_ms, self.cfg.end_ms());
        if end - start < 3 * DAY_MS {
            return;
        }
        for i in 0..self.pop.actors.len() {
            let a = &self.pop.actors[i];
            if a.used
                || a.key_kind.is_temporary()
                || a.key_kind == KeyKind::MobileToken
                || a.active != [(start, end)]
                || !self.rng.gen_bool(self.cfg.rotations.clamp(0.0, 1.0))
            {
                continue;
            }
            let t = self.rng.gen_range(start + DAY_MS..end - DAY_MS);
            let switch = t + minutes(self.rng, 1.0, 15.0);
            let k2 = new_key(a.key_kind, self.rng);
            let old = a.keys[0].1.clone();
            self.pop.actors[i].keys.push((switch, k2.clone()));
            self.lifecycle(t, &k2, LifecycleAction::Created, "scheduled rotation", None);
            self.lifecycle(switch + HOUR_MS, &old, LifecycleAction::Rotated, "scheduled rotation", None);
        }
    }
}

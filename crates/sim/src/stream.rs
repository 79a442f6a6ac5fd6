//! The simulator: a seeded, streaming iterator over the whole population's traffic.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp1};
use rand_pcg::{Pcg32, Pcg64Mcg};
use serde::Serialize;

use crate::behaviour::{
    mean_daily_weight, normal_outcome, owner_origin, render_path, sample_bytes, temp_key, PathArgs, Place,
};
use crate::catalogue::{self, OpId};
use crate::config::{SimConfig, HOUR_MS};
use crate::item::{SimEvent, SimItem, SimLifecycle};
use crate::population::{self, Actor, Archetype, KeyKind, Population};
use crate::schedule::{self, NewOp, Surge};
use crate::script::Script;
use crate::text::{mix64, record_uid, InlineStr};
use crate::truth::Truth;

/// Per-credential runtime state.
#[derive(Debug)]
struct ActorState {
    rng: Pcg32,
    /// Arrivals per ms at profile weight 1.
    rate_unit: f64,
    burst_left: u32,
    place: Place,
    ua: Arc<str>,
    job: u64,
    key_epoch: u64,
    key: Arc<str>,
    ci_step: usize,
    ci_rep: u8,
    /// Windows in which this credential's traffic carries a confounder label.
    windows: Vec<(i64, i64, u32)>,
}

/// Population statistics.
#[derive(Clone, Debug, Serialize)]
pub struct PopulationStats {
    /// Credential holders by archetype (initial population).
    pub by_archetype: BTreeMap<&'static str, usize>,
    /// Peer groups.
    pub peer_groups: usize,
    /// Distinct long-lived raw credential ids (rotations included), counting each temporary-key
    /// session once.
    pub raw_credentials: usize,
    /// Lifecycle records in the stream.
    pub lifecycle_records: usize,
    /// Expected ordinary events per day over the population (before incidents).
    pub expected_events_per_day: f64,
}

/// A seeded simulator of a labelled API access stream. Iterating yields [`SimItem`]s in
/// non-decreasing time order; memory is bounded by the population, not the stream's length.
/// Incidents and confounders are scheduled at construction, so [`Simulator::truth`] is complete
/// before the first item.
#[derive(Debug)]
pub struct Simulator {
    cfg: SimConfig,
    pop: Population,
    truth: Truth,
    states: Vec<ActorState>,
    scripts: Vec<Script>,
    lifecycle: Vec<SimLifecycle>,
    lc_next: usize,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    surges: Vec<Surge>,
    new_ops: Vec<NewOp>,
    seq: u64,
    uid_bits: u64,
    end: i64,
    docker_ua: Arc<str>,
}

fn next_arrival(a: &Actor, st: &mut ActorState, from: i64, end: i64, surges: &[Surge]) -> Option<i64> {
    if st.rate_unit <= 0.0 {
        return None;
    }
    let mut e: f64 = Exp1.sample(&mut st.rng);
    let mut t = from;
    let mut iv = 0;
    loop {
        if t >= end {
            return None;
        }
        while iv < a.active.len() && a.active[iv].1 <= t {
            iv += 1;
        }
        let &(x, y) = a.active.get(iv)?;
        if t < x {
            t = x;
            continue;
        }
        let seg_end = y.min((t.div_euclid(HOUR_MS) + 1) * HOUR_MS).min(end);
        let mut r = st.rate_unit * a.weight_at(t);
        for s in surges {
            if s.start <= t && t < s.end {
                r *= s.mult;
            }
        }
        if r > 0.0 {
            let need = e / r;
            if need < (seg_end - t) as f64 {
                return Some(t + need as i64);
            }
            e -= r * (seg_end - t) as f64;
        }
        t = seg_end;
    }
}

/// First step of a CI pipeline at or after `from` with a non-zero repeat count.
fn ci_next_step(a: &Actor, st: &mut ActorState, from: usize) -> bool {
    let steps = catalogue::PIPELINES[usize::from(a.pipeline)].steps;
    for (i, step) in steps.iter().enumerate().skip(from) {
        let reps = st.rng.gen_range(step.reps.0..=step.reps.1);
        if reps > 0 {
            st.ci_step = i;
            st.ci_rep = reps;
            return true;
        }
    }
    false
}

impl Simulator {
    /// Builds the population and schedules every scenario for `config`.
    pub fn new(config: SimConfig) -> Simulator {
        let mut rng = Pcg64Mcg::seed_from_u64(config.seed);
        let mut pop = population::build(&config, &mut rng);
        let plan = schedule::plan(&config, &mut pop, &mut rng);
        let truth = Truth {
            seed: config.seed,
            start_ms: config.start_ms,
            end_ms: config.end_ms(),
            dormancy_days: config.dormancy_days,
            labels: plan.labels,
        };
        let placeholder: Arc<str> = Arc::from("");
        let mut states: Vec<ActorState> = pop
            .actors
            .iter()
            .map(|a| ActorState {
                rng: Pcg32::seed_from_u64(rng.gen()),
                rate_unit: a.arrivals_per_day / mean_daily_weight(a.archetype) / HOUR_MS as f64,
                burst_left: 0,
                place: Place { city: a.home_city, asn: 0, ip: std::net::IpAddr::from([0, 0, 0, 0]) },
                ua: placeholder.clone(),
                job: 0,
                key_epoch: u64::MAX,
                key: placeholder.clone(),
                ci_step: 0,
                ci_rep: 0,
                windows: Vec::new(),
            })
            .collect();
        for &(actor, a, b, label) in &plan.actor_windows {
            states[actor as usize].windows.push((a, b, label));
        }
        let end = config.end_ms();
        let mut heap = BinaryHeap::with_capacity(states.len() + plan.scripts.len() + 1);
        for (i, (a, st)) in pop.actors.iter().zip(states.iter_mut()).enumerate() {
            if let Some(t) = next_arrival(a, st, config.start_ms, end, &plan.surges) {
                heap.push(Reverse((t, i as u32)));
            }
        }
        let base = pop.actors.len() as u32;
        for (k, s) in plan.scripts.iter().enumerate() {
            if let Some(t) = s.next.filter(|&t| t < end) {
                heap.push(Reverse((t, base + k as u32)));
            }
        }
        let lc_src = base + plan.scripts.len() as u32;
        if let Some(first) = plan.lifecycle.first() {
            heap.push(Reverse((first.time_ms, lc_src)));
        }
        Simulator {
            uid_bits: mix64(config.seed ^ 0x5eed_u64),
            cfg: config,
            pop,
            truth,
            states,
            scripts: plan.scripts,
            lifecycle: plan.lifecycle,
            lc_next: 0,
            heap,
            surges: plan.surges,
            new_ops: plan.new_ops,
            seq: 0,
            end,
            docker_ua: Arc::from(catalogue::DOCKER_UA),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The ground truth: every incident and confounder, complete from construction.
    pub fn truth(&self) -> &Truth {
        &self.truth
    }

    /// Distinct long-lived raw credential ids (rotations and re-issues included); each
    /// temporary-key session counts once.
    pub fn raw_credential_count(&self) -> usize {
        self.pop.actors.iter().map(|a| if a.key_kind.is_temporary() { 1 } else { a.keys.len() }).sum()
    }

    /// Population statistics.
    pub fn stats(&self) -> PopulationStats {
        let mut by_archetype = BTreeMap::new();
        for a in &self.pop.actors {
            *by_archetype.entry(a.archetype.as_str()).or_insert(0) += 1;
        }
        PopulationStats {
            by_archetype,
            peer_groups: self.pop.groups.len(),
            raw_credentials: self.raw_credential_count(),
            lifecycle_records: self.lifecycle.len(),
            expected_events_per_day: self.pop.actors.iter().map(Actor::daily_events).sum(),
        }
    }

    /// Events produced so far.
    pub fn events_emitted(&self) -> u64 {
        self.seq
    }

    fn label_for(&self, st: &ActorState, op: OpId, t: i64) -> Option<u32> {
        st.windows
            .iter()
            .find(|w| w.0 <= t && t < w.1)
            .map(|w| w.2)
            .or_else(|| self.new_ops.iter().find(|n| n.op == op && n.start <= t && t < n.end).map(|n| n.label))
            .or_else(|| self.surges.iter().find(|s| s.start <= t && t < s.end).map(|s| s.label))
    }

    fn actor_event(&mut self, i: usize, t: i64) -> SimEvent {
        let a = &self.pop.actors[i];
        let st = &mut self.states[i];
        let ci = a.archetype == Archetype::Ci;
        if st.burst_left == 0 {
            st.job += 1;
            st.place = owner_origin(a, &self.pop.groups[a.group as usize], &self.pop.nets, t, &mut st.rng);
            st.ua = a.sample_ua(t, &mut st.rng);
            st.burst_left = if ci {
                ci_next_step(a, st, 0);
                u32::MAX
            } else {
                let p = 1.0 / a.burst_mean.max(1.0);
                let u: f64 = st.rng.gen::<f64>().max(1e-12);
                if p >= 1.0 {
                    1
                } else {
                    1 + (u.ln() / (1.0 - p).ln()).min(1e4) as u32
                }
            };
            if a.key_kind == KeyKind::TempPerJob {
                st.key = temp_key(a.key_seed, st.job);
            }
        }
        let (op, gap_ms, docker) = if ci {
            let step = &catalogue::PIPELINES[usize::from(a.pipeline)].steps[st.ci_step];
            (a.ops[st.ci_step], f64::from(step.gap_ms) * st.rng.gen_range(0.6..1.4), step.docker)
        } else {
            (a.sample_op(t, &mut st.rng), a.burst_gap_ms * Distribution::<f64>::sample(&Exp1, &mut st.rng), false)
        };
        let key = match a.key_kind {
            KeyKind::TempHourly => {
                let epoch = ((t + a.temp_phase) / HOUR_MS) as u64;
                if st.key_epoch != epoch {
                    st.key_epoch = epoch;
                    st.key = a.key_at(t, 0);
                }
                st.key.clone()
            }
            KeyKind::TempPerJob => st.key.clone(),
            _ => a.long_key_at(t).clone(),
        };
        let o = catalogue::op(op);
        let (status, error) = normal_outcome(o, &mut st.rng);
        let bytes = sample_bytes(o, a.bytes_scale, status, &mut st.rng);
        let path = render_path(o, a, t, PathArgs::default(), &mut st.rng);
        let ua = if docker { self.docker_ua.clone() } else { st.ua.clone() };
        let place = st.place;
        // Advance the burst and schedule the next request.
        if ci {
            st.ci_rep -= 1;
            if st.ci_rep == 0 && !ci_next_step(a, st, st.ci_step + 1) {
                st.burst_left = 0;
            }
        } else {
            st.burst_left -= 1;
        }
        let mut next = None;
        if st.burst_left > 0 {
            let t2 = t + gap_ms as i64;
            if t2 < self.end && a.active_at(t2) {
                next = Some(t2);
            } else {
                st.burst_left = 0;
            }
        }
        if next.is_none() {
            next = next_arrival(a, st, t, self.end, &self.surges);
        }
        let label = self.label_for(&self.states[i], op, t);
        if let Some(n) = next {
            self.heap.push(Reverse((n, i as u32)));
        }
        self.make_event(i, t, key, op, path, status, error, bytes, place, ua, label)
    }

    #[allow(clippy::too_many_arguments)]
    fn make_event(
        &mut self,
        actor: usize,
        t: i64,
        credential: Arc<str>,
        op: OpId,
        path: InlineStr<96>,
        status: u16,
        error: Option<&'static str>,
        bytes_out: u64,
        place: Place,
        user_agent: Arc<str>,
        label: Option<u32>,
    ) -> SimEvent {
        let a = &self.pop.actors[actor];
        let uid = record_uid(self.uid_bits, self.seq);
        self.seq += 1;
        SimEvent {
            time_ms: t,
            uid,
            credential,
            principal: a.principal.clone(),
            issuer: a.issuer.clone(),
            op,
            path,
            status,
            error,
            bytes_out,
            ip: place.ip,
            asn: place.asn,
            city: place.city,
            user_agent,
            label,
            actor: actor as u32,
        }
    }
}

impl Iterator for Simulator {
    type Item = SimItem;

    fn next(&mut self) -> Option<SimItem> {
        let Reverse((t, src)) = self.heap.pop()?;
        let n_actors = self.pop.actors.len();
        let src = src as usize;
        if src < n_actors {
            return Some(SimItem::Event(self.actor_event(src, t)));
        }
        let k = src - n_actors;
        if k < self.scripts.len() {
            let d = self.scripts[k].emit(&self.pop, t);
            if let Some(n) = self.scripts[k].next.filter(|&n| n < self.end) {
                self.heap.push(Reverse((n.max(t), src as u32)));
            }
            let actor = self.scripts[k].actor as usize;
            let ev = self.make_event(actor, t, d.key, d.op, d.path, d.status, d.error, d.bytes, d.place, d.ua, d.label);
            return Some(SimItem::Event(ev));
        }
        let rec = self.lifecycle[self.lc_next].clone();
        self.lc_next += 1;
        if let Some(next) = self.lifecycle.get(self.lc_next) {
            self.heap.push(Reverse((next.time_ms.max(t), src as u32)));
        }
        Some(SimItem::Lifecycle(rec))
    }
}

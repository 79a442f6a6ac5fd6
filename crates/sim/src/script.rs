//! Injected incident traffic: each incident is a small script that emits its own events on top of
//! the victim's ordinary traffic, lazily and in time order.

use std::net::IpAddr;
use std::sync::Arc;

use rand::Rng;
use rand_pcg::Pcg32;

use crate::behaviour::{normal_outcome, owner_origin, render_path, sample_bytes, PathArgs, Place};
use crate::catalogue::{self, OpId};
use crate::population::Population;
use crate::text::InlineStr;
use crate::truth::ScenarioKind;

/// The attacker's (or second user's) network.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    pub city: u16,
    pub asn: u32,
    pub ips: Vec<IpAddr>,
}

/// A pre-planned call: used where order matters (privilege escalation, enumeration sweeps).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Planned {
    pub op: OpId,
    pub status: u16,
    pub error: Option<&'static str>,
    pub id: Option<u64>,
}

/// What one scripted request looks like, before it becomes a [`crate::SimEvent`].
#[derive(Debug)]
pub(crate) struct Draft {
    pub op: OpId,
    pub status: u16,
    pub error: Option<&'static str>,
    pub bytes: u64,
    pub place: Place,
    pub ua: Arc<str>,
    pub key: Arc<str>,
    pub path: InlineStr<96>,
    pub label: Option<u32>,
}

/// One incident's event generator.
#[derive(Debug)]
pub(crate) struct Script {
    pub kind: ScenarioKind,
    pub label: u32,
    pub actor: u32,
    pub rng: Pcg32,
    /// An ordinary, unlabelled use by the owner emitted first (the impossible-travel anchor).
    pub anchor: Option<i64>,
    /// Start of the labelled window once the anchor is out.
    pub anchor_window: Option<i64>,
    /// Time of the next event (`None` when done).
    pub next: Option<i64>,
    pub end: i64,
    pub left: u32,
    pub key: Arc<str>,
    pub remote: Option<Remote>,
    /// Probability that an event comes from the remote network rather than the owner's.
    pub p_remote: f32,
    pub remote_ua: Arc<str>,
    /// A single owner-side origin for the whole incident (a compromised host, one stuck client).
    pub owner_place: Option<Place>,
    pub plan: Vec<Planned>,
    /// Kind-specific operations and how often they are used instead of the victim's own.
    pub ops: Vec<OpId>,
    pub p_special: f32,
    pub p_deny: f32,
    pub bytes_mult: (f32, f32),
    pub user: Option<Box<str>>,
    pub emitted: u32,
}

impl Script {
    /// Plans `n` events uniformly in `[start, end)`.
    pub(crate) fn schedule_times(&mut self, start: i64, end: i64, n: u32) {
        self.end = end;
        self.left = n;
        self.next = None;
        if self.anchor.is_some() {
            // The anchor goes first; the remote window follows.
            self.next = self.anchor;
            self.anchor_window = Some(start);
        } else {
            self.advance(start);
        }
    }

    fn advance(&mut self, from: i64) {
        if self.left == 0 {
            self.next = None;
            return;
        }
        // Next of `left` uniform order statistics on [from, end).
        let u: f64 = self.rng.gen::<f64>().max(1e-12);
        let span = (self.end - from).max(0) as f64;
        let step = span * (1.0 - u.powf(1.0 / f64::from(self.left)));
        self.next = Some(from + step as i64);
    }

    fn remote_place(&mut self) -> Option<Place> {
        let r = self.remote.as_ref()?;
        let ip = r.ips[self.rng.gen_range(0..r.ips.len())];
        Some(Place { city: r.city, asn: r.asn, ip })
    }

    /// Produces the event at `self.next` and schedules the one after.
    pub(crate) fn emit(&mut self, pop: &Population, t: i64) -> Draft {
        let a = &pop.actors[self.actor as usize];
        let group = &pop.groups[a.group as usize];
        if let Some(anchor) = self.anchor.take() {
            // The owner's own request just before the remote one.
            let op = a.sample_op(anchor, &mut self.rng);
            let (status, error) = normal_outcome(catalogue::op(op), &mut self.rng);
            let place = owner_origin(a, group, &pop.nets, anchor, &mut self.rng);
            let start = self.anchor_window.take().unwrap_or(anchor);
            self.advance(start);
            return Draft {
                op,
                status,
                error,
                bytes: sample_bytes(catalogue::op(op), a.bytes_scale, status, &mut self.rng),
                place,
                ua: a.main_ua(),
                key: a.key_at(anchor, 0),
                path: render_path(catalogue::op(op), a, t, PathArgs::default(), &mut self.rng),
                label: None,
            };
        }
        let i = self.emitted;
        self.emitted += 1;
        self.left = self.left.saturating_sub(1);
        let remote = self.remote.is_some() && self.rng.gen::<f32>() < self.p_remote;
        let place = if remote { self.remote_place() } else { self.owner_place }
            .unwrap_or_else(|| owner_origin(a, group, &pop.nets, t, &mut self.rng));
        let ua = if remote { self.remote_ua.clone() } else { a.sample_ua(t, &mut self.rng) };
        let mut args = PathArgs::default();
        let (op, status, error) = if let Some(p) = self.plan.get(i as usize).copied() {
            args.id = p.id;
            (p.op, p.status, p.error)
        } else if !self.ops.is_empty() && self.rng.gen::<f32>() < self.p_special {
            let op = self.ops[self.rng.gen_range(0..self.ops.len())];
            if self.rng.gen::<f32>() < self.p_deny {
                (op, 403, Some("AccessDenied"))
            } else {
                let (s, e) = normal_outcome(catalogue::op(op), &mut self.rng);
                (op, s, e)
            }
        } else {
            let op = a.sample_op(t, &mut self.rng);
            let (s, e) = normal_outcome(catalogue::op(op), &mut self.rng);
            (op, s, e)
        };
        let (status, error) = match self.kind {
            ScenarioKind::ExpiredTokenStorm => (401, Some("ExpiredToken")),
            ScenarioKind::RateBurst if self.rng.gen_bool(0.08) => (
                429,
                Some(if catalogue::op(op).style == catalogue::Style::Aws {
                    "ThrottlingException"
                } else {
                    "TooManyRequests"
                }),
            ),
            _ => (status, error),
        };
        let mut bytes = sample_bytes(catalogue::op(op), a.bytes_scale, status, &mut self.rng);
        if status < 400 && self.bytes_mult.1 > 1.0 {
            bytes = (bytes as f64 * f64::from(self.rng.gen_range(self.bytes_mult.0..self.bytes_mult.1))) as u64;
        }
        args.user = self.user.as_deref();
        let path = render_path(catalogue::op(op), a, t, args, &mut self.rng);
        self.advance(t);
        Draft { op, status, error, bytes, place, ua, key: self.key.clone(), path, label: Some(self.label) }
    }
}

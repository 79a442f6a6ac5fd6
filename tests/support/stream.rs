//! Test streams whose every message leaves a trace the test can look for: a use of a revoked
//! credential raises a ghost-credential finding of its own (deterministic uid, the event id in
//! its related events), and an undecodable message lands on the dead-letter topic with its
//! partition and offset. Ordinary traffic in between raises nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use credence_event::lifecycle::{LifecycleAction, LifecycleRecord};
use credence_event::ocsf::ApiActivity;

use super::io::Msg;

/// `inputs.max_message_bytes` of the test daemons.
pub const MAX_MESSAGE_BYTES: usize = 8192;
/// Event time of the first event: 2026-03-02T00:00:00Z.
pub const T0: i64 = 1_772_409_600_000;

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Ordinary use of a known credential.
    Normal,
    /// Use of a revoked credential: one finding.
    Ghost,
    /// Undecodable, with the error type expected on its dead letter.
    Poison(&'static str),
}

/// One input message, and where it landed once produced.
#[derive(Debug, Clone)]
pub struct Item {
    pub key: String,
    pub payload: Vec<u8>,
    pub kind: Kind,
    /// `metadata.uid` of the event (empty for poison).
    pub event_uid: String,
    pub partition: i32,
    pub offset: i64,
}

impl Item {
    pub fn raw(key: &str, payload: Vec<u8>) -> Item {
        Item { key: key.into(), payload, kind: Kind::Normal, event_uid: String::new(), partition: -1, offset: -1 }
    }
}

/// A stream and the lifecycle records it relies on.
#[derive(Debug, Clone)]
pub struct Stream {
    pub items: Vec<Item>,
    pub lifecycle: Vec<String>,
}

fn event(n: usize, credential: &str, user: &str, ip: IpAddr, operation: &str) -> Vec<u8> {
    let uid = format!("evt-{n}");
    let path = format!("/v1/{operation}");
    let a = ApiActivity {
        time_ms: T0 + n as i64 * 1000,
        uid: &uid,
        credential_uid: credential,
        user_uid: user,
        issuer: Some("orders-service"),
        operation,
        service: "orders",
        http_method: "GET",
        path: &path,
        status: 200,
        error: None,
        bytes_out: 512,
        ip,
        asn: Some(16509),
        country: Some("US"),
        city: Some("Ashburn"),
        geo: None,
        user_agent: "orders-client/1.4",
    };
    serde_json::to_vec(&a).expect("serialise")
}

fn poison(n: usize) -> (Vec<u8>, &'static str) {
    match n % 5 {
        0 => (format!("not json {n}").into_bytes(), "invalid_json"),
        1 => {
            let mut b = format!("{{\"class_uid\":6003,\"n\":{n},\"x\":\"").into_bytes();
            b.extend_from_slice(&[0xff, 0xfe, 0xfd]);
            b.extend_from_slice(b"\"}");
            (b, "invalid_utf8")
        }
        2 => (format!("{{\"class_uid\":6003,\"n\":{n}}}").into_bytes(), "missing_field"),
        3 => (format!("{{\"class_uid\":4001,\"time\":{n}}}").into_bytes(), "wrong_format"),
        _ => {
            let pad = "x".repeat(MAX_MESSAGE_BYTES + 100);
            (format!("{{\"class_uid\":6003,\"n\":{n},\"pad\":\"{pad}\"}}").into_bytes(), "oversized")
        }
    }
}

/// `n` messages: every `ghost_every`-th a ghost use, every `poison_every`-th (0: none) poison,
/// the rest ordinary traffic of 20 credentials, each from its own address. With `ghost_every`
/// 1 and no poison, every message is a ghost use.
pub fn build(tag: &str, n: usize, ghost_every: usize, poison_every: usize) -> Stream {
    let mut items = Vec::with_capacity(n);
    let mut lifecycle = Vec::new();
    for i in 0..n {
        if poison_every > 0 && i % poison_every == poison_every - 1 {
            let (payload, error_type) = poison(i);
            items.push(Item {
                key: format!("poison-{i}"),
                payload,
                kind: Kind::Poison(error_type),
                event_uid: String::new(),
                partition: -1,
                offset: -1,
            });
        } else if ghost_every > 0 && i % ghost_every == 0 {
            let credential = format!("ghost-{tag}-{i}");
            let record = LifecycleRecord {
                time: T0 - 3_600_000,
                credential_uid: &credential,
                action: LifecycleAction::Revoked,
                reason: "leaked",
            };
            lifecycle.push(serde_json::to_string(&record).expect("serialise"));
            let ip = IpAddr::V4(Ipv4Addr::new(198, 51, (i / 250 % 250) as u8, (i % 250) as u8 + 1));
            items.push(Item {
                key: credential.clone(),
                payload: event(i, &credential, &format!("svc-{i}"), ip, "orders"),
                kind: Kind::Ghost,
                event_uid: format!("evt-{i}"),
                partition: -1,
                offset: -1,
            });
        } else {
            let c = i % 20;
            let credential = format!("key-{tag}-{c}");
            let ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, c as u8 + 1));
            let op = ["orders", "items", "carts"][i % 3];
            items.push(Item {
                key: credential.clone(),
                payload: event(i, &credential, &format!("svc-{c}"), ip, op),
                kind: Kind::Normal,
                event_uid: format!("evt-{i}"),
                partition: -1,
                offset: -1,
            });
        }
    }
    Stream { items, lifecycle }
}

/// The event ids named in findings' related events, by finding.
pub fn related_events(alerts: &[Msg]) -> BTreeSet<String> {
    alerts
        .iter()
        .flat_map(|m| {
            let v = m.json();
            v["finding_info"]["related_events"]
                .as_array()
                .map(|a| a.iter().filter_map(|e| e["uid"].as_str().map(str::to_string)).collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect()
}

/// Dead letters by origin `(partition, offset)`.
pub fn dead_letters(dlq: &[Msg]) -> BTreeMap<(i32, i64), Msg> {
    dlq.iter()
        .map(|m| {
            let p = m.header("credence.source.partition").parse().expect("partition header");
            let o = m.header("credence.source.offset").parse().expect("offset header");
            ((p, o), m.clone())
        })
        .collect()
}

/// Checks that every item left its trace (a ghost finding, a dead letter), counting only items
/// below `upto` (per partition) when given. Returns the number checked, or what is missing.
pub fn check_traces(items: &[Item], alerts: &[Msg], dlq: &[Msg], upto: Option<&BTreeMap<i32, i64>>) -> usize {
    let related = related_events(alerts);
    let dead = dead_letters(dlq);
    let mut missing = Vec::new();
    let mut checked = 0;
    for item in items {
        if let Some(limits) = upto {
            if item.offset >= limits.get(&item.partition).copied().unwrap_or(0) {
                continue;
            }
        }
        match &item.kind {
            Kind::Normal => continue,
            Kind::Ghost if related.contains(&item.event_uid) => {}
            Kind::Poison(t)
                if dead.get(&(item.partition, item.offset)).is_some_and(|m| m.header("credence.error_type") == *t) => {}
            _ => missing.push(format!("{:?} {} at {}/{}", item.kind, item.event_uid, item.partition, item.offset)),
        }
        checked += 1;
    }
    assert!(
        missing.is_empty(),
        "{} of {checked} messages left no trace, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    checked
}

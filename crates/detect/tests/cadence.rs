//! Issue 19: judged against each credential's own cadence. Dormancy relative to the credential's
//! own silences; request counts and response volume of sparse credentials over an hour against
//! their own hourly rate and busiest hours; weak signals that corroborate one another.

use credence_detect::{DetectConfig, Detector, Engine, KeySpace, LearnPolicy, Verdict};
use credence_event::lifecycle::{LifecycleAction, LifecycleEvent};
use credence_event::{Event, Pseudonym, Pseudonymizer};

/// 2026-03-02T00:00:00Z, a Monday.
const T0: i64 = 1_772_409_600_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

fn engine() -> Engine {
    Engine::new(DetectConfig::default(), KeySpace::new([19; 16]))
}

fn key(name: &str) -> Pseudonym {
    Pseudonymizer::insecure_demo().credential(name)
}

fn event(t: i64, k: Pseudonym, op: &'static str, bytes: u64) -> Event<'static> {
    let mut e = Event::new(t, k, op);
    e.origin.ip = Some("198.51.100.7".parse().unwrap());
    e.user_agent = Some("orders-sync/2.1 python-requests/2.31".into());
    e.bytes_out = Some(bytes);
    e
}

fn fired(v: &Verdict, d: Detector) -> bool {
    v.signals.iter().any(|s| s.detector == d)
}

/// Deterministic jitter in `0..n`.
fn jitter(i: i64, n: i64) -> i64 {
    (i * 7_919 + 13) % n
}

/// A key used every day from 08:00 to 18:00, a request every twenty minutes, for `days`: returns
/// whether any of it raised `d`.
fn daily(e: &mut Engine, k: Pseudonym, days: i64, d: Detector) -> bool {
    let mut any = false;
    for day in 0..days {
        for i in 0..30 {
            let t = T0 + day * DAY + 8 * HOUR + i * 20 * MINUTE + jitter(day * 30 + i, 60_000);
            any |= fired(&e.process(&event(t, k, "GET /v1/orders/{id}", 2_000), LearnPolicy::Default), d);
        }
    }
    any
}

#[test]
fn a_daily_key_silent_for_six_days_is_dormant_for_that_key() {
    let mut e = engine();
    let k = key("daily");
    assert!(!daily(&mut e, k, 21, Detector::DormantReactivation), "its nights and weekends are not dormancy");
    let back = T0 + 20 * DAY + 17 * HOUR + 6 * DAY;
    let v = e.process(&event(back, k, "GET /v1/orders/{id}", 2_000), LearnPolicy::Default);
    assert!(fired(&v, Detector::DormantReactivation), "{v:?}");
    assert!(v.is_alert(), "{v:?}");
}

#[test]
fn a_key_that_runs_weekly_is_not_dormant_when_it_runs_again() {
    let mut e = engine();
    let k = key("weekly");
    let run = |e: &mut Engine, week: i64| {
        (0..30).any(|i| {
            let t = T0 + week * 7 * DAY + 2 * HOUR + i * MINUTE;
            fired(
                &e.process(&event(t, k, "GET /v1/reports", 50_000), LearnPolicy::Default),
                Detector::DormantReactivation,
            )
        })
    };
    for week in 0..10 {
        run(&mut e, week);
    }
    assert!(!run(&mut e, 10), "a weekly job after a week's silence is its usual way");
    // Four weeks of silence is not its usual way.
    assert!(run(&mut e, 14), "a month's silence for a weekly job");
}

#[test]
fn a_key_created_months_ago_and_first_used_now_is_a_dormant_key_waking() {
    let mut e = engine();
    let (old, fresh) = (key("provisioned-long-ago"), key("provisioned-today"));
    let created = |e: &mut Engine, k, t| {
        e.apply_lifecycle(&LifecycleEvent { time_ms: t, credential: k, action: LifecycleAction::Created, reason: None })
    };
    created(&mut e, old, T0 - 120 * DAY);
    created(&mut e, fresh, T0 - HOUR);
    let v = e.process(&event(T0, old, "GET /v1/customers/{id}", 2_000), LearnPolicy::Default);
    assert!(fired(&v, Detector::DormantReactivation), "{v:?}");
    let s = v.signals.iter().find(|s| s.detector == Detector::DormantReactivation).unwrap();
    assert!(s.observed.contains("120 days after the credential was created"), "{}", s.observed);
    let v = e.process(&event(T0, fresh, "GET /v1/customers/{id}", 2_000), LearnPolicy::Default);
    assert!(!fired(&v, Detector::DormantReactivation), "{v:?}");
}

/// A partner key making about five calls an hour around the clock for ten days (with the odd
/// busier hour), then `surge` calls spread over `minutes` minutes. Returns the detectors raised by
/// the surge, and whether the history raised any rate burst or exfiltration.
fn sparse(surge: i64, minutes: i64, surge_bytes: u64) -> (Vec<Detector>, bool) {
    let mut e = engine();
    let k = key("sparse");
    let mut noisy = false;
    let mut t = T0;
    let end = T0 + 10 * DAY;
    let mut i = 0;
    while t < end {
        // Every fifth hour or so a dozen calls, else five.
        let gap = if jitter(i, 23) == 0 { 2 * MINUTE } else { 12 * MINUTE };
        t += gap + jitter(i, 60_000);
        let v = e.process(&event(t, k, "GET /v1/orders/{id}", 2_000 + jitter(i, 500) as u64), LearnPolicy::Default);
        noisy |= fired(&v, Detector::RateBurst) || fired(&v, Detector::Exfiltration);
        i += 1;
    }
    let mut raised = Vec::new();
    for j in 0..surge {
        let v = e.process(
            &event(end + j * minutes * MINUTE / surge, k, "GET /v1/orders/{id}", surge_bytes),
            LearnPolicy::Default,
        );
        raised.extend(v.signals.iter().map(|s| s.detector));
    }
    (raised, noisy)
}

#[test]
fn a_sparse_credentials_surge_is_seen_over_the_hour() {
    // 150 calls in an hour: 30 times its rate, 25 in any ten minutes (under the ten-minute floor).
    let (raised, noisy) = sparse(150, 60, 2_000);
    assert!(!noisy, "its routine raised a burst");
    assert!(raised.contains(&Detector::RateBurst), "{raised:?}");
    // Its own busier hours are not a surge.
    let (raised, _) = sparse(20, 60, 2_000);
    assert!(!raised.contains(&Detector::RateBurst), "{raised:?}");
}

#[test]
fn bulk_reads_of_a_sparse_credential_are_seen_over_the_hour() {
    // Ten reads of 1.5 MB over two hours (750 times its usual response; under 5 MB in any ten
    // minutes, the short window's floor).
    let (raised, _) = sparse(10, 120, 1_500_000);
    assert!(raised.contains(&Detector::Exfiltration), "{raised:?}");
}

/// Weak signals of different detectors on one credential within the hour corroborate each other
/// into an alert; the same signals alone do not alert.
#[test]
fn weak_signals_of_one_session_corroborate_one_another() {
    // A person's working hours, 09:00–17:00 on weekdays, for three weeks.
    let person = |k| {
        let mut e = engine();
        for day in 0..21 {
            if day % 7 >= 5 {
                continue;
            }
            for i in 0..24 {
                let t = T0 + day * DAY + 9 * HOUR + i * 20 * MINUTE + jitter(day * 24 + i, 60_000);
                e.process(&event(t, k, "GET /v1/orders/{id}", 2_000), LearnPolicy::Default);
            }
        }
        e
    };
    let k = key("person");
    let night = T0 + 22 * DAY + 3 * HOUR;
    let new_client = |t| {
        let mut ev = event(t, k, "GET /v1/orders/{id}", 2_000);
        ev.user_agent = Some("curl/8.5.0".into());
        ev
    };
    // The first deletion this person ever makes, from a network of their own they rarely use.
    let deletion = |t| {
        let mut ev = new_client(t);
        ev.operation = "DELETE /v1/orders/{id}".into();
        ev.http_method = Some("DELETE".into());
        ev.origin.ip = Some("203.0.113.50".parse().unwrap());
        ev
    };
    // Alone: a new client at night; the deletion in working hours.
    let v = person(k).process(&new_client(night), LearnPolicy::Default);
    assert!(fired(&v, Detector::UnusualHour) && fired(&v, Detector::NewClient) && !v.is_alert(), "{v:?}");
    let mut e = person(k);
    e.process(&new_client(T0 + 22 * DAY + 10 * HOUR), LearnPolicy::Default);
    let v = e.process(&deletion(T0 + 22 * DAY + 10 * HOUR + 10 * MINUTE), LearnPolicy::Default);
    assert!(fired(&v, Detector::NewOperation) && !v.is_alert(), "{v:?}");
    // Together, ten minutes apart at night: the deletion carries the new client and the hour.
    let mut e = person(k);
    e.process(&new_client(night), LearnPolicy::Default);
    let v = e.process(&deletion(night + 10 * MINUTE), LearnPolicy::Default);
    assert!(v.is_alert(), "corroborated: {v:?}");
    assert!(fired(&v, Detector::NewClient) && fired(&v, Detector::NewOperation), "{v:?}");
    // Hours later, the first no longer counts.
    let mut e = person(k);
    e.process(&new_client(night), LearnPolicy::Default);
    let v = e.process(&deletion(night + 3 * HOUR), LearnPolicy::Default);
    assert!(!fired(&v, Detector::NewClient), "{v:?}");
}

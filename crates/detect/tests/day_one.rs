//! The day-one layer (`Detector::RiskyOperation`): a risky operation raises at the catalogue's
//! severity the first time a credential makes it, with no baseline needed; a credential (or its
//! role) that makes it routinely is judged by its history instead.

use credence_detect::{
    Catalogue, DetectConfig, Detector, Engine, KeySpace, LearnPolicy, Severity, Signal, Tactic, Verdict,
};
use credence_event::{Event, Outcome, Pseudonym, Pseudonymizer, RequestFacts};

const T0: i64 = 1_772_409_600_000;
const MINUTE: i64 = 60_000;
const DAY: i64 = 1_440 * MINUTE;

fn engine() -> Engine {
    Engine::new(DetectConfig::default(), KeySpace::new([9; 16]))
}

fn call<'a>(t: i64, credential: Pseudonym, service: &'a str, op: &'a str) -> Event<'a> {
    let mut e = Event::new(t, credential, op);
    e.service = Some(service.into());
    e.peer_group = Some("team".into());
    e.origin.ip = Some("198.51.100.7".parse().unwrap());
    e.user_agent = Some("aws-cli/2.15.30".into());
    e
}

fn risky(v: &Verdict) -> Option<&Signal> {
    v.signals.iter().find(|s| s.detector == Detector::RiskyOperation)
}

/// `days` of routine for `credential`: a call every ten minutes in working hours, cycling
/// through `ops` (service, operation). After the first day, nothing of it is news.
fn routine(engine: &mut Engine, credential: Pseudonym, ops: &[(&str, &str)], days: i64) -> i64 {
    let mut n = 0;
    for d in 0..days {
        for i in 0..48 {
            let (svc, op) = ops[n % ops.len()];
            let v = engine.process(
                &call(T0 + d * DAY + 9 * 60 * MINUTE + i * 10 * MINUTE, credential, svc, op),
                LearnPolicy::Default,
            );
            assert!(d == 0 || risky(&v).is_none(), "day {d}: routine {op} raised {:?}", risky(&v));
            n += 1;
        }
    }
    T0 + days * DAY + 9 * 60 * MINUTE
}

#[test]
fn a_new_credentials_first_stop_logging_is_critical_and_its_second_is_not_new() {
    let mut e = engine();
    let k = Pseudonymizer::insecure_demo().credential("AKIANEW");
    let v = e.process(&call(T0, k, "cloudtrail.amazonaws.com", "StopLogging"), LearnPolicy::Default);
    assert_eq!(v.severity, Some(Severity::Critical), "{v:?}");
    let s = risky(&v).expect("raised on the first call, with no history");
    let a = s.attack.as_ref().unwrap();
    assert_eq!((a.tactic, a.technique.as_str()), (Tactic::DefenseEvasion, "T1562.008"));
    assert!(
        s.observed.starts_with("StopLogging (cloudtrail.amazonaws.com): defense evasion, T1562.008"),
        "{}",
        s.observed
    );
    assert_eq!(s.advice.as_ref().unwrap().title, "CloudTrail trail stopped or deleted");
    let again = e.process(&call(T0 + MINUTE, k, "cloudtrail.amazonaws.com", "StopLogging"), LearnPolicy::Default);
    assert!(risky(&again).is_none(), "the second call is no longer new");
}

/// An administrator who creates access keys and attaches policies every day is judged by that
/// history: no alert. The same credential stopping a trail for the first time is.
#[test]
fn a_mature_credentials_routine_administration_is_not_alerted() {
    let mut e = engine();
    let admin = Pseudonymizer::insecure_demo().credential("AKIAADMIN");
    let ops = [
        ("iam.amazonaws.com", "CreateAccessKey"),
        ("iam.amazonaws.com", "AttachUserPolicy"),
        ("iam.amazonaws.com", "ListUsers"),
        ("iam.amazonaws.com", "CreateUser"),
        ("sts.amazonaws.com", "GetCallerIdentity"),
    ];
    // The first day's first calls are alerted: nothing was known of this credential.
    let v = e.process(&call(T0 - DAY, admin, "iam.amazonaws.com", "CreateAccessKey"), LearnPolicy::Default);
    assert_eq!(risky(&v).map(|s| Severity::of_score(s.score)), Some(Severity::High));
    e.process(&call(T0 - DAY + MINUTE, admin, "iam.amazonaws.com", "AttachUserPolicy"), LearnPolicy::Default);
    e.process(&call(T0 - DAY + 2 * MINUTE, admin, "iam.amazonaws.com", "CreateUser"), LearnPolicy::Default);
    let end = routine(&mut e, admin, &ops, 10);
    for (svc, op) in ops {
        let v = e.process(&call(end, admin, svc, op), LearnPolicy::Default);
        assert!(v.severity.is_none(), "routine {op}: {v:?}");
    }
    let v = e.process(&call(end + MINUTE, admin, "cloudtrail.amazonaws.com", "DeleteTrail"), LearnPolicy::Default);
    let s = risky(&v).expect("a call this credential never made");
    assert!(v.severity >= Some(Severity::Critical), "{v:?}");
    assert!(s.baseline.starts_with("this credential has never called it in 488 events over 11 days"), "{}", s.baseline);
}

/// A member of a role whose members all create keys routinely: the role's work. A member of a
/// role that never does: alerted.
#[test]
fn a_peer_groups_routine_is_its_new_members_routine() {
    let mut e = engine();
    let p = Pseudonymizer::insecure_demo();
    let ops = [
        ("iam.amazonaws.com", "CreateAccessKey"),
        ("iam.amazonaws.com", "ListUsers"),
        ("s3.amazonaws.com", "GetObject"),
    ];
    for i in 0..3 {
        routine(&mut e, p.credential(&format!("AKIAPEER{i}")), &ops, 4);
    }
    let t = T0 + 5 * DAY;
    let newcomer = p.credential("AKIANEWCOMER");
    let v = e.process(&call(t, newcomer, "iam.amazonaws.com", "CreateAccessKey"), LearnPolicy::Default);
    assert!(risky(&v).is_none(), "its peers do this every day: {v:?}");
    let v = e.process(&call(t + MINUTE, newcomer, "iam.amazonaws.com", "UpdateAssumeRolePolicy"), LearnPolicy::Default);
    let s = risky(&v).expect("no peer does this");
    assert!(s.baseline.ends_with("nor does its peer group"), "{}", s.baseline);
    assert_eq!(v.severity, Some(Severity::High));
}

/// Reading a secret is how workloads start: not news from a credential just met, news from one
/// with a history that never read one.
#[test]
fn workload_start_up_calls_wait_for_a_history() {
    let mut e = engine();
    let p = Pseudonymizer::insecure_demo();
    let fresh = p.credential("AKIAFRESH");
    let mut read = call(T0, fresh, "secretsmanager.amazonaws.com", "GetSecretValue");
    read.peer_group = Some("fresh-app".into());
    assert!(risky(&e.process(&read, LearnPolicy::Default)).is_none());
    let old = p.credential("AKIAOLD");
    let end = routine(&mut e, old, &[("s3.amazonaws.com", "GetObject"), ("s3.amazonaws.com", "PutObject")], 5);
    let v = e.process(&call(end, old, "secretsmanager.amazonaws.com", "GetSecretValue"), LearnPolicy::Default);
    assert_eq!(risky(&v).map(|s| Severity::of_score(s.score)), Some(Severity::Medium), "{v:?}");
}

/// A refused call is an attempt: one severity lower, and still raised from Medium up.
#[test]
fn a_refused_call_is_an_attempt_one_severity_lower() {
    let mut e = engine();
    let k = Pseudonymizer::insecure_demo().credential("ASIAROLE");
    let mut denied = call(T0, k, "ec2.amazonaws.com", "GetPasswordData");
    denied.outcome = Outcome::Denied;
    denied.error_code = Some("Client.UnauthorizedOperation".into());
    let v = e.process(&denied, LearnPolicy::Default);
    let s = risky(&v).unwrap();
    assert_eq!(Severity::of_score(s.score), Severity::Medium, "High, refused");
    assert!(s.observed.ends_with("(attempted, refused: Client.UnauthorizedOperation)"), "{}", s.observed);
}

/// Request facts decide where the parameters do: one account, or everyone.
#[test]
fn sharing_a_snapshot_with_everyone_is_critical() {
    let mut e = engine();
    let p = Pseudonymizer::insecure_demo();
    let mut share = call(T0, p.credential("AKIA1"), "ec2.amazonaws.com", "ModifySnapshotAttribute");
    share.request = RequestFacts::SHARED;
    assert_eq!(e.process(&share, LearnPolicy::Default).severity, Some(Severity::High));
    let mut public = call(T0, p.credential("AKIA2"), "ec2.amazonaws.com", "ModifySnapshotAttribute");
    public.request = RequestFacts::PUBLIC;
    let v = e.process(&public, LearnPolicy::Default);
    assert_eq!(v.severity, Some(Severity::Critical));
    assert!(risky(&v).unwrap().observed.contains("[request: public]"));
}

/// The catalogue's severity holds whatever the score and confidence thresholds, and a user's
/// file can lower it.
#[test]
fn the_catalogue_severity_holds_whatever_the_thresholds_and_a_users_file_can_change_it() {
    let cfg = DetectConfig { alert_score: 99, min_confidence: 99, ..DetectConfig::default() };
    let mut e = Engine::new(cfg, KeySpace::new([9; 16]));
    let k = Pseudonymizer::insecure_demo().credential("AKIAX");
    let v = e.process(&call(T0, k, "iam.amazonaws.com", "CreateLoginProfile"), LearnPolicy::Default);
    assert_eq!(v.severity, Some(Severity::High));
    let quiet = r#"
[[aws]]
services = ["iam"]
operations = ["CreateLoginProfile"]
tactic = "persistence"
technique = "T1098.001"
severity = "low"
title = "Console password created"
reason = "our support desk does this all day"
remediation = "None."
"#;
    let mut e = Engine::with_catalogue(
        DetectConfig::default(),
        KeySpace::new([9; 16]),
        Catalogue::with_overrides(quiet).unwrap(),
    );
    let v = e.process(&call(T0, k, "iam.amazonaws.com", "CreateLoginProfile"), LearnPolicy::Default);
    assert!(risky(&v).is_none(), "{v:?}");
}

/// The behavioural privilege detector and the day-one one speak of the same call: counted once
/// in the score, so a High catalogue entry on a mature credential is High, not Critical.
#[test]
fn one_call_is_one_piece_of_evidence() {
    let mut e = engine();
    let k = Pseudonymizer::insecure_demo().credential("AKIAONE");
    let end = routine(&mut e, k, &[("s3.amazonaws.com", "GetObject"), ("sts.amazonaws.com", "GetCallerIdentity")], 5);
    let v = e.process(&call(end, k, "iam.amazonaws.com", "CreateAccessKey"), LearnPolicy::Default);
    let detectors: Vec<Detector> = v.signals.iter().map(|s| s.detector).collect();
    assert!(
        detectors.contains(&Detector::PrivilegeEscalation) && detectors.contains(&Detector::RiskyOperation),
        "{v:?}"
    );
    assert_eq!(v.severity, Some(Severity::High), "{v:?}");
    let pe = v.signals.iter().find(|s| s.detector == Detector::PrivilegeEscalation).unwrap();
    assert_eq!(
        pe.attack.as_ref().unwrap().technique,
        "T1098.001",
        "privilege escalation names the catalogue's technique"
    );
}

//! What a finding shows an analyst, through the real binary: every action of an incident (a
//! follow-up call in an open finding is announced), its close record, and `credence pseudonym`
//! finding the key a finding is about.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use credence_detect::{DetectConfig, Engine, KeySpace, Severity};
use credence_event::{Decoder, Format, Pseudonymizer};
use credence_finding::aggregate::CLOSE_GRACE_MS;
use credence_finding::pipeline::{Output, Pipeline};
use credence_finding::schema::OcsfSchema;
use credence_finding::Aggregator;
use serde_json::{json, Value};

const KEY_TEXT: &str = "findings-test-key-0123456789abcdef-0123456789";
const ACCESS_KEY: &str = "AKIAZ7EXAMPLEQ2RTRL9";
/// 2026-03-02T00:00:00Z, a Monday.
const T0: i64 = 1_772_409_600_000;
const HOME: &str = "81.2.69.160";
const ATTACKER: &str = "185.220.101.4";

fn record(i: usize, t: i64, op: &str, source: &str, addr: &str, params: Value) -> String {
    json!({
        "eventVersion": "1.09",
        "userIdentity": { "type": "IAMUser", "principalId": "AIDAEXAMPLE2", "arn": "arn:aws:iam::210987654321:user/ci",
            "accountId": "210987654321", "accessKeyId": ACCESS_KEY, "userName": "ci" },
        "eventTime": credence_event::time::format_rfc3339_ms(t),
        "eventSource": source,
        "eventName": op,
        "awsRegion": "us-east-1",
        "sourceIPAddress": addr,
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": params,
        "eventID": format!("ev-{i}"),
        "recipientAccountId": "210987654321",
    })
    .to_string()
}

/// Four days of a CI key's routine, then StopLogging and, 20 seconds later from the same
/// address, DeleteTrail; then routine again a day and more later (past the finding's window).
fn stream() -> (Vec<String>, i64) {
    let mut lines = Vec::new();
    let routine = [("DescribeInstances", "ec2.amazonaws.com"), ("ListBuckets", "s3.amazonaws.com")];
    let mut i = 0;
    for day in 0..4 {
        for n in 0..60 {
            let (op, src) = routine[n % 2];
            lines.push(record(
                i,
                T0 + day * 86_400_000 + 8 * 3_600_000 + n as i64 * 300_000,
                op,
                src,
                HOME,
                json!(null),
            ));
            i += 1;
        }
    }
    let trail = json!({ "name": "arn:aws:cloudtrail:us-east-1:210987654321:trail/management-events" });
    let attack = T0 + 4 * 86_400_000 + 10 * 3_600_000;
    lines.push(record(i, attack, "StopLogging", "cloudtrail.amazonaws.com", ATTACKER, trail.clone()));
    lines.push(record(i + 1, attack + 20_000, "DeleteTrail", "cloudtrail.amazonaws.com", ATTACKER, trail));
    // Past the window and the grace by more than the clock's allowed out-of-orderness (5 min).
    let after = attack + 3_600_000 + CLOSE_GRACE_MS + 420_000;
    lines.push(record(i + 2, after, "DescribeInstances", "ec2.amazonaws.com", HOME, json!(null)));
    (lines, attack)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credence-findings-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn schema() -> OcsfSchema {
    OcsfSchema::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/ocsf")).expect("the OCSF schema loads")
}

#[test]
fn a_follow_up_action_is_announced_and_the_finding_closes_with_a_record() {
    let dir = scratch("follow-up");
    let (lines, attack) = stream();
    let input = dir.join("trail.jsonl");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let out = dir.join("findings.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["replay", "--format", "cloudtrail", "--out"])
        .arg(&out)
        .arg(&input)
        .env("CREDENCE_PSEUDONYM_KEY", KEY_TEXT)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let records: Vec<Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let schema = schema();
    for r in &records {
        let v = schema.validate(r);
        assert!(v.is_empty(), "{}\n{r:#}", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("\n"));
    }
    let uid = records
        .iter()
        .find(|r| r["unmapped"]["credence"]["operations"].as_array().is_some_and(|o| o.contains(&json!("StopLogging"))))
        .map(|r| r["finding_info"]["uid"].clone())
        .unwrap_or_else(|| panic!("StopLogging raises a finding: {records:#?}"));
    let mine: Vec<&Value> = records.iter().filter(|r| r["finding_info"]["uid"] == uid).collect();
    let activities: Vec<i64> = mine.iter().map(|r| r["activity_id"].as_i64().unwrap()).collect();
    assert_eq!(activities.first(), Some(&1), "{activities:?}");
    assert_eq!(activities.last(), Some(&3), "the finding ends with its close record: {activities:?}");
    // DeleteTrail, 20 s later from the same address, is announced in an update.
    let update = mine
        .iter()
        .find(|r| {
            r["activity_id"] == 2 && r["unmapped"]["credence"]["changes"].to_string().contains("operation DeleteTrail")
        })
        .unwrap_or_else(|| panic!("an update announces DeleteTrail: {mine:#?}"));
    assert!(update["message"].as_str().unwrap().contains("new: operation DeleteTrail"), "{}", update["message"]);
    assert_eq!(update["time"], attack + 20_000);
    let close = mine.last().unwrap();
    assert_eq!(close["unmapped"]["credence"]["operations"], json!(["StopLogging", "DeleteTrail"]));
    assert_eq!((close["status"].as_str(), close["status_id"].as_i64()), (Some("Closed"), Some(99)));
    assert_eq!(close["count"], 2, "final counts");
    assert_eq!(close["cloud"]["account"]["uid"], "210987654321");
    assert_eq!(close["cloud"]["region"], "us-east-1");
    assert_eq!(close["resources"][0]["uid"], "arn:aws:cloudtrail:us-east-1:210987654321:trail/management-events");
    assert_eq!(close["resources"][0]["type"], "trail");
    assert_eq!(close["resources"][0]["name"], "management-events");
    assert_eq!(close["unmapped"]["credence"]["key_hint"], "AKIA…TRL9");
    assert!(!std::fs::read_to_string(&out).unwrap().contains(ACCESS_KEY), "never the whole key");
    // The summary counts the finding at its final severity.
    let summary = String::from_utf8_lossy(&o.stderr);
    let severity = close["severity"].as_str().unwrap().to_lowercase();
    assert!(summary.contains(&format!("{severity} 1")), "{summary}");
    std::fs::remove_dir_all(dir).ok();
}

/// The close record comes from the stream itself once its clock is past the window (and the grace
/// for parts of a stream running behind), not only at the end of a replay.
#[test]
fn a_finding_closes_when_the_stream_passes_its_window() {
    let p = Pseudonymizer::new(KEY_TEXT.as_bytes()).unwrap();
    let engine = Engine::new(DetectConfig::default(), KeySpace::from_pseudonymizer(&p));
    let mut pipeline =
        Pipeline::new(Decoder::new(Format::Cloudtrail, p), engine, Aggregator::new(3_600_000, Severity::Low));
    let (lines, attack) = stream();
    let (last, before) = lines.split_last().unwrap();
    // As a live feed: each record arrives at the time of the last one (a stream's arrival clock
    // vouches for a record's time; without one, a record a day ahead waits for confirmation).
    let arrival = Some(attack + 3_600_000 + CLOSE_GRACE_MS + 420_000);
    let mut closed = Vec::new();
    for l in before {
        pipeline.process_at(l.as_bytes(), arrival, &mut |o| {
            if let Output::Closed(f) = o {
                closed.push(f);
            }
        });
    }
    assert!(closed.iter().all(|f| f.last_ms < attack), "nothing of the attack closed before its window: {closed:?}");
    let open = pipeline.aggregator().open_count();
    pipeline.process_at(last.as_bytes(), arrival, &mut |o| {
        if let Output::Closed(f) = o {
            closed.push(f);
        }
    });
    let f =
        closed.iter().find(|f| f.context.operations.iter().any(|o| o == "StopLogging")).expect("closed by the clock");
    assert_eq!(f.context.operations, ["StopLogging", "DeleteTrail"]);
    assert!(pipeline.aggregator().open_count() < open);
}

#[test]
fn the_pseudonym_command_agrees_with_the_decoder() {
    let p = Pseudonymizer::new(KEY_TEXT.as_bytes()).unwrap();
    let (lines, _) = stream();
    let decoded = Decoder::new(Format::Cloudtrail, p).decode_one(lines[0].as_bytes()).unwrap().credential;
    let other = "AKIAOTHEREXAMPLE0001";
    let mut child = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["pseudonym", ACCESS_KEY, "-"])
        .env("CREDENCE_PSEUDONYM_KEY", KEY_TEXT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{other}\nnot-an-aws-key\n").as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], format!("{decoded}  AKIA…TRL9"));
    let p = Pseudonymizer::new(KEY_TEXT.as_bytes()).unwrap();
    assert_eq!(lines[1], format!("{}  AKIA…0001", p.credential(other)));
    assert_eq!(lines[2], p.credential("not-an-aws-key").to_string(), "no hint for a key that is itself the secret");
    assert!(!text.contains(ACCESS_KEY) && !text.contains("not-an-aws-key"));
    // Without the key it refuses rather than answer under another.
    let o = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["pseudonym", ACCESS_KEY])
        .env_remove("CREDENCE_PSEUDONYM_KEY")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no pseudonymisation key"));
}

/// Writes `tests/data/state/v7-findings` (tests/data/state/README.md): the stream above without
/// its last record, replayed into a snapshot under the key of `tests/state.rs`, and what
/// `credence state inspect --json` shows of it. Run by hand when the state format changes.
#[test]
#[ignore = "writes a state fixture; run by hand when SNAPSHOT_VERSION changes"]
fn write_the_findings_state_fixture() {
    const STATE_KEY: &str = "state-test-key-0123456789abcdef-0123456789";
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/state/v7-findings");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let work = scratch("fixture");
    let (mut lines, _) = stream();
    lines.pop();
    let input = work.join("trail.jsonl");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let run = |args: &[&str], paths: &[&Path]| {
        let o = Command::new(env!("CARGO_BIN_EXE_credence"))
            .args(args)
            .args(paths)
            .env("CREDENCE_PSEUDONYM_KEY", STATE_KEY)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    run(&["replay", "--format", "cloudtrail", "--out", "/dev/null", "--state"], &[&dir, &input]);
    let summary: Value = serde_json::from_slice(&run(&["state", "inspect", "--json"], &[&dir])).unwrap();
    let line = String::from_utf8(run(&["pseudonym", ACCESS_KEY], &[])).unwrap();
    let pseudonym = line.split_whitespace().next().expect("a pseudonym").to_owned();
    let profile: Value =
        serde_json::from_slice(&run(&["state", "inspect", "--json", "--pseudonym", &pseudonym], &[&dir])).unwrap();
    let expected = json!({ "summary": summary, "profiles": [profile] });
    std::fs::write(dir.join("expected.json"), serde_json::to_string_pretty(&expected).unwrap() + "\n").unwrap();
    std::fs::remove_dir_all(work).ok();
}

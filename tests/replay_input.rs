//! `credence replay` on damaged, forged and mistaken input, through the real binary: framing that
//! never depends on the first record, every record not replayed counted by reason, a forged
//! future record that changes no finding, and a helpful answer when the format is wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KEY: &str = "replay-input-test-key-0123456789abcdef";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credence-replay-input-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn credence(args: &[&str], files: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(args)
        .args(files)
        .env("CREDENCE_PSEUDONYM_KEY", KEY)
        .output()
        .expect("credence runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON report of a replay of `files` (OCSF unless `format` says otherwise).
fn report(dir: &Path, format: &str, files: &[&Path]) -> (Output, serde_json::Value) {
    let path = dir.join("report.json");
    let _ = std::fs::remove_file(&path);
    let out = credence(
        &[
            "replay",
            "--format",
            format,
            "--out",
            dir.join("findings.jsonl").to_str().unwrap(),
            "--report-json",
            path.to_str().unwrap(),
        ],
        files,
    );
    let report = std::fs::read(&path).map(|b| serde_json::from_slice(&b).expect("report JSON"));
    (out, report.unwrap_or(serde_json::Value::Null))
}

/// An OCSF API Activity record at `time_ms`.
fn ocsf(time_ms: i64, credential: &str) -> String {
    format!(
        r#"{{"class_uid":6003,"time":{time_ms},"actor":{{"user":{{"uid":"svc","credential_uid":"{credential}"}}}},"api":{{"operation":"GET /v1/x"}},"src_endpoint":{{"ip":"198.51.100.1"}},"http_request":{{"user_agent":"ua"}}}}"#
    )
}

/// 2026-03-02T00:00:00Z.
const T0: i64 = 1_772_409_600_000;

/// Each framing case of issue 21 through the binary: how many records were replayed, and every
/// other one counted by its reason.
#[test]
fn framing_cases_replay_every_good_record_and_count_the_rest() {
    let dir = scratch("framing");
    let good = |i: i64| ocsf(T0 + i * 1000, "key-1");
    let ten_mb = {
        let mut r = good(3);
        r.insert_str(1, &format!("\"pad\":\"{}\",", "x".repeat(10 << 20)));
        r
    };
    let mut bad_utf8 = format!("{}\n", good(1)).into_bytes();
    bad_utf8.extend(b"{\"class_uid\":6003,\"x\":\"\xff\xfe\"}\n");
    bad_utf8.extend(format!("{}\n", good(2)).into_bytes());
    // (name, bytes, events replayed, decode errors by type)
    type Case = (&'static str, Vec<u8>, u64, &'static [(&'static str, u64)]);
    let cases: Vec<Case> = vec![
        // The issue's own case: a log cut by rotation, then two good records.
        ("cut first line", format!("ame\":\"GET /v1/x\"}}}}\n{}\n{}\n", good(1), good(2)).into_bytes(), 2, &[("invalid_json", 1)]),
        ("cut first line at its end", format!("{{\"class_uid\":6003,\"ti\n{}\n{}\n", good(1), good(2)).into_bytes(), 2, &[("invalid_json", 1)]),
        ("cut last line", format!("{}\n{}\n{{\"class_uid\":60", good(1), good(2)).into_bytes(), 2, &[("invalid_json", 1)]),
        ("blank lines", format!("\n\n{}\n   \n\t\n{}\n\n", good(1), good(2)).into_bytes(), 2, &[]),
        ("CRLF", format!("{}\r\n{}\r\n", good(1), good(2)).into_bytes(), 2, &[]),
        ("a BOM", format!("\u{feff}{}\n{}\n", good(1), good(2)).into_bytes(), 2, &[]),
        ("a document followed by garbage", format!("{}\n}} garbage ]\n", good(1)).into_bytes(), 1, &[("invalid_json", 1)]),
        ("a pretty document followed by garbage", format!("{{\n \"class_uid\": 6003, \"time\": {T0},\n \"actor\": {{\"user\": {{\"credential_uid\": \"k\"}}}},\n \"api\": {{\"operation\": \"x\"}}\n}}\nnot json\n").into_bytes(), 1, &[("invalid_json", 1)]),
        ("a 10 MB record", format!("{}\n{ten_mb}\n{}\n", good(1), good(2)).into_bytes(), 3, &[]),
        ("invalid UTF-8 in the middle", bad_utf8, 2, &[("invalid_utf8", 1)]),
    ];
    for (name, bytes, events, errors) in cases {
        let file = dir.join("input.jsonl");
        std::fs::write(&file, &bytes).unwrap();
        let (out, r) = report(&dir, "ocsf", &[&file]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(r["events"], events, "{name}: {r}");
        let want: serde_json::Map<String, serde_json::Value> =
            errors.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect();
        assert_eq!(r["not_replayed"]["decode_errors"], serde_json::Value::Object(want), "{name}: {r}");
        let total: u64 = errors.iter().map(|(_, v)| v).sum();
        assert_eq!(r["messages"], events + total, "{name}: every message is replayed or counted: {r}");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Simulates a labelled stream into `dir`; returns its event lines.
fn simulate(dir: &Path) -> Vec<String> {
    let sim = credence(
        &[
            "simulate",
            "--credentials",
            "60",
            "--days",
            "6",
            "--incidents-per-kind",
            "1",
            "--seed",
            "11",
            "--out",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(sim.status.success(), "simulate: {}", stderr(&sim));
    std::fs::read_to_string(dir.join("events.ocsf.jsonl")).unwrap().lines().map(String::from).collect()
}

/// Regression (issue 19): one forged record dated 2100, inserted into a 10-day stream, cut
/// ghost-credential findings from 17 to 0: the stream's clock jumped to 2100. Now it is set aside
/// with its reason, and every finding is what it is without it, byte for byte.
#[test]
fn a_forged_record_dated_2100_changes_no_finding() {
    let dir = scratch("forged");
    let lines = simulate(&dir);
    assert!(lines.len() > 10_000, "{}", lines.len());
    // A copy of an ordinary event of a real credential, dated 2100-01-01, a third of the way in.
    let at = lines.len() / 3;
    let mut forged: serde_json::Value = serde_json::from_str(&lines[at]).unwrap();
    forged["time"] = serde_json::Value::from(4_102_444_800_000_i64);
    let mut with = lines.clone();
    with.insert(at, forged.to_string());
    let (clean, forged_path) = (dir.join("clean.jsonl"), dir.join("forged.jsonl"));
    std::fs::write(&clean, lines.join("\n") + "\n").unwrap();
    std::fs::write(&forged_path, with.join("\n") + "\n").unwrap();
    let lifecycle = dir.join("lifecycle.jsonl");
    let run = |input: &Path, name: &str| {
        let out_path = dir.join(name);
        let report_path = dir.join(format!("{name}.report.json"));
        let out = credence(
            &[
                "replay",
                "--format",
                "ocsf",
                "--lifecycle",
                lifecycle.to_str().unwrap(),
                "--out",
                out_path.to_str().unwrap(),
                "--report-json",
                report_path.to_str().unwrap(),
            ],
            &[input],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
        (std::fs::read_to_string(out_path).unwrap(), report, stderr(&out))
    };
    let (want, clean_report, _) = run(&clean, "clean.findings.jsonl");
    let (got, report, err) = run(&forged_path, "forged.findings.jsonl");
    let ghosts = want.lines().filter(|l| l.contains("ghost_credential")).count();
    assert!(ghosts >= 1 && want.lines().count() >= 10, "the stream raises findings, ghost uses among them");
    assert_eq!(got, want, "the forged record changed findings");
    assert_eq!(report["not_replayed"]["set_aside"]["future"], 1, "{report}");
    assert_eq!(report["events"], clean_report["events"]);
    assert_eq!(report["event_time"], clean_report["event_time"], "the clock never saw 2100");
    assert!(err.contains("set aside for their time 1 (future 1)"), "{err}");
    assert!(err.contains("2100-01-01T00:00:00.000Z is ahead of its arrival clock"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

/// Regression (issue 21): `--format ocsf` on a CloudTrail file failed every record with
/// "invalid JSON" and exited 0. Now the run fails and says what the input looks like.
#[test]
fn every_record_failing_says_what_the_input_looks_like_and_fails() {
    let dir = scratch("wrong-format");
    let cloudtrail = dir.join("trail.json");
    let record = |i: u32| {
        format!(
            r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accessKeyId":"AKIAEXAMPLE{i:05}"}},"eventTime":"2024-07-30T21:31:2{i}Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","sourceIPAddress":"203.0.113.7"}}"#
        )
    };
    std::fs::write(&cloudtrail, format!("{{\"Records\":[{},{}]}}\n", record(1), record(2))).unwrap();
    let (out, r) = report(&dir, "ocsf", &[&cloudtrail]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("this looks like CloudTrail: try --format cloudtrail"), "{err}");
    assert_eq!(r["unusable_inputs"].as_array().map(Vec::len), Some(1), "{r}");
    // The right format replays it.
    let (ok, r) = report(&dir, "cloudtrail", &[&cloudtrail]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(r["events"], 2);
    // Through Logstash: `@timestamp`, no `eventTime`.
    let shipped = dir.join("logstash.jsonl");
    let lines: Vec<String> = (1..=2)
        .map(|i| record(i).replace("\"eventTime\":", "\"@version\":\"1\",\"@timestamp\":").replace("Z\"", ".000Z\""))
        .collect();
    std::fs::write(&shipped, lines.join("\n") + "\n").unwrap();
    let (ok, r) = report(&dir, "cloudtrail", &[&shipped]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(r["events"], 2, "{r}");
    // Nothing like any format: says so, and fails.
    let junk = dir.join("junk.jsonl");
    std::fs::write(&junk, "[1, 2]\n[\"x\"]\n").unwrap();
    let (out, _) = report(&dir, "ocsf", &[&junk]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("none of the supported formats"), "{}", stderr(&out));
    // The right format, every record with an impossible time (`1e30`): says which field, and fails.
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, ocsf(T0, "k").replace(&T0.to_string(), "1e30") + "\n").unwrap();
    let (out, r) = report(&dir, "ocsf", &[&bad]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("invalid field `time`") && !err.contains("none of the supported"), "{err}");
    assert_eq!(r["not_replayed"]["decode_errors"]["invalid_field"], 1, "{r}");
    std::fs::remove_dir_all(dir).ok();
}

/// Regression (issue 21): a missing file said "going on with the other files" when there were none.
#[test]
fn a_missing_file_alone_does_not_promise_other_files() {
    let dir = scratch("missing");
    let missing = dir.join("nope.jsonl");
    let out = credence(&["replay", "--format", "ocsf", "--out", dir.join("f.jsonl").to_str().unwrap()], &[&missing]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("nope.jsonl") && !err.contains("other files"), "{err}");
    let good = dir.join("good.jsonl");
    std::fs::write(&good, ocsf(T0, "key-1") + "\n").unwrap();
    let out =
        credence(&["replay", "--format", "ocsf", "--out", dir.join("f.jsonl").to_str().unwrap()], &[&missing, &good]);
    assert!(stderr(&out).contains("going on with the other files"), "{}", stderr(&out));
    std::fs::remove_dir_all(dir).ok();
}

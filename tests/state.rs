//! Saved state through the real binary: `credence replay --state` continues exactly where an
//! earlier replay stopped, a damaged snapshot loses only its damaged records, a cut or foreign
//! one is refused with a clear message, and `credence state inspect` shows what a baseline holds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The key every run here uses.
const KEY: &str = "state-test-key-0123456789abcdef-0123456789";

fn credence(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(args)
        .args(paths)
        .env("CREDENCE_PSEUDONYM_KEY", KEY)
        .output()
        .expect("credence runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credence-state-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A labelled simulator stream of `days`: (events file, lifecycle file, event lines).
fn simulate(dir: &Path, days: u32) -> (PathBuf, PathBuf, Vec<String>) {
    let sim = dir.join("sim");
    let o = credence(
        &[
            "simulate",
            "--credentials",
            "60",
            "--days",
            &days.to_string(),
            "--incidents-per-kind",
            "1",
            "--seed",
            "11",
            "--out",
        ],
        &[&sim],
    );
    assert!(o.status.success(), "simulate: {}", stderr(&o));
    let events = sim.join("events.ocsf.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&events).unwrap().lines().map(String::from).collect();
    (events, sim.join("lifecycle.jsonl"), lines)
}

fn time_of(line: &str) -> i64 {
    serde_json::from_str::<serde_json::Value>(line).unwrap()["time"].as_i64().expect("time")
}

fn write(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

/// Replays `events` (with the lifecycle file and `--state` when given); returns the finding lines.
fn replay(events: &Path, lifecycle: &Path, state: Option<&Path>, out: &Path) -> Vec<String> {
    let mut paths: Vec<&Path> = vec![lifecycle, Path::new("--out"), out];
    if let Some(s) = state {
        paths.extend([Path::new("--state"), s]);
    }
    paths.push(events);
    let o = credence(&["replay", "--format", "ocsf", "--lifecycle"], &paths);
    assert!(o.status.success(), "replay: {}", stderr(&o));
    std::fs::read_to_string(out).unwrap().lines().map(String::from).collect()
}

/// Replaying days 1–6 into a snapshot and then days 7–10 from it gives the same finding records,
/// byte for byte and in order, as one replay of days 1–10: the snapshot holds everything a replay
/// carries forward (baselines, peer profiles, the population, open findings, the clock).
#[test]
fn a_replay_continued_from_its_snapshot_finds_what_one_replay_finds() {
    let dir = scratch("continue");
    let (events, lifecycle, lines) = simulate(&dir, 10);
    let split = time_of(&lines[0]) + 6 * 86_400_000;
    let cut = lines.iter().position(|l| time_of(l) >= split).expect("the stream spans ten days");
    let (first, second) = (dir.join("days-1-6.jsonl"), dir.join("days-7-10.jsonl"));
    write(&first, &lines[..cut]);
    write(&second, &lines[cut..]);

    let whole = replay(&events, &lifecycle, None, &dir.join("whole.out"));
    let state = dir.join("state");
    let a = replay(&first, &lifecycle, Some(&state), &dir.join("a.out"));
    assert!(state.join("credence.snapshot").is_file(), "the first run saved its state");
    let b = replay(&second, &lifecycle, Some(&state), &dir.join("b.out"));

    assert!(whole.len() >= 10, "the stream should raise findings: {}", whole.len());
    assert!(!b.is_empty(), "days 7–10 raise findings of their own");
    let continued: Vec<String> = a.iter().chain(&b).cloned().collect();
    // The one replay ends its input and closes the findings still open (their close records
    // last); the continued one saves them open for a run yet to come.
    assert!(continued.len() <= whole.len(), "finding records: {} + {} against {}", a.len(), b.len(), whole.len());
    let (streamed, closed_at_end) = whole.split_at(continued.len());
    for r in closed_at_end {
        let v: serde_json::Value = serde_json::from_str(r).unwrap();
        assert_eq!(v["activity_id"], 3, "only close records at the end of the one replay: {r}");
    }
    for (i, (x, y)) in continued.iter().zip(streamed).enumerate() {
        assert_eq!(x, y, "finding record {i} differs");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// `credence state inspect` of a fixture shows what its `expected.json` recorded when it was
/// written: the summary's fields and every credential's profile. Returns the profiles compared.
fn inspect_as_written(dir: &Path) -> usize {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let o = credence(&["state", "inspect", "--json"], &[dir]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for field in ["event_time", "baselines", "by_state", "peer_groups", "open_findings", "records", "damaged"] {
        assert_eq!(summary[field], expected["summary"][field], "{field}");
    }
    let profiles = expected["profiles"].as_array().unwrap();
    for want in profiles {
        let p = want["pseudonym"].as_str().unwrap();
        let o = credence(&["state", "inspect", "--json", "--pseudonym", p], &[dir]);
        assert!(o.status.success(), "{}", stderr(&o));
        let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(&got, want, "the profile of {p}");
    }
    profiles.len()
}

fn fixture(version: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/state").join(version)
}

/// The current format's snapshot, written by an earlier build, reads back to what that build saw:
/// every credential's profile, field for field. A change to what is saved that forgets to bump
/// `SNAPSHOT_VERSION` misreads it and fails here.
#[test]
fn the_format_7_fixture_reads_back_as_written() {
    let dir = fixture("v7");
    assert_eq!(inspect_as_written(&dir), 10);
    // And a replay starts from it.
    let work = scratch("fixture");
    std::fs::copy(dir.join("credence.snapshot"), work.join("credence.snapshot")).unwrap();
    let empty = work.join("none.jsonl");
    std::fs::write(&empty, "").unwrap();
    let o = credence(&["replay", "--format", "ocsf", "--out", "/dev/null", "--state"], &[&work, &empty]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("loaded 60 records (10 baselines, 0 open findings)"), "{}", stderr(&o));
    std::fs::remove_dir_all(work).ok();
}

/// The formats before the baseline's layout changed (5, the first, and 6) are refused, not
/// migrated (tests/data/state/README.md says why), with a message that says what to do, and the
/// snapshot is left as it was.
#[test]
fn the_format_5_and_6_fixtures_are_refused_with_what_to_do() {
    for version in [5, 6] {
        let work = scratch(&format!("format{version}"));
        let snapshot = work.join("credence.snapshot");
        let original = std::fs::read(fixture(&format!("v{version}")).join("credence.snapshot")).unwrap();
        std::fs::write(&snapshot, &original).unwrap();
        let empty = work.join("none.jsonl");
        std::fs::write(&empty, "").unwrap();
        let o = credence(&["replay", "--format", "ocsf", "--out", "/dev/null", "--state"], &[&work, &empty]);
        assert!(!o.status.success(), "a format-{version} snapshot was read");
        let text = stderr(&o);
        assert!(text.contains(&format!("format version {version}; this build reads version 7")), "{text}");
        assert!(text.contains("rebuild the state by replaying history"), "{text}");
        assert_eq!(std::fs::read(&snapshot).unwrap(), original, "the snapshot was overwritten");
        std::fs::remove_dir_all(work).ok();
    }
}

/// A finding's context (format 6 and later): the fixture of a CloudTrail key's history ending
/// with an open StopLogging → DeleteTrail finding reads back as written, and the finding keeps
/// its operations, resources and key hint: a record a day and more later closes it with them.
#[test]
fn the_format_7_findings_fixture_reads_back_with_its_open_findings_context() {
    let dir = fixture("v7-findings");
    inspect_as_written(&dir);
    let work = scratch("fixture-6");
    std::fs::copy(dir.join("credence.snapshot"), work.join("credence.snapshot")).unwrap();
    let later = work.join("later.jsonl");
    std::fs::write(
        &later,
        serde_json::json!({
            "eventVersion": "1.09",
            "userIdentity": { "type": "IAMUser", "principalId": "AIDAEXAMPLE2", "arn": "arn:aws:iam::210987654321:user/ci",
                "accountId": "210987654321", "accessKeyId": "AKIAZ7EXAMPLEQ2RTRL9", "userName": "ci" },
            "eventTime": "2026-03-07T12:00:00Z", "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
            "awsRegion": "us-east-1", "sourceIPAddress": "81.2.69.160", "userAgent": "aws-cli/2.15.0",
            "eventID": "ev-later", "recipientAccountId": "210987654321"
        })
        .to_string(),
    )
    .unwrap();
    let out = work.join("out.jsonl");
    let o = credence(
        &["replay", "--format", "cloudtrail", "--out"],
        &[out.as_path(), Path::new("--state"), work.as_path(), later.as_path()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("loaded 13 records (1 baselines, 1 open findings)"), "{}", stderr(&o));
    let records = std::fs::read_to_string(&out).unwrap();
    let close: serde_json::Value = serde_json::from_str(records.lines().last().expect("a close record")).unwrap();
    assert_eq!(close["activity_id"], 3, "{close:#}");
    assert_eq!(close["unmapped"]["credence"]["operations"], serde_json::json!(["StopLogging", "DeleteTrail"]));
    assert_eq!(close["unmapped"]["credence"]["key_hint"], "AKIA…TRL9");
    assert_eq!(close["resources"][0]["type"], "trail");
    std::fs::remove_dir_all(work).ok();
}

/// A damaged snapshot: a damaged record is skipped and counted (the run goes on, says so, and
/// saves a whole snapshot again); a cut one, one of another key and a file that is no snapshot
/// are refused with a message that says what to do, and nothing is overwritten.
#[test]
fn a_damaged_snapshot_loses_only_its_damaged_records() {
    let work = scratch("damage");
    let snapshot = work.join("credence.snapshot");
    let original = std::fs::read(fixture("v7").join("credence.snapshot")).unwrap();
    let empty = work.join("none.jsonl");
    std::fs::write(&empty, "").unwrap();
    let run = |key: &str| {
        Command::new(env!("CARGO_BIN_EXE_credence"))
            .args(["replay", "--format", "ocsf", "--out", "/dev/null", "--state"])
            .args([&work, &empty])
            .env("CREDENCE_PSEUDONYM_KEY", key)
            .output()
            .unwrap()
    };

    let mut damaged = original.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xFF;
    std::fs::write(&snapshot, &damaged).unwrap();
    let o = run(KEY);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stderr(&o);
    assert!(text.contains("loaded 59 records"), "{text}");
    assert!(text.contains("1 of its 60 records could not be read back"), "{text}");
    assert!(text.contains("saved 59 records"), "{text}");

    for (what, bytes, key, message) in [
        ("cut", original[..original.len() - 100].to_vec(), KEY, "cut short"),
        ("foreign", original.clone(), "another-key-0123456789abcdef-0123456789", "another pseudonymisation key"),
        ("not a snapshot", b"{\"time\": 1}\n".to_vec(), KEY, "not a Credence snapshot"),
    ] {
        std::fs::write(&snapshot, &bytes).unwrap();
        let o = run(key);
        assert!(!o.status.success(), "{what}: accepted");
        assert!(stderr(&o).contains(message), "{what}: {}", stderr(&o));
        assert_eq!(std::fs::read(&snapshot).unwrap(), bytes, "{what}: the snapshot was overwritten");
    }
    std::fs::remove_dir_all(work).ok();
}

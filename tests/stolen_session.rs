//! The stolen-session case, from real records, through the real binary: the Stratus Red Team
//! detonation `aws.credential-access.ec2-steal-instance-credentials` (in
//! `../shared/data/stratus-detonation-logs`, Apache-2.0) recorded an EC2 instance profile's
//! temporary key (`ASIA…`, session `…-role/i-…`) making its calls. Played as recorded, those calls
//! bind the key to their network and client; then AWS acting for the session, a call through a
//! VPC endpoint and an address change inside the same /24 (none of which is theft); then the
//! same session's calls replayed, unchanged but for their address and client, from a second
//! network with another tool: `credence replay` must raise `stolen_session` on the first of
//! them, and on nothing before.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

const KEY_TEXT: &str = "stolen-session-test-key-0123456789abcdef-0123";
/// The second network and client: a documentation address (RFC 5737) and the AWS CLI (the
/// detonation's own calls carry Stratus's user agent).
const THIEF_ADDRESS: &str = "203.0.113.50";
const THIEF_CLIENT: &str = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64.ubuntu.22";

fn detonation() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/stratus-detonation-logs/aws.credential-access.ec2-steal-instance-credentials.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("real attack data at {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut records = v["Records"].as_array().cloned().unwrap_or_else(|| v.as_array().cloned().unwrap());
    records.sort_by_key(time_of);
    records
}

fn time_of(r: &Value) -> i64 {
    let t = r["eventTime"].as_str().unwrap();
    credence_event::time::parse_rfc3339_ms(t).unwrap_or_else(|| panic!("eventTime {t}"))
}

/// A copy of `r`, `shift_ms` later, with a new event id and the given changes.
fn copy(r: &Value, shift_ms: i64, id: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut c = r.clone();
    c["eventTime"] = json!(credence_event::time::format_rfc3339_ms(time_of(r) + shift_ms));
    c["eventID"] = json!(id);
    c["requestID"] = json!(id);
    change(&mut c);
    c
}

#[test]
fn a_session_replayed_from_a_second_network_is_caught_on_its_first_call() {
    let records = detonation();
    let session: Vec<&Value> = records
        .iter()
        .filter(|r| r["userIdentity"]["accessKeyId"].as_str().is_some_and(|k| k.starts_with("ASIA")))
        .collect();
    assert!(session.len() >= 2, "the detonation's instance session made its calls: {}", session.len());
    let first = session[0];
    let bound_address = first["sourceIPAddress"].as_str().unwrap().to_owned();
    let same_24 = {
        let mut octets: Vec<&str> = bound_address.split('.').collect();
        octets[3] = if octets[3] == "200" { "201" } else { "200" };
        octets.join(".")
    };

    let mut stream: Vec<Value> = records.clone();
    // Within the next minutes, none of them theft.
    stream.push(copy(first, 60_000, "benign-aws-internal", |c| {
        c["sourceIPAddress"] = json!("ec2.amazonaws.com");
        c["userAgent"] = json!("AWS Internal");
    }));
    stream.push(copy(first, 90_000, "benign-vpc-endpoint", |c| {
        c["sourceIPAddress"] = json!("10.0.3.17");
        c["vpcEndpointId"] = json!("vpce-0a1b2c3d4e5f67890");
    }));
    stream.push(copy(first, 120_000, "benign-same-network", |c| c["sourceIPAddress"] = json!(same_24)));
    // The same session's calls, ten minutes on, from the second network and client.
    let replay_shift = 600_000;
    for (i, r) in session.iter().enumerate() {
        stream.push(copy(r, replay_shift, &format!("replayed-{i}"), |c| {
            c["sourceIPAddress"] = json!(THIEF_ADDRESS);
            c["userAgent"] = json!(THIEF_CLIENT);
        }));
    }
    stream.sort_by_key(time_of);
    let first_stolen_ms = time_of(first) + replay_shift;

    let dir = std::env::temp_dir().join(format!("credence-stolen-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("trail.json");
    std::fs::write(&input, json!({ "Records": stream }).to_string()).unwrap();
    let out = dir.join("findings.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["replay", "--format", "cloudtrail", "--out"])
        .arg(&out)
        .arg(&input)
        .env("CREDENCE_PSEUDONYM_KEY", KEY_TEXT)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let findings: Vec<Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let _ = std::fs::remove_dir_all(&dir);

    let stolen: Vec<&Value> = findings
        .iter()
        .filter(|f| f["unmapped"]["credence"]["detector_scores"].get("stolen_session").is_some())
        .collect();
    let caught = stolen.first().unwrap_or_else(|| panic!("no stolen_session finding: {findings:#?}"));
    assert_eq!(caught["time"], first_stolen_ms, "raised on the first call from the second network: {caught:#}");
    assert!(
        stolen.iter().all(|f| f["time"].as_i64().unwrap() >= first_stolen_ms),
        "nothing before the replay (AWS Internal, the VPC endpoint, the same /24) is theft"
    );
    for f in &stolen {
        let related = f["finding_info"]["related_events"].to_string();
        assert!(!related.contains("benign-"), "{related}");
    }
    assert!(caught["severity_id"].as_i64().unwrap() >= 4, "High or above: {}", caught["severity"]);
    assert!(caught["finding_info"]["related_events"].to_string().contains("replayed-0"));

    // What was bound and what was seen, the technique, and what to do.
    let anomalies = caught["anomaly_analyses"].to_string();
    let bound_24 = format!("{}.0/24", bound_address.rsplit_once('.').unwrap().0);
    assert!(anomalies.contains("203.0.113.0/24") && anomalies.contains("aws-cli"), "{anomalies}");
    assert!(anomalies.contains(&bound_24) && anomalies.contains("stratus-red-team"), "{anomalies}");
    let attacks = caught["finding_info"]["attacks"].to_string();
    assert!(attacks.contains("T1552.005") && attacks.contains("TA0006"), "an instance profile's key: {attacks}");
    let remediation = caught["remediation"]["desc"].as_str().unwrap();
    assert!(remediation.contains("AWSRevokeOlderSessions"), "{remediation}");
}

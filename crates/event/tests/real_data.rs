//! CloudTrail decoding against public real-world samples kept in the workspace's `shared/data`
//! (see its README for sources and licences): Panther's rule-test events and Stratus Red Team
//! detonation logs. The test fails, rather than skips, when the data is missing.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use credence_event::{
    CredentialKind, DecodeError, Decoder, Event, Format, Namespace, Outcome, Pseudonym, Pseudonymizer,
};
use serde_json::Value;

fn data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    assert!(dir.is_dir(), "shared test data missing at {}: these tests must not pass without it", dir.display());
    dir
}

/// An ingest time for records that carry none.
const INGEST_MS: i64 = 1_700_000_000_000;

fn decoder() -> Decoder {
    Decoder::new(Format::Cloudtrail, Pseudonymizer::insecure_demo())
}

/// Every raw `accessKeyId` in a record, to prove none survives decoding.
fn access_key(log: &Value) -> Option<&str> {
    let ui = log.get("userIdentity").or_else(|| log.get("useridentity"))?;
    ui.get("accessKeyId").or_else(|| ui.get("accesskeyid"))?.as_str().filter(|k| k.len() >= 8)
}

/// The record's timestamp text, CloudTrail's own or Panther's normalised copy.
fn time_text(log: &Value) -> Option<&str> {
    ["eventTime", "eventtime", "p_event_time"].iter().find_map(|k| log.get(*k).and_then(Value::as_str))
}

/// Whether the record names anyone or anything that made the call.
fn has_actor(log: &Value) -> bool {
    let ui = log.get("userIdentity").or_else(|| log.get("useridentity"));
    let named = |k: &str| ui.and_then(|u| u.get(k)).and_then(Value::as_str).is_some_and(|v| !v.is_empty());
    ["accessKeyId", "accesskeyid", "arn", "principalId", "principalid", "userName", "username", "invokedBy"]
        .iter()
        .any(|k| named(k))
        || ["eventSource", "eventsource", "recipientAccountId"]
            .iter()
            .any(|k| log.get(*k).and_then(Value::as_str).is_some())
}

/// What decoding a Panther fixture must give when it cannot give an event: only records missing
/// what no decoder can invent (a time, anyone to attribute the call to) may fail.
fn expected_error(log: &Value) -> Option<DecodeError> {
    match time_text(log) {
        None => Some(DecodeError::MissingField("eventTime")),
        Some(t) if !t.starts_with(|c: char| c.is_ascii_digit()) => {
            Some(DecodeError::InvalidField { field: "eventTime", reason: "not RFC 3339".into() })
        }
        Some(_) if !has_actor(log) => Some(DecodeError::MissingField("userIdentity")),
        Some(_) => None,
    }
}

/// Panther's 463 AWS.CloudTrail rule-test events all decode. Every record that has a timestamp
/// decodes as it is, including service events, console sign-ins, lower-cased exports, records with
/// odd types and one attributed only to its account; the fixtures trimmed to omit `eventTime` (14)
/// or redacted to a non-time (2) are rejected with exactly the expected error when no ingest time
/// is known, and decode with the ingest time (a Kafka timestamp, a replay position) when it is.
#[test]
fn panther_cloudtrail_fixtures() {
    let path = data_dir().join("panther-tests/AWS.CloudTrail.jsonl");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let d = decoder();
    let (mut total, mut decoded, mut rejected) = (0, 0, 0);
    let mut by_arn: HashMap<String, Vec<(String, Pseudonym, Pseudonym)>> = HashMap::new();
    let mut saw_hostname = false;
    let mut failures = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let row: Value = serde_json::from_str(line).unwrap();
        assert_eq!(row["log_type"], "AWS.CloudTrail", "line {n}");
        let log = &row["log"];
        let json = serde_json::to_string(log).unwrap();
        total += 1;
        let result = d.decode_one(json.as_bytes());
        if let Some(want) = expected_error(log) {
            rejected += 1;
            assert_eq!(result, Err(want), "line {n}: {json}");
            let mut out = Vec::new();
            d.decode_at(json.as_bytes(), Some(INGEST_MS), &mut out);
            match out.as_slice() {
                [Ok(e)] => assert_eq!(e.time_ms, INGEST_MS, "line {n}"),
                other => panic!("line {n}: with an ingest time expected one event, got {other:?}"),
            }
            decoded += 1;
            continue;
        }
        let e = match result {
            Ok(e) => e,
            Err(err) => {
                failures.push(format!("line {n} ({}): {err}\n  {json}", row["test_name"]));
                continue;
            }
        };
        decoded += 1;
        if let Some(key) = access_key(log) {
            assert!(!format!("{e:?}").contains(key), "line {n}: raw key in event");
        }
        if e.credential_kind == CredentialKind::TemporaryKey {
            if let (Some(arn), Some(key)) = (log["userIdentity"]["arn"].as_str(), access_key(log)) {
                by_arn.entry(arn.to_owned()).or_default().push((key.to_owned(), e.credential, e.subject));
            }
        }
        if log["sourceIPAddress"] == "cloudformation.amazonaws.com" {
            assert_eq!(e.origin.ip, None);
            assert_eq!(e.origin.host.as_deref(), Some("cloudformation.amazonaws.com"), "line {n}");
            saw_hostname = true;
        }
        if log["errorCode"] == "AccessDenied" {
            assert_eq!(e.outcome, Outcome::Denied, "line {n}");
        }
    }
    assert!(failures.is_empty(), "{} records failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(total, 463);
    assert_eq!(decoded, 463, "every Panther CloudTrail record decodes");
    assert_eq!(rejected, 16, "records without a usable time need the ingest time");
    assert!(saw_hostname);
    eprintln!("panther: {total} records, {decoded} decoded, {rejected} of them with the ingest time");

    // Different temporary keys of one role session share the session's subject.
    let jack = &by_arn["arn:aws:sts::123456789012:assumed-role/Admin/Jack"];
    let distinct: std::collections::HashSet<_> = jack.iter().map(|(k, ..)| k.as_str()).collect();
    assert!(distinct.len() >= 2, "{jack:?}");
    let want = d.pseudonymizer().pseudonymize(Namespace::Session, "arn:aws:sts::123456789012:assumed-role/Admin/Jack");
    for (key, credential, subject) in jack {
        assert_eq!(*subject, want);
        assert_eq!(*credential, d.pseudonymizer().credential(key));
    }
    let rolled_up = by_arn.values().filter(|v| v.iter().any(|(k, ..)| k != &v[0].0)).count();
    assert!(rolled_up >= 3, "{rolled_up} sessions seen with several keys");
}

/// Every Stratus Red Team detonation log (one JSON array per technique) decodes with no errors,
/// one event per array element.
#[test]
fn stratus_detonation_logs() {
    let dir = data_dir().join("stratus-detonation-logs");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 35, "one file per technique");
    let d = decoder();
    let (mut events, mut denied, mut malformed_ip) = (0, 0, 0);
    for file in &files {
        let bytes = fs::read(file).unwrap();
        let records: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
        let mut out: Vec<Result<Event<'_>, DecodeError>> = Vec::new();
        d.decode(&bytes, &mut out);
        assert_eq!(out.len(), records.len(), "{}", file.display());
        for (i, (result, log)) in out.iter().zip(&records).enumerate() {
            let e = result.as_ref().unwrap_or_else(|err| panic!("{} #{i}: {err}", file.display()));
            assert_eq!(log["eventName"].as_str(), Some(e.operation.as_ref()));
            if let Some(key) = access_key(log) {
                assert!(!format!("{e:?}").contains(key), "{} #{i}: raw key in event", file.display());
                let want =
                    if key.starts_with("ASIA") { CredentialKind::TemporaryKey } else { CredentialKind::AccessKey };
                assert_eq!(e.credential_kind, want);
            }
            if log["errorCode"] == "AccessDenied" || log["errorCode"] == "Client.UnauthorizedOperation" {
                assert_eq!(e.outcome, Outcome::Denied, "{} #{i}", file.display());
                denied += 1;
            }
            let src = log["sourceIPAddress"].as_str().unwrap();
            if e.origin.ip.is_none() {
                assert_eq!(e.origin.host.as_deref(), Some(src));
                malformed_ip += 1;
            }
            if log["userIdentity"]["type"] == "AssumedRole" {
                let session = log["userIdentity"]["arn"].as_str().unwrap();
                assert_eq!(e.subject, d.pseudonymizer().pseudonymize(Namespace::Session, session));
                assert_eq!(
                    e.peer_group.as_deref(),
                    log["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"].as_str()
                );
            }
        }
        events += out.len();
    }
    assert_eq!(events, 310);
    assert!(denied >= 50, "{denied}");
    assert!(malformed_ip > 0, "the anonymised logs hold addresses such as 08.1.250.216");
    eprintln!("stratus: {} files, {events} events, {denied} denied, {malformed_ip} non-IP sources", files.len());
}

/// Request facts on the Stratus detonations: each technique whose risk lies in its parameters
/// gets the fact that says so on its key call, and no other event of the 35 gets any.
#[test]
fn stratus_request_facts() {
    use credence_event::RequestFacts;
    let expected: HashMap<(&str, &str), RequestFacts> = [
        (("aws.exfiltration.ec2-share-ami.json", "ModifyImageAttribute"), RequestFacts::SHARED),
        (("aws.exfiltration.ec2-share-ebs-snapshot.json", "ModifySnapshotAttribute"), RequestFacts::SHARED),
        (("aws.exfiltration.rds-share-snapshot.json", "ModifyDBSnapshotAttribute"), RequestFacts::SHARED),
        (("aws.persistence.lambda-backdoor-function.json", "AddPermission20150331v2"), RequestFacts::PUBLIC),
        (
            ("aws.exfiltration.ec2-security-group-open-port-22-ingress.json", "AuthorizeSecurityGroupIngress"),
            RequestFacts::PUBLIC,
        ),
        (("aws.credential-access.ssm-retrieve-securestring-parameters.json", "GetParameters"), RequestFacts::DECRYPTED),
        (("aws.execution.ec2-user-data.json", "ModifyInstanceAttribute"), RequestFacts::USER_DATA),
        (
            ("aws.persistence.lambda-layer-extension.json", "UpdateFunctionConfiguration20150331v2"),
            RequestFacts::LAYERS,
        ),
        (("aws.initial-access.console-login-without-mfa.json", "ConsoleLogin"), RequestFacts::NO_MFA),
    ]
    .into_iter()
    .collect();
    let dir = data_dir().join("stratus-detonation-logs");
    let d = decoder();
    let mut seen = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = fs::read(&path).unwrap();
        let mut out = Vec::new();
        d.decode(&bytes, &mut out);
        for e in out.iter().map(|r| r.as_ref().unwrap()) {
            let want = expected.get(&(name.as_str(), e.operation.as_ref())).copied().unwrap_or(RequestFacts::NONE);
            assert_eq!(e.request, want, "{name}: {}", e.operation);
            seen += usize::from(!want.is_empty());
        }
    }
    assert!(seen >= expected.len(), "every expected fact was seen ({seen})");
}

/// Request facts on Panther's rule-test events for the same questions (their rules' verdicts
/// depend on more than the parameters, so the expectation is written here, case by case).
#[test]
fn panther_request_facts() {
    use credence_event::RequestFacts;
    let (public, shared, none) = (RequestFacts::PUBLIC, RequestFacts::SHARED, RequestFacts::NONE);
    let cases: &[(&str, &str, RequestFacts)] = &[
        ("AWS.CloudTrail.SnapshotMadePublic", "Snapshot Made Publicly Accessible", public),
        ("AWS.CloudTrail.SnapshotMadePublic", "Snapshot Not Made Publicly Accessible", none),
        ("AWS.CloudTrail.SnapshotMadePublic", "Snapshot Mader Available to Single Person", shared),
        ("AWS.CloudTrail.AMIModifiedForPublicAccess", "AMI Made Public", public),
        ("AWS.CloudTrail.AMIModifiedForPublicAccess", "AMI Not Made Public", none),
        ("AWS.CloudTrail.AMIModifiedForPublicAccess", "Access Granted To Unknown User", shared),
        ("AWS.RDS.SnapshotShared", "Snapshot shared with another account", shared),
        ("AWS.RDS.SnapshotShared", "Snapshot shared with no accounts", none),
        ("AWS.SSM.DecryptSSMParams", "Single Secret Accessed in Single Event", RequestFacts::DECRYPTED),
        ("AWS.SSM.DecryptSSMParams", "Unrelated Event", none),
        ("AWS.CloudTrail.ResourceMadePublic", "S3 Made Publicly Accessible", public),
        ("AWS.CloudTrail.ResourceMadePublic", "S3 Not Made Publicly Accessible", none),
        ("AWS.CloudTrail.ResourceMadePublic", "Null Request Parameters", none),
        ("AWS.CloudTrail.ResourceMadePublic", "Invalid JSON Policy (Should Not Alert)", none),
        ("AWS.CloudTrail.ResourceMadePublic", "Wildcard Principal No Conditions (Should Alert)", public),
        ("AWS.CloudTrail.ResourceMadePublic", "All Restrictive Conditions Types (Should Not Alert)", none),
        ("AWS.CloudTrail.ResourceMadePublic", "Multiple Conditions All Restrictive (Should Not Alert)", none),
        ("AWS.Console.LoginWithoutMFA", "No MFA Login - IAM User", RequestFacts::NO_MFA),
        ("AWS.Console.LoginWithoutMFA", "MFA Login", none),
        ("AWS.Console.LoginWithoutMFA", "MFA Login - SAML", none),
        ("AWS.Console.LoginWithoutMFA", "AWS SSOv2 Login", none),
    ];
    let text = fs::read_to_string(data_dir().join("panther-tests/AWS.CloudTrail.jsonl")).unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let d = decoder();
    for (rule, test, want) in cases {
        let row = rows
            .iter()
            .find(|r| r["rule_id"] == *rule && r["test_name"] == *test)
            .unwrap_or_else(|| panic!("no fixture {rule} / {test}"));
        let bytes = serde_json::to_vec(&row["log"]).unwrap();
        let mut out = Vec::new();
        d.decode_at(&bytes, Some(INGEST_MS), &mut out);
        let e = out.pop().unwrap().unwrap_or_else(|err| panic!("{rule} / {test}: {err}"));
        // The rules' facts; where the call came from (a VPC endpoint, which some fixtures name)
        // is the temporary-credential binding's, checked by its own tests.
        let got = RequestFacts::NAMED
            .iter()
            .filter(|(_, f)| *f != RequestFacts::VPC_ENDPOINT && e.request.contains(*f))
            .fold(RequestFacts::NONE, |a, (_, f)| a.union(*f));
        assert_eq!(got, *want, "{rule} / {test}");
    }
}

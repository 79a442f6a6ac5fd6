//! Tests of the OCSF schema validator against the real schema in `../shared/ocsf`.
use super::*;
use serde_json::json;
use std::sync::OnceLock;

fn schema() -> &'static OcsfSchema {
    static SCHEMA: OnceLock<OcsfSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ocsf");
        OcsfSchema::load(&dir).expect("the OCSF schema loads")
    })
}

/// A complete Detection Finding as Credence emits it.
fn detection_finding() -> Value {
    json!({
        "activity_id": 1, "activity_name": "Create",
        "category_uid": 2, "category_name": "Findings",
        "class_uid": 2004, "class_name": "Detection Finding",
        "type_uid": 200401, "type_name": "Detection Finding: Create",
        "time": 1_718_000_000_000_i64, "time_dt": "2024-06-10T06:13:20Z",
        "start_time": 1_717_999_000_000_i64, "end_time": 1_718_000_000_000_i64,
        "severity_id": 4, "severity": "High",
        "status_id": 1, "status": "New",
        "confidence_id": 3, "confidence": "High", "confidence_score": 87,
        "risk_score": 82, "risk_level_id": 3, "risk_level": "High",
        "is_alert": true,
        "message": "Credential AKIAEXAMPLE used from an unseen country",
        "metadata": {
            "product": { "name": "Credence", "vendor_name": "Credence", "version": "0.1.0" },
            "version": "1.8.0",
            "uid": "6f1c2a9e-3b7d-4c0e-9a51-2f8e4d7b1c30",
            "profiles": ["host", "datetime"],
            "log_name": "credence-findings"
        },
        "finding_info": {
            "uid": "cred-7f3a9c", "title": "Anomalous use of API credential",
            "desc": "The credential was used from a country never seen in its 30-day baseline.",
            "types": ["Credential Anomaly"],
            "analytic": { "uid": "credence.geo", "name": "Geo novelty", "type_id": 2, "type": "Behavioral" },
            "related_events": [{
                "uid": "e5f0c7d2-1111-4aaa-8bbb-000000000001", "product_uid": "aws-cloudtrail",
                "type_uid": 600302, "type_name": "API Activity: Read", "severity_id": 1
            }],
            "first_seen_time": 1_717_999_000_000_i64, "last_seen_time": 1_718_000_000_000_i64
        },
        "anomaly_analyses": [{
            "analysis_targets": [{ "name": "AKIAEXAMPLE", "type": "Credential" }],
            "anomalies": [{
                "observation_parameter": "src_endpoint.location.country",
                "observation_type": "Geolocation",
                "observations": [{ "value": "BR", "count": 3 }],
                "observed_pattern": "first use from BR"
            }],
            "baselines": [{
                "observation_parameter": "src_endpoint.location.country",
                "observations": [{ "value": "US", "count": 412, "timespan": { "duration_days": 30 } }]
            }]
        }],
        "actor": { "user": { "uid": "AIDAEXAMPLE", "name": "ci-deployer", "credential_uid": "AKIAEXAMPLE" } },
        "evidences": [{
            "src_endpoint": { "ip": "203.0.113.7", "location": { "country": "BR" } },
            "api": { "operation": "GetObject", "service": { "name": "s3.amazonaws.com" } }
        }],
        "observables": [{ "name": "evidences[0].src_endpoint.ip", "type_id": 2, "value": "203.0.113.7" }],
        "remediation": { "desc": "Rotate the credential and review its recent activity." },
        "unmapped": { "detector": { "score": 0.93 } }
    })
}

fn api_activity() -> Value {
    json!({
        "activity_id": 2, "activity_name": "Read", "category_uid": 6, "class_uid": 6003,
        "type_uid": 600302, "time": 1_718_000_000_000_i64, "severity_id": 1,
        "status_id": 1, "status": "Success",
        "metadata": {
            "product": { "name": "CloudTrail", "vendor_name": "AWS", "version": "1.09" },
            "version": "1.8.0", "uid": "e5f0c7d2-1111-4aaa-8bbb-000000000001",
            "profiles": ["cloud"], "event_code": "GetObject"
        },
        "cloud": { "provider": "AWS", "region": "us-east-1", "account": { "uid": "123456789012" } },
        "actor": {
            "user": { "uid": "AIDAEXAMPLE", "name": "ci-deployer", "type": "IAMUser", "credential_uid": "AKIAEXAMPLE" },
            "session": { "issuer": "arn:aws:iam::123456789012:user/ci-deployer", "is_mfa": false }
        },
        "api": {
            "operation": "GetObject", "service": { "name": "s3.amazonaws.com" },
            "request": { "uid": "REQ123" }, "response": { "code": 200 }
        },
        "src_endpoint": { "ip": "2001:db8::7", "port": 443 },
        "http_request": { "user_agent": "aws-cli/2.15", "http_method": "GET" },
        "resources": [{ "uid": "arn:aws:s3:::bucket/key", "type": "AWS::S3::Object" }],
        "unmapped": { "readOnly": true }
    })
}

/// Validates `event` after `edit` and returns the (path, kind) pairs.
fn violations(mut event: Value, edit: impl FnOnce(&mut Value)) -> Vec<(String, ViolationKind)> {
    edit(&mut event);
    schema().validate(&event).into_iter().map(|v| (v.path, v.kind)).collect()
}

fn only(path: &str, kind: ViolationKind) -> Vec<(String, ViolationKind)> {
    vec![(path.to_owned(), kind)]
}

#[test]
fn loads_classes_and_version() {
    assert_eq!(schema().version(), Some("1.8.0"));
    assert_eq!(schema().class_name(2004), Some("detection_finding"));
    assert_eq!(schema().class_name(6003), Some("api_activity"));
    assert_eq!(schema().class_name(7002), Some("file_remediation_activity"));
    assert_eq!(schema().class_name(0), Some("base_event"));
}

#[test]
fn accepts_complete_detection_finding() {
    let errors = schema().validate(&detection_finding());
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn accepts_api_activity() {
    assert_eq!(schema().check(&api_activity()), Ok(()));
}

#[test]
fn rejects_missing_required() {
    let v = violations(detection_finding(), |e| {
        e["finding_info"]["related_events"][0].as_object_mut().unwrap().remove("uid");
    });
    assert_eq!(v, only("finding_info.related_events[0].uid", ViolationKind::MissingRequired));
    let v = violations(detection_finding(), |e| {
        e["anomaly_analyses"][0]["anomalies"][0]["observations"][0]["value"] = Value::Null
    });
    assert_eq!(v, only("anomaly_analyses[0].anomalies[0].observations[0].value", ViolationKind::MissingRequired));
    let v = violations(detection_finding(), |e| {
        e.as_object_mut().unwrap().remove("finding_info");
    });
    assert_eq!(v, only("finding_info", ViolationKind::MissingRequired));
}

#[test]
fn rejects_unknown_attribute() {
    let v = violations(detection_finding(), |e| e["actor"]["user"]["password"] = json!("x"));
    assert_eq!(v, only("actor.user.password", ViolationKind::UnknownAttribute));
    let v = violations(detection_finding(), |e| e["severity_dt"] = json!("2024-06-10T06:13:20Z"));
    assert_eq!(v, only("severity_dt", ViolationKind::UnknownAttribute));
}

#[test]
fn rejects_wrong_types() {
    let v = violations(detection_finding(), |e| e["time"] = json!("2024-06-10T06:13:20Z"));
    assert_eq!(v, only("time", ViolationKind::WrongType));
    let v = violations(detection_finding(), |e| e["finding_info"]["types"] = json!("Credential Anomaly"));
    assert_eq!(v, only("finding_info.types", ViolationKind::WrongType));
    let v = violations(detection_finding(), |e| e["severity"] = json!(4));
    assert_eq!(v, only("severity", ViolationKind::WrongType));
    let v = violations(detection_finding(), |e| e["evidences"][0]["src_endpoint"]["ip"] = json!("203.0.113.300"));
    assert_eq!(v, only("evidences[0].src_endpoint.ip", ViolationKind::InvalidValue));
    let v = violations(detection_finding(), |e| e["time_dt"] = json!("10/06/2024"));
    assert_eq!(v, only("time_dt", ViolationKind::InvalidValue));
    let v = violations(api_activity(), |e| e["src_endpoint"]["port"] = json!(70000));
    assert_eq!(v, only("src_endpoint.port", ViolationKind::InvalidValue));
}

#[test]
fn rejects_out_of_range_enums() {
    let v = violations(detection_finding(), |e| e["severity_id"] = json!(7));
    assert_eq!(v, only("severity_id", ViolationKind::EnumOutOfRange));
    let v = violations(detection_finding(), |e| e["status_id"] = json!(7));
    assert_eq!(v, only("status_id", ViolationKind::EnumOutOfRange));
    let v = violations(detection_finding(), |e| e["observables"][0]["type_id"] = json!(1000));
    assert_eq!(v, only("observables[0].type_id", ViolationKind::EnumOutOfRange));
    // activity_id 4 is not a finding activity; type_uid is then consistent.
    let v = violations(detection_finding(), |e| {
        e["activity_id"] = json!(4);
        e["type_uid"] = json!(200404);
    });
    assert_eq!(v, only("activity_id", ViolationKind::EnumOutOfRange));
    // 99 (Other) is defined.
    let v = violations(detection_finding(), |e| e["confidence_id"] = json!(99));
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn rejects_inconsistent_uids() {
    let v = violations(detection_finding(), |e| e["type_uid"] = json!(200402));
    assert_eq!(v, only("type_uid", ViolationKind::TypeUidMismatch));
    let v = violations(detection_finding(), |e| e["category_uid"] = json!(6));
    assert_eq!(v, only("category_uid", ViolationKind::CategoryMismatch));
    let v = violations(detection_finding(), |e| e["class_uid"] = json!(2999));
    assert_eq!(v, only("class_uid", ViolationKind::UnknownClass));
}

#[test]
fn enforces_constraints() {
    let v = violations(detection_finding(), |e| e["actor"] = json!({ "idp": { "name": "okta" } }));
    assert_eq!(v, only("actor", ViolationKind::Constraint));
}

#[test]
fn profiles_must_be_declared() {
    let undeclared = |e: &mut Value| e["metadata"]["profiles"] = json!(["datetime"]);
    let v = violations(detection_finding(), undeclared);
    assert_eq!(v, only("actor", ViolationKind::UndeclaredProfile));
    let permissive = OcsfSchema::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ocsf"))
        .unwrap()
        .with_profile_policy(ProfilePolicy::Permissive);
    let mut event = detection_finding();
    undeclared(&mut event);
    assert_eq!(permissive.validate(&event), vec![]);
    // Declaring `cloud` makes its required `cloud` attribute mandatory.
    let v = violations(api_activity(), |e| {
        e.as_object_mut().unwrap().remove("cloud");
    });
    assert_eq!(v, only("cloud", ViolationKind::MissingRequired));
    let v = violations(api_activity(), |e| e["metadata"]["profiles"] = json!(["cloud", "nope"]));
    assert_eq!(v, only("metadata.profiles[1]", ViolationKind::UnknownProfile));
}

#[test]
fn display_shows_path_and_reason() {
    let mut event = detection_finding();
    event["finding_info"]["related_events"][0]["uid"] = json!(42);
    let errors = schema().validate(&event);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "finding_info.related_events[0].uid: expected a string (string_t), found an integer"
    );
}

#[test]
fn malformed_schema_is_an_error() {
    assert!(matches!(OcsfSchema::load(Path::new("/nonexistent")), Err(SchemaError::Io { .. })));
    let dir = std::env::temp_dir().join(format!("credence-ocsf-bad-{}", std::process::id()));
    let files = [
        (
            "dictionary.json",
            r#"{"attributes": {"x": {"type": "string_t"}}, "types": {"attributes": {"string_t": {}}}}"#,
        ),
        ("categories.json", r#"{"attributes": {}}"#),
        ("objects/a.json", r#"{"name": "a", "extends": "b", "attributes": {"x": {}}}"#),
        ("objects/b.json", r#"{"name": "b", "extends": "a"}"#),
        ("events/e.json", r#"{"name": "e", "uid": 1, "category": "nope"}"#),
        ("profiles/p.json", r#"{"name": "p", "attributes": {}}"#),
    ];
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let cyclic = OcsfSchema::load(&dir).unwrap_err();
    assert!(cyclic.to_string().contains("cyclic"), "{cyclic}");
    std::fs::write(dir.join("objects/b.json"), r#"{"name": "b"}"#).unwrap();
    let category = OcsfSchema::load(&dir).unwrap_err();
    assert!(category.to_string().contains("unknown category `nope`"), "{category}");
    std::fs::write(dir.join("objects/b.json"), "{").unwrap();
    assert!(matches!(OcsfSchema::load(&dir), Err(SchemaError::Json { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

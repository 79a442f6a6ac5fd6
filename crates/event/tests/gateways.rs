//! Gateway decoders end to end on the fixtures in `tests/data`, the mapped decoder configured from
//! TOML as the daemon does, and a no-panic sweep of every decoder over damaged input.

use std::fs;
use std::path::PathBuf;

use credence_event::{
    CredentialKind, DecodeError, Decoder, Event, FieldMapping, Format, Namespace, Outcome, Pseudonymizer,
};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Decodes a JSON-lines text, one message a line, as the daemon's line-oriented inputs do.
fn decode_lines<'a>(d: &Decoder, text: &'a str) -> Vec<Result<Event<'a>, DecodeError>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        d.decode(line.as_bytes(), &mut out);
    }
    out
}

#[test]
fn kong_batch() {
    let d = Decoder::new(Format::Kong, Pseudonymizer::insecure_demo());
    let text = fixture("kong-http-log-batch.json");
    let mut out = Vec::new();
    d.decode(text.as_bytes(), &mut out);
    assert_eq!(out.len(), 3);
    let ok = out[0].as_ref().unwrap();
    assert_eq!(ok.credential_kind, CredentialKind::ApiKey);
    assert_eq!(ok.operation, "GET /v1/orders");
    assert_eq!(ok.resource.as_deref(), Some("/v1/orders/100234"));
    assert_eq!(ok.principal.as_deref(), Some("acme-billing"));
    assert_eq!(ok.service.as_deref(), Some("orders"));
    assert_eq!((ok.http_status, ok.outcome, ok.bytes_out), (Some(200), Outcome::Success, Some(1402)));
    // The anonymous 401: an attempt without a valid credential, its presented key pseudonymised.
    let attempt = out[1].as_ref().unwrap();
    assert_eq!((attempt.outcome, attempt.principal.as_deref()), (Outcome::AuthFailed, None));
    assert_eq!(attempt.credential, d.pseudonymizer().credential("REDACTED-BY-TEST"));
    let admin = out[2].as_ref().unwrap();
    assert_eq!(admin.credential, ok.credential);
    assert_eq!(admin.operation, "GET /admin/consumers/{id}/key-auth");
    assert_eq!((admin.outcome, admin.bytes_out), (Outcome::Denied, Some(318)));
    assert_eq!(admin.event_uid.as_deref(), Some("9f8e7d6c5b4a39281706f5e4d3c2b1a0"));
}

#[test]
fn istio_access_log() {
    let d = Decoder::new(Format::Envoy, Pseudonymizer::insecure_demo());
    let text = fixture("istio-access.jsonl");
    let out = decode_lines(&d, &text);
    assert_eq!(out.len(), 4);
    let peer = out[0].as_ref().unwrap();
    assert_eq!(peer.credential_kind, CredentialKind::ServiceAccount);
    assert_eq!(peer.peer_group.as_deref(), Some("spiffe://cluster.local/ns/checkout"));
    assert_eq!(peer.operation, "GET /v1/orders/{id}");
    let denied = out[1].as_ref().unwrap();
    assert_eq!((denied.outcome, denied.http_status), (Outcome::Denied, Some(403)));
    assert_eq!(denied.operation, "DELETE /v1/orders/{id}");
    assert_ne!(denied.credential, peer.credential);
    let throttled = out[2].as_ref().unwrap();
    assert_eq!(throttled.outcome, Outcome::Throttled);
    assert!(!throttled.outcome.is_access_failure());
    assert_eq!(throttled.credential_kind, CredentialKind::Token);
    assert_eq!(throttled.subject, d.pseudonymizer().pseudonymize(Namespace::Session, "user-42"));
    assert_eq!(throttled.origin.ip, Some("198.51.100.23".parse().unwrap()));
    assert_eq!(throttled.resource.as_deref(), Some("/payments"));
    assert_eq!(throttled.error_code.as_deref(), Some("RL"));
    assert_eq!(out[3].as_ref().unwrap_err(), &DecodeError::MissingField("credential"));
}

/// The API Gateway access-log mapping (also the engine benchmark's).
fn apigw_toml() -> String {
    fixture("apigateway-mapping.toml")
}

#[test]
fn api_gateway_via_toml_mapping() {
    let mapping: FieldMapping = toml::from_str(&apigw_toml()).unwrap();
    mapping.validate().unwrap();
    let d = Decoder::mapped(mapping, Pseudonymizer::insecure_demo());
    let text = fixture("apigateway-access.jsonl");
    let out = decode_lines(&d, &text);
    assert_eq!(out.len(), 3);
    let (first, second) = (out[0].as_ref().unwrap(), out[1].as_ref().unwrap());
    assert_eq!(first.time_ms, 1_722_375_081_000);
    assert_eq!(first.credential, d.pseudonymizer().credential("k7tq3zx9ab"));
    assert_eq!(first.operation, "/pets/{petId}");
    assert_eq!((first.outcome, first.bytes_out), (Outcome::Success, Some(112)));
    assert_eq!(second.credential, first.credential);
    assert_eq!((second.outcome, second.error_code.as_deref()), (Outcome::Denied, Some("ACCESS_DENIED")));
    assert_eq!(out[2].as_ref().unwrap_err(), &DecodeError::MissingField("credential"));

    let typo = apigw_toml().replace("bytes_out", "bytes_sent");
    let err = toml::from_str::<FieldMapping>(&typo).unwrap_err().to_string();
    assert!(err.contains("bytes_sent"), "{err}");
    let bad: FieldMapping = toml::from_str(&apigw_toml().replace("\"/ip\"", "\"ip\"")).unwrap();
    assert_eq!(bad.validate().unwrap_err().problems.len(), 1);
}

/// Every decoder, fed truncated and corrupted versions of every sample, returns errors or events
/// and never panics; no error message repeats a credential from the input.
#[test]
fn damaged_input_never_panics_or_leaks() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    assert!(data.is_dir(), "shared test data missing at {}", data.display());
    let mut samples = vec![
        fixture("kong-http-log-batch.json"),
        fixture("istio-access.jsonl").lines().nth(2).unwrap().to_owned(),
        fixture("apigateway-access.jsonl").lines().next().unwrap().to_owned(),
        fs::read_to_string(data.join("stratus-detonation-logs/aws.persistence.sts-federation-token.json")).unwrap(),
    ];
    let panther = fs::read_to_string(data.join("panther-tests/AWS.CloudTrail.jsonl")).unwrap();
    for line in panther.lines().step_by(40) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        samples.push(serde_json::to_string(&row["log"]).unwrap());
    }
    let secrets = ["REDACTED-BY-TEST", "test-token-not-a-real-jwt", "k7tq3zx9ab", "ASIASTJKC5GCM7ZE6LUP"];
    let key = Pseudonymizer::insecure_demo;
    let decoders = [
        Decoder::new(Format::Ocsf, key()),
        Decoder::new(Format::Cloudtrail, key()),
        Decoder::new(Format::Kong, key()),
        Decoder::new(Format::Envoy, key()),
        Decoder::mapped(toml::from_str(&apigw_toml()).unwrap(), key()),
        Decoder::new(Format::Mapped, key()),
    ];
    let mut runs = 0usize;
    for sample in &samples {
        let bytes = sample.as_bytes();
        let step = (bytes.len() / 150).max(1);
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for cut in (0..bytes.len()).step_by(step) {
            variants.push(bytes[..cut].to_vec());
            for replacement in [b'"', b'{', b']', b'0', b'\\', 0xff] {
                let mut v = bytes.to_vec();
                v[cut] = replacement;
                variants.push(v);
            }
        }
        for v in &variants {
            for d in &decoders {
                let mut out = Vec::new();
                d.decode(v, &mut out);
                runs += 1;
                for err in out.iter().filter_map(|r| r.as_ref().err()) {
                    let shown = err.to_string();
                    assert!(secrets.iter().all(|s| !shown.contains(s)), "{shown}");
                }
            }
        }
    }
    assert!(runs > 10_000, "{runs}");
}

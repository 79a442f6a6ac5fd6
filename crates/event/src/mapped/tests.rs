use super::*;
use crate::{ErrorType, Format, Pseudonymizer};

/// An Amazon API Gateway (REST API) access log line in JSON, as configured with `$context`
/// variables: `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",...}`. Unset
/// variables are logged as `"-"`, and numbers are quoted because the template quotes them.
const APIGW: &str = r#"{"requestId":"c6af9ac6-7b61-11e6-9fc9-93e8d1d6e8f1","extendedRequestId":"LBCqOGG1PHcFZ3A=",
  "ip":"198.51.100.23","caller":"-","user":"-","requestTime":"30/Jul/2024:21:31:21 +0000",
  "requestTimeEpoch":1722375081000,"httpMethod":"GET","resourcePath":"/pets/{petId}","path":"/prod/pets/42",
  "status":"403","protocol":"HTTP/1.1","responseLength":"112","apiKeyId":"k7tq3zx9ab",
  "userAgent":"okhttp/4.12.0","stage":"prod","apiId":"a1b2c3d4e5","errorResponseType":"ACCESS_DENIED",
  "identity":{"accountId":"-","principalOrgId":"-"}}"#;

fn apigw_mapping() -> FieldMapping {
    let json = r#"{"time":"/requestTime","credential":"/apiKeyId","operation":"/resourcePath",
        "source_ip":"/ip","user_agent":"/userAgent","service":"/apiId","resource":"/path",
        "http_method":"/httpMethod","http_status":"/status","error_code":"/errorResponseType",
        "bytes_out":"/responseLength","event_uid":"/requestId","principal":"/caller"}"#;
    serde_json::from_str(json).unwrap()
}

fn decoder(m: FieldMapping) -> Decoder {
    Decoder::mapped(m, Pseudonymizer::insecure_demo())
}

#[test]
fn api_gateway_access_log() {
    let m = apigw_mapping();
    m.validate().unwrap();
    assert_eq!(m.time_format, TimeFormat::Auto);
    assert_eq!(m.credential_kind, CredentialKind::ApiKey);
    let d = decoder(m);
    let e = d.decode_one(APIGW.as_bytes()).unwrap();
    assert_eq!(e.time_ms, 1_722_375_081_000);
    assert_eq!(e.credential, d.pseudonymizer().credential("k7tq3zx9ab"));
    assert_eq!(e.subject, e.credential);
    assert_eq!(e.credential_kind, CredentialKind::ApiKey);
    assert_eq!(e.operation, "/pets/{petId}");
    assert!(matches!(e.operation, Cow::Borrowed(_)));
    assert_eq!(e.principal, None, "`-` is absent");
    assert_eq!(e.origin.ip, Some("198.51.100.23".parse().unwrap()));
    assert_eq!(e.user_agent.as_deref(), Some("okhttp/4.12.0"));
    assert_eq!(e.service.as_deref(), Some("a1b2c3d4e5"));
    assert_eq!(e.resource.as_deref(), Some("/prod/pets/42"));
    assert_eq!(e.http_method.as_deref(), Some("GET"));
    assert_eq!(e.http_status, Some(403));
    assert_eq!(e.outcome, Outcome::Denied);
    assert_eq!(e.error_code.as_deref(), Some("ACCESS_DENIED"));
    assert_eq!(e.bytes_out, Some(112));
    assert_eq!(e.event_uid.as_deref(), Some("c6af9ac6-7b61-11e6-9fc9-93e8d1d6e8f1"));
}

#[test]
fn epoch_formats_and_numbers() {
    let mut m = apigw_mapping();
    m.time = "/requestTimeEpoch".into();
    m.time_format = TimeFormat::EpochMs;
    assert_eq!(decoder(m.clone()).decode_one(APIGW.as_bytes()).unwrap().time_ms, 1_722_375_081_000);
    m.time_format = TimeFormat::EpochS;
    let rec = APIGW.replace("1722375081000", "\"1722375081.5\"");
    assert_eq!(decoder(m.clone()).decode_one(rec.as_bytes()).unwrap().time_ms, 1_722_375_081_500);
    m.time_format = TimeFormat::Rfc3339;
    let err = decoder(m).decode_one(APIGW.as_bytes()).unwrap_err();
    assert_eq!(err.error_type(), ErrorType::InvalidField);
}

/// A Tyk-style analytics record: nested objects, arrays, keys with `/` and `~`.
#[test]
fn nested_pointers_arrays_and_escapes() {
    let rec = r#"{"timestamp":"2024-07-30T21:31:21.250Z","api":{"name":"payments","version":"v2"},
        "auth":{"key/id":"9f86d081884c7d65","scheme":"token"},"route":{"tmpl~1":"POST /v2/payments"},
        "client":{"addrs":["203.0.113.9:51234","10.0.0.1"],"geo":{"asn":"AS64500","cc":"de","city":"Berlin",
        "lat":52.52,"lon":"13.40"}},"response":{"code":201,"bytes":"2048"},"account":{"id":4242},
        "tags":[{"team":"ledger"}]}"#;
    let json = r#"{"time":"/timestamp","credential":"/auth/key~1id","operation":"/route/tmpl~01",
        "service":"/api/name","source_ip":"/client/addrs/0","asn":"/client/geo/asn",
        "country":"/client/geo/cc","city":"/client/geo/city","latitude":"/client/geo/lat",
        "longitude":"/client/geo/lon","http_status":"/response/code","bytes_out":"/response/bytes",
        "principal":"/account/id","peer_group":"/tags/0/team","credential_kind":"token","time_format":"rfc3339"}"#;
    let m: FieldMapping = serde_json::from_str(json).unwrap();
    m.validate().unwrap();
    let d = decoder(m);
    let e = d.decode_one(rec.as_bytes()).unwrap();
    assert_eq!(e.time_ms, 1_722_375_081_250);
    assert_eq!(e.credential, d.pseudonymizer().credential("9f86d081884c7d65"));
    assert_eq!(e.credential_kind, CredentialKind::Token);
    assert_eq!(e.operation, "POST /v2/payments");
    assert_eq!(e.service.as_deref(), Some("payments"));
    assert_eq!(e.origin.ip, Some("203.0.113.9".parse().unwrap()));
    assert_eq!(e.origin.asn, Some(64500));
    assert_eq!(e.origin.country, Country::parse("DE"));
    assert_eq!(e.origin.city.as_deref(), Some("Berlin"));
    assert!(e.origin.geo.is_some());
    assert_eq!(e.http_status, Some(201));
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.bytes_out, Some(2048));
    assert_eq!(e.principal.as_deref(), Some("4242"));
    assert_eq!(e.peer_group.as_deref(), Some("ledger"));
}

#[test]
fn batches_yield_one_result_per_record() {
    let d = decoder(apigw_mapping());
    let no_key = APIGW.replace(r#""apiKeyId":"k7tq3zx9ab""#, r#""apiKeyId":"-""#);
    let object_key = APIGW.replace(r#""apiKeyId":"k7tq3zx9ab""#, r#""apiKeyId":{"v":"secret-value"}"#);
    let batch = format!("[{APIGW},{no_key},{object_key},17]");
    let mut out = Vec::new();
    d.decode(batch.as_bytes(), &mut out);
    assert_eq!(out.len(), 4);
    assert!(out[0].is_ok());
    assert_eq!(out[1].as_ref().unwrap_err(), &DecodeError::MissingField("credential"));
    // Rejected with 401 and no key logged: kept, naming no credential (a spray's evidence).
    let rejected = no_key.replace(r#""status":"403""#, r#""status":"401""#);
    assert_ne!(rejected, no_key, "the sample logs its status as expected");
    let e = d.decode_one(rejected.as_bytes()).unwrap();
    assert_eq!((e.credential_kind, e.outcome), (crate::CredentialKind::Missing, crate::Outcome::AuthFailed));
    let err = out[2].as_ref().unwrap_err();
    assert_eq!(err.error_type(), ErrorType::InvalidField);
    assert!(!err.to_string().contains("secret-value"));
    assert_eq!(out[3].as_ref().unwrap_err(), &DecodeError::MissingField("time"));
}

#[test]
fn errors_not_panics() {
    let d = decoder(apigw_mapping());
    let cases: &[(&str, ErrorType)] = &[
        ("{", ErrorType::InvalidJson),
        (r#"{"a":1} trailing"#, ErrorType::InvalidJson),
        ("[1,", ErrorType::InvalidJson),
        (r#"{"requestTime":"yesterday","apiKeyId":"k","resourcePath":"/"}"#, ErrorType::InvalidField),
        (r#"{"requestTime":true,"apiKeyId":"k","resourcePath":"/"}"#, ErrorType::InvalidField),
        (r#"{"requestTime":1722375081,"apiKeyId":"k"}"#, ErrorType::MissingField),
        (r#"{"requestTime":1722375081,"apiKeyId":"k","resourcePath":7}"#, ErrorType::InvalidField),
        (r#"{"requestTime":1722375081,"apiKeyId":2.5,"resourcePath":"/"}"#, ErrorType::InvalidField),
    ];
    for (input, want) in cases {
        let err = d.decode_one(input.as_bytes()).unwrap_err();
        assert_eq!(err.error_type(), *want, "{err} for {input}");
    }
    let e = d.decode_one(br#"{"requestTime":1722375081,"apiKeyId":77,"resourcePath":"/","status":999}"#).unwrap();
    assert_eq!(e.credential, d.pseudonymizer().credential("77"));
    assert_eq!((e.http_status, e.outcome), (None, Outcome::Unknown));
}

#[test]
fn unmapped_decoder_rejects() {
    let d = Decoder::new(Format::Mapped, Pseudonymizer::insecure_demo());
    assert_eq!(d.decode_one(APIGW.as_bytes()).unwrap_err().error_type(), ErrorType::WrongFormat);
}

#[test]
fn validation_reports_every_problem() {
    let mut m = FieldMapping::new("", "apiKeyId", "/op~2");
    m.service = Some("/ok/~0~1".into());
    m.resource = Some("path".into());
    let err = m.validate().unwrap_err();
    assert_eq!(err.problems.len(), 4, "{err}");
    let shown = err.to_string();
    for needle in ["`time`", "`credential`", "`operation`", "`resource`"] {
        assert!(shown.contains(needle), "{shown}");
    }
    assert!(FieldMapping::new("/t", "/c", "/o").validate().is_ok());
}

#[test]
fn deserialises_from_config_and_rejects_unknown_keys() {
    let m: FieldMapping =
        serde_json::from_str(r#"{"time":"/t","credential":"/c","operation":"/o","time_format":"epoch_s"}"#).unwrap();
    assert_eq!(m.time_format, TimeFormat::EpochS);
    assert!(
        serde_json::from_str::<FieldMapping>(r#"{"time":"/t","credential":"/c","operation":"/o","x":"/y"}"#).is_err()
    );
    assert!(serde_json::from_str::<FieldMapping>(r#"{"time":"/t","credential":"/c"}"#).is_err());
    assert!(serde_json::from_str::<FieldMapping>(
        r#"{"time":"/t","credential":"/c","operation":"/o","time_format":"iso"}"#
    )
    .is_err());
}

#[test]
fn pointer_segments() {
    assert!(segment_is_key("a~1b", "a/b"));
    assert!(segment_is_key("a~0b", "a~b"));
    assert!(segment_is_key("~01", "~1"));
    assert!(!segment_is_key("a~1b", "a~1b"));
    assert!(!segment_is_key("a~", "a~"));
    assert!(!segment_is_key("ab", "abc"));
    assert_eq!(segment_index("0"), Some(0));
    assert_eq!(segment_index("12"), Some(12));
    assert_eq!(segment_index("01"), None);
    assert_eq!(segment_index("+1"), None);
    assert_eq!(segment_index("-"), None);
    assert_eq!(segment_index("99999999999999999999999"), None);
}

#[test]
fn root_and_overlapping_pointers() {
    // `/a` ends where `/a/b` continues: the object is no value for `/a`, `/a/b` still resolves.
    let mut m = FieldMapping::new("/t", "/a/b", "/a/b");
    m.principal = Some("/a".into());
    let d = decoder(m);
    let e = d.decode_one(br#"{"t":1722375081,"a":{"b":"k"}}"#).unwrap();
    assert_eq!(e.operation, "k");
    assert_eq!(e.principal, None);
}

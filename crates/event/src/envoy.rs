//! Envoy / Istio JSON access logs: Istio's default JSON format (`start_time`, `method`, `path`,
//! `protocol`, `response_code`, `response_flags`, `response_code_details`, `bytes_received`,
//! `bytes_sent`, `duration`, `upstream_service_time`, `x_forwarded_for`, `user_agent`,
//! `request_id`, `authority`, `upstream_host`, `upstream_cluster`, `upstream_local_address`,
//! `downstream_local_address`, `downstream_remote_address`, `requested_server_name`,
//! `route_name`, ...), one object a line or an array of them. Older Envoys write every value as a
//! string and `"-"` for "none"; newer ones type numbers and write `null`. Both are read. Envoy
//! Gateway's header-named variants (`x-forwarded-for`, `user-agent`, `x-request-id`,
//! `:authority`) are accepted too.
//!
//! No standard field carries a credential, so the first present of these is used (operators add
//! them with `%REQ(...)%`, `%DYNAMIC_METADATA(...)%` or `%DOWNSTREAM_PEER_URI_SAN%`):
//! 1. `x_api_key` / `api_key` / `x-api-key`: kind ApiKey;
//! 2. `authorization` / `token`, a `Bearer ` prefix stripped: kind Token. A token's subject rolls
//!    up to the principal below when one is logged, so refreshed tokens share a baseline;
//! 3. `jwt_sub` / `principal` / `consumer`: kind Principal;
//! 4. `downstream_peer_uri_san` / `downstream_peer_subject` (mTLS workload identity, e.g. a SPIFFE
//!    id): kind ServiceAccount.
//!
//! None present is `MissingField("credential")`, unless the request was rejected with 401: then
//! the event is kept with kind `Missing` (no credential named), as evidence of a key spray.
//!
//! Also: principal = the first of `jwt_sub`, `principal`, `consumer`, the peer SAN / subject;
//! peer_group = the namespace of a SPIFFE peer id (`spiffe://<trust domain>/ns/<namespace>`);
//! origin = the first `x_forwarded_for` address, else `downstream_remote_address` without its
//! port; operation = `<method> <path with ids templated>` (shared with Kong); resource = the path
//! without query; service = `authority`, else `upstream_cluster`; error_code = `response_flags`
//! (`UAEX`, `RL`, `UH`, ...); bytes_out = `bytes_sent`; event_uid = `request_id`.

use std::borrow::Cow;

use serde::Deserialize;

use crate::kong::{path_only, templated_operation};
use crate::mapped::lenient::{narrow, parse_time_text, records, Number, Text};
use crate::{parse_ip, CredentialKind, DecodeError, Decoder, Event, Namespace, Origin, Outcome};

#[derive(Deserialize, Default)]
#[serde(default)]
struct Raw<'a> {
    #[serde(borrow)]
    start_time: Text<'a>,
    #[serde(borrow, alias = ":method")]
    method: Text<'a>,
    #[serde(borrow, alias = ":path")]
    path: Text<'a>,
    response_code: Number,
    #[serde(borrow)]
    response_flags: Text<'a>,
    bytes_sent: Number,
    #[serde(borrow, alias = "user-agent")]
    user_agent: Text<'a>,
    #[serde(borrow, alias = "x-forwarded-for")]
    x_forwarded_for: Text<'a>,
    #[serde(borrow)]
    downstream_remote_address: Text<'a>,
    #[serde(borrow, alias = "x-request-id")]
    request_id: Text<'a>,
    #[serde(borrow, alias = ":authority")]
    authority: Text<'a>,
    #[serde(borrow)]
    upstream_cluster: Text<'a>,
    #[serde(borrow, alias = "api_key", alias = "x-api-key")]
    x_api_key: Text<'a>,
    #[serde(borrow, alias = "token")]
    authorization: Text<'a>,
    #[serde(borrow)]
    jwt_sub: Text<'a>,
    #[serde(borrow)]
    principal: Text<'a>,
    #[serde(borrow)]
    consumer: Text<'a>,
    #[serde(borrow)]
    downstream_peer_uri_san: Text<'a>,
    #[serde(borrow)]
    downstream_peer_subject: Text<'a>,
}

pub(crate) fn decode<'a>(decoder: &Decoder, text: &'a str, out: &mut Vec<Result<Event<'a>, DecodeError>>) {
    match records(text) {
        Ok(recs) => recs.for_each(|rec| out.push(decode_record(decoder, rec))),
        Err(e) => out.push(Err(DecodeError::json(e))),
    }
}

/// Strips an HTTP auth scheme `Bearer ` (any case) from a header value.
pub(crate) fn strip_bearer(value: &str) -> &str {
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => value[7..].trim_start(),
        _ => value,
    }
}

/// `spiffe://<trust domain>/ns/<namespace>` of a SPIFFE id naming a namespace.
fn spiffe_namespace(id: &str) -> Option<&str> {
    let rest = id.strip_prefix("spiffe://")?;
    let ns = rest.find("/ns/")?;
    let after = ns + 4;
    let end = rest[after..].find('/').map_or(rest.len(), |i| after + i);
    (end > after).then(|| &id[..("spiffe://".len() + end)])
}

fn decode_record<'a>(decoder: &Decoder, text: &'a str) -> Result<Event<'a>, DecodeError> {
    let raw: Raw<'a> = serde_json::from_str(text).map_err(DecodeError::json)?;
    let time_text = raw.start_time.get().ok_or(DecodeError::MissingField("start_time"))?;
    let time_ms = parse_time_text(&time_text).ok_or_else(|| DecodeError::invalid("start_time", "not a timestamp"))?;
    let method = raw.method.get().ok_or(DecodeError::MissingField("method"))?;
    let path = raw.path.get().ok_or(DecodeError::MissingField("path"))?;

    let peer = raw.downstream_peer_uri_san.get().or(raw.downstream_peer_subject.get());
    let named = raw.jwt_sub.get().or(raw.principal.get()).or(raw.consumer.get());
    let pseudo = decoder.pseudonymizer();
    let (credential, kind) = if let Some(key) = raw.x_api_key.get() {
        (pseudo.credential(&key), CredentialKind::ApiKey)
    } else if let Some(token) = raw.authorization.get().filter(|t| !strip_bearer(t).is_empty()) {
        (pseudo.credential(strip_bearer(&token)), CredentialKind::Token)
    } else if let Some(name) = named.as_deref() {
        (pseudo.credential(name), CredentialKind::Principal)
    } else if let Some(id) = peer.as_deref() {
        (pseudo.credential(id), CredentialKind::ServiceAccount)
    } else if raw.response_code.as_status() == Some(401) {
        // Rejected for naming no credential: kept as evidence of a key spray.
        (pseudo.credential(""), CredentialKind::Missing)
    } else {
        return Err(DecodeError::MissingField("credential"));
    };
    let subject = match (kind, named.as_deref()) {
        (CredentialKind::Token, Some(who)) => pseudo.pseudonymize(Namespace::Session, who),
        _ => credential,
    };
    let peer_group = peer.as_deref().and_then(spiffe_namespace).is_some().then(|| {
        let id = peer.clone().unwrap_or_default();
        narrow(id, |s| spiffe_namespace(s).unwrap_or(s))
    });

    let mut origin = Origin::default();
    let forwarded = raw.x_forwarded_for.get().map(|x| narrow(x, |s| s.split(',').next().unwrap_or(s).trim()));
    let remote = raw.downstream_remote_address.get();
    origin.ip = forwarded.as_deref().and_then(parse_ip).or_else(|| remote.as_deref().and_then(parse_ip));
    if origin.ip.is_none() {
        origin.host = forwarded.filter(|f| !f.is_empty()).or(remote);
    }

    let http_status = raw.response_code.as_status();
    Ok(Event {
        time_ms,
        credential,
        subject,
        credential_kind: kind,
        principal: named.or(peer),
        peer_group,
        origin,
        user_agent: raw.user_agent.get(),
        operation: Cow::Owned(templated_operation(&method, &path)),
        service: raw.authority.get().or(raw.upstream_cluster.get()),
        resource: Some(narrow(path, path_only)),
        http_method: Some(method),
        http_status,
        outcome: http_status.map_or(Outcome::Unknown, Outcome::from_http_status),
        error_code: raw.response_flags.get(),
        bytes_out: raw.bytes_sent.as_u64(),
        request: crate::RequestFacts::NONE,
        event_uid: raw.request_id.get(),
        cloud: crate::CloudContext::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorType, Format, Pseudonymizer};

    /// Istio's default JSON format on an Istio 1.2x sidecar (typed numbers, `null` for none), with
    /// the operator's `"x_api_key": "%REQ(X-API-KEY)%"` and `"downstream_peer_uri_san"` added.
    const SIDECAR: &str = r#"{"authority":"orders.shop.svc.cluster.local:8080","bytes_received":0,"bytes_sent":1234,
      "connection_termination_details":null,"downstream_local_address":"10.0.1.5:8080",
      "downstream_remote_address":"10.0.1.3:45678","duration":45,"method":"GET",
      "path":"/v1/orders/8812?expand=items","protocol":"HTTP/1.1","request_id":"7d1c2b9e-3f4a-4c55-9e0f-1a2b3c4d5e6f",
      "requested_server_name":"outbound_.8080_._.orders.shop.svc.cluster.local","response_code":200,
      "response_code_details":"via_upstream","response_flags":"-","route_name":"default",
      "start_time":"2024-07-30T21:31:21.250Z","upstream_cluster":"inbound|8080||",
      "upstream_host":"10.0.2.10:8080","upstream_local_address":"127.0.0.6:34567","upstream_service_time":"43",
      "upstream_transport_failure_reason":null,"user_agent":"curl/8.5.0","x_forwarded_for":null,
      "x_api_key":"sk_live_51Hx8example","downstream_peer_uri_san":"spiffe://cluster.local/ns/checkout/sa/checkout-api"}"#;

    /// An ingress gateway on an older Istio: all values strings, `-` for none, a bearer token.
    const GATEWAY: &str = r#"{"authority":"api.example.com","bytes_received":"0","bytes_sent":"19",
      "downstream_local_address":"10.244.0.12:8443","downstream_remote_address":"10.244.0.1:50168",
      "duration":"3","istio_policy_status":"-","method":"POST","path":"/payments","protocol":"HTTP/2",
      "request_id":"c463717a-a722-47c6-8ec1-ea8f90b9ea58","requested_server_name":"api.example.com",
      "response_code":"403","response_flags":"UAEX","route_name":"-","start_time":"2020-03-07T16:06:58.480Z",
      "upstream_cluster":"outbound|80|v1|payments.default.svc.cluster.local","upstream_host":"-",
      "upstream_local_address":"-","upstream_service_time":"-","upstream_transport_failure_reason":"-",
      "user_agent":"okhttp/4.12.0","x_forwarded_for":"198.51.100.23, 10.244.0.1",
      "authorization":"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJl","jwt_sub":"user-42"}"#;

    fn decoder() -> Decoder {
        Decoder::new(Format::Envoy, Pseudonymizer::insecure_demo())
    }

    #[test]
    fn sidecar_with_api_key_and_peer() {
        let d = decoder();
        let e = d.decode_one(SIDECAR.as_bytes()).unwrap();
        assert_eq!(e.time_ms, 1_722_375_081_250);
        assert_eq!(e.credential, d.pseudonymizer().credential("sk_live_51Hx8example"));
        assert_eq!(e.credential_kind, CredentialKind::ApiKey);
        assert_eq!(e.subject, e.credential);
        assert_eq!(e.principal.as_deref(), Some("spiffe://cluster.local/ns/checkout/sa/checkout-api"));
        assert_eq!(e.peer_group.as_deref(), Some("spiffe://cluster.local/ns/checkout"));
        assert_eq!(e.operation, "GET /v1/orders/{id}");
        assert_eq!(e.resource.as_deref(), Some("/v1/orders/8812"));
        assert!(matches!(e.resource, Some(Cow::Borrowed(_))));
        assert_eq!(e.service.as_deref(), Some("orders.shop.svc.cluster.local:8080"));
        assert_eq!(e.origin.ip, Some("10.0.1.3".parse().unwrap()));
        assert_eq!((e.http_status, e.outcome), (Some(200), Outcome::Success));
        assert_eq!(e.error_code, None);
        assert_eq!(e.bytes_out, Some(1234));
        assert_eq!(e.user_agent.as_deref(), Some("curl/8.5.0"));
        assert_eq!(e.event_uid.as_deref(), Some("7d1c2b9e-3f4a-4c55-9e0f-1a2b3c4d5e6f"));
        assert!(!format!("{e:?}").contains("sk_live"));
    }

    #[test]
    fn gateway_with_bearer_token_rolls_up_to_subject() {
        let d = decoder();
        let e = d.decode_one(GATEWAY.as_bytes()).unwrap();
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJl";
        assert_eq!(e.credential, d.pseudonymizer().credential(token));
        assert_eq!(e.credential_kind, CredentialKind::Token);
        assert_eq!(e.subject, d.pseudonymizer().pseudonymize(Namespace::Session, "user-42"));
        assert_eq!(e.principal.as_deref(), Some("user-42"));
        assert_eq!(e.peer_group, None);
        assert_eq!(e.origin.ip, Some("198.51.100.23".parse().unwrap()));
        assert_eq!((e.http_status, e.outcome), (Some(403), Outcome::Denied));
        assert_eq!(e.error_code.as_deref(), Some("UAEX"));
        assert_eq!(e.service.as_deref(), Some("api.example.com"));
        assert_eq!(e.operation, "POST /payments");
        assert_eq!(e.bytes_out, Some(19));
        let shown = format!("{e:?}");
        assert!(!shown.contains("eyJ"), "{shown}");
        // A refreshed token is a new credential of the same subject.
        let refreshed = GATEWAY.replace("c2lnbmF0dXJl", "b3RoZXJzaWc");
        let e2 = d.decode_one(refreshed.as_bytes()).unwrap();
        assert_ne!(e2.credential, e.credential);
        assert_eq!(e2.subject, e.subject);
    }

    #[test]
    fn credential_precedence_and_fallbacks() {
        let d = decoder();
        let base = r#"{"start_time":"2024-07-30T21:31:21Z","method":"GET","path":"/x","response_code":0,
            "downstream_remote_address":"[2001:db8::9]:443","x-request-id":"r1","user-agent":"ua",":authority":"h""#;
        let with = |extra: &str| format!("{base}{extra}}}");
        let r1 = with(r#","consumer":"team-a","downstream_peer_subject":"CN=svc""#);
        let e = d.decode_one(r1.as_bytes()).unwrap();
        assert_eq!((e.credential_kind, e.principal.as_deref()), (CredentialKind::Principal, Some("team-a")));
        assert_eq!(e.credential, d.pseudonymizer().credential("team-a"));
        assert_eq!(e.origin.ip, Some("2001:db8::9".parse().unwrap()));
        assert_eq!((e.http_status, e.outcome), (None, Outcome::Unknown));
        assert_eq!((e.event_uid.as_deref(), e.user_agent.as_deref()), (Some("r1"), Some("ua")));
        assert_eq!(e.service.as_deref(), Some("h"));
        let r2 = with(r#","downstream_peer_subject":"CN=svc,O=corp""#);
        let e = d.decode_one(r2.as_bytes()).unwrap();
        assert_eq!(e.credential_kind, CredentialKind::ServiceAccount);
        assert_eq!(e.peer_group, None);
        let r3 = with(r#","x-api-key":"k","authorization":"Bearer t""#);
        let e = d.decode_one(r3.as_bytes()).unwrap();
        assert_eq!((e.credential_kind, e.credential), (CredentialKind::ApiKey, d.pseudonymizer().credential("k")));
        let r4 = with(r#","token":"opaque-token""#);
        let e = d.decode_one(r4.as_bytes()).unwrap();
        assert_eq!(e.credential, d.pseudonymizer().credential("opaque-token"));
        assert_eq!(e.subject, e.credential, "no principal to roll up to");
        let none = with(r#","authorization":"Bearer ","x_api_key":"-""#);
        let err = d.decode_one(none.as_bytes()).unwrap_err();
        assert_eq!(err, DecodeError::MissingField("credential"));
        // The same request rejected with 401: an attempt that named no credential.
        let rejected = with(r#","authorization":"Bearer ""#).replace(r#""response_code":0"#, r#""response_code":401"#);
        let e = d.decode_one(rejected.as_bytes()).unwrap();
        assert_eq!((e.credential_kind, e.outcome), (CredentialKind::Missing, Outcome::AuthFailed));
        let r5 = with(r#","jwt_sub":"u","x_forwarded_for":"unknown""#);
        let e = d.decode_one(r5.as_bytes()).unwrap();
        assert_eq!(e.origin.ip, Some("2001:db8::9".parse().unwrap()), "unparseable XFF falls back");
    }

    #[test]
    fn batches_and_errors() {
        let d = decoder();
        let batch = format!(r#"[{SIDECAR},{{"method":"GET","path":"/","jwt_sub":"u"}},{GATEWAY}]"#);
        let mut out = Vec::new();
        d.decode(batch.as_bytes(), &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out[1].as_ref().unwrap_err(), &DecodeError::MissingField("start_time"));
        assert!(out[0].is_ok() && out[2].is_ok());
        let cases: &[(&str, ErrorType)] = &[
            ("{", ErrorType::InvalidJson),
            ("42", ErrorType::InvalidJson),
            (r#"{"start_time":"-","method":"GET","path":"/"}"#, ErrorType::MissingField),
            (r#"{"start_time":"noon","method":"GET","path":"/","jwt_sub":"u"}"#, ErrorType::InvalidField),
            (r#"{"start_time":"2024-07-30T21:31:21Z","path":"/","jwt_sub":"u"}"#, ErrorType::MissingField),
            (r#"{"start_time":"2024-07-30T21:31:21Z","method":"GET","jwt_sub":"u"}"#, ErrorType::MissingField),
            (r#"{"start_time":"2024-07-30T21:31:21Z","method":"GET","path":"/"}"#, ErrorType::MissingField),
        ];
        for (input, want) in cases {
            let err = d.decode_one(input.as_bytes()).unwrap_err();
            assert_eq!(err.error_type(), *want, "{err} for {input}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(strip_bearer("Bearer abc"), "abc");
        assert_eq!(strip_bearer("bearer   abc"), "abc");
        assert_eq!(strip_bearer("Basic dXNlcg=="), "Basic dXNlcg==");
        assert_eq!(strip_bearer("Bear"), "Bear");
        assert_eq!(strip_bearer("Beärer x"), "Beärer x");
        assert_eq!(spiffe_namespace("spiffe://td/ns/a/sa/b"), Some("spiffe://td/ns/a"));
        assert_eq!(spiffe_namespace("spiffe://td/ns/a"), Some("spiffe://td/ns/a"));
        assert_eq!(spiffe_namespace("spiffe://td/ns//sa/b"), None);
        assert_eq!(spiffe_namespace("spiffe://td/workload"), None);
        assert_eq!(spiffe_namespace("CN=x"), None);
    }
}

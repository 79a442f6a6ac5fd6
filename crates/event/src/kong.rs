//! Kong Gateway's log serializer JSON (`kong.log.serialize`), as sent by the http-log, kafka-log,
//! file-log, tcp-log and udp-log plugins: one object, or an array of them when the plugin batches.
//!
//! Mapping:
//! - credential: `authenticated_entity.id`, the id of the credential a key-auth / jwt / oauth2 /
//!   basic-auth plugin accepted (kind `ApiKey`); else the consumer (`consumer.id`, then
//!   `consumer.username`, kind `Principal`). A request with neither was anonymous and is rejected
//!   with `MissingField("authenticated_entity")`: there is nothing to attribute it to; unless
//!   Kong answered it 401: then it is an attempt without a valid credential, kept for the
//!   key-spray detector with the key it presented (`request.headers.apikey` / `x-api-key` /
//!   `authorization`, pseudonymised at once), or kind `Missing` when none is logged.
//! - principal: `consumer.username`, `consumer.custom_id`, `consumer.id`, then
//!   `authenticated_entity.consumer_id`.
//! - peer_group: a `consumer_group` field when the operator adds one (`custom_fields_by_lua`; Kong's
//!   default serializer logs no consumer group), else the service name, so that a consumer is
//!   compared with the other callers of the same upstream API.
//! - operation: `<METHOD> <route path>`: the route path the request matched (longest plain prefix
//!   of the URI among `route.paths`, else the first path), else the route name; with no route,
//!   the URI path with id-like segments replaced by `{id}` ([`templated_operation`]). Never the
//!   raw URI, whose cardinality is unbounded.
//! - service: `service.name`, else `service.host`. resource: the URI path without query string.
//! - time: `started_at` (epoch ms). origin: `client_ip`. user agent: `request.headers.user-agent`.
//! - http_status / outcome: `response.status`. bytes_out: `response.size`.
//! - event_uid: `request.id`, else the `x-kong-request-id` response header, else the
//!   correlation-id plugin's `kong-request-id` or an `x-request-id` request header.
//!
//! Only the headers named above are ever read: `apikey`, `authorization` and the like are read
//! only for a rejected request without an accepted credential, and only to pseudonymise.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use crate::mapped::lenient::{narrow, records, Number, Obj, Text};
use crate::{parse_ip, time, CredentialKind, DecodeError, Decoder, Event, Origin, Outcome};

#[derive(Deserialize, Default)]
#[serde(default)]
struct Raw<'a> {
    started_at: Number,
    #[serde(borrow)]
    client_ip: Text<'a>,
    #[serde(borrow)]
    request: Obj<Request<'a>>,
    #[serde(borrow)]
    response: Obj<Response<'a>>,
    #[serde(borrow)]
    route: Obj<Route<'a>>,
    #[serde(borrow)]
    service: Obj<Service<'a>>,
    #[serde(borrow)]
    consumer: Obj<Consumer<'a>>,
    #[serde(borrow)]
    authenticated_entity: Obj<Entity<'a>>,
    #[serde(borrow)]
    consumer_group: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Request<'a> {
    #[serde(borrow)]
    method: Text<'a>,
    #[serde(borrow)]
    uri: Text<'a>,
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    headers: Obj<RequestHeaders<'a>>,
}

/// The request headers detection uses. Every other header (credentials included) is skipped.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RequestHeaders<'a> {
    #[serde(borrow, rename = "user-agent")]
    user_agent: Text<'a>,
    #[serde(borrow, rename = "kong-request-id")]
    kong_request_id: Text<'a>,
    #[serde(borrow, rename = "x-request-id")]
    x_request_id: Text<'a>,
    /// The key presented, read only for a request rejected with 401 and no accepted credential,
    /// and pseudonymised at once (key-auth's default header names).
    #[serde(borrow, alias = "x-api-key")]
    apikey: Text<'a>,
    /// Read as `apikey`.
    #[serde(borrow)]
    authorization: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Response<'a> {
    status: Number,
    size: Number,
    #[serde(borrow)]
    headers: Obj<ResponseHeaders<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResponseHeaders<'a> {
    #[serde(borrow, rename = "x-kong-request-id")]
    request_id: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Route<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    paths: Paths<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Service<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    host: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Consumer<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    username: Text<'a>,
    #[serde(borrow)]
    custom_id: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Entity<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    consumer_id: Text<'a>,
}

/// Up to [`MAX_PATHS`] of a route's paths, without allocating; routes rarely have more.
#[derive(Default)]
struct Paths<'a>([Option<Cow<'a, str>>; MAX_PATHS]);

const MAX_PATHS: usize = 8;

impl<'de: 'a, 'a> Deserialize<'de> for Paths<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Paths<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of paths")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Paths::default();
                let mut i = 0;
                while let Some(t) = seq.next_element::<Text<'a>>()? {
                    if let (Some(slot), Some(p)) = (out.0.get_mut(i), t.get()) {
                        *slot = Some(p);
                        i += 1;
                    }
                }
                Ok(out)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Paths::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Paths::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Paths::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Paths::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Paths::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Paths::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Paths::default())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'a> Paths<'a> {
    /// The path this URI matched: the longest plain (non-regex) path that prefixes it on a segment
    /// boundary, else the first path, which for regex routes is the best bounded name available.
    fn matched(self, uri_path: &str) -> Option<Cow<'a, str>> {
        let mut best: Option<Cow<'a, str>> = None;
        let mut first: Option<Cow<'a, str>> = None;
        for p in self.0.into_iter().flatten() {
            let hit = !p.starts_with('~') && prefixes(&p, uri_path);
            if hit && best.as_ref().is_none_or(|b| p.len() > b.len()) {
                best = Some(p.clone());
            }
            if first.is_none() {
                first = Some(p);
            }
        }
        best.or(first)
    }
}

/// True when `prefix` is a path prefix of `path` ending on a segment boundary.
fn prefixes(prefix: &str, path: &str) -> bool {
    path.starts_with(prefix)
        && (prefix.ends_with('/') || path.len() == prefix.len() || path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// The path part of a request target: no query string, no fragment.
pub(crate) fn path_only(target: &str) -> &str {
    let end = target.find(['?', '#']).unwrap_or(target.len());
    &target[..end]
}

/// `<METHOD> <path>` with id-like path segments (numbers, UUIDs, long hex, random-looking tokens,
/// e-mail addresses) replaced by `{id}`, so that `/v1/orders/8812/items` and
/// `/v1/orders/8813/items` are one operation. The query string is dropped.
pub(crate) fn templated_operation(method: &str, target: &str) -> String {
    let path = path_only(target);
    let mut out = String::with_capacity(method.len() + 1 + path.len());
    out.push_str(method);
    out.push(' ');
    if path.is_empty() {
        out.push('/');
        return out;
    }
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(if is_id_segment(seg) { "{id}" } else { seg });
    }
    out
}

/// Whether a path segment looks like an identifier rather than part of the API's shape.
fn is_id_segment(seg: &str) -> bool {
    let b = seg.as_bytes();
    if b.is_empty() {
        return false;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == b.len() || seg.contains('@') {
        return true;
    }
    let is_uuid = b.len() == 36
        && b.iter()
            .enumerate()
            .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() });
    if is_uuid || (b.len() >= 16 && digits > 0 && b.iter().all(u8::is_ascii_hexdigit)) {
        return true;
    }
    let mut run = 0;
    for c in b {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 4 {
            return true;
        }
    }
    // Random-looking tokens such as `cus_NffrFeUfNV2Hib`: long, mixed case, with a digit.
    b.len() >= 10
        && digits > 0
        && b.iter().any(u8::is_ascii_uppercase)
        && b.iter().any(u8::is_ascii_lowercase)
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
}

pub(crate) fn decode<'a>(decoder: &Decoder, text: &'a str, out: &mut Vec<Result<Event<'a>, DecodeError>>) {
    match records(text) {
        Ok(recs) => recs.for_each(|rec| out.push(decode_record(decoder, rec))),
        Err(e) => out.push(Err(DecodeError::json(e))),
    }
}

fn decode_record<'a>(decoder: &Decoder, text: &'a str) -> Result<Event<'a>, DecodeError> {
    let raw: Raw<'a> = serde_json::from_str(text).map_err(DecodeError::json)?;
    let time_ms = match raw.started_at.0 {
        Some(v) => time::epoch_to_ms(v)
            .ok_or_else(|| DecodeError::invalid("started_at", "not an epoch time between 1970-01-01 and 9999-12-31"))?,
        None => return Err(DecodeError::MissingField("started_at")),
    };
    let request = raw.request.0.ok_or(DecodeError::MissingField("request"))?;
    let method = request.method.get().ok_or(DecodeError::MissingField("request.method"))?;
    let resource = request.uri.get().map(|u| narrow(u, path_only));
    let uri_path = resource.as_deref().unwrap_or("/");

    let (route_path, route_name) = match raw.route.0 {
        Some(r) => (r.paths.matched(uri_path), r.name.get()),
        None => (None, None),
    };
    let operation = match route_path.or(route_name) {
        Some(route) => format!("{method} {route}"),
        None => templated_operation(&method, uri_path),
    };

    let entity = raw.authenticated_entity.0.unwrap_or_default();
    let consumer = raw.consumer.0.unwrap_or_default();
    let (entity_id, entity_consumer) = (entity.id.get(), entity.consumer_id.get());
    let (consumer_id, username, custom_id) = (consumer.id.get(), consumer.username.get(), consumer.custom_id.get());
    let pseudo = decoder.pseudonymizer();
    let headers = request.headers.0.unwrap_or_default();
    let response = raw.response.0.unwrap_or_default();
    let http_status = response.status.as_status();
    let (credential, kind) = if let Some(id) = entity_id.as_deref() {
        (pseudo.credential(id), CredentialKind::ApiKey)
    } else if let Some(c) = consumer_id.as_deref().or(username.as_deref()) {
        (pseudo.credential(c), CredentialKind::Principal)
    } else if http_status == Some(401) {
        // Rejected, no credential accepted: kept as evidence of a key spray, with the key it
        // presented (pseudonymised here; Kong's `hide_credentials` removes it: then none).
        let presented = headers.apikey.get().or_else(|| headers.authorization.get());
        match presented.as_deref().map(crate::envoy::strip_bearer).filter(|k| !k.is_empty()) {
            Some(key) => (pseudo.credential(key), CredentialKind::ApiKey),
            None => (pseudo.credential(""), CredentialKind::Missing),
        }
    } else {
        return Err(DecodeError::MissingField("authenticated_entity"));
    };
    let principal = username.or(custom_id).or(consumer_id).or(entity_consumer);

    let (service_name, service_host) = match raw.service.0 {
        Some(s) => (s.name.get(), s.host.get()),
        None => (None, None),
    };
    let peer_group = raw.consumer_group.get().or_else(|| service_name.clone());

    let mut origin = Origin::default();
    if let Some(ip) = raw.client_ip.get() {
        match parse_ip(&ip) {
            Some(addr) => origin.ip = Some(addr),
            None => origin.host = Some(ip),
        }
    }

    let response_request_id = response.headers.0.and_then(|h| h.request_id.get());
    let event_uid = request
        .id
        .get()
        .or(response_request_id)
        .or_else(|| headers.kong_request_id.get())
        .or_else(|| headers.x_request_id.get());

    Ok(Event {
        time_ms,
        credential,
        subject: credential,
        credential_kind: kind,
        principal,
        peer_group,
        origin,
        user_agent: headers.user_agent.get(),
        operation: Cow::Owned(operation),
        service: service_name.or(service_host),
        resource,
        http_method: Some(method),
        http_status,
        outcome: http_status.map_or(Outcome::Unknown, Outcome::from_http_status),
        error_code: None,
        bytes_out: response.size.as_u64(),
        request: crate::RequestFacts::NONE,
        event_uid,
        cloud: crate::CloudContext::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorType, Format, Pseudonymizer};

    /// The shape of Kong 3.x's documented http-log sample, with key-auth and a consumer added.
    const SAMPLE: &str = r#"{
      "response": {"size": 9982, "status": 200, "headers": {"content-type": "application/json",
        "x-kong-upstream-latency": "171", "x-kong-proxy-latency": "1",
        "x-kong-request-id": "2f6946328ffc4946b8c9120704a4a155"}},
      "route": {"updated_at": 1726782477, "tags": [], "response_buffering": true, "path_handling": "v0",
        "protocols": ["http", "https"], "service": {"id": "fb4eecf8-dec2-40ef-b779-16de7e2384c7"},
        "https_redirect_status_code": 426, "regex_priority": 0, "name": "orders_route",
        "id": "0f1a4101-3327-4274-b1e4-484a4ab0c030", "strip_path": true, "preserve_host": false,
        "created_at": 1726782477, "request_buffering": true, "ws_id": "f381e34e-5c25-4e65-b91b-3c0a86cfc393",
        "paths": ["/v1", "/v1/orders", "~/v1/legacy/\\d+$"]},
      "workspace": "f381e34e-5c25-4e65-b91b-3c0a86cfc393", "workspace_name": "default",
      "tries": [{"balancer_start": 1726783839539, "balancer_start_ns": 1.7267838395395e+18,
        "ip": "34.237.204.224", "balancer_latency": 0, "port": 80, "balancer_latency_ns": 27904}],
      "client_ip": "192.168.65.1",
      "request": {"id": "2f6946328ffc4946b8c9120704a4a155",
        "headers": {"accept": "*/*", "user-agent": "HTTPie/3.2.3", "host": "localhost:8000",
          "apikey": "my-secret-key-value", "authorization": "REDACTED",
          "connection": "keep-alive", "accept-encoding": "gzip, deflate"},
        "uri": "/v1/orders/8812?expand=items", "size": 139, "method": "GET",
        "querystring": {"expand": "items"}, "url": "http://localhost:8000/v1/orders/8812?expand=items"},
      "upstream_uri": "/orders/8812?expand=items", "started_at": 1726783839538, "source": "upstream",
      "upstream_status": "200",
      "latencies": {"kong": 1, "proxy": 171, "request": 173, "receive": 0},
      "service": {"write_timeout": 60000, "read_timeout": 60000, "updated_at": 1726782459, "host": "httpbin.konghq.com",
        "name": "orders_service", "id": "fb4eecf8-dec2-40ef-b779-16de7e2384c7", "port": 80, "enabled": true,
        "created_at": 1726782459, "protocol": "http", "ws_id": "f381e34e-5c25-4e65-b91b-3c0a86cfc393",
        "connect_timeout": 60000, "retries": 5},
      "consumer": {"id": "e9fd3e8a-3b1c-4a76-9b68-1c4c1b2b6d35", "username": "acme-billing",
        "custom_id": "cust-0042", "created_at": 1726782400, "tags": null},
      "authenticated_entity": {"id": "a1b2c3d4-0000-4f00-8000-5e6f7a8b9c0d",
        "consumer_id": "e9fd3e8a-3b1c-4a76-9b68-1c4c1b2b6d35"}
    }"#;

    fn decoder() -> Decoder {
        Decoder::new(Format::Kong, Pseudonymizer::insecure_demo())
    }

    #[test]
    fn decodes_documented_sample() {
        let d = decoder();
        let e = d.decode_one(SAMPLE.as_bytes()).unwrap();
        assert_eq!(e.time_ms, 1_726_783_839_538);
        assert_eq!(e.credential, d.pseudonymizer().credential("a1b2c3d4-0000-4f00-8000-5e6f7a8b9c0d"));
        assert_eq!(e.subject, e.credential);
        assert_eq!(e.credential_kind, CredentialKind::ApiKey);
        assert_eq!(e.principal.as_deref(), Some("acme-billing"));
        assert_eq!(e.peer_group.as_deref(), Some("orders_service"));
        assert_eq!(e.operation, "GET /v1/orders");
        assert_eq!(e.service.as_deref(), Some("orders_service"));
        assert_eq!(e.resource.as_deref(), Some("/v1/orders/8812"));
        assert_eq!(e.http_method.as_deref(), Some("GET"));
        assert_eq!(e.http_status, Some(200));
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.bytes_out, Some(9982));
        assert_eq!(e.origin.ip, Some("192.168.65.1".parse().unwrap()));
        assert_eq!(e.user_agent.as_deref(), Some("HTTPie/3.2.3"));
        assert_eq!(e.event_uid.as_deref(), Some("2f6946328ffc4946b8c9120704a4a155"));
        assert!(matches!(e.resource, Some(Cow::Borrowed(_))));
        let shown = format!("{e:?}");
        assert!(!shown.contains("my-secret-key-value"), "{shown}");
    }

    #[test]
    fn batches_decode_per_record() {
        let anonymous = r#"{"started_at":1726783839600,"client_ip":"203.0.113.50",
            "request":{"method":"GET","uri":"/v1/orders/1","headers":{"apikey":"guessed-key"}},
            "response":{"status":401,"size":"96"}}"#;
        let batch = format!("[{SAMPLE},{anonymous},{SAMPLE}]");
        let mut out = Vec::new();
        decoder().decode(batch.as_bytes(), &mut out);
        assert_eq!(out.len(), 3);
        assert!(out[0].is_ok() && out[2].is_ok());
        // Rejected with 401 and no accepted credential: an attempt, with its key pseudonymised.
        let attempt = out[1].as_ref().unwrap();
        assert_eq!(attempt.outcome, Outcome::AuthFailed);
        assert_eq!(attempt.credential, decoder().pseudonymizer().credential("guessed-key"));
        assert!(!format!("{attempt:?}").contains("guessed-key"));
    }

    /// Anonymous requests: one rejected with no key logged is an attempt naming none; one let
    /// through (no auth plugin on the route) has nothing to attribute it to.
    #[test]
    fn anonymous_requests_are_attempts_only_when_rejected() {
        let d = decoder();
        let rec = |status: u16, headers: &str| {
            format!(
                r#"{{"started_at":1726783839600,"client_ip":"203.0.113.50","request":{{"method":"GET","uri":"/v1/x","headers":{headers}}},"response":{{"status":{status}}}}}"#
            )
        };
        let (m, b) = (rec(401, "{}"), rec(401, r#"{"authorization":"Bearer tok-123"}"#));
        let missing = d.decode_one(m.as_bytes()).unwrap();
        assert_eq!(
            (missing.credential_kind, missing.credential),
            (CredentialKind::Missing, d.pseudonymizer().credential(""))
        );
        let bearer = d.decode_one(b.as_bytes()).unwrap();
        assert_eq!(bearer.credential, d.pseudonymizer().credential("tok-123"));
        let err = d.decode_one(rec(200, r#"{"apikey":"k"}"#).as_bytes()).unwrap_err();
        assert_eq!(err, DecodeError::MissingField("authenticated_entity"));
    }

    #[test]
    fn consumer_only_and_string_numbers() {
        let rec = r#"{"started_at":1726783839600,"client_ip":"2001:db8::7",
            "request":{"method":"DELETE","uri":"/internal/users/550e8400-e29b-41d4-a716-446655440000",
                       "headers":{"user-agent":["sdk/1.0","dup"],"x-request-id":"req-77"}},
            "response":{"status":"403","size":"96"},
            "consumer":{"id":"c-1","custom_id":"tenant-7"},"consumer_group":"gold"}"#;
        let d = decoder();
        let e = d.decode_one(rec.as_bytes()).unwrap();
        assert_eq!(e.credential_kind, CredentialKind::Principal);
        assert_eq!(e.credential, d.pseudonymizer().credential("c-1"));
        assert_eq!(e.principal.as_deref(), Some("tenant-7"));
        assert_eq!(e.peer_group.as_deref(), Some("gold"));
        assert_eq!(e.operation, "DELETE /internal/users/{id}");
        assert_eq!(e.http_status, Some(403));
        assert_eq!(e.outcome, Outcome::Denied);
        assert_eq!(e.bytes_out, Some(96));
        assert_eq!(e.user_agent.as_deref(), Some("sdk/1.0"));
        assert_eq!(e.event_uid.as_deref(), Some("req-77"));
        assert_eq!(e.service, None);
    }

    #[test]
    fn route_name_when_no_paths() {
        let rec = r#"{"started_at":1726783839600,"request":{"method":"POST","uri":"/graphql"},
            "response":{"status":200},"route":{"name":"gql","paths":null,"hosts":["api.example.com"]},
            "authenticated_entity":{"id":"k"}}"#;
        assert_eq!(decoder().decode_one(rec.as_bytes()).unwrap().operation, "POST gql");
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        let d = decoder();
        let cases: &[(&str, ErrorType)] = &[
            ("{", ErrorType::InvalidJson),
            ("[{},", ErrorType::InvalidJson),
            (r#"{"request":{"method":"GET"}}"#, ErrorType::MissingField),
            (r#"{"started_at":-3,"request":{"method":"GET"}}"#, ErrorType::InvalidField),
            (r#"{"started_at":1726783839600,"request":"GET /"}"#, ErrorType::MissingField),
            (r#"{"started_at":1726783839600,"request":{"uri":"/"},"consumer":{"id":"c"}}"#, ErrorType::MissingField),
            (r#"{"started_at":"x","request":{"method":"GET"},"consumer":{"id":"c"}}"#, ErrorType::MissingField),
        ];
        for (input, want) in cases {
            let err = d.decode_one(input.as_bytes()).unwrap_err();
            assert_eq!(err.error_type(), *want, "{err} for {input}");
        }
        let mut out = Vec::new();
        d.decode(b"[]", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn templating_keeps_shape_and_drops_ids() {
        let cases = [
            ("/v1/orders/12345/items?x=1", "GET /v1/orders/{id}/items"),
            ("/api/v2/users/550e8400-e29b-41d4-a716-446655440000", "GET /api/v2/users/{id}"),
            ("/objects/507f1f77bcf86cd799439011", "GET /objects/{id}"),
            ("/customers/cus_NffrFeUfNV2Hib/charges", "GET /customers/{id}/charges"),
            ("/invoices/INV-2024-0001", "GET /invoices/{id}"),
            ("/users/alice@example.com", "GET /users/{id}"),
            ("/v1/s3/oauth2/sha256/get-user-by-email-v2/", "GET /v1/s3/oauth2/sha256/get-user-by-email-v2/"),
            ("", "GET /"),
            ("?q=1", "GET /"),
            ("/", "GET /"),
        ];
        for (path, want) in cases {
            assert_eq!(templated_operation("GET", path), want, "{path}");
        }
    }

    #[test]
    fn route_path_matching_is_on_segment_boundaries() {
        assert!(prefixes("/v1", "/v1/orders"));
        assert!(prefixes("/v1/", "/v1/orders"));
        assert!(prefixes("/v1", "/v1"));
        assert!(!prefixes("/v1", "/v10/orders"));
        assert!(!prefixes("/v1/orders", "/v1"));
    }
}

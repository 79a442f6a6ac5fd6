//! OCSF 1.x API Activity (class_uid 6003): the primary input format.
//!
//! Decoding reads only the attributes detection needs, borrowing strings from the input; encoding
//! ([`ApiActivity`]) writes schema-valid records, for the simulator and for tests.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::{
    parse_ip, time, Country, CredentialKind, DecodeError, Decoder, Event, GeoPoint, Namespace, Origin, Outcome,
};

/// OCSF class uid of API Activity.
pub const API_ACTIVITY_CLASS_UID: u32 = 6003;

use crate::json::{cow, OptStr as Str};
use crate::mapped::lenient::First;

/// The attributes detection reads, each written in place as the parser meets it. serde's derive
/// would build every nested object (`actor`, `actor.user`, `src_endpoint.location`, ...) in its own
/// frame and move it up level by level: a record's 750 bytes copied three times, each copy reading
/// stores still in flight. Here one flat struct is filled once ([`Part`]); the small leaf objects
/// keep serde's derive.
#[derive(Default)]
struct Fields<'a> {
    class_uid: Option<u32>,
    time: Option<f64>,
    time_dt: Str<'a>,
    /// `actor` was an object.
    actor: bool,
    user_uid: Str<'a>,
    user_name: Str<'a>,
    user_credential_uid: Str<'a>,
    user_type: Str<'a>,
    session_uid: Str<'a>,
    session_credential_uid: Str<'a>,
    session_issuer: Str<'a>,
    app_name: Str<'a>,
    /// `api` was an object.
    api: bool,
    operation: Str<'a>,
    service: Option<Named<'a>>,
    request: Option<Uid<'a>>,
    response: Option<ApiResponse<'a>>,
    http_method: Str<'a>,
    user_agent: Str<'a>,
    url: Option<Url<'a>>,
    http_response: Option<HttpResponse>,
    ip: Str<'a>,
    hostname: Str<'a>,
    domain: Str<'a>,
    autonomous_system: Option<AutonomousSystem>,
    country: Str<'a>,
    city: Str<'a>,
    lat: Option<f64>,
    long: Option<f64>,
    coordinates: Option<[f64; 2]>,
    resources: First<Resource<'a>>,
    status_id: Option<u8>,
    status_code: Str<'a>,
    metadata: Option<Metadata<'a>>,
}

impl<'de> Fields<'de> {
    /// Reads one OCSF record.
    fn read(text: &'de str) -> Result<Fields<'de>, serde_json::Error> {
        let mut fields = Fields::default();
        let mut de = serde_json::Deserializer::from_str(text);
        de.deserialize_map(ReadInto::<Root>::new(&mut fields))?;
        de.end()?;
        Ok(fields)
    }
}

/// One object of the record: its keys (the derived identifier, unknown keys as `Other`) and where
/// each key's value goes in [`Fields`].
trait Part<'de>: Deserialize<'de> {
    fn read<A: MapAccess<'de>>(self, f: &mut Fields<'de>, map: &mut A) -> Result<(), A::Error>;
}

/// Reads an object key by key into [`Fields`] as its [`Part`] says; `null` leaves them as they
/// were. Yields whether there was an object.
struct ReadInto<'f, 'de, P> {
    fields: &'f mut Fields<'de>,
    part: PhantomData<P>,
}

impl<'f, 'de, P> ReadInto<'f, 'de, P> {
    fn new(fields: &'f mut Fields<'de>) -> Self {
        ReadInto { fields, part: PhantomData }
    }
}

impl<'de, P: Part<'de>> DeserializeSeed<'de> for ReadInto<'_, 'de, P> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, P: Part<'de>> Visitor<'de> for ReadInto<'_, 'de, P> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while let Some(key) = map.next_key::<P>()? {
            key.read(self.fields, &mut map)?;
        }
        Ok(true)
    }
}

fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(drop)
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Root {
    ClassUid,
    Time,
    TimeDt,
    Actor,
    Api,
    HttpRequest,
    HttpResponse,
    SrcEndpoint,
    Resources,
    StatusId,
    StatusCode,
    Metadata,
    #[serde(other)]
    Other,
}

impl<'de> Part<'de> for Root {
    fn read<A: MapAccess<'de>>(self, f: &mut Fields<'de>, map: &mut A) -> Result<(), A::Error> {
        match self {
            Root::ClassUid => f.class_uid = map.next_value()?,
            Root::Time => f.time = map.next_value()?,
            Root::TimeDt => f.time_dt = map.next_value()?,
            Root::Actor => f.actor = map.next_value_seed(ReadInto::<Actor>::new(f))?,
            Root::Api => f.api = map.next_value_seed(ReadInto::<Api>::new(f))?,
            Root::HttpRequest => _ = map.next_value_seed(ReadInto::<HttpRequest>::new(f))?,
            Root::HttpResponse => f.http_response = map.next_value()?,
            Root::SrcEndpoint => _ = map.next_value_seed(ReadInto::<Endpoint>::new(f))?,
            Root::Resources => f.resources = map.next_value()?,
            Root::StatusId => f.status_id = map.next_value()?,
            Root::StatusCode => f.status_code = map.next_value()?,
            Root::Metadata => f.metadata = map.next_value()?,
            Root::Other => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Actor {
    User,
    Session,
    AppName,
    #[serde(other)]
    Other,
}

impl<'de> Part<'de> for Actor {
    fn read<A: MapAccess<'de>>(self, f: &mut Fields<'de>, map: &mut A) -> Result<(), A::Error> {
        match self {
            Actor::User => _ = map.next_value_seed(ReadInto::<User>::new(f))?,
            Actor::Session => _ = map.next_value_seed(ReadInto::<Session>::new(f))?,
            Actor::AppName => f.app_name = map.next_value()?,
            Actor::Other => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum User {
    Uid,
    Name,
    CredentialUid,
    Type,
    #[serde(other)]
    Other,
}

impl<'de> Part<'de> for User {
    fn read<A: MapAccess<'de>>(self, f: &mut Fields<'de>, map: &mut A) -> Result<(), A::Error> {
        match self {
            User::Uid => f.user_uid = map.next_value()?,
            User::Name => f.user_name = map.next_value()?,
            User::CredentialUid => f.user_credential_uid = map.next_value()?,
            User::Type => f.user_type = map.next_value()?,
            User::Other => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Session {
    Uid,
    CredentialUid,
    Issuer,
    #[serde(other)]
    Other,
}

impl<'de> Part<'de> for Session {
    fn read<A: MapAccess<'de>>(self, f: &mut Fields<'de>, map: &mut A) -> Result<(), A::Error> {
        match self {
            Session::Uid => f.session_uid = map.next_value()?,
            Session::CredentialUid => f.session_credential_uid = map.next_value()?,
            Session::Issuer => f.session_issuer = map.next_value()?,
            Session::Other => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Api {
    Operation,
    Service,
    Request,
    Response,
    #[serde(other)]
    Other,
}

impl<'de> Part<'de> for Api {
    fn read<A: MapAccess<'de>>(self, f: &mut Fields<'de>, map: &mut A) -> Result<(), A::Error> {
        match self {
            Api::Operation => f.operation = map.next_value()?,
            Api::Service => f.service = map.next_value()?,
            Api::Request => f.request = map.next_value()?,
            Api::Response => f.response = map.next_value()?,
            Api::Other => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum HttpRequest {
    HttpMethod,
    UserAgent,
    Url,
    #[serde(other)]
    Other,
}

impl<'de> Part<'de> for HttpRequest {
    fn read<A: MapAccess<'de>>(self, f: &mut Fields<'de>, map: &mut A) -> Result<(), A::Error> {
        match self {
            HttpRequest::HttpMethod => f.http_method = map.next_value()?,
            HttpRequest::UserAgent => f.user_agent = map.next_value()?,
            HttpRequest::Url => f.url = map.next_value()?,
            HttpRequest::Other => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Endpoint {
    Ip,
    Hostname,
    Domain,
    Location,
    AutonomousSystem,
    #[serde(other)]
    Other,
}

impl<'de> Part<'de> for Endpoint {
    fn read<A: MapAccess<'de>>(self, f: &mut Fields<'de>, map: &mut A) -> Result<(), A::Error> {
        match self {
            Endpoint::Ip => f.ip = map.next_value()?,
            Endpoint::Hostname => f.hostname = map.next_value()?,
            Endpoint::Domain => f.domain = map.next_value()?,
            Endpoint::Location => _ = map.next_value_seed(ReadInto::<Location>::new(f))?,
            Endpoint::AutonomousSystem => f.autonomous_system = map.next_value()?,
            Endpoint::Other => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Location {
    Country,
    City,
    Lat,
    Long,
    Coordinates,
    #[serde(other)]
    Other,
}

impl<'de> Part<'de> for Location {
    fn read<A: MapAccess<'de>>(self, f: &mut Fields<'de>, map: &mut A) -> Result<(), A::Error> {
        match self {
            Location::Country => f.country = map.next_value()?,
            Location::City => f.city = map.next_value()?,
            Location::Lat => f.lat = map.next_value()?,
            Location::Long => f.long = map.next_value()?,
            Location::Coordinates => f.coordinates = map.next_value()?,
            Location::Other => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    name: Str<'a>,
}

#[derive(Deserialize)]
struct Uid<'a> {
    #[serde(borrow)]
    uid: Str<'a>,
}

#[derive(Deserialize)]
struct ApiResponse<'a> {
    #[serde(borrow)]
    error: Str<'a>,
    code: Option<i64>,
}

#[derive(Deserialize)]
struct Url<'a> {
    #[serde(borrow)]
    path: Str<'a>,
}

#[derive(Deserialize)]
struct HttpResponse {
    code: Option<i64>,
    length: Option<u64>,
    body_length: Option<u64>,
}

#[derive(Deserialize)]
struct AutonomousSystem {
    number: Option<u32>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(borrow)]
    uid: Str<'a>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow)]
    uid: Str<'a>,
    #[serde(borrow)]
    name: Str<'a>,
}

fn nonempty(s: Str<'_>) -> Option<Cow<'_, str>> {
    cow(s)
}

/// Classifies a credential by its shape: AWS key ids say what they are.
pub(crate) fn kind_of_key(key: &str) -> CredentialKind {
    if key.starts_with("AKIA") {
        CredentialKind::AccessKey
    } else if key.starts_with("ASIA") {
        CredentialKind::TemporaryKey
    } else {
        CredentialKind::ApiKey
    }
}

pub(crate) fn decode<'a>(decoder: &Decoder, text: &'a str, out: &mut Vec<Result<Event<'a>, DecodeError>>) {
    out.push(decode_record(decoder, text));
}

fn decode_record<'a>(decoder: &Decoder, text: &'a str) -> Result<Event<'a>, DecodeError> {
    let raw = Fields::read(text).map_err(DecodeError::json)?;
    match raw.class_uid {
        Some(API_ACTIVITY_CLASS_UID) => {}
        Some(other) => {
            return Err(DecodeError::WrongFormat {
                format: "ocsf",
                reason: format!("class_uid {other} is not API Activity (6003)"),
            })
        }
        None => return Err(DecodeError::MissingField("class_uid")),
    }
    let time_dt = nonempty(raw.time_dt);
    let time_ms = match (raw.time, time_dt.as_deref()) {
        (Some(t), _) => time::epoch_to_ms(t)
            .ok_or_else(|| DecodeError::invalid("time", "not an epoch time between 1970-01-01 and 9999-12-31"))?,
        (None, Some(dt)) => {
            time::parse_rfc3339_ms(dt).ok_or_else(|| DecodeError::invalid("time_dt", "not RFC 3339"))?
        }
        (None, None) => return Err(DecodeError::MissingField("time")),
    };
    if !raw.actor {
        return Err(DecodeError::MissingField("actor"));
    }
    if !raw.api {
        return Err(DecodeError::MissingField("api"));
    }
    let operation = nonempty(raw.operation).ok_or(DecodeError::MissingField("api.operation"))?;

    let (user_uid, user_name, user_cred) =
        (nonempty(raw.user_uid), nonempty(raw.user_name), nonempty(raw.user_credential_uid));
    let (session_uid, session_cred, issuer) =
        (nonempty(raw.session_uid), nonempty(raw.session_credential_uid), nonempty(raw.session_issuer));
    let principal = user_uid.clone().or(user_name);

    let app_name = nonempty(raw.app_name);
    // The credential presented: an explicit credential uid first, then the session, then the user.
    let (raw_credential, mut kind) = if let Some(c) = user_cred.as_deref().or(session_cred.as_deref()) {
        (c, kind_of_key(c))
    } else if let Some(s) = session_uid.as_deref() {
        (s, CredentialKind::Token)
    } else if let Some(p) = principal.as_deref().or(app_name.as_deref()) {
        (p, CredentialKind::Principal)
    } else {
        return Err(DecodeError::MissingField("actor.user.credential_uid"));
    };
    if kind == CredentialKind::ApiKey
        && nonempty(raw.user_type)
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("service") || t.eq_ignore_ascii_case("system"))
    {
        kind = CredentialKind::ServiceAccount;
    }
    let pseudo = decoder.pseudonymizer();
    let credential = pseudo.credential(raw_credential);
    // Short-lived keys are judged against the session they belong to.
    let subject = match (kind, principal.as_deref().or(issuer.as_deref())) {
        (CredentialKind::TemporaryKey, Some(session)) => pseudo.pseudonymize(Namespace::Session, session),
        _ => credential,
    };

    let mut origin = Origin::default();
    match nonempty(raw.ip) {
        Some(ip) => match parse_ip(&ip) {
            Some(addr) => origin.ip = Some(addr),
            None => origin.host = Some(ip),
        },
        None => origin.host = nonempty(raw.hostname).or(nonempty(raw.domain)),
    }
    origin.asn = raw.autonomous_system.and_then(|a| a.number);
    origin.country = nonempty(raw.country).as_deref().and_then(Country::parse);
    origin.city = nonempty(raw.city);
    origin.geo = match (raw.lat, raw.long, raw.coordinates) {
        (Some(lat), Some(lon), _) => GeoPoint::new(lat, lon),
        (_, _, Some([lon, lat])) => GeoPoint::new(lat, lon),
        _ => None,
    };

    let (http_method, user_agent, url_path) =
        (nonempty(raw.http_method), nonempty(raw.user_agent), raw.url.and_then(|u| nonempty(u.path)));
    let (http_status, bytes_out) = match raw.http_response {
        Some(r) => (r.code.and_then(|c| u16::try_from(c).ok()), r.length.or(r.body_length)),
        None => (None, None),
    };
    let (api_error, api_code) = match raw.response {
        Some(r) => (nonempty(r.error), r.code),
        None => (None, None),
    };
    let error_code = api_error.or(nonempty(raw.status_code));
    let status = http_status.or(api_code.and_then(|c| u16::try_from(c).ok()).filter(|c| (100..600).contains(c)));
    let outcome = Outcome::classify(status, error_code.as_deref(), raw.status_id);
    let resource = match raw.resources.0 {
        Some(r) => nonempty(r.uid).or(nonempty(r.name)),
        None => None,
    }
    .or(url_path);
    let event_uid = raw.metadata.and_then(|m| nonempty(m.uid)).or(raw.request.and_then(|r| nonempty(r.uid)));

    Ok(Event {
        time_ms,
        credential,
        subject,
        credential_kind: kind,
        principal,
        peer_group: issuer,
        origin,
        user_agent,
        operation,
        service: raw.service.and_then(|s| nonempty(s.name)),
        resource,
        http_method,
        http_status: status,
        outcome,
        error_code,
        bytes_out,
        request: crate::RequestFacts::NONE,
        event_uid,
        cloud: crate::CloudContext::default(),
    })
}

/// A schema-valid OCSF API Activity record, for writing. Only the simulator and tests write OCSF
/// input; the raw credential here is synthetic.
#[derive(Debug, Clone)]
pub struct ApiActivity<'a> {
    /// Epoch milliseconds.
    pub time_ms: i64,
    /// Record id (`metadata.uid`).
    pub uid: &'a str,
    /// The credential presented, as logged (`actor.user.credential_uid`).
    pub credential_uid: &'a str,
    /// `actor.user.uid`.
    pub user_uid: &'a str,
    /// `actor.session.issuer`: the role or group the credential belongs to.
    pub issuer: Option<&'a str>,
    /// `api.operation`.
    pub operation: &'a str,
    /// `api.service.name`.
    pub service: &'a str,
    /// HTTP method.
    pub http_method: &'a str,
    /// URL path, also the resource uid.
    pub path: &'a str,
    /// HTTP status.
    pub status: u16,
    /// Error code, when the request failed.
    pub error: Option<&'a str>,
    /// Response bytes.
    pub bytes_out: u64,
    /// Client IP.
    pub ip: std::net::IpAddr,
    /// Client ASN.
    pub asn: Option<u32>,
    /// Client country.
    pub country: Option<&'a str>,
    /// Client city.
    pub city: Option<&'a str>,
    /// Client coordinates.
    pub geo: Option<GeoPoint>,
    /// Client user agent.
    pub user_agent: &'a str,
}

impl ApiActivity<'_> {
    /// OCSF activity id from the HTTP method: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other.
    fn activity_id(&self) -> u32 {
        match self.http_method {
            "POST" => 1,
            "GET" | "HEAD" => 2,
            "PUT" | "PATCH" => 3,
            "DELETE" => 4,
            _ => 99,
        }
    }
}

// The record as written: plain borrowed structs, so serialising costs no allocation.
#[derive(Serialize)]
struct Out<'a> {
    class_uid: u32,
    class_name: &'static str,
    category_uid: u32,
    category_name: &'static str,
    activity_id: u32,
    type_uid: u32,
    severity_id: u32,
    time: i64,
    status_id: u32,
    metadata: OutMetadata<'a>,
    actor: OutActor<'a>,
    api: OutApi<'a>,
    src_endpoint: OutEndpoint<'a>,
    http_request: OutHttpRequest<'a>,
    http_response: OutHttpResponse,
    resources: [OutUid<'a>; 1],
}

#[derive(Serialize)]
struct OutMetadata<'a> {
    uid: &'a str,
    version: &'static str,
    product: OutProduct,
}

#[derive(Serialize)]
struct OutProduct {
    name: &'static str,
    vendor_name: &'static str,
}

#[derive(Serialize)]
struct OutActor<'a> {
    user: OutUser<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<OutSession<'a>>,
}

#[derive(Serialize)]
struct OutUser<'a> {
    uid: &'a str,
    credential_uid: &'a str,
}

#[derive(Serialize)]
struct OutSession<'a> {
    issuer: &'a str,
}

#[derive(Serialize)]
struct OutApi<'a> {
    operation: &'a str,
    service: OutName<'a>,
    request: OutUid<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<OutApiResponse<'a>>,
}

#[derive(Serialize)]
struct OutName<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct OutUid<'a> {
    uid: &'a str,
}

#[derive(Serialize)]
struct OutApiResponse<'a> {
    error: &'a str,
    code: u16,
}

#[derive(Serialize)]
struct OutEndpoint<'a> {
    ip: std::net::IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<OutLocation<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    autonomous_system: Option<OutAsn>,
}

#[derive(Serialize)]
struct OutLocation<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    long: Option<f64>,
}

#[derive(Serialize)]
struct OutAsn {
    number: u32,
}

#[derive(Serialize)]
struct OutHttpRequest<'a> {
    http_method: &'a str,
    user_agent: &'a str,
    url: OutPath<'a>,
}

#[derive(Serialize)]
struct OutPath<'a> {
    path: &'a str,
}

#[derive(Serialize)]
struct OutHttpResponse {
    code: u16,
    length: u64,
}

/// Rounds a coordinate to 4 decimals (about 10 m), so f32 noise does not show in the output.
fn coord(v: f32) -> f64 {
    (f64::from(v) * 1e4).round() / 1e4
}

impl Serialize for ApiActivity<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let activity_id = self.activity_id();
        let location = (self.country.is_some() || self.city.is_some() || self.geo.is_some()).then(|| OutLocation {
            country: self.country,
            city: self.city,
            lat: self.geo.map(|g| coord(g.lat)),
            long: self.geo.map(|g| coord(g.lon)),
        });
        Out {
            class_uid: API_ACTIVITY_CLASS_UID,
            class_name: "API Activity",
            category_uid: 6,
            category_name: "Application Activity",
            activity_id,
            type_uid: API_ACTIVITY_CLASS_UID * 100 + activity_id,
            severity_id: 1,
            time: self.time_ms,
            status_id: if self.status < 400 { 1 } else { 2 },
            metadata: OutMetadata {
                uid: self.uid,
                version: "1.8.0",
                product: OutProduct { name: "credence-sim", vendor_name: "Credence" },
            },
            actor: OutActor {
                user: OutUser { uid: self.user_uid, credential_uid: self.credential_uid },
                session: self.issuer.map(|issuer| OutSession { issuer }),
            },
            api: OutApi {
                operation: self.operation,
                service: OutName { name: self.service },
                request: OutUid { uid: self.uid },
                response: self.error.map(|error| OutApiResponse { error, code: self.status }),
            },
            src_endpoint: OutEndpoint {
                ip: self.ip,
                location,
                autonomous_system: self.asn.map(|number| OutAsn { number }),
            },
            http_request: OutHttpRequest {
                http_method: self.http_method,
                user_agent: self.user_agent,
                url: OutPath { path: self.path },
            },
            http_response: OutHttpResponse { code: self.status, length: self.bytes_out },
            resources: [OutUid { uid: self.path }],
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, Pseudonymizer};

    const SAMPLE: &str = r#"{"class_uid":6003,"category_uid":6,"activity_id":2,"type_uid":600302,"severity_id":1,
        "time":1722375081000,"status_id":2,"status_code":"AccessDenied",
        "metadata":{"uid":"evt-1","version":"1.8.0","product":{"name":"gw","vendor_name":"x"}},
        "actor":{"user":{"uid":"arn:aws:sts::1:assumed-role/app/i-1","credential_uid":"ASIAEXAMPLEKEY"},
                 "session":{"issuer":"arn:aws:iam::1:role/app"}},
        "api":{"operation":"GetObject","service":{"name":"s3.amazonaws.com"},"request":{"uid":"req-1"}},
        "src_endpoint":{"ip":"203.0.113.9","location":{"country":"br","city":"São Paulo","lat":-23.5,"long":-46.6},
                        "autonomous_system":{"number":64500}},
        "http_request":{"http_method":"GET","user_agent":"aws-cli/2","url":{"path":"/bucket/key"}},
        "http_response":{"code":403,"length":120},
        "resources":[{"uid":"arn:aws:s3:::bucket/key"},{"uid":"second"}],
        "unmapped":{"anything":[1,2,3]}}"#;

    fn decoder() -> Decoder {
        Decoder::new(Format::Ocsf, Pseudonymizer::insecure_demo())
    }

    #[test]
    fn decodes_all_fields() {
        let d = decoder();
        let e = d.decode_one(SAMPLE.as_bytes()).unwrap();
        assert_eq!(e.time_ms, 1_722_375_081_000);
        assert_eq!(e.credential, d.pseudonymizer().credential("ASIAEXAMPLEKEY"));
        assert_eq!(e.credential_kind, CredentialKind::TemporaryKey);
        assert_eq!(
            e.subject,
            d.pseudonymizer().pseudonymize(Namespace::Session, "arn:aws:sts::1:assumed-role/app/i-1")
        );
        assert_eq!(e.peer_group.as_deref(), Some("arn:aws:iam::1:role/app"));
        assert_eq!(e.operation, "GetObject");
        assert_eq!(e.service.as_deref(), Some("s3.amazonaws.com"));
        assert_eq!(e.origin.ip, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(e.origin.country, Country::parse("BR"));
        assert_eq!(e.origin.city.as_deref(), Some("São Paulo"));
        assert_eq!(e.origin.asn, Some(64500));
        assert!(e.origin.geo.is_some());
        assert_eq!(e.outcome, Outcome::Denied);
        assert_eq!(e.http_status, Some(403));
        assert_eq!(e.bytes_out, Some(120));
        assert_eq!(e.resource.as_deref(), Some("arn:aws:s3:::bucket/key"));
        assert_eq!(e.event_uid.as_deref(), Some("evt-1"));
        assert_eq!(e.user_agent.as_deref(), Some("aws-cli/2"));
    }

    #[test]
    fn strings_are_borrowed_when_unescaped() {
        let d = decoder();
        let e = d.decode_one(SAMPLE.as_bytes()).unwrap();
        assert!(matches!(e.operation, Cow::Borrowed(_)));
    }

    #[test]
    fn errors_are_per_record_with_reasons() {
        let d = decoder();
        let cases: &[(&[u8], crate::ErrorType)] = &[
            (b"{not json", crate::ErrorType::InvalidJson),
            (b"\xff\xfe", crate::ErrorType::InvalidUtf8),
            (br#"{"class_uid":3002,"time":1}"#, crate::ErrorType::WrongFormat),
            (
                br#"{"class_uid":6003,"time":1722375081000,"actor":{"user":{"uid":"u"}}}"#,
                crate::ErrorType::MissingField,
            ),
            (br#"{"class_uid":6003,"time":-5,"actor":{},"api":{"operation":"x"}}"#, crate::ErrorType::InvalidField),
            (br#"{"class_uid":6003,"time":"soon"}"#, crate::ErrorType::InvalidJson),
            (b"[]", crate::ErrorType::InvalidJson),
        ];
        for (input, want) in cases {
            let err = d.decode_one(input).unwrap_err();
            assert_eq!(err.error_type(), *want, "{err} for {}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn objects_may_be_null_or_carry_unknown_keys() {
        let d = decoder();
        let e = d
            .decode_one(
                br#"{"class_uid":6003,"time":1722375081000,"src_endpoint":null,"http_request":null,
                "actor":{"user":{"credential_uid":"ck_live_1","groups":[{"name":"x"}],"uid":null},"session":null,"x":{}},
                "api":{"operation":"GET /v1/a","version":"2","service":null}}"#,
            )
            .unwrap();
        assert_eq!(e.credential, d.pseudonymizer().credential("ck_live_1"));
        assert_eq!((e.principal, e.service, e.origin.ip, e.user_agent), (None, None, None, None));
        // An object where a string belongs, or the reverse, costs the record, with the reason.
        for bad in [
            r#"{"class_uid":6003,"time":1,"actor":"alice","api":{"operation":"x"}}"#,
            r#"{"class_uid":6003,"time":1,"actor":{"user":{"credential_uid":{}}},"api":{"operation":"x"}}"#,
            r#"{"class_uid":6003,"time":1,"actor":{"app_name":"a"},"api":{"operation":"x"}} trailing"#,
        ] {
            let err = d.decode_one(bad.as_bytes()).unwrap_err();
            assert_eq!(err.error_type(), crate::ErrorType::InvalidJson, "{err} for {bad}");
        }
        // `null` for a required object is a missing field.
        let err = d.decode_one(br#"{"class_uid":6003,"time":1,"actor":null,"api":{"operation":"x"}}"#).unwrap_err();
        assert_eq!(err.error_type(), crate::ErrorType::MissingField);
    }

    /// Regression (issues 19 and 21): `time: 1e30` was clamped to the largest i64 and accepted;
    /// an empty or blank credential id was taken for a credential.
    #[test]
    fn out_of_range_times_and_blank_credentials_are_refused_with_their_reason() {
        let d = decoder();
        let record = |time: &str, credential: &str| {
            format!(
                r#"{{"class_uid":6003,"time":{time},"actor":{{"user":{{"credential_uid":"{credential}"}}}},"api":{{"operation":"x"}}}}"#
            )
        };
        for time in ["1e30", "1.7976931348623157e308", "-1722375081000"] {
            let err = d.decode_one(record(time, "ck_1").as_bytes()).unwrap_err();
            assert_eq!(err.error_type(), crate::ErrorType::InvalidField, "{err} for time {time}");
            assert!(err.to_string().contains("1970-01-01 and 9999-12-31"), "{err}");
        }
        // Within range, however implausible, the decoder accepts it: the watermark judges it.
        assert_eq!(d.decode_one(record("4102444800000", "ck_1").as_bytes()).unwrap().time_ms, 4_102_444_800_000);
        for blank in ["", " ", "\\t  "] {
            let err = d.decode_one(record("1722375081000", blank).as_bytes()).unwrap_err();
            assert_eq!(err, DecodeError::MissingField("actor.user.credential_uid"), "for {blank:?}");
        }
    }

    #[test]
    fn oversized_is_rejected_before_parsing() {
        let d = decoder().with_max_message_bytes(10);
        assert_eq!(d.decode_one(SAMPLE.as_bytes()).unwrap_err().error_type(), crate::ErrorType::Oversized);
    }

    #[test]
    fn encoder_round_trips_through_decoder() {
        let rec = ApiActivity {
            time_ms: 1_700_000_000_123,
            uid: "sim-42",
            credential_uid: "ck_live_abc",
            user_uid: "svc-billing",
            issuer: Some("team-billing"),
            operation: "GET /v1/invoices/{id}",
            service: "billing-api",
            http_method: "GET",
            path: "/v1/invoices/17",
            status: 200,
            error: None,
            bytes_out: 2048,
            ip: "198.51.100.7".parse().unwrap(),
            asn: Some(64501),
            country: Some("US"),
            city: Some("Boston"),
            geo: GeoPoint::new(42.36, -71.06),
            user_agent: "billing-worker/3.1",
        };
        let json = serde_json::to_vec(&rec).unwrap();
        let d = decoder();
        let e = d.decode_one(&json).unwrap();
        assert_eq!(e.time_ms, rec.time_ms);
        assert_eq!(e.credential, d.pseudonymizer().credential("ck_live_abc"));
        assert_eq!(e.subject, e.credential);
        assert_eq!(e.operation, rec.operation);
        assert_eq!(e.bytes_out, Some(2048));
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.origin.country, Country::parse("US"));
        assert_eq!(e.event_uid.as_deref(), Some("sim-42"));
        assert!(!String::from_utf8_lossy(&json).is_empty());
    }
}

//! The canonical API access event and the decoders that produce it.
//!
//! Every supported log format (OCSF API Activity, AWS CloudTrail, Kong, Envoy/Istio, and generic
//! JSON with a field mapping) decodes into one [`Event`], borrowed from the input bytes wherever the
//! JSON needs no unescaping. Credential identifiers are pseudonymised during decoding
//! ([`Pseudonymizer`]); the raw value never appears in an [`Event`].
//!
//! Decoding is total: any input yields events or [`DecodeError`]s, never a panic.

use std::borrow::Cow;
use std::net::IpAddr;

mod cloudtrail;
mod decode;
mod envoy;
mod error;
mod facts;
pub mod geoip;
mod json;
mod kong;
pub mod lifecycle;
mod mapped;
pub mod ocsf;
mod pseudonym;
pub mod time;

pub use decode::{Decoder, Format};
pub use error::{DecodeError, ErrorType};
pub use facts::RequestFacts;
pub use mapped::{FieldMapping, MappingError, TimeFormat};
pub use pseudonym::{KeyHint, Namespace, Pseudonym, Pseudonymizer, WeakKey, MIN_KEY_BYTES};

/// What kind of credential was presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A static API key (gateway key-auth, vendor API key).
    ApiKey,
    /// A long-lived cloud access key (AWS `AKIA...`).
    AccessKey,
    /// A short-lived cloud credential (AWS `ASIA...`) that rolls up to a session.
    TemporaryKey,
    /// An OAuth/OIDC/JWT bearer token.
    Token,
    /// A workload identity (Kubernetes service account, SPIFFE id, mTLS peer).
    ServiceAccount,
    /// No credential in the record; the principal itself stands in for it.
    Principal,
    /// Unknown.
    Other,
    /// None presented: a request the service rejected (HTTP 401) that named no credential at
    /// all (a missing token). Evidence for the key-spray detector, keyed by source network; the
    /// event's `credential` is then the pseudonym of the empty string and belongs to no one.
    Missing,
}

/// How a request ended, as far as detection cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The request succeeded.
    Success,
    /// Authenticated but not authorised (HTTP 403, `AccessDenied`, `UnauthorizedOperation`).
    Denied,
    /// The credential itself was rejected (HTTP 401, invalid key or signature).
    AuthFailed,
    /// The credential had expired (`ExpiredToken`, token expiry). An operational signal first.
    Expired,
    /// Rate limited (HTTP 429, `Throttling`). Not a denial.
    Throttled,
    /// Other client-side failure (4xx, validation, not found).
    ClientError,
    /// Server-side failure (5xx).
    ServerError,
    /// The record does not say.
    Unknown,
}

impl Outcome {
    /// True for outcomes that count as access failures: denials and rejected credentials.
    pub fn is_access_failure(self) -> bool {
        matches!(self, Outcome::Denied | Outcome::AuthFailed | Outcome::Expired)
    }

    /// Classifies a logged result from whatever the record has: HTTP status, provider error code,
    /// OCSF `status_id` (1 success, 2 failure). A specific error code says more than a status:
    /// AWS answers an expired token with 400 `ExpiredToken`, S3 throttles with 503 `SlowDown`.
    pub fn classify(status: Option<u16>, error_code: Option<&str>, status_id: Option<u8>) -> Outcome {
        let by_code = error_code.map(Outcome::from_error_code);
        match (status, error_code, status_id) {
            (Some(s), _, _) if s >= 400 => match by_code {
                Some(o @ (Outcome::Expired | Outcome::Throttled | Outcome::AuthFailed | Outcome::Denied)) => o,
                _ => Outcome::from_http_status(s),
            },
            (_, Some(code), Some(2)) => Outcome::from_error_code(code),
            (Some(s), _, _) => Outcome::from_http_status(s),
            (None, _, Some(1)) => Outcome::Success,
            (None, Some(code), _) => Outcome::from_error_code(code),
            (None, None, Some(2)) => Outcome::ClientError,
            _ => Outcome::Unknown,
        }
    }

    /// Classifies an HTTP status code.
    pub fn from_http_status(status: u16) -> Outcome {
        match status {
            100..=399 => Outcome::Success,
            401 => Outcome::AuthFailed,
            403 => Outcome::Denied,
            429 => Outcome::Throttled,
            400..=499 => Outcome::ClientError,
            500..=599 => Outcome::ServerError,
            _ => Outcome::Unknown,
        }
    }

    /// Classifies a cloud provider error code (AWS style), case-insensitively by substring so that
    /// `Client.UnauthorizedOperation` and `AccessDeniedException` are recognised.
    pub fn from_error_code(code: &str) -> Outcome {
        const EXPIRED: &[&str] = &["expiredtoken", "tokenexpired", "tokenrefreshrequired", "expired"];
        const AUTH: &[&str] = &[
            "invalidclienttokenid",
            "signaturedoesnotmatch",
            "incompletesignature",
            "invalidaccesskeyid",
            "authfailure",
            "unrecognizedclient",
            "invalidtoken",
            "notauthorized",
            "unauthenticated",
        ];
        const DENIED: &[&str] = &["accessdenied", "unauthorizedoperation", "unauthorized", "forbidden"];
        const THROTTLED: &[&str] = &["throttl", "requestlimitexceeded", "toomanyrequests", "slowdown", "ratelimit"];
        let lower = code.to_ascii_lowercase();
        let any = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
        if any(EXPIRED) {
            Outcome::Expired
        } else if any(AUTH) {
            Outcome::AuthFailed
        } else if any(DENIED) {
            Outcome::Denied
        } else if any(THROTTLED) {
            Outcome::Throttled
        } else if lower.contains("internal") || lower.contains("unavailable") || lower.contains("serviceexception") {
            Outcome::ServerError
        } else {
            Outcome::ClientError
        }
    }
}

/// A point on the globe, in degrees.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeoPoint {
    /// Latitude, degrees north.
    pub lat: f32,
    /// Longitude, degrees east.
    pub lon: f32,
}

impl GeoPoint {
    /// A point if both coordinates are finite and in range.
    pub fn new(lat: f64, lon: f64) -> Option<GeoPoint> {
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon))
            .then_some(GeoPoint { lat: lat as f32, lon: lon as f32 })
    }

    /// Great-circle distance in kilometres (haversine).
    pub fn distance_km(self, other: GeoPoint) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0;
        if self == other {
            // Exactly what the formula gives, without its trigonometry: most of a credential's
            // events come from where its last one did.
            return 0.0;
        }
        let (la1, lo1) = (f64::from(self.lat).to_radians(), f64::from(self.lon).to_radians());
        let (la2, lo2) = (f64::from(other.lat).to_radians(), f64::from(other.lon).to_radians());
        let a = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country(pub [u8; 2]);

impl Country {
    /// Parses a two-letter code, case-insensitively.
    pub fn parse(s: &str) -> Option<Country> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::fmt::Debug for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a request came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origin<'a> {
    /// Client IP address, when the log has a parseable one.
    pub ip: Option<IpAddr>,
    /// The source as logged when it is not an IP address (an AWS service hostname such as
    /// `ec2.amazonaws.com`, or a malformed address), kept for evidence.
    pub host: Option<Cow<'a, str>>,
    /// Autonomous system number, when enriched.
    pub asn: Option<u32>,
    /// The autonomous system's organisation, when enriched (`Amazon.com, Inc.`).
    pub org: Option<Cow<'a, str>>,
    /// Country, when enriched.
    pub country: Option<Country>,
    /// City, when enriched.
    pub city: Option<Cow<'a, str>>,
    /// Coordinates, when enriched.
    pub geo: Option<GeoPoint>,
}

/// Where in a cloud a request was made and with which key: context for the analyst on findings,
/// not scored. Filled by decoders whose logs carry it (CloudTrail).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CloudContext<'a> {
    /// The account the request was made in (CloudTrail `recipientAccountId`).
    pub account: Option<Cow<'a, str>>,
    /// The region the request was made to (`awsRegion`).
    pub region: Option<Cow<'a, str>>,
    /// What kind of resource [`Event::resource`] is (`bucket`, `secret`, `trail`, ...), when the
    /// decoder knows.
    pub resource_type: Option<&'static str>,
    /// A non-secret hint of the access key presented: its prefix and last four characters.
    pub key_hint: Option<KeyHint>,
}

/// One API request made with a credential: the unit Credence scores.
#[derive(Clone, Debug, PartialEq)]
pub struct Event<'a> {
    /// Event time, milliseconds since the Unix epoch. All detection runs on this clock.
    pub time_ms: i64,
    /// Pseudonym of the credential presented with the request.
    pub credential: Pseudonym,
    /// Pseudonym of the identity whose baseline judges this request: the credential itself, or for
    /// short-lived credentials the session they roll up to (so a fresh temporary key issued to a
    /// stolen role session is still judged against that session's history).
    pub subject: Pseudonym,
    /// The kind of credential presented.
    pub credential_kind: CredentialKind,
    /// The identity behind the credential (IAM ARN, gateway consumer, service account). Not secret.
    pub principal: Option<Cow<'a, str>>,
    /// The group whose members should behave alike: issuing role, consumer group, namespace.
    pub peer_group: Option<Cow<'a, str>>,
    /// Where the request came from.
    pub origin: Origin<'a>,
    /// Client user agent.
    pub user_agent: Option<Cow<'a, str>>,
    /// The operation invoked: `DescribeInstances`, `GET /v1/orders/{id}`.
    pub operation: Cow<'a, str>,
    /// The service the operation belongs to, when logged (`ec2.amazonaws.com`, a gateway service).
    /// Together with `operation` it names the API.
    pub service: Option<Cow<'a, str>>,
    /// The resource acted on, when logged (ARN, URL path, object key).
    pub resource: Option<Cow<'a, str>>,
    /// HTTP method, when logged.
    pub http_method: Option<Cow<'a, str>>,
    /// HTTP status, when logged.
    pub http_status: Option<u16>,
    /// How the request ended.
    pub outcome: Outcome,
    /// Provider error code, when logged (`AccessDenied`, `ExpiredToken`).
    pub error_code: Option<Cow<'a, str>>,
    /// Response bytes sent to the client, when logged.
    pub bytes_out: Option<u64>,
    /// What the request's parameters say about its risk (shared publicly, decrypted, ...), as far
    /// as the decoder could tell; empty when the format logs no parameters.
    pub request: RequestFacts,
    /// The record's own id (OCSF `metadata.uid`, CloudTrail `eventID`, gateway request id), so a
    /// finding can point back at the events that raised it.
    pub event_uid: Option<Cow<'a, str>>,
    /// Account, region, resource type and key hint, when the log says.
    pub cloud: CloudContext<'a>,
}

impl<'a> Event<'a> {
    /// A minimal event, for tests and the simulator: success, nothing but time, credential and
    /// operation set.
    pub fn new(time_ms: i64, credential: Pseudonym, operation: impl Into<Cow<'a, str>>) -> Event<'a> {
        Event {
            time_ms,
            credential,
            subject: credential,
            credential_kind: CredentialKind::Other,
            principal: None,
            peer_group: None,
            origin: Origin::default(),
            user_agent: None,
            operation: operation.into(),
            service: None,
            resource: None,
            http_method: None,
            http_status: None,
            outcome: Outcome::Success,
            error_code: None,
            bytes_out: None,
            request: RequestFacts::NONE,
            event_uid: None,
            cloud: CloudContext::default(),
        }
    }
}

impl Event<'_> {
    /// The event with every borrowed string copied: to hold it past its input buffer (the
    /// pipeline holds a record dated ahead of its stream until later records confirm the time).
    pub fn into_owned(self) -> Event<'static> {
        fn own(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        Event {
            time_ms: self.time_ms,
            credential: self.credential,
            subject: self.subject,
            credential_kind: self.credential_kind,
            principal: self.principal.map(own),
            peer_group: self.peer_group.map(own),
            origin: Origin {
                ip: self.origin.ip,
                host: self.origin.host.map(own),
                asn: self.origin.asn,
                org: self.origin.org.map(own),
                country: self.origin.country,
                city: self.origin.city.map(own),
                geo: self.origin.geo,
            },
            user_agent: self.user_agent.map(own),
            operation: own(self.operation),
            service: self.service.map(own),
            resource: self.resource.map(own),
            http_method: self.http_method.map(own),
            http_status: self.http_status,
            outcome: self.outcome,
            error_code: self.error_code.map(own),
            bytes_out: self.bytes_out,
            request: self.request,
            event_uid: self.event_uid.map(own),
            cloud: CloudContext {
                account: self.cloud.account.map(own),
                region: self.cloud.region.map(own),
                resource_type: self.cloud.resource_type,
                key_hint: self.cloud.key_hint,
            },
        }
    }
}

/// Parses a logged source address: an IP (IPv4, IPv6, or either with a `:port` / `[v6]:port`),
/// else `None`.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = s.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_classification() {
        assert_eq!(Outcome::from_error_code("AccessDenied"), Outcome::Denied);
        assert_eq!(Outcome::from_error_code("Client.UnauthorizedOperation"), Outcome::Denied);
        assert_eq!(Outcome::from_error_code("ExpiredToken"), Outcome::Expired);
        assert_eq!(Outcome::from_error_code("ThrottlingException"), Outcome::Throttled);
        assert_eq!(Outcome::from_error_code("InvalidClientTokenId"), Outcome::AuthFailed);
        assert_eq!(Outcome::from_error_code("NoSuchBucket"), Outcome::ClientError);
        assert_eq!(Outcome::from_http_status(401), Outcome::AuthFailed);
        assert_eq!(Outcome::from_http_status(403), Outcome::Denied);
        assert_eq!(Outcome::from_http_status(429), Outcome::Throttled);
        assert!(!Outcome::Throttled.is_access_failure());
    }

    #[test]
    fn ip_parsing_tolerates_ports_and_garbage() {
        assert_eq!(parse_ip("10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_ip("10.0.0.1:443"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_ip("[2001:db8::1]:443"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_ip("08.1.250.216"), None);
        assert_eq!(parse_ip("ec2.amazonaws.com"), None);
    }

    #[test]
    fn haversine_is_sane() {
        let nyc = GeoPoint::new(40.71, -74.0).unwrap();
        let lon = GeoPoint::new(51.5, -0.12).unwrap();
        let d = nyc.distance_km(lon);
        assert!((5500.0..5650.0).contains(&d), "{d}");
        assert!(GeoPoint::new(91.0, 0.0).is_none());
    }
}

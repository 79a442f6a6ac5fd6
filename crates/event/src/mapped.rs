//! Generic JSON with a [`FieldMapping`]: one RFC 6901 JSON pointer per canonical field.
//!
//! A record is walked once, by a serde visitor that descends only into the keys and array indices
//! some pointer names and captures the scalar at each pointer's end; everything else is skipped
//! unparsed. Strings stay borrowed from the input, and nothing is allocated per record beyond the
//! event itself. A top-level array is a batch: each element is a record.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::json::BStr;
use crate::{parse_ip, time, Country, CredentialKind, DecodeError, Decoder, Event, GeoPoint, Origin, Outcome};

pub(crate) mod lenient;

use lenient::{parse_datetime_text, parse_number, records};

/// How the mapped `time` field is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// RFC 3339 text (also with a space for `T`, without a zone as UTC, or Common Log Format).
    Rfc3339,
    /// Milliseconds since the epoch, as a number or numeric string.
    EpochMs,
    /// Seconds since the epoch (fractions allowed), as a number or numeric string.
    EpochS,
    /// Numbers by magnitude (s, ms or µs); text as for `rfc3339`, or numeric text by magnitude.
    #[default]
    Auto,
}

/// Where each canonical field lives in a generic JSON record, as RFC 6901 JSON pointers
/// (`/identity/apiKeyId`, `/resources/0/arn`; `~1` stands for `/` and `~0` for `~` in a key).
/// Read from the daemon's TOML configuration; check it with [`FieldMapping::validate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    /// Event time. Required.
    pub time: String,
    /// The credential presented (pseudonymised at once). Required.
    pub credential: String,
    /// The operation invoked (ideally a route template, not a raw path). Required.
    pub operation: String,
    /// The identity behind the credential.
    pub principal: Option<String>,
    /// The group whose members should behave alike.
    pub peer_group: Option<String>,
    /// Client IP (a `host:port` is fine; text that is not an IP is kept as the origin host).
    pub source_ip: Option<String>,
    /// Client autonomous system number (`64500` or `"AS64500"`).
    pub asn: Option<String>,
    /// Client country, ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Client city.
    pub city: Option<String>,
    /// Client latitude, degrees.
    pub latitude: Option<String>,
    /// Client longitude, degrees.
    pub longitude: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The service or API called.
    pub service: Option<String>,
    /// The resource acted on.
    pub resource: Option<String>,
    /// HTTP method.
    pub http_method: Option<String>,
    /// HTTP status (number or numeric string).
    pub http_status: Option<String>,
    /// Provider error code.
    pub error_code: Option<String>,
    /// Response bytes (number or numeric string).
    pub bytes_out: Option<String>,
    /// The record's own id.
    pub event_uid: Option<String>,
    /// How `time` is written. Default `auto`.
    #[serde(default)]
    pub time_format: TimeFormat,
    /// What kind of credential `credential` holds. Default `api_key`.
    #[serde(default = "default_kind")]
    pub credential_kind: CredentialKind,
}

fn default_kind() -> CredentialKind {
    CredentialKind::ApiKey
}

/// A field mapping that cannot work, with every problem found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid field mapping: {}", .problems.join("; "))]
pub struct MappingError {
    /// One line per problem.
    pub problems: Vec<String>,
}

/// Number of mappable fields; indices below.
const N: usize = 19;
const TIME: usize = 0;
const CREDENTIAL: usize = 1;
const OPERATION: usize = 2;
const PRINCIPAL: usize = 3;
const PEER_GROUP: usize = 4;
const SOURCE_IP: usize = 5;
const ASN: usize = 6;
const COUNTRY: usize = 7;
const CITY: usize = 8;
const LATITUDE: usize = 9;
const LONGITUDE: usize = 10;
const USER_AGENT: usize = 11;
const SERVICE: usize = 12;
const RESOURCE: usize = 13;
const HTTP_METHOD: usize = 14;
const HTTP_STATUS: usize = 15;
const ERROR_CODE: usize = 16;
const BYTES_OUT: usize = 17;
const EVENT_UID: usize = 18;

impl FieldMapping {
    /// A mapping of the three required fields; set the optional ones on the result.
    pub fn new(time: impl Into<String>, credential: impl Into<String>, operation: impl Into<String>) -> FieldMapping {
        FieldMapping {
            time: time.into(),
            credential: credential.into(),
            operation: operation.into(),
            principal: None,
            peer_group: None,
            source_ip: None,
            asn: None,
            country: None,
            city: None,
            latitude: None,
            longitude: None,
            user_agent: None,
            service: None,
            resource: None,
            http_method: None,
            http_status: None,
            error_code: None,
            bytes_out: None,
            event_uid: None,
            time_format: TimeFormat::Auto,
            credential_kind: CredentialKind::ApiKey,
        }
    }

    /// Each field's name and pointer, in index order.
    fn pointers(&self) -> [(&'static str, Option<&str>); N] {
        fn o(p: &Option<String>) -> Option<&str> {
            p.as_deref()
        }
        [
            ("time", Some(self.time.as_str())),
            ("credential", Some(self.credential.as_str())),
            ("operation", Some(self.operation.as_str())),
            ("principal", o(&self.principal)),
            ("peer_group", o(&self.peer_group)),
            ("source_ip", o(&self.source_ip)),
            ("asn", o(&self.asn)),
            ("country", o(&self.country)),
            ("city", o(&self.city)),
            ("latitude", o(&self.latitude)),
            ("longitude", o(&self.longitude)),
            ("user_agent", o(&self.user_agent)),
            ("service", o(&self.service)),
            ("resource", o(&self.resource)),
            ("http_method", o(&self.http_method)),
            ("http_status", o(&self.http_status)),
            ("error_code", o(&self.error_code)),
            ("bytes_out", o(&self.bytes_out)),
            ("event_uid", o(&self.event_uid)),
        ]
    }

    /// Checks every pointer is a valid RFC 6901 pointer (empty, or `/`-separated with `~` only in
    /// `~0` / `~1`) and that the required ones name something below the document root. Reports
    /// all problems at once.
    pub fn validate(&self) -> Result<(), MappingError> {
        let mut problems = Vec::new();
        for (i, (name, ptr)) in self.pointers().into_iter().enumerate() {
            let Some(p) = ptr else { continue };
            if !p.is_empty() && !p.starts_with('/') {
                problems.push(format!("`{name}`: pointer `{p}` must be empty or start with '/'"));
            }
            let bytes = p.as_bytes();
            let bad_escape = bytes
                .iter()
                .enumerate()
                .any(|(j, b)| *b == b'~' && !matches!(bytes.get(j + 1), Some(b'0') | Some(b'1')));
            if bad_escape {
                problems.push(format!("`{name}`: pointer `{p}` has a `~` not followed by 0 or 1"));
            }
            if i <= OPERATION && p.is_empty() {
                problems.push(format!("`{name}`: pointer is empty (the whole record), which cannot hold a value"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(MappingError { problems })
        }
    }
}

/// A scalar captured at a pointer.
#[derive(Debug, Clone, PartialEq)]
enum Leaf<'a> {
    Str(Cow<'a, str>),
    U(u64),
    I(i64),
    F(f64),
    Bool,
    /// An object or array: present but not a usable value.
    Composite,
}

impl<'a> Leaf<'a> {
    /// Text, with integers spelled out; `None` for empty text, `-`, and non-text values.
    fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Leaf::Str(s) => Some(s).filter(|s| !s.trim().is_empty() && s != "-"),
            Leaf::U(v) => Some(Cow::Owned(v.to_string())),
            Leaf::I(v) => Some(Cow::Owned(v.to_string())),
            Leaf::F(_) | Leaf::Bool | Leaf::Composite => None,
        }
    }

    /// A number, from a JSON number or numeric text.
    fn number(&self) -> Option<f64> {
        match self {
            Leaf::U(v) => Some(*v as f64),
            Leaf::I(v) => Some(*v as f64),
            Leaf::F(v) => Some(*v),
            Leaf::Str(s) => parse_number(s),
            Leaf::Bool | Leaf::Composite => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Leaf::Str(_) => "text",
            Leaf::U(_) | Leaf::I(_) | Leaf::F(_) => "a number",
            Leaf::Bool => "a boolean",
            Leaf::Composite => "an object or array",
        }
    }
}

/// The mapping's pointers prepared for walking, once per decoder: each pointer's segments (still
/// escaped), the fields ending at each depth, and the mask of fields mapped.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    segs: [Vec<Box<str>>; N],
    ends_at: Vec<u32>,
    mapped: u32,
}

impl Plan {
    pub(crate) fn new(mapping: &FieldMapping) -> Plan {
        let mut plan = Plan { segs: std::array::from_fn(|_| Vec::new()), ends_at: Vec::new(), mapped: 0 };
        for (i, (_, ptr)) in mapping.pointers().into_iter().enumerate() {
            // A pointer that is not one (no leading '/') can match nothing; leave it unmapped.
            if let Some(p) = ptr.filter(|p| p.is_empty() || p.starts_with('/')) {
                plan.segs[i] = p.split('/').skip(1).map(Box::from).collect();
                let depth = plan.segs[i].len();
                if plan.ends_at.len() <= depth {
                    plan.ends_at.resize(depth + 1, 0);
                }
                plan.ends_at[depth] |= 1 << i;
                plan.mapped |= 1 << i;
            }
        }
        plan
    }

    /// Segment `d` (0-based) of pointer `i`, still escaped.
    fn segment(&self, i: usize, d: usize) -> Option<&str> {
        self.segs[i].get(d).map(|s| &**s)
    }
}

/// True when the escaped pointer segment `seg` names the object key `key`.
fn segment_is_key(seg: &str, key: &str) -> bool {
    if !seg.contains('~') {
        return seg == key;
    }
    let (mut s, mut k) = (seg.bytes(), key.bytes());
    loop {
        let want = match s.next() {
            None => return k.next().is_none(),
            Some(b'~') => match s.next() {
                Some(b'0') => b'~',
                Some(b'1') => b'/',
                _ => return false,
            },
            Some(c) => c,
        };
        if k.next() != Some(want) {
            return false;
        }
    }
}

/// The array index a pointer segment names: digits, no leading zero.
fn segment_index(seg: &str) -> Option<usize> {
    let b = seg.as_bytes();
    let ok = !b.is_empty() && b.iter().all(u8::is_ascii_digit) && (b.len() == 1 || b[0] != b'0');
    ok.then(|| seg.parse().ok()).flatten()
}

type Captures<'a> = [Option<Leaf<'a>>; N];

/// One node of the walk: the fields whose pointers lead here (`mask`) at `depth` segments down.
struct Walk<'p, 'c, 'a> {
    plan: &'p Plan,
    caps: &'c mut Captures<'a>,
    mask: u32,
    depth: usize,
}

impl<'a> Walk<'_, '_, 'a> {
    /// Fields whose pointers end at this node.
    fn ending(&self) -> u32 {
        self.mask & self.plan.ends_at.get(self.depth).copied().unwrap_or(0)
    }

    /// Stores `leaf` for every field whose pointer ends here; returns the fields that go deeper.
    fn capture(&mut self, leaf: Leaf<'a>) -> u32 {
        let ending = self.ending();
        for (i, slot) in self.caps.iter_mut().enumerate() {
            if ending & (1 << i) != 0 {
                *slot = Some(leaf.clone());
            }
        }
        self.mask & !ending
    }

    /// Of the fields in `continuing`, those whose next segment `matches` the child.
    fn child_mask(&self, continuing: u32, matches: impl Fn(&str) -> bool) -> u32 {
        (0..N)
            .filter(|i| continuing & (1 << i) != 0)
            .filter(|i| self.plan.segment(*i, self.depth).is_some_and(&matches))
            .fold(0, |m, i| m | 1 << i)
    }

    fn child<'w>(&'w mut self, mask: u32) -> Walk<'w, 'w, 'a> {
        Walk { plan: self.plan, caps: &mut *self.caps, mask, depth: self.depth + 1 }
    }
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for Walk<'_, '_, 'a> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for Walk<'_, '_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<(), E> {
        self.capture(Leaf::Str(Cow::Borrowed(v)));
        Ok(())
    }
    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        if self.ending() != 0 {
            self.capture(Leaf::Str(Cow::Owned(v.to_owned())));
        }
        Ok(())
    }
    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<(), E> {
        self.capture(Leaf::U(v));
        Ok(())
    }
    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<(), E> {
        self.capture(Leaf::I(v));
        Ok(())
    }
    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<(), E> {
        self.capture(Leaf::F(v));
        Ok(())
    }
    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<(), E> {
        self.capture(Leaf::Bool);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let continuing = self.capture(Leaf::Composite);
        while let Some(key) = map.next_key::<BStr<'de>>()? {
            let child = if continuing == 0 { 0 } else { self.child_mask(continuing, |s| segment_is_key(s, &key.0)) };
            if child == 0 {
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value_seed(self.child(child))?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let continuing = self.capture(Leaf::Composite);
        let mut index = 0usize;
        loop {
            let child =
                if continuing == 0 { 0 } else { self.child_mask(continuing, |s| segment_index(s) == Some(index)) };
            let more = if child == 0 {
                seq.next_element::<IgnoredAny>()?.is_some()
            } else {
                seq.next_element_seed(self.child(child))?.is_some()
            };
            if !more {
                return Ok(());
            }
            index = index.saturating_add(1);
        }
    }
}

pub(crate) fn decode<'a>(decoder: &Decoder, text: &'a str, out: &mut Vec<Result<Event<'a>, DecodeError>>) {
    let Some((mapping, plan)) = decoder.field_mapping() else {
        out.push(Err(DecodeError::WrongFormat { format: "mapped", reason: "no field mapping configured".into() }));
        return;
    };
    match records(text) {
        Ok(recs) => recs.for_each(|rec| out.push(decode_record(decoder, mapping, plan, rec))),
        Err(e) => out.push(Err(DecodeError::json(e))),
    }
}

fn decode_record<'a>(
    decoder: &Decoder,
    mapping: &FieldMapping,
    plan: &Plan,
    text: &'a str,
) -> Result<Event<'a>, DecodeError> {
    let mut caps: Captures<'a> = std::array::from_fn(|_| None);
    let mut de = serde_json::Deserializer::from_str(text);
    Walk { plan, caps: &mut caps, mask: plan.mapped, depth: 0 }.deserialize(&mut de).map_err(DecodeError::json)?;
    de.end().map_err(DecodeError::json)?;
    let mut take = |i: usize| caps[i].take();

    let time_leaf = take(TIME).ok_or(DecodeError::MissingField("time"))?;
    let time_ms = parse_time(&time_leaf, mapping.time_format)?;
    // None: no credential logged; an error unless the request was rejected for it (below).
    let credential = match take(CREDENTIAL) {
        None => None,
        Some(leaf @ (Leaf::Str(_) | Leaf::U(_) | Leaf::I(_))) => {
            leaf.text().map(|raw| decoder.pseudonymizer().credential(&raw))
        }
        Some(other) => return Err(DecodeError::invalid("credential", format!("{}, expected text", other.kind()))),
    };
    let operation = match take(OPERATION) {
        None => return Err(DecodeError::MissingField("operation")),
        Some(Leaf::Str(s)) if !s.is_empty() && s != "-" => s,
        Some(Leaf::Str(_)) => return Err(DecodeError::MissingField("operation")),
        Some(other) => return Err(DecodeError::invalid("operation", format!("{}, expected text", other.kind()))),
    };
    let text_of = |leaf: Option<Leaf<'a>>| leaf.and_then(Leaf::text);
    let number_of = |leaf: Option<Leaf<'a>>| leaf.as_ref().and_then(Leaf::number);

    let mut origin = Origin::default();
    if let Some(src) = text_of(take(SOURCE_IP)) {
        // An X-Forwarded-For style list: the first address is the client.
        let first = src.split(',').next().unwrap_or_default();
        match parse_ip(first) {
            Some(ip) => origin.ip = Some(ip),
            None => origin.host = Some(src),
        }
    }
    origin.asn = match take(ASN) {
        Some(Leaf::Str(s)) => s.trim().trim_start_matches("AS").trim_start_matches("as").parse().ok(),
        other => number_of(other).filter(|v| *v >= 0.0 && *v <= f64::from(u32::MAX)).map(|v| v as u32),
    };
    origin.country = text_of(take(COUNTRY)).as_deref().and_then(Country::parse);
    origin.city = text_of(take(CITY));
    origin.geo = match (number_of(take(LATITUDE)), number_of(take(LONGITUDE))) {
        (Some(lat), Some(lon)) => GeoPoint::new(lat, lon),
        _ => None,
    };

    let http_status =
        number_of(take(HTTP_STATUS)).filter(|v| (100.0..600.0).contains(v)).and_then(|v| u16::try_from(v as u64).ok());
    let error_code = text_of(take(ERROR_CODE));
    let outcome = match (http_status, error_code.as_deref()) {
        (Some(s), _) => Outcome::from_http_status(s),
        (None, Some(code)) => Outcome::from_error_code(code),
        (None, None) => Outcome::Unknown,
    };
    // A request rejected for naming no credential is kept: evidence of a key spray.
    let (credential, credential_kind) = match credential {
        Some(c) => (c, mapping.credential_kind),
        None if outcome == Outcome::AuthFailed => (decoder.pseudonymizer().credential(""), CredentialKind::Missing),
        None => return Err(DecodeError::MissingField("credential")),
    };

    Ok(Event {
        time_ms,
        credential,
        subject: credential,
        credential_kind,
        principal: text_of(take(PRINCIPAL)),
        peer_group: text_of(take(PEER_GROUP)),
        origin,
        user_agent: text_of(take(USER_AGENT)),
        operation,
        service: text_of(take(SERVICE)),
        resource: text_of(take(RESOURCE)),
        http_method: text_of(take(HTTP_METHOD)),
        http_status,
        outcome,
        error_code,
        bytes_out: number_of(take(BYTES_OUT)).filter(|v| *v >= 0.0 && *v < 1.8e19).map(|v| v as u64),
        request: crate::RequestFacts::NONE,
        event_uid: text_of(take(EVENT_UID)),
        cloud: crate::CloudContext::default(),
    })
}

fn parse_time(leaf: &Leaf<'_>, format: TimeFormat) -> Result<i64, DecodeError> {
    let bad = |why: &str| DecodeError::invalid("time", why.to_owned());
    match (format, leaf) {
        (TimeFormat::Rfc3339, Leaf::Str(s)) => parse_datetime_text(s).ok_or_else(|| bad("not an RFC 3339 time")),
        (TimeFormat::Rfc3339, _) => Err(bad("expected RFC 3339 text")),
        (TimeFormat::EpochMs | TimeFormat::EpochS, _) => {
            let v = leaf.number().ok_or_else(|| bad("expected an epoch number"))?;
            let ms = if format == TimeFormat::EpochS { v * 1e3 } else { v };
            (ms.is_finite() && ms > 0.0 && ms <= time::MAX_EVENT_MS as f64)
                .then_some(ms as i64)
                .ok_or_else(|| bad("epoch out of range (1970-01-01 to 9999-12-31)"))
        }
        (TimeFormat::Auto, Leaf::Str(s)) => lenient::parse_time_text(s).ok_or_else(|| bad("unrecognised time")),
        (TimeFormat::Auto, _) => {
            let v = leaf.number().ok_or_else(|| bad("expected a time"))?;
            time::epoch_to_ms(v).ok_or_else(|| bad("not a positive epoch"))
        }
    }
}

#[cfg(test)]
mod tests;

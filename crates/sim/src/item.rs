//! The items a simulator yields: API events and lifecycle records.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use credence_event::lifecycle::{LifecycleAction, LifecycleRecord};
use credence_event::ocsf::ApiActivity;
use credence_event::{Country, CredentialKind, Event, Namespace, Origin, Outcome, Pseudonymizer};

use crate::catalogue::{self, OpId};
use crate::geo::CITIES;
use crate::text::InlineStr;

/// One simulated API request: owns everything its OCSF record needs. Strings that repeat are
/// shared (`Arc<str>`, static tables); per-request text is stored inline, so producing an event
/// does not allocate.
#[derive(Clone, Debug)]
pub struct SimEvent {
    pub(crate) time_ms: i64,
    pub(crate) uid: InlineStr<36>,
    pub(crate) credential: Arc<str>,
    pub(crate) principal: Arc<str>,
    pub(crate) issuer: Arc<str>,
    pub(crate) op: OpId,
    pub(crate) path: InlineStr<96>,
    pub(crate) status: u16,
    pub(crate) error: Option<&'static str>,
    pub(crate) bytes_out: u64,
    pub(crate) ip: IpAddr,
    pub(crate) asn: u32,
    pub(crate) city: u16,
    pub(crate) user_agent: Arc<str>,
    pub(crate) label: Option<u32>,
    pub(crate) actor: u32,
}

impl SimEvent {
    /// The OCSF API Activity record for this event (serialize it with `serde_json`).
    pub fn record(&self) -> ApiActivity<'_> {
        let op = catalogue::op(self.op);
        let city = &CITIES[usize::from(self.city)];
        ApiActivity {
            time_ms: self.time_ms,
            uid: self.uid.as_str(),
            credential_uid: &self.credential,
            user_uid: &self.principal,
            issuer: Some(&self.issuer),
            operation: op.operation,
            service: op.service,
            http_method: op.method,
            path: self.path.as_str(),
            status: self.status,
            error: self.error,
            bytes_out: self.bytes_out,
            ip: self.ip,
            asn: Some(self.asn),
            country: Some(city.country),
            city: Some(city.name),
            geo: Some(city.geo()),
            user_agent: &self.user_agent,
        }
    }

    /// The record serialized as one JSON line (without the newline).
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out);
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// Replaces `out` with the record as one JSON line (without the newline), reusing its buffer.
    /// Serialised here, in an optimised crate, even when the caller is a test build.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.clear();
        serde_json::to_writer(out, &self.record()).expect("a record serialises into memory");
    }

    /// The canonical [`Event`] the OCSF decoder produces for [`SimEvent::record`], built directly
    /// (no JSON), for benchmarks and tests that bypass decoding.
    pub fn event(&self, pseudonymizer: &Pseudonymizer) -> Event<'_> {
        let op = catalogue::op(self.op);
        let city = &CITIES[usize::from(self.city)];
        let kind = if self.credential.starts_with("AKIA") {
            CredentialKind::AccessKey
        } else if self.credential.starts_with("ASIA") {
            CredentialKind::TemporaryKey
        } else {
            CredentialKind::ApiKey
        };
        let credential = pseudonymizer.credential(&self.credential);
        let subject = if kind == CredentialKind::TemporaryKey {
            pseudonymizer.pseudonymize(Namespace::Session, &self.principal)
        } else {
            credential
        };
        // The decoder classifies by HTTP status whenever one is logged, as every record here has.
        let outcome = Outcome::classify(Some(self.status), self.error, Some(if self.status < 400 { 1 } else { 2 }));
        Event {
            time_ms: self.time_ms,
            credential,
            subject,
            credential_kind: kind,
            principal: Some(Cow::Borrowed(&self.principal)),
            peer_group: Some(Cow::Borrowed(&self.issuer)),
            origin: Origin {
                ip: Some(self.ip),
                host: None,
                asn: Some(self.asn),
                org: None,
                country: Country::parse(city.country),
                city: Some(Cow::Borrowed(city.name)),
                geo: Some(city.geo()),
            },
            user_agent: Some(Cow::Borrowed(&self.user_agent)),
            operation: Cow::Borrowed(op.operation),
            service: Some(Cow::Borrowed(op.service)),
            resource: Some(Cow::Borrowed(self.path.as_str())),
            http_method: Some(Cow::Borrowed(op.method)),
            http_status: Some(self.status),
            outcome,
            error_code: self.error.map(Cow::Borrowed),
            bytes_out: Some(self.bytes_out),
            request: credence_event::RequestFacts::NONE,
            event_uid: Some(Cow::Borrowed(self.uid.as_str())),
            cloud: credence_event::CloudContext::default(),
        }
    }

    /// Event time, epoch ms.
    pub fn time_ms(&self) -> i64 {
        self.time_ms
    }
    /// Record id (`metadata.uid`).
    pub fn uid(&self) -> &str {
        self.uid.as_str()
    }
    /// The raw (synthetic) credential id presented.
    pub fn credential_uid(&self) -> &str {
        &self.credential
    }
    /// The principal (`actor.user.uid`).
    pub fn principal(&self) -> &str {
        &self.principal
    }
    /// The peer group (`actor.session.issuer`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// The operation (`api.operation`).
    pub fn operation(&self) -> &'static str {
        catalogue::op(self.op).operation
    }
    /// The service (`api.service.name`).
    pub fn service(&self) -> &'static str {
        catalogue::op(self.op).service
    }
    /// The concrete URL path (also the resource uid).
    pub fn path(&self) -> &str {
        self.path.as_str()
    }
    /// HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }
    /// Provider error code, when the request failed.
    pub fn error(&self) -> Option<&'static str> {
        self.error
    }
    /// Response bytes.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }
    /// Client address.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
    /// Client AS number.
    pub fn asn(&self) -> u32 {
        self.asn
    }
    /// Client country code.
    pub fn country(&self) -> &'static str {
        CITIES[usize::from(self.city)].country
    }
    /// Client city.
    pub fn city(&self) -> &'static str {
        CITIES[usize::from(self.city)].name
    }
    /// Client user agent.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }
    /// The scenario this event belongs to: an index into [`crate::Truth::labels`] (incident
    /// traffic, or ordinary traffic shaped by a confounder), `None` for ordinary traffic.
    pub fn label(&self) -> Option<u32> {
        self.label
    }
    /// Index of the simulated credential holder that produced it (stable within a run).
    pub fn actor(&self) -> u32 {
        self.actor
    }
}

/// One credential lifecycle record (created, revoked, expired, rotated).
#[derive(Clone, Debug)]
pub struct SimLifecycle {
    pub(crate) time_ms: i64,
    pub(crate) credential: Arc<str>,
    pub(crate) action: LifecycleAction,
    pub(crate) reason: &'static str,
    pub(crate) label: Option<u32>,
}

impl SimLifecycle {
    /// The lifecycle record (serialize it with `serde_json`).
    pub fn record(&self) -> LifecycleRecord<'_> {
        LifecycleRecord {
            time: self.time_ms,
            credential_uid: &self.credential,
            action: self.action,
            reason: self.reason,
        }
    }
    /// Time, epoch ms.
    pub fn time_ms(&self) -> i64 {
        self.time_ms
    }
    /// The raw credential id.
    pub fn credential_uid(&self) -> &str {
        &self.credential
    }
    /// What happened.
    pub fn action(&self) -> LifecycleAction {
        self.action
    }
    /// The scenario this record belongs to, if any.
    pub fn label(&self) -> Option<u32> {
        self.label
    }
}

/// One item of the simulated stream.
// Events are nearly every item; boxing them would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum SimItem {
    /// An API request (one OCSF API Activity record).
    Event(SimEvent),
    /// A credential lifecycle record.
    Lifecycle(SimLifecycle),
}

impl SimItem {
    /// The item's time, epoch ms.
    pub fn time_ms(&self) -> i64 {
        match self {
            SimItem::Event(e) => e.time_ms,
            SimItem::Lifecycle(l) => l.time_ms,
        }
    }

    /// The scenario label, if any.
    pub fn label(&self) -> Option<u32> {
        match self {
            SimItem::Event(e) => e.label,
            SimItem::Lifecycle(l) => l.label,
        }
    }
}

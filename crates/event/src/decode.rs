//! Format selection and the decoding entry point.

use std::fmt;
use std::str::FromStr;

use crate::{cloudtrail, envoy, kong, mapped, ocsf, DecodeError, Event, FieldMapping, Pseudonymizer};

/// Default size limit for one message: generous for a CloudTrail delivery file, small enough that a
/// hostile producer cannot make one message cost unbounded memory.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// A supported input format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// OCSF 1.x API Activity (class 6003) JSON.
    Ocsf,
    /// AWS CloudTrail: S3 delivery files, single records, or EventBridge envelopes.
    Cloudtrail,
    /// Kong's log serializer JSON (kafka-log, http-log), single or batched.
    Kong,
    /// Envoy / Istio JSON access logs.
    Envoy,
    /// Any JSON, with a JSON-pointer mapping per canonical field.
    Mapped,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [Format::Ocsf, Format::Cloudtrail, Format::Kong, Format::Envoy, Format::Mapped];

    /// The format's name, as in configuration and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ocsf => "ocsf",
            Format::Cloudtrail => "cloudtrail",
            Format::Kong => "kong",
            Format::Envoy => "envoy",
            Format::Mapped => "mapped",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown format `{s}` (expected one of ocsf, cloudtrail, kong, envoy, mapped)"))
    }
}

/// Decodes raw messages of one format into [`Event`]s.
#[derive(Clone, Debug)]
pub struct Decoder {
    format: Format,
    pseudonymizer: Pseudonymizer,
    /// The field mapping of the `mapped` format, with its pointers prepared for walking.
    mapping: Option<(FieldMapping, crate::mapped::Plan)>,
    max_message_bytes: usize,
}

impl Decoder {
    /// A decoder for `format`. The `mapped` format needs [`Decoder::mapped`] instead; built here it
    /// uses an empty mapping that rejects every record.
    pub fn new(format: Format, pseudonymizer: Pseudonymizer) -> Decoder {
        Decoder { format, pseudonymizer, mapping: None, max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES }
    }

    /// A decoder for generic JSON with the given field mapping.
    pub fn mapped(mapping: FieldMapping, pseudonymizer: Pseudonymizer) -> Decoder {
        let plan = crate::mapped::Plan::new(&mapping);
        Decoder {
            format: Format::Mapped,
            pseudonymizer,
            mapping: Some((mapping, plan)),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// Sets the per-message size limit in bytes.
    pub fn with_max_message_bytes(mut self, limit: usize) -> Decoder {
        self.max_message_bytes = limit;
        self
    }

    /// The format decoded.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The pseudonymiser in use, so lifecycle records can be keyed like events.
    pub fn pseudonymizer(&self) -> &Pseudonymizer {
        &self.pseudonymizer
    }

    pub(crate) fn field_mapping(&self) -> Option<(&FieldMapping, &crate::mapped::Plan)> {
        self.mapping.as_ref().map(|(m, p)| (m, p))
    }

    /// Decodes one message, which may hold several records (a CloudTrail file, a Kong batch),
    /// appending one result per record to `out`. A message that cannot be read at all yields a
    /// single error. Never panics.
    pub fn decode<'a>(&self, input: &'a [u8], out: &mut Vec<Result<Event<'a>, DecodeError>>) {
        self.decode_at(input, None, out);
    }

    /// Like [`Decoder::decode`], with the time the message was ingested (a Kafka message
    /// timestamp, the position of a replay) standing in for a record that carries no usable time
    /// of its own. Without it such records are errors. CloudTrail only: its sanitised exports
    /// sometimes drop or redact `eventTime`; the other formats require their time.
    pub fn decode_at<'a>(
        &self,
        input: &'a [u8],
        ingest_time_ms: Option<i64>,
        out: &mut Vec<Result<Event<'a>, DecodeError>>,
    ) {
        if input.len() > self.max_message_bytes {
            out.push(Err(DecodeError::Oversized { size: input.len(), limit: self.max_message_bytes }));
            return;
        }
        let text = match std::str::from_utf8(input) {
            Ok(t) => t,
            Err(e) => {
                out.push(Err(DecodeError::InvalidUtf8(e.valid_up_to())));
                return;
            }
        };
        let first = out.len();
        match self.format {
            Format::Ocsf => ocsf::decode(self, text, out),
            Format::Cloudtrail => cloudtrail::decode(self, text, ingest_time_ms, out),
            Format::Kong => kong::decode(self, text, out),
            Format::Envoy => envoy::decode(self, text, out),
            Format::Mapped => mapped::decode(self, text, out),
        }
        // One check for every format: a time no RFC 3339 timestamp can write is an error.
        for r in &mut out[first..] {
            if let Ok(e) = r {
                if !crate::time::in_range(e.time_ms) {
                    *r = Err(DecodeError::invalid("time", crate::time::out_of_range_reason(e.time_ms)));
                }
            }
        }
    }

    /// Decodes a message expected to hold exactly one record.
    pub fn decode_one<'a>(&self, input: &'a [u8]) -> Result<Event<'a>, DecodeError> {
        let mut out = Vec::with_capacity(1);
        self.decode(input, &mut out);
        match out.len() {
            1 => out.pop().unwrap_or(Err(DecodeError::MissingField("record"))),
            0 => Err(DecodeError::WrongFormat { format: self.format.as_str(), reason: "no records".into() }),
            n => Err(DecodeError::WrongFormat {
                format: self.format.as_str(),
                reason: format!("expected one record, found {n}"),
            }),
        }
    }
}

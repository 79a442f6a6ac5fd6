//! What each fuzz target does with its input, shared by the libFuzzer targets (fuzz_targets/) and
//! the stable regression test (tests/fuzz_regressions.rs), which replays the seeds, every crash
//! ever found (fuzz/regressions/) and seeded mutations of them. Each takes arbitrary bytes and
//! panics only on a broken promise: decoding is total, reading saved state never panics, loops
//! or allocates without bound.

use std::path::Path;

use credence_event::lifecycle::LifecycleEvent;
use credence_event::{Decoder, FieldMapping, Format, Pseudonymizer};

/// Ingest time handed to the decoders (CloudTrail records without a time fall back on it).
const INGEST_MS: i64 = 1_772_409_600_000;

/// A target: takes any bytes, panics only on a broken promise.
pub type Target = fn(&[u8]);

/// The targets, by name (the names of fuzz_targets/*.rs).
pub const TARGETS: [(&str, Target); 7] = [
    ("decode_ocsf", decode_ocsf),
    ("decode_cloudtrail", decode_cloudtrail),
    ("decode_kong", decode_kong),
    ("decode_envoy", decode_envoy),
    ("decode_mapped", decode_mapped),
    ("lifecycle", lifecycle),
    ("snapshot", snapshot),
];

fn decode(format: Format, data: &[u8]) {
    let decoder = Decoder::new(format, Pseudonymizer::insecure_demo()).with_max_message_bytes(1 << 20);
    let mut out = Vec::new();
    decoder.decode_at(data, Some(INGEST_MS), &mut out);
    assert!(!out.is_empty() || empty_batch(data), "every message yields events or an error");
}

/// `[]`: a batch of no records, which yields nothing (found by the fuzzer on Envoy: the only
/// message that may decode to nothing at all).
fn empty_batch(data: &[u8]) -> bool {
    data.iter().filter(|b| !b.is_ascii_whitespace()).eq(b"[]".iter())
}

/// The OCSF API Activity decoder.
pub fn decode_ocsf(data: &[u8]) {
    decode(Format::Ocsf, data);
}

/// The CloudTrail decoder (files, single records, EventBridge envelopes).
pub fn decode_cloudtrail(data: &[u8]) {
    decode(Format::Cloudtrail, data);
}

/// The Kong decoder.
pub fn decode_kong(data: &[u8]) {
    decode(Format::Kong, data);
}

/// The Envoy / Istio decoder.
pub fn decode_envoy(data: &[u8]) {
    decode(Format::Envoy, data);
}

/// The mapped (generic JSON) decoder, with a mapping of most fields.
pub fn decode_mapped(data: &[u8]) {
    let mut m = FieldMapping::new("/ts", "/auth/key", "/op");
    m.principal = Some("/user".into());
    m.source_ip = Some("/client/ip".into());
    m.asn = Some("/client/asn".into());
    m.country = Some("/geo/country".into());
    m.latitude = Some("/geo/lat".into());
    m.longitude = Some("/geo/lon".into());
    m.user_agent = Some("/ua".into());
    m.http_status = Some("/status".into());
    m.bytes_out = Some("/bytes".into());
    m.event_uid = Some("/id".into());
    let decoder = Decoder::mapped(m, Pseudonymizer::insecure_demo()).with_max_message_bytes(1 << 20);
    let mut out = Vec::new();
    decoder.decode(data, &mut out);
    assert!(!out.is_empty() || empty_batch(data), "every message yields events or an error");
}

/// The lifecycle record parser.
pub fn lifecycle(data: &[u8]) {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = LifecycleEvent::decode(line, &Pseudonymizer::insecure_demo());
    }
}

/// The state snapshot reader (a damaged or hostile snapshot file), and the changelog record
/// decoder on a key and value cut from the same bytes.
pub fn snapshot(data: &[u8]) {
    if let Ok(mut r) = credence_state::snapshot::Reader::new(data, Path::new("fuzz.snapshot"), None) {
        let mut n = 0usize;
        while let Ok(Some(_)) = r.next_part() {
            n += 1;
            assert!(n <= data.len(), "more records than bytes");
        }
    }
    if let Some((&k, rest)) = data.split_first() {
        let (key, value) = rest.split_at(usize::from(k).min(rest.len()));
        let _ = credence_state::decode(key, Some(value));
        let _ = credence_state::decode(key, None);
    }
}

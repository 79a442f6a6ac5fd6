//! Saved detection state: the record format shared by snapshot files and Kafka changelogs, and the
//! snapshot file itself ([`snapshot`]).
//!
//! A record is one part of a pipeline's state ([`credence_finding::parts::Part`]): a key (what it
//! belongs to, so a compacted changelog keeps the latest of each) and a value, or no value when the
//! part was removed (a tombstone). A value is its format version (`u16`, little-endian) followed
//! by the part in postcard, a stable and compact serde encoding. A value of another version is
//! migrated or refused, never misread.
//!
//! Pure: no Kafka, no async runtime. Files are read and written through `std::io`.

use credence_detect::SNAPSHOT_VERSION;
use credence_finding::parts::{PartOwned, PartRef};

pub mod inspect;
pub mod snapshot;

pub use credence_finding::parts::{Clock, Part};

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Written by a format this build does not read.
    #[error("a state record of format version {found}; this build reads version {supported} (written by {})", if *.found > *.supported { "a newer Credence: upgrade this one" } else { "an older Credence whose format cannot be migrated: rebuild the state by replaying history" })]
    Version {
        /// The record's version.
        found: u16,
        /// The version this build writes and reads.
        supported: u16,
    },
    /// The bytes do not decode (damaged, or not a state record).
    #[error("a damaged state record: {0}")]
    Damaged(String),
    /// The key is of no known shape.
    #[error("a state record with an unknown key ({0} bytes)")]
    Key(usize),
}

/// Appends a part's value in the record format.
pub fn encode_value(value: &PartRef<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    // Infallible: a `Vec` grows as needed and every part is plain data.
    if let Ok(v) = postcard::to_extend(value, std::mem::take(out)) {
        *out = v;
    }
}

/// Reads a value in the record format.
pub fn decode_value(bytes: &[u8]) -> Result<PartOwned, RecordError> {
    let Some((version, body)) = bytes.split_first_chunk::<2>() else {
        return Err(RecordError::Damaged(format!("{} bytes, too short for a version", bytes.len())));
    };
    match u16::from_le_bytes(*version) {
        SNAPSHOT_VERSION => postcard::from_bytes(body).map_err(|e| RecordError::Damaged(e.to_string())),
        // Formats 5 and 6 are refused: the baseline's layout changed (tests/data/state/README.md).
        found => Err(RecordError::Version { found, supported: SNAPSHOT_VERSION }),
    }
}

/// Reads a key.
pub fn decode_key(bytes: &[u8]) -> Result<Part, RecordError> {
    Part::decode(bytes).ok_or(RecordError::Key(bytes.len()))
}

/// Encodes one record: (key bytes, value bytes or `None` for a tombstone).
pub fn encode(part: Part, value: Option<&PartRef<'_>>) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut key = Vec::with_capacity(20);
    part.encode(&mut key);
    let value = value.map(|v| {
        let mut out = Vec::with_capacity(256);
        encode_value(v, &mut out);
        out
    });
    (key, value)
}

/// Decodes one record.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<(Part, Option<PartOwned>), RecordError> {
    let part = decode_key(key)?;
    let value = value.map(decode_value).transpose()?;
    Ok((part, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use credence_detect::state::{Item, Key};
    use credence_detect::Baseline;
    use credence_event::Pseudonym;

    #[test]
    fn a_record_round_trips_and_other_versions_are_refused() {
        let mut b = Baseline::new(1_000);
        b.events = 42;
        let part = Part::Engine(Key::Baseline(Pseudonym([9; 16])));
        let (key, value) = encode(part, Some(&PartRef::Engine(Item::Baseline(&b))));
        let value = value.unwrap();
        let (p, v) = decode(&key, Some(&value)).unwrap();
        assert_eq!(p, part);
        assert_eq!(v, Some(PartOwned::Engine(credence_detect::state::Owned::Baseline(Box::new(b)))));
        assert!(value.len() <= 1024, "a new baseline takes {} bytes", value.len());

        let mut newer = value.clone();
        newer[..2].copy_from_slice(&(SNAPSHOT_VERSION + 1).to_le_bytes());
        let e = decode(&key, Some(&newer)).unwrap_err();
        assert!(e.to_string().contains("a newer Credence"), "{e}");
        let mut older = value.clone();
        older[..2].copy_from_slice(&4u16.to_le_bytes());
        assert!(matches!(decode(&key, Some(&older)), Err(RecordError::Version { .. })));
        // Formats 5 and 6 (an older baseline layout) are refused, not misread.
        for old in [5u16, 6] {
            let mut older = value.clone();
            older[..2].copy_from_slice(&old.to_le_bytes());
            let e = decode(&key, Some(&older)).unwrap_err();
            assert!(e.to_string().contains("rebuild the state by replaying history"), "{e}");
        }
        assert!(matches!(decode(&key, Some(&value[..value.len() / 2])), Err(RecordError::Damaged(_))));
        assert!(matches!(decode(&key, Some(&[5])), Err(RecordError::Damaged(_))));
        assert!(matches!(decode(b"zzz", None), Err(RecordError::Key(3))));
        assert_eq!(decode(&key, None).unwrap(), (part, None), "a tombstone");
    }
}

//! A pipeline's state part by part (see [`credence_detect::state`]): the engine's parts, the open
//! findings, and the stream's clock. What a snapshot holds and a changelog carries.

use credence_detect::state::{self as engine_state, Item, Owned};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Finding, FindingKey};

/// What a part of a pipeline's state belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// A part of the engine.
    Engine(engine_state::Key),
    /// An open finding.
    Finding(FindingKey),
    /// The stream's clock.
    Clock,
}

/// Key tags beside the engine's ([`engine_state::Key::TAGS`]).
const FINDING: u8 = b'f';
const CLOCK: u8 = b'c';

impl Part {
    /// Appends the part's key bytes (the changelog record's key).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Part::Engine(k) => k.encode(out),
            Part::Finding((subject, operational)) => {
                out.push(FINDING);
                out.extend_from_slice(&subject.to_be_bytes());
                out.push(u8::from(*operational));
            }
            Part::Clock => out.push(CLOCK),
        }
    }

    /// Reads key bytes; `None` for a key of no known shape.
    pub fn decode(bytes: &[u8]) -> Option<Part> {
        match bytes.split_first()? {
            (&FINDING, rest) if rest.len() == 17 => {
                let subject = u128::from_be_bytes(rest[..16].try_into().ok()?);
                let operational = match rest[16] {
                    0 => false,
                    1 => true,
                    _ => return None,
                };
                Some(Part::Finding((subject, operational)))
            }
            (&CLOCK, []) => Some(Part::Clock),
            _ => engine_state::Key::decode(bytes).map(Part::Engine),
        }
    }
}

/// The stream's clock and the times of its periodic work, event time in ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// The latest event time seen (`i64::MIN`: none yet).
    pub latest_ms: i64,
    /// When idle baselines were last swept.
    pub swept_ms: i64,
    /// When open findings were last checked for closing.
    pub checked_ms: i64,
    /// Fingerprint of the key space the state was learned under ([`credence_detect::KeySpace::fingerprint`]):
    /// state learned under another pseudonymisation key matches nothing and must not be used.
    pub key_fingerprint: u64,
}

/// A part's value, borrowed for writing. Serialises exactly as the matching [`PartOwned`].
#[derive(Clone, Copy, Debug, Serialize)]
pub enum PartRef<'a> {
    /// A part of the engine.
    Engine(Item<'a>),
    /// An open finding.
    Finding(&'a Finding),
    /// The clock.
    Clock(Clock),
}

/// A part's value, read back.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub enum PartOwned {
    /// A part of the engine.
    Engine(Owned),
    /// An open finding.
    Finding(Box<Finding>),
    /// The clock.
    Clock(Clock),
}

#[cfg(test)]
mod tests {
    use super::*;
    use credence_event::Pseudonym;

    #[test]
    fn part_keys_round_trip_and_do_not_overlap_the_engines() {
        for t in engine_state::Key::TAGS {
            assert!(t != FINDING && t != CLOCK, "tag {t} used twice");
        }
        let parts = [
            Part::Engine(engine_state::Key::Baseline(Pseudonym([3; 16]))),
            Part::Engine(engine_state::Key::Surge),
            Part::Finding((u128::MAX - 1, true)),
            Part::Finding((5, false)),
            Part::Clock,
        ];
        for p in parts {
            let mut b = Vec::new();
            p.encode(&mut b);
            assert_eq!(Part::decode(&b), Some(p));
        }
        assert_eq!(Part::decode(&[FINDING, 1, 2]), None);
        assert_eq!(Part::decode(&[CLOCK, 0]), None);
    }
}

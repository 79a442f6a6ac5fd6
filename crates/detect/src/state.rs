//! An engine's state part by part, for snapshots and changelogs: every part has a [`Key`] (what it
//! belongs to, so a compacted changelog keeps the latest of each) and a value ([`Item`] to write,
//! [`Owned`] when read back). Encoding the values is the caller's (the `credence-state` crate);
//! keys have a fixed byte form here, so they sort and compare the same everywhere.

use std::collections::HashMap;
use std::sync::Mutex;

use credence_event::Pseudonym;
use serde::{Deserialize, Serialize};

use crate::population::{Adoption, PeerProfile, Surge};
use crate::Baseline;

/// Whether a part changed since it was last taken for a checkpoint: bookkeeping, not content.
/// Equal to any other and never serialised, so a restored part compares equal to the original.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dirty(pub(crate) bool);

impl PartialEq for Dirty {
    fn eq(&self, _: &Dirty) -> bool {
        true
    }
}

/// What a part of an engine's state belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// A subject's baseline.
    Baseline(Pseudonym),
    /// A peer group's profile.
    Peer(u64),
    /// The adoption record of a value (dimension and value key).
    Adoption(u64),
    /// The text of an operation key.
    OpLabel(u32),
    /// The text of a user-agent key.
    AgentLabel(u32),
    /// The population's traffic rate.
    Surge,
}

/// Key tags, the first byte of an encoded key. Never reuse a retired tag.
mod tag {
    pub const BASELINE: u8 = b'b';
    pub const PEER: u8 = b'p';
    pub const ADOPTION: u8 = b'a';
    pub const OP_LABEL: u8 = b'o';
    pub const AGENT_LABEL: u8 = b'u';
    pub const SURGE: u8 = b's';
}

impl Key {
    /// The tags of engine keys: other parts of a task's state use other first bytes.
    pub const TAGS: [u8; 6] = [tag::BASELINE, tag::PEER, tag::ADOPTION, tag::OP_LABEL, tag::AGENT_LABEL, tag::SURGE];

    /// Appends the key's byte form: a tag, then the identifier big-endian.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Key::Baseline(p) => {
                out.push(tag::BASELINE);
                out.extend_from_slice(&p.0);
            }
            Key::Peer(k) => {
                out.push(tag::PEER);
                out.extend_from_slice(&k.to_be_bytes());
            }
            Key::Adoption(k) => {
                out.push(tag::ADOPTION);
                out.extend_from_slice(&k.to_be_bytes());
            }
            Key::OpLabel(k) => {
                out.push(tag::OP_LABEL);
                out.extend_from_slice(&k.to_be_bytes());
            }
            Key::AgentLabel(k) => {
                out.push(tag::AGENT_LABEL);
                out.extend_from_slice(&k.to_be_bytes());
            }
            Key::Surge => out.push(tag::SURGE),
        }
    }

    /// Reads a key's byte form; `None` when it is not an engine key of a known shape.
    pub fn decode(bytes: &[u8]) -> Option<Key> {
        let (&t, rest) = bytes.split_first()?;
        Some(match t {
            tag::BASELINE => Key::Baseline(Pseudonym(rest.try_into().ok()?)),
            tag::PEER => Key::Peer(u64::from_be_bytes(rest.try_into().ok()?)),
            tag::ADOPTION => Key::Adoption(u64::from_be_bytes(rest.try_into().ok()?)),
            tag::OP_LABEL => Key::OpLabel(u32::from_be_bytes(rest.try_into().ok()?)),
            tag::AGENT_LABEL => Key::AgentLabel(u32::from_be_bytes(rest.try_into().ok()?)),
            tag::SURGE if rest.is_empty() => Key::Surge,
            _ => return None,
        })
    }
}

/// A part's value, borrowed for writing. Serialises exactly as the matching [`Owned`] variant.
#[derive(Clone, Copy, Debug, Serialize)]
pub enum Item<'a> {
    /// A baseline.
    Baseline(&'a Baseline),
    /// A peer profile.
    Peer(&'a PeerProfile),
    /// An adoption record.
    Adoption(Adoption),
    /// An operation's text.
    OpLabel(&'a str),
    /// A user agent's text.
    AgentLabel(&'a str),
    /// The traffic rate.
    Surge(Surge),
}

/// A part's value, read back.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub enum Owned {
    /// A baseline.
    Baseline(Box<Baseline>),
    /// A peer profile.
    Peer(Box<PeerProfile>),
    /// An adoption record.
    Adoption(Adoption),
    /// An operation's text.
    OpLabel(Box<str>),
    /// A user agent's text.
    AgentLabel(Box<str>),
    /// The traffic rate.
    Surge(Surge),
}

/// Baselines to start from (a snapshot of replayed history), shared by the tasks of a process:
/// each baseline is taken, once, by the first task whose stream brings its subject. (Which
/// partition a credential's events go to is not known in advance: the snapshot holds pseudonyms,
/// and the partitioner hashes raw keys.)
#[derive(Debug, Default)]
pub struct Seed {
    baselines: Mutex<HashMap<Pseudonym, Box<Baseline>>>,
}

impl Seed {
    /// Adds a baseline to be taken.
    pub fn insert(&self, subject: Pseudonym, baseline: Box<Baseline>) {
        self.baselines.lock().unwrap_or_else(|e| e.into_inner()).insert(subject, baseline);
    }

    /// Takes a subject's baseline, if the seed holds it.
    pub fn take(&self, subject: Pseudonym) -> Option<Box<Baseline>> {
        self.baselines.lock().unwrap_or_else(|e| e.into_inner()).remove(&subject)
    }

    /// Baselines not taken yet.
    pub fn len(&self) -> usize {
        self.baselines.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether every baseline was taken.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A restored value that does not belong to its key (a damaged or misfiled record).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a state record's value does not match its key {0:?}")]
pub struct Mismatch(pub Key);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_reject_other_shapes() {
        let keys = [
            Key::Baseline(Pseudonym([7; 16])),
            Key::Peer(7),
            Key::Adoption(1 << 40),
            Key::OpLabel(9),
            Key::AgentLabel(u32::MAX),
            Key::Surge,
        ];
        for k in keys {
            let mut b = Vec::new();
            k.encode(&mut b);
            assert_eq!(Key::decode(&b), Some(k));
            b.push(0);
            assert_eq!(Key::decode(&b), None, "a longer key of the same tag is not {k:?}");
        }
        assert_eq!(Key::decode(b""), None);
        assert_eq!(Key::decode(b"zz"), None);
    }
}

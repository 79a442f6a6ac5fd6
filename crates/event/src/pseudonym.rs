//! Keyed pseudonymisation of credential identifiers.
//!
//! A raw credential value (API key, access key id, token) never leaves the decoder: it is replaced
//! at once by an HMAC-SHA256 under an operator-held key, truncated to 128 bits. The same raw value
//! always maps to the same pseudonym under one key, so baselines, lifecycle records and findings
//! line up, while the value itself cannot be recovered without the key.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Minimum key length accepted: HMAC keys shorter than the hash output weaken the construction.
pub const MIN_KEY_BYTES: usize = 32;

/// A 128-bit keyed hash of a credential identifier. Displays as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pseudonym(pub [u8; 16]);

/// Hashed as one `u128`: one call into the hasher, where the derive would feed it a length and
/// then a slice. (Consistent with `Eq`: equal pseudonyms are equal numbers.)
impl std::hash::Hash for Pseudonym {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.as_u128());
    }
}

impl Pseudonym {
    /// The pseudonym as a `u128`, for compact keys.
    pub fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// Parses the 32-hex-digit form produced by `Display`.
    pub fn from_hex(s: &str) -> Option<Pseudonym> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Pseudonym(out))
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 32];
        // Infallible: the buffer is exactly twice the input length.
        hex::encode_to_slice(self.0, &mut buf).map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({self})")
    }
}

impl serde::Serialize for Pseudonym {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Pseudonym {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Pseudonym::from_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 32 hex digits"))
    }
}

/// A non-secret hint of an access key id, as the AWS console shows keys: its four-character
/// prefix (which says the kind: `AKIA` long-lived, `ASIA` temporary) and its last four characters,
/// `AKIA…WXYZ`. Enough for an analyst to tell a principal's keys apart and find the one to revoke;
/// never the whole value. Only made for AWS access key ids, which are identifiers (the secret is
/// the secret access key, never logged): a gateway's API key is itself the secret and gets none.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHint([u8; 8]);

impl KeyHint {
    /// The hint of an AWS access key id (`AKIA`/`ASIA` and 16 more upper-case letters or digits);
    /// `None` for anything else.
    pub fn of_aws_key_id(raw: &str) -> Option<KeyHint> {
        let b = raw.as_bytes();
        let well_formed = b.len() == 20
            && (raw.starts_with("AKIA") || raw.starts_with("ASIA"))
            && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !well_formed {
            return None;
        }
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(&b[..4]);
        h[4..].copy_from_slice(&b[16..]);
        Some(KeyHint(h))
    }

    /// Parses the displayed form (`AKIA…WXYZ`).
    pub fn parse(s: &str) -> Option<KeyHint> {
        let (prefix, suffix) = s.split_once('…')?;
        let (p, x) = (prefix.as_bytes(), suffix.as_bytes());
        if p.len() != 4 || x.len() != 4 || !p.iter().chain(x).all(u8::is_ascii_alphanumeric) {
            return None;
        }
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(p);
        h[4..].copy_from_slice(x);
        Some(KeyHint(h))
    }
}

impl fmt::Display for KeyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Built only from ASCII letters and digits.
        let s = |b: &[u8]| std::str::from_utf8(b).unwrap_or("????").to_owned();
        write!(f, "{}…{}", s(&self.0[..4]), s(&self.0[4..]))
    }
}

impl fmt::Debug for KeyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHint({self})")
    }
}

/// What a pseudonym stands for. Each namespace is hashed apart, so a role session named like an
/// API key never collides with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespace {
    /// A credential presented with a request: API key, access key id, token, consumer credential.
    Credential,
    /// A rolled-up identity that outlives its individual credentials (an AWS role session).
    Session,
}

impl Namespace {
    fn tag(self) -> &'static [u8] {
        match self {
            Namespace::Credential => b"credence/credential\0",
            Namespace::Session => b"credence/session\0",
        }
    }
}

/// Error for a pseudonymisation key that is too short.
#[derive(Debug, thiserror::Error)]
#[error("pseudonymisation key must be at least {MIN_KEY_BYTES} bytes, got {0}")]
pub struct WeakKey(pub usize);

/// Holds the keyed HMAC state; cloning the pre-keyed state per call avoids re-deriving the key pads.
#[derive(Clone)]
pub struct Pseudonymizer {
    keyed: HmacSha256,
}

impl fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pseudonymizer(<keyed>)")
    }
}

impl Pseudonymizer {
    /// Builds a pseudonymiser from a secret key of at least [`MIN_KEY_BYTES`] bytes.
    pub fn new(key: &[u8]) -> Result<Pseudonymizer, WeakKey> {
        if key.len() < MIN_KEY_BYTES {
            return Err(WeakKey(key.len()));
        }
        let keyed = HmacSha256::new_from_slice(key).map_err(|_| WeakKey(key.len()))?;
        Ok(Pseudonymizer { keyed })
    }

    /// A fixed, public key for demos, tests and replays of already-anonymised data. Never for
    /// production: anyone can recompute its pseudonyms.
    pub fn insecure_demo() -> Pseudonymizer {
        Pseudonymizer::new(b"credence-insecure-demo-key-0123456789abcdef").expect("static key is long enough")
    }

    /// The pseudonym of `raw` in `ns`.
    pub fn pseudonymize(&self, ns: Namespace, raw: &str) -> Pseudonym {
        let mut mac = self.keyed.clone();
        mac.update(ns.tag());
        mac.update(raw.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        Pseudonym(out)
    }

    /// A secret seed for another keyed structure (value hashing in baselines), derived from the
    /// same key so one secret protects everything and restarts reproduce the same keys.
    pub fn derive_seed(&self, label: &str) -> [u8; 16] {
        let mut mac = self.keyed.clone();
        mac.update(b"credence/derive\0");
        mac.update(label.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        out
    }

    /// Shorthand for [`Namespace::Credential`].
    pub fn credential(&self, raw: &str) -> Pseudonym {
        self.pseudonymize(Namespace::Credential, raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_keyed_and_namespaced() {
        let a = Pseudonymizer::new(&[7u8; 32]).unwrap();
        let b = Pseudonymizer::new(&[8u8; 32]).unwrap();
        assert_eq!(a.credential("AKIAEXAMPLE"), a.credential("AKIAEXAMPLE"));
        assert_ne!(a.credential("AKIAEXAMPLE"), b.credential("AKIAEXAMPLE"));
        assert_ne!(a.credential("x"), a.pseudonymize(Namespace::Session, "x"), "namespaces must not collide");
    }

    #[test]
    fn display_never_contains_raw_and_round_trips() {
        let p = Pseudonymizer::insecure_demo().credential("AKIAIOSFODNN7EXAMPLE");
        let shown = p.to_string();
        assert_eq!(shown.len(), 32);
        assert!(!shown.contains("AKIA"));
        assert_eq!(Pseudonym::from_hex(&shown), Some(p));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Pseudonym>(&json).unwrap(), p);
    }

    #[test]
    fn rejects_short_keys() {
        assert!(Pseudonymizer::new(b"short").is_err());
    }
}

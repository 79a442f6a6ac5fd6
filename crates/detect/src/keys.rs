//! Compact keys for the values a baseline remembers.
//!
//! Strings (operations, user agents, resources, peer groups) are reduced to 32-bit keyed hashes
//! (SipHash-1-3 under a secret key), so an attacker who can choose a user agent cannot aim it at a
//! victim's known value, and the keys are stable across restarts under the same secret (snapshots
//! stay valid). Networks and countries keep their real value, so evidence can name them.

use std::hash::Hasher;
use std::net::IpAddr;

use credence_event::Country;
use siphasher::sip::SipHasher13;

/// The hasher of the baseline map, whose keys are pseudonyms: HMAC-SHA256 outputs, uniformly
/// random under a secret. Hashing them again (the map's default, SipHash-1-3 under a per-process
/// key, about a fortieth of the scoring path) buys nothing: without the secret no one can choose
/// credentials whose pseudonyms collide. It folds the key's two halves.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PseudonymHasher(u64);

impl Hasher for PseudonymHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u128(&mut self, n: u128) {
        self.0 ^= (n as u64) ^ ((n >> 64) as u64);
    }

    /// Pseudonyms hash as one `u128` (above); any other bytes are folded in 8 at a time.
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
}

/// Keyed hashing of values into table keys.
#[derive(Clone, Debug)]
pub struct KeySpace {
    k0: u64,
    k1: u64,
}

impl KeySpace {
    /// A key space from a secret seed (derive it from the pseudonymisation key).
    pub fn new(seed: [u8; 16]) -> KeySpace {
        let (a, b) = seed.split_at(8);
        let k0 = u64::from_le_bytes(a.try_into().unwrap_or([0; 8]));
        let k1 = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        KeySpace { k0, k1 }
    }

    /// The key space every Credence process derives from its pseudonymisation key, so one secret
    /// protects both and every process (daemon, replay, demo) keys values alike.
    pub fn from_pseudonymizer(p: &credence_event::Pseudonymizer) -> KeySpace {
        KeySpace::new(p.derive_seed("baseline-value-keys"))
    }

    fn hasher(&self, domain: u8) -> SipHasher13 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        h.write_u8(domain);
        h
    }

    fn finish(h: SipHasher13) -> u32 {
        let v = h.finish();
        // Never 0: 0 marks an empty table slot.
        ((v ^ (v >> 32)) as u32) | 1
    }

    /// Key of an API: service and operation together.
    pub fn operation(&self, service: Option<&str>, operation: &str) -> u32 {
        let mut h = self.hasher(1);
        h.write(service.unwrap_or("").as_bytes());
        h.write_u8(0xff);
        h.write(operation.as_bytes());
        Self::finish(h)
    }

    /// Key of a user agent.
    pub fn user_agent(&self, ua: &str) -> u32 {
        let mut h = self.hasher(2);
        h.write(ua.as_bytes());
        Self::finish(h)
    }

    /// Key of a resource.
    pub fn resource(&self, r: &str) -> u32 {
        let mut h = self.hasher(3);
        h.write(r.as_bytes());
        Self::finish(h)
    }

    /// Key of a peer group (64 bits: it keys a shared map).
    pub fn peer(&self, group: &str) -> u64 {
        let mut h = self.hasher(4);
        h.write(group.as_bytes());
        h.finish() | 1
    }

    /// Key of a non-IP origin (an AWS service hostname).
    pub fn host(&self, host: &str) -> u32 {
        let mut h = self.hasher(5);
        h.write(host.as_bytes());
        Self::finish(h)
    }

    /// The subject pseudonym of a source network (a key spray's finding): 128 bits of two keyed
    /// hashes, deterministic under the key, so the same network names the same finding.
    pub fn network_subject(&self, network: &str) -> credence_event::Pseudonym {
        let half = |domain: u8| {
            let mut h = self.hasher(domain);
            h.write(network.as_bytes());
            h.finish()
        };
        let (a, b) = (half(7), half(8));
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&a.to_be_bytes());
        out[8..].copy_from_slice(&b.to_be_bytes());
        credence_event::Pseudonym(out)
    }

    /// A fingerprint of the key space (a keyed hash of a constant: it reveals nothing of the key),
    /// stored with saved state: state learned under another key matches no value and no
    /// credential, so it is refused rather than silently used.
    pub fn fingerprint(&self) -> u64 {
        let mut h = self.hasher(6);
        h.write(b"credence state fingerprint");
        h.finish()
    }
}

/// Network key: the IPv4 /24 itself (top bit set, so it is never 0 and never clashes with a hashed
/// IPv6 key), or a hash of the IPv6 /64.
pub fn network(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(v4) => (u32::from(v4) >> 8) | 0x8000_0000,
        IpAddr::V6(v6) => {
            let prefix = (u128::from(v6) >> 64) as u64;
            let mixed = prefix.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            ((mixed >> 33) as u32 & 0x7fff_ffff) | 1
        }
    }
}

/// Human-readable form of a [`network`] key, when it is an IPv4 /24.
pub fn network_label(key: u32) -> String {
    if key & 0x8000_0000 != 0 {
        let n = (key & 0x00ff_ffff) << 8;
        let b = n.to_be_bytes();
        format!("{}.{}.{}.0/24", b[0], b[1], b[2])
    } else {
        "an IPv6 /64".to_string()
    }
}

/// Key of a country: its two letters.
pub fn country(c: Country) -> u32 {
    u32::from(c.0[0]) << 8 | u32::from(c.0[1])
}

/// Country back from its key.
pub fn country_label(key: u32) -> String {
    let b = [(key >> 8) as u8, key as u8];
    String::from_utf8_lossy(&b).into_owned()
}

/// Key of an autonomous system: its number (never 0 for a real AS).
pub fn asn(n: u32) -> u32 {
    n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonym_hashes_use_both_halves_and_spread() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let b = BuildHasherDefault::<PseudonymHasher>::default();
        let p = credence_event::Pseudonymizer::insecure_demo();
        let hashes: Vec<u64> = (0..4096).map(|i| b.hash_one(p.credential(&format!("ck_live_{i}")).as_u128())).collect();
        assert_ne!(b.hash_one(1u128 << 64), b.hash_one(2u128 << 64), "the high half counts");
        // The map takes its bucket from the low bits and a tag from the top seven: both spread.
        let mut low = [0u32; 64];
        let mut top = [0u32; 128];
        for h in &hashes {
            low[(h & 63) as usize] += 1;
            top[(h >> 57) as usize] += 1;
        }
        assert!(low.iter().all(|&n| (32..=100).contains(&n)), "{low:?}");
        assert!(top.iter().all(|&n| (8..=64).contains(&n)), "{top:?}");
    }

    #[test]
    fn keys_are_nonzero_and_labels_round_trip() {
        let ks = KeySpace::new([3; 16]);
        assert_ne!(ks.operation(None, ""), 0);
        assert_ne!(ks.operation(Some("s3"), "Get"), ks.operation(Some("s3G"), "et"));
        assert_eq!(network_label(network("203.0.113.77".parse().unwrap())), "203.0.113.0/24");
        assert_ne!(network("2001:db8::1".parse().unwrap()), 0);
        assert_eq!(network("2001:db8::1".parse().unwrap()), network("2001:db8::ffff".parse().unwrap()), "same /64");
        let br = Country::parse("BR").unwrap();
        assert_eq!(country_label(country(br)), "BR");
        let other = KeySpace::new([4; 16]);
        assert_ne!(ks.user_agent("curl/8"), other.user_agent("curl/8"), "keyed");
    }
}

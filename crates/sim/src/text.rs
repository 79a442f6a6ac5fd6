//! Allocation-free text helpers: a fixed-capacity inline string, record ids, dates.

use std::fmt;

/// A fixed-capacity ASCII string stored inline (no heap). Pushing past the capacity truncates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct InlineStr<const N: usize> {
    len: u8,
    buf: [u8; N],
}

impl<const N: usize> Default for InlineStr<N> {
    fn default() -> Self {
        InlineStr { len: 0, buf: [0; N] }
    }
}

impl<const N: usize> InlineStr<N> {
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII is ever pushed (see `push_str`), so this never fails.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }

    /// Appends `s`, keeping only its ASCII prefix that fits.
    pub(crate) fn push_str(&mut self, s: &str) {
        for &b in s.as_bytes() {
            if !b.is_ascii() || usize::from(self.len) >= N.min(255) {
                return;
            }
            self.buf[usize::from(self.len)] = b;
            self.len += 1;
        }
    }

    pub(crate) fn push_byte(&mut self, b: u8) {
        if b.is_ascii() && usize::from(self.len) < N.min(255) {
            self.buf[usize::from(self.len)] = b;
            self.len += 1;
        }
    }

    /// Appends `v` in decimal, zero-padded to at least `width` digits.
    pub(crate) fn push_u64(&mut self, mut v: u64, width: usize) {
        let mut digits = [0u8; 20];
        let mut n = 0;
        loop {
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for _ in n..width.min(20) {
            self.push_byte(b'0');
        }
        for i in (0..n).rev() {
            self.push_byte(digits[i]);
        }
    }

    /// Appends the low `nibbles` hex digits of `v`, lowercase.
    pub(crate) fn push_hex(&mut self, v: u64, nibbles: u32) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for i in (0..nibbles).rev() {
            self.push_byte(HEX[((v >> (i * 4)) & 0xf) as usize]);
        }
    }
}

impl<const N: usize> fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Write for InlineStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

/// SplitMix64 finaliser: a bijection on `u64`, so distinct inputs give distinct outputs.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A UUID-v4-shaped record id, random-looking in all its bits yet unique within a run: the low
/// half is a bijection of the sequence number (its two bits displaced by the variant live in the
/// high half), the high half a hash of it and the seed.
pub(crate) fn record_uid(seed_bits: u64, seq: u64) -> InlineStr<36> {
    let full = mix64(seq ^ seed_bits.rotate_left(17));
    let lo = (full & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let hi = mix64(full ^ seed_bits);
    let hi = (hi & 0x3fff_ffff_ffff_0fff) | 0x4000 | ((full >> 62) << 62);
    let mut s = InlineStr::default();
    s.push_hex(hi >> 32, 8);
    s.push_byte(b'-');
    s.push_hex(hi >> 16, 4);
    s.push_byte(b'-');
    s.push_hex(hi, 4);
    s.push_byte(b'-');
    s.push_hex(lo >> 48, 4);
    s.push_byte(b'-');
    s.push_hex(lo, 12);
    s
}

/// Civil date (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Random base-62 / uppercase-alphanumeric text for synthetic credential ids.
pub(crate) fn random_chars(rng: &mut impl rand::Rng, alphabet: &[u8], n: usize, out: &mut String) {
    for _ in 0..n {
        out.push(char::from(alphabet[rng.gen_range(0..alphabet.len())]));
    }
}

pub(crate) const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub(crate) const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_str_formats_and_truncates() {
        let mut s = InlineStr::<8>::default();
        s.push_str("/v1/");
        s.push_u64(42, 3);
        assert_eq!(s.as_str(), "/v1/042");
        s.push_str("xyz");
        assert_eq!(s.as_str(), "/v1/042x");
    }

    #[test]
    fn uids_are_unique_and_uuid_shaped() {
        let mut seen = std::collections::HashSet::new();
        for seq in 0..50_000 {
            let u = record_uid(0x1234_5678_9abc_def0, seq);
            assert_eq!(u.as_str().len(), 36);
            assert!(seen.insert(u.as_str().to_owned()));
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(1_772_409_600 / 86_400), (2026, 3, 2));
    }
}

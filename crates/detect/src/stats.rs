//! O(1) streaming statistics: decayed moments, decayed frequency tables, tiny Bloom filters and
//! distinct-count bitmaps. Everything here is `Copy`-sized, serialisable and allocation-free.

use serde::{Deserialize, Serialize};

/// Exponentially weighted mean and variance. Early on, `alpha` is raised to `1/n` so the first
/// samples form a plain mean instead of being dominated by the zero initial state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EwStats {
    /// Weighted mean.
    pub mean: f32,
    /// Weighted variance.
    pub var: f32,
    /// Number of samples folded in, saturating (used for maturity, not for weighting).
    pub n: u32,
}

impl EwStats {
    /// Folds in `x` with smoothing factor `alpha` (the weight of the new sample once mature),
    /// scaled by `learn` in `[0, 1]` (how much this sample may teach the baseline).
    pub fn update(&mut self, x: f32, alpha: f32, learn: f32) {
        if learn <= 0.0 || !x.is_finite() {
            return;
        }
        self.n = self.n.saturating_add(1);
        let a = ew_weight(alpha, self.n, learn);
        let delta = x - self.mean;
        self.mean += a * delta;
        self.var = (1.0 - a) * (self.var + a * delta * delta);
    }

    /// Standard deviation, floored at `floor` so a perfectly regular history does not make every
    /// tiny deviation look infinite.
    pub fn sd(&self, floor: f32) -> f32 {
        self.var.max(0.0).sqrt().max(floor)
    }

    /// How many standard deviations `x` lies above the mean.
    pub fn z(&self, x: f32, sd_floor: f32) -> f32 {
        (x - self.mean) / self.sd(sd_floor)
    }
}

/// The weight of the `n`th sample (counting it) with smoothing factor `alpha`, scaled by `learn`:
/// `1/n` while that is larger, so the first samples form a plain mean.
pub fn ew_weight(alpha: f32, n: u32, learn: f32) -> f32 {
    alpha.max(1.0 / n.max(1) as f32) * learn.min(1.0)
}

/// `2^(-dt / half_life)`: the decay factor after `dt` seconds.
pub fn decay(dt_secs: u32, half_life_secs: u32) -> f32 {
    if dt_secs == 0 {
        1.0
    } else {
        (-(dt_secs as f32) / half_life_secs.max(1) as f32).exp2()
    }
}

/// A non-negative number in 16 bits: the top half of an `f32`'s bits (bfloat16, about two and a
/// half significant digits, rounded down). Order-preserving and converted with a shift, so peaks
/// that are only compared and decayed cost two bytes instead of four.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Half(pub u16);

impl Half {
    /// `x` (negative and NaN as 0), rounded down to 16 bits.
    pub fn new(x: f32) -> Half {
        let x = if x > 0.0 { x } else { 0.0 };
        Half((x.to_bits() >> 16) as u16)
    }

    /// The value.
    pub fn get(self) -> f32 {
        f32::from_bits(u32::from(self.0) << 16)
    }
}

/// A Bloom filter of `W` 64-bit words with two probes: remembers every value ever seen, so a value
/// evicted from a top-K table is still known as "seen before" (false positives only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bloom<const W: usize> {
    #[serde(with = "serde_arrays")]
    bits: [u64; W],
}

impl<const W: usize> Default for Bloom<W> {
    fn default() -> Self {
        Bloom { bits: [0; W] }
    }
}

impl<const W: usize> Bloom<W> {
    fn probes(key: u32) -> [usize; 2] {
        let h = u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let m = (W * 64) as u64;
        [((h >> 40) % m) as usize, ((h >> 10) % m) as usize]
    }

    /// Whether `key` was (probably) inserted.
    pub fn contains(&self, key: u32) -> bool {
        Self::probes(key).iter().all(|&b| self.bits[b / 64] & (1 << (b % 64)) != 0)
    }

    /// Inserts `key`.
    pub fn insert(&mut self, key: u32) {
        for b in Self::probes(key) {
            self.bits[b / 64] |= 1 << (b % 64);
        }
    }
}

/// Serde for fixed arrays longer than serde's built-in 32 and generic over length.
pub(crate) mod serde_arrays {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize, const N: usize>(a: &[T; N], s: S) -> Result<S::Ok, S::Error> {
        a.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D, T, const N: usize>(d: D) -> Result<[T; N], D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        let v = Vec::<T>::deserialize(d)?;
        let len = v.len();
        v.try_into().map_err(|_| D::Error::invalid_length(len, &"an array of the expected length"))
    }
}

/// Approximate distinct count over a short window by linear counting on 64 bits: within about
/// 15% up to 60 values, saturating near 270, well beyond every enumeration threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistinctBits(pub u64);

impl DistinctBits {
    /// Adds a hashed value.
    pub fn insert(&mut self, key: u32) {
        self.0 |= 1u64 << (key.wrapping_mul(0x9E37_79B9) >> 26);
    }

    /// Estimated number of distinct values inserted.
    pub fn estimate(&self) -> f32 {
        let zeros = self.0.count_zeros().max(1) as f32;
        64.0 * (64.0 / zeros).ln()
    }
}

/// One slot of a [`FreqTable`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    /// Value key (a keyed hash or the value itself); 0 marks an empty slot.
    pub key: u32,
    /// Decayed count as of the table's reference time.
    pub weight: f32,
    /// First day seen (days since 2000-01-01): day resolution is enough for "first seen 12 days
    /// ago" and keeps a slot at 12 bytes.
    pub first_day: u16,
    /// Last day seen, same clock.
    pub last_day: u16,
}

fn day(t: u32) -> u16 {
    (t / 86_400).min(u32::from(u16::MAX)) as u16
}

/// What a [`FreqTable`] knows of one value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lookup {
    /// Never seen before (not in the table, not in the Bloom filter).
    pub novel: bool,
    /// Share of recent weight this value holds (0 when not in the table).
    pub share: f32,
    /// Estimated probability that the next value is one never seen: the decayed rate at which
    /// novel values have been appearing, with a one-observation prior.
    pub p_new: f32,
    /// First time seen (day resolution, baseline clock), when in the table.
    pub first: Option<u32>,
    /// Decayed total weight of the table: how much history backs these numbers.
    pub history: f32,
}

impl Lookup {
    /// Surprise of this value in bits: `-log2 p_new` when novel, `-log2 share` when rare.
    pub fn surprise_bits(&self) -> f32 {
        let p = if self.novel { self.p_new } else { self.share.max(self.p_new) };
        -p.max(1e-9).log2()
    }
}

/// A decayed top-K frequency table with first/last-seen times, backed by a Bloom filter that
/// remembers every value ever seen. Weights decay with a half-life; all slots share one reference
/// time, so decay is applied lazily and in bulk.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FreqTable<const K: usize, const W: usize> {
    #[serde(with = "serde_arrays")]
    slots: [Slot; K],
    bloom: Bloom<W>,
    /// Decayed total weight, including values that fell out of the table.
    total: f32,
    /// Decayed weight of observations that were novel.
    novel: f32,
    /// Reference time of the weights.
    t_ref: u32,
}

impl<const K: usize, const W: usize> Default for FreqTable<K, W> {
    fn default() -> Self {
        FreqTable { slots: [Slot::default(); K], bloom: Bloom::default(), total: 0.0, novel: 0.0, t_ref: 0 }
    }
}

/// Minimum age, in seconds, before weights are decayed again: one `exp2` per minute at most.
const DECAY_GRANULARITY_SECS: u32 = 60;

impl<const K: usize, const W: usize> FreqTable<K, W> {
    /// What the table knows of `key` at time `now`. Read-only.
    pub fn lookup(&self, key: u32, now: u32, half_life: u32) -> Lookup {
        // Same granularity as learning: within a minute of the reference time, no decay.
        let dt = now.saturating_sub(self.t_ref);
        let f = if dt < DECAY_GRANULARITY_SECS { 1.0 } else { decay(dt, half_life) };
        let total = self.total * f;
        let novel = self.novel * f;
        let slot = self.slots.iter().find(|s| s.key == key && s.key != 0);
        let in_bloom = self.bloom.contains(key);
        Lookup {
            novel: slot.is_none() && !in_bloom,
            share: slot.map_or(0.0, |s| s.weight * f / total.max(1e-6)),
            p_new: (novel + 1.0) / (total + 2.0),
            first: slot.map(|s| u32::from(s.first_day) * 86_400),
            history: total,
        }
    }

    /// The slot holding `key`, if any: lets a caller keep per-value data beside the table.
    pub fn slot_of(&self, key: u32) -> Option<usize> {
        self.slots.iter().position(|s| s.key == key && key != 0)
    }

    /// Teaches the table one observation of `key` with weight `w` in `[0, 1]`. Returns the slot
    /// now holding `key` and whether it was (re)assigned to it by this call.
    pub fn learn(&mut self, key: u32, now: u32, half_life: u32, w: f32) -> Option<(usize, bool)> {
        if w <= 0.0 || key == 0 {
            return None;
        }
        let dt = now.saturating_sub(self.t_ref);
        if dt >= DECAY_GRANULARITY_SECS || self.t_ref == 0 {
            let f = decay(dt, half_life);
            for s in &mut self.slots {
                s.weight *= f;
            }
            self.total *= f;
            self.novel *= f;
            self.t_ref = now.max(self.t_ref);
        }
        self.total += w;
        if let Some(i) = self.slot_of(key) {
            let s = &mut self.slots[i];
            s.weight += w;
            s.last_day = s.last_day.max(day(now));
            return Some((i, false));
        }
        if !self.bloom.contains(key) {
            self.novel += w;
            self.bloom.insert(key);
        }
        // Replace the lightest slot (empty slots weigh 0).
        let i = (0..K).min_by(|&a, &b| self.slots[a].weight.total_cmp(&self.slots[b].weight))?;
        self.slots[i] = Slot { key, weight: w, first_day: day(now), last_day: day(now) };
        Some((i, true))
    }

    /// The heaviest values and their shares, heaviest first.
    pub fn top(&self, n: usize) -> Vec<(u32, f32, u32)> {
        let total: f32 = self.slots.iter().map(|s| s.weight).sum::<f32>().max(1e-6);
        let mut v: Vec<_> = self
            .slots
            .iter()
            .filter(|s| s.key != 0)
            .map(|s| (s.key, s.weight / total, u32::from(s.first_day) * 86_400))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v.truncate(n);
        v
    }

    /// Number of distinct values in the table.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.key != 0).count()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ew_stats_converge() {
        let mut s = EwStats::default();
        for i in 0..1000 {
            s.update(10.0 + (i % 2) as f32, 0.05, 1.0);
        }
        assert!((s.mean - 10.5).abs() < 0.1, "{s:?}");
        assert!((s.sd(0.0) - 0.5).abs() < 0.1, "{s:?}");
        assert!(s.z(20.0, 0.0) > 10.0);
        let before = s;
        s.update(1e6, 0.05, 0.0);
        assert_eq!(s, before, "learn weight 0 teaches nothing");
    }

    #[test]
    fn table_novelty_share_and_memory() {
        let mut t = FreqTable::<4, 1>::default();
        let hl = 86_400;
        for i in 0..100 {
            t.learn(1, 1000 + i, hl, 1.0);
        }
        let known = t.lookup(1, 2000, hl);
        assert!(!known.novel && known.share > 0.95);
        let new = t.lookup(99, 2000, hl);
        assert!(new.novel && new.p_new < 0.03, "{new:?}");
        assert!(new.surprise_bits() > 5.0);
        // Evicted values are still remembered by the Bloom filter.
        for k in 10..20 {
            t.learn(k, 3000, hl, 1.0);
        }
        assert!(!t.lookup(11, 3000, hl).novel);
        assert!(t.len() <= 4);
    }

    #[test]
    fn decay_forgets_old_weight() {
        let mut t = FreqTable::<4, 1>::default();
        t.learn(1, 100, 1000, 1.0);
        t.learn(2, 100 + 10_000, 1000, 1.0);
        let l = t.lookup(2, 100 + 10_000, 1000);
        assert!(l.share > 0.99, "{l:?}");
    }

    #[test]
    fn half_keeps_order_and_about_three_digits() {
        for x in [0.0f32, 1.0, 3.7, 64.0, 1_000.5, 2.5e6, 7.0e9] {
            let h = Half::new(x).get();
            assert!(h <= x && h >= x * 0.99, "{x} -> {h}");
        }
        assert!(Half::new(10.0) < Half::new(10.5));
        assert_eq!(Half::new(-1.0).get(), 0.0);
    }

    #[test]
    fn distinct_bits_estimate() {
        let mut d = DistinctBits::default();
        for k in 0..30u32 {
            d.insert(k.wrapping_mul(2_654_435_761));
        }
        let e = d.estimate();
        assert!((20.0..45.0).contains(&e), "{e}");
    }

    proptest::proptest! {
        /// Against a simple model (a set of every key ever learned): the table never forgets a
        /// learned key (no false "novel"), never holds more than K values, and its shares of the
        /// values it holds are proper fractions.
        #[test]
        fn table_agrees_with_a_set_of_seen_keys(ops in proptest::collection::vec((1u32..40, 0u32..600), 1..300)) {
            let mut table = FreqTable::<6, 1>::default();
            let mut seen = std::collections::BTreeSet::new();
            let mut now = 1_000u32;
            for (key, dt) in ops {
                now += dt;
                table.learn(key, now, 3_600, 1.0);
                seen.insert(key);
                for &k in &seen {
                    proptest::prop_assert!(!table.lookup(k, now, 3_600).novel, "forgot key {}", k);
                }
                proptest::prop_assert!(table.len() <= 6);
                let shares: f32 = seen.iter().map(|&k| table.lookup(k, now, 3_600).share).sum();
                proptest::prop_assert!(shares <= 1.0 + 1e-3, "shares sum to {}", shares);
            }
        }
    }
}

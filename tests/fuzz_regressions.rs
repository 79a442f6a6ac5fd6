//! The fuzz targets (fuzz/targets.rs) on the stable test suite: every committed seed, every input
//! a fuzzing run ever crashed on (fuzz/regressions/<target>/, kept as regression tests), the real
//! samples of ../shared/data when present, and a few thousand seeded mutations of each seed per
//! target (structured fuzzing without libFuzzer: bit flips, JSON tokens and extreme numbers
//! spliced in, cuts, repeats). Coverage-guided runs are `scripts/fuzz.sh`.

#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

use rand::{Rng as _, SeedableRng as _};

/// Mutated inputs per target: enough to reach the decoders' error paths, a few seconds in all.
const MUTATIONS_PER_TARGET: usize = 4000;

/// Tokens that break JSON decoders in interesting ways: extreme numbers, escapes, lone
/// surrogates, deep nesting, types in the wrong place.
const TOKENS: [&str; 22] = [
    "1e30",
    "-1e400",
    "18446744073709551616",
    "-9223372036854775809",
    "NaN",
    "null",
    "true",
    "\"\"",
    "[]",
    "{}",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\uDFFF\\uD800\"",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":",
    "\"9999-12-31T23:59:59Z\"",
    "\"0000-00-00T00:00:00Z\"",
    "\"2026-03-02T00:00:00+99:99\"",
    "\u{feff}",
    "\r\n",
    "\"\\\\\\\"\"",
    "\u{10ffff}",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// The seeds of a target: committed, plus the real samples for the decoders.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut out = files(&repo().join("fuzz/seeds").join(target));
    let data = repo().join("../shared/data");
    match target {
        "decode_cloudtrail" => out.extend(files(&data.join("stratus-detonation-logs"))),
        "decode_ocsf" | "decode_kong" | "decode_envoy" | "decode_mapped" => {
            for f in files(&data.join("panther-tests")) {
                out.extend(f.split(|b| *b == b'\n').take(5).map(<[u8]>::to_vec));
            }
        }
        _ => {}
    }
    out.retain(|s| !s.is_empty());
    out
}

/// One to four random edits of `input`.
fn mutate(rng: &mut rand_pcg::Pcg64, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let at = if b.is_empty() { 0 } else { rng.gen_range(0..b.len()) };
        match rng.gen_range(0..7) {
            0 if !b.is_empty() => b[at] ^= 1 << rng.gen_range(0..8),
            1 if !b.is_empty() => b[at] = *b"\"{}[],:\\\xff\x00-0e.".get(rng.gen_range(0..16)).unwrap_or(&b'x'),
            2 => {
                let t = TOKENS[rng.gen_range(0..TOKENS.len())];
                b.splice(at..at, t.bytes());
            }
            3 if !b.is_empty() => {
                let end = rng.gen_range(at..=b.len().min(at + 64));
                b.drain(at..end);
            }
            4 => b.truncate(at),
            5 if !b.is_empty() => {
                let end = rng.gen_range(at..=b.len().min(at + 256));
                let piece = b[at..end].to_vec();
                for _ in 0..rng.gen_range(1..50) {
                    b.splice(at..at, piece.iter().copied());
                }
            }
            _ if !other.is_empty() => {
                // Splice: the head of this input, the tail of another.
                let from = rng.gen_range(0..other.len());
                b.truncate(at);
                b.extend_from_slice(&other[from..]);
            }
            _ => {}
        }
    }
    b
}

#[test]
fn every_seed_and_every_crash_found_so_far_is_handled() {
    let mut seen = 0;
    for (name, target) in targets::TARGETS {
        for input in seeds(name).iter().chain(&files(&repo().join("fuzz/regressions").join(name))) {
            target(input);
            seen += 1;
        }
    }
    assert!(seen >= targets::TARGETS.len(), "every target has seeds");
}

#[test]
fn seeded_mutations_of_the_seeds_are_handled() {
    for (i, (name, target)) in targets::TARGETS.into_iter().enumerate() {
        let seeds = seeds(name);
        assert!(!seeds.is_empty(), "{name} has no seeds");
        let mut rng = rand_pcg::Pcg64::seed_from_u64(21 + i as u64);
        for n in 0..MUTATIONS_PER_TARGET {
            let seed = &seeds[n % seeds.len()];
            let other = &seeds[rng.gen_range(0..seeds.len())];
            let input = mutate(&mut rng, seed, other);
            let caught = std::panic::catch_unwind(|| target(&input));
            assert!(caught.is_ok(), "{name} panicked on mutation {n}: {:?}", String::from_utf8_lossy(&input));
        }
    }
}

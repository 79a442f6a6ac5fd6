//! libFuzzer target: `credence_fuzz::snapshot` (fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| credence_fuzz::snapshot(data));

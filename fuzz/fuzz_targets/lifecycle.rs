//! libFuzzer target: `credence_fuzz::lifecycle` (fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| credence_fuzz::lifecycle(data));

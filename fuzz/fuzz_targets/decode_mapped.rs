//! libFuzzer target: `credence_fuzz::decode_mapped` (fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| credence_fuzz::decode_mapped(data));

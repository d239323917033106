//! Arbitrary bytes as a `/v1/messages` body: parsing, the canonical translation, and back.
#![no_main]

#[path = "../../tests/src/fuzz_checks.rs"]
#[allow(dead_code)]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_messages(data));

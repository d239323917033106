//! Arbitrary bytes as an upstream event stream, pushed whole, byte by byte and in chunks
//! picked by the first two bytes: `SseParser::push` and `finish` must agree.
#![no_main]

#[path = "../../tests/src/fuzz_checks.rs"]
#[allow(dead_code)]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_sse(data));

//! Arbitrary lines of JSON as streamed tool-call deltas, assembled into the candidate's calls.
#![no_main]

#[path = "../../tests/src/fuzz_checks.rs"]
#[allow(dead_code)]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_tool_deltas(data));

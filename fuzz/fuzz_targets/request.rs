//! Arbitrary bytes as a chat-completion body: `parse_body`, then `plugin_request`.
#![no_main]

#[path = "../../tests/src/fuzz_checks.rs"]
#[allow(dead_code)]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_request(data));

//! Arbitrary bytes as stream events through both stream translators (Anthropic ⇄ OpenAI).
#![no_main]

#[path = "../../tests/src/fuzz_checks.rs"]
#[allow(dead_code)]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_stream_translation(data));

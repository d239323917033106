//! Converting between the OpenAI chat-completions dialect (Switchyard's canonical form, what
//! routing and plugins see) and Anthropic's Messages API, both ways: requests, answers,
//! streams (event state machines), tool calls, stop reasons, usage and errors.
//!
//! Everything here is pure: no I/O, no clock (callers pass `created` times), so each
//! direction is unit-tested and fuzzed on its own. Same-dialect traffic never comes here:
//! the original body goes upstream untouched except `model`.

pub mod client;
mod json;
pub mod request_in;
pub mod request_out;
pub mod response;
pub mod stop;
pub mod stream_in;
pub mod stream_out;

#[cfg(test)]
mod tests;

pub use client::ClientStream;
pub use request_in::{AnthropicRequest, BadRequest};
pub use stream_in::AnthropicToOpenai;
pub use stream_out::OpenaiToAnthropic;

/// The `anthropic-version` values this server understands (the Messages API has had one
/// since 2023; the older date is accepted by Anthropic's API as well).
pub const ANTHROPIC_VERSIONS: &[&str] = &["2023-06-01", "2023-01-01"];

/// The `anthropic-version` Switchyard sends to Anthropic upstreams.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// `max_tokens` sent to an Anthropic upstream when an OpenAI client set none (Messages
/// requires it; OpenAI's default is "as many as fit").
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

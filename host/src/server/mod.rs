//! The HTTP surface: OpenAI's `/v1/chat/completions` and `/v1/models`, Anthropic's
//! `/v1/messages` (and `count_tokens`), plus `/healthz` and `/metrics`. hyper 1 over tokio, HTTP/1.1 with keep-alive.

pub mod admin;
pub mod admin_keys;
pub mod body;
pub mod chat;
pub mod embeddings;
pub mod error;
pub mod headers;
pub mod identify;
pub mod listen;
pub mod messages;
pub mod models;
pub mod recorder;
pub mod refusal;
pub mod respond;
pub mod router;
pub mod ui;

pub use crate::app::App;
pub use listen::serve;

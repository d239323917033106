//! Which wire protocol a body speaks. The canonical form inside Switchyard is the OpenAI
//! chat-completions body; a request or answer in another dialect is translated at the edges
//! (`translate`), except when client and upstream speak the same one (passthrough).

/// A wire dialect of chat APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// OpenAI chat completions (`/v1/chat/completions`, `data:` chunks ending in `[DONE]`).
    #[default]
    Openai,
    /// Anthropic Messages (`/v1/messages`, named SSE events ending in `message_stop`).
    Anthropic,
}

impl Dialect {
    /// The label used in decision records and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Openai => "openai",
            Dialect::Anthropic => "anthropic",
        }
    }
}

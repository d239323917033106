//! Shared fixtures for the end-to-end tests: guest plugins built from source
//! (`switchyard_test_artifacts`), plugin engines and sample requests, and (in [`proxy`]) a
//! proxy with a simulated upstream on real loopback sockets.

pub mod flap;
pub mod fuzz_checks;
pub mod observe;
pub mod packages;
pub mod procstat;
pub mod proxy;
pub mod redis;
pub mod reload;

use std::sync::Arc;

use switchyard::plugin::{EngineSettings, Message, PluginEngine, PluginKind, PluginSpec, Request};
pub use switchyard_test_artifacts as guests;

/// A fresh engine with an in-memory cache only.
pub fn engine() -> Arc<PluginEngine> {
    PluginEngine::new(EngineSettings::default()).expect("engine")
}

/// A spec for `path` with `config` (a JSON object).
pub fn spec(name: &str, kind: PluginKind, path: &str, config: serde_json::Value) -> PluginSpec {
    PluginSpec { config, ..PluginSpec::new(name, kind, path) }
}

/// A one-message user request.
pub fn user_request(text: &str) -> Request {
    Request {
        id: "test".into(),
        model: "auto".into(),
        messages: vec![Message { role: "user".into(), content: text.into() }],
        max_tokens: None,
        temperature: None,
        streaming: false,
        wants_json: false,
        json_schema: None,
        has_tools: false,
        input_tokens: (text.len() as u32).div_ceil(4) + 4,
        metadata: vec![],
    }
}

//! `{{name}}`: a Switchyard classifier.
//!
//! Emits `{{name}}.length` (input tokens / `saturation_tokens`, capped at 1) and
//! `{{name}}.question` (1 when the last user message ends with `?`).

use std::sync::Mutex;

use serde::Deserialize;

wit_bindgen::generate!({ world: "classifier", path: "wit" });

// The world's `use types.{...}` brings the types into scope; the host interface is here.
use switchyard::plugin::host::{Level, log};

/// The configuration, from the proxy's `config` table (JSON).
#[derive(Deserialize, Clone, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Prompt size, in tokens, at which `{{name}}.length` reaches 1.
    pub saturation_tokens: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config { saturation_tokens: 1000 }
    }
}

/// Set by `configure`; depends on the configuration only, never on a request.
static CONFIG: Mutex<Option<Config>> = Mutex::new(None);

pub fn parse_config(json: &str) -> Result<Config, String> {
    let config: Config = serde_json::from_str(json).map_err(|e| format!("config: {e}"))?;
    if config.saturation_tokens == 0 {
        return Err("config key `saturation_tokens`: expected at least 1".into());
    }
    Ok(config)
}

pub fn classify(config: &Config, req: &Request) -> Vec<Signal> {
    let last_user = req.messages.iter().rev().find(|m| m.role == "user").map(|m| m.content.trim()).unwrap_or("");
    let length = (f64::from(req.input_tokens) / f64::from(config.saturation_tokens)).min(1.0);
    vec![
        Signal { name: "{{name}}.length".into(), value: length, label: None },
        Signal { name: "{{name}}.question".into(), value: if last_user.ends_with('?') { 1.0 } else { 0.0 }, label: None },
    ]
}

struct Component;

impl Guest for Component {
    fn configure(config: String) -> Result<(), String> {
        let config = parse_config(&config)?;
        log(Level::Debug, &format!("{{name}}: {config:?}"));
        *CONFIG.lock().map_err(|_| "config lock poisoned")? = Some(config);
        Ok(())
    }

    fn classify(req: Request) -> Result<Vec<Signal>, String> {
        let config = CONFIG.lock().map_err(|_| "config lock poisoned")?.clone().unwrap_or_default();
        Ok(classify(&config, &req))
    }
}

export!(Component);

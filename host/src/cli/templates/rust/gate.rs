//! `{{name}}`: a Switchyard gate.
//!
//! Escalates answers shorter than `min_chars` (after trimming) or cut off by the token limit
//! (`finish-reason` `length`); accepts the rest with confidence 1.

use std::sync::Mutex;

use serde::Deserialize;

wit_bindgen::generate!({ world: "gate", path: "wit" });


/// The configuration, from the proxy's `config` table (JSON).
#[derive(Deserialize, Clone, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Fewest characters an acceptable answer has.
    pub min_chars: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { min_chars: 1 }
    }
}

/// Set by `configure`; depends on the configuration only, never on a request.
static CONFIG: Mutex<Option<Config>> = Mutex::new(None);

pub fn parse_config(json: &str) -> Result<Config, String> {
    serde_json::from_str(json).map_err(|e| format!("config: {e}"))
}

pub fn check(config: &Config, _req: &Request, answer: &Candidate) -> Verdict {
    if answer.content.trim().chars().count() < config.min_chars {
        return Verdict::Escalate(format!("shorter than {} characters", config.min_chars));
    }
    if answer.finish_reason == "length" {
        return Verdict::Escalate("cut off (finish reason `length`)".into());
    }
    Verdict::Accept(1.0)
}

struct Component;

impl Guest for Component {
    fn configure(config: String) -> Result<(), String> {
        *CONFIG.lock().map_err(|_| "config lock poisoned")? = Some(parse_config(&config)?);
        Ok(())
    }

    fn check(req: Request, answer: Candidate) -> Result<Verdict, String> {
        let config = CONFIG.lock().map_err(|_| "config lock poisoned")?.clone().unwrap_or_default();
        Ok(check(&config, &req, &answer))
    }
}

export!(Component);

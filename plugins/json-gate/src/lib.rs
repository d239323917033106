//! `json-gate`: a gate that escalates answers that are not the JSON the request asked for.
//!
//! When the request wants JSON (`wants-json`, or a `json-schema` is present):
//!
//! - the answer must parse as JSON, optionally wrapped in a Markdown fence (```` ```json ````
//!   … ```` ``` ````) when `allow_fence` is on;
//! - with a schema and `enforce_schema` on, it must validate against the schema (the subset
//!   below); the escalation reason lists the first few violations with their JSON paths.
//!
//! When the request does not want JSON the answer is accepted with confidence 1. The gate
//! never rejects. A schema that does not parse is not the answer's fault: only syntax is
//! checked then, and a warning is logged.
//!
//! `json-schema` may be the schema itself or OpenAI's `response_format.json_schema` wrapper
//! (`{"name": ..., "schema": {...}, "strict": ...}`); the wrapper's `schema` is used.
//!
//! # Supported JSON Schema subset
//!
//! The validator is the shared `switchyard-json-schema` crate (also used by `tool-args`): `type` (a name or a list of names; `integer` accepts numbers with no
//! fraction), `enum`, `const`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
//! `minLength`, `maxLength` (in characters), `properties`, `required`,
//! `additionalProperties` (`false` or a schema), `items` (a schema, or a list for tuples),
//! `minItems`, `maxItems`, `allOf`, `anyOf`, `oneOf`, `not`, and `$ref` to a local
//! `#/...` pointer (e.g. `#/$defs/address`). `true`/`false` are schemas too. Every other
//! keyword (`format`, `pattern`, `uniqueItems`, ...) is ignored, so an answer is never failed
//! on a rule this gate does not understand.
//!
//! # Configuration
//!
//! ```json
//! {"allow_fence": true, "enforce_schema": true, "require_object": false}
//! ```
//!
//! See [`Config`].

use serde::Deserialize;
use serde_json::Value;
use switchyard_plugin_sdk::config::{self, ConfigCell};
use switchyard_plugin_sdk::{Candidate, Gate, Request, Verdict};

pub use switchyard_json_schema as schema;

/// The gate's configuration.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Accept JSON wrapped in a Markdown code fence (default true).
    pub allow_fence: bool,
    /// Validate against the request's schema when it has one (default true; false checks
    /// syntax only).
    pub enforce_schema: bool,
    /// Without a schema, require a JSON object, as OpenAI's `json_object` mode promises
    /// (default false: any JSON value passes).
    pub require_object: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { allow_fence: true, enforce_schema: true, require_object: false }
    }
}

/// Parses the configuration `configure` receives.
pub fn parse_config(json: &str) -> Result<Config, String> {
    config::parse(json)
}

static CONFIG: ConfigCell<Config> = ConfigCell::new();

struct JsonGate;

impl Gate for JsonGate {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(parse_config(&config)?);
        Ok(())
    }

    fn check(req: Request, answer: Candidate) -> Result<Verdict, String> {
        Ok(check(&*CONFIG.get()?, &req, &answer))
    }
}

switchyard_plugin_sdk::export_gate!(JsonGate);

/// The answer's JSON text: the content itself, or a fenced block's body with `allow_fence`.
pub fn unfence(content: &str, allow_fence: bool) -> &str {
    let trimmed = content.trim();
    if !allow_fence || !trimmed.starts_with("```") || !trimmed.ends_with("```") || trimmed.len() < 6 {
        return trimmed;
    }
    let inner = &trimmed[3..trimmed.len() - 3];
    // Drop the info string (`json`, `JSON`, ...) on the opening line.
    match inner.find('\n') {
        Some(nl) if inner[..nl].trim().chars().all(|c| c.is_ascii_alphanumeric()) => inner[nl + 1..].trim(),
        _ => inner.trim(),
    }
}

/// The schema to validate against: the `schema` member of an OpenAI `json_schema` wrapper,
/// or the document itself.
fn effective_schema(doc: Value) -> Value {
    match doc {
        Value::Object(mut map)
            if map.get("schema").is_some_and(Value::is_object)
                && !map.contains_key("type")
                && !map.contains_key("properties") =>
        {
            map.remove("schema").unwrap_or(Value::Bool(true))
        }
        other => other,
    }
}

/// The verdict on one answer (see the crate docs).
pub fn check(config: &Config, req: &Request, answer: &Candidate) -> Verdict {
    if !req.wants_json && req.json_schema.is_none() {
        return Verdict::Accept(1.0);
    }
    let text = unfence(&answer.content, config.allow_fence);
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Verdict::Escalate(format!("answer is not valid JSON: {e}")),
    };
    let schema = match (&req.json_schema, config.enforce_schema) {
        (Some(text), true) => match serde_json::from_str::<Value>(text) {
            Ok(doc) => Some(effective_schema(doc)),
            Err(e) => {
                switchyard_plugin_sdk::warn!(
                    "request {}: json-schema does not parse ({e}); checking syntax only",
                    req.id
                );
                None
            }
        },
        _ => None,
    };
    match schema {
        Some(schema) => {
            let errors = schema::validate(&value, &schema);
            if errors.is_empty() {
                Verdict::Accept(1.0)
            } else {
                const SHOWN: usize = 3;
                let mut msg = format!(
                    "answer does not match the schema: {}",
                    errors.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ")
                );
                if errors.len() > SHOWN {
                    msg.push_str(&format!(" (and {} more)", errors.len() - SHOWN));
                }
                Verdict::Escalate(msg)
            }
        }
        None if config.require_object && !value.is_object() => {
            Verdict::Escalate("answer is JSON but not an object".into())
        }
        None => Verdict::Accept(1.0),
    }
}

#[cfg(test)]
mod tests;

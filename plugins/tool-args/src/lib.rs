//! `tool-args`: a gate that escalates tool calls a client could not execute.
//!
//! On an answer that makes tool calls, in order, the first failure escalates:
//!
//! 1. a call names a tool the request did not offer;
//! 2. its arguments are not valid JSON, or not a JSON object;
//! 3. its arguments break the tool's parameter schema (required keys, types, enums, nested
//!    objects, ...: the shared validator of `switchyard-json-schema`, also used by
//!    `json-gate`); the reason names the tool and the failing JSON path, e.g.
//!    ``tool `get_weather`: $.unit: "kelvin" is not one of ["celsius","fahrenheit"]``.
//!
//! And on any answer:
//!
//! 4. `tool_choice` was `required` (or named a tool) and the answer called none (or not that
//!    one);
//! 5. `tool_choice` was `none` and the answer called a tool.
//!
//! Otherwise it accepts with confidence 1. A request that offers no tools and an answer that
//! calls none are none of its business (accepted). The gate never rejects: a bad call is a
//! reason to ask a stronger model. A parameter schema that does not parse is the client's
//! problem, not the answer's: that call's arguments are only checked to be a JSON object.
//!
//! # Configuration
//!
//! ```json
//! {"check_schema": true, "empty_arguments_as_object": true, "max_reasons": 3}
//! ```
//!
//! See [`Config`].

use serde::Deserialize;
use serde_json::Value;
use switchyard_plugin_sdk::config::{self, ConfigCell};
use switchyard_plugin_sdk::{Candidate, Gate, Request, ToolCall, ToolChoice, Verdict};

/// The gate's configuration.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Validate arguments against the tool's parameter schema (default true; false checks
    /// names and JSON syntax only).
    pub check_schema: bool,
    /// Read empty arguments (`""`) as `{}`, as several servers send them for a tool without
    /// parameters (default true).
    pub empty_arguments_as_object: bool,
    /// Schema violations listed in a reason at most (default 3, at least 1).
    pub max_reasons: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { check_schema: true, empty_arguments_as_object: true, max_reasons: 3 }
    }
}

/// Parses and checks the configuration `configure` receives.
pub fn parse_config(json: &str) -> Result<Config, String> {
    let config: Config = config::parse(json)?;
    if config.max_reasons == 0 {
        return Err("config key `max_reasons`: expected at least 1, got 0".into());
    }
    Ok(config)
}

static CONFIG: ConfigCell<Config> = ConfigCell::new();

struct ToolArgs;

impl Gate for ToolArgs {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(parse_config(&config)?);
        Ok(())
    }

    fn check(req: Request, answer: Candidate) -> Result<Verdict, String> {
        Ok(check(&*CONFIG.get()?, &req, &answer))
    }
}

switchyard_plugin_sdk::export_gate!(ToolArgs);

/// The verdict on one answer (see the crate docs).
pub fn check(config: &Config, req: &Request, answer: &Candidate) -> Verdict {
    for call in &answer.tool_calls {
        if let Some(why) = check_call(config, req, call) {
            return Verdict::Escalate(why);
        }
    }
    let called = |name: &str| answer.tool_calls.iter().any(|c| c.name == name);
    match &req.tool_choice {
        ToolChoice::Required if answer.tool_calls.is_empty() && !req.tools.is_empty() => {
            Verdict::Escalate("tool_choice `required` asked for a tool call and the answer called none".into())
        }
        ToolChoice::Named(name) if !called(name) => {
            Verdict::Escalate(format!("tool_choice asked for a call of `{name}` and the answer did not call it"))
        }
        ToolChoice::None if !answer.tool_calls.is_empty() => Verdict::Escalate(format!(
            "tool_choice `none` forbade tool calls and the answer called `{}`",
            answer.tool_calls[0].name
        )),
        _ => Verdict::Accept(1.0),
    }
}

/// Why one call cannot be executed, if it cannot.
fn check_call(config: &Config, req: &Request, call: &ToolCall) -> Option<String> {
    let Some(tool) = req.tool(&call.name) else {
        let offered: Vec<&str> = req.tools.iter().map(|t| t.name.as_str()).collect();
        return Some(if offered.is_empty() {
            format!("the answer calls tool `{}` but the request offered no tools", call.name)
        } else {
            format!("tool `{}` was not offered (offered: {})", call.name, offered.join(", "))
        });
    };
    let text = call.arguments.trim();
    let text = if text.is_empty() && config.empty_arguments_as_object { "{}" } else { text };
    let arguments: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return Some(format!("tool `{}`: arguments are not valid JSON: {e}", call.name)),
    };
    if !arguments.is_object() {
        return Some(format!("tool `{}`: $: arguments must be a JSON object", call.name));
    }
    if !config.check_schema {
        return None;
    }
    let schema: Value = match serde_json::from_str(&tool.parameters) {
        Ok(schema) => schema,
        Err(e) => {
            switchyard_plugin_sdk::warn!("tool `{}`: parameter schema does not parse ({e}); not checked", tool.name);
            return None;
        }
    };
    let errors = switchyard_json_schema::validate(&arguments, &schema);
    if errors.is_empty() {
        return None;
    }
    let shown: Vec<&str> = errors.iter().take(config.max_reasons).map(String::as_str).collect();
    let more = errors.len().saturating_sub(shown.len());
    let more = if more > 0 { format!(" (and {more} more)") } else { String::new() };
    Some(format!("tool `{}`: {}{more}", call.name, shown.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_plugin_sdk::Tool;

    const WEATHER: &str = r#"{"type": "object", "required": ["city"], "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "when": {"type": "object", "required": ["day"], "properties": {"day": {"type": "integer", "minimum": 0}}}
    }}"#;

    fn request() -> Request {
        let mut r = Request::from_user("Weather in Paris?");
        r.tools = vec![Tool::new("get_weather", WEATHER), Tool::new("now", "{}")];
        r.has_tools = true;
        r
    }

    fn call(name: &str, arguments: &str) -> Candidate {
        Candidate::with_tool_calls("small", vec![ToolCall::new("call_1", name, arguments)])
    }

    fn reason(v: Verdict) -> String {
        match v {
            Verdict::Escalate(why) => why,
            other => panic!("expected an escalation, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_valid_call_and_plain_text() {
        let c = Config::default();
        assert_eq!(
            check(&c, &request(), &call("get_weather", r#"{"city": "Paris", "unit": "celsius"}"#)),
            Verdict::Accept(1.0)
        );
        assert_eq!(check(&c, &request(), &call("now", "")), Verdict::Accept(1.0));
        assert_eq!(check(&c, &request(), &Candidate::new("small", "It is sunny.")), Verdict::Accept(1.0));
        assert_eq!(check(&c, &Request::from_user("hi"), &Candidate::new("small", "Hello!")), Verdict::Accept(1.0));
    }

    #[test]
    fn names_the_tool_and_the_failing_path() {
        let c = Config::default();
        let r = request();
        assert_eq!(
            reason(check(&c, &r, &call("get_wether", "{}"))),
            "tool `get_wether` was not offered (offered: get_weather, now)"
        );
        assert!(
            reason(check(&c, &r, &call("get_weather", r#"{"city": "Par"#)))
                .starts_with("tool `get_weather`: arguments are not valid JSON")
        );
        assert_eq!(
            reason(check(&c, &r, &call("get_weather", "[]"))),
            "tool `get_weather`: $: arguments must be a JSON object"
        );
        let why = reason(check(&c, &r, &call("get_weather", r#"{"unit": "celsius"}"#)));
        assert!(why.starts_with("tool `get_weather`: $") && why.contains("city"), "{why}");
        let why = reason(check(&c, &r, &call("get_weather", r#"{"city": 3}"#)));
        assert!(why.contains("$.city") && why.contains("string"), "{why}");
        let why = reason(check(&c, &r, &call("get_weather", r#"{"city": "Paris", "unit": "kelvin"}"#)));
        assert!(why.contains("$.unit") && why.contains("kelvin"), "{why}");
        let why = reason(check(&c, &r, &call("get_weather", r#"{"city": "Paris", "when": {"day": -1}}"#)));
        assert!(why.contains("$.when.day"), "{why}");
        let why = reason(check(&c, &r, &call("get_weather", r#"{"city": "Paris", "when": {}}"#)));
        assert!(why.contains("$.when") && why.contains("day"), "{why}");
        let why = reason(check(&c, &Request::from_user("hi"), &call("get_weather", "{}")));
        assert!(why.contains("offered no tools"), "{why}");
    }

    #[test]
    fn tool_choice_is_enforced() {
        let c = Config::default();
        let mut r = request();
        r.tool_choice = ToolChoice::Required;
        assert!(reason(check(&c, &r, &Candidate::new("small", "Sunny."))).contains("called none"));
        assert_eq!(check(&c, &r, &call("now", "{}")), Verdict::Accept(1.0));
        r.tool_choice = ToolChoice::Named("get_weather".into());
        assert!(reason(check(&c, &r, &call("now", "{}"))).contains("`get_weather`"));
        r.tool_choice = ToolChoice::None;
        assert!(reason(check(&c, &r, &call("now", "{}"))).contains("`none`"));
        assert_eq!(check(&c, &r, &Candidate::new("small", "Sunny.")), Verdict::Accept(1.0));
    }

    #[test]
    fn configuration() {
        assert_eq!(parse_config("{}").unwrap(), Config::default());
        assert!(parse_config(r#"{"max_reasons": 0}"#).unwrap_err().contains("max_reasons"));
        assert!(parse_config(r#"{"check_schemas": true}"#).unwrap_err().contains("check_schemas"));
        let loose = parse_config(r#"{"check_schema": false, "empty_arguments_as_object": false}"#).unwrap();
        assert_eq!(check(&loose, &request(), &call("get_weather", r#"{"unit": 1}"#)), Verdict::Accept(1.0));
        assert!(reason(check(&loose, &request(), &call("now", ""))).contains("not valid JSON"));
    }
}

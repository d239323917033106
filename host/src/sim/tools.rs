//! Simulated tool use. When a request offers tools and the conversation does not end with a
//! tool result, the simulated model calls one: the offered tool whose name and description
//! share most words with the prompt, with arguments generated from its parameter schema
//! (strings taken from the prompt where it can). After a tool result it answers in text,
//! quoting the result.
//!
//! `sim-small` breaks about one call in three, chosen by a hash of the prompt (so the same
//! prompt always gets the same call): it cuts the arguments' JSON short, drops a required
//! key, or gives a key the wrong type. That is what the `tool-args` gate is for.

use serde_json::{Map, Value, json};

use super::answer::{Quality, hash};

/// One simulated tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// How `sim-small` can break a call's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakage {
    /// The JSON text stops half-way.
    Truncated,
    /// A required key is missing.
    MissingRequired,
    /// A key holds a value of the wrong type.
    WrongType,
}

/// What the model does with the tools of `body`, if anything: `None` when no tools are
/// offered, `tool_choice` is `none`, or the last message is a tool result (then it answers
/// in text).
pub fn calls(model: &str, quality: Quality, body: &Map<String, Value>, prompt: &str) -> Option<Vec<SimToolCall>> {
    let tools = offered(body);
    if tools.is_empty() || body.get("tool_choice").and_then(Value::as_str) == Some("none") {
        return None;
    }
    let last_role = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str);
    if matches!(last_role, Some("tool" | "function")) {
        return None;
    }
    let forced = body.get("tool_choice").and_then(|c| c.pointer("/function/name")).and_then(Value::as_str);
    let tool =
        forced.and_then(|name| tools.iter().find(|t| t.name == name)).unwrap_or_else(|| best_match(&tools, prompt));
    let seed = hash(&[model, prompt, "tools"]);
    let arguments = arguments_for(tool.parameters, prompt);
    let arguments = match small_breakage(prompt).filter(|_| quality == Quality::Small) {
        Some(breakage) => break_arguments(&arguments, tool.parameters, breakage),
        None => arguments.to_string(),
    };
    Some(vec![SimToolCall {
        id: format!("call_sim{:012x}", seed & 0xffff_ffff_ffff),
        name: tool.name.to_string(),
        arguments,
    }])
}

/// Whether (and how) `sim-small` breaks the tool call it makes for `prompt`: about one
/// prompt in three, from a hash of the prompt alone.
pub fn small_breakage(prompt: &str) -> Option<Breakage> {
    match hash(&[prompt, "tool-breakage"]) % 9 {
        0 => Some(Breakage::Truncated),
        1 => Some(Breakage::MissingRequired),
        2 => Some(Breakage::WrongType),
        _ => None,
    }
}

struct Offered<'a> {
    name: &'a str,
    description: &'a str,
    parameters: Option<&'a Value>,
}

fn offered(body: &Map<String, Value>) -> Vec<Offered<'_>> {
    let mut out = Vec::new();
    for function in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("function"))
        .chain(body.get("functions").and_then(Value::as_array).into_iter().flatten())
    {
        if let Some(name) = function.get("name").and_then(Value::as_str) {
            out.push(Offered {
                name,
                description: function.get("description").and_then(Value::as_str).unwrap_or_default(),
                parameters: function.get("parameters"),
            });
        }
    }
    out
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2).map(str::to_lowercase).collect()
}

/// The offered tool sharing most words with the prompt; the first on a tie.
fn best_match<'a, 'b>(tools: &'b [Offered<'a>], prompt: &str) -> &'b Offered<'a> {
    let prompt = words(prompt);
    let score = |t: &Offered| {
        let name = t.name.replace(['_', '-'], " ");
        words(&format!("{name} {}", t.description)).iter().filter(|w| prompt.contains(w)).count()
    };
    let mut best = &tools[0];
    for tool in &tools[1..] {
        if score(tool) > score(best) {
            best = tool;
        }
    }
    best
}

/// A plausible value for a string parameter: a capitalised word of the prompt (a city, a
/// name) when there is one, else the prompt's last word.
fn string_from(prompt: &str, key: &str) -> String {
    let candidates: Vec<&str> = prompt
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .enumerate()
        .filter(|(i, w)| *i > 0 && w.chars().next().is_some_and(char::is_uppercase))
        .map(|(_, w)| w)
        .collect();
    match candidates.last() {
        Some(word) => word.to_string(),
        None => prompt
            .split_whitespace()
            .last()
            .map_or_else(|| key.to_string(), |w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string()),
    }
}

/// Arguments that satisfy `schema`: every property (required or not, nested objects too),
/// enums take their first value.
fn arguments_for(schema: Option<&Value>, prompt: &str) -> Value {
    value_for(schema.unwrap_or(&json!({"type": "object"})), prompt, "value", 0)
}

/// A value that satisfies `schema` (every property filled, enums take their first value,
/// strings come from the prompt): the simulator's structured output.
pub fn value_for_schema(schema: &Value, prompt: &str) -> Value {
    value_for(schema, prompt, "value", 0)
}

fn value_for(schema: &Value, prompt: &str, key: &str, depth: usize) -> Value {
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" if depth < 8 => {
            let mut out = Map::new();
            for (name, sub) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
                out.insert(name.clone(), value_for(sub, prompt, name, depth + 1));
            }
            Value::Object(out)
        }
        "array" => json!([]),
        "integer" => json!(schema.get("minimum").and_then(Value::as_i64).unwrap_or(1).max(1)),
        "number" => json!(schema.get("minimum").and_then(Value::as_f64).unwrap_or(1.5)),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!(string_from(prompt, key)),
    }
}

/// `arguments` broken as `breakage` says, as JSON text.
fn break_arguments(arguments: &Value, schema: Option<&Value>, breakage: Breakage) -> String {
    let required: Vec<&str> = schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut object = arguments.as_object().cloned().unwrap_or_default();
    match breakage {
        Breakage::MissingRequired if !required.is_empty() => {
            object.remove(required[0]);
            Value::Object(object).to_string()
        }
        Breakage::WrongType if !object.is_empty() => {
            let key = required.first().map(|k| k.to_string()).or_else(|| object.keys().next().cloned());
            if let Some(key) = key {
                let wrong = match object.get(&key) {
                    Some(Value::String(_)) => json!(42),
                    _ => json!("forty-two"),
                };
                object.insert(key, wrong);
            }
            Value::Object(object).to_string()
        }
        // Truncation, and the fallback when there is nothing to drop or retype.
        _ => {
            let full = arguments.to_string();
            let cut = (full.len() / 2).max(1);
            let cut = (0..=cut).rev().find(|i| full.is_char_boundary(*i)).unwrap_or(0);
            full[..cut].to_string()
        }
    }
}

/// The text answer after a tool result: says what the tool returned.
pub fn after_result(body: &Map<String, Value>) -> Option<String> {
    let messages = body.get("messages")?.as_array()?;
    let last = messages.last()?;
    if !matches!(last.get("role").and_then(Value::as_str), Some("tool" | "function")) {
        return None;
    }
    let result = crate::provider::cost::message_text(last);
    let result: String = result.chars().take(200).collect();
    let name = last.get("name").and_then(Value::as_str).map(str::to_string).or_else(|| {
        let id = last.get("tool_call_id")?.as_str()?;
        messages.iter().rev().filter_map(|m| m.get("tool_calls")?.as_array()).flatten().find_map(|c| {
            (c.get("id")?.as_str()? == id).then(|| c.pointer("/function/name")?.as_str().map(str::to_string))?
        })
    });
    Some(match name {
        Some(name) => format!("I checked with `{name}`, which returned: {result}. That should answer your question."),
        None => format!("The tool returned: {result}. That should answer your question."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(prompt: &str) -> Map<String, Value> {
        json!({
            "messages": [{"role": "user", "content": prompt}],
            "tools": [
                {"type": "function", "function": {"name": "get_time", "description": "Current time in a timezone",
                    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}},
                {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                    "parameters": {"type": "object", "required": ["city"], "properties": {
                        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}}
            ]
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn picks_the_matching_tool_with_arguments_from_the_prompt() {
        let prompt = "What is the weather in Paris today?";
        let calls = calls("sim-large", Quality::Large, &body(prompt), prompt).unwrap();
        assert_eq!(calls[0].name, "get_weather");
        let args: Value = serde_json::from_str(&calls[0].arguments).unwrap();
        assert_eq!(args, json!({"city": "Paris", "unit": "celsius"}));
        assert_eq!(calls, super::calls("sim-large", Quality::Large, &body(prompt), prompt).unwrap());
    }

    #[test]
    fn small_breaks_some_calls_deterministically() {
        let mut broken = std::collections::BTreeSet::new();
        let mut fine = 0;
        for i in 0..60 {
            let prompt = format!("What is the weather in Paris on day {i}?");
            let call = &calls("sim-small", Quality::Small, &body(&prompt), &prompt).unwrap()[0];
            let parsed: Result<Value, _> = serde_json::from_str(&call.arguments);
            match small_breakage(&prompt) {
                None => {
                    assert_eq!(parsed.unwrap()["city"], "Paris");
                    fine += 1;
                }
                Some(Breakage::Truncated) => {
                    assert!(parsed.is_err(), "{}", call.arguments);
                    broken.insert("truncated");
                }
                Some(Breakage::MissingRequired) => {
                    assert!(parsed.unwrap().get("city").is_none());
                    broken.insert("missing");
                }
                Some(Breakage::WrongType) => {
                    assert_eq!(parsed.unwrap()["city"], 42);
                    broken.insert("type");
                }
            }
        }
        assert_eq!(broken.len(), 3);
        assert!((30..=50).contains(&fine), "{fine}");
    }

    /// The quickstart (examples/quickstart/run.sh) shows one call of each kind.
    #[test]
    fn the_quickstart_prompts_stay_as_documented() {
        assert_eq!(small_breakage("What is the weather in Lisbon right now?"), None);
        assert_eq!(small_breakage("What is the weather in Paris right now?"), Some(Breakage::MissingRequired));
    }

    #[test]
    fn answers_in_text_after_a_tool_result_or_when_told_not_to_call() {
        let mut b = body("Weather in Paris?");
        b["messages"] = json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "18C and sunny"}
        ]);
        assert!(calls("sim-small", Quality::Small, &b, "x").is_none());
        let text = after_result(&b).unwrap();
        assert!(text.contains("`get_weather`") && text.contains("18C and sunny"), "{text}");
        let mut none = body("Weather in Paris?");
        none.insert("tool_choice".into(), json!("none"));
        assert!(calls("sim-small", Quality::Small, &none, "x").is_none());
    }
}

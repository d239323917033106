//! The structural check of a tool's parameter schema, shared by both dialects' parsers.
//!
//! The OpenAI chat lowering (`route::lower`) and the Anthropic Messages parser
//! (`provider::translate::request_in`) must refuse the same schemas: a request that one
//! dialect accepts and the canonical lowering then refuses would reach the client as a 400
//! in the wrong shape, or not at all. So the check lives here, below both.

use serde_json::Value;

/// JSON Schema type names.
const SCHEMA_TYPES: &[&str] = &["object", "array", "string", "number", "integer", "boolean", "null"];

/// Why a schema was refused: `at` is the path inside it (quoted keys joined by ", ", empty
/// at the top), `why` a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why}")]
pub struct SchemaError {
    pub at: String,
    pub why: String,
}

/// Checks that the keywords a validator relies on have the types JSON Schema gives them,
/// at most 32 levels deep.
pub fn check(schema: &Value) -> Result<(), SchemaError> {
    check_at(schema, &mut Vec::new(), 0)
}

fn check_at(schema: &Value, at: &mut Vec<String>, depth: usize) -> Result<(), SchemaError> {
    let here = |at: &[String], why: String| SchemaError {
        at: at.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", "),
        why,
    };
    if depth > 32 {
        return Err(here(at, "schema is nested too deeply (more than 32 levels).".into()));
    }
    let Value::Object(schema) = schema else {
        return match schema {
            Value::Bool(_) => Ok(()),
            _ => Err(here(at, format!("schema must be an object or a boolean, got {schema}."))),
        };
    };
    match schema.get("type") {
        None => {}
        Some(Value::String(t)) if SCHEMA_TYPES.contains(&t.as_str()) => {}
        Some(Value::Array(ts)) if ts.iter().all(|t| t.as_str().is_some_and(|t| SCHEMA_TYPES.contains(&t))) => {}
        Some(other) => return Err(here(at, format!("'{other}' is not a valid JSON Schema type."))),
    }
    if let Some(required) = schema.get("required")
        && !required.as_array().is_some_and(|r| r.iter().all(Value::is_string))
    {
        return Err(here(at, "'required' must be an array of strings.".into()));
    }
    if let Some(values) = schema.get("enum")
        && !values.is_array()
    {
        return Err(here(at, "'enum' must be an array.".into()));
    }
    if let Some(properties) = schema.get("properties") {
        let Value::Object(properties) = properties else {
            return Err(here(at, "'properties' must be an object.".into()));
        };
        for (key, sub) in properties {
            at.extend(["properties".to_string(), key.clone()]);
            check_at(sub, at, depth + 1)?;
            at.truncate(at.len() - 2);
        }
    }
    if let Some(items) = schema.get("items") {
        at.push("items".into());
        match items {
            Value::Array(items) => items.iter().try_for_each(|s| check_at(s, at, depth + 1))?,
            items => check_at(items, at, depth + 1)?,
        }
        at.pop();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(list) = schema.get(key) {
            let Value::Array(list) = list else {
                return Err(here(at, format!("'{key}' must be an array of schemas.")));
            };
            at.push(key.into());
            list.iter().try_for_each(|s| check_at(s, at, depth + 1))?;
            at.pop();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_well_formed_schema_passes_and_a_bad_type_is_named_where_it_is() {
        let good =
            json!({"type": "object", "properties": {"city": {"type": ["string", "null"]}}, "required": ["city"]});
        assert_eq!(check(&good), Ok(()));
        let bad = json!({"type": "object", "properties": {"when": {"type": "spring"}}});
        let err = check(&bad).unwrap_err();
        assert_eq!(err.at, "'properties', 'when'");
        assert!(err.why.contains("spring"), "{err:?}");
    }

    #[test]
    fn nesting_is_bounded() {
        let mut schema = json!({"type": "string"});
        for _ in 0..40 {
            schema = json!({"type": "array", "items": schema});
        }
        assert!(check(&schema).unwrap_err().why.contains("too deeply"));
    }
}

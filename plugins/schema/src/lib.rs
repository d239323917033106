//! A small JSON Schema validator, shared by the `json-gate` and `tool-args` gates so that a
//! schema means the same thing to both.
//!
//! Supported: `type` (a name or a list of names; `integer` accepts numbers with no
//! fraction), `enum`, `const`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
//! `minLength`, `maxLength` (in characters), `properties`, `required`,
//! `additionalProperties` (`false` or a schema), `items` (a schema, or a list for tuples),
//! `minItems`, `maxItems`, `allOf`, `anyOf`, `oneOf`, `not`, and `$ref` to a local
//! `#/...` pointer (e.g. `#/$defs/address`). `true`/`false` are schemas too. Every other
//! keyword (`format`, `pattern`, `uniqueItems`, ...) is ignored, so a value is never failed
//! on a rule this validator does not understand.
//!
//! Why not the `jsonschema` crate: see `docs/plugins.md` ("JSON Schema in gates") for the
//! size and call-time measurements on `wasm32-wasip2`.
//!
//! Errors are strings like `$.items[2].price: 12 is above maximum 10`. Validation stops
//! collecting after [`MAX_ERRORS`] and follows at most [`MAX_DEPTH`] nested schemas (a
//! recursive `$ref` cannot loop forever).

use serde_json::{Map, Value};

/// Errors collected at most.
pub const MAX_ERRORS: usize = 20;
/// Nested schemas (and `$ref` hops) followed at most.
pub const MAX_DEPTH: usize = 64;

/// Every violation of `schema` by `value` (empty when it validates).
pub fn validate(value: &Value, schema: &Value) -> Vec<String> {
    let mut v = Validator { root: schema, errors: Vec::new() };
    v.check(value, schema, "$", 0);
    v.errors
}

struct Validator<'a> {
    root: &'a Value,
    errors: Vec<String>,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_type(value: &Value, name: &str) -> bool {
    match (name, value) {
        ("integer", Value::Number(n)) => n.as_f64().is_some_and(|f| f.fract() == 0.0),
        ("number", Value::Number(_)) => true,
        _ => type_name(value) == name,
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A short rendering of a value for messages.
fn show(value: &Value) -> String {
    let s = value.to_string();
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s }
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() { Some(root) } else { root.pointer(pointer) }
}

impl<'a> Validator<'a> {
    fn fail(&mut self, path: &str, msg: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(format!("{path}: {msg}"));
        }
    }

    /// Whether `value` validates against `schema`, without recording errors.
    fn passes(&self, value: &Value, schema: &Value, depth: usize) -> bool {
        let mut probe = Validator { root: self.root, errors: Vec::new() };
        probe.check(value, schema, "$", depth);
        probe.errors.is_empty()
    }

    fn check(&mut self, value: &Value, schema: &'a Value, path: &str, depth: usize) {
        if depth > MAX_DEPTH || self.errors.len() >= MAX_ERRORS {
            return;
        }
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return self.fail(path, "no value is allowed here".into()),
            Value::Object(map) => map,
            _ => return, // not a schema: ignored
        };
        // An unresolved `$ref` (remote, or a typo) is ignored like any keyword not understood.
        if let Some(Value::String(reference)) = schema.get("$ref")
            && let Some(target) = resolve(self.root, reference)
        {
            self.check(value, target, path, depth + 1);
        }
        self.check_type(value, schema, path);
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.iter().any(|o| json_eq(o, value))
        {
            self.fail(path, format!("{} is not one of {}", show(value), show(&Value::Array(options.clone()))));
        }
        if let Some(expected) = schema.get("const")
            && !json_eq(expected, value)
        {
            self.fail(path, format!("{} is not {}", show(value), show(expected)));
        }
        match value {
            Value::Number(n) => self.check_number(n.as_f64().unwrap_or(f64::NAN), schema, path),
            Value::String(s) => self.check_string(s, schema, path),
            Value::Array(items) => self.check_array(items, schema, path, depth),
            Value::Object(map) => self.check_object(map, schema, path, depth),
            _ => {}
        }
        self.check_combinators(value, schema, path, depth);
    }

    fn check_type(&mut self, value: &Value, schema: &Map<String, Value>, path: &str) {
        let names: Vec<&str> = match schema.get("type") {
            Some(Value::String(name)) => vec![name.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => return,
        };
        if !names.is_empty() && !names.iter().any(|n| is_type(value, n)) {
            self.fail(path, format!("expected {}, got {}", names.join(" or "), type_name(value)));
        }
    }

    fn check_number(&mut self, n: f64, schema: &Map<String, Value>, path: &str) {
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        if let Some(min) = bound("minimum")
            && n < min
        {
            self.fail(path, format!("{n} is below minimum {min}"));
        }
        if let Some(max) = bound("maximum")
            && n > max
        {
            self.fail(path, format!("{n} is above maximum {max}"));
        }
        if let Some(min) = bound("exclusiveMinimum")
            && n <= min
        {
            self.fail(path, format!("{n} is not above exclusiveMinimum {min}"));
        }
        if let Some(max) = bound("exclusiveMaximum")
            && n >= max
        {
            self.fail(path, format!("{n} is not below exclusiveMaximum {max}"));
        }
    }

    fn check_string(&mut self, s: &str, schema: &Map<String, Value>, path: &str) {
        let len = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            self.fail(path, format!("string of {len} characters is shorter than minLength {min}"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            self.fail(path, format!("string of {len} characters is longer than maxLength {max}"));
        }
    }

    fn check_array(&mut self, items: &[Value], schema: &'a Map<String, Value>, path: &str, depth: usize) {
        let len = items.len() as u64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && len < min
        {
            self.fail(path, format!("{len} items, fewer than minItems {min}"));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && len > max
        {
            self.fail(path, format!("{len} items, more than maxItems {max}"));
        }
        match schema.get("items") {
            Some(Value::Array(tuple)) => {
                for (i, (item, item_schema)) in items.iter().zip(tuple).enumerate() {
                    self.check(item, item_schema, &format!("{path}[{i}]"), depth + 1);
                }
            }
            Some(item_schema) => {
                for (i, item) in items.iter().enumerate() {
                    self.check(item, item_schema, &format!("{path}[{i}]"), depth + 1);
                }
            }
            None => {}
        }
    }

    fn check_object(&mut self, map: &Map<String, Value>, schema: &'a Map<String, Value>, path: &str, depth: usize) {
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(key) {
                    self.fail(path, format!("missing required property `{key}`"));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, item) in map {
            let child = format!("{path}.{key}");
            match properties.and_then(|p| p.get(key)) {
                Some(prop_schema) => self.check(item, prop_schema, &child, depth + 1),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => self.fail(path, format!("property `{key}` is not allowed")),
                    Some(extra @ Value::Object(_)) => self.check(item, extra, &child, depth + 1),
                    _ => {}
                },
            }
        }
    }

    fn check_combinators(&mut self, value: &Value, schema: &'a Map<String, Value>, path: &str, depth: usize) {
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(value, sub, path, depth + 1);
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
            && !any.iter().any(|sub| self.passes(value, sub, depth + 1))
        {
            self.fail(path, "matches none of anyOf".into());
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            let n = one.iter().filter(|sub| self.passes(value, sub, depth + 1)).count();
            if n != 1 {
                self.fail(path, format!("matches {n} of oneOf, expected exactly 1"));
            }
        }
        if let Some(not) = schema.get("not")
            && self.passes(value, not, depth + 1)
        {
            self.fail(path, "matches the schema under `not`".into());
        }
    }
}

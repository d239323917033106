//! Typed plugin configuration.
//!
//! The operator's `[plugins.NAME.config]` table reaches `configure` as a JSON object. Declare a
//! struct with `#[serde(default, deny_unknown_fields)]`, parse it with [`parse`], validate
//! what serde cannot (ranges, cross-field rules) and keep it in a [`ConfigCell`]:
//!
//! ```
//! use serde::Deserialize;
//! use switchyard_plugin_sdk::config::{self, ConfigCell};
//!
//! #[derive(Deserialize, Default, Debug)]
//! #[serde(default, deny_unknown_fields)]
//! struct Config {
//!     min_chars: usize,
//! }
//!
//! static CONFIG: ConfigCell<Config> = ConfigCell::new();
//!
//! fn configure(json: String) -> Result<(), String> {
//!     CONFIG.set(config::parse::<Config>(&json)?);
//!     Ok(())
//! }
//!
//! assert!(configure("{}".into()).is_ok());
//! assert_eq!(
//!     config::parse::<Config>(r#"{"min_chars": "ten"}"#).unwrap_err(),
//!     "config key `min_chars`: invalid type: string \"ten\", expected usize"
//! );
//! ```

use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex};

/// Parses a plugin's JSON configuration into `T`.
///
/// An empty (or all-whitespace) string is read as `{}`, so with `#[serde(default)]` both mean
/// "all defaults". Errors name the key at fault with a dotted path (`weights.code`,
/// `rules[2].plan`) and say what was expected, without serde_json's line/column suffix (the
/// operator wrote TOML, not this JSON).
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    // serde lets a struct be read from a JSON array too; configuration is always an object.
    if !json.trim_start().starts_with('{') {
        return Err("config: expected a JSON object (a table of keys)".to_string());
    }
    let mut de = serde_json::Deserializer::from_str(json);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = strip_position(&err.inner().to_string());
        if path.is_empty() || path == "." {
            format!("config: {inner}")
        } else {
            format!("config key `{path}`: {inner}")
        }
    })?;
    de.end().map_err(|err| format!("config: {}", strip_position(&err.to_string())))?;
    Ok(value)
}

/// Drops serde_json's " at line L column C" suffix.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

/// A place for the configuration `configure` parsed, read by every later call.
///
/// It is a `static`: the host calls `configure` once per instance and then reuses the instance for
/// many calls. [`ConfigCell::get`] fails with a clear message if `configure` was never called.
pub struct ConfigCell<T> {
    value: Mutex<Option<Arc<T>>>,
}

impl<T> ConfigCell<T> {
    /// An empty cell (usable in a `static`).
    pub const fn new() -> Self {
        ConfigCell { value: Mutex::new(None) }
    }

    /// Stores `value`, replacing any earlier one.
    pub fn set(&self, value: T) {
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(value));
    }

    /// The stored configuration, or an error saying `configure` was not called.
    pub fn get(&self) -> Result<Arc<T>, String> {
        self.value
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| "plugin called before `configure` stored its configuration".to_string())
    }
}

impl<T> Default for ConfigCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Conf {
        a: u32,
        weights: BTreeMap<String, f64>,
        rules: Vec<Rule>,
    }
    impl Default for Conf {
        fn default() -> Self {
            Conf { a: 7, weights: BTreeMap::new(), rules: vec![] }
        }
    }
    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Rule {
        plan: Vec<String>,
    }

    #[test]
    fn empty_and_braces_mean_defaults() {
        assert_eq!(parse::<Conf>("").unwrap(), Conf::default());
        assert_eq!(parse::<Conf>("  ").unwrap(), Conf::default());
        assert_eq!(parse::<Conf>("{}").unwrap(), Conf::default());
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse::<Conf>(r#"{"weights": {"code": "x"}}"#).unwrap_err();
        assert_eq!(e, "config key `weights.code`: invalid type: string \"x\", expected f64");
        let e = parse::<Conf>(r#"{"rules": [{"plan": ["a"]}, {"plan": 3}]}"#).unwrap_err();
        assert!(e.starts_with("config key `rules[1].plan`: invalid type"), "{e}");
        let e = parse::<Conf>(r#"{"b": 1}"#).unwrap_err();
        assert!(e.contains("unknown field `b`, expected one of"), "{e}");
        let e = parse::<Conf>(r#"[1]"#).unwrap_err();
        assert_eq!(e, "config: expected a JSON object (a table of keys)");
        let e = parse::<Conf>(r#"{} x"#).unwrap_err();
        assert!(e.starts_with("config: trailing characters"), "{e}");
    }

    #[test]
    fn cell_before_and_after_init() {
        let cell: ConfigCell<u32> = ConfigCell::new();
        assert!(cell.get().unwrap_err().contains("configure"));
        cell.set(3);
        assert_eq!(*cell.get().unwrap(), 3);
    }
}

//! Secrets read from the environment at load. They live in a [`Secret`] so that no
//! `{:?}` of a config, error or log line can ever print one.

use std::collections::BTreeMap;
use std::fmt;

/// A secret string (API key, admin token). Debug and Display print `***`; the only way to
/// the value is [`Secret::expose`], which is easy to grep for.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value, for the one place that must send it (an `authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// All secrets a config refers to, resolved once at load so a missing variable fails the
/// load instead of the first request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// API key per provider name, for providers that name an `api_key_env`.
    pub provider_keys: BTreeMap<String, Secret>,
    /// The admin token, when `admin.token_env` is set.
    pub admin_token: Option<Secret>,
    /// Client API keys, when `server.client_keys_env` is set.
    pub client_keys: Vec<Secret>,
    /// The Redis URL (it may carry a password): `state.redis_url_env`, or `state.redis_url`.
    pub redis_url: Option<Secret>,
}

impl Secrets {
    /// The API key of `provider`, if it has one.
    pub fn provider_key(&self, provider: &str) -> Option<&Secret> {
        self.provider_keys.get(provider)
    }
}

/// Reads `var` through `env`; returns the secret or what is wrong (for a problem line).
pub(crate) fn read_env(env: &dyn Fn(&str) -> Option<String>, var: &str, who: &str) -> Result<Secret, String> {
    if var.is_empty() || var.contains('=') || var.contains('\0') {
        return Err(format!("expected the name of an environment variable, got {var:?}"));
    }
    match env(var) {
        None => Err(format!("environment variable {var} is not set ({who} needs it); set it or remove the key")),
        Some(v) if v.trim().is_empty() => Err(format!("environment variable {var} is set but empty ({who} needs it)")),
        Some(v) => Ok(Secret::new(v.trim().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sk-very-secret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        let mut all = Secrets::default();
        all.provider_keys.insert("openai".into(), s);
        assert!(!format!("{all:?}").contains("sk-very"));
        assert_eq!(all.provider_key("openai").map(Secret::expose), Some("sk-very-secret"));
    }

    #[test]
    fn env_lookup_errors_name_the_variable() {
        let env = |k: &str| match k {
            "SET" => Some("k".to_string()),
            "EMPTY" => Some(" ".to_string()),
            _ => None,
        };
        assert_eq!(read_env(&env, "SET", "p").unwrap().expose(), "k");
        assert!(read_env(&env, "EMPTY", "p").unwrap_err().contains("EMPTY"));
        let e = read_env(&env, "NOPE", "provider \"x\"").unwrap_err();
        assert!(e.contains("NOPE") && e.contains("provider \"x\""));
        assert!(read_env(&env, "", "p").is_err());
    }
}

//! Validation of `[state]`, `[teams]`, `[classes]`, `[keys]` and `[model_limits]`: every
//! name resolves, every number is usable, each key is given exactly one way, and keys given
//! through the environment are hashed here so nothing downstream holds the key itself.

use std::collections::BTreeMap;

use super::Config;
use super::error::Problems;
use super::governance::{StateBackend, check_budgets, check_key, check_rate_limits};
use super::secret::{Secret, read_env};
use super::validate::{is_sha256_hex, key};

pub(crate) fn check(cfg: &mut Config, env: &dyn Fn(&str) -> Option<String>, problems: &mut Problems) {
    check_state(cfg, env, problems);
    for (name, class) in &cfg.classes {
        if let Some(approval) = class.approval_tier
            && approval < class.max_tier
        {
            problems.push(
                format!("classes.{}.approval_tier", key(name)),
                format!("expected a tier >= max_tier ({}), got {approval}", class.max_tier),
            );
        }
    }
    for (name, team) in &cfg.teams {
        let at = format!("teams.{}", key(name));
        for (k, m) in check_budgets(&team.budgets) {
            problems.push(format!("{at}.{k}"), m);
        }
        if let Some(limits) = &team.rate_limits {
            for (k, m) in check_rate_limits(limits) {
                problems.push(format!("{at}.rate_limits.{k}"), m);
            }
        }
        if let Some(class) = &team.class
            && !cfg.classes.contains_key(class)
        {
            problems.push(format!("{at}.class"), format!("unknown class {class:?}"));
        }
    }
    for (id, limits) in &cfg.model_limits {
        let at = format!("model_limits.{}", key(id));
        if !cfg.models.contains_key(id) {
            problems.push(&at, format!("unknown model {id:?}"));
        }
        for (k, m) in check_rate_limits(limits) {
            problems.push(format!("{at}.{k}"), m);
        }
    }
    let budgeted =
        cfg.keys.values().any(|k| !k.budgets.is_empty()) || cfg.teams.values().any(|t| !t.budgets.is_empty());
    if budgeted {
        for (id, model) in &cfg.models {
            if model.prices().is_none() {
                problems.push(
                    format!("models.{}", key(id)),
                    "budgets are configured, and a budget cannot hold against a model without input_price and output_price",
                );
            }
        }
    }
    let mut hashes: BTreeMap<String, String> = BTreeMap::new();
    let names: Vec<String> = cfg.keys.keys().cloned().collect();
    for name in names {
        let at = format!("keys.{}", key(&name));
        if name.starts_with("rk-") {
            problems.push(&at, "key names starting with \"rk-\" are reserved for keys created through the admin API");
        }
        let found = check_key(&cfg.keys[&name], cfg);
        for (k, m) in found {
            problems.push(format!("{at}.{k}"), m);
        }
        let entry = cfg.keys.get_mut(&name).expect("listed above");
        let hash = match (&entry.key_sha256, &entry.key_env) {
            (Some(hash), None) if is_sha256_hex(hash) => Some(hash.to_ascii_lowercase()),
            (Some(_), None) => {
                problems
                    .push(format!("{at}.key_sha256"), "expected 64 hexadecimal characters (the SHA-256 of the key)");
                None
            }
            (None, Some(var)) => match read_env(env, var, &format!("key {name:?}")) {
                Ok(secret) => Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(secret.expose().as_bytes()))),
                Err(e) => {
                    problems.push(format!("{at}.key_env"), e);
                    None
                }
            },
            (Some(_), Some(_)) => {
                problems.push(&at, "expected one of key_sha256 or key_env, got both");
                None
            }
            (None, None) => {
                problems.push(&at, "expected key_sha256 (the key's hex SHA-256) or key_env (a variable holding it)");
                None
            }
        };
        if let Some(hash) = hash {
            if let Some(other) = hashes.insert(hash.clone(), name.clone()) {
                problems.push(format!("{at}.key_sha256"), format!("the same key as keys.{}", key(&other)));
            }
            entry.key_sha256 = Some(hash);
        }
    }
}

fn check_state(cfg: &mut Config, env: &dyn Fn(&str) -> Option<String>, problems: &mut Problems) {
    let s = &cfg.state;
    for (field, value) in
        [("timeout_ms", s.timeout_ms), ("probe_ms", s.probe_ms), ("keys_refresh_ms", s.keys_refresh_ms)]
    {
        if value == 0 {
            problems.push(format!("state.{field}"), "expected a duration > 0, got 0");
        }
    }
    if s.prefix.is_empty() || s.prefix.contains(char::is_whitespace) {
        problems.push("state.prefix", format!("expected a non-empty prefix without spaces, got {:?}", s.prefix));
    }
    let url = match (&s.redis_url, &s.redis_url_env) {
        (Some(_), Some(_)) => {
            problems.push("state", "expected one of redis_url or redis_url_env, got both");
            None
        }
        (Some(url), None) => Some(Secret::new(url.clone())),
        (None, Some(var)) => match read_env(env, var, "the Redis state backend") {
            Ok(url) => Some(url),
            Err(e) => {
                problems.push("state.redis_url_env", e);
                None
            }
        },
        (None, None) => None,
    };
    if let Some(url) = &url
        && !(url.expose().starts_with("redis://") || url.expose().starts_with("unix://"))
    {
        problems.push("state.redis_url", "expected a URL like \"redis://127.0.0.1:6379/0\" (TLS is not built in)");
    }
    if s.backend == StateBackend::Redis && url.is_none() && s.redis_url_env.is_none() {
        problems.push("state.backend", "\"redis\" needs state.redis_url or state.redis_url_env");
    }
    cfg.secrets.redis_url = url;
}

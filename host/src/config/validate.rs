//! Whole-file validation: everything serde cannot check because it spans tables (a model
//! naming a provider, a route naming plugins) or needs the file system and environment.
//! It collects every problem instead of stopping at the first.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use super::Config;
use super::error::Problems;
use super::model::check_price;
use super::provider::check_base_url;
use super::secret::{Secret, Secrets, read_env};
use super::sections::DecisionLog;

/// A key as it would be written in a TOML path: bare when possible, quoted otherwise.
pub(crate) fn key(name: &str) -> String {
    let bare = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { name.to_string() } else { format!("{name:?}") }
}

/// Validates `cfg` in place: fills in resolved fields (paths, listen address, upstream
/// names, secrets) and records every problem found.
pub(crate) fn check(cfg: &mut Config, base: &Path, env: &dyn Fn(&str) -> Option<String>, problems: &mut Problems) {
    match cfg.listen.parse::<SocketAddr>() {
        Ok(addr) => cfg.listen_addr = addr,
        Err(_) => problems
            .push("listen", format!("expected an IP address and port like \"127.0.0.1:8080\", got {:?}", cfg.listen)),
    }
    check_sections(cfg, base, problems);
    cfg.secrets = Secrets::default();
    if let Some(var) = &cfg.admin.token_env {
        match read_env(env, var, "the admin API") {
            Ok(s) => cfg.secrets.admin_token = Some(s),
            Err(e) => problems.push("admin.token_env", e),
        }
    }
    if let Some(hash) = &cfg.admin.token_sha256
        && !is_sha256_hex(hash)
    {
        problems
            .push("admin.token_sha256", "expected 64 hexadecimal characters (the SHA-256 of the token)".to_string());
    }
    if let Some(var) = &cfg.server.client_keys_env {
        match read_env(env, var, "the client API keys") {
            Ok(keys) => {
                cfg.secrets.client_keys =
                    keys.expose().split(',').map(str::trim).filter(|k| !k.is_empty()).map(Secret::new).collect();
            }
            Err(e) => problems.push("server.client_keys_env", e),
        }
    }
    check_providers(cfg, env, problems);
    check_models(cfg, problems);
    cfg.trust.check(base, problems);
    check_plugins(cfg, base, problems);
    for (alias, route) in &cfg.routes {
        super::route::check(alias, route, &cfg.models, &cfg.plugins, problems);
    }
    super::governance_check::check(cfg, env, problems);
}

fn nonzero(problems: &mut Problems, at: impl std::fmt::Display, value: u64, what: &str) {
    if value == 0 {
        problems.push(at, format!("expected {what} > 0, got 0"));
    }
}

fn check_sections(cfg: &mut Config, base: &Path, problems: &mut Problems) {
    let s = &cfg.server;
    nonzero(problems, "server.body_limit_bytes", s.body_limit_bytes, "a limit");
    nonzero(problems, "server.request_timeout_ms", s.request_timeout_ms, "a timeout");
    nonzero(problems, "server.header_read_timeout_ms", s.header_read_timeout_ms, "a timeout");
    nonzero(problems, "server.max_concurrent_requests", s.max_concurrent_requests.into(), "a limit");
    nonzero(problems, "server.queue_timeout_ms", s.queue_timeout_ms, "a timeout");
    for (i, hash) in s.client_keys_sha256.iter().enumerate() {
        if !is_sha256_hex(hash) {
            problems.push(
                format!("server.client_keys_sha256[{i}]"),
                "expected 64 hexadecimal characters (the SHA-256 of a key)",
            );
        }
    }
    nonzero(problems, "health.window", cfg.health.window.into(), "a window");
    nonzero(problems, "health.open_ms", cfg.health.open_ms, "a duration");
    let r = &cfg.runtime;
    nonzero(problems, "runtime.epoch_tick_ms", r.epoch_tick_ms, "a tick");
    nonzero(problems, "runtime.max_memory_mb", r.max_memory_mb, "a limit");
    nonzero(problems, "runtime.max_instances", r.max_instances.into(), "a limit");
    cfg.runtime.cache_dir = absolute(base, &cfg.runtime.cache_dir);
    if let DecisionLog::File(path) = &cfg.telemetry.decision_log {
        if path.as_os_str().is_empty() {
            problems.push("telemetry.decision_log", "expected \"stdout\", \"off\" or a file path, got \"\"");
        }
        cfg.telemetry.decision_log = DecisionLog::File(absolute(base, path));
    }
    if let Some(otlp) = &cfg.telemetry.otlp {
        check_otlp(otlp, problems);
    }
}

fn check_otlp(otlp: &super::OtlpConfig, problems: &mut Problems) {
    let uri = otlp.endpoint.parse::<http::Uri>();
    let scheme_ok = uri.as_ref().is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if !scheme_ok {
        problems.push(
            "telemetry.otlp.endpoint",
            format!(
                "expected the collector's http(s) traces URL (e.g. \"http://127.0.0.1:4318/v1/traces\"), got {:?}",
                otlp.endpoint
            ),
        );
    }
    if !(0.0..=1.0).contains(&otlp.sample_ratio) {
        problems
            .push("telemetry.otlp.sample_ratio", format!("expected a number from 0 to 1, got {}", otlp.sample_ratio));
    }
    nonzero(problems, "telemetry.otlp.timeout_ms", otlp.timeout_ms, "a duration");
    nonzero(problems, "telemetry.otlp.delay_ms", otlp.delay_ms, "a duration");
    nonzero(problems, "telemetry.otlp.batch_spans", otlp.batch_spans as u64, "a batch size");
    if otlp.max_queue_spans < otlp.batch_spans {
        problems.push(
            "telemetry.otlp.max_queue_spans",
            format!("expected at least batch_spans ({}), got {}", otlp.batch_spans, otlp.max_queue_spans),
        );
    }
}

fn check_providers(cfg: &mut Config, env: &dyn Fn(&str) -> Option<String>, problems: &mut Problems) {
    for (name, p) in &cfg.providers {
        let at = format!("providers.{}", key(name));
        if let Err(e) = check_base_url(&p.base_url) {
            problems.push(format!("{at}.base_url"), e);
        }
        if p.api_key_in_file.is_some() {
            problems.push(
                format!("{at}.api_key"),
                "API keys do not belong in the config file; put the key in an environment \
                 variable and name it with api_key_env = \"VAR_NAME\"",
            );
        }
        nonzero(problems, format!("{at}.timeout_ms"), p.timeout_ms, "a timeout");
        nonzero(problems, format!("{at}.connect_timeout_ms"), p.connect_timeout_ms, "a timeout");
        for (h, v) in &p.headers {
            let here = format!("{at}.headers.{}", key(h));
            if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                problems.push(&here, format!("{h:?} is not a valid HTTP header name"));
            } else if h.eq_ignore_ascii_case("authorization") {
                problems.push(&here, "credentials do not belong in the config file; use api_key_env");
            }
            if http::HeaderValue::from_str(v).is_err() {
                problems.push(&here, "expected a header value of visible ASCII characters");
            }
        }
        if let Some(var) = &p.api_key_env {
            match read_env(env, var, &format!("provider {name:?}")) {
                Ok(s) => {
                    cfg.secrets.provider_keys.insert(name.clone(), s);
                }
                Err(e) => problems.push(format!("{at}.api_key_env"), e),
            }
        }
    }
}

fn check_models(cfg: &mut Config, problems: &mut Problems) {
    for (id, m) in cfg.models.iter_mut() {
        let at = format!("models.{}", key(id));
        if !cfg.providers.contains_key(&m.provider) {
            let known: Vec<&str> = cfg.providers.keys().map(String::as_str).collect();
            problems.push(
                format!("{at}.provider"),
                format!("unknown provider {:?}; expected one of [{}]", m.provider, known.join(", ")),
            );
        }
        for (field, price) in [
            ("input_price", m.input_price),
            ("output_price", m.output_price),
            ("cached_input_price", m.cached_input_price),
        ] {
            if let Some(Err(e)) = price.map(check_price) {
                problems.push(format!("{at}.{field}"), e);
            }
        }
        match (m.input_price, m.output_price) {
            (Some(_), None) => problems.push(
                format!("{at}.output_price"),
                "expected a price: input_price is set, so set output_price too (or neither, for an unpriced model)",
            ),
            (None, Some(_)) => problems.push(
                format!("{at}.input_price"),
                "expected a price: output_price is set, so set input_price too (or neither, for an unpriced model)",
            ),
            _ => {}
        }
        nonzero(problems, format!("{at}.context_window"), m.context_window.into(), "a window");
        let mut seen = BTreeSet::new();
        for (i, tag) in m.tags.iter().enumerate() {
            if !seen.insert(tag) {
                problems.push(format!("{at}.tags[{i}]"), format!("tag {tag:?} is listed twice"));
            }
        }
        match &m.upstream {
            Some(u) if u.is_empty() => problems.push(format!("{at}.upstream"), "expected a model name, got \"\""),
            Some(_) => {}
            None => m.upstream = Some(id.clone()),
        }
    }
}

fn check_plugins(cfg: &mut Config, base: &Path, problems: &mut Problems) {
    let fuel_enabled = cfg.runtime.fuel;
    let unsigned_local = cfg.trust.unsigned_local_allowed();
    for (name, p) in cfg.plugins.iter_mut() {
        let at = format!("plugins.{}", key(name));
        check_source(&at, p, base, unsigned_local, problems);
        if let (Some(text), Err(why)) = (&p.fail_mode_text, p.fail_mode()) {
            problems.push(format!("{at}.fail_mode"), format!("{text:?} does not apply to a {}: {why}", p.kind));
        }
        if p.fuel.is_some() && !fuel_enabled {
            problems
                .push(format!("{at}.fuel"), "fuel is set but runtime.fuel = false; enable runtime.fuel or remove it");
        }
        if p.fuel == Some(0) {
            problems.push(format!("{at}.fuel"), "expected fuel > 0, got 0");
        }
        nonzero(problems, format!("{at}.deadline_ms"), p.deadline_ms, "a deadline");
        nonzero(problems, format!("{at}.memory_mb"), p.memory_mb, "a limit");
        nonzero(problems, format!("{at}.pool_size"), p.pool_size.into(), "a pool size");
        nonzero(problems, format!("{at}.quarantine_retry_ms"), p.quarantine_retry_ms, "a retry delay");
    }
}

/// A plugin comes from exactly one of `path` (a local file, unsigned: only without a trust
/// policy) and `source` (a registry package, verified at load by `crate::package`).
fn check_source(at: &str, p: &mut super::PluginConfig, base: &Path, unsigned_local: bool, problems: &mut Problems) {
    match (&p.source, p.path.as_os_str().is_empty()) {
        (Some(_), false) => {
            problems.push(format!("{at}.source"), "set either `path` or `source`, not both");
        }
        (None, true) => problems.push(
            format!("{at}.path"),
            "expected the plugin's `path` (a .wasm file) or `source` (\"oci://HOST/REPO:TAG\")",
        ),
        (None, false) => {
            p.resolved_path = absolute(base, &p.path);
            if !p.resolved_path.is_file() {
                problems.push(format!("{at}.path"), format!("no plugin file at {}", p.resolved_path.display()));
            } else if !unsigned_local {
                problems.push(
                    format!("{at}.path"),
                    "an unsigned local file cannot be loaded while [trust.publishers] is set; publish it as a \
                     signed package and use `source = \"oci://…\"`",
                );
            }
            if p.poll_interval_ms.is_some() {
                problems.push(format!("{at}.poll_interval_ms"), "only a registry `source` tag is polled");
            }
        }
        (Some(source), true) => {
            let Some(reference) = source.strip_prefix(super::OCI_SCHEME) else {
                problems.push(
                    format!("{at}.source"),
                    format!("expected \"oci://HOST/REPO:TAG\" or \"oci://HOST/REPO@sha256:…\", got {source:?}"),
                );
                return;
            };
            if !reference.contains('/') || reference.chars().any(char::is_whitespace) {
                problems.push(
                    format!("{at}.source"),
                    format!("expected \"oci://HOST/REPO:TAG\" or \"oci://HOST/REPO@sha256:…\", got {source:?}"),
                );
            }
            if p.poll_interval_ms.is_some() && reference.contains('@') {
                problems.push(format!("{at}.poll_interval_ms"), "a pinned digest never moves; poll a tag instead");
            }
            if p.poll_interval_ms == Some(0) {
                problems.push(format!("{at}.poll_interval_ms"), "expected an interval > 0, got 0");
            }
        }
    }
}

/// `path` resolved against the config file's directory, made absolute.
fn absolute(base: &Path, path: &Path) -> std::path::PathBuf {
    let joined = base.join(path);
    std::path::absolute(&joined).unwrap_or(joined)
}

/// Whether `text` is a hex SHA-256 digest (64 hexadecimal characters).
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}

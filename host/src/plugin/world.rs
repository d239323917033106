//! Checks that a component implements the world its configuration names, before wasmtime's
//! own type-check, so the error says what is missing in the plugin author's terms.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::PluginKind;

/// Import namespaces a plugin may use: the host interface (and the shared types) and WASI,
/// which the host links with a context that grants nothing.
const ALLOWED_IMPORT_PREFIXES: &[&str] = &["switchyard:plugin/", "wasi:"];

/// Describes how `component` fails to fit `kind`'s world, or `Ok` when the names fit (the
/// types are checked by linking). `supplied` names the imports the host added itself when it
/// split shared core modules out of the plugin ([`super::split`]).
pub(crate) fn check(
    engine: &Engine,
    component: &Component,
    kind: PluginKind,
    supplied: &[String],
) -> Result<(), String> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    let imports: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_string()).collect();
    check_names(kind, &exports, &imports, supplied)
}

/// [`check`] on a component's top-level export and import names, however they were read
/// (a package's are read with wasmparser before anything is compiled).
pub fn check_names(
    kind: PluginKind,
    exports: &[String],
    imports: &[String],
    supplied: &[String],
) -> Result<(), String> {
    let missing: Vec<&str> =
        kind.exports().iter().copied().filter(|want| !exports.iter().any(|have| have == want)).collect();
    if !missing.is_empty() {
        let looks_like = PluginKind::ALL
            .iter()
            .find(|other| **other != kind && other.exports().iter().all(|e| exports.contains(&e.to_string())))
            .map(|other| format!("; it looks like a {other} (it exports `{}`)", other.exports().join("`, `")))
            .unwrap_or_default();
        return Err(format!(
            "it does not implement the `{kind}` world: missing export{} `{}` (it exports: {}){looks_like}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join("`, `"),
            if exports.is_empty() { "nothing".to_string() } else { format!("`{}`", exports.join("`, `")) },
        ));
    }
    let foreign: Vec<&String> = imports
        .iter()
        .filter(|name| !ALLOWED_IMPORT_PREFIXES.iter().any(|p| name.starts_with(p)) && !supplied.contains(name))
        .collect();
    if !foreign.is_empty() {
        let foreign: Vec<&str> = foreign.iter().map(|s| s.as_str()).collect();
        return Err(format!(
            "it imports `{}`, which Switchyard does not offer (a plugin may import only \
             `switchyard:plugin/host` and WASI 0.2, which grants nothing)",
            foreign.join("`, `")
        ));
    }
    Ok(())
}

/// The kind whose world `component`'s exports fit, if exactly one does.
pub(crate) fn detect_kind(engine: &Engine, component: &Component) -> Option<PluginKind> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    let mut fits =
        PluginKind::ALL.into_iter().filter(|kind| kind.exports().iter().all(|e| exports.iter().any(|have| have == e)));
    match (fits.next(), fits.next()) {
        (Some(kind), None) => Some(kind),
        _ => None,
    }
}

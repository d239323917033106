//! The Switchyard manifest: what a package says about itself (name, version, world, contract,
//! the imports it uses, the limits it asks for, its config schema). It travels as the
//! package's second layer and is checked against the component before anything is compiled.

use serde::{Deserialize, Serialize};

use crate::config::PackageLimits;
use crate::plugin::PluginKind;

/// The largest manifest read; real ones are a few KiB (a schema included).
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;

/// The manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageManifest {
    /// `publisher/plugin`, lowercase: what trust globs (`acme/*`) match.
    pub name: String,
    /// Semver; a registry tag moving to an older version is refused as a rollback.
    pub version: String,
    /// The world it implements.
    pub kind: PluginKind,
    /// The WIT contract version it was built against (`0.2.0`).
    pub contract: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub license: String,
    /// Where its source lives (a URL).
    #[serde(default)]
    pub source: String,
    /// The component's imports, exactly (`switchyard:plugin/host@0.2.0`, …).
    #[serde(default)]
    pub imports: Vec<String>,
    /// The limits it asks for; the operator grants them within the publisher's maxima.
    #[serde(default)]
    pub limits: PackageLimits,
    /// A JSON Schema its config must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<serde_json::Value>,
}

impl PackageManifest {
    /// Parses and checks a manifest read from a package (at most [`MAX_MANIFEST_BYTES`]).
    pub fn parse(bytes: &[u8]) -> Result<PackageManifest, String> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(format!("it is {} bytes, over the {MAX_MANIFEST_BYTES}-byte limit", bytes.len()));
        }
        let manifest: PackageManifest = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
        manifest.check()?;
        Ok(manifest)
    }

    /// The field-level checks: a name trust globs can match, semver versions, a schema that
    /// compiles.
    pub fn check(&self) -> Result<(), String> {
        if !valid_name(&self.name) {
            return Err(format!(
                "name {:?}: expected lowercase `publisher/plugin` (letters, digits, `.`, `_`, `-`)",
                self.name
            ));
        }
        self.semver()?;
        semver::Version::parse(&self.contract)
            .map_err(|e| format!("contract {:?}: expected a semver version like \"0.2.0\": {e}", self.contract))?;
        if let Some(schema) = &self.config_schema {
            jsonschema::validator_for(schema).map_err(|e| format!("config_schema: not a usable JSON Schema: {e}"))?;
        }
        Ok(())
    }

    /// `version`, parsed.
    pub fn semver(&self) -> Result<semver::Version, String> {
        semver::Version::parse(&self.version)
            .map_err(|e| format!("version {:?}: expected a semver version like \"1.2.0\": {e}", self.version))
    }

    /// Checks `config` against the package's schema; the error names the key.
    pub fn check_config(&self, config: &serde_json::Value) -> Result<(), String> {
        let Some(schema) = &self.config_schema else {
            return Ok(());
        };
        let validator = jsonschema::validator_for(schema).map_err(|e| format!("config_schema: {e}"))?;
        let problems: Vec<String> = validator
            .iter_errors(config)
            .map(|e| {
                let at = e.instance_path().to_string();
                let key = if at.is_empty() { "config".to_string() } else { format!("config{}", at.replace('/', ".")) };
                format!("{key}: {e}")
            })
            .collect();
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }
}

fn valid_name(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    };
    name.len() <= 128 && name.contains('/') && name.split('/').all(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> serde_json::Value {
        serde_json::json!({
            "name": "acme/min-score", "version": "1.2.0", "kind": "gate", "contract": "0.2.0",
            "imports": ["switchyard:plugin/host@0.2.0"],
            "config_schema": {"type": "object", "properties": {"min": {"type": "number", "maximum": 1}}}
        })
    }

    #[test]
    fn a_good_manifest_parses() {
        let m = PackageManifest::parse(manifest().to_string().as_bytes()).unwrap();
        assert_eq!(m.name, "acme/min-score");
        assert_eq!(m.semver().unwrap(), semver::Version::new(1, 2, 0));
    }

    #[test]
    fn bad_names_versions_and_sizes_are_refused() {
        for (key, value, want) in [
            ("name", serde_json::json!("Acme/X"), "lowercase"),
            ("name", serde_json::json!("noslash"), "publisher/plugin"),
            ("version", serde_json::json!("1.2"), "semver"),
            ("contract", serde_json::json!("latest"), "semver"),
            ("config_schema", serde_json::json!({"type": 5}), "JSON Schema"),
        ] {
            let mut m = manifest();
            m[key] = value;
            let error = PackageManifest::parse(m.to_string().as_bytes()).unwrap_err();
            assert!(error.contains(want), "{key}: {error}");
        }
        let huge = format!("{{\"name\": \"{}\"}}", "a".repeat(MAX_MANIFEST_BYTES));
        assert!(PackageManifest::parse(huge.as_bytes()).unwrap_err().contains("limit"));
        assert!(PackageManifest::parse(b"{not json").unwrap_err().contains("JSON"));
    }

    #[test]
    fn config_errors_name_the_key() {
        let m = PackageManifest::parse(manifest().to_string().as_bytes()).unwrap();
        assert!(m.check_config(&serde_json::json!({"min": 0.5})).is_ok());
        let error = m.check_config(&serde_json::json!({"min": 7})).unwrap_err();
        assert!(error.starts_with("config.min:"), "{error}");
    }
}

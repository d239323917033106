//! Config errors. Every message starts with the file name and the key path, because the
//! person reading it is an operator with an editor open on that file, not a developer
//! with a debugger.

use std::fmt::Display;

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{file}: cannot read the config file: {source}")]
    Read {
        /// The file as the operator named it.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or does not fit the schema (unknown key, wrong type).
    /// The message is toml's own, which already carries the line, column and key.
    #[error("{file}: {message}")]
    Parse {
        /// The file as the operator named it.
        file: String,
        /// toml's message.
        message: String,
    },
    /// The file parsed, but its contents do not hold together. All problems are collected
    /// so that one edit-and-retry cycle fixes them all; they print one per line.
    #[error("{}", .problems.iter().map(|p| format!("{file}: {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file as the operator named it.
        file: String,
        /// One entry per problem, each `key.path: what was expected`.
        problems: Vec<String>,
    },
}

impl ConfigError {
    /// The individual problems (one for `Read` and `Parse`), without the file prefix.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::Read { source, .. } => vec![format!("cannot read: {source}")],
            ConfigError::Parse { message, .. } => vec![message.clone()],
            ConfigError::Invalid { problems, .. } => problems.clone(),
        }
    }
}

/// Collects validation problems as `key.path: message` lines.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<String>);

impl Problems {
    /// Records one problem at `key`.
    pub(crate) fn push(&mut self, key: impl Display, message: impl Display) {
        self.0.push(format!("{key}: {message}"));
    }

    /// Turns the collected problems into an error, or `Ok` if there were none.
    pub(crate) fn into_result(self, file: &str) -> Result<(), ConfigError> {
        if self.0.is_empty() { Ok(()) } else { Err(ConfigError::Invalid { file: file.to_string(), problems: self.0 }) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_prints_one_problem_per_line_with_the_file() {
        let mut p = Problems::default();
        p.push("models.a.provider", "unknown provider \"x\"");
        p.push("routes.auto.default_plan", "must not be empty");
        let err = p.into_result("switchyard.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "switchyard.toml: models.a.provider: unknown provider \"x\"\n\
             switchyard.toml: routes.auto.default_plan: must not be empty"
        );
        assert_eq!(err.problems().len(), 2);
    }

    #[test]
    fn no_problems_is_ok() {
        assert!(Problems::default().into_result("f").is_ok());
    }
}

//! Why a package was refused. Each refusal has a short `reason` label (the metric's label and
//! the word the docs explain in docs/sharing.md); the message says what to fix.

/// A package that may not serve. The version serving before keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{reference} has no signature (no `{tag}` in the registry); sign it with `switchyard plugin sign`")]
    Unsigned { reference: String, tag: String },
    #[error("{reference}: the signature verifies under no trusted key{detail}")]
    UntrustedKey { reference: String, detail: String },
    #[error("{reference}: a signature entry carries no signature (empty `dev.cosignproject.cosign/signature`)")]
    EmptySignature { reference: String },
    #[error("{reference}: the signature is for {signed}, not for this package ({actual})")]
    WrongDigest { reference: String, signed: String, actual: String },
    #[error("{reference}: {what} does not match its digest (the registry or the cache holds a tampered copy)")]
    Tampered { reference: String, what: String },
    #[error("{reference}: publisher `{publisher}` may publish only {allowed}, not `{name}`")]
    NameNotAllowed { reference: String, publisher: String, name: String, allowed: String },
    #[error(
        "{reference}: version {offered} is older than {serving}, which is serving (a rollback); pin its digest \
         (`@{digest}`) to roll back on purpose"
    )]
    Rollback { reference: String, offered: String, serving: String, digest: String },
    #[error("{reference}: the package manifest is not usable: {detail}")]
    Manifest { reference: String, detail: String },
    #[error("{reference}: {detail}")]
    Hostile { reference: String, detail: String },
    #[error("{reference}: the manifest does not describe the component: {detail}")]
    Lying { reference: String, detail: String },
    #[error("{reference}: its config does not fit the package's schema: {detail}")]
    Config { reference: String, detail: String },
    #[error("{reference}: {detail}")]
    Policy { reference: String, detail: String },
    #[error("{reference}: the registry failed ({detail}) and the package cache has no copy")]
    Registry { reference: String, detail: String },
    #[error("package cache {path}: {detail}")]
    Cache { path: String, detail: String },
}

impl PackageError {
    /// The short label counted in `switchyard_package_refusals_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            PackageError::Unsigned { .. } => "unsigned",
            PackageError::UntrustedKey { .. } => "untrusted_key",
            PackageError::EmptySignature { .. } => "empty_signature",
            PackageError::WrongDigest { .. } => "wrong_digest",
            PackageError::Tampered { .. } => "tampered",
            PackageError::NameNotAllowed { .. } => "name_not_allowed",
            PackageError::Rollback { .. } => "rollback",
            PackageError::Manifest { .. } => "manifest",
            PackageError::Hostile { .. } => "hostile",
            PackageError::Lying { .. } => "lying_manifest",
            PackageError::Config { .. } => "config_schema",
            PackageError::Policy { .. } => "policy",
            PackageError::Registry { .. } => "registry",
            PackageError::Cache { .. } => "cache",
        }
    }
}

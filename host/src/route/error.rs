//! How a routing decision can end without an answer. Route code returns these; only
//! `server/` turns them into HTTP statuses and bodies in the client's dialect.

use std::fmt;

use crate::plugin::CallError;

/// What was tried before the request gave up: each attempt's model and how it ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tried(pub Vec<(String, String)>);

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("nothing");
        }
        for (i, (model, why)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{model}: {why}")?;
        }
        Ok(())
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RouteError {
    /// A classifier or policy with fail mode `error` failed.
    #[error("Routing failed: {0}")]
    PluginFailed(CallError),
    /// A gate rejected the answer and the route does not move on after a rejection.
    #[error("The answer of `{model}` was rejected by a gate: {reason}")]
    Rejected { model: String, reason: String },
    /// Every step of the plan failed or was skipped.
    #[error("No model in the plan could answer. Tried: {tried}.")]
    NoAnswer { tried: Tried },
    /// The request's deadline passed before any model answered.
    #[error("The request's deadline passed before any model answered. Tried: {tried}.")]
    DeadlinePassed { tried: Tried },
    /// An upstream refused the request itself (400, 413, 422): every model would, so the
    /// plan stops and the client hears why.
    #[error("The upstream for `{model}` rejected the request: {message}")]
    RefusedRequest { model: String, status: u16, message: String },
}

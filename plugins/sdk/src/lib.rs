//! The Rust SDK for Switchyard routing plugins.
//!
//! A Switchyard plugin is a WebAssembly component (target `wasm32-wasip2`) that implements one
//! world of `wit/switchyard.wit`:
//!
//! | world        | trait to implement | export macro                          | job                                   |
//! |--------------|--------------------|---------------------------------------|---------------------------------------|
//! | `classifier` | [`Classifier`]     | [`export_classifier!`](crate::export_classifier) | request → [`Signal`]s              |
//! | `policy`     | [`Policy`]         | [`export_policy!`](crate::export_policy)         | request + signals + models → [`Plan`] |
//! | `gate`       | [`Gate`]           | [`export_gate!`](crate::export_gate)             | request + [`Candidate`] → [`Verdict`] |
//!
//! Every world also exports `configure(config)` (named `init` in contract 0.1.0), called once per instance with the operator's
//! configuration as JSON. This crate generates the bindings of all three worlds once, sharing
//! the [`types`] and [`host`] interfaces, so a plugin crate needs no `wit_bindgen::generate!`
//! of its own and no copy of the WIT file: it implements a trait and invokes one macro.
//!
//! Besides the bindings it offers:
//!
//! - [`config`]: typed configuration ([`config::parse`]) with error messages that name the key
//!   at fault, and [`config::ConfigCell`] to keep it between calls;
//! - [`log`]: `info!`-style macros over the host's log import (on a non-wasm target, as in
//!   unit tests, they print to stderr instead);
//! - [`text`] and the inherent helpers on the types ([`Request::last_user_message`],
//!   [`Request::user_text`], [`Request::meta`], [`ModelInfo::has_tag`], [`Signal::new`]...);
//! - [`signals`]: look a signal up by name.
//!
//! # A whole plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "prefer-small"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! switchyard-plugin-sdk = { path = "../sdk" }
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use serde::Deserialize;
//! use switchyard_plugin_sdk::config::ConfigCell;
//! use switchyard_plugin_sdk::prelude::*;
//!
//! /// Configuration: `{"threshold": 0.7}`.
//! #[derive(Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct Config {
//!     /// Above this `complexity.score`, go straight to the strongest model.
//!     threshold: f64,
//! }
//!
//! impl Default for Config {
//!     fn default() -> Self {
//!         Config { threshold: 0.7 }
//!     }
//! }
//!
//! static CONFIG: ConfigCell<Config> = ConfigCell::new();
//!
//! struct PreferSmall;
//!
//! impl Policy for PreferSmall {
//!     fn configure(config: String) -> Result<(), String> {
//!         let config: Config = switchyard_plugin_sdk::config::parse(&config)?;
//!         if !(0.0..=1.0).contains(&config.threshold) {
//!             return Err(format!("threshold: expected a number in 0..=1, got {}", config.threshold));
//!         }
//!         CONFIG.set(config);
//!         Ok(())
//!     }
//!
//!     fn route(req: Request, signals: Vec<Signal>, models: Vec<ModelInfo>) -> Result<Plan, String> {
//!         let config = CONFIG.get()?;
//!         let score = signal_value(&signals, "complexity.score").unwrap_or(0.0);
//!         let mut healthy: Vec<&ModelInfo> = models.iter().filter(|m| m.healthy).collect();
//!         healthy.sort_by_key(|m| m.tier);
//!         if score >= config.threshold {
//!             healthy.reverse();
//!         }
//!         if healthy.is_empty() {
//!             return Err("no healthy model".into());
//!         }
//!         debug!("request {} scored {score:.2}", req.id);
//!         Ok(Plan {
//!             steps: healthy.iter().map(|m| m.id.clone()).collect(),
//!             reason: format!("complexity.score {score:.2} vs threshold {}", config.threshold),
//!         })
//!     }
//! }
//!
//! switchyard_plugin_sdk::export_policy!(PreferSmall);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the component is
//! `target/wasm32-wasip2/release/prefer_small.wasm` (cdylibs for `wasm32-wasip2` are components
//! already, no `wasm-tools component new` step).
//!
//! # Testing
//!
//! The bindings compile on the host target too (imports become stubs), so keep the logic in
//! plain functions over these types and unit-test it with `cargo test`. The constructors
//! [`Request::from_user`], [`ModelInfo::new`] and [`Signal::new`] keep test fixtures short.
//!
//! # Rules
//!
//! Plugins are pure functions of their inputs and config (no clock, randomness, files or
//! network; the host's WASI grants nothing), run under a deadline and a memory cap, and may be
//! reused for many calls: never let one request influence another's answer.
#![warn(missing_docs)]

// The generated bindings name types by paths that must resolve both in this crate and in the
// plugin crates that expand the export macros: `switchyard_plugin_sdk::...` does both.
extern crate self as switchyard_plugin_sdk;

pub mod bindings;
pub mod config;
pub mod log;
pub mod signals;
pub mod text;
mod types_ext;

pub use bindings::classifier::switchyard::plugin::{host, types};
pub use host::Level;
pub use signals::{signal, signal_label, signal_value};
pub use types::{
    Candidate, ContentPart, JsonSchemaFormat, Message, ModelInfo, PartKind, Plan, Request, ResponseFormat, Signal,
    Tool, ToolCall, ToolChoice, ToolResult, Verdict,
};

/// The `classifier` world's exports: `configure` and `classify`.
pub use bindings::classifier::Guest as Classifier;
/// The `gate` world's exports: `configure` and `check`.
pub use bindings::gate::Guest as Gate;
/// The `policy` world's exports: `configure` and `route`.
pub use bindings::policy::Guest as Policy;

#[doc(inline)]
pub use bindings::classifier::export_classifier;
#[doc(inline)]
pub use bindings::gate::export_gate;
#[doc(inline)]
pub use bindings::policy::export_policy;

/// `use switchyard_plugin_sdk::prelude::*;` brings the types, the three traits, the signal
/// lookups and the log macros into scope.
pub mod prelude {
    pub use crate::config::ConfigCell;
    pub use crate::signals::{signal, signal_label, signal_value};
    pub use crate::types::{
        Candidate, Message, ModelInfo, Plan, Request, ResponseFormat, Signal, Tool, ToolCall, ToolChoice, Verdict,
    };
    pub use crate::{Classifier, Gate, Policy};
    pub use crate::{debug, error, info, trace, warn};
}

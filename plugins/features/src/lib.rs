//! Text features shared by Switchyard's first-party plugins and the host.
//!
//! The `difficulty` classifier's question cues ([`question`]), the `math-check` gate's answer
//! checks ([`math`]) and the `sanity` gate's repetition and refusal checks ([`answer`]) live
//! here, so that `switchyard train` fits a router on exactly the signals those plugins
//! compute, and the `learned` plugin scores requests with the same code the model was trained
//! with ([`vector`], [`ngrams`], [`model`]). Plain Rust with `serde` only: it builds for the
//! host and for `wasm32-wasip2`.

pub mod answer;
pub mod math;
pub mod model;
pub mod ngrams;
pub mod plugin;
pub mod question;
pub mod vector;

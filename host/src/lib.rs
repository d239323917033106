//! Switchyard: an OpenAI-compatible LLM router whose routing logic runs as sandboxed
//! WebAssembly plugins. See `DESIGN.md` in the shared docs and the README.
//!
//! The modules follow the request path: [`config`] describes it, [`server`] receives it,
//! [`route`] classifies, plans and cascades, [`provider`] calls upstreams, and [`plugin`] runs
//! the classifiers, policies and gates. Off the request path, [`eval`] replays a route's
//! plugins over labelled data to show what the route buys (`switchyard eval`, see EVAL.md).

// mimalloc's C library, linked into every binary built on this crate (tests and benches
// included), not only the one that makes it the global allocator: `plugin::scratch` calls it.
extern crate mimalloc;

pub mod app;
pub mod cli;
pub mod config;
pub mod eval;
pub mod govern;
pub mod package;
pub mod plugin;
pub mod provider;
pub mod reload;
pub mod route;
pub mod server;
pub mod sim;
pub mod state;
pub mod telemetry;
pub mod train;

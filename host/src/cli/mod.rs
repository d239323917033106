//! Subcommands of the `switchyard` binary that are more than wiring.

pub mod plugin_check;
pub mod stats;

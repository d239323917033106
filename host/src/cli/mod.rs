//! Subcommands of the `switchyard` binary that are more than wiring.
//!
//! The plugin developer kit: [`plugin_new`] scaffolds a project (Rust, Python or JS),
//! [`plugin_build`] builds it into a component, [`plugin_test`] runs it over [`fixtures`];
//! [`plugin_check`] loads any component and measures it.

pub mod fixtures;
pub mod package;
pub mod plugin_build;
pub mod plugin_check;
pub mod plugin_dev;
pub mod plugin_new;
pub mod plugin_test;
pub mod project;
pub mod stats;

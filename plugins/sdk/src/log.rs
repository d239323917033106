//! Logging through the host's `log` import.
//!
//! The host tags each line with the plugin's name, rate-limits and truncates it: logging is
//! safe to call but is not a data channel. The macros take `format!` arguments:
//!
//! ```
//! use switchyard_plugin_sdk::{info, warn};
//! info!("routing {} models", 3);
//! warn!("config key `x` is deprecated");
//! ```
//!
//! On a non-wasm target (unit tests on the host) there is no host to call, so lines go to
//! stderr instead.

use crate::host::Level;

/// Writes `message` to the host's log at `level`.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Logs at `trace` level.
pub fn trace(message: &str) {
    log(Level::Trace, message)
}
/// Logs at `debug` level.
pub fn debug(message: &str) {
    log(Level::Debug, message)
}
/// Logs at `info` level.
pub fn info(message: &str) {
    log(Level::Info, message)
}
/// Logs at `warn` level.
pub fn warn(message: &str) {
    log(Level::Warn, message)
}
/// Logs at `error` level.
pub fn error(message: &str) {
    log(Level::Error, message)
}

/// `trace!("fmt", args..)`: [`log`] at trace level.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::log::log($crate::host::Level::Trace, &::std::format!($($arg)*)) };
}
/// `debug!("fmt", args..)`: [`log`] at debug level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::log($crate::host::Level::Debug, &::std::format!($($arg)*)) };
}
/// `info!("fmt", args..)`: [`log`] at info level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::log($crate::host::Level::Info, &::std::format!($($arg)*)) };
}
/// `warn!("fmt", args..)`: [`log`] at warn level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::log($crate::host::Level::Warn, &::std::format!($($arg)*)) };
}
/// `error!("fmt", args..)`: [`log`] at error level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::log($crate::host::Level::Error, &::std::format!($($arg)*)) };
}

//! Upstream clients.

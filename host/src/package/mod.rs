//! Plugin packages: signed, self-describing plugins shared through OCI registries.
//!
//! A package is an OCI artifact in the CNCF Wasm layout ([`layout`]) carrying the component
//! and a Switchyard [`manifest`] (name, version, world, contract, imports, requested limits,
//! config schema). It is signed in cosign's simple-signing format ([`sign`]) and trusted by
//! `[trust]` ([`trust`]). The proxy fetches it ([`fetch`], over [`registry`], cached on disk in
//! an OCI image layout, [`store`]), verifies and validates it ([`verify`], with [`wasm`]'s
//! pre-compile checks) and points the plugin at the verified component ([`resolve`]); the
//! snapshot build then loads it like a file. docs/sharing.md is the operator's guide.

pub mod error;
pub mod fetch;
pub mod layout;
pub mod manifest;
pub mod registry;
pub mod resolve;
pub mod sign;
pub mod store;
pub mod trust;
pub mod verify;
pub mod wasm;

pub use error::PackageError;
pub use manifest::PackageManifest;
pub use resolve::resolve;

//! Paths of the guest plugins, built from source for the host's tests.
//!
//! The build script compiles the `plugins/` workspace for `wasm32-wasip2` (into
//! `target/guests/`, apart from the outer build) and defines one constant per component:
//!
//! ```no_run
//! let bytes = std::fs::read(switchyard_test_artifacts::HOSTILE).unwrap();
//! assert!(bytes.starts_with(b"\0asm"));
//! ```
//!
//! Depend on this crate (as a dev-dependency) from any crate whose tests load guests. Nothing
//! here is committed as a binary: change a plugin's source and the next `cargo test`
//! rebuilds it.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

#[cfg(test)]
mod tests {
    #[test]
    fn every_artifact_is_a_component() {
        for (name, path) in super::ALL {
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {path}: {e}"));
            // A component's preamble: magic, then version 0x0d and layer 1 (a core module
            // has version 1, layer 0).
            assert_eq!(&bytes[..8], b"\0asm\x0d\x00\x01\x00", "{name} is not a component");
        }
        assert!(std::path::Path::new(super::WIT_DIR).join("switchyard.wit").is_file());
    }
}

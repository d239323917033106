//! Host bindings for the three worlds of `wit/switchyard.wit`.
//!
//! The `types` and `host` interfaces are generated once (in `classifier`) and shared by the
//! other two worlds through `with`, so a `Request` built for a classifier can be handed to a
//! policy and a gate without conversion.

/// The classifier world; also the home of the shared `types` and `host` interfaces.
pub mod classifier {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "classifier",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

/// The policy world.
pub mod policy {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "policy",
        with: {
            "switchyard:plugin/types": super::classifier::switchyard::plugin::types,
            "switchyard:plugin/host": super::classifier::switchyard::plugin::host,
        },
    });
}

/// The gate world.
pub mod gate {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "gate",
        with: {
            "switchyard:plugin/types": super::classifier::switchyard::plugin::types,
            "switchyard:plugin/host": super::classifier::switchyard::plugin::host,
        },
    });
}

pub use classifier::switchyard::plugin::host::{Host as HostImports, Level, add_to_linker};
pub use classifier::switchyard::plugin::types;

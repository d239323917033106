//! Host bindings for the three worlds of `wit/switchyard.wit` (0.2.0, the host's own types)
//! and of `wit/0.1.0/switchyard.wit` (for components built against the first contract,
//! adapted in [`super::adapt`]).
//!
//! Exports are called asynchronously: wasmtime-wasi's synchronous WASI bindings block on a
//! tokio runtime internally (`block_on`), which panics on a runtime worker thread, so any
//! guest that merely prints (or panics, which prints) would take its request down. Async
//! calls run WASI natively on the request's task; a plugin call still never waits on I/O,
//! since the WASI it gets has none.
//!
//! The `types` and `host` interfaces are generated once per version (in `classifier`) and
//! shared by the other two worlds through `with`, so a `Request` built for a classifier can be
//! handed to a policy and a gate without conversion.

/// The classifier world; also the home of the shared `types` and `host` interfaces.
pub mod classifier {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "classifier",
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

/// The policy world.
pub mod policy {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "policy",
        exports: { default: async },
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
        exports: { default: async },
        with: {
            "switchyard:plugin/types": super::classifier::switchyard::plugin::types,
            "switchyard:plugin/host": super::classifier::switchyard::plugin::host,
        },
    });
}

/// The worlds of contract 0.1.0, exactly as published.
pub mod v010 {
    /// The 0.1.0 classifier world and its `types` and `host` interfaces.
    pub mod classifier {
        wasmtime::component::bindgen!({
            path: "../wit/0.1.0",
            world: "classifier",
            exports: { default: async },
        });
    }

    /// The 0.1.0 policy world.
    pub mod policy {
        wasmtime::component::bindgen!({
            path: "../wit/0.1.0",
            world: "policy",
            exports: { default: async },
            with: {
                "switchyard:plugin/types": super::classifier::switchyard::plugin::types,
                "switchyard:plugin/host": super::classifier::switchyard::plugin::host,
            },
        });
    }

    /// The 0.1.0 gate world.
    pub mod gate {
        wasmtime::component::bindgen!({
            path: "../wit/0.1.0",
            world: "gate",
            exports: { default: async },
            with: {
                "switchyard:plugin/types": super::classifier::switchyard::plugin::types,
                "switchyard:plugin/host": super::classifier::switchyard::plugin::host,
            },
        });
    }

    pub use classifier::switchyard::plugin::host::{Host as HostImports, Level, add_to_linker};
    pub use classifier::switchyard::plugin::types;
}

pub use classifier::switchyard::plugin::host::{Host as HostImports, Level, add_to_linker};
pub use classifier::switchyard::plugin::types;

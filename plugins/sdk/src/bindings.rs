//! The generated bindings of the three worlds of `wit/switchyard.wit`.
//!
//! `classifier` generates the shared `types` and `host` interfaces (all of their types, even
//! those the classifier world does not use); `policy` and `gate` reuse them through `with`, so
//! a [`crate::Request`] is one Rust type whichever world a plugin implements.
//!
//! The export macros are public (`pub_export_macro`): with that option wit-bindgen puts the
//! custom section that lists a world's *exports* inside the macro's expansion, and only the
//! imports-only section in this crate. A plugin therefore becomes a component exporting just
//! the world whose macro it invoked, although this crate contains all three.
#![allow(missing_docs)]

/// The `classifier` world; also home of the shared `types` and `host` interfaces.
pub mod classifier {
    wit_bindgen::generate!({
        world: "classifier",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_classifier",
        default_bindings_module: "switchyard_plugin_sdk::bindings::classifier",
        generate_all,
        generate_unused_types: true,
        additional_derives: [PartialEq],
    });
}

/// The `policy` world.
pub mod policy {
    wit_bindgen::generate!({
        world: "policy",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_policy",
        default_bindings_module: "switchyard_plugin_sdk::bindings::policy",
        with: {
            "switchyard:plugin/types@0.2.0": switchyard_plugin_sdk::types,
            "switchyard:plugin/host@0.2.0": switchyard_plugin_sdk::host,
        },
    });
}

/// The `gate` world.
pub mod gate {
    wit_bindgen::generate!({
        world: "gate",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_gate",
        default_bindings_module: "switchyard_plugin_sdk::bindings::gate",
        with: {
            "switchyard:plugin/types@0.2.0": switchyard_plugin_sdk::types,
            "switchyard:plugin/host@0.2.0": switchyard_plugin_sdk::host,
        },
    });
}

//! Builds every crate of the guest workspace (`plugins/`) for `wasm32-wasip2` and writes
//! `$OUT_DIR/artifacts.rs` with the absolute path of each component.
//!
//! Like wasmtime's `crates/test-programs/artifacts`, guests are built from source by a build
//! script and never committed. The nested build gets its own target directory
//! (`<repo>/target/guests`) so it never waits on the lock the outer build holds, and an
//! environment scrubbed of what the outer cargo set for *this* build (flags for the host
//! target, clippy's wrapper, a forced target) which would break a wasm build.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (const name, crate name as it appears in the .wasm file name, what it is).
const GUESTS: &[(&str, &str, &str)] = &[
    ("COMPLEXITY", "complexity", "classifier `complexity`: complexity.* signals"),
    ("CASCADE", "cascade", "policy `cascade`: cheapest-first plan by tier and price"),
    ("STATIC_ROUTES", "static_routes", "policy `static-routes`: routing table from metadata to plans"),
    ("SANITY", "sanity", "gate `sanity`: escalates empty, truncated, refused or degenerate answers"),
    ("JSON_GATE", "json_gate", "gate `json-gate`: escalates answers that are not the JSON asked for"),
    ("MATH_CHECK", "math_check", "gate `math-check`: escalates worked math answers that look wrong"),
    ("DIFFICULTY", "difficulty", "classifier `difficulty`: difficulty.* signals of a question's shape"),
    ("LEARNED", "learned", "classifier `learned`: learned.score from a model trained by `switchyard train`"),
    (
        "LEARNED_GATE",
        "learned_gate",
        "gate `learned-gate`: escalates when a trained gate model says the answer falls short",
    ),
    ("HOSTILE", "hostile", "classifier `hostile`: misbehaves as its config's `mode` says (sandbox tests)"),
    ("BAD_POLICY", "bad_policy", "policy `bad-policy`: bad or echoing plans as its config's `mode` says"),
    ("TIERED", "tiered", "policy `tiered`: start tier from thresholds (twin of the Python and JS `tiered`)"),
    ("FOREIGN", "foreign", "classifier `foreign`: also imports an interface the host does not offer"),
    ("TOOL_ARGS", "tool_args", "gate `tool-args`: escalates tool calls not offered or breaking the tool's schema"),
    (
        "V010_GATE",
        "v010_gate",
        "gate `v010-gate`: built against contract 0.1.0 (wit/0.1.0), escalates on a trigger word",
    ),
];

/// Variables the outer cargo (or the user, for the host build) set that must not reach the
/// nested wasm build.
const SCRUB: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_PATH",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let repo = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("tests/artifacts sits two levels below the repository root")
        .to_path_buf();
    let plugins = repo.join("plugins");
    let wit = repo.join("wit");
    let target_dir = repo.join("target").join("guests");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    rerun_if_changed(&plugins, &wit);
    check_target_installed();

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg("wasm32-wasip2")
        .arg("--manifest-path")
        .arg(plugins.join("Cargo.toml"))
        .arg("--workspace")
        .arg("--target-dir")
        .arg(&target_dir);
    for var in SCRUB {
        cmd.env_remove(var);
    }
    // Per-target settings for the host triple (e.g. CARGO_TARGET_X86_64_..._RUSTFLAGS) are
    // harmless for wasm, but a linker or runner forced for wasm32 by the outer build is not.
    for (key, _) in env::vars_os() {
        if let Some(key) = key.to_str()
            && key.starts_with("CARGO_TARGET_WASM32_WASIP2_")
        {
            cmd.env_remove(key);
        }
    }

    let output = cmd.output().unwrap_or_else(|e| panic!("could not run cargo to build the guests: {e}"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        panic!(
            "building the guest plugins failed ({}).\n\
             command: {cmd:?}\n\
             --- cargo's stderr ---\n{stderr}",
            output.status
        );
    }

    let wasm_dir = target_dir.join("wasm32-wasip2").join("release");
    let mut src = String::new();
    for (konst, file, what) in GUESTS {
        let path = wasm_dir.join(format!("{file}.wasm"));
        assert!(path.is_file(), "the guest build succeeded but {} is missing", path.display());
        let path = path.to_str().expect("the repository path is UTF-8");
        writeln!(src, "/// The {what}.").unwrap();
        writeln!(src, "///\n/// Component `{file}.wasm`, built from `plugins/`.").unwrap();
        writeln!(src, "pub const {konst}: &str = {path:?};").unwrap();
    }
    let wit = wit.to_str().expect("the repository path is UTF-8");
    writeln!(src, "/// The directory holding `switchyard.wit`, the plugin contract.").unwrap();
    writeln!(src, "pub const WIT_DIR: &str = {wit:?};").unwrap();
    writeln!(src, "/// Every guest component as (const name, path).").unwrap();
    writeln!(src, "pub const ALL: &[(&str, &str)] = &[").unwrap();
    for (konst, _, _) in GUESTS {
        writeln!(src, "    ({konst:?}, {konst}),").unwrap();
    }
    writeln!(src, "];").unwrap();
    std::fs::write(out_dir.join("artifacts.rs"), src).unwrap();
}

/// Fails early, with the fix, when the wasm32-wasip2 standard library is not installed.
fn check_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = sysroot {
        let lib = sysroot.join("lib").join("rustlib").join("wasm32-wasip2");
        if !lib.is_dir() {
            panic!(
                "\n\nThe guest plugins build for wasm32-wasip2, whose standard library is not \
                 installed for this toolchain ({}).\nInstall it with:\n\n    \
                 rustup target add wasm32-wasip2\n\n",
                sysroot.display()
            );
        }
    }
}

/// Rebuild when any guest source, manifest or the WIT changes (not for plugins/target).
fn rerun_if_changed(plugins: &Path, wit: &Path) {
    println!("cargo:rerun-if-changed={}", wit.display());
    println!("cargo:rerun-if-changed=build.rs");
    let entries = std::fs::read_dir(plugins).unwrap_or_else(|e| panic!("cannot read {}: {e}", plugins.display()));
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        // Cargo scans a directory given here recursively.
        println!("cargo:rerun-if-changed={}", entry.path().display());
    }
    for var in ["RUSTC", "CARGO"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    // Worktrees of this repository that share one CARGO_TARGET_DIR share this build script's
    // output directory too (cargo hashes path packages relative to the workspace), and cargo
    // only checks the paths the *last* run reported. Re-run when the build comes from another
    // directory, or one worktree's guest list (and paths) leaks into another's tests.
    println!("cargo:rerun-if-env-changed=PWD");
}

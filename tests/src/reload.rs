//! Fixtures for the hot-reload suites: replacing files the way deploy tools do, and the
//! config whose plugins live next to it so the watcher follows them.

use std::net::SocketAddr;
use std::path::Path;

use sha2::Digest;

/// The admin token of [`watched_config`].
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Writes a temporary file and renames it over `path`, as deploy tools and editors do.
pub fn replace_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A config whose policy lives in `policy.wasm` and classifier in `classifier.wasm`, both
/// next to the config file, with the admin API on [`ADMIN_TOKEN`].
pub fn watched_config(sim: SocketAddr, classifier_config: &str, extra_routes: &str) -> String {
    let hash = hex::encode(sha2::Sha256::digest(ADMIN_TOKEN.as_bytes()));
    let models = crate::proxy::render(crate::proxy::SIM_MODELS, sim);
    format!(
        r#"
[admin]
token_sha256 = "{hash}"
{models}
[plugins.classifier]
kind = "classifier"
path = "classifier.wasm"
deadline_ms = 2000
config = {classifier_config}
[plugins.policy]
kind = "policy"
path = "policy.wasm"
deadline_ms = 2000
[routes.auto]
classifiers = ["classifier"]
policy = "policy"
default_plan = ["large"]
{extra_routes}
"#
    )
}

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `component` with a custom section (id 0, size, name, payload) appended: same behaviour,
/// different content hash.
pub fn with_custom_section(component: &[u8], payload: &[u8]) -> Vec<u8> {
    let name = b"switchyard-reload-bench";
    let mut body = Vec::new();
    leb128(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(payload);
    let mut out = component.to_vec();
    out.push(0);
    leb128(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

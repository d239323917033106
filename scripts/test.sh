#!/usr/bin/env bash
# Runs every test: the host workspace (unit tests, the sandbox suite with hostile guests, the
# end-to-end proxy suite over loopback sockets, the official openai SDK as a client) and the
# guest plugins' own unit tests. Guests are built from source by the test setup.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "the wasm32-wasip2 target is missing: rustup target add wasm32-wasip2" >&2
  exit 1
fi

echo "==> host workspace"
cargo test --workspace --locked
echo "==> guest plugins (unit tests on the host target)"
(cd plugins && cargo test --workspace --locked)

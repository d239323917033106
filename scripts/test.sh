#!/usr/bin/env bash
# Runs every test: the host workspace (unit tests; the sandbox suite with hostile guests; the
# end-to-end proxy, reload, hardening, soak and fuzz-smoke suites over loopback sockets; the
# official openai SDK as a client; the Python/JS plugins and the plugin kit) and the guest
# plugins' own unit tests. Guests are built from source by the test setup.
#
# On a fresh machine it first installs what the tests need and the toolchain lacks, each step
# idempotent and quick when already done: the wasm32-wasip2 target, the pinned openai SDK,
# the pinned Python/JS component toolchains, redis-server, and what the observability suites
# use (Debian's prometheus and chromium, opentelemetry-proto, puppeteer-core).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
python3 -c 'import openai' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
bash scripts/install-polyglot-toolchains.sh
# The fleet suite runs against a real Redis (Debian's redis-server; redis-cli comes with it).
bash scripts/install-redis.sh
# The package suite runs a real OCI registry (Debian's docker-registry, the CNCF distribution
# registry) with bcrypt htpasswd auth (apache2-utils), and checks signatures made by openssl.
if ! command -v docker-registry >/dev/null || ! command -v htpasswd >/dev/null || ! command -v openssl >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends docker-registry apache2-utils openssl
fi
bash scripts/install-observe-deps.sh

echo "==> host workspace"
cargo test --workspace --locked
echo "==> guest plugins (unit tests on the host target)"
(cd plugins && cargo test --workspace --locked)

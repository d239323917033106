#!/usr/bin/env bash
# Installs what the observability tests need, each step idempotent and quick when done:
# Debian's prometheus (+ promtool) and chromium (the dashboard's browser test; never a
# downloaded browser build), the pinned Python `opentelemetry-proto` (the OTLP receiver), and
# puppeteer-core from npm as tests/browser/package-lock.json pins it.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends keeps chromium's and prometheus's footprint small.
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
python3 -c 'import opentelemetry.proto.collector.trace.v1.trace_service_pb2' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check -r tests/python/otlp-requirements.txt
if [ ! -d tests/browser/node_modules/puppeteer-core ]; then
  # puppeteer-core downloads no browser; the test points it at /usr/bin/chromium.
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi

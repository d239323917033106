#!/usr/bin/env bash
# Installs redis-server (and redis-cli) from the distribution's packages if missing: the fleet
# tests and examples/fleet start their own on loopback. Idempotent and quick when present.
set -euo pipefail
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
# The package starts a system-wide instance on 6379; the tests never use it.

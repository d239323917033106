#!/usr/bin/env bash
# Installs the toolchains that build Switchyard plugins written in Python and JavaScript, at
# the versions the examples and tests are pinned to (host/src/cli/plugin_build.rs checks the
# same numbers):
#
#   - componentize-py from PyPI (Python -> component, CPython embedded);
#   - componentize-js, jco and preview2-shim from npm, into plugins/js/node_modules, exactly
#     as plugins/js/package-lock.json pins them (JavaScript -> component, StarlingMonkey).
#
# Idempotent and quick when everything is already there. Needs python3 with pip, and Node.js
# 18+ with npm (installed from Debian's packages when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/.."

COMPONENTIZE_PY_VERSION=0.25.1

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq nodejs npm
  else
    echo "Node.js and npm are missing: install them (e.g. apt-get install nodejs npm)" >&2
    exit 1
  fi
fi

if [ "$(componentize-py --version 2>/dev/null || true)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
  python3 -m pip install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
fi
command -v componentize-py >/dev/null || {
  echo "componentize-py was installed but is not on PATH (add python3's script directory to PATH)" >&2
  exit 1
}

# `npm install` installs the lockfile's versions. (Not `npm ci`: npm 10-11 refuses this
# lockfile because some optional per-platform binaries of jco's dependencies were never
# published, which `npm install` tolerates.) Skipped when the lockfile has not changed.
stamp=plugins/js/node_modules/.switchyard-lock
if ! cmp -s plugins/js/package-lock.json "$stamp" 2>/dev/null; then
  npm install --prefix plugins/js --no-audit --no-fund --loglevel=error
  cp plugins/js/package-lock.json "$stamp"
fi

echo "polyglot toolchains: $(componentize-py --version), componentize-js $(node -p "require('./plugins/js/node_modules/@bytecodealliance/componentize-js/package.json').version"), node $(node --version)"

#!/usr/bin/env bash
# The Node.js SDK's tests (node:test, no dependencies): unit tests, then end to end against a real
# `meterr serve` started from the given binary and the repository's fake provider
# (scripts/sdk-check/fake_provider.py, so python3 is needed). Every server runs on a free loopback
# port with its own temporary data directory, removed afterwards.
# Usage: sdks/node/test.sh [path-to-meterr-binary]   (default: .build/debug/meterr)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=${1:-$root/.build/debug/meterr}
case "$binary" in /*) ;; *) binary="$PWD/$binary" ;; esac
if [ ! -x "$binary" ]; then
  echo "sdks/node/test.sh: no meterr binary at $binary (build it, or pass its path)" >&2
  exit 1
fi
command -v python3 >/dev/null || { echo "sdks/node/test.sh: python3 is needed for the fake provider" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "sdks/node/test.sh: Node 18 or later is needed (found $(node --version))" >&2
  exit 1
fi
cd "$here"
METERR_BINARY="$binary" exec node --test test/*.test.js

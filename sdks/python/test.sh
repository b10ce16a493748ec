#!/usr/bin/env bash
# The Python SDK's tests: a virtualenv with pytest, the official openai and anthropic SDKs and this
# package, then pytest against a real meterr and the repository's fake provider.
# Usage: sdks/python/test.sh [path-to-meterr-binary] [pytest arguments…]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=${1:-$root/.build/debug/meterr}
shift || true
case $binary in /*) ;; *) binary=$PWD/$binary ;; esac
venv=${PY_SDK_VENV:-$root/.venv-python-sdk}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
# The SDK versions the repository's SDK check uses (scripts/sdk-check/run.sh); raise them together.
"$venv/bin/pip" install -q --disable-pip-version-check pytest openai==3.57.0 anthropic==2.14.0
# Built from a copy, so that setuptools leaves no build/ or *.egg-info in the tree (nor picks up a stale one).
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp -R "$here/pyproject.toml" "$here/README.md" "$here/src" "$copy/"
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$copy"
rm -rf "$copy"
cd "$here"
METERR_BINARY=$binary PYTHONDONTWRITEBYTECODE=1 exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"

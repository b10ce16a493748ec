#!/usr/bin/env bash
# Drives `meterr mcp` with the official MCP Python client over stdio against a running meterr with
# two organisations' usage: lists the tools and the price catalog, calls every tool and checks the
# numbers, sends bad arguments, and checks a second organisation's key sees only its own spend.
# Usage: scripts/mcp-check/run.sh [path-to-meterr-binary]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=${1:-$root/.build/debug/meterr}
venv=${MCP_VENV:-$root/.venv-mcp}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
# The version this check was last verified with; raise it deliberately.
"$venv/bin/pip" install -q mcp==2.3.0

. "$(cd "$(dirname "$0")/../lib" && pwd)/ports.sh"
port=$(free_port)
data=$(mktemp -d)
export METERR_ADMIN_KEY=mk_mcpcheckmcpcheckmcpcheck01
METERR_LOG_LEVEL=warning "$binary" serve --port "$port" --data "$data" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
METERR_BINARY="$binary" METERR_URL="http://127.0.0.1:$port" "$venv/bin/python" -W ignore "$here/check_mcp.py"

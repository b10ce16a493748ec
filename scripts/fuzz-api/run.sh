#!/usr/bin/env bash
# Fuzzes meterr's /api with schemathesis (PyPI) from its own OpenAPI document: a few thousand
# generated requests, valid and not, including stateful sequences; fails on any 5xx. Webhooks are
# left out: a generated public URL would have meterr post alerts off this machine. So are revoking
# (DELETE) and rotating keys: the fuzzer would revoke the key it runs with and spend the rest of the run on
# 401s (both are covered by the tenancy tests). One worker: hypothesis's source inspection is not
# safe across threads on Python 3.11.
# Usage: scripts/fuzz-api/run.sh [path-to-meterr-binary] [examples per operation, default 60]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
binary=${1:-$root/.build/debug/meterr}
examples=${2:-60}
venv=${SDK_VENV:-$root/.venv-sdk}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install -q schemathesis==4.32.5 hypothesis==6.170.17

. "$(cd "$(dirname "$0")/../lib" && pwd)/ports.sh"
port=$(free_port)
data=$(mktemp -d)
export METERR_ADMIN_KEY=mk_fuzzcheckfuzzcheckfuzzcheck
# The fuzzer sends bad keys on purpose: the per-address back-off would turn the rest into 429s.
METERR_AUTH_FAILURES_PER_MINUTE=0 METERR_LOG_LEVEL=warning "$binary" serve --port "$port" --data "$data" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.yaml" \
  -H "Authorization: Bearer $METERR_ADMIN_KEY" --checks not_a_server_error -n "$examples" --workers 1 \
  --exclude-path-regex '^/api/(webhooks|keys/[^/]+/rotate)' --exclude-name 'DELETE /api/keys/{id}' \
  --seed 20261129 > "$data/report.txt" 2>&1 || { cat "$data/report.txt"; exit 1; }
summary=$(grep -E "generated, .* passed" "$data/report.txt" | tail -1)
echo "api-fuzz: $summary"
# The fuzzer's own warnings (operations it could not reach past 401/404/400), for a reader to judge.
sed -n '/^Warnings:/,/^Test cases:/p' "$data/report.txt" | grep "⚠" | sed 's/^ */api-fuzz: /' || true
kill -0 $server || { echo "meterr died during the fuzz run"; exit 1; }

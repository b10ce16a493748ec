#!/usr/bin/env bash
# /api reads through meterr (release build, or each BINARY given, in one sitting): after a few
# seconds of gateway calls against the nginx mock, p50, CPU and context switches per call of
# /api/usage/summary, /api/keys, /api/alerts, a page of 20 events and /api/budgets at one connection,
# /api/budgets at 32, and /api/budgets with five budgets at one. Usage: scripts/bench-gateway/api.sh [BINARY...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mock.sh"
binaries_or_build "$@"

work=$(mktemp -d)
mock_port=18909
meterr_port=18910
start_mock
host_note
write_get_lua
for binary in "${binaries[@]}"; do
  start_meterr "$binary"
  # Some usage to read.
  wrk -t2 -c8 -d3s -s "$work/post.lua" "http://127.0.0.1:$meterr_port/openai/v1/chat/completions" >/dev/null
  echo "== $binary"
  for path in /api/usage/summary /api/keys /api/alerts "/api/usage/events?limit=20" /api/budgets; do
    wrk -t1 -c1 -d1s -s "$work/get.lua" "http://127.0.0.1:$meterr_port$path" >/dev/null # warm-up
    measure "$path, 1 connection" "http://127.0.0.1:$meterr_port$path" 1 1 4s meterr "$work/get.lua"
  done
  measure "/api/budgets, 32 connections" "http://127.0.0.1:$meterr_port/api/budgets" 32 2 6s meterr "$work/get.lua"
  # The budgets page as a company sees it: five budgets, each with its spend and unpriced calls.
  for scope in '' ',"scope":"team","value":"ml"' ',"scope":"team","value":"search"' ',"scope":"project","value":"p1"' ',"scope":"user","value":"ana"'; do
    curl -sf -o /dev/null -H "Authorization: Bearer $METERR_ADMIN_KEY" -H 'Content-Type: application/json' \
      -d "{\"name\":\"b$RANDOM\",\"period\":\"month\",\"limit_usd\":\"100\"$scope}" \
      "http://127.0.0.1:$meterr_port/api/budgets"
  done
  wrk -t1 -c1 -d1s -s "$work/get.lua" "http://127.0.0.1:$meterr_port/api/budgets" >/dev/null # warm-up
  measure "/api/budgets (5 budgets), 1 connection" "http://127.0.0.1:$meterr_port/api/budgets" 1 1 4s meterr "$work/get.lua"
  stop_meterr
done

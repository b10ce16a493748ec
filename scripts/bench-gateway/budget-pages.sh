#!/usr/bin/env bash
# Pages of budgets from /api at one connection (release build, or each BINARY given, alternating in one
# sitting): nginx's static answer as the anchor, meterr's /healthz, then GET /api/budgets with 0, 4, 5, 8,
# 12 and 16 budgets (organisation, team, project and user budgets in turn), each with p50, CPU and context
# switches per read. Pages of up to ShortReads.maxRows budgets are answered on the connection's event
# loop; longer ones on Swift's pool and the read threads.
# Usage: scripts/bench-gateway/budget-pages.sh [--rounds N] [--seconds S] [BINARY...]   (default: 2 rounds, 3 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mock.sh"
rounds=2
seconds=3
counts "usage: $0 [--rounds N] [--seconds S] [BINARY...]" rounds seconds -- "$@"
binaries_or_build "${rest[@]}"

work=$(mktemp -d)
mock_port=18973
meterr_port=18974
proxy_port=18975
start_mock
start_proxy
trap 'kill ${server:-} $mock $proxy 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$proxy_port/static" && break; sleep 0.1; done
host_note
write_get_lua
scopes=('' ',"scope":"team","value":"ml"' ',"scope":"project","value":"p1"' ',"scope":"user","value":"ana"')
for round in $(seq 1 "$rounds"); do
  echo "== round $round"
  measure "nginx static answer" "http://127.0.0.1:$proxy_port/static" 1 1 "${seconds}s" proxy "$work/get.lua"
  for binary in "${binaries[@]}"; do
    start_meterr "$binary"
    echo "-- $binary"
    # Some spend for the budgets to show.
    wrk -t2 -c8 -d2s -s "$work/post.lua" "http://127.0.0.1:$meterr_port/openai/v1/chat/completions" >/dev/null
    measure "/healthz" "http://127.0.0.1:$meterr_port/healthz" 1 1 "${seconds}s" meterr "$work/get.lua"
    made=0
    for count in 0 4 5 8 12 16; do
      while [ $made -lt "$count" ]; do
        curl -sf -o /dev/null -H "Authorization: Bearer $METERR_ADMIN_KEY" -H 'Content-Type: application/json' \
          -d "{\"name\":\"b$made\",\"period\":\"month\",\"limit_usd\":\"100\"${scopes[$((made % 4))]}}" \
          "http://127.0.0.1:$meterr_port/api/budgets"
        made=$((made + 1))
      done
      wrk -t1 -c1 -d1s -s "$work/get.lua" "http://127.0.0.1:$meterr_port/api/budgets" >/dev/null # warm-up
      measure "/api/budgets, $count budgets" "http://127.0.0.1:$meterr_port/api/budgets" 1 1 "${seconds}s" meterr "$work/get.lua"
    done
    stop_meterr
  done
done

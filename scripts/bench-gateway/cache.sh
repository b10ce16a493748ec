#!/usr/bin/env bash
# The response cache's speed on this machine, side by side with the calls it saves: wrk at one and 32
# connections against the nginx mock directly, nginx as a reverse proxy, and meterr (release build,
# ledger on) uncached, on a cache miss (x-meterr-cache: refresh: the provider is called and the answer
# stored) and on a cache hit (answered from response-cache.sqlite, metered as a hit).
# Usage: scripts/bench-gateway/cache.sh [SECONDS] (per row, default 10).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-10}
. "$here/mock.sh"
(cd "$root" && swift build -c release --product meterr >/dev/null)

work=$(mktemp -d)
mock_port=18901
proxy_port=18902
meterr_port=18903
start_all

# post.lua: the plain call; refresh.lua and hit.lua: the same call with the cache asked to refresh or to answer.
for name in post refresh hit; do
  header=""
  [ "$name" = refresh ] && header='wrk.headers["x-meterr-cache"] = "refresh"'
  [ "$name" = hit ] && header='wrk.headers["x-meterr-cache"] = "on"'
  cat > "$work/$name.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"gpt-4.1","messages":[{"role":"user","content":"Say hello"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $METERR_ADMIN_KEY"
$header
LUA
done
gateway="http://127.0.0.1:$meterr_port/openai/v1/chat/completions"
# Store the answer once, and check that the next call is a hit.
curl -sf -o /dev/null -H "Authorization: Bearer $METERR_ADMIN_KEY" -H 'Content-Type: application/json' \
  -H 'x-meterr-cache: on' -d '{"model":"gpt-4.1","messages":[{"role":"user","content":"Say hello"}]}' "$gateway"
sleep 0.5
state=$(curl -s -o /dev/null -D - -H "Authorization: Bearer $METERR_ADMIN_KEY" -H 'Content-Type: application/json' \
  -H 'x-meterr-cache: on' -d '{"model":"gpt-4.1","messages":[{"role":"user","content":"Say hello"}]}' "$gateway" |
  awk 'tolower($1)=="x-meterr-cache:"{print $2}' | tr -d '\r')
[ "$state" = hit ] || { echo "expected a cache hit, got '$state'" >&2; exit 1; }

echo "== one connection"
measure "direct to the mock" "http://127.0.0.1:$mock_port/v1/chat/completions" 1 1 "${seconds}s" mock
measure "nginx as reverse proxy" "http://127.0.0.1:$proxy_port/v1/chat/completions" 1 1 "${seconds}s" proxy
measure "meterr, not cached" "$gateway" 1 1 "${seconds}s" meterr "$work/post.lua"
measure "meterr, cache miss (refresh, stored)" "$gateway" 1 1 "${seconds}s" meterr "$work/refresh.lua"
measure "meterr, cache hit" "$gateway" 1 1 "${seconds}s" meterr "$work/hit.lua"
echo "== 32 connections"
measure "nginx as reverse proxy" "http://127.0.0.1:$proxy_port/v1/chat/completions" 32 2 "${seconds}s" proxy
measure "meterr, not cached" "$gateway" 32 2 "${seconds}s" meterr "$work/post.lua"
measure "meterr, cache hit" "$gateway" 32 2 "${seconds}s" meterr "$work/hit.lua"
hits=$(curl -s -H "Authorization: Bearer $METERR_ADMIN_KEY" \
  "http://127.0.0.1:$meterr_port/api/optimize" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["cache_hits"], r["cache_saved_usd"])')
echo "ledger: cache hits and what they saved: $hits"

#!/usr/bin/env bash
# The gateway's cost on this machine: wrk against a fast fake OpenAI (nginx), directly, through nginx
# as a reverse proxy, through a SwiftNIO proxy that only forwards (meterr-nio-floor: the floor under
# the gateway) and through meterr (release build, ledger on), at 1 and 32 connections; streamed time to
# first byte; memory after many requests. Usage: scripts/bench-gateway/run.sh [--requests N] (default
# 1,000,000 for the memory check).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
total=${2:-1000000}
. "$here/mock.sh"
(cd "$root" && swift build -c release --product meterr >/dev/null)

work=$(mktemp -d)
mock_port=18891
meterr_port=18892
proxy_port=18897
floor_port=18898
start_all
start_floor
host_note

write_post_lua
direct="http://127.0.0.1:$mock_port/v1/chat/completions"
proxied="http://127.0.0.1:$proxy_port/v1/chat/completions"
floored="http://127.0.0.1:$floor_port/v1/chat/completions"
gateway="http://127.0.0.1:$meterr_port/openai/v1/chat/completions"
echo "== one connection (added latency = through − direct)"
measure "direct to the mock, 1 connection" "$direct" 1 1 10s mock
measure "nginx as reverse proxy, 1 connection" "$proxied" 1 1 10s proxy
measure "NIO proxy floor, 1 connection" "$floored" 1 1 10s floor
measure "through meterr, 1 connection" "$gateway" 1 1 10s meterr
echo "== 32 connections"
measure "direct to the mock, 32 connections" "$direct" 32 2 10s mock
measure "nginx as reverse proxy, 32 connections" "$proxied" 32 2 10s proxy
measure "NIO proxy floor, 32 connections" "$floored" 32 2 10s floor
measure "through meterr, 32 connections" "$gateway" 32 2 10s meterr
echo "== serving without a hop (GET, 1 and 32 connections)"
write_get_lua
get_measure() { measure "$1" "$2" "$3" "$4" 10s "$5" "$work/get.lua"; } # label url connections threads process
get_measure "nginx static answer, 1 connection" "http://127.0.0.1:$proxy_port/static" 1 1 proxy
get_measure "meterr /healthz, 1 connection" "http://127.0.0.1:$meterr_port/healthz" 1 1 meterr
get_measure "meterr /api/budgets, 1 connection" "http://127.0.0.1:$meterr_port/api/budgets" 1 1 meterr
get_measure "nginx static answer, 32 connections" "http://127.0.0.1:$proxy_port/static" 32 2 proxy
get_measure "meterr /healthz, 32 connections" "http://127.0.0.1:$meterr_port/healthz" 32 2 meterr

echo "== streamed time to first byte (curl, median of 50)"
echo "direct:        $(ttfb "http://127.0.0.1:$mock_port/stream/v1/chat/completions")"
echo "nginx as proxy: $(ttfb "http://127.0.0.1:$proxy_port/stream/v1/chat/completions")"
echo "NIO proxy floor: $(ttfb "http://127.0.0.1:$floor_port/stream/v1/chat/completions")"
export METERR_OPENAI_BASE_URL="http://127.0.0.1:$mock_port/stream"
kill $server; wait $server 2>/dev/null || true
METERR_LOG_LEVEL=warning "$root/.build/release/meterr" serve --port "$meterr_port" --data "$work/data" >/dev/null &
server=$!
wait_for_meterr
echo "through meterr: $(ttfb "$gateway")"
export METERR_OPENAI_BASE_URL="http://127.0.0.1:$mock_port"
kill $server; wait $server 2>/dev/null || true
METERR_LOG_LEVEL=warning "$root/.build/release/meterr" serve --port "$meterr_port" --data "$work/data" >/dev/null &
server=$!
wait_for_meterr

echo "== memory over $total requests (resident set size)"
rss() { awk '/VmRSS/{print $2/1024 " MB"}' "/proc/$server/status"; }
echo "at start: $(rss)"
sent=0
while [ "$sent" -lt "$total" ]; do
  wrk -t2 -c32 -d10s -s "$work/post.lua" "$gateway" > "$work/out"
  sent=$((sent + $(awk '/requests in/{print $1}' "$work/out")))
  echo "after $sent requests: $(rss)"
done

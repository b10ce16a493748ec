#!/usr/bin/env bash
# What a new connection costs: every request on a connection of its own (`Connection: close`, so wrk
# connects again for each), straight to the nginx mock and through meterr (release build, or each
# BINARY given, one after another in one sitting): /healthz and a metered chat completion at 1 and 32
# connections, with p50/p99, requests/s, CPU and context switches per call; then a stream's time to
# first byte (curl, a new connection each, median of 200).
# Usage: scripts/bench-gateway/new-connection.sh [--seconds S] [BINARY...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=8
if [ "${1:-}" = --seconds ]; then seconds=$2; shift 2; fi
. "$here/mock.sh"
binaries_or_build "$@"

work=$(mktemp -d)
mock_port=18898
meterr_port=18899
start_mock
write_post_lua
printf 'wrk.headers["Connection"] = "close"\n' >> "$work/post.lua"
printf 'wrk.headers["Connection"] = "close"\n' > "$work/get.lua"
direct="http://127.0.0.1:$mock_port/v1/chat/completions"
gateway="http://127.0.0.1:$meterr_port/openai/v1/chat/completions"
health="http://127.0.0.1:$meterr_port/healthz"

echo "== the mock alone, a new connection per request"
measure "direct, 1 connection" "$direct" 1 1 "${seconds}s" mock
measure "direct, 32 connections" "$direct" 32 2 "${seconds}s" mock
echo "stream, first byte: $(ttfb "http://127.0.0.1:$mock_port/stream/v1/chat/completions" 200)"
for binary in "${binaries[@]}"; do
  echo "== $binary, a new connection per request"
  rm -rf "$work/data"
  METERR_OPENAI_BASE_URL="http://127.0.0.1:$mock_port/stream" \
    "$binary" serve --port "$meterr_port" --data "$work/data" >/dev/null &
  server=$!
  wait_for_meterr
  echo "stream through meterr, first byte: $(ttfb "$gateway" 200)"
  kill $server; wait $server 2>/dev/null || true
  "$binary" serve --port "$meterr_port" --data "$work/data" >/dev/null &
  server=$!
  wait_for_meterr
  measure "/healthz, 1 connection" "$health" 1 1 "${seconds}s" meterr "$work/get.lua"
  measure "gateway, 1 connection" "$gateway" 1 1 "${seconds}s" meterr
  measure "/healthz, 32 connections" "$health" 32 2 "${seconds}s" meterr "$work/get.lua"
  measure "gateway, 32 connections" "$gateway" 32 2 "${seconds}s" meterr
  kill $server; wait $server 2>/dev/null || true
  server=
done

#!/usr/bin/env bash
# Heap allocations per gateway call: libc's malloc counted with a perf uprobe over 3 s of wrk at one
# kept-alive connection, for a plain chat completion, /healthz and /api/budgets, through meterr
# (release build, or each BINARY given, in one sitting), by thread: the event loops (the call's own
# path), Swift's pool and the ledger's SQLite queue. Needs perf with uprobes (run as root).
# Usage: scripts/bench-gateway/allocations.sh [BINARY...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mock.sh"
binaries_or_build "$@"
libc=$(ldconfig -p | awk '/libc\.so\.6 /{print $NF; exit}')
perf probe -q -x "$libc" malloc 2>/dev/null || true

work=$(mktemp -d)
mock_port=18907
meterr_port=18908
start_mock
write_get_lua
# per_call LABEL URL SCRIPT: mallocs per call of $server over 3 s of wrk at one connection.
per_call() {
  wrk -t1 -c1 -d1s -s "$3" "$2" >/dev/null # warm-up
  perf stat --per-thread -x, -e probe_libc:malloc -p "$server" -o "$work/stat" -- sleep 4 &
  local counter=$!
  sleep 0.3
  wrk -t1 -c1 -d3s -s "$3" "$2" > "$work/out"
  wait $counter
  local calls
  calls=$(awk '/requests in/{print $1}' "$work/out")
  # Lines are "name-tid,count,…": summed by thread kind.
  awk -F, -v n="$calls" -v label="$1" '/probe_libc:malloc/ {
      kind = $1 ~ /^NIO-/ ? "event loops" : $1 ~ /overcommit/ ? "SQLite queue" : "Swift pool and others"
      count[kind] += $2; total += $2 }
    END { printf "  %-14s %7.1f mallocs per call (%d calls):", label, total / n, n
      for (kind in count) printf "  %s %.1f", kind, count[kind] / n; printf "\n" }' "$work/stat"
}
for binary in "${binaries[@]}"; do
  rm -rf "$work/data"
  "$binary" serve --port "$meterr_port" --data "$work/data" >/dev/null &
  server=$!
  wait_for_meterr
  echo "== $binary"
  per_call "gateway" "http://127.0.0.1:$meterr_port/openai/v1/chat/completions" "$work/post.lua"
  per_call "/healthz" "http://127.0.0.1:$meterr_port/healthz" "$work/get.lua"
  per_call "/api/budgets" "http://127.0.0.1:$meterr_port/api/budgets" "$work/get.lua"
  kill $server; wait $server 2>/dev/null || true
  server=
done

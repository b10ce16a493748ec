#!/usr/bin/env bash
# What a prompt's size costs: a chat completion whose user message holds SIZE bytes of text, through
# nginx as a reverse proxy, through the SwiftNIO proxy that only forwards (meterr-nio-floor) and
# through meterr (release build, a fresh ledger each), at 1 and 32 connections, for each SIZE (default
# 100, 8,000 and 64,000 bytes). For meterr also its memory after the run and the calls whose shape
# (the savings report's analysis) was skipped because more prompt bytes waited for it than it holds.
# Usage: scripts/bench-gateway/prompt-size.sh [--seconds S] [SIZE...]
# (METERR_BINARY=path measures that build of meterr instead of this tree's.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=5
if [ "${1:-}" = --seconds ]; then seconds=$2; shift 2; fi
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 8000 64000)
. "$here/mock.sh"
binary=${METERR_BINARY:-}
if [ -z "$binary" ]; then
  (cd "$root" && swift build -c release --product meterr >/dev/null)
  binary="$root/.build/release/meterr"
fi

work=$(mktemp -d)
mock_port=18911
meterr_port=18912
proxy_port=18917
floor_port=18918
start_all
start_floor
host_note
for size in "${sizes[@]}"; do
  write_prompt_lua "$size"
  echo "== a $size-byte prompt"
  # A fresh ledger and process for each size: its memory and skipped shapes are this size's.
  stop_meterr
  start_meterr "$binary"
  for row in "proxy $proxy_port /v1/chat/completions nginx as reverse proxy" \
    "floor $floor_port /v1/chat/completions NIO proxy floor" \
    "meterr $meterr_port /openai/v1/chat/completions through meterr"; do
    read -r process port path label <<< "$row"
    url="http://127.0.0.1:$port$path"
    wrk -t1 -c1 -d1s -s "$work/post.lua" "$url" >/dev/null
    measure "$label, 1 connection" "$url" 1 1 "${seconds}s" "$process"
    measure "$label, 32 connections" "$url" 32 2 "${seconds}s" "$process"
  done
  echo "meterr: memory $(awk '/VmRSS/{printf "%.1f MB", $2 / 1024}' "/proc/$server/status"), $(metric meterr_ledger_events_committed_total) events committed, $(metric meterr_ledger_shapes_skipped_total) shapes skipped"
done

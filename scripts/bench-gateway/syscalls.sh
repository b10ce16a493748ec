#!/usr/bin/env bash
# System calls per gateway call, by kind (strace -f -c, 3 s of wrk at one kept-alive connection), for
# a plain and a streamed chat completion, through meterr (release build, or each BINARY given, in one
# sitting). SQLite's (pwrite64, fcntl, pread64) follow the ledger's commits, not the call.
# Usage: scripts/bench-gateway/syscalls.sh [BINARY...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mock.sh"
command -v strace >/dev/null || { apt-get update -qq && apt-get install -y -qq strace; }
binaries_or_build "$@"

work=$(mktemp -d)
mock_port=18905
meterr_port=18906
start_mock
gateway="http://127.0.0.1:$meterr_port/openai/v1/chat/completions"
for binary in "${binaries[@]}"; do
  for kind in plain streamed; do
    if [ $kind = streamed ]; then
      write_post_lua '{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"Say hello"}]}'
      base="http://127.0.0.1:$mock_port/stream"
    else
      write_post_lua
      base="http://127.0.0.1:$mock_port"
    fi
    rm -rf "$work/data"
    METERR_OPENAI_BASE_URL=$base "$binary" serve --port "$meterr_port" --data "$work/data" >/dev/null &
    server=$!
    wait_for_meterr
    wrk -t1 -c1 -d1s -s "$work/post.lua" "$gateway" >/dev/null # warm-up
    strace -f -c -p "$server" -o "$work/counts" 2>/dev/null &
    tracer=$!
    sleep 0.5
    wrk -t1 -c1 -d3s -s "$work/post.lua" "$gateway" > "$work/out"
    sleep 0.2
    kill -INT $tracer; wait $tracer 2>/dev/null || true
    calls=$(awk '/requests in/{print $1}' "$work/out")
    echo "== $binary, $kind ($calls calls)"
    awk -v n="$calls" 'NR > 2 && $4 ~ /^[0-9]+$/ && $NF != "total" {printf "  %-16s %5.2f\n", $NF, $4 / n}' "$work/counts" |
      sort -k2 -nr | head -12
    kill $server; wait $server 2>/dev/null || true
    server=
  done
done

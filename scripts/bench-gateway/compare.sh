#!/usr/bin/env bash
# Before and after on the same machine in one sitting: runs each given `meterr` binary in turn, for
# several rounds, against the same nginx mock as run.sh, and prints per run the wrk p50/p99 and
# requests/s at 1 and 32 connections and meterr's own mean time per call (its
# meterr_gateway_overhead_seconds histogram) and the process's CPU time per call (/proc); nginx alone
# (the anchor) once per round.
# Usage: scripts/bench-gateway/compare.sh [--rounds N] [--seconds S] BINARY...
#   e.g. build the old commit in a worktree, then
#   scripts/bench-gateway/compare.sh --rounds 3 /tmp/old/.build/release/meterr .build/release/meterr
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=3
seconds=10
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--rounds N] [--seconds S] BINARY..." >&2; exit 2; }
. "$here/mock.sh"

work=$(mktemp -d)
mock_port=18893
meterr_port=18894
start_mock
host_note

tick_us=$((1000000 / $(getconf CLK_TCK)))
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_wrk() { # label connections url [pid whose CPU time per call to print]
  local before=0
  [ -n "${4:-}" ] && before=$(cpu_ticks "$4")
  wrk -t"$([ "$2" = 1 ] && echo 1 || echo 2)" -c"$2" -d"${seconds}s" --latency -s "$work/post.lua" "$3" > "$work/out"
  local cpu=""
  if [ -n "${4:-}" ]; then
    cpu=$(awk -v t=$(( ($(cpu_ticks "$4") - before) * tick_us )) '/requests in/{printf "%6.1f us CPU/call", t / $1}' "$work/out")
  fi
  awk -v label="$1" -v c="$2" -v cpu="$cpu" '$1=="50%"{p50=$2} $1=="99%"{p99=$2} /Requests\/sec/{r=$2}
    END{printf "  %-34s %2d conn: p50 %-9s p99 %-9s %10s req/s  %s\n", label, c, p50, p99, r, cpu}' "$work/out"
}

for round in $(seq 1 "$rounds"); do
  echo "== round $round"
  run_wrk "nginx alone" 32 "http://127.0.0.1:$mock_port/v1/chat/completions"
  for binary in "$@"; do
    rm -rf "$work/data"
    "$binary" serve --port "$meterr_port" --data "$work/data" >/dev/null &
    server=$!
    wait_for_meterr
    url="http://127.0.0.1:$meterr_port/openai/v1/chat/completions"
    run_wrk "$binary" 1 "$url" "$server"
    run_wrk "$binary" 32 "$url" "$server"
    curl -s "http://127.0.0.1:$meterr_port/metrics" | awk -v label="$binary" '
      /meterr_gateway_overhead_seconds_sum/{s+=$2} /meterr_gateway_overhead_seconds_count/{n+=$2}
      END{printf "  %-34s own time %.1f us per call (mean of %d)\n", label, s/n*1e6, n}'
    kill "$server"; wait "$server" 2>/dev/null || true
    server=
  done
done

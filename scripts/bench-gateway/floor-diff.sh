#!/usr/bin/env bash
# Where meterr's gateway calls take more than a SwiftNIO proxy that only forwards (meterr-nio-floor),
# call for call, in one sitting against the nginx mock: at 32 connections a `perf record -g` of each
# (its event loops' samples per 1,000 calls, in the kernel and in user space, and the functions with
# the most samples beyond the floor's), then at one connection each one's system calls per call
# (strace -f -c). Release builds; needs perf (linux-perf) and strace.
# Usage: scripts/bench-gateway/floor-diff.sh [--seconds S]
set -euo pipefail
seconds=8
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mock.sh"
counts "usage: $0 [--seconds S]" seconds -- "$@"
[ ${#rest[@]} -eq 0 ] || { echo "usage: $0 [--seconds S]" >&2; exit 2; }
command -v strace >/dev/null || { apt-get update -qq && apt-get install -y -qq strace; }
command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)" >&2; exit 1; }
(cd "$root" && swift build -c release --product meterr >/dev/null)

work=$(mktemp -d)
mock_port=18911
meterr_port=18912
proxy_port=18913
floor_port=18914
start_all
start_floor
host_note
write_post_lua
paths=("meterr $meterr_port /openai/v1/chat/completions" "floor $floor_port /v1/chat/completions")

for row in "${paths[@]}"; do
  read -r name port path <<< "$row"
  url="http://127.0.0.1:$port$path"
  wrk -t2 -c32 -d3s -s "$work/post.lua" "$url" >/dev/null # warm-up
  perf record -F 2999 -g -p "$(pids_of "$name")" -o "$work/$name.data" -- sleep "$((seconds + 1))" >/dev/null 2>&1 &
  recorder=$!
  sleep 0.5
  wrk -t2 -c32 -d"${seconds}s" -s "$work/post.lua" "$url" > "$work/$name.out"
  while kill -0 $recorder 2>/dev/null; do sleep 0.2; done
  perf script -i "$work/$name.data" -F comm,tid,ip,sym,dso > "$work/$name.txt" 2>/dev/null
  echo "$name, 32 connections: $(awk '/Requests\/sec/{print $2}' "$work/$name.out") requests/s"
done
echo
python3 "$here/per-call-profile.py" \
  meterr "$(awk '/requests in/{print $1}' "$work/meterr.out")" "$work/meterr.txt" \
  floor "$(awk '/requests in/{print $1}' "$work/floor.out")" "$work/floor.txt"

echo
echo "one connection, system calls per call (strace -f -c, 3 s):"
for row in "${paths[@]}"; do
  read -r name port path <<< "$row"
  url="http://127.0.0.1:$port$path"
  wrk -t1 -c1 -d1s -s "$work/post.lua" "$url" >/dev/null
  strace -f -c -p "$(pids_of "$name")" -o "$work/$name.counts" 2>/dev/null &
  tracer=$!
  sleep 0.5
  calls=$(wrk -t1 -c1 -d3s -s "$work/post.lua" "$url" | awk '/requests in/{print $1}')
  sleep 0.2
  kill -INT $tracer; while kill -0 $tracer 2>/dev/null; do sleep 0.1; done
  echo "== $name ($calls calls)"
  awk -v n="$calls" 'NR > 2 && $4 ~ /^[0-9]+$/ && $NF != "total" {printf "  %-16s %5.2f\n", $NF, $4 / n}' "$work/$name.counts" |
    sort -k2 -nr | head -12
done

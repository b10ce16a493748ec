#!/usr/bin/env bash
# The upstream client on its own: meterr-nio-floor (a SwiftNIO proxy that only forwards, set up as
# meterr's server is) calling the nginx mock with each client in turn (its own minimal pool, meterr's
# gateway client `UpstreamClient`, AsyncHTTPClient's delegate API with the connection on the caller's
# event loop and with it only preferably there), nginx as a reverse proxy as the anchor, in one run.
# For each: p50, requests/s, CPU and context switches per call at 1 and 32 connections, and the
# upstream connections opened per call (the kernel's TCP active opens, less wrk's own).
# Usage: scripts/bench-gateway/clients.sh [--seconds S] [CLIENT...]   (default: 8 s; all four clients)
set -euo pipefail
usage="usage: $0 [--seconds S] [floor|meterr|ahc|ahc-delegate ...]"
seconds=8
if [ "${1:-}" = "--seconds" ]; then seconds=${2:-}; shift 2 || true; fi
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2; exit 2; }
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(floor meterr ahc ahc-delegate)
for client in "${clients[@]}"; do
  case "$client" in floor | meterr | ahc | ahc-delegate) ;; *) echo "$usage" >&2; exit 2 ;; esac
done
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mock.sh"

work=$(mktemp -d)
mock_port=18941
proxy_port=18942
floor_port=18943
start_mock
start_proxy
trap 'kill ${floor:-} $mock $proxy 2>/dev/null || true; rm -rf "$work"' EXIT
host_note

# TCP connections this machine opened (every process's).
opens() { awk '/^Tcp:/ { if (!names) { for (i = 1; i <= NF; i++) if ($i == "ActiveOpens") col = i; names = 1 } else print $col }' /proc/net/snmp; }

# run LABEL URL PROCESS: the 1- and 32-connection lines, with upstream connections opened per call.
run() {
  local url=$2 connections threads opens0 calls
  wrk -t2 -c32 -d2s -s "$work/post.lua" "$url" >/dev/null # warm-up: the pools fill
  for connections in 1 32; do
    threads=$((connections == 1 ? 1 : 2))
    opens0=$(opens)
    measure "$1, $connections conn" "$url" "$connections" "$threads" "${seconds}s" "$3"
    calls=$(awk '/requests in/{print $1}' "$work/out")
    printf "%-40s %.3f upstream connections opened per call\n" "" \
      "$(echo "($(opens) - $opens0 - $connections) / $calls" | bc -l)"
  done
}

run "nginx as reverse proxy" "http://127.0.0.1:$proxy_port/v1/chat/completions" proxy
for client in "${clients[@]}"; do
  start_floor --client "$client"
  run "floor, $client client" "http://127.0.0.1:$floor_port/v1/chat/completions" floor
  kill "$floor"
  wait "$floor" 2>/dev/null || true
  floor=
done

#!/usr/bin/env bash
# The usage ledger's speed on this machine, in release builds:
#   1. in-process ingest through the group-commit writer (goal: 100,000 events/s);
#   2. HTTP ingest, batches of 100, wrk against `meterr serve` (goal: 30,000 events/s);
#   3. the month summary over 10 million events (goal: under 20 ms).
# Usage: scripts/bench-ledger.sh [--quick]   (--quick: 1M-event summary, shorter runs)
set -euo pipefail
cd "$(dirname "$0")/.."

events_summary=10000000
duration=20s
if [ "${1:-}" = "--quick" ]; then events_summary=1000000; duration=5s; fi

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
swift build -c release --product meterr >/dev/null
swift build -c release --product meterr-ledger-bench >/dev/null

echo "== in-process ingest"
.build/release/meterr-ledger-bench ingest --events 1000000

echo "== HTTP ingest"
data=$(mktemp -d)
port=18990
export METERR_ADMIN_KEY=mk_benchmarkbenchmarkbenchmark
METERR_LOG_LEVEL=warning .build/release/meterr serve --port "$port" --data "$data" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
wrk -t2 -c32 -d"$duration" -s scripts/wrk-ingest.lua "http://127.0.0.1:$port/api/usage/events" | grep -E "http ingest|Non-2xx" || true
stored=$(curl -s -H "Authorization: Bearer $METERR_ADMIN_KEY" \
  "http://127.0.0.1:$port/api/usage/summary?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["requests"])')
echo "events in the ledger afterwards: $stored"
kill -TERM $server; wait $server || true

echo "== summary over $events_summary events"
summary_data=${SUMMARY_DATA:-$(mktemp -d)}
.build/release/meterr-ledger-bench summary --events "$events_summary" --data "$summary_data" --iterations 200
[ -n "${SUMMARY_DATA:-}" ] || rm -rf "$summary_data"

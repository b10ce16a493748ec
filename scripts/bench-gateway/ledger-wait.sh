#!/usr/bin/env bash
# The ledger's wait for company (`ledger_wait_ms`), measured: for each wait, a fresh meterr (release
# build) against the nginx mock, one wrk run at 1 connection and one at 32, with p50/p90/p99,
# requests/s, meterr's CPU per call and events per ledger commit. A longer wait puts more calls in
# each commit (less CPU per call); each commit is then a longer burst of work, which on a small
# machine delays the calls that wait behind it (the tail).
# Usage: scripts/bench-gateway/ledger-wait.sh [--seconds S] [WAIT_MS...]   (default: 0 2 5 20)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=8
if [ "${1:-}" = --seconds ]; then seconds=$2; shift 2; fi
waits=("$@")
[ ${#waits[@]} -gt 0 ] || waits=(0 2 5 20)
. "$here/mock.sh"
(cd "$root" && swift build -c release --product meterr >/dev/null)

work=$(mktemp -d)
mock_port=18895
meterr_port=18896
start_mock
gateway="http://127.0.0.1:$meterr_port/openai/v1/chat/completions"

for connections in 1 32; do
  threads=$((connections < 2 ? 1 : 2))
  for wait in "${waits[@]}"; do
    rm -rf "$work/data"
    METERR_LEDGER_WAIT_MS=$wait "$root/.build/release/meterr" serve --port "$meterr_port" --data "$work/data" >/dev/null &
    server=$!
    wait_for_meterr
    wrk -t"$threads" -c"$connections" -d2s -s "$work/post.lua" "$gateway" >/dev/null # warm-up
    events0=$(metric meterr_ledger_events_committed_total); commits0=$(metric meterr_ledger_commits_total)
    cpu0=$(cpu_of "$server")
    wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s "$work/post.lua" "$gateway" > "$work/out"
    cpu1=$(cpu_of "$server")
    sleep 0.2 # the last group commits
    events1=$(metric meterr_ledger_events_committed_total); commits1=$(metric meterr_ledger_commits_total)
    calls=$(awk '/requests in/{print $1}' "$work/out")
    printf "%2s conn, wait %4s ms: p50 %-9s p90 %-9s p99 %-9s %10s req/s  %6.1f us CPU/call  %6.1f events/commit\n" \
      "$connections" "$wait" "$(awk '$1=="50%"{print $2}' "$work/out")" "$(awk '$1=="90%"{print $2}' "$work/out")" \
      "$(awk '$1=="99%"{print $2}' "$work/out")" "$(awk '/Requests\/sec/{print $2}' "$work/out")" \
      "$(echo "($cpu1 - $cpu0) * $tick_us / $calls" | bc -l)" \
      "$(echo "($events1 - $events0) / ($commits1 - $commits0)" | bc -l)"
    kill "$server"; wait "$server" 2>/dev/null || true
    server=
  done
done

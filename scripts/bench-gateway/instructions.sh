#!/usr/bin/env bash
# Instructions per gateway call, counted by valgrind's callgrind: repeatable for the same binary and
# calls whatever else the machine does, so two builds can be compared on a shared, noisy machine
# where timings cannot. Runs each given `meterr` binary under callgrind against the same nginx mock
# as run.sh, warms it up, counts N sequential keep-alive calls to /openai/v1/chat/completions
# (metered, priced, committed), and prints instructions per call and the functions that differ most.
# Usage: scripts/bench-gateway/instructions.sh [--calls N] BINARY...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
calls=2000
if [ "${1:-}" = "--calls" ]; then calls=$2; shift 2; fi
[ $# -ge 1 ] || { echo "usage: $0 [--calls N] BINARY..." >&2; exit 2; }
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
. "$here/mock.sh"

work=$(mktemp -d)
mock_port=18895
meterr_port=18896
write_mock_conf "$work" "$mock_port"
nginx -c "$work/nginx.conf" -p "$work" &
mock=$!
server=
trap 'kill $server $mock 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$mock_port/" && break; sleep 0.1; done
export METERR_ADMIN_KEY=mk_benchmarkbenchmarkbenchmark OPENAI_API_KEY=sk-bench
export METERR_OPENAI_BASE_URL="http://127.0.0.1:$mock_port" METERR_LOG_LEVEL=warning

calls_of() { # port count
  python3 - "$1" "$2" <<'PY'
import http.client, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
body = '{"model":"gpt-4.1","messages":[{"role":"user","content":"Say hello"}]}'
headers = {"Content-Type": "application/json", "Authorization": "Bearer mk_benchmarkbenchmarkbenchmark"}
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
for _ in range(count):
    connection.request("POST", "/openai/v1/chat/completions", body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
PY
}

index=0
for binary in "$@"; do
  index=$((index + 1))
  rm -rf "$work/data"
  out="$work/callgrind.$index"
  valgrind --tool=callgrind --callgrind-out-file="$out.%p" --collect-atstart=yes --dump-instr=no \
    "$binary" serve --port "$meterr_port" --data "$work/data" >/dev/null 2>"$work/valgrind.$index.log" &
  server=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$meterr_port/healthz" >/dev/null && break; sleep 0.2; done
  calls_of "$meterr_port" 200          # warm-up: connections, caches, the ledger's first pages
  sleep 2                              # the warm-up's ledger commit
  callgrind_control -z "$server" >/dev/null
  calls_of "$meterr_port" "$calls"
  sleep 2                              # the counted calls' ledger commit
  callgrind_control -d "$server" >/dev/null
  # The first dump after zeroing holds only the counted calls (every thread).
  dump="$out.$server.1"
  kill "$server"; wait "$server" 2>/dev/null || true
  server=
  total=$(awk '/^summary:/{print $2}' "$dump")
  printf "%-50s %12.0f instructions per call (%d calls)\n" "$binary" "$(echo "$total / $calls" | bc -l)" "$calls"
  callgrind_annotate --inclusive=no --threshold=100 "$dump" 2>/dev/null |
    awk -v n="$calls" '/^[ 0-9,]+ \(/{gsub(",", "", $1); printf "%s\t%.0f\n", substr($0, index($0, $3)), $1 / n}' \
    > "$work/functions.$index"
  cp "$dump" "${INSTRUCTIONS_KEEP:-$work}/callgrind.$index" 2>/dev/null || true
done

if [ $# -eq 2 ]; then
  echo "== functions whose own instructions per call differ most (second − first)"
  python3 - "$work/functions.1" "$work/functions.2" <<'PY'
import sys
def load(path):
    out = {}
    for line in open(path):
        name, _, count = line.rstrip("\n").rpartition("\t")
        out[name] = out.get(name, 0) + float(count)
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
rows = sorted(((b.get(k, 0) - a.get(k, 0), k) for k in set(a) | set(b)), key=lambda r: -abs(r[0]))
for delta, name in rows[:25]:
    print(f"{delta:+10.0f}  {a.get(name, 0):10.0f} → {b.get(name, 0):10.0f}  {name[:150]}")
PY
fi

#!/usr/bin/env bash
# Long /api pages against gateway calls (release build, or each BINARY given, in one sitting): with N
# budgets (a user budget each) and N keys made through the API, a page of each read with wrk at one
# connection, then gateway calls at four connections alone and while two connections read budgets, so
# what a page's work does to the calls beside it shows in their p50 and p99.
# Usage: scripts/bench-gateway/long-pages.sh [--pages N] [BINARY...]   (default: 1,000)
set -euo pipefail
pages=1000
if [ "${1:-}" = "--pages" ]; then pages=${2:-}; shift 2 || true; fi
[[ "$pages" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [--pages N] [BINARY...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mock.sh"
binaries_or_build "$@"

work=$(mktemp -d)
mock_port=18971
meterr_port=18972
start_mock
host_note
write_get_lua
gateway="http://127.0.0.1:$meterr_port/openai/v1/chat/completions"
for binary in "${binaries[@]}"; do
  start_meterr "$binary"
  echo "== $binary, $pages budgets and keys"
  python3 - "$pages" "$METERR_ADMIN_KEY" "$meterr_port" <<'PY'
import concurrent.futures, json, sys, urllib.request
count, key, port = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def post(path, body):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda i: post("/api/budgets", {"name": f"b{i}", "limit_usd": "100", "scope": "user", "value": f"u{i}"}), range(count)))
    list(pool.map(lambda i: post("/api/keys", {"name": f"k{i}", "scopes": ["gateway"]}), range(count)))
PY
  for path in /api/budgets /api/keys; do
    wrk -t1 -c1 -d3s --latency -s "$work/get.lua" "http://127.0.0.1:$meterr_port$path" > "$work/out"
    printf "%-32s p50 %-9s p99 %-9s %s bytes\n" "$path, 1 connection" "$(awk '$1=="50%"{print $2}' "$work/out")" \
      "$(awk '$1=="99%"{print $2}' "$work/out")" \
      "$(curl -s -o /dev/null -w '%{size_download}' -H "Authorization: Bearer $METERR_ADMIN_KEY" "http://127.0.0.1:$meterr_port$path")"
  done
  wrk -t1 -c4 -d4s --latency -s "$work/post.lua" "$gateway" > "$work/out"
  printf "%-32s p50 %-9s p99 %s\n" "gateway alone, 4 connections" "$(awk '$1=="50%"{print $2}' "$work/out")" "$(awk '$1=="99%"{print $2}' "$work/out")"
  wrk -t1 -c2 -d6s -s "$work/get.lua" "http://127.0.0.1:$meterr_port/api/budgets" > /dev/null &
  reader=$!
  sleep 0.5
  wrk -t1 -c4 -d4s --latency -s "$work/post.lua" "$gateway" > "$work/out"
  printf "%-32s p50 %-9s p99 %s\n" "gateway beside budget pages" "$(awk '$1=="50%"{print $2}' "$work/out")" "$(awk '$1=="99%"{print $2}' "$work/out")"
  wait "$reader" || true
  stop_meterr
done

#!/usr/bin/env bash
# What a budget's spend costs to load over a large ledger: N events of this month (meterr-ledger-bench's
# loader, rollups included) in the benchmark key's organisation, then for each binary, on a copy of that
# ledger: four monthly budgets created (the organisation, team-3, user-135, project-4; each creation
# loads its spend), then after a restart the first gateway call the four cover (it waits for their
# spends), at once and, after another restart, 3 s later; a second call, the page of budgets, and a
# burst of calls at 32 connections at once after a third restart. Release builds, the nginx mock as the provider.
# Usage: scripts/bench-gateway/budget-load.sh [--events N] [BINARY...]
set -euo pipefail
events=1000000
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mock.sh"
counts "usage: $0 [--events N] [BINARY...]" events -- "$@"
binaries_or_build "${rest[@]}"
(cd "$root" && swift build -c release --product meterr-ledger-bench >/dev/null)

work=$(mktemp -d)
mock_port=18921
meterr_port=18922
start_mock
month=$(date -u +%Y-%m-01T00:00:00Z)
echo "loading $events events of this month"
"$root/.build/release/meterr-ledger-bench" summary --events "$events" --data "$work/base" --start "$month" \
  --iterations 1 >/dev/null
# The benchmark key's organisation is made at the first start; the loader's events are org_bench's.
"${binaries[0]}" serve --port "$meterr_port" --data "$work/base" >/dev/null &
server=$!
wait_for_meterr
stop_meterr
python3 - "$work/base/meterr.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT OR IGNORE INTO organisations (id, name, created_at) VALUES ('org_bench', 'Bench', 0)")
db.execute("UPDATE api_keys SET org_id = 'org_bench'")
db.commit()
PY

# elapsed COMMAND...: the command's wall time in milliseconds (its output discarded).
elapsed() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}
api() { curl -sf -H "Authorization: Bearer $METERR_ADMIN_KEY" "$@"; }
call() {
  curl -sf "http://127.0.0.1:$meterr_port/openai/v1/chat/completions" -H "Authorization: Bearer $METERR_ADMIN_KEY" \
    -H 'Content-Type: application/json' -H 'x-meterr-team: team-3' -H 'x-meterr-user: user-135' \
    -H 'x-meterr-project: project-4' -d '{"model":"gpt-4.1","messages":[{"role":"user","content":"Say hello"}]}'
}
budgets=(org:'' team:team-3 user:user-135 project:project-4)
write_post_lua
cat >> "$work/post.lua" <<'LUA'
wrk.headers["x-meterr-team"] = "team-3"
wrk.headers["x-meterr-user"] = "user-135"
wrk.headers["x-meterr-project"] = "project-4"
LUA
mv "$work/post.lua" "$work/covered.lua"
for binary in "${binaries[@]}"; do
  rm -rf "$work/data"
  cp -r "$work/base" "$work/data"
  "$binary" serve --port "$meterr_port" --data "$work/data" >/dev/null &
  server=$!
  wait_for_meterr
  created=()
  for budget in "${budgets[@]}"; do
    scope=${budget%%:*} value=${budget#*:}
    created+=("$(elapsed api "http://127.0.0.1:$meterr_port/api/budgets" \
      -d "{\"name\":\"$scope\",\"scope\":\"$scope\",\"value\":\"$value\",\"period\":\"month\",\"limit_usd\":\"100000\"}")")
  done
  stop_meterr
  "$binary" serve --port "$meterr_port" --data "$work/data" >/dev/null &
  server=$!
  wait_for_meterr
  # Right after the start the organisation's anomaly baselines may still be loading; then after a pause.
  at_once=$(elapsed call)
  stop_meterr
  "$binary" serve --port "$meterr_port" --data "$work/data" >/dev/null &
  server=$!
  wait_for_meterr
  sleep 3
  first=$(elapsed call)
  second=$(elapsed call)
  page=$(elapsed api "http://127.0.0.1:$meterr_port/api/budgets")
  spent=$(api "http://127.0.0.1:$meterr_port/api/budgets" | python3 -c '
import json, sys
print(" ".join("%s %s" % (b["name"], b["spent_usd"]) for b in json.load(sys.stdin)["budgets"]))')
  # A burst at once after a restart: 32 connections for 5 s (wrk gives a call up to 10 s).
  stop_meterr
  "$binary" serve --port "$meterr_port" --data "$work/data" >/dev/null &
  server=$!
  wait_for_meterr
  burst=$(wrk -t2 -c32 -d5s --timeout 10s --latency -s "$work/covered.lua" "http://127.0.0.1:$meterr_port/openai/v1/chat/completions" |
    awk '/Latency/ && !l {max=$4; l=1} $1=="50%"{p50=$2} $1=="99%"{p99=$2} /requests in/{n=$1} END {print n " calls, p50 " p50 ", p99 " p99 ", max " max}')
  echo "== $binary ($events events)"
  echo "  creating the 4 budgets: ${created[*]} ms; the first call they cover after a restart: ${at_once} ms at" \
    "once, ${first} ms 3 s later (the second ${second} ms); the page of budgets ${page} ms"
  echo "  a burst of 32 connections for 5 s at once after a restart: $burst"
  echo "  spent: $spent"
  stop_meterr
done

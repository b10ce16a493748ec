#!/usr/bin/env bash
# A hard budget's cost on the gateway's path, on the embedded SQLite database (the budget checked in
# memory) and on PostgreSQL (the worst case held in the database, one statement, and settled after
# the call): wrk through meterr (release build, ledger on) against a fast fake OpenAI (nginx), with
# the direct call in the same run. PostgreSQL is a throwaway cluster on the same machine.
# Usage: scripts/bench-gateway/budgets.sh [SECONDS per run, default 10]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-10}
. "$here/mock.sh"
(cd "$root" && swift build -c release --product meterr >/dev/null)

work=$(mktemp -d)
[ "$(id -u)" != 0 ] || chmod 755 "$work"
mock_port=18891
meterr_port=18892
proxy_port=18897
start_all
trap 'kill $server $mock $proxy 2>/dev/null || true; "$root/scripts/postgres/cluster.sh" stop "$work/pg"; rm -rf "$work"' EXIT

write_post_lua '{"model":"gpt-4.1","max_tokens":50,"messages":[{"role":"user","content":"Say hello"}]}'
budget() {
  curl -sf "http://127.0.0.1:$meterr_port/api/budgets" -H "Authorization: Bearer $METERR_ADMIN_KEY" \
    -d '{"name":"bench","limit_usd":"1000000","hard":true}' >/dev/null
}
direct="http://127.0.0.1:$mock_port/v1/chat/completions"
gateway="http://127.0.0.1:$meterr_port/openai/v1/chat/completions"

echo "== direct to the mock"
measure "direct, 1 connection" "$direct" 1 1 "${seconds}s" mock
measure "direct, 32 connections" "$direct" 32 2 "${seconds}s" mock
echo "== SQLite, a hard budget on every call"
budget
measure "meterr on SQLite, 1 connection" "$gateway" 1 1 "${seconds}s" meterr
measure "meterr on SQLite, 32 connections" "$gateway" 32 2 "${seconds}s" meterr

echo "== PostgreSQL, a hard budget on every call (held and settled in the database)"
kill $server; wait $server 2>/dev/null || true
admin_url=$("$root/scripts/postgres/cluster.sh" start "$work/pg")
postmaster=$(head -1 "$work/pg/data/postmaster.pid")
pids_of() { case "$1" in mock) pgrep -P $mock; echo $mock ;; meterr) echo $server ;; postgres) pgrep -P $postmaster; echo $postmaster ;; esac; }
METERR_MASTER_KEY=$(printf "b%.0s" $(seq 64)) METERR_LOG_LEVEL=warning \
  "$root/.build/release/meterr" serve --port "$meterr_port" --data "$work/data-pg" --database-url "$admin_url" >/dev/null &
server=$!
wait_for_meterr
budget
measure "meterr on PostgreSQL, 1 connection" "$gateway" 1 1 "${seconds}s" meterr
measure "  (the database's side of those calls)" "$gateway" 1 1 "${seconds}s" postgres
measure "meterr on PostgreSQL, 32 connections" "$gateway" 32 2 "${seconds}s" meterr
measure "  (the database's side of those calls)" "$gateway" 32 2 "${seconds}s" postgres

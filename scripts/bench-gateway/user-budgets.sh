#!/usr/bin/env bash
# A page of user budgets in an organisation with many users (release build, or each BINARY given, in
# one sitting): U users' calls reported through POST /api/usage/events, two a day each since the
# month began (half of them without a price), then B budgets, one for each of the first B users, and
# GET /api/budgets read at one connection. Each budget's unpriced calls come from the rollups, whose
# rows for a day hold every user's: this measures what reading one user's costs beside the others'.
# Usage: scripts/bench-gateway/user-budgets.sh [--users U] [--budgets B] [BINARY...]   (default: 1,000 and 8)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mock.sh"
users=1000
budgets=8
counts "usage: $0 [--users U] [--budgets B] [BINARY...]" users budgets -- "$@"
binaries_or_build "${rest[@]}"

work=$(mktemp -d)
mock_port=18973
meterr_port=18974
start_mock
host_note
write_get_lua
for binary in "${binaries[@]}"; do
  start_meterr "$binary"
  echo "== $binary, $users users, $budgets user budgets"
  python3 - "$meterr_port" "$METERR_ADMIN_KEY" "$users" <<'PY'
import datetime, json, sys, urllib.request
port, key, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
now = datetime.datetime.now(datetime.timezone.utc)
start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
events = []
day = start
while day < now:
    for user in range(users):
        for call in range(2):
            ts = min(day + datetime.timedelta(hours=3 + 9 * call), now - datetime.timedelta(seconds=1))
            events.append({"id": f"e{len(events)}", "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "user": f"u{user}",
                           "provider": "openai", "model": "gpt-4.1" if call else "no-such-model",
                           "input_tokens": 100, "output_tokens": 10})
    day += datetime.timedelta(days=1)
for offset in range(0, len(events), 1000):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/usage/events",
        data=json.dumps(events[offset:offset + 1000]).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
print(f"{len(events)} events reported")
PY
  for made in $(seq 0 $((budgets - 1))); do
    curl -sf -o /dev/null -H "Authorization: Bearer $METERR_ADMIN_KEY" -H 'Content-Type: application/json' \
      -d "{\"name\":\"u$made\",\"scope\":\"user\",\"value\":\"u$made\",\"period\":\"month\",\"limit_usd\":\"100\"}" \
      "http://127.0.0.1:$meterr_port/api/budgets"
  done
  curl -sf -H "Authorization: Bearer $METERR_ADMIN_KEY" "http://127.0.0.1:$meterr_port/api/budgets" |
    python3 -c 'import json,sys; b=json.load(sys.stdin)["budgets"][0]; print("first budget:", b["name"], b["spent_usd"], b["unpriced_requests"], "unpriced calls")'
  wrk -t1 -c1 -d1s -s "$work/get.lua" "http://127.0.0.1:$meterr_port/api/budgets" >/dev/null # warm-up
  measure "/api/budgets, $budgets user budgets" "http://127.0.0.1:$meterr_port/api/budgets" 1 1 3s meterr "$work/get.lua"
  stop_meterr
done

#!/usr/bin/env bash
# Streamed chat completions through meterr (release build, or each BINARY given, in one sitting),
# against the nginx mock's recorded stream: a whole stream at one kept-alive connection (p50, CPU and
# context switches per call; the mock sends the stream at once, so this is meterr's reading of every
# chunk), then the time to the first byte on a new connection each (curl, median of 50). Direct to
# the mock and nginx as a reverse proxy are measured in the same sitting, as the anchors.
# Usage: scripts/bench-gateway/stream.sh [--rounds N] [BINARY...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mock.sh"
rounds=1
if [ "${1:-}" = --rounds ]; then rounds=$2; shift 2; fi
binaries_or_build "$@"

work=$(mktemp -d)
mock_port=18961
proxy_port=18962
meterr_port=18963
start_mock
host_note
sed -e "s|PREFIX|$work|g" -e "s|MOCK_PORT|$mock_port|g" -e "s|PORT|$proxy_port|g" \
  "$here/nginx-proxy.conf.template" > "$work/nginx-proxy.conf"
mkdir -p "$work"/{pbody,pproxy,pfastcgi,puwsgi,pscgi}
nginx -c "$work/nginx-proxy.conf" -p "$work" &
proxy=$!
trap 'kill $server $mock $proxy 2>/dev/null || true; rm -rf "$work"' EXIT
write_post_lua '{"model":"gpt-4.1","stream":true,"messages":[]}'
direct="http://127.0.0.1:$mock_port/stream/v1/chat/completions"
through_proxy="http://127.0.0.1:$proxy_port/stream/v1/chat/completions"
gateway="http://127.0.0.1:$meterr_port/openai/v1/chat/completions"
export METERR_OPENAI_BASE_URL="http://127.0.0.1:$mock_port/stream"
for _ in $(seq 1 100); do curl -s -o /dev/null "$through_proxy" && break; sleep 0.1; done

for round in $(seq 1 "$rounds"); do
  echo "== round $round"
  wrk -t1 -c1 -d1s -s "$work/post.lua" "$direct" >/dev/null
  measure "direct, whole stream, 1 connection" "$direct" 1 1 4s mock
  wrk -t1 -c1 -d1s -s "$work/post.lua" "$through_proxy" >/dev/null
  measure "nginx as proxy, whole stream" "$through_proxy" 1 1 4s proxy
  echo "first byte, direct: $(ttfb "$direct"), nginx as proxy: $(ttfb "$through_proxy")"
  for binary in "${binaries[@]}"; do
    start_meterr "$binary"
    wrk -t1 -c1 -d1s -s "$work/post.lua" "$gateway" >/dev/null
    measure "$(basename "$binary"), whole stream" "$gateway" 1 1 4s meterr
    echo "first byte, $(basename "$binary"): $(ttfb "$gateway")"
    stop_meterr
  done
done

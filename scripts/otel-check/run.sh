#!/usr/bin/env bash
# meterr's OpenTelemetry export against a real OTLP/HTTP receiver (decoding with the official
# opentelemetry-proto messages), driven by the official OpenAI and Anthropic SDKs.
# Usage: scripts/otel-check/run.sh [path-to-meterr-binary]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=${1:-$root/.build/debug/meterr}
venv=${SDK_VENV:-$root/.venv-sdk}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install -q openai==3.57.0 anthropic==2.14.0 opentelemetry-proto==1.45.2

work=$(mktemp -d)
. "$root/scripts/lib/ports.sh"
fake_port=$(free_port)
receiver_port=$(free_port)
meterr_port=$(free_port)
export FAKE_PROVIDER_TRACE_LOG="$work/provider.jsonl"
"$venv/bin/python" "$root/scripts/sdk-check/fake_provider.py" "$fake_port" &
fake=$!
"$venv/bin/python" "$here/receiver.py" "$receiver_port" "$work" &
receiver=$!
wait_for_port "$fake_port" "$fake"
wait_for_port "$receiver_port" "$receiver"
export METERR_ADMIN_KEY=mk_otelcheckotelcheckotelcheck1
for p in OPENAI ANTHROPIC; do
  export METERR_${p}_BASE_URL="http://127.0.0.1:$fake_port"
  export ${p}_API_KEY="real-$p-key"
done
METERR_LOG_LEVEL=warning METERR_OTEL_ENDPOINT="http://127.0.0.1:$receiver_port" METERR_OTEL_SERVICE_NAME=meterr-check \
  METERR_OTEL_EXPORT_INTERVAL=0.5 "$binary" serve --port "$meterr_port" --data "$work/data" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; kill $fake $receiver 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$meterr_port/healthz" >/dev/null && break; sleep 0.1; done
METERR_URL="http://127.0.0.1:$meterr_port" OTEL_OUT="$work" "$venv/bin/python" -W ignore "$here/check.py"

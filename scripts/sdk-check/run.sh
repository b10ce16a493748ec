#!/usr/bin/env bash
# Drives a running meterr with the official Python SDKs (openai, anthropic, google-genai, mistralai,
# cohere) against a fake provider, streaming and not, and checks every recorded number.
# Usage: scripts/sdk-check/run.sh [path-to-meterr-binary]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=${1:-$root/.build/debug/meterr}
venv=${SDK_VENV:-$root/.venv-sdk}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
# The versions this check was last verified with; raise them deliberately.
"$venv/bin/pip" install -q openai==3.57.0 anthropic==2.14.0 google-genai==3.6.1 mistralai==3.7.0 cohere==7.3.1

fake_port=$((20000 + RANDOM % 20000))
meterr_port=$((fake_port + 1))
data=$(mktemp -d)
"$venv/bin/python" "$here/fake_provider.py" "$fake_port" &
fake=$!
export METERR_ADMIN_KEY=mk_sdkchecksdkchecksdkcheck01
for p in OPENAI AZURE ANTHROPIC GEMINI MISTRAL COHERE; do
  export METERR_${p}_BASE_URL="http://127.0.0.1:$fake_port"
  export ${p}_API_KEY="real-$p-key"
done
export AZURE_OPENAI_API_KEY=real-AZURE-key
METERR_LOG_LEVEL=warning "$binary" serve --port "$meterr_port" --data "$data" >/dev/null &
server=$!
trap 'kill $server $fake 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$meterr_port/healthz" >/dev/null && break; sleep 0.1; done
METERR_URL="http://127.0.0.1:$meterr_port" "$venv/bin/python" -W ignore "$here/drive_sdks.py"

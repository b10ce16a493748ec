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

. "$root/scripts/lib/ports.sh"
fake_port=$(free_port)
meterr_port=$(free_port)
data=$(mktemp -d)
"$venv/bin/python" "$here/fake_provider.py" "$fake_port" &
fake=$!
wait_for_port "$fake_port" "$fake"
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
# The same server's response cache, through the OpenAI and Anthropic SDKs.
METERR_URL="http://127.0.0.1:$meterr_port" "$venv/bin/python" -W ignore "$here/cache_sdks.py"

# The same SDKs against meterr serving TLS with a private certificate authority.
tls=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=meterr check CA" \
  -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
  -keyout "$tls/key.pem" -out "$tls/req.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$tls/ext.cnf"
openssl x509 -req -in "$tls/req.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
  -extfile "$tls/ext.cnf" -out "$tls/cert.pem" 2>/dev/null
tls_port=$(free_port)
METERR_LOG_LEVEL=warning "$binary" serve --port "$tls_port" --data "$tls/data" \
  --tls-cert "$tls/cert.pem" --tls-key "$tls/key.pem" >/dev/null &
tls_server=$!
trap 'kill $server $fake $tls_server 2>/dev/null || true; rm -rf "$data" "$tls"' EXIT
for _ in $(seq 1 100); do curl -sf --cacert "$tls/ca.pem" "https://localhost:$tls_port/healthz" >/dev/null && break; sleep 0.1; done
METERR_URL="https://localhost:$tls_port" METERR_CA="$tls/ca.pem" "$venv/bin/python" -W ignore "$here/tls_sdks.py"

# The OpenAI SDK on meterr's unified /v1/chat/completions with anthropic/…, gemini/… and cohere/…
# models, which meterr translates to each provider's native API; a fake serving only those native
# surfaces (and the compatible ones, for x-meterr-wire: compatible) records what meterr sent.
native_port=$(free_port)
native_log=$(mktemp)
FAKE_NATIVE_LOG="$native_log" "$venv/bin/python" "$here/fake_native.py" "$native_port" &
native=$!
trap 'kill $server $fake $tls_server $native 2>/dev/null || true; rm -rf "$data" "$tls" "$native_log"' EXIT
wait_for_port "$native_port" "$native"
unified_port=$(free_port)
unified_data=$(mktemp -d)
# The router's virtual models for unified_sdks.py's routed checks (fake_native.py fails a provider on
# request: x-fake-fail). fast and steady fall back from their first deployment to gemini; every lists
# all three; meterr/auto sends demanding calls to pricey (cheapest of anthropic and cohere).
unified_config=$(mktemp --suffix=.yaml)
cat >"$unified_config" <<'YAML'
router:
  models:
    fast:
      policy: priority
      deployments:
        - anthropic/claude-sonnet-4-5
        - {model: gemini/gemini-2.5-flash, priority: 1}
    steady:
      policy: priority
      deployments:
        - cohere/command-a-03-2025
        - {model: gemini/gemini-2.5-flash, priority: 1}
    every:
      policy: priority
      deployments:
        - anthropic/claude-sonnet-4-5
        - {model: gemini/gemini-2.5-flash, priority: 1}
        - {model: cohere/command-a-03-2025, priority: 2}
    pricey:
      policy: cheapest
      deployments: [anthropic/claude-sonnet-4-5, cohere/command-a-03-2025]
  auto: {simple: fast, medium: fast, complex: pricey, reasoning: pricey}
  max_attempts: 3
  backoff_ms: 10
YAML
METERR_ANTHROPIC_BASE_URL="http://127.0.0.1:$native_port" METERR_GEMINI_BASE_URL="http://127.0.0.1:$native_port" \
  METERR_COHERE_BASE_URL="http://127.0.0.1:$native_port" METERR_LOG_LEVEL=warning \
  "$binary" serve --port "$unified_port" --data "$unified_data" --config "$unified_config" >"$unified_data.log" 2>&1 &
unified_server=$!
trap 'kill $server $fake $tls_server $native $unified_server 2>/dev/null || true
      rm -rf "$data" "$tls" "$native_log" "$unified_data" "$unified_data.log" "$unified_config"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$unified_port/healthz" >/dev/null && break; sleep 0.1; done
METERR_URL="http://127.0.0.1:$unified_port" FAKE_NATIVE_LOG="$native_log" "$venv/bin/python" -W ignore "$here/unified_sdks.py" || {
  echo "--- meterr's log (warnings and errors):"; tail -n 40 "$unified_data.log"
  echo "--- the last requests the native fake received:"
  tail -n 5 "$native_log" | cut -c1-600
  exit 1
}

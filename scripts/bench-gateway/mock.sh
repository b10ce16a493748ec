# Sourced by the gateway benchmarks: installs wrk and nginx when missing, and writes the fake
# OpenAI's nginx configuration (the recorded chat completion and stream) for a port into a work
# directory, with the temporary folders nginx needs.
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light || apt-get install -y -qq nginx; }

# write_mock_conf WORK PORT: writes WORK/nginx.conf for the mock on PORT.
write_mock_conf() {
  local fixtures
  fixtures="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/Tests/MeterrProvidersTests/Fixtures"
  python3 - "$(dirname "${BASH_SOURCE[0]}")/nginx.conf.template" "$1" "$2" "$fixtures" > "$1/nginx.conf" <<'PY'
import sys
template, prefix, port, fixtures = sys.argv[1:]
chat = open(f"{fixtures}/openai-chat.json").read().replace("\n", "").replace("'", "\\'")
sse = open(f"{fixtures}/openai-chat.sse").read().replace("'", "\\'")
text = open(template).read().replace("PREFIX", prefix).replace("PORT", port)
print(text.replace("CHAT_JSON", chat).replace("CHAT_SSE", sse))
PY
  mkdir -p "$1"/{body,proxy,fastcgi,uwsgi,scgi}
}

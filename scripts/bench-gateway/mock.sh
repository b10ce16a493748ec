# Sourced by the gateway benchmarks: installs wrk and nginx when missing, and writes the fake
# OpenAI's nginx configuration (the recorded chat completion and stream) for a port into a work
# directory, with the temporary folders nginx needs.
# Sets $root, the tree the scripts belong to, unless the script has.
root=${root:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light || apt-get install -y -qq nginx; }
command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc; }

# counts USAGE NAME... -- ARG...: reads options `--NAME N` (N a positive whole number) into the variable
# NAME, whose default the script has set, and leaves the arguments after them in the array `rest`; a bad
# value prints USAGE and exits 2.
counts() {
  local usage=$1 names=() name
  shift
  while [ "$1" != -- ]; do names+=("$1"); shift; done
  shift
  while [ $# -gt 0 ]; do
    for name in "${names[@]}"; do
      if [ "$1" = "--$name" ]; then
        [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2; exit 2; }
        printf -v "$name" '%s' "$2"
        shift 2
        continue 2
      fi
    done
    break
  done
  rest=("$@")
}

tick_us=$((1000000 / $(getconf CLK_TCK)))
# CPU ticks (user + system) of a process and all its children's threads; context switches of every thread.
cpu_of() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
switches_of() {
  local n=0
  for p in "$@"; do
    for f in /proc/$p/task/*/status; do
      # (A thread may end between the listing and the read: it counts as none.)
      local s
      s=$(awk '/^(non)?voluntary_ctxt_switches/{s+=$2} END{print s}' "$f" 2>/dev/null) || s=0
      n=$((n + ${s:-0}))
    done
  done
  echo $n
}
# measure LABEL URL CONNECTIONS THREADS SECONDS PROCESS [WRK SCRIPT]: one wrk run and its latency, requests
# per second, CPU and context switches per call of PROCESS (named for the caller's pids_of), into $work.
measure() {
  local pids cpu0 sw0
  pids=$(pids_of "$6")
  cpu0=$(cpu_of $pids); sw0=$(switches_of $pids)
  wrk -t"$4" -c"$3" -d"$5" --latency -s "${7:-$work/post.lua}" "$2" > "$work/out"
  local cpu1 sw1 p50 p99 rps n
  cpu1=$(cpu_of $pids); sw1=$(switches_of $pids)
  p50=$(awk '$1=="50%"{print $2}' "$work/out"); p99=$(awk '$1=="99%"{print $2}' "$work/out")
  rps=$(awk '/Requests\/sec/{print $2}' "$work/out"); n=$(awk '/requests in/{print $1}' "$work/out")
  printf "%-40s p50 %-9s p99 %-9s %10s req/s  %6.1f us CPU/call  %5.2f switches/call (%s)\n" "$1" "$p50" "$p99" "$rps" \
    "$(echo "($cpu1 - $cpu0) * $tick_us / $n" | bc -l)" "$(echo "($sw1 - $sw0) / $n" | bc -l)" "$6"
  grep -q "Non-2xx" "$work/out" && grep "Non-2xx" "$work/out" || true
}

# start_all: in $work, starts the mock on $mock_port, nginx as a reverse proxy in front of it on
# $proxy_port and meterr (release build, its OpenAI upstream the mock) on $meterr_port; sets $mock,
# $proxy and $server, stops them all on exit, and waits for meterr to answer.
start_all() {
  write_mock_conf "$work" "$mock_port"
  nginx -c "$work/nginx.conf" -p "$work" &
  mock=$!
  start_proxy
  export METERR_ADMIN_KEY=mk_benchmarkbenchmarkbenchmark
  export OPENAI_API_KEY=sk-bench METERR_OPENAI_BASE_URL="http://127.0.0.1:$mock_port"
  METERR_LOG_LEVEL=warning "$root/.build/release/meterr" serve --port "$meterr_port" --data "$work/data" >/dev/null &
  server=$!
  trap 'kill $server $mock $proxy ${floor:-} 2>/dev/null || true; rm -rf "$work"' EXIT
  wait_for_meterr
}

# start_proxy: starts nginx as a reverse proxy on $proxy_port in front of the mock on $mock_port (its
# configuration and folders in $work); sets $proxy.
start_proxy() {
  sed -e "s|PREFIX|$work|g" -e "s|MOCK_PORT|$mock_port|g" -e "s|PORT|$proxy_port|g" \
    "$(dirname "${BASH_SOURCE[0]}")/nginx-proxy.conf.template" > "$work/nginx-proxy.conf"
  mkdir -p "$work"/{pbody,pproxy,pfastcgi,puwsgi,pscgi}
  nginx -c "$work/nginx-proxy.conf" -p "$work" &
  proxy=$!
}

# start_floor [--client NAME]: starts meterr-nio-floor (a SwiftNIO proxy that only forwards; release
# build, built first) on $floor_port in front of the mock on $mock_port, calling it with the client
# named (its own by default); sets $floor (start_all's exit stops it).
start_floor() {
  local tree
  tree=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  (cd "$tree" && swift build -c release --product meterr-nio-floor >/dev/null)
  "$tree/.build/release/meterr-nio-floor" "$floor_port" "$mock_port" "$@" >/dev/null &
  floor=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$floor_port/" && break; sleep 0.1; done
}

# start_mock: in $work, starts the mock alone on $mock_port (each script starts its own meterr as
# $server); stops both on exit, waits for the mock, exports meterr's settings for it and writes the
# wrk script.
start_mock() {
  write_mock_conf "$work" "$mock_port"
  nginx -c "$work/nginx.conf" -p "$work" &
  mock=$!
  server=
  trap 'kill $server $mock 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$mock_port/" && break; sleep 0.1; done
  export METERR_ADMIN_KEY=mk_benchmarkbenchmarkbenchmark OPENAI_API_KEY=sk-bench
  export METERR_OPENAI_BASE_URL="http://127.0.0.1:$mock_port" METERR_LOG_LEVEL=warning
  write_post_lua
}

# write_post_lua [BODY]: the wrk script of one chat completion (BODY, or a one-line "Say hello")
# with meterr's key, into $work/post.lua.
write_post_lua() {
  local body=${1:-'{"model":"gpt-4.1","messages":[{"role":"user","content":"Say hello"}]}'}
  cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $METERR_ADMIN_KEY"
LUA
}

# write_get_lua: the wrk script of a GET with meterr's admin key, into $work/get.lua.
write_get_lua() {
  printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$METERR_ADMIN_KEY" > "$work/get.lua"
}

# write_prompt_lua SIZE: the wrk script of a chat completion whose user message holds SIZE bytes of
# text, into $work/post.lua.
write_prompt_lua() {
  local text
  text=$(python3 -c "t = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '; print((t * ($1 // len(t) + 1))[:$1])")
  write_post_lua "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"system\",\"content\":\"You are helpful.\"},{\"role\":\"user\",\"content\":\"$text\"}]}"
}

# binaries_or_build [BINARY...]: the binaries given, or this tree's release build of meterr (built
# first), into the array `binaries`.
binaries_or_build() {
  binaries=("$@")
  if [ ${#binaries[@]} -eq 0 ]; then
    local tree
    tree=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    (cd "$tree" && swift build -c release --product meterr >/dev/null)
    binaries=("$tree/.build/release/meterr")
  fi
}

# start_meterr BINARY: BINARY serving on $meterr_port with a fresh ledger in $work/data (sets
# $server), once it answers.
start_meterr() {
  rm -rf "$work/data"
  "$1" serve --port "$meterr_port" --data "$work/data" >/dev/null &
  server=$!
  wait_for_meterr
}

# stop_meterr: stops the meterr start_meterr started.
stop_meterr() {
  kill $server
  wait $server 2>/dev/null || true
  server=
}

# wait_for_meterr: waits (at most 10 s) until meterr answers /healthz on $meterr_port.
wait_for_meterr() {
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$meterr_port/healthz" >/dev/null && break; sleep 0.1; done
}

# metric NAME: the value of one of meterr's /metrics on $meterr_port (read with the admin key).
metric() { curl -s -H "Authorization: Bearer $METERR_ADMIN_KEY" "http://127.0.0.1:$meterr_port/metrics" | awk -v m="$1" '$1==m {print $2}'; }

# ttfb URL [RUNS]: the median time to the first byte of a streamed chat completion from URL, each
# run on a new connection (curl; 50 runs unless told).
ttfb() {
  for _ in $(seq 1 "${2:-50}"); do
    curl -s -o /dev/null -w '%{time_starttransfer}\n' -H "Authorization: Bearer $METERR_ADMIN_KEY" \
      -H 'Content-Type: application/json' -d '{"model":"gpt-4.1","stream":true,"messages":[]}' "$1"
  done | sort -n | awk '{a[NR]=$1} END {printf "%.3f ms\n", a[int(NR/2)+1]*1000}'
}

# host_note: the machine's CPUs and how an idle CPU waits (one line): with the `haltpoll` idle driver
# and guest_halt_poll_ns 0, each wake-up of an idle CPU waits for the host, which sets one-connection
# numbers (docs/performance.md, "One connection on these machines").
host_note() {
  local driver poll
  driver=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo unknown)
  poll=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns 2>/dev/null || echo n/a)
  echo "host: $(nproc) CPUs, idle driver $driver, guest_halt_poll_ns $poll"
}

# The processes that serve a URL's port: nginx's master and workers, the NIO floor, or meterr.
pids_of() {
  case "$1" in mock) pgrep -P $mock; echo $mock ;; proxy) pgrep -P $proxy; echo $proxy ;; floor) echo $floor ;; meterr) echo $server ;; esac
}

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

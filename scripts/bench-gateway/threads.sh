#!/usr/bin/env bash
# Where meterr's CPU goes per gateway call, thread by thread: the event loops, the ledger writer's
# SQLite queue and Swift's thread pool, at 32 connections against the nginx mock (release build, a
# fresh ledger), in user space and in the kernel, with events per ledger commit, and the same split
# for nginx as a reverse proxy and for a SwiftNIO proxy that only forwards (meterr-nio-floor).
# Usage: scripts/bench-gateway/threads.sh [--perf] [--prompt-bytes N]
# (--perf also records a profile into ./perf.data for `perf report`; --prompt-bytes sends a user
# message of N bytes of text instead of the one-line prompt).
set -euo pipefail
perf=
prompt=
while [ $# -gt 0 ]; do
  case "$1" in
    --perf) perf=1; shift ;;
    --prompt-bytes) prompt=$2; shift 2 ;;
    *) echo "usage: $0 [--perf] [--prompt-bytes N]" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/mock.sh"
(cd "$root" && swift build -c release --product meterr >/dev/null)

work=$(mktemp -d)
mock_port=18891
meterr_port=18892
proxy_port=18897
floor_port=18898
start_all
host_note
if [ -n "$prompt" ]; then write_prompt_lua "$prompt"; else write_post_lua; fi
gateway="http://127.0.0.1:$meterr_port/openai/v1/chat/completions"
wrk -t2 -c32 -d3s -s "$work/post.lua" "$gateway" >/dev/null # warm-up

# Per thread name: CPU ticks in user space and in the kernel, and context switches, summed over
# threads of that name.
threads() {
  for task in /proc/$server/task/*; do
    echo "$(tr ' ' '_' < "$task/comm") $(awk '{print $14, $15}' "$task/stat") $(awk '/ctxt/{s+=$2} END{print s}' "$task/status")"
  done | awk '{u[$1]+=$2; k[$1]+=$3; s[$1]+=$4} END {for (n in u) print n, u[n], k[n], s[n]}' | sort
}
threads > "$work/before"
events0=$(metric meterr_ledger_events_committed_total); commits0=$(metric meterr_ledger_commits_total)
if [ -n "$perf" ]; then
  perf record -F 2999 -g -p "$server" -o perf.data -- sleep 10 >/dev/null 2>&1 &
fi
wrk -t2 -c32 -d10s --latency -s "$work/post.lua" "$gateway" > "$work/out"
if [ -n "$perf" ]; then sleep 1; fi
threads > "$work/after"
events1=$(metric meterr_ledger_events_committed_total); commits1=$(metric meterr_ledger_commits_total)
calls=$(awk '/requests in/{print $1}' "$work/out")
echo "$(awk '/Requests\/sec/{print $2}' "$work/out") requests/s, p50 $(awk '$1=="50%"{print $2}' "$work/out"), $calls calls"
echo "ledger: $(( (events1 - events0) / (commits1 - commits0 > 0 ? commits1 - commits0 : 1) )) events per commit"
tick_us=$((1000000 / $(getconf CLK_TCK)))
join "$work/before" "$work/after" | awk -v n="$calls" -v tick="$tick_us" '
  { user = ($5 - $2) * tick / n; kernel = ($6 - $3) * tick / n; sw = ($7 - $4) / n
    users += user; kernels += kernel; switches += sw
    if (user + kernel > 0 || sw > 0)
      printf "%-24s %7.1f us CPU per call (user %6.1f, kernel %5.1f)  %5.2f switches per call\n", $1, user + kernel, user, kernel, sw }
  END { printf "%-24s %7.1f us CPU per call (user %6.1f, kernel %5.1f)  %5.2f switches per call\n", "all threads", users + kernels, users, kernels, switches }'

# The same split for nginx as a reverse proxy in front of the same mock (its master and workers), and
# for the SwiftNIO proxy that only forwards (meterr-nio-floor).
proxy_ticks() {
  local user=0 kernel=0 u k
  for pid in $(pids_of "$1"); do
    read -r u k < <(awk '{print $14, $15}' "/proc/$pid/stat")
    user=$((user + u)); kernel=$((kernel + k))
  done
  echo "$user $kernel"
}
start_floor
for row in "proxy $proxy_port nginx as reverse proxy" "floor $floor_port NIO proxy floor"; do
  read -r process port label <<< "$row"
  read -r user0 kernel0 < <(proxy_ticks "$process")
  calls=$(wrk -t2 -c32 -d10s -s "$work/post.lua" "http://127.0.0.1:$port/v1/chat/completions" | awk '/requests in/{print $1}')
  read -r user1 kernel1 < <(proxy_ticks "$process")
  awk -v n="$calls" -v tick="$tick_us" -v u="$((user1 - user0))" -v k="$((kernel1 - kernel0))" -v label="$label" 'BEGIN {
    printf "%-24s %7.1f us CPU per call (user %6.1f, kernel %5.1f)\n", label, (u + k) * tick / n, u * tick / n, k * tick / n }'
done

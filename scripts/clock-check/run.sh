#!/usr/bin/env bash
# Runs a real `meterr serve` under libfaketime (only the server: never the Swift test runner) and
# drives it across hostile wall-clock moments, 2026-12-31 into 2027 and the leap day 2028-02-29 into
# March, moving its clock while it runs: budget periods and history, the forecast, key expiry and a
# webhook retry, through the HTTP API, whatever the date the check runs on.
# Usage: scripts/clock-check/run.sh [path-to-meterr-binary]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=${1:-$root/.build/debug/meterr}
work=$(mktemp -d)
check=
stop() {
  if [ -n "$check" ]; then kill "$check" 2>/dev/null || true; wait "$check" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop EXIT
# libfaketime's absolute timers are wrong on the clocks it leaves real, which stops every Swift
# Task.sleep; timer_fix.c, preloaded in front of it, passes those timers through (the Swift
# toolchain's clang builds it).
compiler=$(command -v clang || command -v cc)
"$compiler" -shared -fPIC -O2 -o "$work/timer_fix.so" "$here/timer_fix.c" -ldl
# The system python3, standard library only. It stops the servers it starts (each also under a
# five-minute `timeout`); the trap ends it if this script is stopped first.
CLOCK_CHECK_TIMER_FIX="$work/timer_fix.so" python3 -u "$here/clock_check.py" "$binary" &
check=$!
wait $check

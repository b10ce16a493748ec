#!/usr/bin/env bash
# Three `meterr serve` processes on one PostgreSQL (a throwaway cluster of the check's own), calls
# spread over them: a hard budget never overruns, a key revoked on one node is refused on the others
# within a second, a node killed with SIGKILL loses no acknowledged event and its budget holds are
# charged once they expire. Standard library Python only.
# Usage: scripts/nodes-check/run.sh [path-to-meterr-binary]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=${1:-$root/.build/debug/meterr}
work=$(mktemp -d)
[ "$(id -u)" != 0 ] || chmod 755 "$work"
trap '"$root/scripts/postgres/cluster.sh" stop "$work/pg"; [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
admin_url=$("$root/scripts/postgres/cluster.sh" start "$work/pg")
psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)
# The database belongs to a role that may make roles but is no superuser, as an operator would set it up.
"$psql" -q "$admin_url" -c "CREATE ROLE meterr_owner LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS" \
  -c "CREATE DATABASE meterr OWNER meterr_owner"
port=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).port)' "$admin_url")
PSQL="$psql" python3 "$here/check.py" "$binary" "postgres://meterr_owner@127.0.0.1:$port/meterr?sslmode=disable" "$work"

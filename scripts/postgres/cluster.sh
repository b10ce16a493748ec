#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on loopback and a unix socket in its own directory.
#   scripts/postgres/cluster.sh start DIR   starts one in DIR and prints its superuser's URL (TLS is on,
#                                           with DIR/server.crt as its certificate)
#   scripts/postgres/cluster.sh stop DIR    stops it and removes DIR
# Debian's postgresql package provides the server (scripts/test installs it when missing). As root,
# the server runs as the postgres user, since PostgreSQL refuses to run as root.
set -euo pipefail
command=${1:?start or stop}
dir=${2:?directory}
initdb=$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)
[ -n "$initdb" ] || { echo "PostgreSQL's initdb was not found: apt-get install postgresql" >&2; exit 1; }
bin=$(dirname "$(readlink -f "$initdb")")
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $command in
start)
  mkdir -p "$dir"
  [ "$(id -u)" != 0 ] || chown postgres "$dir"
  as_server "$bin/initdb" -D "$dir/data" -U meterr_admin --auth=trust -E UTF8 --locale=C >"$dir/initdb.log"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # TLS with a certificate of its own (DIR/server.crt), for the tests of sslmode=require and verify-full.
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$dir/server.key" -out "$dir/server.crt" 2>/dev/null
  chmod 600 "$dir/server.key"
  [ "$(id -u)" != 0 ] || chown postgres "$dir/server.key" "$dir/server.crt"
  # Durability is not what these tests check: no fsync, so the suite stays fast.
  as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=300 -c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key" \
    start >/dev/null
  echo "postgres://meterr_admin@127.0.0.1:$port/postgres?sslmode=disable"
  ;;
stop)
  [ ! -d "$dir/data" ] || as_server "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

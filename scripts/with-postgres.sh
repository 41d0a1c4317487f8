#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server: Debian's `postgresql` (installed
# here when missing), a fresh cluster in a temp folder, on a free loopback port, stopped
# and removed when the command ends. The command sees its address in
# FERROFLOW_TEST_POSTGRES_URL (a superuser, so tests can create a database each).
#
#   scripts/with-postgres.sh cargo test -p ferroflow-postgres
set -euo pipefail

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin="$(find_bin)"
if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
  echo "with-postgres: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  bin="$(find_bin)"
fi

dir="$(mktemp -d /tmp/ferroflow-pg.XXXXXX)"
# PostgreSQL refuses to run as root: run it as the package's `postgres` user then.
as_owner=()
if [[ "$(id -u)" == 0 ]]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

cleanup() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" --username=ferroflow --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# Loopback only, sockets in the temp folder; fsync on (the kill -9 tests rely on it),
# enough connections for several replicas' pools and the tests' own.
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }

export FERROFLOW_TEST_POSTGRES_URL="postgresql://ferroflow@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
"$@"

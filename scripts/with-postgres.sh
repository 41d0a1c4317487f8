#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server: Debian's `postgresql` (installed
# here when missing), a fresh cluster in a temp folder, on a free loopback port, stopped
# and removed when the command ends. The command sees its address in
# FERROFLOW_TEST_POSTGRES_URL (a superuser, so tests can create a database each).
#
#   scripts/with-postgres.sh cargo test -p ferroflow-postgres
#
# FERROFLOW_TEST_POSTGRES_OPTIONS adds server options, e.g. for profiling:
#   "-c shared_preload_libraries=pg_stat_statements"
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

# The default collation is ICU's English, not C: the store must not depend on the
# database's locale (its columns sort by code point whatever it is), and tests see it.
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" --username=ferroflow --auth=trust --encoding=UTF8 \
  --locale=C.UTF-8 --locale-provider=icu --icu-locale=en >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# TLS on, with a throwaway CA (FERROFLOW_TEST_POSTGRES_CA) whose server certificate names
# localhost and 127.0.0.1, so the sslmode tests have a real handshake to check.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=ferroflow test CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
  -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
  -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
chmod 600 "$dir/server.key"
[[ "$(id -u)" == 0 ]] && chown postgres: "$dir/server.key" "$dir/server.crt"
# Loopback only, sockets in the temp folder; fsync on (the kill -9 tests rely on it),
# enough connections for several replicas' pools and the tests' own.
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c ssl=on \
      -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key ${FERROFLOW_TEST_POSTGRES_OPTIONS:-}" \
  start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }

export FERROFLOW_TEST_POSTGRES_URL="postgresql://ferroflow@127.0.0.1:$port/postgres"
export FERROFLOW_TEST_POSTGRES_CA="$dir/ca.crt"
echo "with-postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
"$@"

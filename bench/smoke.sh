#!/usr/bin/env bash
# A short smoke run of every benchmark workload against ferroflow alone (debug build, a
# second or two per workload, small seeds), on SQLite and, when FERROFLOW_TEST_POSTGRES_URL
# names a server (scripts/with-postgres.sh), on PostgreSQL too. No timing is judged: it fails only when an
# answer was not a 2xx, an answer was wrong, or a workload could not run. Called by
# scripts/test.sh; the full benchmark is bench/run.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

cargo build --quiet -p ferroflow -p ferroflow-loadgen --manifest-path "$root/Cargo.toml"
target="${CARGO_TARGET_DIR:-$root/target}"

# Workload 5 needs the real MLflow Python client: the test venv scripts/setup-python.sh
# makes, or the benchmark's own.
client=""
for candidate in "$root/.venv/mlflow3/bin/python" "$here/.venv/bin/python"; do
  if [[ -x "$candidate" ]]; then
    client="$candidate"
    break
  fi
done
if [[ -z "$client" ]]; then
  echo "bench/smoke.sh: no python with mlflow; run scripts/setup-python.sh first" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$here/bench.py" --mode smoke --ferroflow-build debug \
  --ferroflow "$target/debug/ferroflow" --loadgen "$target/debug/ferroflow-loadgen" \
  --client-python "$client" --workdir "$work" \
  ${FERROFLOW_TEST_POSTGRES_URL:+--postgres-url "$FERROFLOW_TEST_POSTGRES_URL"}

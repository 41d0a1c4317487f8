#!/usr/bin/env bash
# Runs the Python client compatibility suite (tests/python) under both pinned
# client venvs: mlflow 3.17.2 (.venv/mlflow3) and mlflow-skinny 2.22.5 (.venv/mlflow2),
# with ferroflow on SQLite; then once more under mlflow 3 with ferroflow on PostgreSQL
# (a throwaway server from scripts/with-postgres.sh, a fresh database per test server).
#
#   COMPAT_SERVER=ferroflow (default) | mlflow   server under test (mlflow: SQLite runs only)
#   FERROFLOW_BIN=/path/to/ferroflow             default: target/debug/ferroflow
#   COMPAT_POSTGRES=0                            skip the PostgreSQL run
#
# Extra arguments are passed to pytest (e.g. -k search -x).
# Exits non-zero if any run fails (every run always executes).
# test_import.py runs under mlflow3 only, twice: ferroflow on SQLite importing from a
# real mlflow server on SQLite, and ferroflow on PostgreSQL importing from a real mlflow
# server on PostgreSQL (it starts its own mlflow servers and fills one with the mlflow2
# venv's client itself); it skips itself under mlflow2.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

"$root/scripts/setup-python.sh" || { echo "run-compat-tests: setup-python.sh failed" >&2; exit 2; }

export COMPAT_SERVER="${COMPAT_SERVER:-ferroflow}"
export FERROFLOW_BIN="${FERROFLOW_BIN:-$root/target/debug/ferroflow}"

status=0
for venv in mlflow3 mlflow2; do
  echo "=== compat tests: client venv $venv, server $COMPAT_SERVER ==="
  if ! (cd "$root/tests/python" && COMPAT_BACKEND=sqlite "$root/.venv/$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"); then
    echo "=== compat tests FAILED under $venv ===" >&2
    status=1
  fi
done

# PostgreSQL under the mlflow 3 client only, for time: the store answers both clients
# alike, and the 2.x venv keeps its SQLite run.
if [[ "$COMPAT_SERVER" == ferroflow && "${COMPAT_POSTGRES:-1}" != 0 ]]; then
  echo "=== compat tests: client venv mlflow3, server ferroflow on PostgreSQL ==="
  started=$SECONDS
  if ! (cd "$root/tests/python" && COMPAT_BACKEND=postgres "$root/scripts/with-postgres.sh" \
      "$root/.venv/mlflow3/bin/python" -m pytest -q -p no:cacheprovider "$@"); then
    echo "=== compat tests FAILED under mlflow3 on PostgreSQL ===" >&2
    status=1
  fi
  echo "=== PostgreSQL run took $((SECONDS - started)) s ==="
fi
exit "$status"

#!/usr/bin/env bash
# Runs the Python client compatibility suite (tests/python) under both pinned
# client venvs: mlflow 3.17.2 (.venv/mlflow3) and mlflow-skinny 2.22.5 (.venv/mlflow2).
#
#   COMPAT_SERVER=ferroflow (default) | mlflow   server under test
#   FERROFLOW_BIN=/path/to/ferroflow             default: target/debug/ferroflow
#
# Extra arguments are passed to pytest (e.g. -k search -x).
# Exits non-zero if either run fails (both runs always execute).
# test_import.py runs once: under mlflow3 against ferroflow (it starts its own real
# mlflow servers, and fills one with the mlflow2 venv's client itself); it skips itself
# in the other runs.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

"$root/scripts/setup-python.sh" || { echo "run-compat-tests: setup-python.sh failed" >&2; exit 2; }

export COMPAT_SERVER="${COMPAT_SERVER:-ferroflow}"
export FERROFLOW_BIN="${FERROFLOW_BIN:-$root/target/debug/ferroflow}"

status=0
for venv in mlflow3 mlflow2; do
  echo "=== compat tests: client venv $venv, server $COMPAT_SERVER ==="
  if ! (cd "$root/tests/python" && "$root/.venv/$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"); then
    echo "=== compat tests FAILED under $venv ===" >&2
    status=1
  fi
done
exit "$status"

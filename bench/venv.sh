#!/usr/bin/env bash
# Makes (or reuses) the benchmark's venv, bench/.venv, from bench/requirements.txt, and
# prints its path. Shared by bench/run.sh and bench/ui.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
venv="$here/.venv"

# The benchmark's own venv: MLflow (pinned) for its server and its Python client, and
# FastTrackML's `fml` binary. FastTrackML 0.6.0's wheel declares mlflow<3 only for its
# Python helpers, which the benchmark does not use, so it goes in without dependencies.
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "bench: creating $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$(grep '^mlflow==' "$here/requirements.txt")" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$(grep '^fasttrackml==' "$here/requirements.txt")" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$(grep '^psycopg2-binary==' "$here/requirements.txt")" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$(grep '^Flask-WTF==' "$here/requirements.txt")" >&2
  echo "$want" >"$stamp"
fi

echo "$venv"

#!/usr/bin/env bash
# Creates the pinned Python venvs the compatibility tests drive:
#   .venv/mlflow3  -> mlflow 3.17.2 (full package, includes scikit-learn)
#   .venv/mlflow2  -> mlflow-skinny 2.22.x
# Idempotent: a venv is rebuilt only when its requirements file changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"

make_venv() {
  local name="$1" reqs="$2"
  local dir="$root/.venv/$name"
  local stamp="$dir/.requirements.sha256"
  local want
  want="$(sha256sum "$reqs" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  echo "setup-python: creating $dir from $(basename "$reqs")"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"
  echo "$want" >"$stamp"
}

make_venv mlflow3 "$root/scripts/requirements-mlflow3.txt"
make_venv mlflow2 "$root/scripts/requirements-mlflow2.txt"

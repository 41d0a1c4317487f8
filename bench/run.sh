#!/usr/bin/env bash
# The side-by-side benchmark: ferroflow, FastTrackML and MLflow on loopback, each with a
# fresh SQLite store, through identical workloads. See bench/README.md.
#
#   bench/run.sh                      full run (about 15 min), writes bench/RESULTS.md
#   bench/run.sh --quick              a few seconds per workload, small seeds (about 4 min)
#   bench/run.sh --only ferroflow     one server (repeatable: --only ferroflow --only mlflow)
#   bench/run.sh --postgres           also a PostgreSQL pass: ferroflow and MLflow on fresh
#                                     databases of a throwaway local server (scripts/with-postgres.sh)
#   bench/run.sh --auth [--quick]     only the auth pass: workloads 1-4 against ferroflow with auth
#                                     off, Basic and token, and MLflow off and basic-auth; rewrites
#                                     the auth section of bench/RESULTS.md
#
# Other options go to bench/bench.py (e.g. --mlflow-search-runs 2000,
# --mlflow-history-points 5000, --workloads w1 w2). Only a full run of all three servers
# writes bench/RESULTS.md; any other run writes bench/work/RESULTS.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
python="${PYTHON:-python3}"
command="bench/run.sh${*:+ $*}"

mode=full
postgres=0
auth=0
only=()
rest=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) mode=quick ;;
    --postgres) postgres=1 ;;
    --auth) auth=1 ;;
    --only) only+=(--only "$2"); shift ;;
    --only=*) only+=(--only "${1#--only=}") ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) rest+=("$1") ;;
  esac
  shift
done

venv="$("$here/venv.sh")"

echo "bench: building ferroflow and the load generator (release)"
cargo build --release --quiet -p ferroflow -p ferroflow-loadgen --manifest-path "$root/Cargo.toml"
target="${CARGO_TARGET_DIR:-$root/target}"

results="$here/work/RESULTS.md"
if [[ "$mode" == full && ${#only[@]} -eq 0 ]]; then
  results="$here/RESULTS.md"
fi
mkdir -p "$here/work"
args=(--mode "$mode" ${only[@]+"${only[@]}"}
  --ferroflow "$target/release/ferroflow" --loadgen "$target/release/ferroflow-loadgen"
  --fml "$venv/bin/fml" --mlflow "$venv/bin/mlflow" --client-python "$venv/bin/python"
  --workdir "$here/work/$(date -u +%Y%m%d-%H%M%S)" --results "$results"
  --command "$command" ${rest[@]+"${rest[@]}"})
if [[ "$auth" == 1 ]]; then
  exec "$python" "$here/auth_pass.py" --mode "$mode" --ferroflow "$target/release/ferroflow" \
    --loadgen "$target/release/ferroflow-loadgen" --mlflow "$venv/bin/mlflow" \
    --workdir "$here/work/auth-$(date -u +%Y%m%d-%H%M%S)" --results "$here/RESULTS.md" --command "$command"
fi
if [[ "$postgres" == 1 ]]; then
  # The server's URL exists only inside with-postgres.sh, hence the inner shell.
  exec "$root/scripts/with-postgres.sh" bash -c 'exec "$@" --postgres-url "$FERROFLOW_TEST_POSTGRES_URL"' bench \
    "$python" "$here/bench.py" "${args[@]}"
fi
exec "$python" "$here/bench.py" "${args[@]}"

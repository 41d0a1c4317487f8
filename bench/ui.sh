#!/usr/bin/env bash
# The web UI benchmark: ferroflow's UI beside MLflow 3.17.2's own UI, same data, same
# headless Chromium, one run. Writes the "Web UI" section of bench/RESULTS.md (the rest of
# that file is bench/run.sh's). See bench/README.md ("The web UI").
#
#   bench/ui.sh              10,000-run table, 100 runs × 100,000 points chart (~10 min)
#   BENCH_WORKDIR=<dir> BENCH_REUSE=1 bench/ui.sh   measure again over the data of an earlier run
#   bench/ui.sh --quick      small data (2,000 runs, 100 × 2,000 points); writes
#                            bench/work/RESULTS-ui.md instead
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
results="$here/RESULTS.md"
if [[ "${1:-}" == --quick ]]; then
  export BENCH_TABLE_RUNS=2000 BENCH_CHART_POINTS=2000 BENCH_REPEAT=1
  results="$here/work/RESULTS-ui.md"
fi

venv="$("$here/venv.sh")"
"$root/scripts/setup-ui.sh" >&2
echo "bench-ui: building ferroflow (release)"
cargo build --release --quiet -p ferroflow --manifest-path "$root/Cargo.toml"
target="${CARGO_TARGET_DIR:-$root/target}"

workdir="${BENCH_WORKDIR:-$here/work/ui-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$workdir"
FERROFLOW_BIN="${FERROFLOW_BIN:-$target/release/ferroflow}" MLFLOW_BIN="$venv/bin/mlflow" \
  BENCH_PYTHON="$venv/bin/python" BENCH_WORKDIR="$workdir" BENCH_RESULTS="$results" \
  exec node "$here/ui/bench-ui.mjs"

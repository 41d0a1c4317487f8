#!/usr/bin/env bash
# Every reliability scenario of the HTTP layer, against one ferroflow binary: slow
# clients beyond the open-file limit, 1,000 keep-alive clients under `ulimit -n 1024`
# (bench/reliability.py), and a full disk (bench/reliability_disk_full.sh). Outcomes
# only, never speed. Run it after every change to the HTTP layer; scripts/test.sh runs
# it against the debug build.
#
# Usage: [FERROFLOW_BIN=target/release/ferroflow] bench/reliability.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
export FERROFLOW_BIN="${FERROFLOW_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/ferroflow}"
if [[ ! -x "$FERROFLOW_BIN" ]]; then
  echo "bench/reliability.sh: $FERROFLOW_BIN is missing; build it first (cargo build --release -p ferroflow)" >&2
  exit 1
fi
status=0
python3 "$here/reliability.py" --bin "$FERROFLOW_BIN" || status=1
echo "reliability: disk-full"
"$here/reliability_disk_full.sh" || status=1
exit "$status"

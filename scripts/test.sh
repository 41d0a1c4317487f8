#!/usr/bin/env bash
# Runs every test ferroflow has, from a fresh machine: installs what the tests need
# (pinned Python venvs with the real mlflow clients, an S3-protocol server), builds,
# then runs the Rust suites, the compatibility suites against the real clients, and a
# smoke run of the benchmark.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

step() { printf '\n== %s\n' "$*"; }

step "installing test dependencies"
scripts/setup-python.sh
scripts/setup-ui.sh

step "web UI: lint, type check, unit tests, ui/dist rebuilt from the lockfile"
scripts/check-ui.sh --no-install

step "format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

# The client subcommands' tests (crates/ferroflow/tests/client_cli.rs, readme_ci.rs) fill
# servers with .venv/mlflow3's mlflow client and start its `mlflow server`: the venvs above.
step "rust tests (beside a throwaway PostgreSQL server for the PostgreSQL store's)"
scripts/with-postgres.sh cargo test --workspace --quiet 2>&1 | tee /tmp/ferroflow-cargo-test.log
cargo build --quiet -p ferroflow

step "compatibility tests with the real mlflow clients (on SQLite; mlflow 3 on PostgreSQL too)"
FERROFLOW_BIN="$root/target/debug/ferroflow" scripts/run-compat-tests.sh

step "web UI end-to-end tests (headless chromium, real mlflow client)"
FERROFLOW_BIN="$root/target/debug/ferroflow" MLFLOW_PYTHON="$root/.venv/mlflow3/bin/python" node ui/e2e/run.mjs

step "reliability scenarios (slow clients, open-file limit, full disk)"
FERROFLOW_BIN="$root/target/debug/ferroflow" bench/reliability.sh

if [[ -x bench/smoke.sh ]]; then
  step "benchmark smoke run (SQLite and PostgreSQL)"
  scripts/with-postgres.sh bench/smoke.sh
fi

step "all tests passed"

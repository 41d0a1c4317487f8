#!/usr/bin/env bash
# Checks the web UI: lint, type check, unit tests, then rebuilds ui/dist from the lockfile
# and fails when it differs from the committed bundle (the binary embeds ui/dist, so the
# committed bundle must be what the sources build). `--no-install` skips `npm ci` (when
# scripts/setup-ui.sh has just run it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/ui"
[[ "${1:-}" == "--no-install" ]] || npm ci --no-audit --no-fund
npm run --silent lint
npm run --silent typecheck
npm test --silent
npm run --silent build
cd "$root"
if ! git diff --exit-code --stat -- ui/dist || [[ -n "$(git status --porcelain -- ui/dist)" ]]; then
  git status --short -- ui/dist
  echo "ui/dist differs from what the sources build: run 'cd ui && npm run build' and commit ui/dist" >&2
  exit 1
fi
echo "ui/dist is up to date"

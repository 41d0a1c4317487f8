#!/usr/bin/env bash
# Installs what the web UI's tests need: Debian's chromium (for the Playwright e2e tests,
# driven by playwright-core; a browser download is impossible here) when /usr/bin/chromium
# is missing, and the UI's npm packages from the committed ui/package-lock.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "installing Debian's chromium"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version

cd "$root/ui"
npm ci --no-audit --no-fund

#!/usr/bin/env bash
# Runs an S3-protocol server (moto's, from the pinned mlflow3 venv) on loopback, for the
# S3 artifact tests and for trying ferroflow against S3 by hand.
#
#   scripts/start-s3.sh [--port PORT] [--bucket NAME]...
#
# PORT defaults to a free port. Each --bucket is created once the server answers. When
# it is ready the script prints one line, `S3_ENDPOINT_URL=http://127.0.0.1:PORT`, then
# keeps running in the foreground until it receives SIGINT or SIGTERM, which stops the
# server too. Point clients at it with:
#
#   MLFLOW_S3_ENDPOINT_URL=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=test \
#   AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
#
# (moto accepts any credentials.) Needs the venv from scripts/setup-python.sh; set
# S3_VENV to use another one that has `moto[s3]` and flask-cors.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${S3_VENV:-$root/.venv/mlflow3}"
python="$venv/bin/python"

port=""
buckets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --bucket) buckets+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "start-s3: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [[ ! -x "$venv/bin/moto_server" ]]; then
  echo "start-s3: $venv/bin/moto_server not found; run scripts/setup-python.sh" >&2
  exit 2
fi
if [[ -z "$port" ]]; then
  port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
endpoint="http://127.0.0.1:$port"

"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >&2 &
server=$!
stop() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

# Wait until it answers, then create the buckets.
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
  "$python" - "$endpoint" "${buckets[@]}" <<'EOF'
import sys
import time
import urllib.request

import boto3

endpoint, buckets = sys.argv[1], sys.argv[2:]
deadline = time.monotonic() + 30
while True:
    try:
        urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).read()
        break
    except Exception:
        if time.monotonic() > deadline:
            sys.exit(f"start-s3: no answer from {endpoint} within 30 s")
        time.sleep(0.1)
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
for bucket in buckets:
    s3.create_bucket(Bucket=bucket)
EOF

echo "S3_ENDPOINT_URL=$endpoint"
wait "$server"

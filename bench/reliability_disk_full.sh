#!/usr/bin/env bash
# Disk-full scenario: a ferroflow server whose database and artifacts live on a 16 MiB
# tmpfs, 12 MiB of which a filler file takes. It checks that
#   - writes that do not fit answer 507 RESOURCE_EXHAUSTED with a clear message naming no
#     server path (the MLflow client retries 5xx answers it deems transient; not this one),
#     for log-batch, log-metric and an artifact upload larger than the space left;
#   - a refused write leaves nothing behind: no partial batch, no staging file, no folder;
#   - reads go on, and every acknowledged write is still there;
#   - once the filler is deleted, writes succeed again.
#
# Usage: FERROFLOW_BIN=target/release/ferroflow bench/reliability_disk_full.sh
# Needs root (it mounts a tmpfs) and python3 (stdlib only). Exits 0 when every check
# passed, 1 when one failed, 77 (skipped, said loudly) when it cannot mount a tmpfs.
set -euo pipefail

bin="${FERROFLOW_BIN:?set FERROFLOW_BIN to the ferroflow binary to test}"
[[ -x "$bin" ]] || { echo "reliability_disk_full: $bin is not executable" >&2; exit 1; }

work="$(mktemp -d)"
mnt="$work/tmpfs"
mkdir -p "$mnt"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  umount -l "$mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! mount -t tmpfs -o size=16m tmpfs "$mnt" 2>"$work/mount.err"; then
  echo "!!! reliability_disk_full: SKIPPED, cannot mount a tmpfs (needs root): $(cat "$work/mount.err")" >&2
  exit 77
fi
head -c $((12 * 1024 * 1024)) /dev/zero >"$mnt/filler.bin"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin" server --host 127.0.0.1 --port "$port" \
  --backend-store-uri "sqlite:///$mnt/db.sqlite" --artifacts-destination "$mnt/artifacts" \
  >"$work/server.log" 2>&1 &
server_pid=$!

if ! python3 - "$port" "$mnt" <<'PY'; then
import json
import os
import sys
import time
import urllib.error
import urllib.request

port, mnt = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
failures = []


def call(method, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            payload = answer.read()
            return answer.status, payload
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def api(method, rpc, body=None):
    status, payload = call(method, "/api/2.0/mlflow/" + rpc, body)
    try:
        return status, json.loads(payload or b"{}")
    except ValueError:
        return status, {"raw": payload.decode(errors="replace")}


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def storage_full(answer, what):
    status, body = answer
    message = body.get("message", "")
    check(
        status == 507 and body.get("error_code") == "RESOURCE_EXHAUSTED" and "full" in message,
        f"{what}: 507 RESOURCE_EXHAUSTED saying the storage is full (got {status} {body})",
    )
    check(mnt not in message and "/" not in message, f"{what}: the message names no server path ({message!r})")


for _ in range(400):
    try:
        if call("GET", "/health")[0] == 200:
            break
    except OSError:
        pass
    time.sleep(0.05)
else:
    sys.exit("the server did not become healthy")

status, run = api("POST", "runs/create", {"experiment_id": "0"})
run_id = run["run"]["info"]["run_id"]
early = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/early.txt"
check(call("PUT", early, raw=b"early")[0] == 200, "an artifact is stored while there is room")


def batch(step):
    metrics = [{"key": f"m{k}", "value": step + k / 1000, "timestamp": 1, "step": step} for k in range(900)]
    return {"run_id": run_id, "metrics": metrics}


acknowledged, refused = [], None
for step in range(1000):
    answer = api("POST", "runs/log-batch", batch(step))
    if answer[0] != 200:
        refused = (step, answer)
        break
    acknowledged.append(step)
check(refused is not None and acknowledged, f"batches fill the disk ({len(acknowledged)} acknowledged)")
storage_full(refused[1], "log-batch on a full disk")

small_acknowledged, small_refused = [], None
for step in range(100000):
    answer = api("POST", "runs/log-metric", {"run_id": run_id, "key": "small", "value": 1, "timestamp": 1, "step": step})
    if answer[0] != 200:
        small_refused = answer
        break
    small_acknowledged.append(step)
storage_full(small_refused, "log-metric on a full disk")

big = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/model/big.bin"
status, payload = call("PUT", big, raw=b"\x03" * (8 << 20))
storage_full((status, json.loads(payload or b"{}")), "an artifact larger than the space left")
staged = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(mnt, "artifacts")) for f in files if "#" in f]
check(not staged, f"the refused upload left no staging file ({staged})")
status, listing = call("GET", f"/api/2.0/mlflow-artifacts/artifacts?path=0/{run_id}/artifacts")
names = [f["path"] for f in json.loads(listing).get("files", [])]
check(names == ["early.txt"], f"the refused upload left no folder in the listing ({names})")


def history(key):
    status, body = api("GET", f"metrics/get-history?run_id={run_id}&metric_key={key}")
    return status, sorted(p["step"] for p in body.get("metrics", []))


for key in ("m0", "m899"):
    status, steps = history(key)
    check(status == 200 and steps == acknowledged, f"reads go on: every acknowledged step of {key}, nothing refused")
status, steps = history("small")
check(status == 200 and steps == small_acknowledged, "reads go on: every acknowledged log-metric")
check(call("GET", early) == (200, b"early"), "the early artifact still downloads")

os.remove(os.path.join(mnt, "filler.bin"))
check(api("POST", "runs/log-batch", batch(refused[0]))[0] == 200, "with space freed, the refused batch is accepted")
check(history("m0")[1] == sorted(acknowledged + [refused[0]]), "and is read back")
check(call("PUT", big, raw=b"\x03" * (1 << 20))[0] == 200, "with space freed, an artifact upload works")
check(call("GET", big) == (200, b"\x03" * (1 << 20)), "and downloads back")

if failures:
    print(f"reliability_disk_full: {len(failures)} check(s) failed")
    sys.exit(1)
print("reliability_disk_full: every check passed")
PY
  echo "reliability_disk_full: FAILED; the server's log follows" >&2
  tail -n 40 "$work/server.log" >&2
  exit 1
fi

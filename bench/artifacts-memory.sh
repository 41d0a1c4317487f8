#!/usr/bin/env bash
# Streams a large artifact through ferroflow's proxy (PUT, then GET) and records the
# server's peak resident memory, to show that bodies stream and memory stays flat.
#
#   bench/artifacts-memory.sh [SIZE_MIB]     (default 2048 = 2 GiB)
#
# Appends its result to bench/ARTIFACTS-MEMORY.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
size_mib="${1:-2048}"
cargo build --release --quiet -p ferroflow --manifest-path "$root/Cargo.toml"
bin="$root/target/release/ferroflow"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$bin" server --host 127.0.0.1 --port "$port" --backend-store-uri "sqlite:///$work/db.sqlite" \
  --artifacts-destination "$work/artifacts" 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.05; done

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
idle=$(rss_kib)
peak=$idle
sample() { while kill -0 "$pid" 2>/dev/null; do r=$(rss_kib || echo 0); [[ $r -gt $peak ]] && peak=$r && echo "$peak" >"$work/peak"; sleep 0.05; done; }
echo "$idle" >"$work/peak"
sample & sampler=$!

url="http://127.0.0.1:$port/api/2.0/mlflow-artifacts/artifacts/bench/big.bin"
start=$(date +%s.%N)
head -c "$((size_mib * 1024 * 1024))" /dev/urandom | curl -sf -T - -H 'Transfer-Encoding: chunked' "$url" >/dev/null
mid=$(date +%s.%N)
downloaded=$(curl -sf "$url" | wc -c)
end=$(date +%s.%N)
kill "$sampler" 2>/dev/null || true
peak=$(cat "$work/peak")
expected=$((size_mib * 1024 * 1024))
[[ "$downloaded" -eq "$expected" ]] || { echo "downloaded $downloaded bytes, expected $expected" >&2; exit 1; }

up=$(python3 -c "print(f'{$size_mib/($mid-$start):.0f}')")
down=$(python3 -c "print(f'{$size_mib/($end-$mid):.0f}')")
line="| $(date -u +%Y-%m-%d) | $(nproc) cores | ${size_mib} MiB | $((idle / 1024)) MiB | $((peak / 1024)) MiB | ${up} MiB/s | ${down} MiB/s |"
echo "$line"
out="$root/bench/ARTIFACTS-MEMORY.md"
if [[ ! -f "$out" ]]; then
  cat >"$out" <<'HEAD'
# Artifact streaming: server memory while proxying a large file

Measured by `bench/artifacts-memory.sh`: one PUT of random bytes through
`/api/2.0/mlflow-artifacts/artifacts/…` into the local artifact store, then one GET back,
while sampling the server's VmRSS every 50 ms. Flat memory means the body never sits in
memory whole.

| date | machine | artifact | idle RSS | peak RSS | upload | download |
|---|---|---|---|---|---|---|
HEAD
fi
echo "$line" >>"$out"

#!/usr/bin/env python3
"""Reliability scenarios for the HTTP layer (issue 10): run again after every change to it.

    bench/reliability.py [--bin target/release/ferroflow] [--scenario slow-clients|fd-limit|all]

* slow-clients: 1,100 connections that stall (silent, a head cut off halfway, a body short
  of its Content-Length) against a server whose open-file limit is 1,024, while a fast
  client goes on working. Every fast request must be answered, and the stalled
  connections must be closed by the server.
* fd-limit: 1,000 keep-alive clients (log-metric, runs/get, runs/search) against a server
  started under `ulimit -n 1024`. No request may fail, and none may be a 5xx.

Only outcomes are checked, never speed; the durations printed are for the reader.
Stdlib only. Exits non-zero on any failure. (The disk-full scenario is
bench/reliability_disk_full.sh; bench/reliability.sh runs them all.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API = "/api/2.0/mlflow"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A ferroflow server on a fresh store, started under an open-file limit."""

    def __init__(self, binary: str, nofile: int, extra: list[str]):
        self.dir = Path(tempfile.mkdtemp(prefix="ff-reliability-"))
        self.port = free_port()

        def limit_files():
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.process = subprocess.Popen(
            [binary, "server", "--port", str(self.port),
             "--backend-store-uri", f"sqlite:///{self.dir}/ff.db",
             "--artifacts-destination", str(self.dir / "artifacts"), *extra],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "server.log", "wb"),
            env={**os.environ, "FERROFLOW_LOG": "warn"}, preexec_fn=limit_files)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def stop(self) -> str:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        log = (self.dir / "server.log").read_text(errors="replace")
        shutil.rmtree(self.dir, ignore_errors=True)
        return log


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(payload)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + payload)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed before answering")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def setup_run(port: int) -> tuple[str, str]:
    conn = Connection(port)
    status, body = await conn.request("POST", f"{API}/experiments/create", {"name": f"rel-{time.time()}"})
    assert status == 200, body
    experiment_id = json.loads(body)["experiment_id"]
    status, body = await conn.request("POST", f"{API}/runs/create", {"experiment_id": experiment_id, "start_time": 1})
    assert status == 200, body
    conn.close()
    return experiment_id, json.loads(body)["run"]["info"]["run_id"]


async def fd_limit(binary: str) -> list[str]:
    """1,000 keep-alive clients under a 1,024 open-file limit: no failure, no 5xx."""
    clients, rounds = 1000, 6
    server = Server(binary, 1024, [])
    failures: list[str] = []
    try:
        experiment_id, run_id = await setup_run(server.port)
        counts = {"ok": 0, "5xx": 0, "4xx": 0, "errors": 0}

        async def client(index: int):
            conn = Connection(server.port)
            for step in range(rounds):
                calls = [
                    ("POST", f"{API}/runs/log-metric",
                     {"run_id": run_id, "key": f"c{index % 50}", "value": step, "timestamp": step, "step": step}),
                    ("GET", f"{API}/runs/get?run_id={run_id}", None),
                    ("POST", f"{API}/runs/search", {"experiment_ids": [experiment_id], "max_results": 5}),
                ]
                for method, path, body in calls:
                    for attempt in range(3):
                        try:
                            status, answer = await conn.request(method, path, body)
                            break
                        except (ConnectionError, OSError, asyncio.IncompleteReadError):
                            # A keep-alive connection the server closed while idle (to make
                            # room): reconnect, as urllib3 does.
                            conn.close()
                            if attempt == 2:
                                counts["errors"] += 1
                                return
                    if status >= 500:
                        counts["5xx"] += 1
                        failures.append(f"{status} {path}: {answer[:200]!r}")
                    elif status >= 400:
                        counts["4xx"] += 1
                        failures.append(f"{status} {path}: {answer[:200]!r}")
                    else:
                        counts["ok"] += 1
            conn.close()

        started = time.time()
        await asyncio.gather(*(client(i) for i in range(clients)))
        print(f"  fd-limit: {clients} clients x {rounds * 3} requests in {time.time() - started:.1f} s: {counts}")
        if counts["errors"]:
            failures.append(f"{counts['errors']} clients could not get an answer")
        expected = clients * rounds * 3
        if counts["ok"] != expected:
            failures.append(f"{counts['ok']} of {expected} requests answered 2xx")
    finally:
        log = server.stop()
    if "unable to open database file" in log:
        failures.append("the server ran out of descriptors for the database")
    return failures[:20]


async def slow_clients(binary: str) -> list[str]:
    """Stalled connections beyond the file limit cannot starve a fast client."""
    server = Server(binary, 1024, ["--header-read-timeout", "2", "--body-read-timeout", "2",
                                   "--keep-alive-timeout", "3"])
    failures: list[str] = []
    stalled: list[asyncio.StreamWriter] = []
    try:
        experiment_id, run_id = await setup_run(server.port)
        stalls = [
            b"",
            b"POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: x\r\nContent-Ty",
            (b"POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 1000\r\n\r\n{\"run_id\": "),
        ]

        async def stall(index: int):
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", server.port), 60)
            except (OSError, asyncio.TimeoutError):
                return None
            writer.write(stalls[index % len(stalls)])
            stalled.append(writer)
            return reader

        # In waves, so that the kernel's accept queue (1,024) never overflows: a silent
        # client whose handshake the kernel dropped would look open forever.
        readers = []
        for wave in range(11):
            readers += await asyncio.gather(*(stall(wave * 100 + i) for i in range(100)))
            await asyncio.sleep(0.05)
        fast_ok = 0
        started = time.time()
        for step in range(100):
            conn = Connection(server.port)
            try:
                status, _ = await asyncio.wait_for(conn.request(
                    "POST", f"{API}/runs/log-metric",
                    {"run_id": run_id, "key": "fast", "value": step, "timestamp": step, "step": step}), 120)
                fast_ok += status == 200
            except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
                failures.append(f"fast request {step} failed: {error!r}")
            conn.close()
        print(f"  slow-clients: 1100 stalled connections; 100 fast requests, {fast_ok} answered 200, "
              f"in {time.time() - started:.1f} s")
        if fast_ok != 100:
            failures.append(f"only {fast_ok} of 100 fast requests were answered 200")

        async def closed_by_server(reader) -> bool:
            try:
                while await asyncio.wait_for(reader.read(65536), 60):
                    pass
                return True
            except asyncio.TimeoutError:
                return False
            except (OSError, ConnectionError):
                return True

        results = await asyncio.gather(*(closed_by_server(r) for r in readers if r is not None))
        still_open = results.count(False)
        print(f"  slow-clients: {len(results) - still_open} of {len(results)} stalled connections closed by the server")
        if still_open:
            failures.append(f"{still_open} stalled connections were never closed")
    finally:
        for writer in stalled:
            writer.close()
        server.stop()
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.environ.get("FERROFLOW_BIN", str(ROOT / "target/release/ferroflow")))
    parser.add_argument("--scenario", choices=["slow-clients", "fd-limit", "all"], default="all")
    args = parser.parse_args()
    # The clients themselves need descriptors beyond the server's limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    scenarios = {"slow-clients": slow_clients, "fd-limit": fd_limit}
    chosen = scenarios if args.scenario == "all" else {args.scenario: scenarios[args.scenario]}
    failed = False
    for name, scenario in chosen.items():
        print(f"reliability: {name}")
        failures = asyncio.run(scenario(args.bin))
        for failure in failures:
            print(f"  FAIL {failure}")
        failed |= bool(failures)
    print("reliability: " + ("FAILED" if failed else "all scenarios passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

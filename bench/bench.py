#!/usr/bin/env python3
"""Drives the side-by-side benchmark: ferroflow, FastTrackML and MLflow on loopback, each
with a fresh SQLite store, through identical workloads (bench/README.md describes them);
with --postgres-url, a second pass runs ferroflow and MLflow on fresh databases of that
PostgreSQL server.

Run it through bench/run.sh (full benchmark) or bench/smoke.sh (short, ferroflow only);
this script needs only the standard library, and the binaries it is given.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVERS = ("ferroflow", "fasttrackml", "mlflow")
LABELS = {"ferroflow": "ferroflow", "fasttrackml": "FastTrackML", "mlflow": "MLflow"}


@dataclass
class Settings:
    """How much of each workload to run; per-server overrides where MLflow is too slow."""

    cold_starts: dict[str, int]
    w1_seconds: float = 10.0
    w1_connections: int = 16
    w2_seconds: float = 10.0
    w2_connections: int = 4
    w3_connections: int = 8
    search_runs: dict[str, int] = field(default_factory=dict)
    w3_max_seconds: float = 600.0
    w4_seconds: float = 10.0
    w4_connections: int = 4
    w5_points: int = 100_000
    w5_repetitions: dict[str, int] = field(default_factory=dict)
    w6_runs: int = 100
    w6_points: dict[str, int] = field(default_factory=dict)
    w6_seconds: float = 10.0
    seed_connections: int = 4
    # The scaling row: one experiment grown to each size in turn, searched by one client.
    scale_runs: tuple[int, ...] = (1_000, 10_000, 100_000)
    scale_seconds: float = 5.0


def settings_for(mode: str, args: argparse.Namespace) -> Settings:
    if mode == "smoke":
        s = Settings(
            cold_starts={"ferroflow": 1},
            w1_seconds=1.5,
            w2_seconds=1.5,
            search_runs={"ferroflow": 300},
            w4_seconds=1.5,
            w5_points=5_000,
            w5_repetitions={"ferroflow": 1},
            w6_runs=10,
            w6_points={"ferroflow": 2_000},
            w6_seconds=1.0,
            scale_runs=(100, 300),
            scale_seconds=1.0,
        )
    elif mode == "quick":
        s = Settings(
            cold_starts={"ferroflow": 3, "fasttrackml": 2, "mlflow": 1},
            w1_seconds=3,
            w2_seconds=3,
            search_runs={"ferroflow": 2_000, "fasttrackml": 2_000, "mlflow": 500},
            w3_max_seconds=120,
            w4_seconds=3,
            w5_points=100_000,
            w5_repetitions={"ferroflow": 2, "fasttrackml": 2, "mlflow": 1},
            w6_runs=100,
            w6_points={"ferroflow": 5_000, "fasttrackml": 5_000, "mlflow": 1_000},
            w6_seconds=3,
            scale_runs=(1_000, 10_000),
            scale_seconds=2.0,
        )
    else:
        s = Settings(
            cold_starts={"ferroflow": 10, "fasttrackml": 5, "mlflow": 3},
            search_runs={"ferroflow": 10_000, "fasttrackml": 10_000, "mlflow": args.mlflow_search_runs},
            w5_repetitions={"ferroflow": 5, "fasttrackml": 3, "mlflow": 3},
            # FastTrackML has no bulk-interval endpoint: its 100-run seed only feeds workload 8.
            w6_points={"ferroflow": 100_000, "fasttrackml": 10_000, "mlflow": args.mlflow_history_points},
        )
    if args.search_runs:
        s.search_runs = {k: args.search_runs for k in SERVERS}
    if args.history_points:
        s.w6_points = {k: args.history_points for k in SERVERS}
    return s


class BenchError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_group(pgid: int) -> list[int]:
    """The live processes of a process group (a server and every worker it forked)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def psql(admin_url: str, sql: str, database: str | None = None) -> str:
    """Runs one statement with Debian's psql against the benchmark's PostgreSQL server."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    binary = str(found[-1]) if found else "psql"
    url = admin_url if database is None else admin_url.rsplit("/", 1)[0] + "/" + database
    done = subprocess.run([binary, url, "-tAqc", sql], capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"psql failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


class Server:
    def __init__(self, kind: str, workdir: Path, bins: dict[str, str], extra: tuple[str, ...] = (),
                 postgres: str | None = None, env: dict[str, str] | None = None):
        self.kind = kind
        self.extra = list(extra)
        self.env = dict(env or {})
        # The `Authorization` header the load generator sends (the auth pass).
        self.authorization: str | None = None
        self.dir = workdir
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.db = self.dir / "db.sqlite"
        # On PostgreSQL: a fresh database of the server at `postgres` (an admin URL).
        self.postgres = postgres
        self.database = None
        if postgres:
            self.database = f"bench_{kind.replace('-', '_')}_{os.getpid()}_{int(time.time() * 1000) % 10**9}"
            psql(postgres, f"CREATE DATABASE {self.database}")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.bins = bins
        self.proc: subprocess.Popen | None = None

    def store_uri(self, driver: str = "") -> str:
        if not self.database:
            return f"sqlite:///{self.db}"
        scheme, rest = self.postgres.split("://", 1)
        return f"{scheme}{driver}://{rest.rsplit('/', 1)[0]}/{self.database}"

    def command(self) -> list[str]:
        art = str(self.dir / "artifacts")
        port = str(self.port)
        if self.kind == "ferroflow":
            return [self.bins["ferroflow"], "server", "--host", "127.0.0.1", "--port", port,
                    "--backend-store-uri", self.store_uri(), "--artifacts-destination", art, *self.extra]
        if self.kind == "fasttrackml":
            # FastTrackML reads sqlite://<path>; an absolute path gives three slashes.
            return [self.bins["fml"], "server", "--listen-address", f"127.0.0.1:{port}",
                    "--database-uri", f"sqlite://{self.db}", "--default-artifact-root", art]
        # MLflow's default server setup: uvicorn with its default 4 workers, plus its job runner.
        return [self.bins["mlflow"], "server", "--host", "127.0.0.1", "--port", port,
                "--backend-store-uri", self.store_uri("+psycopg2"), "--artifacts-destination", art, *self.extra]

    def start(self, timeout: float = 180.0) -> float:
        """Starts the server; returns milliseconds from spawn until /health answers 200."""
        env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", **self.env)
        log = open(self.dir / "server.log", "wb")
        started = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.dir, start_new_session=True)
        log.close()
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.kind} exited with {self.proc.returncode}: {self.log_tail()}")
            if self.healthy():
                return (time.perf_counter() - started) * 1000.0
            time.sleep(0.001)
        raise BenchError(f"{self.kind} did not answer /health within {timeout:.0f} s: {self.log_tail()}")

    def healthy(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/health")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def log_tail(self) -> str:
        try:
            return (self.dir / "server.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def pids(self) -> list[int]:
        return process_group(self.proc.pid) if self.proc else []

    def rss_mb(self) -> float:
        return sum(rss_kib(pid) for pid in self.pids()) / 1024.0

    def pss_mb(self) -> float:
        return sum(pss_kib(pid) for pid in self.pids()) / 1024.0

    def cpu_seconds(self) -> float:
        return sum(cpu_ticks(pid) for pid in self.pids()) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if not self.proc:
            return
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + 15
        while time.time() < deadline and (self.proc.poll() is None or self.pids()):
            time.sleep(0.05)
        if self.pids():
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.proc = None
        if self.database:
            psql(self.postgres, f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
            self.database = None

    def disk_bytes(self) -> tuple[int, int]:
        """The store's size (database + WAL) after a TRUNCATE checkpoint, and the
        checkpoint's busy flag (1 when the server kept it from completing). On PostgreSQL,
        the database's size (its WAL is the server's, shared, and not counted)."""
        if self.database:
            return int(psql(self.postgres, "SELECT pg_database_size(current_database())", self.database)), 0
        busy = 0
        with sqlite3.connect(self.db, timeout=30) as conn:
            row = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            busy = row[0] if row else 0
        conn.close()
        size = 0
        for suffix in ("", "-wal"):
            path = Path(str(self.db) + suffix)
            if path.exists():
                size += path.stat().st_size
        return size, busy


class Runner:
    def __init__(self, args: argparse.Namespace, settings: Settings, workdir: Path):
        self.args = args
        self.s = settings
        self.workdir = workdir
        self.bins = {"ferroflow": args.ferroflow, "fml": args.fml, "mlflow": args.mlflow}
        self.results: dict[str, dict] = {}
        self.problems: list[str] = []
        # The admin URL of the PostgreSQL server this runner's stores live on, if any.
        self.postgres: str | None = None

    def say(self, text: str) -> None:
        print(text, flush=True)

    def loadgen(self, server: Server, *args: str) -> dict:
        cmd = [self.args.loadgen, "--url", server.url, *args]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_before = server.cpu_seconds()
        busy_before = machine_busy_seconds()
        wall = time.perf_counter()
        env = dict(os.environ)
        if server.authorization:
            env["BENCH_AUTHORIZATION"] = server.authorization  # not on the command line (ps)
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise BenchError(f"loadgen {args[0]} failed: {done.stderr.strip()[-1500:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["loadgen_cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        result["server_cpu_s"] = server.cpu_seconds() - cpu_before
        # CPU shares are over the loadgen's whole run (its setup requests included).
        result["wall_s"] = wall
        # Whatever else kept the machine busy meanwhile (should be near zero).
        result["other_cpu_s"] = max(0.0, machine_busy_seconds() - busy_before - result["server_cpu_s"]
                                    - result["loadgen_cpu_s"])
        failures = result["non_2xx"] + result["errors"]
        if failures:
            self.problems.append(f"{server.kind}{' (PostgreSQL)' if server.database else ''} {args[0]}: "
                                 f"{failures} of {result['requests']} answers were not 2xx "
                                 f"(first: {result['first_failure']})")
        return result

    def step(self, name: str, result: dict, summary: str) -> None:
        share = ""
        if "loadgen_cpu_s" in result and result.get("wall_s"):
            share = (f"  [server CPU {result['server_cpu_s'] / result['wall_s']:.2f} cores,"
                     f" loadgen {result['loadgen_cpu_s'] / result['wall_s']:.2f},"
                     f" other {result['other_cpu_s'] / result['wall_s']:.2f}]")
        bad = result.get("non_2xx", 0) + result.get("errors", 0)
        self.say(f"  {name:<28} {summary}{'  NON-2XX: ' + str(bad) if bad else ''}{share}")

    def bench(self, kind: str) -> dict:
        s = self.s
        r: dict = {"workloads": {}}
        w = r["workloads"]
        self.say(f"\n== {LABELS[kind]}{' on PostgreSQL' if self.postgres else ''}")
        # 7: cold start on a fresh store, repeated; the last start serves the workloads.
        colds = []
        server = None
        for i in range(s.cold_starts.get(kind, 1)):
            if server:
                server.stop()
            server = Server(kind, self.workdir / kind, self.bins, postgres=self.postgres)
            colds.append(server.start())
        r["cold_start_ms"] = statistics.median(colds)
        r["cold_start_all_ms"] = colds
        self.say(f"  {'cold start':<28} {r['cold_start_ms']:.0f} ms (median of {len(colds)}: "
                 + ", ".join(f"{c:.0f}" for c in colds) + ")")
        try:
            time.sleep(1.0)
            r["idle_rss_mb"] = server.rss_mb()
            r["idle_pss_mb"] = server.pss_mb()
            r["processes"] = len(server.pids())
            self.say(f"  {'idle RSS':<28} {r['idle_rss_mb']:.1f} MB over {r['processes']} process(es) "
                     f"(PSS {r['idle_pss_mb']:.1f} MB)")
            self.workloads(kind, server, r, w)
        finally:
            server.stop()
        return r

    def guarded(self, kind: str, name: str, fn) -> None:
        try:
            fn()
        except BenchError as e:
            self.problems.append(f"{kind} {name}: {e}")
            self.say(f"  {name:<28} FAILED: {e}")

    def workloads(self, kind: str, server: Server, r: dict, w: dict, only: tuple[str, ...] = ()) -> None:
        s = self.s

        def w1():
            res = self.loadgen(server, "log-metric", "--connections", str(s.w1_connections),
                               "--seconds", str(s.w1_seconds))
            w["w1"] = res
            self.step("1 log-metric", res, f"{res['units_per_s']:,.0f} req/s  p50 {res['p50_ms']:.2f} ms  "
                                           f"p99 {res['p99_ms']:.2f} ms")

        def w2():
            peak = [server.rss_mb(), server.pss_mb()]
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    peak[0] = max(peak[0], server.rss_mb())
                    peak[1] = max(peak[1], server.pss_mb())
                    stop.wait(0.1)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                res = self.loadgen(server, "log-batch", "--connections", str(s.w2_connections),
                                   "--seconds", str(s.w2_seconds), "--points", "1000")
            finally:
                stop.set()
                sampler.join()
            res["peak_rss_mb"] = peak[0]
            r["load_rss_mb"] = peak[0]
            r["load_pss_mb"] = peak[1]
            w["w2"] = res
            self.step("2 log-batch x1000", res, f"{res['units_per_s']:,.0f} points/s  p50 {res['p50_ms']:.1f} ms  "
                                                f"peak RSS {peak[0]:.1f} MB (PSS {peak[1]:.1f})")

        def w3():
            runs = s.search_runs.get(kind, 10_000)
            res = self.loadgen(server, "create-runs", "--connections", str(s.w3_connections), "--runs", str(runs),
                               "--experiment", "bench-search", "--max-seconds", str(s.w3_max_seconds))
            w["w3"] = res
            if res["units"] < runs:
                self.problems.append(f"{kind} create-runs: made {res['units']} of {runs} runs "
                                     f"in the {s.w3_max_seconds:.0f} s allowed")
            self.step("3 create run + log-batch", res, f"{res['units_per_s']:,.1f} runs/s "
                                                       f"({res['units']} runs in {res['seconds']:.1f} s)")

        def w4():
            if "w3" not in w:
                raise BenchError("no runs to search (workload 3 failed)")
            made = w["w3"]["units"]
            seeded = ["--seeded-runs", str(made)] if made == w["w3"]["requested_runs"] else []
            res = self.loadgen(server, "search-runs", "--connections", str(s.w4_connections),
                               "--seconds", str(s.w4_seconds), "--experiment-id", w["w3"]["experiment_id"], *seeded)
            res["searched_runs"] = made
            w["w4"] = res
            if not res["ordered"] or res["correct"] is False or res["results"] == 0:
                self.problems.append(f"{kind} search-runs: wrong answer ({res['results']} results, "
                                     f"{res['expected_results']} expected, ordered={res['ordered']}, "
                                     f"same m1 values as expected={res['correct']})")
            self.step("4 search-runs", res, f"{res['units_per_s']:,.1f} req/s over {res['searched_runs']} runs "
                                            f"({res['results']} results, p50 {res['p50_ms']:.1f} ms)")

        def seed():
            size0, _ = server.disk_bytes()
            ids5 = server.dir / "w5-run.txt"
            ids6 = server.dir / "w6-runs.txt"
            res5 = self.loadgen(server, "seed-history", "--connections", str(s.seed_connections), "--runs", "1",
                                "--points", str(s.w5_points), "--experiment", "bench-history-1", "--out", str(ids5))
            points6 = s.w6_points.get(kind, 100_000)
            res6 = self.loadgen(server, "seed-history", "--connections", str(s.seed_connections),
                                "--runs", str(s.w6_runs), "--points", str(points6),
                                "--experiment", "bench-history-100", "--out", str(ids6))
            size1, busy = server.disk_bytes()
            points = res5["units"] + res6["units"]
            w["seed"] = {"w5": res5, "w6": res6, "run5": ids5.read_text().split()[0], "runs6": str(ids6),
                         "points6": points6}
            r["bytes_per_point"] = (size1 - size0) / points if points else None
            r["disk"] = {"before": size0, "after": size1, "points": points, "checkpoint_busy": busy}
            self.say(f"  {'seed histories':<28} {points:,} points at "
                     f"{points / (res5['seconds'] + res6['seconds']):,.0f} points/s")
            self.say(f"  {'8 disk per point':<28} {r['bytes_per_point']:.1f} bytes "
                     f"({(size1 - size0) / 1e6:.1f} MB for {points:,} points)")

        def w5():
            if "seed" not in w:
                raise BenchError("no history was seeded")
            reps = s.w5_repetitions.get(kind, 3)
            env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
            done = subprocess.run([self.args.client_python, str(HERE / "history_read.py"), server.url,
                                   w["seed"]["run5"], "loss", str(s.w5_points), str(reps)],
                                  capture_output=True, text=True, env=env)
            if done.returncode != 0 or not done.stdout.strip():
                raise BenchError(f"history read failed: {(done.stdout + done.stderr).strip()[-1500:]}")
            res = json.loads(done.stdout.strip().splitlines()[-1])
            res["median_s"] = statistics.median(res["seconds"])
            res["http_median_s"] = statistics.median(res["http_seconds"])
            res["decode_median_s"] = statistics.median(res["decode_seconds"])
            w["w5"] = res
            self.say(f"  {'5 get_metric_history 100k':<28} {res['median_s']:.3f} s (median of {reps}: "
                     + ", ".join(f"{x:.3f}" for x in res["seconds"]) + f"; {s.w5_points:,} points)")
            self.say(f"  {'5b same pages, HTTP only':<28} {res['http_median_s']:.3f} s; the client's decoding "
                     f"of them alone {res['decode_median_s']:.3f} s")

        def w6():
            if "seed" not in w:
                raise BenchError("no history was seeded")
            probe = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            probe.request("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?"
                          f"run_ids={w['seed']['run5']}&metric_key=loss&max_results=320")
            status = probe.getresponse().status
            probe.close()
            if status == 404:
                w["w6"] = {"unsupported": True}
                self.say(f"  {'6 bulk-interval 100 runs':<28} n/a (the endpoint answers 404)")
                return
            res = self.loadgen(server, "bulk-interval", "--run-ids", w["seed"]["runs6"],
                               "--seconds", str(s.w6_seconds), "--max-results", "320")
            res["points_per_run"] = w["seed"]["points6"]
            expect = s.w6_runs * min(320, w["seed"]["points6"])
            if res["points_returned"] != expect:
                self.problems.append(f"{kind} bulk-interval: {res['points_returned']} points returned, "
                                     f"{expect} expected")
            w["w6"] = res
            self.step("6 bulk-interval 100 runs", res, f"{res['mean_ms']:.1f} ms per chart (p50 {res['p50_ms']:.1f}"
                                                       f", {res['requests']} loads, {res['points_returned']} points, "
                                                       f"{w['seed']['points6']:,} points/run)")

        def scale():
            # ferroflow only: MLflow needs minutes per thousand runs (see workload 3).
            if kind != "ferroflow":
                return
            levels = []
            made = 0
            for size in s.scale_runs:
                grown = self.loadgen(server, "create-runs", "--connections", str(s.w3_connections),
                                     "--runs", str(size - made), "--first", str(made),
                                     "--experiment", "bench-scale")
                made += grown["units"]
                if made != size:
                    raise BenchError(f"made {made} of {size} runs")
                res = self.loadgen(server, "search-runs", "--connections", "1", "--seconds", str(s.scale_seconds),
                                   "--experiment-id", grown["experiment_id"], "--seeded-runs", str(size))
                if not res["ordered"] or res["correct"] is False:
                    self.problems.append(f"{kind} scaling search over {size} runs: wrong answer")
                res["searched_runs"] = size
                levels.append(res)
                self.step(f"9 search latency, {size:,} runs", res, f"p50 {res['p50_ms']:.2f} ms  "
                                                                   f"p99 {res['p99_ms']:.2f} ms  (1 client)")
            w["scale"] = levels

        for name, fn in (("w1", w1), ("w2", w2), ("w3", w3), ("w4", w4), ("seed", seed), ("w5", w5), ("w6", w6),
                         ("scale", scale)):
            if self.args.workloads and name not in self.args.workloads:
                continue
            if only and name not in only:
                continue
            self.guarded(kind, name, fn)

    def run(self, servers: list[str]) -> int:
        for kind in servers:
            try:
                self.results[kind] = self.bench(kind)
            except BenchError as e:
                self.problems.append(f"{kind}: {e}")
                self.say(f"  FAILED: {e}")
        if "ferroflow" in servers and self.args.mode == "full" and not self.postgres:
            self.sync_full = self.bench_sync_full()

    def bench_sync_full(self) -> dict:
        """The write workloads again on a fresh ferroflow started with `--sync full`."""
        self.say("\n== ferroflow --sync full (fsync per group commit)")
        r: dict = {"workloads": {}}
        server = Server("ferroflow", self.workdir / "ferroflow-sync-full", self.bins, ("--sync", "full"))
        server.start()
        try:
            self.workloads("ferroflow", server, r, r["workloads"], only=("w1", "w2", "w3"))
        finally:
            server.stop()
        return r
        return 0


# ------------------------------------------------------------------ the table

def figure(results: dict, kind: str, key: str):
    r = results.get(kind)
    if not r:
        return None
    w = r.get("workloads", {})
    try:
        if key == "w1":
            return w["w1"]["units_per_s"]
        if key == "w2":
            return w["w2"]["units_per_s"]
        if key == "w3":
            return w["w3"]["units_per_s"]
        if key == "w4":
            return w["w4"]["units_per_s"]
        if key == "w5":
            return w["w5"]["median_s"]
        if key == "w5b":
            return w["w5"]["http_median_s"]
        if key == "w6":
            return None if w["w6"].get("unsupported") else w["w6"]["mean_ms"]
        if key == "cold":
            return r["cold_start_ms"]
        if key == "idle":
            return r["idle_rss_mb"]
        if key == "load":
            return r["load_rss_mb"]
        if key == "disk":
            return r["bytes_per_point"]
    except KeyError:
        return None
    return None


# key, label, unit, higher_is_better, target text, target check(ff, fml, mlflow), 50x rule applies
ROWS = [
    ("w1", "1. log-metric, 16 connections", "req/s", True, "≥ 15,000", lambda f, t, m: f >= 15_000, True),
    ("w2", "2. log-batch of 1000 points, 4 connections", "points/s", True, "≥ 400,000",
     lambda f, t, m: f >= 400_000, True),
    ("w3", "3. create run + log-batch (20 params, 10 metrics)", "runs/s", True, "≥ 2,000",
     lambda f, t, m: f >= 2_000, True),
    ("w4", "4. search-runs, filter + order, 100 results", "req/s", True, "≥ 500", lambda f, t, m: f >= 500, True),
    ("w5", "5. 100k-point history, Python client", "s", False, "≥ 10× faster than FastTrackML",
     lambda f, t, m: None if t is None else t / f >= 10, True),
    ("w5b", "5b. the same 100k points, HTTP only (client decoding excluded)", "s", False, "(diagnostic)",
     lambda f, t, m: None, True),
    ("w6", "6. bulk-interval chart load, 100 runs", "ms", False, "≤ 50 ms", lambda f, t, m: f <= 50, True),
    ("cold", "7a. cold start until /health", "ms", False, "≤ 100 ms", lambda f, t, m: f <= 100, False),
    ("idle", "7b. RSS idle", "MB", False, "≤ 30 MB", lambda f, t, m: f <= 30, False),
    ("load", "7c. RSS under workload 2 (peak)", "MB", False, "≤ 200 MB", lambda f, t, m: f <= 200, False),
    ("disk", "8. disk per stored metric point", "bytes", False, "≤ ⅓ of MLflow's",
     lambda f, t, m: None if m is None else f <= m / 3, True),
]


def fmt(value, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value:.3f}"
    if unit in ("ms", "MB", "bytes"):
        return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def ratio(ff, other, higher: bool):
    if ff is None or other is None or ff == 0 or other == 0:
        return None
    return ff / other if higher else other / ff


# The PostgreSQL pass's targets (issue 13): ≥ 30× MLflow on the same PostgreSQL server.
PG_ROWS = [
    ("w1", "1. log-metric, 16 connections", "req/s", True, "≥ 10,000", lambda f, t, m: f >= 10_000, True),
    ("w2", "2. log-batch of 1000 points, 4 connections", "points/s", True, "≥ 300,000",
     lambda f, t, m: f >= 300_000, True),
    ("w3", "3. create run + log-batch (20 params, 10 metrics)", "runs/s", True, "(≥ 30× MLflow)",
     lambda f, t, m: None, True),
    ("w4", "4. search-runs, filter + order, 100 results", "req/s", True, "≥ 300", lambda f, t, m: f >= 300, True),
    ("w5", "5. 100k-point history, Python client", "s", False, "(≥ 30× MLflow)", lambda f, t, m: None, True),
    ("w6", "6. bulk-interval chart load, 100 runs", "ms", False, "(≥ 30× MLflow)", lambda f, t, m: None, True),
    ("cold", "7a. cold start until /health", "ms", False, "(diagnostic)", lambda f, t, m: None, False),
    ("disk", "8. database size per stored metric point", "bytes", False, "(diagnostic)",
     lambda f, t, m: None, False),
]


def table(results: dict, servers: list[str], rows=ROWS, multiple: int = 50) -> tuple[list[str], list[tuple[str, bool]]]:
    head = ["Workload", "unit"] + [LABELS[k] for k in servers]
    if "ferroflow" in servers:
        if "mlflow" in servers:
            head.append("ferroflow vs MLflow")
        if "fasttrackml" in servers:
            head.append("ferroflow vs FastTrackML")
        head += ["target (ferroflow)", "target met"]
        if "mlflow" in servers:
            head.append(f"≥ {multiple}× MLflow")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    verdicts = []
    for key, label, unit, higher, target, check, fifty in rows:
        values = {k: figure(results, k, key) for k in servers}
        cells = [label, unit] + [fmt(values[k], unit) for k in servers]
        ff = values.get("ferroflow")
        if "ferroflow" in servers:
            for other in ("mlflow", "fasttrackml"):
                if other in servers:
                    x = ratio(ff, values[other], higher)
                    cells.append("n/a" if x is None else f"{x:,.1f}×")
            met = None
            if ff is not None:
                try:
                    met = check(ff, values.get("fasttrackml"), values.get("mlflow"))
                except TypeError:
                    met = None
            cells += [target, "n/a" if met is None else ("PASS" if met else "FAIL")]
            if met is not None:
                verdicts.append((label, met))
            if "mlflow" in servers:
                x = ratio(ff, values["mlflow"], higher)
                if not fifty:
                    cells.append("—")
                elif x is None:
                    cells.append("n/a")
                else:
                    cells.append("PASS" if x >= multiple else "FAIL")
                    verdicts.append((label + f" (≥ {multiple}× MLflow)", x >= multiple))
        lines.append("| " + " | ".join(cells) + " |")
    return lines, verdicts


def details(results: dict, servers: list[str]) -> list[str]:
    head = ["server", "workload", "requests", "non-2xx", "p50 ms", "p99 ms", "server CPU (cores)",
            "loadgen CPU (cores)", "other CPU (cores)", "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind in servers:
        w = results.get(kind, {}).get("workloads", {})
        rows = [("1 log-metric", w.get("w1"), ""), ("2 log-batch", w.get("w2"), ""),
                ("3 create runs", w.get("w3"), ""), ("4 search-runs", w.get("w4"), ""),
                ("seed 1×100k + 100×N", (w.get("seed") or {}).get("w6"), ""),
                ("6 bulk-interval", w.get("w6"), "")]
        for name, res, note in rows:
            if not res or res.get("unsupported"):
                if res and res.get("unsupported"):
                    lines.append(f"| {LABELS[kind]} | {name} | — | — | — | — | — | — | — | "
                                 "endpoint not implemented (404) |")
                continue
            secs = res.get("wall_s") or 1
            extra = []
            if name.startswith("3"):
                extra.append(f"{res['units']:,} runs, {res['connections']} connections")
            if name.startswith("4"):
                extra.append(f"{res['searched_runs']:,} runs searched, {res['results']} results")
            if name.startswith("seed"):
                extra.append(f"{res['points_per_run']:,} points/run, {res['units_per_s']:,.0f} points/s")
            if name.startswith("6"):
                extra.append(f"{res['points_per_run']:,} points/run, {res['points_returned']} points returned")
            lines.append(f"| {LABELS[kind]} | {name} | {res['requests']:,} | {res['non_2xx'] + res['errors']} | "
                         f"{res['p50_ms']:.2f} | {res['p99_ms']:.2f} | {res['server_cpu_s'] / secs:.2f} | "
                         f"{res['loadgen_cpu_s'] / secs:.2f} | {res.get('other_cpu_s', 0) / secs:.2f} | "
                         f"{'; '.join(extra)} |")
    return lines


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Linux {platform.release()}"


def versions(args: argparse.Namespace, servers: list[str]) -> str:
    out = []
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "crates"],
                               capture_output=True, text=True).stdout.strip()
        out.append(f"ferroflow {rev}{' + uncommitted changes' if dirty else ''} ({args.ferroflow_build} build)")
    except OSError:
        out.append("ferroflow")
    if "fasttrackml" in servers:
        v = subprocess.run([args.fml, "--version"], capture_output=True, text=True).stdout.strip()
        out.append(v.replace("fml version", "FastTrackML") or "FastTrackML")
    if "mlflow" in servers:
        v = subprocess.run([args.mlflow, "--version"], capture_output=True, text=True).stdout.strip()
        out.append(v.replace(", version", "") or "MLflow")
    return "; ".join(out)


def scaling(runner: Runner) -> list[str]:
    """Row 9: how search latency grows with the experiment's size, on each backend."""
    backends = [("SQLite", runner)]
    if getattr(runner, "postgres_pass", None) is not None:
        backends.append(("PostgreSQL", runner.postgres_pass))
    measured = [(name, r.results.get("ferroflow", {}).get("workloads", {}).get("scale")) for name, r in backends]
    measured = [(name, levels) for name, levels in measured if levels]
    if not measured:
        return []
    sizes = [level["searched_runs"] for level in measured[0][1]]
    head = ["backend"] + [f"{n:,} runs: p50 / p99 ms" for n in sizes] + [f"growth {sizes[0]:,} → {sizes[-1]:,}"]
    lines = ["## Scaling: search latency by experiment size", "",
             "Workload 4's search (a metric and a param filter, ordered by a metric, 100 results) from one client, "
             f"for {runner.s.scale_seconds:g} s at each size, on one experiment grown from one size to the next (ferroflow only):", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, levels in measured:
        cells = [f"ferroflow on {name}"] + [f"{x['p50_ms']:.2f} / {x['p99_ms']:.2f}" for x in levels]
        cells.append(f"{levels[-1]['p50_ms'] / levels[0]['p50_ms']:.1f}× for {sizes[-1] / sizes[0]:,.0f}× the runs"
                     if levels[0]["p50_ms"] else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def report(runner: Runner, servers: list[str], args: argparse.Namespace, mode: str, started: float) -> str:
    lines, verdicts = table(runner.results, servers)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    s = runner.s
    out = [
        "# ferroflow benchmark results",
        "",
        f"- date: {when}; mode: {mode}; took {(time.time() - started) / 60:.1f} min",
        f"- machine: {machine()}",
        f"- versions: {versions(args, servers)}",
        f"- produced by `{args.command}`; "
        "bench/README.md explains each workload and the fairness choices",
        "",
        *lines,
        "",
        "Ratios are how many times better ferroflow's figure is (higher throughput, or lower time, memory "
        "or size).",
        "",
        "Seeds and sizes behind the figures:",
        "",
    ]
    for kind in servers:
        w = runner.results.get(kind, {}).get("workloads", {})
        seed = w.get("seed") or {}
        r = runner.results.get(kind, {})
        out.append(f"- {LABELS[kind]}: search over {w.get('w3', {}).get('units', 'n/a')} runs; "
                   f"100-run history seed of {s.w6_runs} runs × {seed.get('points6', 0):,} points; "
                   f"history read of {s.w5_points:,} points; "
                   f"cold start median of {s.cold_starts.get(kind, 1)}; "
                   f"memory over {r.get('processes', '?')} process(es), PSS idle {r.get('idle_pss_mb', 0):.1f} MB, "
                   f"PSS peak under workload 2 {r.get('load_pss_mb', 0):.1f} MB")
    out += ["", "Per-workload detail (CPU is cores busy on average during the workload; server and load generator "
            "share the machine's cores; 'other' is the rest of the machine, which should be near 0):",
            "", *details(runner.results, servers), ""]
    sync_full = getattr(runner, "sync_full", None)
    normal = runner.results.get("ferroflow", {}).get("workloads", {})
    if sync_full:
        full = sync_full["workloads"]
        out += ["The cost of `--sync full` (an fsync of the WAL on every group commit, for power-loss safety), "
                "measured in the same run on a fresh store:", "",
                "| Workload | unit | `--sync normal` | `--sync full` | full ÷ normal | p50 ms normal → full |",
                "|---|---|---|---|---|---|"]
        for key, label, unit in (("w1", "1. log-metric, 16 connections", "req/s"),
                                 ("w2", "2. log-batch of 1000 points", "points/s"),
                                 ("w3", "3. create run + log-batch", "runs/s")):
            a, b = normal.get(key), full.get(key)
            if not a or not b:
                continue
            out.append(f"| {label} | {unit} | {a['units_per_s']:,.0f} | {b['units_per_s']:,.0f} | "
                       f"{b['units_per_s'] / a['units_per_s']:.2f} | {a['p50_ms']:.2f} → {b['p50_ms']:.2f} |")
        out.append("")
    pg = getattr(runner, "postgres_pass", None)
    if pg is not None:
        pg_servers = [k for k in servers if k in pg.results]
        pg_lines, pg_verdicts = table(pg.results, pg_servers, PG_ROWS, 30)
        verdicts += pg_verdicts
        out += ["## On PostgreSQL", "",
                f"The same workloads on fresh databases of one local PostgreSQL server "
                f"({pg.postgres_version}), ferroflow against MLflow (psycopg2), in the same run:", "",
                *pg_lines, "", *details(pg.results, pg_servers), ""]
        runner.problems += pg.problems
    out += scaling(runner)
    if runner.problems:
        out += ["Problems seen during the run:", ""] + [f"- {p}" for p in runner.problems] + [""]
    else:
        out += ["Every answer from every server was a 2xx.", ""]
    if verdicts:
        passed = sum(1 for _, ok in verdicts if ok)
        out += [f"Targets met: {passed} of {len(verdicts)}.", ""]
    return "\n".join(out)


UI_SECTION = ("<!-- ui-bench:start -->", "<!-- ui-bench:end -->")
AUTH_SECTION = ("<!-- auth-bench:start -->", "<!-- auth-bench:end -->")


def kept_section(path: Path, markers: tuple[str, str]) -> str:
    """A section another pass (bench/ui.sh, bench/run.sh --auth) wrote into the results
    file, kept when this benchmark rewrites the rest of it."""
    try:
        old = path.read_text()
    except FileNotFoundError:
        return ""
    start, end = old.find(markers[0]), old.find(markers[1])
    return "\n" + old[start:end + len(markers[1])] + "\n" if 0 <= start < end else ""


def kept_sections(path: Path) -> str:
    return kept_section(path, AUTH_SECTION) + kept_section(path, UI_SECTION)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("full", "quick", "smoke"), default="full")
    parser.add_argument("--only", action="append", choices=SERVERS, help="benchmark only this server (repeatable)")
    parser.add_argument("--workloads", nargs="*", help="subset of w1 w2 w3 w4 seed w5 w6 scale")
    parser.add_argument("--ferroflow", required=True)
    parser.add_argument("--ferroflow-build", default="release")
    parser.add_argument("--loadgen", required=True)
    parser.add_argument("--fml")
    parser.add_argument("--mlflow")
    parser.add_argument("--client-python", required=True, help="a python with mlflow installed (workload 5)")
    parser.add_argument("--mlflow-search-runs", type=int, default=10_000,
                        help="runs seeded for MLflow's search workload (full mode)")
    parser.add_argument("--mlflow-history-points", type=int, default=10_000,
                        help="points per run for MLflow's 100-run bulk-interval seed (full mode)")
    parser.add_argument("--search-runs", type=int, help="override the search seed for every server")
    parser.add_argument("--history-points", type=int, help="override the points per run of workload 6's seed")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--results", help="write the markdown table here")
    parser.add_argument("--command", default="bench/bench.py", help="the command line to quote in the results")
    parser.add_argument("--postgres-url", help="a PostgreSQL server's admin URL: also run ferroflow and MLflow on it")
    args = parser.parse_args()
    for name in ("ferroflow", "loadgen", "fml", "mlflow", "client_python"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))

    servers = [k for k in SERVERS if k in (args.only or (["ferroflow"] if args.mode == "smoke" else SERVERS))]
    settings = settings_for(args.mode, args)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    runner = Runner(args, settings, workdir)
    print(f"benchmark ({args.mode}) of {', '.join(LABELS[k] for k in servers)}; work in {workdir}", flush=True)
    runner.run(servers)
    if args.postgres_url:
        pg = Runner(args, settings, workdir / "postgres")
        pg.postgres = args.postgres_url
        pg.postgres_version = psql(args.postgres_url, "SHOW server_version")
        pg.run([k for k in servers if k in ("ferroflow", "mlflow")])
        runner.postgres_pass = pg
        (workdir / "results-postgres.json").write_text(json.dumps(pg.results, indent=2, default=str))
    (workdir / "results.json").write_text(json.dumps(runner.results, indent=2, default=str))
    text = report(runner, servers, args, args.mode, started)
    print("\n" + text)
    if args.results:
        Path(args.results).write_text(text + kept_sections(Path(args.results)))
        print(f"table written to {args.results}")
    ff_problems = [p for p in runner.problems if p.startswith("ferroflow")]
    if ff_problems:
        print("ferroflow failed: " + "; ".join(ff_problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The auth pass of the side-by-side benchmark (bench/run.sh --auth): workloads 1–4 against
ferroflow with auth off, with `--auth` and HTTP Basic, and with `--auth` and a bearer token,
and against MLflow with auth off and with its basic-auth app (HTTP Basic), in one run.

The calling user is never an admin (admins skip the permission checks in both servers): a
plain user who creates the workloads' experiments, and so MANAGEs them. The section it
writes into bench/RESULTS.md (between the auth-bench markers) states ferroflow's target:
with auth on it keeps at least 85% of its auth-off throughput on every workload.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

WORKLOADS = ("w1", "w2", "w3", "w4")
NAMES = {"w1": "1 log-metric (req/s)", "w2": "2 log-batch ×1000 (points/s)", "w3": "3 create run + log-batch (runs/s)",
         "w4": "4 search-runs (req/s)"}
TARGET = 0.85


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(url: str, method: str, path: str, body: dict, authorization: str) -> dict:
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json", "Authorization": authorization})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


def configurations(admin_password: str) -> list[tuple[str, str, tuple[str, ...], dict[str, str], str]]:
    """(label, server kind, extra args, env, credential kind)."""
    return [
        ("ferroflow, auth off", "ferroflow", (), {}, "none"),
        ("ferroflow, Basic", "ferroflow", ("--auth",), {"FERROFLOW_ADMIN_PASSWORD": admin_password}, "basic"),
        ("ferroflow, token", "ferroflow", ("--auth",), {"FERROFLOW_ADMIN_PASSWORD": admin_password}, "token"),
        ("MLflow, auth off", "mlflow", (), {}, "none"),
        ("MLflow, basic-auth", "mlflow", ("--app-name", "basic-auth"),
         {"MLFLOW_AUTH_ADMIN_PASSWORD": admin_password, "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex}, "basic"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("full", "quick", "smoke"), default="full")
    parser.add_argument("--ferroflow", required=True)
    parser.add_argument("--loadgen", required=True)
    parser.add_argument("--mlflow", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--results", help="the results file whose auth section this pass rewrites")
    parser.add_argument("--command", default="bench/run.sh --auth")
    parser.add_argument("--mlflow-search-runs", type=int, default=500,
                        help="runs MLflow creates and searches in workloads 3-4 (it makes about 40 a second)")
    args, _ = parser.parse_known_args()
    # What bench.settings_for reads.
    args.search_runs, args.history_points, args.mlflow_history_points, args.workloads = None, None, 1_000, None
    args.fml = None
    settings = bench.settings_for(args.mode if args.mode != "smoke" else "quick", args)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    runner = bench.Runner(args, settings, workdir)
    runner.bins = {"ferroflow": os.path.abspath(args.ferroflow), "mlflow": os.path.abspath(args.mlflow), "fml": None}
    admin_password = "admin-" + uuid.uuid4().hex
    results: dict[str, dict] = {}
    started = time.time()
    for label, kind, extra, env, credential in configurations(admin_password):
        print(f"\n== {label}", flush=True)
        server = bench.Server(kind, workdir / label.replace(", ", "-").replace(" ", "_"), runner.bins, extra, env=env)
        server.start()
        try:
            if credential != "none":
                user, password = "bench", uuid.uuid4().hex
                admin = basic("admin", admin_password)
                call(server.url, "POST", "/api/2.0/mlflow/users/create", {"username": user, "password": password}, admin)
                server.authorization = basic(user, password)
                if credential == "token":
                    made = call(server.url, "POST", "/api/ferroflow/v1/tokens", {"name": "bench"}, server.authorization)
                    server.authorization = "Bearer " + made["secret"]
            w: dict = {}
            runner.workloads(kind, server, {}, w, only=WORKLOADS)
            results[label] = w
        finally:
            server.stop()
    text = section(results, args, time.time() - started, runner.problems)
    print("\n" + text)
    (workdir / "auth-results.json").write_text(json.dumps(results, indent=2, default=str))
    if args.results:
        path = Path(args.results)
        old = path.read_text() if path.exists() else ""
        start, end = old.find(bench.AUTH_SECTION[0]), old.find(bench.AUTH_SECTION[1])
        if 0 <= start < end:
            new = old[:start] + text + old[end + len(bench.AUTH_SECTION[1]):]
        else:
            new = old.rstrip("\n") + "\n\n" + text + "\n"
        path.write_text(new)
        print(f"auth section written to {path}")
    return 1 if any(p.startswith("ferroflow") for p in runner.problems) else 0


def section(results: dict, args, seconds: float, problems: list[str]) -> str:
    def rate(label: str, workload: str):
        return results.get(label, {}).get(workload, {}).get("units_per_s")

    lines = [
        bench.AUTH_SECTION[0],
        "## Auth pass: workloads 1–4 with authentication on",
        "",
        f"`{args.command}` ({args.mode} mode, {seconds / 60:.1f} min, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). "
        "The caller is a plain user (not an admin) who created the experiments it writes to, so every request "
        "authenticates and checks a permission. ferroflow's target: with auth on, at least 85% of its auth-off "
        "throughput on every workload.",
        "",
        "| Workload | ferroflow off | ferroflow Basic | ferroflow token | MLflow off | MLflow basic-auth |",
        "|---|---|---|---|---|---|",
    ]
    verdicts = []
    for workload in WORKLOADS:
        off, mlflow_off = rate("ferroflow, auth off", workload), rate("MLflow, auth off", workload)
        cells = [NAMES[workload]]
        for label, base in (("ferroflow, auth off", None), ("ferroflow, Basic", off), ("ferroflow, token", off),
                            ("MLflow, auth off", None), ("MLflow, basic-auth", mlflow_off)):
            value = rate(label, workload)
            if value is None:
                cells.append("—")
            elif base:
                share = value / base
                cells.append(f"{value:,.1f} ({share:.0%})")
                if label.startswith("ferroflow"):
                    verdicts.append((f"{workload} {label.split(', ')[1]}", share >= TARGET, share))
            else:
                cells.append(f"{value:,.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    met = [v for v in verdicts if v[1]]
    lines += ["", f"ferroflow keeps ≥ 85% on {len(met)} of {len(verdicts)} (workload, credential) pairs"
              + ("" if len(met) == len(verdicts) else ": below it " + ", ".join(f"{n} {s:.0%}" for n, ok, s in verdicts if not ok))
              + "."]
    if problems:
        lines += ["", "Problems: " + "; ".join(problems)]
    lines.append(bench.AUTH_SECTION[1])
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""Differential test of searches and chart sampling: a real MLflow server and ferroflow, side by side.

Both get identical runs (metrics with NaN and infinities, params, tags, statuses, end
times, datasets, deletions); a broad set of filters and orderings then goes through the
real client against both, and the run lists must be equal, order included. Filters that
MLflow rejects must be rejected by ferroflow with the same error code.
"""

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import conftest

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MLFLOW_SERVER = ROOT / ".venv" / "mlflow3" / "bin" / "mlflow"

pytestmark = pytest.mark.skipif(
    not mlflow.__version__.startswith("3.") or not MLFLOW_SERVER.exists(),
    reason="the differential test runs once, in the mlflow 3 venv",
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url, process, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy")


def _start(command, workdir, extra_env):
    log = open(workdir / "server.log", "wb")
    env = {**os.environ, **extra_env}
    # Own process group: MLflow's server spawns workers that must die with it.
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env, start_new_session=True
    )
    return process, log


@pytest.fixture(scope="module")
def servers():
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "60"
    started = []
    urls = {}
    workdir = Path(tempfile.mkdtemp(prefix="ff-differential-"))
    # ferroflow on the suite's backend (COMPAT_BACKEND), real MLflow always on SQLite:
    # with COMPAT_BACKEND=postgres this holds ferroflow's PostgreSQL searches to MLflow's.
    (workdir / "ferroflow").mkdir()
    backend = conftest.BackendStore(workdir / "ferroflow")
    try:
        ferroflow_bin = os.environ.get("FERROFLOW_BIN", str(ROOT / "target" / "debug" / "ferroflow"))
        for name, command in [
            ("ferroflow", [ferroflow_bin, "server", "--host", "127.0.0.1", "--port", "{port}",
                           "--backend-store-uri", backend.uri, "--artifacts-destination", "{dir}/art"]),
            ("mlflow", [str(MLFLOW_SERVER), "server", "--host", "127.0.0.1", "--port", "{port}",
                        "--backend-store-uri", "sqlite:///{dir}/db.sqlite", "--artifacts-destination", "{dir}/art"]),
        ]:
            port = _free_port()
            directory = workdir / name
            directory.mkdir(exist_ok=True)
            args = [part.format(port=port, dir=directory) for part in command]
            process, log = _start(args, directory, backend.server_env if name == "ferroflow" else {})
            started.append((process, log))
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, process)
            urls[name] = url
        yield {name: MlflowClient(url) for name, url in urls.items()}
    finally:
        for process, log in started:
            # SIGTERM lets the server stop cleanly; SIGKILL then reaps any worker left over.
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            log.close()
        backend.drop()
        shutil.rmtree(workdir, ignore_errors=True)


LETTERS = ["a", "b", "ab", "A", "abc", "b%"]
VALUES = [0.0, 0.5, 1.0, -1.0, 2.5, float("nan"), float("inf"), 1.0, -float("inf")]


def _seed(client):
    experiment_id = client.create_experiment("differential")
    for i in range(36):
        run = client.create_run(experiment_id, start_time=1_000_000 + (i * 37) % 101 * 10 + i, run_name=f"run-{i:02d}")
        run_id = run.info.run_id
        metrics, params, tags = [], [], []
        if i % 3 != 0:
            metrics.append(Metric("m1", VALUES[i % len(VALUES)], 1000 + i, 0))
        if i % 4 != 1:
            metrics.append(Metric("m2", VALUES[(i * 5) % len(VALUES)], 2000 + i, i % 3))
            metrics.append(Metric("m2", 0.25, 1000, 0))
        if i % 5 != 0:
            params.append(Param("p1", LETTERS[i % len(LETTERS)]))
        if i % 2 == 0:
            params.append(Param("p2", LETTERS[(i // 2) % len(LETTERS)]))
        if i % 3 != 2:
            tags.append(RunTag("t1", LETTERS[(i * 7) % len(LETTERS)]))
        tags.append(RunTag("group", "even" if i % 2 == 0 else "odd"))
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        if i % 4 == 0:
            status = ["FINISHED", "FAILED", "KILLED"][i % 3]
            client.set_terminated(run_id, status=status, end_time=2_000_000 + (i * 11) % 31)
        if i % 6 == 1:
            from mlflow.entities import Dataset, DatasetInput, InputTag

            context = ["train", "eval"][(i // 6) % 2]
            dataset = Dataset(name=f"d{i % 3}", digest=f"x{i % 2}", source_type="local", source="{}")
            client.log_inputs(run_id, [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)])])
        if i % 10 == 9:
            client.delete_run(run_id)
    return experiment_id


@pytest.fixture(scope="module")
def experiments(servers):
    return {name: _seed(client) for name, client in servers.items()}


FILTERS = [
    "",
    "metrics.m1 > 0",
    "metrics.m1 >= 0.5",
    "metrics.m1 < 1",
    "metrics.m1 <= 1",
    "metrics.m1 = 1",
    "metrics.m1 != 1",
    "metrics.m1 != 0",
    "metrics.m2 > -1",
    "metrics.m2 = 0.25",
    "metrics.m1 > 1e300",
    "metrics.missing > 0",
    "params.p1 = 'a'",
    "params.p1 != 'a'",
    "params.p1 LIKE 'a%'",
    "params.p1 LIKE '%b%'",
    "params.p1 ILIKE 'a%'",
    "params.p1 LIKE 'b_'",
    "params.p2 IS NULL",
    "params.p2 IS NOT NULL",
    "params.`p1` = 'ab'",
    "params.\"p1\" = 'ab'",
    "tags.t1 = 'A'",
    "tags.t1 != 'A'",
    "tags.t1 ILIKE 'a'",
    "tags.group = 'even' AND metrics.m1 > 0",
    "tags.t1 IS NULL",
    "attributes.status = 'FINISHED'",
    "attributes.status != 'RUNNING'",
    "status = 'KILLED'",
    "attributes.status LIKE 'F%'",
    "attributes.run_name = 'run-07'",
    "attributes.run_name LIKE 'run-1%'",
    "run_name ILIKE 'RUN-2%'",
    "attributes.start_time > 1000500",
    "attributes.end_time < 2000020",
    "attributes.end_time > 0",
    "attributes.created >= 1000000",
    "datasets.name = 'd1'",
    "datasets.name IN ('d0', 'd2')",
    "datasets.context = 'train'",
    "datasets.digest = 'x1' AND datasets.context = 'eval'",
    "metrics.m1 > 0 AND params.p1 LIKE 'a%' AND tags.group = 'odd'",
]

ORDERS = [
    [],
    ["metrics.m1 DESC"],
    ["metrics.m1"],
    ["metrics.m2 ASC", "params.p1 DESC"],
    ["params.p1"],
    ["tags.t1 DESC"],
    ["attributes.start_time ASC"],
    ["end_time DESC"],
    ["attributes.run_name"],
    ["status", "metrics.m1 DESC"],
    ["metrics.missing DESC"],
]

VIEWS = [ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL]


def _names(client, experiment_id, filter_string, order_by, view):
    runs = client.search_runs([experiment_id], filter_string, view, max_results=1000, order_by=order_by)
    return [run.info.run_name for run in runs]


@pytest.mark.parametrize("filter_string", FILTERS)
def test_filters_match_mlflow(servers, experiments, filter_string):
    for view in VIEWS:
        expected = _names(servers["mlflow"], experiments["mlflow"], filter_string, [], view)
        got = _names(servers["ferroflow"], experiments["ferroflow"], filter_string, [], view)
        assert got == expected, (filter_string, view)


@pytest.mark.parametrize("order_by", ORDERS, ids=[",".join(o) or "default" for o in ORDERS])
def test_orderings_match_mlflow(servers, experiments, order_by):
    for filter_string in ["", "metrics.m1 > -2", "params.p1 != 'zz'"]:
        expected = _names(servers["mlflow"], experiments["mlflow"], filter_string, order_by, ViewType.ALL)
        got = _names(servers["ferroflow"], experiments["ferroflow"], filter_string, order_by, ViewType.ALL)
        assert got == expected, (filter_string, order_by)


def test_paging_matches_mlflow(servers, experiments):
    def pages(name):
        client, token, seen = servers[name], None, []
        while True:
            page = client.search_runs(
                [experiments[name]], "", ViewType.ALL, max_results=7, order_by=["metrics.m1 DESC"], page_token=token
            )
            seen.append([run.info.run_name for run in page])
            token = page.token
            if not token:
                return seen

    assert pages("ferroflow") == pages("mlflow")


REJECTED = [
    "metrics.m1 = 'a'",
    "params.p1 > 1",
    "params.p1 = 'a' OR params.p1 = 'b'",
    "attributes.foo = 'x'",
    "metrics.m1 >",
    "tags.t1 = 'a' AND",
    "params.p1 IN ('a', 'b')",
    "attributes.start_time = 'abc'",
    "unknown.key = 1",
]


@pytest.mark.parametrize("filter_string", REJECTED)
def test_rejections_match_mlflow(servers, experiments, filter_string):
    codes = {}
    for name, client in servers.items():
        try:
            client.search_runs([experiments[name]], filter_string)
            codes[name] = None
        except MlflowException as error:
            codes[name] = error.error_code
    if codes["mlflow"] is None:
        # MLflow accepts it, so it must mean the same thing here: covered by equality.
        assert _names(servers["ferroflow"], experiments["ferroflow"], filter_string, [], ViewType.ALL) == _names(
            servers["mlflow"], experiments["mlflow"], filter_string, [], ViewType.ALL
        )
    elif filter_string in ("params.p1 = 'a' OR params.p1 = 'b'", "params.p1 IN ('a', 'b')"):
        # ferroflow's documented extensions: MLflow rejects these, ferroflow answers them.
        assert codes["ferroflow"] is None
    else:
        assert codes["ferroflow"] == codes["mlflow"], filter_string


@pytest.mark.parametrize("order_by", [["metrics.m1 DESC"], ["metrics.m2"], ["metrics.missing DESC"]])
def test_small_pages_of_metric_ordered_searches_match_mlflow(servers, experiments, order_by):
    # Pages of 4 end inside, and at the edges of, the numbers / NaN / missing segments.
    walked = {}
    for name, client in servers.items():
        names, token = [], None
        while True:
            page = client.search_runs([experiments[name]], "", ViewType.ALL, max_results=4, order_by=order_by,
                                      page_token=token)
            names += [run.info.run_name for run in page]
            token = page.token
            if not token:
                break
        walked[name] = names
    assert walked["ferroflow"] == walked["mlflow"]
    assert len(walked["ferroflow"]) == 36


# ------------------------------------------------------------------ sampled chart reads


def _chart_series():
    """Series of every shape the sampler treats differently, as log_batch calls."""
    dense = [[Metric("y", float(s), 10_000 + s, s) for s in range(b * 250, (b + 1) * 250)] for b in range(4)]
    return {
        "dense": dense,
        "strided": [[Metric("y", float(i % 7), 5_000 + i, 5 + i * 10) for i in range(300)]],
        "repeats": [[Metric("y", float(i), 5_000 + i, i // 3) for i in range(400)]],
        "reversed": [[Metric("y", float(s), 5_000 + s, s) for s in range(b * 100, (b + 1) * 100)] for b in (2, 1, 0)],
        "nan": [[Metric("y", float("nan") if s % 4 == 0 else float(s), 5_000 + s, s) for s in range(150)]],
        "single": [[Metric("y", 1.5, 5_007, 42)]],
        "gap": [[Metric("y", 0.5, 5_000 + s, s) for s in range(50)],
                [Metric("y", 0.5, 5_000 + s, s) for s in range(60, 120)]],
    }


@pytest.fixture(scope="module")
def chart_runs(servers):
    ids = {}
    for name, client in servers.items():
        experiment_id = client.create_experiment("charts")
        ids[name] = {}
        for series, batches in _chart_series().items():
            run_id = client.create_run(experiment_id, run_name=series).info.run_id
            for batch in batches:
                client.log_batch(run_id, metrics=batch)
            ids[name][series] = run_id
    return ids


def _bulk_interval(client, run_ids, max_results, steps):
    query = [("run_ids", run_id) for run_id in run_ids] + [("metric_key", "y"), ("max_results", str(max_results))]
    if steps:
        query += [("start_step", str(steps[0])), ("end_step", str(steps[1]))]
    url = f"{client.tracking_uri}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?" + urllib.parse.urlencode(query)
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read()).get("metrics", [])


@pytest.mark.parametrize("max_results", [1, 7, 50, 320])
@pytest.mark.parametrize("steps", [None, (10, 99), (0, 1_000_000)])
def test_chart_sampling_matches_mlflow(servers, chart_runs, max_results, steps):
    sampled = {}
    for name, client in servers.items():
        run_ids = chart_runs[name]
        by_run = {run_id: series for series, run_id in run_ids.items()}
        points = {}
        for metric in _bulk_interval(client, list(run_ids.values()), max_results, steps):
            value = metric["value"]
            value = "nan" if isinstance(value, str) or (isinstance(value, float) and math.isnan(value)) else value
            points.setdefault(by_run[metric["run_id"]], []).append((metric["step"], metric["timestamp"], value))
        sampled[name] = {series: sorted(p) for series, p in points.items()}
    # Every series has points in every range asked for here, so none may be missing.
    assert set(sampled["ferroflow"]) == set(_chart_series())
    assert sampled["ferroflow"] == sampled["mlflow"]

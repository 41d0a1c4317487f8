"""Metric values come back bit-exact through the real client (issue 10, item 1).

Runs against ferroflow and, as every module here, against a real MLflow server
(``COMPAT_SERVER=mlflow``), which alters none of these values either.
"""

import json
import math
import random
import struct
import time

import requests
import mlflow
import pytest
from mlflow.entities import Metric

from conftest import COMPAT_SERVER

pytestmark = pytest.mark.usefixtures("compat_env")


def random_finite_doubles(count, seed):
    """Doubles drawn from all bit patterns, plus subnormals and the extremes."""
    rng = random.Random(seed)
    values = [5e-324, -5e-324, 2.2250738585072009e-308, 2.2250738585072014e-308,
              1.7976931348623157e308, -1.7976931348623157e308, 1.1400000000000001,
              941300.4193968255, 0.1 + 0.2]
    while len(values) < count:
        value = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        # -0.0 reads back as 0.0 (test_negative_zero_reads_back_as_zero).
        if math.isfinite(value) and not (value == 0.0 and math.copysign(1.0, value) < 0):
            values.append(value)
    return values


def bits(value):
    return struct.pack("<d", value)


def test_log_batch_values_are_bit_exact(client, experiment_id):
    values = random_finite_doubles(1000, seed=10)
    timestamp = int(time.time() * 1000)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        for start in range(0, len(values), 500):
            metrics = [Metric(f"m{i}", values[i], timestamp, 0) for i in range(start, min(start + 500, len(values)))]
            client.log_batch(run.info.run_id, metrics=metrics)
        mlflow.log_metric("single", values[3], step=1)
    latest = client.get_run(run.info.run_id).data.metrics
    altered = [i for i, value in enumerate(values) if bits(latest[f"m{i}"]) != bits(value)]
    assert altered == [], f"{len(altered)} of {len(values)} values changed, e.g. {values[altered[0]]!r}"
    history = client.get_metric_history(run.info.run_id, "m7")
    assert bits(history[0].value) == bits(values[7])
    assert bits(client.get_metric_history(run.info.run_id, "single")[0].value) == bits(values[3])


def test_negative_zero_reads_back_as_zero(client, experiment_id):
    """MLflow's SQLite store loses the sign of -0.0; ferroflow reads 0.0 back on every
    backend (PostgreSQL's double precision would otherwise keep the sign)."""
    with mlflow.start_run(experiment_id=experiment_id) as run:
        client.log_batch(run.info.run_id, metrics=[Metric("z", -0.0, 1, 0), Metric("z", -0.0, 2, 1)])
    latest = client.get_run(run.info.run_id).data.metrics["z"]
    assert bits(latest) == bits(0.0)
    assert [bits(m.value) for m in client.get_metric_history(run.info.run_id, "z")] == [bits(0.0)] * 2


def test_python_json_bare_non_finite_literals_in_metric_values(client, experiment_id, base_url):
    """``json.dumps`` (and older ``requests`` with ``json=``) writes NaN and infinities as
    the bare literals ``NaN`` and ``Infinity``."""
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    api = f"{base_url}/api/2.0/mlflow"

    def post(rpc, body):
        return requests.post(f"{api}/{rpc}", data=json.dumps(body), headers={"Content-Type": "application/json"})

    response = post("runs/log-metric", {"run_id": run_id, "key": "nan", "value": float("nan"), "timestamp": 1, "step": 0})
    assert response.status_code == 200, response.text
    response = post(
        "runs/log-batch",
        {"run_id": run_id, "metrics": [{"key": "inf", "value": float("inf"), "timestamp": 1, "step": 0}]},
    )
    assert response.status_code == 200, response.text
    metrics = client.get_run(run_id).data.metrics
    assert set(metrics) == {"nan", "inf"}
    if COMPAT_SERVER == "ferroflow":
        # Read as the values they name; MLflow itself stores 0.0 for both.
        assert math.isnan(metrics["nan"])
        assert metrics["inf"] == 1.7976931348623157e308
    # Anywhere else a bare literal is still malformed JSON: a 400, never a 5xx.
    response = post("runs/log-parameter", {"run_id": run_id, "key": "p", "value": float("nan")})
    assert 400 <= response.status_code < 500, response.text

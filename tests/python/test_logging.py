"""Params, metrics, tags and log_batch: what is stored and what comes back."""

import math
import os
import time

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag

pytestmark = pytest.mark.usefixtures("compat_env")

# MLflow's SQL store clamps +/-inf to +/- sys.float_info.max
DOUBLE_MAX = 1.7976931348623157e308


def now_ms():
    return int(time.time() * 1000)


def user_tags(tags):
    return {k: v for k, v in tags.items() if not k.startswith("mlflow.")}


def test_log_param_and_params(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_param("layers", 3)
        mlflow.log_params({"opt": "adam", "flag": True, "none": None, "unicode": "héllo ✓"})
        mlflow.log_param("lr", 0.01)  # same value again is fine
    params = client.get_run(run.info.run_id).data.params
    # values are stringified client side
    assert params == {
        "lr": "0.01",
        "layers": "3",
        "opt": "adam",
        "flag": "True",
        "none": "None",
        "unicode": "héllo ✓",
    }


def test_param_key_charset(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_param("a/b.c-d_e f:g", "1")
    assert client.get_run(run.info.run_id).data.params == {"a/b.c-d_e f:g": "1"}


def test_log_metric_steps_and_timestamps(client, experiment_id):
    t0 = 1_700_000_000_000
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 1.0, step=0, timestamp=t0)
        mlflow.log_metric("loss", 0.5, step=1, timestamp=t0 + 10)
        mlflow.log_metric("loss", 0.25, step=2, timestamp=t0 + 20)
        mlflow.log_metric("acc", 0.9)  # default step 0, timestamp now
        mlflow.log_metrics({"a": 1, "b": -2.5}, step=7)
    run_id = run.info.run_id
    data = client.get_run(run_id).data
    assert data.metrics == {"loss": 0.25, "acc": 0.9, "a": 1.0, "b": -2.5}

    hist = client.get_metric_history(run_id, "loss")
    assert [(m.key, m.value, m.step, m.timestamp) for m in hist] == [
        ("loss", 1.0, 0, t0),
        ("loss", 0.5, 1, t0 + 10),
        ("loss", 0.25, 2, t0 + 20),
    ]
    acc = client.get_metric_history(run_id, "acc")
    assert len(acc) == 1 and acc[0].step == 0
    assert abs(acc[0].timestamp - now_ms()) < 120_000
    b = client.get_metric_history(run_id, "b")
    assert [(m.value, m.step) for m in b] == [(-2.5, 7)]
    assert client.get_metric_history(run_id, "never-logged") == []


def test_latest_metric_is_max_step_then_timestamp(client, experiment_id):
    run = client.create_run(experiment_id)
    rid = run.info.run_id
    # a later step wins over a later timestamp
    client.log_metric(rid, "m", 1.0, timestamp=2000, step=5)
    client.log_metric(rid, "m", 2.0, timestamp=9000, step=2)
    assert client.get_run(rid).data.metrics["m"] == 1.0
    # same step: later timestamp wins
    client.log_metric(rid, "m", 3.0, timestamp=3000, step=5)
    assert client.get_run(rid).data.metrics["m"] == 3.0
    # same step and timestamp: larger value wins
    client.log_metric(rid, "m", 2.5, timestamp=3000, step=5)
    assert client.get_run(rid).data.metrics["m"] == 3.0
    client.log_metric(rid, "m", 4.0, timestamp=3000, step=5)
    assert client.get_run(rid).data.metrics["m"] == 4.0
    # all points are in the history, ordered by (timestamp, step, value)
    hist = client.get_metric_history(rid, "m")
    assert [(m.timestamp, m.step, m.value) for m in hist] == [
        (2000, 5, 1.0),
        (3000, 5, 2.5),
        (3000, 5, 3.0),
        (3000, 5, 4.0),
        (9000, 2, 2.0),
    ]


def test_negative_step_and_zero_value(client, experiment_id):
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "neg", 0.0, timestamp=5, step=-3)
    hist = client.get_metric_history(run.info.run_id, "neg")
    assert [(m.value, m.step, m.timestamp) for m in hist] == [(0.0, -3, 5)]


def test_nan_and_inf_metrics(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_metric("nan", float("nan"))
        mlflow.log_metric("pinf", float("inf"))
        mlflow.log_metric("ninf", float("-inf"))
        mlflow.log_metric("big", 1e300)
        mlflow.log_metric("tiny", 5e-324)
    metrics = client.get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == DOUBLE_MAX
    assert metrics["ninf"] == -DOUBLE_MAX
    assert metrics["big"] == 1e300
    assert metrics["tiny"] == 5e-324
    hist = client.get_metric_history(run.info.run_id, "nan")
    assert len(hist) == 1 and math.isnan(hist[0].value)
    assert [m.value for m in client.get_metric_history(run.info.run_id, "pinf")] == [DOUBLE_MAX]


def test_set_tags(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.set_tag("t1", "v1")
        mlflow.set_tags({"t2": 2, "t3": "three"})
        mlflow.set_tag("t1", "v1-updated")  # tags are mutable
        mlflow.set_tag("empty", "")
    tags = client.get_run(run.info.run_id).data.tags
    assert user_tags(tags) == {"t1": "v1-updated", "t2": "2", "t3": "three", "empty": ""}


def test_delete_tag(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.set_tags({"keep": "1", "drop": "2"})
        mlflow.delete_tag("drop")
    assert user_tags(client.get_run(run.info.run_id).data.tags) == {"keep": "1"}
    client.delete_tag(run.info.run_id, "keep")
    assert user_tags(client.get_run(run.info.run_id).data.tags) == {}


def test_long_values_are_truncated(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_param("long_param", "p" * 7000)
        mlflow.set_tag("long_tag", "t" * 9000)
    data = client.get_run(run.info.run_id).data
    assert data.params["long_param"] == "p" * 6000
    assert data.tags["long_tag"] == "t" * 8000

    # the same via MlflowClient (single calls and log_batch)
    other = client.create_run(experiment_id)
    client.log_param(other.info.run_id, "lp", "x" * 6001)
    client.set_tag(other.info.run_id, "lt", "y" * 8001)
    client.log_batch(other.info.run_id, params=[Param("bp", "z" * 7000)], tags=[RunTag("bt", "w" * 9000)])
    data = client.get_run(other.info.run_id).data
    assert data.params["lp"] == "x" * 6000
    assert data.params["bp"] == "z" * 6000
    assert data.tags["lt"] == "y" * 8000
    assert data.tags["bt"] == "w" * 8000
    # exactly at the limit: untouched
    client.log_param(other.info.run_id, "exact", "e" * 6000)
    assert client.get_run(other.info.run_id).data.params["exact"] == "e" * 6000


def test_log_batch_entities(client, experiment_id):
    run = client.create_run(experiment_id)
    rid = run.info.run_id
    ts = 1_700_000_000_000
    client.log_batch(
        rid,
        metrics=[Metric("m1", 1.5, ts, 0), Metric("m1", 2.5, ts + 1, 1), Metric("m2", -1.0, ts, 3)],
        params=[Param("p1", "a"), Param("p2", "b")],
        tags=[RunTag("t1", "x"), RunTag("t2", "y")],
    )
    data = client.get_run(rid).data
    assert data.metrics == {"m1": 2.5, "m2": -1.0}
    assert data.params == {"p1": "a", "p2": "b"}
    assert user_tags(data.tags) == {"t1": "x", "t2": "y"}
    assert [(m.value, m.step, m.timestamp) for m in client.get_metric_history(rid, "m1")] == [
        (1.5, 0, ts),
        (2.5, 1, ts + 1),
    ]
    # an empty batch is a no-op
    client.log_batch(rid)
    assert client.get_run(rid).data.params == {"p1": "a", "p2": "b"}
    # identical metric rows again are accepted (deduplicated by the store)
    client.log_batch(rid, metrics=[Metric("m1", 1.5, ts, 0)])
    assert len(client.get_metric_history(rid, "m1")) == 2
    # same param value again: accepted
    client.log_batch(rid, params=[Param("p1", "a")])


def test_log_batch_large_metric_history(client, experiment_id):
    run = client.create_run(experiment_id)
    rid = run.info.run_id
    n = 3000
    ts0 = 1_600_000_000_000
    points = [Metric("series", float(i) * 0.5, ts0 + i, i) for i in range(n)]
    for start in range(0, n, 1000):
        client.log_batch(rid, metrics=points[start : start + 1000])
    hist = client.get_metric_history(rid, "series")
    assert len(hist) == n
    assert [m.step for m in hist] == list(range(n))
    assert [m.value for m in hist] == [i * 0.5 for i in range(n)]
    assert [m.timestamp for m in hist] == [ts0 + i for i in range(n)]
    assert client.get_run(rid).data.metrics["series"] == (n - 1) * 0.5


def test_fluent_log_metrics_many_keys(client, experiment_id):
    # the client splits this into several log-batch requests (limit 1000 metrics)
    metrics = {f"k{i:04d}": float(i) for i in range(1500)}
    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics, step=1)
        mlflow.log_params({f"p{i:03d}": str(i) for i in range(150)})
    data = client.get_run(run.info.run_id).data
    assert data.metrics == metrics
    assert len(data.params) == 150 and data.params["p149"] == "149"


def test_get_run_shape(client, experiment_id):
    with mlflow.start_run(run_name="shape") as run:
        mlflow.log_param("p", "1")
        mlflow.log_metric("m", 2.0)
        mlflow.set_tag("t", "3")
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.run_id == run.info.run_id
    assert fetched.data.params == {"p": "1"}
    assert fetched.data.metrics == {"m": 2.0}
    assert fetched.data.tags["t"] == "3"
    assert fetched.inputs is not None
    assert fetched.inputs.dataset_inputs == []
    # fluent get_run is the same
    assert mlflow.get_run(run.info.run_id).data.params == {"p": "1"}


def test_artifact_roundtrip(client, experiment_id, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("hello")
    (src / "sub" / "b.json").write_text('{"x": 1}')
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(src / "a.txt"))
        mlflow.log_artifacts(str(src), artifact_path="tree")
    rid = run.info.run_id
    top = {(f.path, f.is_dir) for f in client.list_artifacts(rid)}
    assert top == {("a.txt", False), ("tree", True)}
    tree = {(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(rid, "tree")}
    assert tree == {("tree/a.txt", False, 5), ("tree/sub", True, None)}
    (tmp_path / "out").mkdir()
    out = client.download_artifacts(rid, "tree", str(tmp_path / "out"))
    assert open(os.path.join(out, "sub", "b.json")).read() == '{"x": 1}'
    assert open(os.path.join(out, "a.txt")).read() == "hello"


def test_large_artifact_with_proxy_multipart_enabled(client, experiment_id, tmp_path, monkeypatch):
    # Client-side opt-in; a server without multipart support answers mpu/create with an
    # error and the client falls back to a single PUT. Either way the bytes must round-trip.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(64 * 1024))
    payload = os.urandom(3 * 64 * 1024 + 123)
    f = tmp_path / "big.bin"
    f.write_bytes(payload)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(f), artifact_path="blobs")
    listed = client.list_artifacts(run.info.run_id, "blobs")
    assert [(x.path, x.file_size) for x in listed] == [("blobs/big.bin", len(payload))]
    (tmp_path / "dl").mkdir()
    out = client.download_artifacts(run.info.run_id, "blobs/big.bin", str(tmp_path / "dl"))
    assert open(out, "rb").read() == payload

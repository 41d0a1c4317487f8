"""Error cases through the real client: MlflowException.error_code must match MLflow."""

import time

import mlflow
import pytest
import requests
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

pytestmark = pytest.mark.usefixtures("compat_env")

MISSING_RUN = "0123456789abcdef0123456789abcdef"


def raises_code(code, fn, *args, **kwargs):
    with pytest.raises(MlflowException) as exc:
        fn(*args, **kwargs)
    assert exc.value.error_code == code, exc.value.message
    return exc.value


def now_ms():
    return int(time.time() * 1000)


def test_changing_param_value(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_param("p", "first")
        err = raises_code("INVALID_PARAMETER_VALUE", mlflow.log_param, "p", "second")
        assert "Changing param values is not allowed" in err.message
    assert client.get_run(run.info.run_id).data.params == {"p": "first"}
    raises_code("INVALID_PARAMETER_VALUE", client.log_param, run.info.run_id, "p", "third")
    raises_code("INVALID_PARAMETER_VALUE", client.log_batch, run.info.run_id, params=[Param("p", "fourth")])
    assert client.get_run(run.info.run_id).data.params == {"p": "first"}


def test_invalid_metric_key(client, experiment_id):
    run = client.create_run(experiment_id)
    raises_code("INVALID_PARAMETER_VALUE", client.log_metric, run.info.run_id, "bad*name", 1.0)
    with mlflow.start_run(run_id=run.info.run_id):
        raises_code("INVALID_PARAMETER_VALUE", mlflow.log_metric, "bad*name", 1.0)
    raises_code("INVALID_PARAMETER_VALUE", client.log_param, run.info.run_id, "bad*param", "1")
    raises_code("INVALID_PARAMETER_VALUE", client.set_tag, run.info.run_id, "bad*tag", "1")
    assert client.get_run(run.info.run_id).data.metrics == {}


def test_get_run_missing(client):
    err = raises_code("RESOURCE_DOES_NOT_EXIST", client.get_run, MISSING_RUN)
    assert MISSING_RUN in err.message
    raises_code("RESOURCE_DOES_NOT_EXIST", mlflow.get_run, MISSING_RUN)


def test_get_experiment_missing(client):
    raises_code("RESOURCE_DOES_NOT_EXIST", client.get_experiment, "987654321")


def test_create_duplicate_experiment(client, unique_name):
    name = unique_name("dup")
    client.create_experiment(name)
    raises_code("RESOURCE_ALREADY_EXISTS", client.create_experiment, name)
    raises_code("RESOURCE_ALREADY_EXISTS", mlflow.create_experiment, name)


def test_log_to_deleted_run(client, experiment_id):
    run = client.create_run(experiment_id)
    client.delete_run(run.info.run_id)
    err = raises_code("INVALID_PARAMETER_VALUE", client.log_metric, run.info.run_id, "m", 1.0)
    assert "active" in err.message
    raises_code("INVALID_PARAMETER_VALUE", client.set_tag, run.info.run_id, "t", "v")


def test_create_run_in_deleted_experiment(client, unique_name):
    exp_id = client.create_experiment(unique_name("deadexp"))
    client.delete_experiment(exp_id)
    err = raises_code("INVALID_PARAMETER_VALUE", client.create_run, exp_id)
    assert "active" in err.message


def test_create_run_in_missing_experiment(client):
    raises_code("RESOURCE_DOES_NOT_EXIST", client.create_run, "987654321")


def test_delete_missing_tag(client, experiment_id):
    run = client.create_run(experiment_id)
    raises_code("RESOURCE_DOES_NOT_EXIST", client.delete_tag, run.info.run_id, "never-set")


def test_operations_on_missing_run(client):
    raises_code("RESOURCE_DOES_NOT_EXIST", client.delete_run, MISSING_RUN)
    raises_code("RESOURCE_DOES_NOT_EXIST", client.log_param, MISSING_RUN, "p", "v")
    raises_code("RESOURCE_DOES_NOT_EXIST", client.set_tag, MISSING_RUN, "t", "v")


def test_delete_missing_experiment(client):
    raises_code("RESOURCE_DOES_NOT_EXIST", client.delete_experiment, "987654321")


def test_log_batch_over_limit_raw(client, experiment_id, base_url):
    run = client.create_run(experiment_id)
    metrics = [{"key": f"k{i}", "value": float(i), "timestamp": now_ms(), "step": 0} for i in range(1001)]
    resp = requests.post(
        f"{base_url}/api/2.0/mlflow/runs/log-batch",
        json={"run_id": run.info.run_id, "metrics": metrics},
        timeout=30,
    )
    assert resp.status_code == 400
    body = resp.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "1000" in body["message"]
    assert client.get_run(run.info.run_id).data.metrics == {}

    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    resp = requests.post(
        f"{base_url}/api/2.0/mlflow/runs/log-batch",
        json={"run_id": run.info.run_id, "params": params},
        timeout=30,
    )
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run.info.run_id).data.params == {}

    # exactly 1000 metrics is fine
    resp = requests.post(
        f"{base_url}/api/2.0/mlflow/runs/log-batch",
        json={"run_id": run.info.run_id, "metrics": metrics[:1000]},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert len(client.get_run(run.info.run_id).data.metrics) == 1000


def test_log_batch_is_atomic_on_invalid_metric(client, experiment_id):
    run = client.create_run(experiment_id)
    rid = run.info.run_id
    before = client.get_run(rid).data
    raises_code(
        "INVALID_PARAMETER_VALUE",
        client.log_batch,
        rid,
        metrics=[Metric("good", 1.0, now_ms(), 0), Metric("bad*key", 2.0, now_ms(), 0)],
        params=[Param("newp", "v")],
        tags=[RunTag("newt", "v")],
    )
    after = client.get_run(rid).data
    assert after.metrics == before.metrics == {}
    assert after.params == before.params == {}
    assert after.tags == before.tags
    assert client.get_metric_history(rid, "good") == []


def test_log_batch_is_atomic_on_param_conflict(client, experiment_id):
    run = client.create_run(experiment_id)
    rid = run.info.run_id
    client.log_param(rid, "fixed", "1")
    raises_code(
        "INVALID_PARAMETER_VALUE",
        client.log_batch,
        rid,
        metrics=[Metric("m", 1.0, now_ms(), 0)],
        params=[Param("other", "x"), Param("fixed", "2")],
        tags=[RunTag("t", "v")],
    )
    data = client.get_run(rid).data
    assert data.metrics == {}
    assert data.params == {"fixed": "1"}
    assert "t" not in data.tags


def test_log_batch_duplicate_param_keys(client, experiment_id, base_url):
    run = client.create_run(experiment_id)
    resp = requests.post(
        f"{base_url}/api/2.0/mlflow/runs/log-batch",
        json={"run_id": run.info.run_id, "params": [{"key": "d", "value": "1"}, {"key": "d", "value": "2"}]},
        timeout=30,
    )
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run.info.run_id).data.params == {}


def test_invalid_experiment_tag_and_name(client, unique_name):
    raises_code("INVALID_PARAMETER_VALUE", client.create_experiment, "")
    exp_id = client.create_experiment(unique_name("exptag"))
    raises_code("INVALID_PARAMETER_VALUE", client.set_experiment_tag, exp_id, "k", "v" * 20001)


def test_rename_deleted_experiment(client, unique_name, base_url):
    old = unique_name("rn")
    exp_id = client.create_experiment(old)
    client.delete_experiment(exp_id)
    # MLflow answers HTTP 500 INVALID_STATE here; with retries disabled the client
    # surfaces it as a failed request (error_code INTERNAL_ERROR, "too many 500 error responses").
    with pytest.raises(MlflowException):
        client.rename_experiment(exp_id, unique_name("rn2"))
    resp = requests.post(
        f"{base_url}/api/2.0/mlflow/experiments/update",
        json={"experiment_id": exp_id, "new_name": unique_name("rn3")},
        timeout=30,
    )
    assert resp.status_code == 500
    body = resp.json()
    assert body["error_code"] == "INVALID_STATE"
    assert "non-active" in body["message"]
    assert client.get_experiment(exp_id).name == old

"""MLflow compatibility, last mile (issue 11): the web UI's older reads, MLflow's field
types and messages, artifact locations and logged-model lineage.

Every test passes against ferroflow and against a real MLflow server
(``COMPAT_SERVER=mlflow``). Where MLflow answers 500 to a user's mistake, ferroflow
keeps a 4xx (README, "Differences from MLflow"); those tests check the 4xx against
ferroflow only and that MLflow indeed fails.
"""

import json
import math
import time
import uuid

import mlflow
import pytest
import requests
from mlflow.entities import Metric

from conftest import COMPAT_SERVER, IS_MLFLOW3

pytestmark = pytest.mark.usefixtures("compat_env")

HINT = " See the API docs for more information about request parameters."


def post(base_url, path, body, prefix="/api/2.0/mlflow"):
    return requests.post(f"{base_url}{prefix}/{path}", json=body, timeout=30)


def bulk(base_url, params, prefix="/ajax-api/2.0/mlflow"):
    return requests.get(f"{base_url}{prefix}/metrics/get-history-bulk", params=params, timeout=30)


def error(response, status=400, code="INVALID_PARAMETER_VALUE"):
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["error_code"] == code, body
    return body["message"]


def new_run(client, experiment_id, name="r"):
    return client.create_run(experiment_id, run_name=name).info.run_id


# ---------------------------------------------------------------- get-history-bulk


def test_history_bulk_orders_by_run_then_time_step_value(client, experiment_id, base_url):
    runs = sorted(new_run(client, experiment_id, f"b{i}") for i in range(2))
    ts = int(time.time() * 1000)
    # Logged out of order; timestamps tie across steps so step and value decide.
    client.log_batch(runs[1], metrics=[Metric("loss", 3.0, ts + 5, 0), Metric("loss", 1.0, ts, 2),
                                       Metric("loss", 2.0, ts, 1), Metric("other", 9.0, ts, 0)])
    client.log_batch(runs[0], metrics=[Metric("loss", 0.5, ts, 0), Metric("loss", 0.25, ts, 0)])
    response = bulk(base_url, [("run_id", runs[1]), ("run_id", runs[0]), ("run_id", runs[1]),
                               ("run_id", uuid.uuid4().hex), ("metric_key", "loss")])
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    metrics = response.json()["metrics"]
    got = [(m["run_id"], m["timestamp"], m["step"], m["value"]) for m in metrics]
    assert got == [
        (runs[0], ts, 0, 0.25), (runs[0], ts, 0, 0.5),
        (runs[1], ts, 1, 2.0), (runs[1], ts, 2, 1.0), (runs[1], ts + 5, 0, 3.0),
    ]
    assert set(metrics[0]) == {"key", "value", "timestamp", "step", "run_id"}
    assert all(m["key"] == "loss" for m in metrics)


def test_history_bulk_max_results_caps_the_whole_answer(client, experiment_id, base_url):
    runs = sorted(new_run(client, experiment_id, f"c{i}") for i in range(2))
    for run_id in runs:
        client.log_batch(run_id, metrics=[Metric("m", float(i), 1000 + i, i) for i in range(3)])
    both = [("run_id", runs[0]), ("run_id", runs[1]), ("metric_key", "m")]
    capped = bulk(base_url, both + [("max_results", "4")]).json()["metrics"]
    assert [(m["run_id"], m["step"]) for m in capped] == [(runs[0], 0), (runs[0], 1), (runs[0], 2), (runs[1], 0)]
    assert bulk(base_url, both + [("max_results", "0")]).json() == {"metrics": []}
    # A negative max_results is SQL's LIMIT -n (everything) then Python's [:-n].
    trimmed = bulk(base_url, both + [("max_results", "-2")]).json()["metrics"]
    assert len(trimmed) == 4 and trimmed[-1]["run_id"] == runs[1] and trimmed[-1]["step"] == 0
    # No points for an unknown key: an empty list, not an omitted one.
    assert bulk(base_url, [("run_id", runs[0]), ("metric_key", "nope")]).json() == {"metrics": []}


def test_history_bulk_nan_is_written_as_python_writes_it(client, experiment_id, base_url):
    run_id = new_run(client, experiment_id)
    client.log_batch(run_id, metrics=[Metric("n", math.nan, 5, 0), Metric("n", math.inf, 6, 0)])
    response = bulk(base_url, [("run_id", run_id), ("metric_key", "n")])
    assert response.status_code == 200, response.text
    assert "NaN" in response.text
    values = [m["value"] for m in response.json()["metrics"]]  # requests reads bare NaN
    assert math.isnan(values[0])
    assert values[1] == 1.7976931348623157e308  # infinity is stored as the largest double


def test_history_bulk_validation(client, experiment_id, base_url):
    run_id = new_run(client, experiment_id)
    assert error(bulk(base_url, {"metric_key": "m"})) == (
        "GetMetricHistoryBulk request must specify at least one run_id.")
    assert error(bulk(base_url, {"run_id": run_id})) == "GetMetricHistoryBulk request must specify a metric_key."
    many = [("run_id", uuid.uuid4().hex) for _ in range(101)] + [("metric_key", "m")]
    assert error(bulk(base_url, many)) == (
        "GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 101 run_ids.")
    # Served under /ajax-api only, for GET only.
    assert bulk(base_url, {"run_id": run_id, "metric_key": "m"}, prefix="/api/2.0/mlflow").status_code == 404
    response = requests.post(f"{base_url}/ajax-api/2.0/mlflow/metrics/get-history-bulk",
                             params={"run_id": run_id, "metric_key": "m"}, timeout=30)
    assert response.status_code == 405


def test_history_bulk_non_integer_max_results(client, experiment_id, base_url):
    run_id = new_run(client, experiment_id)
    response = bulk(base_url, {"run_id": run_id, "metric_key": "m", "max_results": "ten"})
    if COMPAT_SERVER == "mlflow":
        assert response.status_code == 500  # MLflow's int() raises; ferroflow keeps a 400
    else:
        assert error(response) == "Parameter 'max_results' must be an integer, got 'ten'."


# ---------------------------------------------------------------- search-datasets


def log_dataset(client, run_id, name, digest, context=None):
    from mlflow.entities import Dataset, DatasetInput, InputTag

    tags = [InputTag("mlflow.data.context", context)] if context is not None else []
    dataset = Dataset(name=name, digest=digest, source_type="local", source="{}")
    client.log_inputs(run_id, datasets=[DatasetInput(dataset, tags)])


def search_datasets(base_url, body):
    return post(base_url, "experiments/search-datasets", body, prefix="/ajax-api/2.0/mlflow")


def test_search_datasets_lists_distinct_dataset_contexts(client, experiment_id, base_url):
    other = client.create_experiment(f"sd-other-{uuid.uuid4().hex[:8]}")
    first, second, third = (new_run(client, experiment_id, f"d{i}") for i in range(3))
    log_dataset(client, first, "train", "d1", "training")
    log_dataset(client, second, "train", "d1", "training")  # the same pair again: listed once
    log_dataset(client, second, "eval", "d2", "eval")
    log_dataset(client, third, "raw", "d3")  # no context tag: no context field
    log_dataset(client, new_run(client, other), "elsewhere", "d4", "training")

    response = search_datasets(base_url, {"experiment_ids": [experiment_id]})
    assert response.status_code == 200, response.text
    summaries = response.json()["dataset_summaries"]
    key = lambda s: (s["name"], s["digest"])  # noqa: E731
    assert sorted(summaries, key=key) == [
        {"experiment_id": experiment_id, "name": "eval", "digest": "d2", "context": "eval"},
        {"experiment_id": experiment_id, "name": "raw", "digest": "d3"},
        {"experiment_id": experiment_id, "name": "train", "digest": "d1", "context": "training"},
    ]
    both = search_datasets(base_url, {"experiment_ids": [experiment_id, other]}).json()["dataset_summaries"]
    assert {s["experiment_id"] for s in both} == {experiment_id, other} and len(both) == 4
    # An experiment without datasets: an empty message.
    empty = client.create_experiment(f"sd-empty-{uuid.uuid4().hex[:8]}")
    assert search_datasets(base_url, {"experiment_ids": [empty]}).json() == {}


def test_search_datasets_validation(base_url):
    assert error(search_datasets(base_url, {})) == "SearchDatasets request must specify at least one experiment_id."
    assert error(search_datasets(base_url, {"experiment_ids": [str(i) for i in range(21)]})) == (
        "SearchDatasets request cannot specify more than 20 experiment_ids. Received 21 experiment_ids.")
    assert error(search_datasets(base_url, {"experiment_ids": ["abc"]})) == (
        "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.")
    response = requests.get(f"{base_url}/ajax-api/2.0/mlflow/experiments/search-datasets", timeout=30)
    assert response.status_code == 405
    assert post(base_url, "experiments/search-datasets", {"experiment_ids": ["0"]}).status_code == 404


# ---------------------------------------------------------------- field types and messages


def type_message(value, name, python_type):
    return (f"Invalid value {value} for parameter '{name}' supplied:  Hint: Value was of type "
            f"'{python_type}'.{HINT}")


def test_numbers_for_string_fields_are_refused_as_mlflow_refuses_them(client, experiment_id, base_url):
    assert error(post(base_url, "experiments/create", {"name": 123})) == type_message(123, "name", "int")
    assert error(post(base_url, "runs/update", {"run_id": 31})) == type_message(31, "run_id", "int")
    assert error(post(base_url, "runs/log-batch", {"run_id": 31})) == type_message(31, "run_id", "int")
    assert error(post(base_url, "runs/delete", {"run_id": 31})) == type_message(31, "run_id", "int")
    assert error(post(base_url, "runs/create", {"experiment_id": int(experiment_id)})) == type_message(
        int(experiment_id), "experiment_id", "int")
    run_id = new_run(client, experiment_id)
    assert error(post(base_url, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": 5})) == (
        type_message(5, "value", "int"))
    assert error(post(base_url, "runs/set-tag", {"run_id": run_id, "key": "t", "value": True})) == (
        type_message("true", "value", "bool"))
    assert error(post(base_url, "runs/update", {"run_id": run_id, "run_name": 7})) == type_message(
        7, "run_name", "int")
    assert error(post(base_url, "runs/log-batch", {"run_id": run_id, "metrics": {"key": "a"}})) == (
        type_message('{"key":"a"}', "metrics", "dict"))
    # Nothing of the refused requests was applied.
    run = client.get_run(run_id)
    assert run.data.params == {} and "t" not in run.data.tags


def test_numeric_text_for_numeric_fields_is_read_as_protobuf_reads_it(client, experiment_id, base_url):
    run_id = new_run(client, experiment_id)
    body = {"run_id": run_id, "key": "m", "value": "1.5", "timestamp": "12", "step": "1e1"}
    assert post(base_url, "runs/log-metric", body).status_code == 200
    assert post(base_url, "runs/log-metric", {"run_id": run_id, "key": "b", "value": True, "timestamp": 1}).ok
    history = client.get_metric_history(run_id, "m")
    assert [(m.value, m.timestamp, m.step) for m in history] == [(1.5, 12, 10)]
    assert [m.value for m in client.get_metric_history(run_id, "b")] == [1.0]
    response = post(base_url, "runs/log-metric", {"run_id": run_id, "key": "m", "value": "abc", "timestamp": 1})
    assert error(response) == type_message('"abc"', "value", "str")
    response = post(base_url, "runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1,
                                                  "step": "x"})
    assert error(response) == type_message('"x"', "step", "str")
    response = post(base_url, "runs/create", {"experiment_id": experiment_id, "start_time": "abc"})
    assert error(response) == type_message('"abc"', "start_time", "str")


def test_a_query_string_run_id_stays_text(client, experiment_id, base_url):
    # Query strings are all text: run_id=31 is looked up (and not found), not refused.
    response = requests.get(f"{base_url}/api/2.0/mlflow/runs/get", params={"run_id": "31"}, timeout=30)
    assert error(response, 404, "RESOURCE_DOES_NOT_EXIST") == "Run with id=31 not found"


def test_log_batch_with_a_metric_that_is_not_an_object(client, experiment_id, base_url):
    run_id = new_run(client, experiment_id)
    response = post(base_url, "runs/log-batch", {"run_id": run_id, "metrics": ["foo"]})
    if COMPAT_SERVER == "mlflow":
        assert response.status_code == 500  # MLflow calls .get on the string
    else:
        message = error(response)
        assert message.startswith("Invalid value \"foo\" for parameter 'metrics' supplied"), message
        assert "serde" not in message and "struct" not in message and "expected" not in message


def test_both_spellings_of_a_field_are_refused(base_url):
    response = post(base_url, "experiments/create", {"name": "x", "artifact_location": "a",
                                                     "artifactLocation": "b"})
    assert error(response) == (
        "Request specifies both 'artifact_location' and 'artifactLocation'; provide only one of them.")


# ---------------------------------------------------------------- artifact locations


def test_relative_artifact_location_is_resolved_against_the_server_cwd(client, base_url):
    name = f"rel-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(name, artifact_location="rel/./store//x/")
    location = client.get_experiment(experiment_id).artifact_location
    assert location.startswith("/") and location.endswith("/rel/store/x"), location
    cwd = location[: -len("/rel/store/x")]
    file_id = client.create_experiment(f"{name}-file", artifact_location="file:rel%20two")
    assert client.get_experiment(file_id).artifact_location == f"file://{cwd}/rel two"
    # Absolute paths and other schemes are kept as given.
    abs_id = client.create_experiment(f"{name}-abs", artifact_location="/tmp/abs/loc")
    assert client.get_experiment(abs_id).artifact_location == "/tmp/abs/loc"
    s3_id = client.create_experiment(f"{name}-s3", artifact_location="s3://bucket/rel")
    assert client.get_experiment(s3_id).artifact_location == "s3://bucket/rel"
    # Runs of the experiment put their artifacts under the resolved root.
    run = client.create_run(experiment_id)
    assert run.info.artifact_uri.startswith(location + "/"), run.info.artifact_uri


def test_file_uri_with_a_remote_host(base_url):
    body = {"name": f"remote-{uuid.uuid4().hex[:8]}", "artifact_location": "file://otherhost/data"}
    response = post(base_url, "experiments/create", body)
    if COMPAT_SERVER == "mlflow":
        assert response.status_code == 500
    else:
        assert error(response).startswith("file://otherhost/data is not a valid remote uri.")


# ---------------------------------------------------------------- logged models

needs_mlflow3 = pytest.mark.skipif(not IS_MLFLOW3, reason="logged models are MLflow 3")


def search_models(base_url, body):
    return post(base_url, "logged-models/search", body)


@needs_mlflow3
def test_search_logged_models_applies_the_datasets_filter(client, experiment_id, base_url):
    run_id = new_run(client, experiment_id)
    on_train = client.create_logged_model(experiment_id, name="on-train")
    on_eval = client.create_logged_model(experiment_id, name="on-eval")
    no_dataset = client.create_logged_model(experiment_id, name="plain")
    ts = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[
        Metric("acc", 0.9, ts, 0, model_id=on_train.model_id, dataset_name="train", dataset_digest="t1"),
        Metric("acc", 0.7, ts, 0, model_id=on_eval.model_id, dataset_name="eval", dataset_digest="e1"),
        Metric("acc", 0.5, ts, 0, model_id=no_dataset.model_id),
    ])

    def names(body):
        response = search_models(base_url, {"experiment_ids": [experiment_id], **body})
        assert response.status_code == 200, response.text
        return sorted(m["info"]["name"] for m in response.json().get("models", []))

    assert names({}) == ["on-eval", "on-train", "plain"]
    assert names({"datasets": [{"dataset_name": "train", "dataset_digest": "t1"}]}) == ["on-train"]
    assert names({"datasets": [{"dataset_name": "train", "dataset_digest": "t1"},
                               {"dataset_name": "eval", "dataset_digest": "e1"}]}) == ["on-eval", "on-train"]
    assert names({"datasets": [{"dataset_name": "train", "dataset_digest": "other"}]}) == []
    # As in MLflow, a dataset without a digest matches only metrics logged without one.
    assert names({"datasets": [{"dataset_name": "train"}]}) == []
    # With a metric filter, the metric must be on one of the datasets.
    assert names({"filter": "metrics.acc > 0.6",
                  "datasets": [{"dataset_name": "eval", "dataset_digest": "e1"}]}) == ["on-eval"]
    assert names({"filter": "metrics.acc > 0.8",
                  "datasets": [{"dataset_name": "eval", "dataset_digest": "e1"}]}) == []
    response = search_models(base_url, {"experiment_ids": [experiment_id], "datasets": [{"dataset_digest": "t1"}]})
    assert error(response) == "`dataset_name` in the `datasets` clause must be specified."


@needs_mlflow3
def test_model_version_from_a_logged_model_tags_the_model(client, experiment_id, base_url):
    model = client.create_logged_model(experiment_id, name="lineage")
    name = f"reg-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    source = f"models:/{model.model_id}"
    for _ in range(2):
        response = post(base_url, "model-versions/create", {"name": name, "source": source,
                                                            "model_id": model.model_id})
        assert response.status_code == 200, response.text
    tag = client.get_logged_model(model.model_id).tags["mlflow.modelVersions"]
    assert json.loads(tag) == [{"name": name, "version": 1}, {"name": name, "version": 2}]
    assert tag == f'[{{"name": "{name}", "version": 1}}, {{"name": "{name}", "version": 2}}]'
    # The fluent API records the version too (its own entry, with the version as text).
    registered = mlflow.register_model(source, name)
    entries = json.loads(client.get_logged_model(model.model_id).tags["mlflow.modelVersions"])
    assert {"name": name, "version": int(registered.version)} in entries


def test_unsafe_artifact_paths_say_invalid_path(client, experiment_id, base_url):
    run_id = new_run(client, experiment_id)
    for path in ("../x", "/abs", "a/../../x"):
        response = requests.get(f"{base_url}/api/2.0/mlflow/artifacts/list",
                                params={"run_id": run_id, "path": path}, timeout=30)
        assert error(response) == "Invalid path", path
    response = requests.get(f"{base_url}/api/2.0/mlflow-artifacts/artifacts/..%2Fx", timeout=30)
    assert error(response) == "Invalid path"

"""Raw REST checks with `requests` for wire details the client hides."""

import json
import math
import time
import uuid

import pytest
import requests

pytestmark = pytest.mark.usefixtures("compat_env")

T = 30  # request timeout


def now_ms():
    return int(time.time() * 1000)


@pytest.fixture
def api(base_url):
    class Api:
        def url(self, path, prefix="/api/2.0/mlflow/"):
            return base_url + prefix + path

        def get(self, path, prefix="/api/2.0/mlflow/", **params):
            return requests.get(self.url(path, prefix), params=params, timeout=T)

        def post(self, path, body, prefix="/api/2.0/mlflow/"):
            return requests.post(self.url(path, prefix), json=body, timeout=T)

        def post_raw(self, path, data, prefix="/api/2.0/mlflow/"):
            return requests.post(
                self.url(path, prefix), data=data, headers={"Content-Type": "application/json"}, timeout=T
            )

        def new_experiment(self):
            resp = self.post("experiments/create", {"name": f"rest-{uuid.uuid4().hex}"})
            assert resp.status_code == 200, resp.text
            return resp.json()["experiment_id"]

        def new_run(self, exp_id):
            resp = self.post("runs/create", {"experiment_id": exp_id, "start_time": now_ms()})
            assert resp.status_code == 200, resp.text
            return resp.json()["run"]["info"]["run_id"]

    return Api()


def assert_error(resp, status, code):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_health(base_url):
    resp = requests.get(base_url + "/health", timeout=T)
    assert resp.status_code == 200
    assert resp.text == "OK"


def test_version(base_url):
    resp = requests.get(base_url + "/version", timeout=T)
    assert resp.status_code == 200
    parts = resp.text.strip().split(".")
    assert len(parts) >= 2 and all(p.isdigit() for p in parts[:2]), resp.text
    assert int(parts[0]) >= 3


@pytest.mark.parametrize("prefix", ["/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/"])
def test_server_info(api, base_url, prefix):
    resp = api.get("server-info", prefix=prefix)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    info = resp.json()
    assert isinstance(info, dict)
    # Real MLflow with a local --artifacts-destination reports False. A server may claim
    # multipart uploads only if the mpu endpoints really work.
    if info.get("multipart_uploads_enabled", False):
        path = f"mpu-probe-{uuid.uuid4().hex}"
        resp = requests.post(
            f"{base_url}/api/2.0/mlflow-artifacts/mpu/create/{path}",
            json={"path": "probe.bin", "num_parts": 2},
            timeout=T,
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["upload_id"]
        assert sorted(c["part_number"] for c in body["credentials"]) == [1, 2]
        resp = requests.post(
            f"{base_url}/api/2.0/mlflow-artifacts/mpu/abort/{path}",
            json={"path": "probe.bin", "upload_id": body["upload_id"]},
            timeout=T,
        )
        assert resp.status_code == 200, resp.text


def test_ajax_api_prefix(api):
    for prefix in ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"):
        resp = api.get("experiments/get", prefix=prefix, experiment_id="0")
        assert resp.status_code == 200, resp.text
        assert resp.json()["experiment"]["name"] == "Default"
    exp_id = api.new_experiment()
    resp = api.post("runs/create", {"experiment_id": exp_id}, prefix="/ajax-api/2.0/mlflow/")
    assert resp.status_code == 200
    run_id = resp.json()["run"]["info"]["run_id"]
    resp = api.get("runs/get", prefix="/ajax-api/2.0/mlflow/", run_id=run_id)
    assert resp.json()["run"]["info"]["run_id"] == run_id


def test_get_by_name_miss_is_404_json(api):
    resp = api.get("experiments/get-by-name", experiment_name=f"missing-{uuid.uuid4().hex}")
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")


def test_missing_resources_are_404(api):
    assert_error(api.get("experiments/get", experiment_id="987654321"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.get("runs/get", run_id="0" * 32), 404, "RESOURCE_DOES_NOT_EXIST")


def test_duplicate_experiment_is_400(api):
    name = f"dup-{uuid.uuid4().hex}"
    assert api.post("experiments/create", {"name": name}).status_code == 200
    assert_error(api.post("experiments/create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")


def test_missing_required_field(api):
    body = assert_error(api.post("experiments/create", {}), 400, "INVALID_PARAMETER_VALUE")
    assert "name" in body["message"]


def test_experiment_json_shape(api):
    exp_id = api.new_experiment()
    resp = api.get("experiments/get", experiment_id=exp_id)
    exp = resp.json()["experiment"]
    assert exp["experiment_id"] == exp_id and isinstance(exp_id, str)
    assert exp["lifecycle_stage"] == "active"
    assert exp["artifact_location"] == f"mlflow-artifacts:/{exp_id}"
    assert isinstance(exp["creation_time"], int)
    assert isinstance(exp["last_update_time"], int)
    assert "tags" not in exp  # empty repeated fields are omitted


def test_run_json_shape(api):
    exp_id = api.new_experiment()
    resp = api.post("runs/create", {"experiment_id": exp_id, "start_time": 1700000000000, "run_name": "shape"})
    run = resp.json()["run"]
    info = run["info"]
    assert info["run_id"] == info["run_uuid"]
    assert info["experiment_id"] == exp_id
    assert info["status"] == "RUNNING"
    assert info["start_time"] == 1700000000000
    assert info["lifecycle_stage"] == "active"
    assert info["run_name"] == "shape"
    assert "end_time" not in info
    assert run["data"]["tags"] == [{"key": "mlflow.runName", "value": "shape"}]
    got = api.get("runs/get", run_id=info["run_id"]).json()["run"]
    assert got["inputs"] == {}
    assert got["info"] == info


def test_camel_case_input_accepted(api):
    exp_id = api.new_experiment()
    resp = api.post("runs/create", {"experimentId": exp_id, "startTime": 1700000000001, "runName": "camel"})
    assert resp.status_code == 200, resp.text
    info = resp.json()["run"]["info"]
    assert info["experiment_id"] == exp_id
    assert info["start_time"] == 1700000000001
    assert info["run_name"] == "camel"
    run_id = info["run_id"]
    # responses stay snake_case
    assert "runId" not in info and "startTime" not in info

    resp = api.post("runs/update", {"run_id": run_id, "endTime": 1700000000005, "runName": "camel2", "status": "KILLED"})
    assert resp.status_code == 200, resp.text
    run_info = resp.json()["run_info"]
    assert run_info["end_time"] == 1700000000005
    assert run_info["run_name"] == "camel2"
    assert run_info["status"] == "KILLED"

    resp = api.post("runs/search", {"experimentIds": [exp_id], "maxResults": 5, "runViewType": "ALL"})
    assert resp.status_code == 200, resp.text
    assert [r["info"]["run_id"] for r in resp.json()["runs"]] == [run_id]

    resp = api.post("experiments/search", {"maxResults": 1, "viewType": "ALL", "filter": "name = 'Default'"})
    assert resp.status_code == 200, resp.text
    assert [e["experiment_id"] for e in resp.json()["experiments"]] == ["0"]


def test_same_field_in_both_spellings_rejected(api):
    exp_id = api.new_experiment()
    resp = api.post("runs/create", {"experiment_id": exp_id, "experimentId": exp_id})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_int64_as_strings_accepted(api):
    exp_id = api.new_experiment()
    resp = api.post("runs/create", {"experiment_id": exp_id, "start_time": "1700000000002"})
    assert resp.status_code == 200, resp.text
    info = resp.json()["run"]["info"]
    assert info["start_time"] == 1700000000002  # answered as a JSON number
    run_id = info["run_id"]
    resp = api.post(
        "runs/log-metric",
        {"run_id": run_id, "key": "s", "value": "2.5", "timestamp": "1700000000003", "step": "4"},
    )
    assert resp.status_code == 200, resp.text
    hist = api.get("metrics/get-history", run_id=run_id, metric_key="s").json()["metrics"]
    assert hist == [{"key": "s", "value": 2.5, "timestamp": 1700000000003, "step": 4}]
    resp = api.post("runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": "1700000000009"})
    assert resp.status_code == 200, resp.text
    run_info = resp.json()["run_info"]
    assert run_info["end_time"] == 1700000000009
    assert run_info["status"] == "FINISHED"


def test_nan_and_infinity_on_the_wire(api):
    exp_id = api.new_experiment()
    run_id = api.new_run(exp_id)
    for key, value in (("nan", "NaN"), ("pinf", "Infinity"), ("ninf", "-Infinity")):
        resp = api.post("runs/log-metric", {"run_id": run_id, "key": key, "value": value, "timestamp": 1})
        assert resp.status_code == 200, resp.text
    nan = api.get("metrics/get-history", run_id=run_id, metric_key="nan").json()["metrics"]
    assert nan == [{"key": "nan", "value": "NaN", "timestamp": 1, "step": 0}]
    pinf = api.get("metrics/get-history", run_id=run_id, metric_key="pinf")
    # +inf is clamped to the largest double by the SQL store (and sent as a JSON number)
    assert json.loads(pinf.text)["metrics"][0]["value"] == 1.7976931348623157e308
    ninf = api.get("metrics/get-history", run_id=run_id, metric_key="ninf").json()["metrics"]
    assert ninf[0]["value"] == -1.7976931348623157e308
    metrics = {m["key"]: m["value"] for m in api.get("runs/get", run_id=run_id).json()["run"]["data"]["metrics"]}
    assert metrics["nan"] == "NaN"
    assert metrics["pinf"] == 1.7976931348623157e308
    assert not any(isinstance(v, float) and math.isinf(v) for v in metrics.values())


def test_enum_as_number_and_view_type(api):
    exp_id = api.new_experiment()
    run_id = api.new_run(exp_id)
    resp = api.post("runs/update", {"run_id": run_id, "status": 3})  # 3 == FINISHED
    assert resp.status_code == 200, resp.text
    assert resp.json()["run_info"]["status"] == "FINISHED"
    assert api.post("runs/delete", {"run_id": run_id}).status_code == 200
    resp = api.post("runs/search", {"experiment_ids": [exp_id], "run_view_type": "DELETED_ONLY"})
    assert [r["info"]["run_id"] for r in resp.json()["runs"]] == [run_id]
    resp = api.post("runs/search", {"experiment_ids": [exp_id], "run_view_type": 2})
    assert [r["info"]["run_id"] for r in resp.json()["runs"]] == [run_id]
    resp = api.post("runs/search", {"experiment_ids": [exp_id]})
    assert resp.status_code == 200
    assert resp.json() == {}  # no runs: empty object, no next_page_token


def test_search_experiments_requires_max_results(api):
    assert_error(api.post("experiments/search", {}), 400, "INVALID_PARAMETER_VALUE")
    resp = api.post("experiments/search", {"max_results": 1000, "filter": "name = 'Default'"})
    assert resp.status_code == 200
    exps = resp.json()["experiments"]
    assert [e["experiment_id"] for e in exps] == ["0"]
    # GET with a query string works too
    resp = api.get("experiments/search", max_results=5, filter="name = 'Default'")
    assert resp.status_code == 200
    assert [e["name"] for e in resp.json()["experiments"]] == ["Default"]


def test_search_runs_page_token_on_the_wire(api):
    exp_id = api.new_experiment()
    for i in range(3):
        resp = api.post("runs/create", {"experiment_id": exp_id, "start_time": 1700000000000 + i})
        assert resp.status_code == 200
    first = api.post("runs/search", {"experiment_ids": [exp_id], "max_results": 2}).json()
    assert len(first["runs"]) == 2
    assert isinstance(first["next_page_token"], str) and first["next_page_token"]
    second = api.post(
        "runs/search", {"experiment_ids": [exp_id], "max_results": 2, "page_token": first["next_page_token"]}
    ).json()
    assert len(second["runs"]) == 1
    assert "next_page_token" not in second
    starts = [r["info"]["start_time"] for r in first["runs"] + second["runs"]]
    assert starts == [1700000000002, 1700000000001, 1700000000000]


def test_get_metric_history_paging_on_the_wire(api):
    exp_id = api.new_experiment()
    run_id = api.new_run(exp_id)
    metrics = [{"key": "h", "value": i, "timestamp": 100 + i, "step": i} for i in range(5)]
    assert api.post("runs/log-batch", {"run_id": run_id, "metrics": metrics}).status_code == 200
    page1 = api.get("metrics/get-history", run_id=run_id, metric_key="h", max_results=3).json()
    assert [m["step"] for m in page1["metrics"]] == [0, 1, 2]
    page2 = api.get(
        "metrics/get-history", run_id=run_id, metric_key="h", max_results=3, page_token=page1["next_page_token"]
    ).json()
    assert [m["step"] for m in page2["metrics"]] == [3, 4]
    assert "next_page_token" not in page2


def test_param_rules_on_the_wire(api):
    exp_id = api.new_experiment()
    run_id = api.new_run(exp_id)
    assert api.post("runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"}).status_code == 200
    assert api.post("runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"}).status_code == 200
    assert_error(
        api.post("runs/log-parameter", {"run_id": run_id, "key": "p", "value": "2"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(
        api.post("runs/log-metric", {"run_id": run_id, "key": "bad*name", "value": 1, "timestamp": 1}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert_error(api.post("runs/delete-tag", {"run_id": run_id, "key": "none"}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_experiment_tag_delete_on_the_wire(api):
    exp_id = api.new_experiment()
    assert api.post("experiments/set-experiment-tag", {"experiment_id": exp_id, "key": "k", "value": "v"}).status_code == 200
    assert api.post("experiments/set-experiment-tag", {"experiment_id": exp_id, "key": "k2", "value": "v2"}).status_code == 200
    resp = api.post("experiments/delete-experiment-tag", {"experiment_id": exp_id, "key": "k"})
    assert resp.status_code == 200, resp.text
    exp = api.get("experiments/get", experiment_id=exp_id).json()["experiment"]
    assert exp["tags"] == [{"key": "k2", "value": "v2"}]
    assert_error(
        api.post("experiments/delete-experiment-tag", {"experiment_id": exp_id, "key": "k"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_non_json_content_type_rejected(api):
    resp = requests.post(
        api.url("experiments/create"),
        data=json.dumps({"name": f"ct-{uuid.uuid4().hex}"}),
        headers={"Content-Type": "text/plain"},
        timeout=T,
    )
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_unknown_fields_ignored(api):
    resp = api.post("experiments/create", {"name": f"unk-{uuid.uuid4().hex}", "no_such_field": 42})
    assert resp.status_code == 200, resp.text
    assert resp.json()["experiment_id"].isdigit()


def test_unknown_route_is_404(base_url):
    resp = requests.get(base_url + "/api/2.0/mlflow/no-such-endpoint", timeout=T)
    assert resp.status_code == 404

"""``/graphql``: the operations MLflow's web UI sends (copied from its JS sources:
``GetRun``, ``SearchRuns``, ``MlflowGetExperimentQuery``,
``GetMetricHistoryBulkInterval``), plus the other root fields of MLflow's schema, several
root fields in one query, errors and the query limits of CVE-2025-0453.

The data is logged with the real client; the queries go over ``requests``, as the UI's
Apollo client sends them. Passes against ferroflow and a real MLflow server; the few
places where ferroflow answers better than MLflow (a step range MLflow ignores, a NaN
point MLflow also reports as an error, requests MLflow answers with a 500) are marked.
"""

import math

import pytest
import requests
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

from conftest import COMPAT_SERVER

pytestmark = pytest.mark.usefixtures("compat_env")

FERROFLOW = COMPAT_SERVER == "ferroflow"

GET_RUN = """
  query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
    mlflowGetRun(input: $data) {
      apiError { helpUrl code message }
      run {
        info { runName status runUuid experimentId artifactUri endTime lifecycleStage startTime userId }
        experiment { experimentId name tags { key value } artifactLocation lifecycleStage lastUpdateTime }
        modelVersions { status version name source }
        data { metrics { key value step timestamp } params { key value } tags { key value } }
        inputs {
          datasetInputs { dataset { digest name profile schema source sourceType } tags { key value } }
          modelInputs { modelId }
        }
        outputs { modelOutputs { modelId step } }
      }
    }
  }
"""

SEARCH_RUNS = """
  query SearchRuns($data: MlflowSearchRunsInput!) {
    mlflowSearchRuns(input: $data) {
      apiError { helpUrl code message }
      runs {
        info { runName status runUuid experimentId artifactUri endTime lifecycleStage startTime userId }
        experiment { experimentId name tags { key value } artifactLocation lifecycleStage lastUpdateTime }
        data { metrics { key value step timestamp } params { key value } tags { key value } }
        inputs {
          datasetInputs { dataset { digest name profile schema source sourceType } tags { key value } }
          modelInputs { modelId }
        }
        outputs { modelOutputs { modelId step } }
        modelVersions { version name creationTimestamp status source }
      }
    }
  }
"""

GET_EXPERIMENT = """
  query MlflowGetExperimentQuery($input: MlflowGetExperimentInput!) @component(name: "MLflow.ExperimentRunTracking") {
    mlflowGetExperiment(input: $input) {
      apiError { code message }
      experiment {
        artifactLocation creationTime effectiveTraceArchivalRetention experimentId lastUpdateTime
        lifecycleStage name tags { key value }
      }
    }
  }
"""

BULK_INTERVAL = """
  query GetMetricHistoryBulkInterval($data: MlflowGetMetricHistoryBulkIntervalInput!)
  @component(name: "MLflow.ExperimentRunTracking") {
    mlflowGetMetricHistoryBulkInterval(input: $data) {
      __typename
      metrics { timestamp step runId key value }
      apiError { code message }
    }
  }
"""

LIST_ARTIFACTS = """
  query ListArtifacts($input: MlflowListArtifactsInput) {
    mlflowListArtifacts(input: $input) { rootUri files { path isDir fileSize } nextPageToken apiError { code } }
  }
"""

SEARCH_DATASETS = """
  mutation SearchDatasets($input: MlflowSearchDatasetsInput) {
    mlflowSearchDatasets(input: $input) { datasetSummaries { experimentId name digest context } apiError { code } }
  }
"""


def post(base_url, query, variables=None, **extra):
    body = {"query": query, "variables": variables or {}, **extra}
    return requests.post(f"{base_url}/graphql", json=body, timeout=30)


def ok(response):
    """A 200 without errors, in MLflow's shape; returns ``data``."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data", "errors"}, body
    assert body["errors"] is None, body
    return body["data"]


def error_messages(response, status=200):
    """MLflow's errors: a list of plain strings beside ``data``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert "data" in body, body
    assert isinstance(body["errors"], list) and body["errors"], body
    assert all(isinstance(message, str) for message in body["errors"]), body
    return body["errors"]


@pytest.fixture
def seeded(client, experiment_id, unique_name):
    """A finished run with history, a NaN metric, a param, tags, a dataset input, two
    artifacts and a registered model version."""
    run = client.create_run(experiment_id, tags={"team": "a"})
    run_id = run.info.run_id
    metrics = [Metric("loss", 1.0 / (step + 1), 1000 + step, step) for step in range(5)]
    metrics.append(Metric("nan_metric", float("nan"), 1000, 0))
    client.log_batch(run_id, metrics=metrics, params=[Param("lr", "0.1")], tags=[RunTag("stage", "dev")])
    dataset = Dataset(name="train", digest="d1", source_type="s3", source='{"uri": "s3://b/train"}')
    client.log_inputs(run_id, [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])])
    client.log_text(run_id, "hello", "dir/a.txt")
    client.log_text(run_id, "top", "b.txt")
    model = unique_name("model")
    client.create_registered_model(model)
    version = client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
    client.set_terminated(run_id)
    return {"experiment_id": experiment_id, "run_id": run_id, "model": model, "version": version.version}


def test_get_run_answers_the_ui_query(base_url, seeded):
    data = ok(post(base_url, GET_RUN, {"data": {"runId": seeded["run_id"]}}))
    answer = data["mlflowGetRun"]
    assert answer["apiError"] is None
    run = answer["run"]
    info = run["info"]
    assert info["runUuid"] == seeded["run_id"]
    assert info["experimentId"] == seeded["experiment_id"]
    assert info["status"] == "FINISHED"
    assert info["lifecycleStage"] == "active"
    # int64s are strings (MLflow's LongString scalar).
    assert isinstance(info["startTime"], str) and int(info["startTime"]) > 0
    assert int(info["endTime"]) >= int(info["startTime"])
    assert info["artifactUri"].endswith(f"{seeded['run_id']}/artifacts")

    assert run["experiment"]["experimentId"] == seeded["experiment_id"]
    assert run["experiment"]["lifecycleStage"] == "active"

    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["loss"] == {"key": "loss", "value": 0.2, "step": "4", "timestamp": "1004"}
    assert metrics["nan_metric"]["value"] is None  # NaN is null
    assert run["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["team"] == "a" and tags["stage"] == "dev"

    [dataset_input] = run["inputs"]["datasetInputs"]
    assert dataset_input["dataset"] == {
        "digest": "d1",
        "name": "train",
        "profile": "",
        "schema": "",
        "source": '{"uri": "s3://b/train"}',
        "sourceType": "s3",
    }
    assert dataset_input["tags"] == [{"key": "mlflow.data.context", "value": "training"}]
    assert run["inputs"]["modelInputs"] == []
    assert run["outputs"]["modelOutputs"] == []
    assert run["modelVersions"] == [
        {"status": "READY", "version": seeded["version"], "name": seeded["model"], "source": f"runs:/{seeded['run_id']}/model"}
    ]


def test_search_runs_answers_the_ui_query(base_url, client, seeded):
    other = client.create_run(seeded["experiment_id"]).info.run_id
    variables = {"data": {"filter": f"attributes.run_id = '{seeded['run_id']}'", "experimentIds": [seeded["experiment_id"]]}}
    data = ok(post(base_url, SEARCH_RUNS, variables))
    answer = data["mlflowSearchRuns"]
    assert answer["apiError"] is None
    [run] = answer["runs"]
    assert run["info"]["runUuid"] == seeded["run_id"]
    assert [v["version"] for v in run["modelVersions"]] == [seeded["version"]]
    assert int(run["modelVersions"][0]["creationTimestamp"]) > 0
    assert {m["key"] for m in run["data"]["metrics"]} == {"loss", "nan_metric"}

    # Order and paging, as a mutation too (MLflow's schema has both).
    mutation = """
      mutation S($data: MlflowSearchRunsInput) {
        mlflowSearchRuns(input: $data) { nextPageToken runs { info { runId } } }
      }
    """
    variables = {"data": {"experimentIds": [seeded["experiment_id"]], "orderBy": ["metrics.loss DESC"], "maxResults": 1}}
    first = ok(post(base_url, mutation, variables))["mlflowSearchRuns"]
    assert [r["info"]["runId"] for r in first["runs"]] == [seeded["run_id"]]
    assert first["nextPageToken"]
    variables["data"]["pageToken"] = first["nextPageToken"]
    second = ok(post(base_url, mutation, variables))["mlflowSearchRuns"]
    assert [r["info"]["runId"] for r in second["runs"]] == [other]
    assert second["nextPageToken"] == ""


def test_get_experiment_answers_the_ui_query(base_url, client, experiment_id):
    client.set_experiment_tag(experiment_id, "owner", "me")
    data = ok(post(base_url, GET_EXPERIMENT, {"input": {"experimentId": experiment_id}}))
    experiment = data["mlflowGetExperiment"]["experiment"]
    assert experiment["experimentId"] == experiment_id
    assert experiment["name"] == client.get_experiment(experiment_id).name
    assert {"key": "owner", "value": "me"} in experiment["tags"]
    assert experiment["lifecycleStage"] == "active"
    assert experiment["effectiveTraceArchivalRetention"] == ""
    assert int(experiment["creationTime"]) > 0 and int(experiment["lastUpdateTime"]) > 0
    assert data["mlflowGetExperiment"]["apiError"] is None


def test_bulk_interval_answers_the_chart_query(base_url, seeded):
    variables = {
        "data": {"runIds": [seeded["run_id"]], "metricKey": "loss", "startStep": None, "endStep": None, "maxResults": 320}
    }
    data = ok(post(base_url, BULK_INTERVAL, variables))
    answer = data["mlflowGetMetricHistoryBulkInterval"]
    assert answer["__typename"] == "MlflowGetMetricHistoryBulkIntervalResponse"
    assert answer["apiError"] is None
    assert answer["metrics"] == [
        {"timestamp": str(1000 + step), "step": str(step), "runId": seeded["run_id"], "key": "loss", "value": 1.0 / (step + 1)}
        for step in range(5)
    ]


def test_bulk_interval_step_range(base_url, seeded):
    variables = {"data": {"runIds": [seeded["run_id"]], "metricKey": "loss", "startStep": 1, "endStep": 3, "maxResults": 320}}
    steps = [m["step"] for m in ok(post(base_url, BULK_INTERVAL, variables))["mlflowGetMetricHistoryBulkInterval"]["metrics"]]
    if FERROFLOW:
        assert steps == ["1", "2", "3"]
    else:
        # MLflow's resolver reads the range from the URL's query string, so GraphQL's is ignored.
        assert steps == ["0", "1", "2", "3", "4"]


def test_nan_points_are_null(base_url, seeded):
    variables = {"data": {"runIds": [seeded["run_id"]], "metricKey": "nan_metric"}}
    response = post(base_url, BULK_INTERVAL, variables)
    assert response.status_code == 200
    body = response.json()
    [point] = body["data"]["mlflowGetMetricHistoryBulkInterval"]["metrics"]
    assert point["value"] is None and point["step"] == "0"
    if FERROFLOW:
        assert body["errors"] is None
    else:
        # MLflow also reports its Float scalar's refusal of the NaN.
        assert body["errors"] == ["Float cannot represent non numeric value: nan"]


def test_list_artifacts(base_url, seeded):
    data = ok(post(base_url, LIST_ARTIFACTS, {"input": {"runId": seeded["run_id"]}}))
    listing = data["mlflowListArtifacts"]
    assert listing["rootUri"].endswith(f"{seeded['run_id']}/artifacts")
    assert listing["files"] == [
        {"path": "b.txt", "isDir": False, "fileSize": "3"},
        {"path": "dir", "isDir": True, "fileSize": "0"},
    ]
    assert listing["nextPageToken"] == ""
    assert listing["apiError"] is None
    sub = ok(post(base_url, LIST_ARTIFACTS, {"input": {"runId": seeded["run_id"], "path": "dir"}}))
    assert sub["mlflowListArtifacts"]["files"] == [{"path": "dir/a.txt", "isDir": False, "fileSize": "5"}]

    response = post(base_url, LIST_ARTIFACTS, {"input": {"runId": seeded["run_id"], "path": "../escape"}})
    [message] = error_messages(response)
    assert message.startswith("Invalid path")
    assert response.json()["data"] == {"mlflowListArtifacts": None}


def test_search_datasets(base_url, client, seeded):
    empty = client.create_experiment(f"no-datasets-{seeded['run_id']}")
    data = ok(post(base_url, SEARCH_DATASETS, {"input": {"experimentIds": [seeded["experiment_id"], empty]}}))
    assert data["mlflowSearchDatasets"] == {
        "datasetSummaries": [{"experimentId": seeded["experiment_id"], "name": "train", "digest": "d1", "context": "training"}],
        "apiError": None,
    }
    response = post(base_url, SEARCH_DATASETS, {"input": {"experimentIds": []}})
    assert error_messages(response) == ["SearchDatasets request must specify at least one experiment_id."]


def test_search_model_versions(base_url, seeded):
    query = """
      query V($input: MlflowSearchModelVersionsInput) {
        mlflowSearchModelVersions(input: $input) { modelVersions { name version status runId tags { key value } } nextPageToken }
      }
    """
    data = ok(post(base_url, query, {"input": {"filter": f"name='{seeded['model']}'"}}))
    assert data["mlflowSearchModelVersions"]["modelVersions"] == [
        {"name": seeded["model"], "version": seeded["version"], "status": "READY", "runId": seeded["run_id"], "tags": []}
    ]


def test_several_root_fields_answer_one_by_one(base_url, seeded):
    unknown = "0" * 32
    query = f"""{{
      mine: mlflowGetRun(input: {{runId: "{seeded['run_id']}"}}) {{ run {{ info {{ runUuid }} }} }}
      gone: mlflowGetRun(input: {{runId: "{unknown}"}}) {{ run {{ info {{ runUuid }} }} }}
      experiment: mlflowGetExperiment(input: {{experimentId: "{seeded['experiment_id']}"}}) {{ experiment {{ experimentId }} }}
    }}"""
    response = post(base_url, query)
    assert error_messages(response) == [f"Run with id={unknown} not found"]
    assert response.json()["data"] == {
        "mine": {"run": {"info": {"runUuid": seeded["run_id"]}}},
        "gone": None,
        "experiment": {"experiment": {"experimentId": seeded["experiment_id"]}},
    }


def test_operation_name_selects_the_operation(base_url):
    query = 'query A { test(inputString: "a") { output } } query B { test(inputString: "b") { output } }'
    assert ok(post(base_url, query, operationName="B")) == {"test": {"output": "b"}}
    assert error_messages(post(base_url, query))


def test_errors_are_graphql_errors(base_url):
    response = post(base_url, GET_RUN, {"data": {"runId": "0" * 32}})
    assert error_messages(response) == [f"Run with id={'0' * 32} not found"]
    assert response.json()["data"] == {"mlflowGetRun": None}

    response = post(base_url, '{ mlflowGetExperiment(input: {experimentId: "987654"}) { experiment { name } } }')
    assert error_messages(response) == ["No Experiment with id=987654 exists"]

    for query in ["{ noSuchField { x } }", '{ mlflowGetExperiment(input: {experimentId: "0"}) { experiment { nope } } }']:
        response = post(base_url, query)
        assert error_messages(response)
        assert response.json()["data"] is None

    # An unknown variable type field is refused before anything runs.
    query = "query Q($input: MlflowGetExperimentInput!) { mlflowGetExperiment(input: $input) { experiment { name } } }"
    assert error_messages(post(base_url, query, {"input": {"experimentId": "0", "nope": 1}}))
    assert error_messages(post(base_url, query))


def test_query_limits_of_cve_2025_0453(base_url):
    roots = " ".join(f"f{i}: __typename" for i in range(11))
    assert error_messages(post(base_url, f"{{ {roots} }}")) == [
        "GraphQL queries should have at most 10 root fields, got 11 root fields. To increase the limit, "
        "set the MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS environment variable."
    ]
    aliases = " ".join(f"o{i}: output" for i in range(11))
    assert error_messages(post(base_url, f'{{ test(inputString: "x") {{ {aliases} }} }}')) == [
        "GraphQL queries should have at most 10 aliases, got 11 aliases. To increase the limit, "
        "set the MLFLOW_SERVER_GRAPHQL_MAX_ALIASES environment variable."
    ]
    deep = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }"
    assert error_messages(post(base_url, deep)) == ["Query exceeds maximum depth of 10"]
    wide = "output " * 1001
    assert error_messages(post(base_url, f'{{ test(inputString: "x") {{ {wide} }} }}')) == [
        "Query exceeds maximum total selections of 1000"
    ]
    # Ten root fields are fine.
    ten = " ".join(f"f{i}: __typename" for i in range(10))
    assert ok(post(base_url, f"{{ {ten} }}"))["f9"] == "Query"


def test_requests_graphql_cannot_read(base_url):
    url = f"{base_url}/graphql"
    wrong_type = requests.post(url, data='{"query": "{ __typename }"}', headers={"Content-Type": "text/plain"}, timeout=30)
    assert wrong_type.status_code == 400
    assert wrong_type.json()["message"] == "Bad Request. Content-Type must be one of ['application/json']."
    assert requests.post(f"{base_url}/ajax-api/graphql", json={"query": "{ __typename }"}, timeout=30).status_code == 404

    bad_bodies = ["{not json", '[{"query": "{ __typename }"}]', "{}", '{"query": "{ mlflowGetRun( "}']
    for body in bad_bodies:
        response = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
        if FERROFLOW:
            assert error_messages(response, 400)
            assert response.json()["data"] is None
        else:
            # MLflow answers each of these with a 500 (README, "GraphQL").
            assert response.status_code == 500


def test_values_survive_the_round_trip(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    values = [0.1 + 0.2, 1e-300, -2.5e300, 123456789.125]
    client.log_batch(run_id, metrics=[Metric(f"v{i}", v, 1, i) for i, v in enumerate(values)])
    data = ok(post(base_url, GET_RUN, {"data": {"runId": run_id}}))
    got = {m["key"]: m["value"] for m in data["mlflowGetRun"]["run"]["data"]["metrics"]}
    assert all(math.copysign(1, got[f"v{i}"]) == math.copysign(1, v) and got[f"v{i}"] == v for i, v in enumerate(values))

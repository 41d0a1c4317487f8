"""Dataset inputs (runs/log-inputs) and what get_run / search_runs return for them."""

import importlib.util
import json

import mlflow
import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag

pytestmark = pytest.mark.usefixtures("compat_env")

HAS_NUMPY = importlib.util.find_spec("numpy") is not None
HAS_PANDAS = importlib.util.find_spec("pandas") is not None


def _mlflow_data_usable():
    if not (HAS_NUMPY and HAS_PANDAS):
        return False
    try:
        import mlflow.data  # noqa: F401
        from mlflow.data import from_numpy, from_pandas  # noqa: F401
    except Exception:
        return False
    return True


HAS_MLFLOW_DATA = _mlflow_data_usable()
needs_mlflow_data = pytest.mark.skipif(
    not HAS_MLFLOW_DATA, reason="mlflow.data dataset constructors need numpy/pandas (absent in the skinny venv)"
)

CONTEXT = "mlflow.data.context"


def _dataset(name, digest, source="s3://bucket/data.csv"):
    return Dataset(
        name=name,
        digest=digest,
        source_type="s3",
        source=json.dumps({"uri": source}),
        schema=json.dumps({"mlflow_colspec": [{"type": "double", "name": "x"}]}),
        profile=json.dumps({"num_rows": 3}),
    )


def test_log_inputs_with_entities(client, experiment_id):
    run = client.create_run(experiment_id)
    rid = run.info.run_id
    ds = _dataset("train-set", "abc123")
    client.log_inputs(rid, [DatasetInput(ds, tags=[InputTag(CONTEXT, "training"), InputTag("extra", "1")])])

    inputs = client.get_run(rid).inputs.dataset_inputs
    assert len(inputs) == 1
    got = inputs[0]
    assert got.dataset.name == "train-set"
    assert got.dataset.digest == "abc123"
    assert got.dataset.source_type == "s3"
    assert json.loads(got.dataset.source) == {"uri": "s3://bucket/data.csv"}
    assert json.loads(got.dataset.schema) == {"mlflow_colspec": [{"type": "double", "name": "x"}]}
    assert json.loads(got.dataset.profile) == {"num_rows": 3}
    assert {t.key: t.value for t in got.tags} == {CONTEXT: "training", "extra": "1"}


def test_log_same_dataset_twice_is_deduplicated(client, experiment_id):
    run = client.create_run(experiment_id)
    rid = run.info.run_id
    ds = _dataset("dedup", "d1")
    inp = DatasetInput(ds, tags=[InputTag(CONTEXT, "training")])
    client.log_inputs(rid, [inp])
    client.log_inputs(rid, [inp])
    assert len(client.get_run(rid).inputs.dataset_inputs) == 1
    # a different digest is a different dataset
    client.log_inputs(rid, [DatasetInput(_dataset("dedup", "d2"), tags=[InputTag(CONTEXT, "eval")])])
    got = client.get_run(rid).inputs.dataset_inputs
    assert sorted((i.dataset.name, i.dataset.digest) for i in got) == [("dedup", "d1"), ("dedup", "d2")]


def test_dataset_shared_between_runs(client, experiment_id):
    ds = _dataset("shared", "s1")
    r1 = client.create_run(experiment_id).info.run_id
    r2 = client.create_run(experiment_id).info.run_id
    client.log_inputs(r1, [DatasetInput(ds, tags=[InputTag(CONTEXT, "training")])])
    client.log_inputs(r2, [DatasetInput(ds, tags=[InputTag(CONTEXT, "testing")])])
    ctx1 = {t.key: t.value for t in client.get_run(r1).inputs.dataset_inputs[0].tags}
    ctx2 = {t.key: t.value for t in client.get_run(r2).inputs.dataset_inputs[0].tags}
    assert ctx1[CONTEXT] == "training"
    assert ctx2[CONTEXT] == "testing"


def test_search_runs_by_dataset(client, unique_name):
    exp_id = client.create_experiment(unique_name("dsearch"))
    a = client.create_run(exp_id).info.run_id
    b = client.create_run(exp_id).info.run_id
    client.create_run(exp_id)
    client.log_inputs(a, [DatasetInput(_dataset("alpha", "a1"), tags=[InputTag(CONTEXT, "training")])])
    client.log_inputs(b, [DatasetInput(_dataset("beta", "b1"), tags=[InputTag(CONTEXT, "eval")])])

    def ids(flt):
        return {r.info.run_id for r in client.search_runs([exp_id], filter_string=flt)}

    assert ids("dataset.name = 'alpha'") == {a}
    assert ids("datasets.digest = 'b1'") == {b}
    assert ids("dataset.context = 'training'") == {a}
    assert ids("dataset.name IN ('alpha', 'beta')") == {a, b}
    # search results carry the inputs too
    runs = client.search_runs([exp_id], filter_string="dataset.name = 'alpha'")
    assert [i.dataset.digest for i in runs[0].inputs.dataset_inputs] == ["a1"]


@needs_mlflow_data
def test_log_input_from_pandas(client, experiment_id):
    import pandas as pd

    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    dataset = mlflow.data.from_pandas(df, source="s3://bucket/frame.parquet", name="frame", targets="b")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training", tags={"split": "train"})
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    got = inputs[0]
    assert got.dataset.name == "frame"
    assert got.dataset.digest == dataset.digest
    assert got.dataset.source_type == "s3"
    assert json.loads(got.dataset.source) == json.loads(dataset.source.to_json())
    assert json.loads(got.dataset.schema) == json.loads(dataset.to_dict()["schema"])
    assert json.loads(got.dataset.profile) == {"num_rows": 3, "num_elements": 6}
    assert {t.key: t.value for t in got.tags} == {CONTEXT: "training", "split": "train"}


@needs_mlflow_data
def test_log_input_from_numpy(client, experiment_id):
    import numpy as np

    arr = np.arange(12, dtype=np.float64).reshape(4, 3)
    dataset = mlflow.data.from_numpy(arr, source="s3://bucket/arr.npy", name="arr")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="eval")
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("arr", dataset.digest)]
    assert {t.key: t.value for t in inputs[0].tags} == {CONTEXT: "eval"}
    assert json.loads(inputs[0].dataset.profile) == json.loads(dataset.to_dict()["profile"])

    # the dataset can be reconstructed client side from what the server returned
    source = mlflow.data.get_source(inputs[0])
    assert source.to_json() == dataset.source.to_json()

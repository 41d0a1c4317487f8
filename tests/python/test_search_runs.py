"""search_runs: paging, ordering, filters, view types; fluent and client API."""

import importlib.util
import math

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

pytestmark = pytest.mark.usefixtures("compat_env")

HAS_PANDAS = importlib.util.find_spec("pandas") is not None
T0 = 1_700_000_000_000


@pytest.fixture
def paging_runs(client, unique_name):
    """25 runs with strictly increasing start_time in a fresh experiment."""
    exp_id = client.create_experiment(unique_name("paging"))
    runs = []
    for i in range(25):
        run = client.create_run(exp_id, start_time=T0 + i * 1000, run_name=f"run-{i:02d}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("x", float(i), T0, 0)],
            params=[Param("idx", str(i))],
        )
        runs.append(run.info.run_id)
    return exp_id, runs


def _ids(runs):
    return [r.info.run_id for r in runs]


def test_paging_default_order(client, paging_runs):
    exp_id, runs = paging_runs
    expected = list(reversed(runs))  # start_time DESC

    seen = []
    sizes = []
    token = None
    for _ in range(10):
        page = client.search_runs([exp_id], max_results=10, page_token=token)
        sizes.append(len(page))
        seen.extend(_ids(page))
        token = page.token
        if not token:
            break
    assert sizes == [10, 10, 5]
    assert seen == expected

    everything = client.search_runs([exp_id])
    assert _ids(everything) == expected
    assert not everything.token
    exact = client.search_runs([exp_id], max_results=25)
    assert _ids(exact) == expected


def test_order_by(client, paging_runs):
    exp_id, runs = paging_runs
    asc = client.search_runs([exp_id], order_by=["metrics.x ASC"])
    assert _ids(asc) == runs
    desc = client.search_runs([exp_id], order_by=["metrics.x DESC"], max_results=5)
    assert _ids(desc) == list(reversed(runs))[:5]
    by_start = client.search_runs([exp_id], order_by=["attributes.start_time ASC"])
    assert _ids(by_start) == runs
    by_name = client.search_runs([exp_id], order_by=["attributes.run_name DESC"])
    assert [r.info.run_name for r in by_name] == [f"run-{i:02d}" for i in reversed(range(25))]
    # params are strings: lexicographic order
    by_param = client.search_runs([exp_id], order_by=["params.idx ASC"])
    assert [r.data.params["idx"] for r in by_param] == sorted(str(i) for i in range(25))


def test_order_by_paged(client, paging_runs):
    exp_id, runs = paging_runs
    first = client.search_runs([exp_id], order_by=["metrics.x ASC"], max_results=20)
    second = client.search_runs([exp_id], order_by=["metrics.x ASC"], max_results=20, page_token=first.token)
    assert _ids(first) + _ids(second) == runs
    assert not second.token


def test_tie_break_on_equal_start_time(client, unique_name):
    exp_id = client.create_experiment(unique_name("ties"))
    ids = [client.create_run(exp_id, start_time=T0).info.run_id for _ in range(6)]
    got = _ids(client.search_runs([exp_id]))
    assert got == sorted(ids)  # equal start_time -> run_id ascending


def test_order_by_metric_with_nan_and_missing(client, unique_name):
    exp_id = client.create_experiment(unique_name("nanorder"))
    r_low = client.create_run(exp_id, start_time=T0 + 1).info.run_id
    r_high = client.create_run(exp_id, start_time=T0 + 2).info.run_id
    r_nan = client.create_run(exp_id, start_time=T0 + 3).info.run_id
    r_missing = client.create_run(exp_id, start_time=T0 + 4).info.run_id
    client.log_metric(r_low, "score", 1.0, timestamp=T0)
    client.log_metric(r_high, "score", 5.0, timestamp=T0)
    client.log_metric(r_nan, "score", float("nan"), timestamp=T0)
    # MLflow puts NaN after real numbers and missing values last, in both directions
    asc = _ids(client.search_runs([exp_id], order_by=["metrics.score ASC"]))
    desc = _ids(client.search_runs([exp_id], order_by=["metrics.score DESC"]))
    assert asc == [r_low, r_high, r_nan, r_missing]
    assert desc == [r_high, r_low, r_nan, r_missing]


@pytest.fixture
def filter_runs(client, unique_name):
    exp_id = client.create_experiment(unique_name("filters"))
    r = {}
    specs = {
        "a": dict(x=0.5, p="a", t="v", status="FINISHED"),
        "b": dict(x=2.0, p="a", t="w", status="FAILED"),
        "c": dict(x=3.0, p="b", t="v", status="FINISHED"),
        "d": dict(x=None, p=None, t=None, status="RUNNING"),
    }
    for i, (name, spec) in enumerate(specs.items()):
        run = client.create_run(exp_id, run_name=f"filter-{name}", start_time=T0 + i)
        rid = run.info.run_id
        client.log_batch(
            rid,
            metrics=[Metric("x", spec["x"], T0, 0)] if spec["x"] is not None else [],
            params=[Param("p", spec["p"])] if spec["p"] else [],
            tags=[RunTag("t", spec["t"])] if spec["t"] else [],
        )
        if spec["status"] != "RUNNING":
            client.set_terminated(rid, status=spec["status"])
        r[name] = rid
    return exp_id, r


@pytest.mark.parametrize(
    "flt,expected",
    [
        ("metrics.x > 1", {"b", "c"}),
        ("metrics.x >= 2", {"b", "c"}),
        ("metrics.x < 1", {"a"}),
        ("metrics.x = 3", {"c"}),
        ("metrics.x != 3", {"a", "b"}),
        ("metric.x <= 2.0", {"a", "b"}),
        ("params.p = 'a'", {"a", "b"}),
        ("params.p != 'a'", {"c"}),
        ("param.p LIKE 'b%'", {"c"}),
        ("tags.t = 'v'", {"a", "c"}),
        ("tags.t ILIKE 'W'", {"b"}),
        ("tag.t != 'v'", {"b"}),
        ("attributes.status = 'FINISHED'", {"a", "c"}),
        ("attributes.status != 'FINISHED'", {"b", "d"}),
        ("status = 'RUNNING'", {"d"}),
        ("attributes.run_name = 'filter-b'", {"b"}),
        ("run_name = 'filter-c'", {"c"}),
        ("attributes.run_name LIKE 'filter-%'", {"a", "b", "c", "d"}),
        ("metrics.x > 1 AND params.p = 'a'", {"b"}),
        ("params.p = 'a' and tags.t = 'v'", {"a"}),
        ("tags.t IS NULL", {"d"}),
        ("params.p IS NOT NULL", {"a", "b", "c"}),
        ("tags.`t` = 'v'", {"a", "c"}),
        ("", {"a", "b", "c", "d"}),
    ],
)
def test_filters(client, filter_runs, flt, expected):
    exp_id, r = filter_runs
    got = {rid for rid in _ids(client.search_runs([exp_id], filter_string=flt))}
    assert got == {r[k] for k in expected}


def test_filter_by_run_id_in(client, filter_runs):
    exp_id, r = filter_runs
    flt = f"attributes.run_id IN ('{r['a']}', '{r['c']}')"
    assert set(_ids(client.search_runs([exp_id], filter_string=flt))) == {r["a"], r["c"]}


@pytest.mark.parametrize(
    "flt",
    [
        # (OR is a ferroflow extension: only filters both servers reject belong here.)
        "params.p > 'a' AND",
        "nonsense.x = 1",
        "params.p > 'a'",
        "metrics.x = 'abc'",
    ],
)
def test_invalid_filter_is_rejected(client, filter_runs, flt):
    exp_id, _ = filter_runs
    with pytest.raises(MlflowException) as exc:
        client.search_runs([exp_id], filter_string=flt)
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE", exc.value.message


def test_invalid_order_by_is_rejected(client, filter_runs):
    exp_id, _ = filter_runs
    with pytest.raises(MlflowException) as exc:
        client.search_runs([exp_id], order_by=["nonsense.x DESC"])
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE", exc.value.message


def test_search_across_experiments_and_view_types(client, unique_name):
    e1 = client.create_experiment(unique_name("multi"))
    e2 = client.create_experiment(unique_name("multi"))
    a = client.create_run(e1, start_time=T0 + 1).info.run_id
    b = client.create_run(e2, start_time=T0 + 2).info.run_id
    c = client.create_run(e2, start_time=T0 + 3).info.run_id
    client.delete_run(c)
    assert _ids(client.search_runs([e1, e2])) == [b, a]
    assert _ids(client.search_runs([e1, e2], run_view_type=ViewType.DELETED_ONLY)) == [c]
    assert _ids(client.search_runs([e1, e2], run_view_type=ViewType.ALL)) == [c, b, a]


def test_fluent_search_runs_list(client, paging_runs):
    exp_id, runs = paging_runs
    got = mlflow.search_runs(
        experiment_ids=[exp_id], filter_string="metrics.x >= 20", output_format="list"
    )
    assert _ids(got) == list(reversed(runs[20:]))
    assert got[0].data.params["idx"] == "24"


@pytest.mark.skipif(not HAS_PANDAS, reason="pandas not installed (mlflow-skinny venv)")
def test_fluent_search_runs_pandas(client, filter_runs):
    exp_id, r = filter_runs
    df = mlflow.search_runs(experiment_ids=[exp_id], order_by=["metrics.x DESC"])
    assert len(df) == 4
    assert list(df["run_id"]) == [r["c"], r["b"], r["a"], r["d"]]
    assert list(df["metrics.x"][:3]) == [3.0, 2.0, 0.5]
    assert math.isnan(df["metrics.x"].iloc[3])
    assert list(df["params.p"][:3]) == ["b", "a", "a"]
    assert list(df["status"]) == ["FINISHED", "FAILED", "FINISHED", "RUNNING"]
    assert list(df["tags.mlflow.runName"]) == ["filter-c", "filter-b", "filter-a", "filter-d"]
    assert df["experiment_id"].unique().tolist() == [exp_id]

    by_name_df = mlflow.search_runs(
        experiment_names=[client.get_experiment(exp_id).name], filter_string="params.p = 'a'"
    )
    assert set(by_name_df["run_id"]) == {r["a"], r["b"]}


def test_fluent_search_runs_uses_active_experiment(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_metric("only", 1.0)
    got = mlflow.search_runs(output_format="list")
    assert _ids(got) == [run.info.run_id]

"""Experiments: create/get/set/search/rename/delete/restore/tags via the real client."""

import time

import mlflow
import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

pytestmark = pytest.mark.usefixtures("compat_env")

# MlflowClient.delete_experiment_tag / mlflow.delete_experiment_tag are new in MLflow 3
requires_mlflow3 = pytest.mark.skipif(
    int(mlflow.__version__.split(".")[0]) < 3, reason="delete_experiment_tag does not exist in MLflow 2.x"
)


def now_ms():
    return int(time.time() * 1000)


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.experiment_id == "0"
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    assert client.get_experiment_by_name("Default").experiment_id == "0"


def test_set_experiment_creates_then_reuses(client, unique_name):
    name = unique_name("setexp")
    assert client.get_experiment_by_name(name) is None
    before = now_ms()
    exp = mlflow.set_experiment(name)
    after = now_ms()
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.experiment_id.isdigit() and exp.experiment_id != "0"
    assert before - 5000 <= exp.creation_time <= after + 5000
    assert exp.last_update_time >= exp.creation_time
    # the server chooses the artifact location: mlflow-artifacts:/<id> when proxying
    assert exp.artifact_location == f"mlflow-artifacts:/{exp.experiment_id}"

    again = mlflow.set_experiment(name)
    assert again.experiment_id == exp.experiment_id
    # setting by id works too
    by_id = mlflow.set_experiment(experiment_id=exp.experiment_id)
    assert by_id.name == name

    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == exp.experiment_id


def test_experiment_ids_are_increasing_integers(client, unique_name):
    ids = [int(client.create_experiment(unique_name("inc"))) for _ in range(3)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert ids[1] == ids[0] + 1 and ids[2] == ids[1] + 1


def test_create_experiment_with_tags_and_artifact_location(client, unique_name):
    name = unique_name("created")
    location = f"s3://compat-bucket/{name}"
    exp_id = client.create_experiment(name, artifact_location=location, tags={"team": "ml", "k.with.dots": "v 1"})
    assert isinstance(exp_id, str) and exp_id.isdigit()

    exp = client.get_experiment(exp_id)
    assert exp.experiment_id == exp_id
    assert exp.name == name
    assert exp.artifact_location == location
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"team": "ml", "k.with.dots": "v 1"}

    by_name = client.get_experiment_by_name(name)
    assert by_name.experiment_id == exp_id
    assert by_name.tags == exp.tags
    assert by_name.artifact_location == location

    # runs inherit <artifact_location>/<run_id>/artifacts
    run = client.create_run(exp_id)
    assert run.info.artifact_uri == f"{location}/{run.info.run_id}/artifacts"


def test_get_experiment_by_name_missing_returns_none(client, unique_name):
    assert client.get_experiment_by_name(unique_name("missing")) is None
    assert mlflow.get_experiment_by_name(unique_name("missing")) is None


def test_fluent_get_experiment(client, unique_name):
    name = unique_name("fluentget")
    exp_id = mlflow.create_experiment(name, tags={"a": "b"})
    exp = mlflow.get_experiment(exp_id)
    assert exp.name == name
    assert exp.tags == {"a": "b"}
    assert mlflow.get_experiment_by_name(name).experiment_id == exp_id


def test_experiment_tags_set_and_update(client, unique_name):
    exp_id = client.create_experiment(unique_name("tags"))
    client.set_experiment_tag(exp_id, "color", "red")
    client.set_experiment_tag(exp_id, "size", "L")
    assert client.get_experiment(exp_id).tags == {"color": "red", "size": "L"}
    client.set_experiment_tag(exp_id, "color", "blue")  # upsert
    assert client.get_experiment(exp_id).tags == {"color": "blue", "size": "L"}

    # fluent variant acts on the active experiment
    mlflow.set_experiment(experiment_id=exp_id)
    mlflow.set_experiment_tag("fluent", "yes")
    mlflow.set_experiment_tags({"x": "1", "y": "2"})
    assert client.get_experiment(exp_id).tags == {"color": "blue", "size": "L", "fluent": "yes", "x": "1", "y": "2"}


@requires_mlflow3
def test_delete_experiment_tag(client, unique_name):
    exp_id = client.create_experiment(unique_name("deltag"), tags={"color": "red", "size": "L"})
    client.delete_experiment_tag(exp_id, "color")
    assert client.get_experiment(exp_id).tags == {"size": "L"}
    mlflow.set_experiment(experiment_id=exp_id)
    mlflow.delete_experiment_tag("size")
    assert client.get_experiment(exp_id).tags == {}


@requires_mlflow3
def test_delete_missing_experiment_tag(client, unique_name):
    exp_id = client.create_experiment(unique_name("tagmiss"))
    with pytest.raises(MlflowException) as exc:
        client.delete_experiment_tag(exp_id, "never-set")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_rename_experiment(client, unique_name):
    old = unique_name("old")
    new = unique_name("new")
    exp_id = client.create_experiment(old)
    created = client.get_experiment(exp_id)
    time.sleep(0.01)
    client.rename_experiment(exp_id, new)
    exp = client.get_experiment(exp_id)
    assert exp.name == new
    assert exp.last_update_time >= created.last_update_time
    assert client.get_experiment_by_name(old) is None
    assert client.get_experiment_by_name(new).experiment_id == exp_id
    # the old name is free again
    other = client.create_experiment(old)
    assert other != exp_id


def test_rename_to_existing_name_fails(client, unique_name):
    a = unique_name("a")
    b = unique_name("b")
    client.create_experiment(a)
    b_id = client.create_experiment(b)
    with pytest.raises(MlflowException) as exc:
        client.rename_experiment(b_id, a)
    # MLflow surfaces the SQL unique-constraint failure as HTTP 400 BAD_REQUEST here
    # (not RESOURCE_ALREADY_EXISTS as on create)
    assert exc.value.error_code == "BAD_REQUEST"
    assert exc.value.get_http_status_code() == 400
    assert client.get_experiment(b_id).name == b


def test_delete_and_restore_experiment_cascades_to_runs(client, unique_name):
    name = unique_name("lifecycle")
    exp_id = client.create_experiment(name)
    r1 = client.create_run(exp_id)
    r2 = client.create_run(exp_id)
    client.delete_run(r2.info.run_id)  # deleted before the experiment

    client.delete_experiment(exp_id)
    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    # get-by-name still finds deleted experiments
    assert client.get_experiment_by_name(name).lifecycle_stage == "deleted"
    assert client.get_run(r1.info.run_id).info.lifecycle_stage == "deleted"
    assert client.get_run(r2.info.run_id).info.lifecycle_stage == "deleted"
    # the name stays taken while deleted
    with pytest.raises(MlflowException) as exc:
        client.create_experiment(name)
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert client.get_run(r1.info.run_id).info.lifecycle_stage == "active"
    # MLflow restores every run of the experiment, including ones deleted earlier
    assert client.get_run(r2.info.run_id).info.lifecycle_stage == "active"


def test_set_experiment_on_deleted_experiment_fails(client, unique_name):
    name = unique_name("setdeleted")
    exp_id = client.create_experiment(name)
    client.delete_experiment(exp_id)
    with pytest.raises(MlflowException):
        mlflow.set_experiment(name)


def _names(exps):
    return [e.name for e in exps]


def test_search_experiments_paging_and_default_order(client, unique_name):
    prefix = unique_name("page")
    created = []
    for i in range(7):
        name = f"{prefix}-{i}"
        created.append((name, client.create_experiment(name)))
        time.sleep(0.005)  # distinct creation_time
    flt = f"name LIKE '{prefix}-%'"

    pages = []
    token = None
    while True:
        page = client.search_experiments(filter_string=flt, max_results=3, page_token=token)
        pages.append(list(page))
        token = page.token
        if not token:
            break
        assert len(pages) < 10, "paging does not terminate"
    assert [len(p) for p in pages] == [3, 3, 1]
    flat = [e for p in pages for e in p]
    # default order: creation_time DESC (newest first)
    assert _names(flat) == [n for n, _ in reversed(created)]
    assert [e.experiment_id for e in flat] == [i for _, i in reversed(created)]

    # exactly one page when it fits -> no token
    whole = client.search_experiments(filter_string=flt, max_results=7)
    assert len(whole) == 7
    assert not whole.token

    # explicit order_by
    asc = client.search_experiments(filter_string=flt, order_by=["name ASC"])
    assert _names(asc) == sorted(n for n, _ in created)
    by_id = client.search_experiments(filter_string=flt, order_by=["experiment_id DESC"])
    assert [e.experiment_id for e in by_id] == sorted((i for _, i in created), key=int, reverse=True)


def test_search_experiments_filters(client, unique_name):
    prefix = unique_name("flt")
    a = client.create_experiment(f"{prefix}-alpha", tags={"kind": "x"})
    b = client.create_experiment(f"{prefix}-bravo", tags={"kind": "y"})
    c = client.create_experiment(f"{prefix}-Gamma")

    assert [e.experiment_id for e in client.search_experiments(filter_string=f"name = '{prefix}-alpha'")] == [a]
    got = {e.experiment_id for e in client.search_experiments(filter_string=f"name LIKE '{prefix}-%a'")}
    assert got == {a, c}
    # LIKE is case sensitive, ILIKE is not
    assert [e.experiment_id for e in client.search_experiments(filter_string=f"name LIKE '{prefix}-gamma'")] == []
    assert [e.experiment_id for e in client.search_experiments(filter_string=f"name ILIKE '{prefix}-gamma'")] == [c]
    got = {e.experiment_id for e in client.search_experiments(filter_string=f"name LIKE '{prefix}%' AND tags.kind = 'y'")}
    assert got == {b}
    got = {e.experiment_id for e in client.search_experiments(filter_string=f"name LIKE '{prefix}%' AND tags.kind != 'y'")}
    assert got == {a}
    # fluent API returns a list of Experiment entities
    fl = mlflow.search_experiments(filter_string=f"name LIKE '{prefix}%'")
    assert {e.experiment_id for e in fl} == {a, b, c}


def test_search_experiments_view_type(client, unique_name):
    prefix = unique_name("view")
    live = client.create_experiment(f"{prefix}-live")
    dead = client.create_experiment(f"{prefix}-dead")
    client.delete_experiment(dead)
    flt = f"name LIKE '{prefix}-%'"

    def ids(view_type=None):
        kwargs = {} if view_type is None else {"view_type": view_type}
        return {e.experiment_id for e in client.search_experiments(filter_string=flt, **kwargs)}

    assert ids() == {live}
    assert ids(ViewType.ACTIVE_ONLY) == {live}
    assert ids(ViewType.DELETED_ONLY) == {dead}
    assert ids(ViewType.ALL) == {live, dead}
    deleted = client.search_experiments(filter_string=flt, view_type=ViewType.DELETED_ONLY)
    assert [e.lifecycle_stage for e in deleted] == ["deleted"]


def test_search_experiments_invalid_filter(client):
    with pytest.raises(MlflowException) as exc:
        # Rejected by MLflow and ferroflow alike (OR alone would be a ferroflow extension).
        client.search_experiments(filter_string="name > 'a'")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"

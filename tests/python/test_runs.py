"""Run lifecycle: start/end, statuses, nesting, names, rename, delete/restore."""

import re
import time

import mlflow
import pytest
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException

pytestmark = pytest.mark.usefixtures("compat_env")

# MLflow draws the number with randint(0, 1000), both ends included, so 1000 occurs too.
GENERATED_NAME = re.compile(r"^[a-z]+-[a-z]+-(?:\d{1,3}|1000)$")


def now_ms():
    return int(time.time() * 1000)


def test_start_run_defaults(client, experiment_id):
    before = now_ms()
    with mlflow.start_run(run_name="explicit-name") as run:
        active = mlflow.active_run()
        assert active.info.run_id == run.info.run_id
        live = client.get_run(run.info.run_id)
        assert live.info.status == "RUNNING"
        assert live.info.end_time is None
    after = now_ms()

    info = client.get_run(run.info.run_id).info
    assert mlflow.active_run() is None
    assert re.fullmatch(r"[0-9a-f]{32}", info.run_id)
    assert info.experiment_id == experiment_id
    assert info.run_name == "explicit-name"
    assert info.status == "FINISHED"
    assert info.lifecycle_stage == "active"
    assert before - 5000 <= info.start_time <= info.end_time <= after + 5000
    assert info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{info.run_id}/artifacts"
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["mlflow.runName"] == "explicit-name"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert "mlflow.user" in tags
    assert info.user_id == tags["mlflow.user"]


@pytest.mark.parametrize("status", ["FINISHED", "FAILED", "KILLED"])
def test_end_run_with_status(client, experiment_id, status):
    run = mlflow.start_run()
    mlflow.end_run(status=status)
    info = client.get_run(run.info.run_id).info
    assert info.status == status
    assert info.end_time is not None and info.end_time >= info.start_time


def test_exception_in_context_marks_failed(client, experiment_id):
    with pytest.raises(ZeroDivisionError):
        with mlflow.start_run() as run:
            1 / 0
    assert client.get_run(run.info.run_id).info.status == "FAILED"


def test_set_terminated_and_update_run_status(client, experiment_id):
    run = client.create_run(experiment_id)
    assert run.info.status == "RUNNING"
    assert run.info.end_time is None
    client.update_run(run.info.run_id, status="SCHEDULED")
    assert client.get_run(run.info.run_id).info.status == "SCHEDULED"
    client.set_terminated(run.info.run_id, status="KILLED", end_time=1234567890123)
    info = client.get_run(run.info.run_id).info
    assert info.status == "KILLED"
    assert info.end_time == 1234567890123
    assert RunStatus.from_string(info.status) == RunStatus.KILLED


def test_nested_runs(client, experiment_id):
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            assert mlflow.active_run().info.run_id == child.info.run_id
            with mlflow.start_run(run_name="grandchild", nested=True) as grandchild:
                pass
        assert mlflow.active_run().info.run_id == parent.info.run_id
    child_run = client.get_run(child.info.run_id)
    grand_run = client.get_run(grandchild.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert grand_run.data.tags["mlflow.parentRunId"] == child.info.run_id
    assert "mlflow.parentRunId" not in client.get_run(parent.info.run_id).data.tags
    for r in (parent, child, grandchild):
        assert client.get_run(r.info.run_id).info.status == "FINISHED"

    children = client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in children] == [child.info.run_id]


def test_nested_start_without_flag_fails(experiment_id):
    with mlflow.start_run():
        with pytest.raises(Exception, match="already active"):
            mlflow.start_run()


def test_generated_run_name_fluent(client, experiment_id):
    with mlflow.start_run() as run:
        pass
    fetched = client.get_run(run.info.run_id)
    assert GENERATED_NAME.match(fetched.info.run_name), fetched.info.run_name
    assert fetched.data.tags["mlflow.runName"] == fetched.info.run_name
    assert run.info.run_name == fetched.info.run_name


def test_generated_run_name_server_side(client, experiment_id):
    # MlflowClient.create_run sends neither run_name nor mlflow.runName: the server generates one
    run = client.create_run(experiment_id)
    assert GENERATED_NAME.match(run.info.run_name), run.info.run_name
    assert run.data.tags["mlflow.runName"] == run.info.run_name
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.run_name == run.info.run_name
    assert fetched.data.tags["mlflow.runName"] == run.info.run_name
    names = {client.create_run(experiment_id).info.run_name for _ in range(5)}
    assert all(GENERATED_NAME.match(n) for n in names)


def test_run_name_from_tag_on_create(client, experiment_id):
    run = client.create_run(experiment_id, tags={"mlflow.runName": "from-tag"})
    assert run.info.run_name == "from-tag"
    assert client.get_run(run.info.run_id).info.run_name == "from-tag"


def test_explicit_run_name_client(client, experiment_id):
    run = client.create_run(experiment_id, run_name="my run 1", tags={"a": "b"}, start_time=1700000000000)
    assert run.info.run_name == "my run 1"
    assert run.info.start_time == 1700000000000
    assert run.data.tags["mlflow.runName"] == "my run 1"
    assert run.data.tags["a"] == "b"


def test_rename_via_set_tag(client, experiment_id):
    with mlflow.start_run(run_name="before") as run:
        mlflow.set_tag("mlflow.runName", "after-tag")
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.run_name == "after-tag"
    assert fetched.data.tags["mlflow.runName"] == "after-tag"

    client.set_tag(run.info.run_id, "mlflow.runName", "after-client-tag")
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.run_name == "after-client-tag"
    assert fetched.data.tags["mlflow.runName"] == "after-client-tag"


def test_rename_via_update_run(client, experiment_id):
    run = client.create_run(experiment_id, run_name="orig")
    client.update_run(run.info.run_id, name="renamed")
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.run_name == "renamed"
    assert fetched.data.tags["mlflow.runName"] == "renamed"
    assert fetched.info.status == "RUNNING"  # status untouched when not given

    client.update_run(run.info.run_id, status="FINISHED", name="renamed-again")
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.run_name == "renamed-again"
    assert fetched.data.tags["mlflow.runName"] == "renamed-again"
    assert fetched.info.status == "FINISHED"


def test_delete_and_restore_run(client, experiment_id):
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    # deleted runs are hidden from the default search but visible with ALL / DELETED_ONLY
    assert run_id not in [r.info.run_id for r in client.search_runs([experiment_id])]
    deleted = client.search_runs([experiment_id], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert run_id in [r.info.run_id for r in client.search_runs([experiment_id])]
    # a restored run accepts writes again
    client.log_param(run_id, "after_restore", "1")
    assert client.get_run(run_id).data.params == {"after_restore": "1"}


def test_fluent_delete_run(client, experiment_id):
    with mlflow.start_run() as run:
        pass
    mlflow.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"


def test_resume_run_by_id(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_param("first", "1")
    with mlflow.start_run(run_id=run.info.run_id) as resumed:
        assert resumed.info.run_id == run.info.run_id
        # resuming puts the run back to RUNNING
        assert client.get_run(run.info.run_id).info.status == "RUNNING"
        mlflow.log_param("second", "2")
    fetched = client.get_run(run.info.run_id)
    assert fetched.data.params == {"first": "1", "second": "2"}
    assert fetched.info.status == "FINISHED"


def test_writes_to_deleted_run_rejected(client, experiment_id):
    run = client.create_run(experiment_id)
    client.delete_run(run.info.run_id)
    for call in (
        lambda: client.log_param(run.info.run_id, "p", "v"),
        lambda: client.log_metric(run.info.run_id, "m", 1.0),
        lambda: client.set_tag(run.info.run_id, "t", "v"),
        lambda: client.log_batch(run.info.run_id, params=[mlflow.entities.Param("q", "1")]),
    ):
        with pytest.raises(MlflowException) as exc:
            call()
        assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
        assert "must be in the 'active' state" in exc.value.message
    assert client.get_run(run.info.run_id).data.params == {}

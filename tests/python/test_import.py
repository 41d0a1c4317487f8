"""`ferroflow import` from a real MLflow server's database: a real `mlflow server`
(local artifacts) is filled by the real client, its database imported into a fresh
ferroflow store, and both servers read back through the client must agree on every
experiment, run, metric history, dataset, logged model and model version, and serve the
same artifact bytes.

Runs under the mlflow 3 venv against ferroflow (it starts its own servers), twice: in
the SQLite pass the MLflow server and ferroflow keep SQLite files; in the PostgreSQL
pass (COMPAT_BACKEND=postgres) both keep a fresh database on the test PostgreSQL server,
and the import reads MLflow's PostgreSQL schema. The 2.x case fills the MLflow 3 server
with the mlflow-skinny 2.x client from its venv, as no 2.x server ships in the pinned
venvs."""

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import ViewType

from conftest import COMPAT_BACKEND, COMPAT_SERVER, IS_MLFLOW3, REPO_ROOT, BackendStore, ServerProcess

if not IS_MLFLOW3 or COMPAT_SERVER != "ferroflow":
    pytest.skip("runs under the mlflow 3 client, against ferroflow", allow_module_level=True)

FILL = Path(__file__).with_name("import_fill.py")
MLFLOW2_PYTHON = REPO_ROOT / ".venv" / "mlflow2" / "bin" / "python"


def ferroflow_bin() -> str:
    return os.environ.get("FERROFLOW_BIN") or str(REPO_ROOT / "target" / "debug" / "ferroflow")


def fill(server: ServerProcess, python: str, tag: str, points: int) -> dict:
    env = dict(os.environ, MLFLOW_TRACKING_URI=server.url, IMPORT_FILL_POINTS=str(points))
    done = subprocess.run([python, str(FILL), tag], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def ferroflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ferroflow_bin(), *args], capture_output=True, text=True, timeout=600)


def db_path(server: ServerProcess) -> Path:
    """The SQLite file a server keeps its metadata in (SQLite pass only)."""
    return Path(server.backend.uri.removeprefix("sqlite:///"))


@pytest.fixture(scope="module")
def started():
    servers = []
    stores = []

    def start(kind: str, backend: BackendStore | None = None, artifacts: Path | None = None) -> ServerProcess:
        server = ServerProcess(kind)
        if backend is not None:
            server.backend.drop()
            server.backend = backend
        if artifacts is not None:
            server.artifacts = artifacts
        servers.append(server)
        server.start(120.0)
        return server

    def new_store(tmp: Path) -> BackendStore:
        """A fresh, empty store of this pass's kind, for `ferroflow import --to`."""
        tmp.mkdir(parents=True, exist_ok=True)
        store = BackendStore(tmp)
        stores.append(store)
        return store

    start.new_store = new_store
    yield start
    for server in servers:
        server.stop()
        server.cleanup()
    for store in stores:
        store.drop()


def same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def snapshot(url: str, tmp: Path) -> dict:
    """Everything a client sees of a server, in a comparable form."""
    # models:/ URIs resolve through the global tracking URI (the registry URI follows it
    # while unset; setting it would outlive this module and mislead later ones).
    mlflow.set_tracking_uri(url)
    client = mlflow.MlflowClient(tracking_uri=url, registry_uri=url)
    out: dict = {"experiments": {}, "runs": {}, "histories": {}, "artifacts": {}, "models": {}, "versions": {}}
    experiments = client.search_experiments(view_type=ViewType.ALL)
    for e in experiments:
        out["experiments"][e.experiment_id] = (
            e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time, sorted(e.tags.items())
        )
    ids = [e.experiment_id for e in experiments]
    for run in client.search_runs(ids, run_view_type=ViewType.ALL, max_results=1000):
        info = run.info
        inputs = sorted(
            (d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source, d.dataset.schema,
             d.dataset.profile, sorted((t.key, t.value) for t in d.tags))
            for d in run.inputs.dataset_inputs
        )
        latest = {k: repr(v) for k, v in run.data.metrics.items()}
        out["runs"][info.run_id] = (
            info.experiment_id, info.run_name, info.user_id, info.status, info.start_time, info.end_time,
            info.lifecycle_stage, info.artifact_uri, sorted(run.data.params.items()), sorted(run.data.tags.items()),
            latest, inputs,
        )
        for key in run.data.metrics:
            history = sorted(
                ((m.step, m.timestamp, "nan" if math.isnan(m.value) else m.value.hex())
                 for m in client.get_metric_history(info.run_id, key)),
            )
            out["histories"][(info.run_id, key)] = history
        if info.lifecycle_stage == "active":
            target = tmp / info.run_id
            local = client.download_artifacts(info.run_id, "", str(target))
            files = {}
            for path in sorted(Path(local).rglob("*")):
                if path.is_file():
                    files[str(path.relative_to(local))] = path.read_bytes()
            out["artifacts"][info.run_id] = files
    if hasattr(client, "search_logged_models"):
        for model in client.search_logged_models(experiment_ids=ids):
            out["models"][model.model_id] = (
                model.name, model.experiment_id, model.source_run_id, str(model.status), model.creation_timestamp,
                model.artifact_location, sorted(model.tags.items()), sorted(model.params.items()),
            )
            target = tmp / model.model_id
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{model.model_id}", dst_path=str(target)
            )
            out["artifacts"][model.model_id] = {
                str(p.relative_to(local)): p.read_bytes() for p in sorted(Path(local).rglob("*")) if p.is_file()
            }
    for rm in client.search_registered_models():
        out["models"][rm.name] = (
            rm.creation_timestamp, rm.last_updated_timestamp, rm.description, sorted(rm.tags.items()),
            sorted(rm.aliases.items()),
        )
        for mv in client.search_model_versions(f"name = '{rm.name}'"):
            full = client.get_model_version(rm.name, mv.version)
            out["versions"][(rm.name, mv.version)] = (
                full.creation_timestamp, full.last_updated_timestamp, full.current_stage, full.source, full.run_id,
                full.status, sorted(full.tags.items()), sorted(full.aliases),
                client.get_model_version_download_uri(rm.name, mv.version),
            )
    return out


def assert_same(expected: dict, actual: dict) -> None:
    for part in expected:
        assert set(actual[part]) == set(expected[part]), part
        for key in expected[part]:
            assert actual[part][key] == expected[part][key], (part, key)


def import_and_compare(started, source: ServerProcess, made: dict, tmp: Path) -> ServerProcess:
    store = started.new_store(tmp / "target")
    # MLflow's own URI for its database: sqlite:///…, or postgresql://… in the PostgreSQL pass.
    done = ferroflow("import", "--from", source.backend.uri, "--to", store.uri)
    assert done.returncode == 0, done.stderr
    assert "runs" in done.stdout and f"{len(made['runs'])} runs" in done.stdout, done.stdout
    # The artifacts stay where the MLflow server put them: the same folder serves them.
    target = started("ferroflow", backend=store, artifacts=source.artifacts)
    before = snapshot(source.url, tmp / "mlflow")
    after = snapshot(target.url, tmp / "ferroflow")
    assert len(before["runs"]) == len(made["runs"])
    assert len(before["histories"]) >= len(made["runs"])
    assert_same(before, after)
    return target


def test_import_from_mlflow3_client_and_server(started, tmp_path):
    source = started("mlflow")
    made = fill(source, sys.executable, "three", 5000)
    target = import_and_compare(started, source, made, tmp_path)
    client = mlflow.MlflowClient(tracking_uri=target.url)
    # runs:/ and models:/ URIs keep working, and numbering goes on past deleted versions.
    assert client.get_model_version_by_alias(made["models"][0], "champion").version == "2"
    run_id = made["runs"][0]
    mlflow.set_tracking_uri(target.url)
    local = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/notes.txt", dst_path=str(tmp_path / "uri"))
    assert Path(local).read_text() == f"run {run_id}\n"
    created = client.create_model_version(made["models"][1], f"runs:/{run_id}/sub", run_id=run_id)
    assert created.version == "5"
    # A second import of the same source into the same store is a no-op.
    again = ferroflow("import", "--from", source.backend.uri, "--to", target.backend.uri)
    assert again.returncode == 0, again.stderr
    assert client.get_model_version(made["models"][1], "5").version == "5"
    assert len(client.search_runs([e for e in made["experiments"]], run_view_type=ViewType.ALL)) == len(made["runs"])


@pytest.mark.skipif(not MLFLOW2_PYTHON.exists(), reason="no mlflow2 venv")
def test_import_from_mlflow2_client(started, tmp_path):
    source = started("mlflow")
    made = fill(source, str(MLFLOW2_PYTHON), "two", 1000)
    assert not made["logged_models"]
    import_and_compare(started, source, made, tmp_path)


@pytest.mark.skipif(COMPAT_BACKEND != "sqlite", reason="edits a copy of the SQLite source")
def test_import_refuses_unknown_revision_and_busy_target(started, tmp_path):
    import shutil
    import sqlite3

    source = started("mlflow")
    fill(source, sys.executable, "refuse", 20)
    copy = tmp_path / "future.db"
    shutil.copy(db_path(source), copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    done = ferroflow("import", "--from", f"sqlite:///{copy}", "--to", f"sqlite:///{tmp_path / 'a.db'}")
    assert done.returncode != 0
    assert "unsupported MLflow schema revision ffffffffffff" in done.stderr, done.stderr
    assert "dc11669786a5" in done.stderr and "97727af70f4d" in done.stderr
    # A store that holds something else is refused without --merge, and taken with it.
    busy = tmp_path / "busy.db"
    other = started("ferroflow", backend=started.new_store(tmp_path / "busy"))
    busy = db_path(other)
    mlflow.MlflowClient(tracking_uri=other.url).create_experiment("already here")
    other.stop()
    done = ferroflow("import", "--from", f"sqlite:///{db_path(source)}", "--to", f"sqlite:///{busy}")
    assert done.returncode != 0
    assert "not empty" in done.stderr and "already here" in done.stderr and "--merge" in done.stderr, done.stderr
    done = ferroflow("import", "--from", f"sqlite:///{db_path(source)}", "--to", f"sqlite:///{busy}", "--merge")
    assert done.returncode != 0, "experiment 1 is taken by 'already here', another name"
    assert "is taken" in done.stderr, done.stderr

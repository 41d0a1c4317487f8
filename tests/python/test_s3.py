"""Artifacts on an S3-protocol store, with the real MLflow client.

A real S3 server (moto's, started by ``scripts/start-s3.sh`` on loopback) holds one
bucket.  Two tracking servers use it:

* proxied: ``--artifacts-destination s3://<bucket>/proxied``.  The client only talks to
  the tracking server (``mlflow-artifacts:/`` URIs); the server streams to S3.
* direct: ``--no-serve-artifacts --default-artifact-root s3://<bucket>/direct``.  The
  client writes to S3 itself (boto3, ``MLFLOW_S3_ENDPOINT_URL``).

Either way, what the client wrote is read back through the client and, with boto3,
straight from the bucket, byte for byte.  The servers are ferroflow, or real MLflow
with ``COMPAT_SERVER=mlflow``.  The module is skipped where boto3 is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import mlflow
import pytest
import requests

import conftest
from conftest import COMPAT_SERVER, IS_MLFLOW3, REPO_ROOT

boto3 = pytest.importorskip("boto3", reason="the S3 tests need boto3 in the client venv")

BUCKET = "ferroflow-compat"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def s3_endpoint():
    """A loopback S3 server with an empty bucket; yields its endpoint URL."""
    with conftest.s3_server(BUCKET) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


class TrackingServer:
    """ferroflow (or real MLflow) with extra flags and the S3 settings in its environment."""

    def __init__(self, extra_args: list[str], s3_endpoint: str):
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"compat-s3-{COMPAT_SERVER}-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = self.tmpdir / "server.stderr.log"
        self.backend = conftest.BackendStore(self.tmpdir)
        if COMPAT_SERVER == "ferroflow":
            binary = os.environ.get("FERROFLOW_BIN") or str(REPO_ROOT / "target" / "debug" / "ferroflow")
        else:
            binary = os.environ.get("MLFLOW_SERVER_BIN") or str(conftest.MLFLOW3_VENV_MLFLOW)
        cmd = [
            binary,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--backend-store-uri",
            self.backend.uri,
            *extra_args,
        ]
        env = dict(os.environ)
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
            env.pop(key, None)
        env.update(self.backend.server_env)
        env.update(S3_ENV, MLFLOW_S3_ENDPOINT_URL=s3_endpoint)
        with open(self.tmpdir / "server.stdout.log", "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                cmd, cwd=self.tmpdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
            )
        deadline = time.monotonic() + (30 if COMPAT_SERVER == "ferroflow" else 120)
        while True:
            if self.proc.poll() is not None:
                self.close()
                pytest.fail(f"{cmd} exited with {self.proc.returncode}:\n{self.stderr_tail()}", pytrace=False)
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.close()
                pytest.fail(f"{cmd} did not come up:\n{self.stderr_tail()}", pytrace=False)
            time.sleep(0.2)

    def stderr_tail(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-6000:]
        except OSError:
            return "<no stderr>"

    def close(self) -> None:
        conftest.stop_process_group(self.proc)
        self.backend.drop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


@pytest.fixture(scope="module")
def proxied_server(s3_endpoint):
    server = TrackingServer(["--artifacts-destination", f"s3://{BUCKET}/proxied"], s3_endpoint)
    yield server
    server.close()


@pytest.fixture(scope="module")
def direct_server(s3_endpoint):
    server = TrackingServer(
        ["--no-serve-artifacts", "--default-artifact-root", f"s3://{BUCKET}/direct"], s3_endpoint
    )
    yield server
    server.close()


def _reset_client():
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.tracking.fluent._active_experiment_id = None
    for key in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        os.environ.pop(key, None)


@pytest.fixture
def use_server(monkeypatch):
    """Points the client at a server (and, for direct writes, at the S3 endpoint)."""
    previous = mlflow.get_tracking_uri()

    def use(server: TrackingServer, s3_endpoint: str | None = None) -> mlflow.MlflowClient:
        _reset_client()
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        mlflow.set_tracking_uri(server.url)
        if s3_endpoint:
            monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3_endpoint)
            for key, value in S3_ENV.items():
                monkeypatch.setenv(key, value)
        else:
            # The proxied client must not be able to reach S3 itself.
            monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
        mlflow.set_experiment(f"s3-{uuid.uuid4().hex}")
        return mlflow.MlflowClient(tracking_uri=server.url)

    yield use
    _reset_client()
    mlflow.set_tracking_uri(previous)


# ----------------------------------------------------------------------------- helpers


def make_files(root: Path) -> dict[str, bytes]:
    files = {
        "weights.bin": os.urandom(300_000),
        "nested/config.json": b'{"lr": 0.1}',
        "nested/deeper/notes.txt": "\u00e7a va \u2713\n".encode(),
        "nested/with space.csv": b"a,b\n1,2\n",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def bucket_objects(s3, prefix: str) -> dict[str, bytes]:
    """Every object under ``prefix`` (relative key -> bytes)."""
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix.rstrip("/") + "/"):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            out[key[len(prefix.rstrip("/")) + 1 :]] = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return out


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def log_sklearn_model():
    """Logs a small model the way this client version does; returns (model, X, info)."""
    pytest.importorskip("sklearn")
    np = pytest.importorskip("numpy")
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] - X[:, 2] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    if IS_MLFLOW3:
        info = mlflow.sklearn.log_model(model, name="model")
    else:
        info = mlflow.sklearn.log_model(model, artifact_path="model")
    return model, X, info


def model_location(info, run) -> tuple[str, str]:
    """The model's artifact URI, and the key prefix of its files in the bucket."""
    if IS_MLFLOW3:
        location = mlflow.get_logged_model(info.model_id).artifact_location
    else:
        location = run.info.artifact_uri + "/model"
    if location.startswith("mlflow-artifacts:"):
        # Proxied: the destination's prefix, then the path inside the destination.
        return location, "proxied/" + location.split(":", 1)[1].lstrip("/")
    assert location.startswith(f"s3://{BUCKET}/"), location
    return location, location[len(f"s3://{BUCKET}/") :]


# ----------------------------------------------------------------------------- tests


def test_proxied_artifacts_land_in_the_bucket(proxied_server, s3, use_server, tmp_path):
    client = use_server(proxied_server)
    files = make_files(tmp_path / "src")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "src" / "weights.bin"))
        mlflow.log_artifacts(str(tmp_path / "src" / "nested"), artifact_path="nested")
        mlflow.log_text("proxied text", "notes/hello.txt")
    run_id = run.info.run_id
    experiment_id = run.info.experiment_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"

    # Back through the client.
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [
        ("nested", True),
        ("notes", True),
        ("weights.bin", False),
    ]
    assert {f.path: f.file_size for f in client.list_artifacts(run_id, "nested")} == {
        "nested/config.json": 11,
        "nested/deeper": None,
        "nested/with space.csv": 8,
    }
    (tmp_path / "dl").mkdir()
    local = Path(client.download_artifacts(run_id, "", str(tmp_path / "dl")))
    expected = dict(files, **{"notes/hello.txt": b"proxied text"})
    assert read_tree(local) == expected

    # Straight from the bucket: same keys, same bytes, under the destination's prefix.
    assert bucket_objects(s3, f"proxied/{experiment_id}/{run_id}/artifacts") == expected


def test_proxied_model_round_trip(proxied_server, s3, use_server, tmp_path):
    use_server(proxied_server)
    with mlflow.start_run() as run:
        model, X, info = log_sklearn_model()
    location, prefix = model_location(info, run)
    assert location.startswith("mlflow-artifacts:/"), location

    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert list(loaded.predict(X)) == list(model.predict(X))
    if IS_MLFLOW3:
        by_id = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
        assert list(by_id.predict(X)) == list(model.predict(X))

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=str(tmp_path)))
    in_bucket = bucket_objects(s3, prefix)
    assert "MLmodel" in in_bucket and "requirements.txt" in in_bucket, sorted(in_bucket)
    assert in_bucket == read_tree(local)


def test_proxied_delete_removes_objects(proxied_server, s3, use_server):
    use_server(proxied_server)
    with mlflow.start_run() as run:
        mlflow.log_text("a", "gone/a.txt")
        mlflow.log_text("b", "gone/sub/b.txt")
        mlflow.log_text("c", "kept.txt")
    prefix = f"proxied/{run.info.experiment_id}/{run.info.run_id}/artifacts"
    assert set(bucket_objects(s3, prefix)) == {"gone/a.txt", "gone/sub/b.txt", "kept.txt"}
    url = f"{proxied_server.url}/api/2.0/mlflow-artifacts/artifacts/{prefix[len('proxied/'):]}/gone"
    assert requests.delete(url, timeout=30).status_code == 200
    assert set(bucket_objects(s3, prefix)) == {"kept.txt"}


def test_direct_writes_go_straight_to_the_bucket(direct_server, s3, s3_endpoint, use_server, tmp_path):
    client = use_server(direct_server, s3_endpoint)
    files = make_files(tmp_path / "src")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(tmp_path / "src"))
        mlflow.log_dict({"k": [1, 2]}, "meta/d.json")
        model, X, info = log_sklearn_model()
    run_id = run.info.run_id
    experiment_id = run.info.experiment_id
    assert run.info.artifact_uri.startswith(f"s3://{BUCKET}/direct"), run.info.artifact_uri
    assert run.info.artifact_uri == f"s3://{BUCKET}/direct/{experiment_id}/{run_id}/artifacts"

    in_bucket = bucket_objects(s3, f"direct/{experiment_id}/{run_id}/artifacts")
    for rel, data in files.items():
        assert in_bucket[rel] == data, rel
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/meta/d.json") == {"k": [1, 2]}

    # The client reads S3 directly too.
    listed = {f.path for f in client.list_artifacts(run_id, "nested")}
    assert listed == {"nested/config.json", "nested/deeper", "nested/with space.csv"}
    (tmp_path / "dl").mkdir()
    local = Path(client.download_artifacts(run_id, "nested", str(tmp_path / "dl")))
    assert read_tree(local) == {k[len("nested/") :]: v for k, v in files.items() if k.startswith("nested/")}

    location, prefix = model_location(info, run)
    assert location.startswith(f"s3://{BUCKET}/direct/{experiment_id}/"), location
    model_files = bucket_objects(s3, prefix)
    assert "MLmodel" in model_files and "requirements.txt" in model_files, sorted(model_files)
    loaded = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    assert list(loaded.predict(X)) == list(model.predict(X))

    # Nothing went through a proxy.
    assert bucket_objects(s3, f"proxied/{experiment_id}/{run_id}") == {}

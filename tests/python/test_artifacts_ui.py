"""The web UI's artifact endpoints, and artifact listing through the tracking API for every
kind of root (issue 11).

One server for the module, started as many deployments start it: artifacts proxied into a
local destination, and ``--default-artifact-root`` set to the proxy's own URL,
``http://host:port/api/2.0/mlflow-artifacts/artifacts``.  Runs in the default experiment
get roots of that form; other experiments are created with a local path, a ``file://``
URI and (when an S3-protocol server can be started, ``scripts/start-s3.sh``) an
``s3://`` location, into which the real client writes directly.  Whatever the root,
``artifacts/list``, ``/get-artifact`` and ``upload-artifact`` must answer as MLflow's
server does: every test passes against ferroflow and, with ``COMPAT_SERVER=mlflow``,
against the real MLflow server.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import mlflow
import pytest
import requests

import conftest
from conftest import COMPAT_SERVER, IS_MLFLOW3, REPO_ROOT

BUCKET = "ferroflow-ui"
S3_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 16
TEN_MB = 10 * 1024 * 1024


# ----------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def s3_endpoint():
    """A loopback S3 server with a bucket."""
    with conftest.s3_server(BUCKET) as endpoint:
        yield endpoint


class ProxyRootServer(conftest.ServerProcess):
    """The suite's server, with the proxy's own URL as the default artifact root."""

    def command(self) -> list[str]:
        root = f"{self.url}/api/2.0/mlflow-artifacts/artifacts"
        return [*super().command(), "--default-artifact-root", root]


@pytest.fixture(scope="module")
def server(s3_endpoint):
    """Yields the running server; the S3 settings (when there is S3) are in the
    environment of the server and of the client, which writes ``s3://`` roots itself."""
    patch = pytest.MonkeyPatch()
    for key, value in {**S3_ENV, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint}.items():
        patch.setenv(key, value)
    process = ProxyRootServer(COMPAT_SERVER)
    try:
        process.start(30.0 if COMPAT_SERVER == "ferroflow" else 120.0)
    except RuntimeError as exc:
        process.cleanup()
        patch.undo()
        pytest.fail(str(exc), pytrace=False)
    patch.setenv("MLFLOW_TRACKING_URI", process.url)
    mlflow.set_tracking_uri(process.url)
    try:
        yield process
    finally:
        conftest._reset_client_state()
        process.stop()
        process.cleanup()
        patch.undo()


@pytest.fixture
def client(server):
    conftest._reset_client_state()
    mlflow.set_tracking_uri(server.url)
    yield mlflow.MlflowClient(tracking_uri=server.url)
    conftest._reset_client_state()


def new_experiment(client, artifact_location=None) -> str:
    return client.create_experiment(f"ui-{uuid.uuid4().hex}", artifact_location=artifact_location)


# ----------------------------------------------------------------------------- helpers


def list_via_api(server, run_id, path=None, prefix="/api/2.0/mlflow"):
    params = {"run_id": run_id}
    if path is not None:
        params["path"] = path
    response = requests.get(f"{server.url}{prefix}/artifacts/list", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def entries(listing):
    return [(f["path"], f["is_dir"], f.get("file_size")) for f in listing.get("files", [])]


def get_artifact(server, run_id, path, key="run_uuid"):
    return requests.get(f"{server.url}/get-artifact", params={key: run_id, "path": path}, timeout=30)


def upload(server, params, data):
    return requests.post(f"{server.url}/ajax-api/2.0/mlflow/upload-artifact", params=params, data=data, timeout=60)


def log_files(run_id, files: dict[str, bytes], tmp_path: Path):
    """Logs each file with the real client, at its relative path."""
    for rel, data in files.items():
        local = tmp_path / uuid.uuid4().hex / Path(rel).name
        local.parent.mkdir(parents=True)
        local.write_bytes(data)
        folder = str(Path(rel).parent) if "/" in rel else None
        mlflow.MlflowClient().log_artifact(run_id, str(local), artifact_path=folder)


def log_plot(run_id):
    """`log_image` where this client can (it needs Pillow), else the same file logged."""
    try:
        import numpy as np
        import PIL  # noqa: F401
    except ImportError:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "plot.png"
            path.write_bytes(PNG)
            mlflow.MlflowClient().log_artifact(run_id, str(path), artifact_path="images")
        return
    mlflow.MlflowClient().log_image(run_id, np.zeros((4, 4, 3), dtype=np.uint8), artifact_file="images/plot.png")


def assert_lists_every_level(server, run_id, expected_root):
    """The root and `images/` through both API prefixes, as the UI and clients list them."""
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        listing = list_via_api(server, run_id, prefix=prefix)
        assert listing["root_uri"] == expected_root
        assert set(listing) == {"root_uri", "files"}
        assert [(p, d) for p, d, _ in entries(listing)] == [
            ("images", True),
            ("notes", True),
            ("report.json", False),
        ]
        for images in ("images", "images/"):
            (image,) = entries(list_via_api(server, run_id, images, prefix=prefix))
            assert image[:2] == ("images/plot.png", False) and image[2] > 0, image
        assert entries(list_via_api(server, run_id, "notes", prefix=prefix)) == [("notes/hello.txt", False, 5)]
        # A file, or a folder that is not there, lists as nothing.
        assert set(list_via_api(server, run_id, "notes/hello.txt", prefix=prefix)) == {"root_uri"}
        assert set(list_via_api(server, run_id, "nope", prefix=prefix)) == {"root_uri"}


def log_standard_run(client, experiment_id):
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"accuracy": 0.9}, "report.json")
        log_plot(run.info.run_id)
    return run


# ----------------------------------------------------------------------------- tests


def test_the_proxy_url_root_is_listed_through_the_tracking_api(server, client):
    run = log_standard_run(client, "0")
    root = run.info.artifact_uri
    assert root == f"{server.url}/api/2.0/mlflow-artifacts/artifacts/0/{run.info.run_id}/artifacts"
    assert_lists_every_level(server, run.info.run_id, root)
    # The client's own listing agrees.
    assert [f.path for f in client.list_artifacts(run.info.run_id, "images")] == ["images/plot.png"]


def test_local_and_file_roots_written_by_the_client_are_listed(server, client, tmp_path):
    for location in (str(tmp_path / "local root"), (tmp_path / "file-root").as_uri()):
        run = log_standard_run(client, new_experiment(client, location))
        assert run.info.artifact_uri.startswith(location), run.info.artifact_uri
        assert_lists_every_level(server, run.info.run_id, run.info.artifact_uri)
        response = get_artifact(server, run.info.run_id, "notes/hello.txt")
        assert response.status_code == 200 and response.content == b"hello"
        assert upload(server, {"run_uuid": run.info.run_id, "path": "ui/u.txt"}, b"ui").status_code == 200
        on_disk = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="ui/u.txt"))
        assert on_disk.read_bytes() == b"ui"


def test_s3_roots_are_listed_served_and_written(server, client, s3_endpoint):
    import boto3

    prefix = f"ui-{uuid.uuid4().hex}"
    run = log_standard_run(client, new_experiment(client, f"s3://{BUCKET}/{prefix}"))
    assert run.info.artifact_uri.startswith(f"s3://{BUCKET}/{prefix}/"), run.info.artifact_uri
    assert_lists_every_level(server, run.info.run_id, run.info.artifact_uri)
    response = get_artifact(server, run.info.run_id, "report.json")
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/plain"
    assert response.json() == {"accuracy": 0.9}
    assert upload(server, {"run_uuid": run.info.run_id, "path": "ui/u.txt"}, b"ui").status_code == 200
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    key = run.info.artifact_uri[len(f"s3://{BUCKET}/"):] + "/ui/u.txt"
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"ui"


# MLflow's `_guess_mime_type`: text formats (`.js` among them) and the extension-less
# MLmodel and MLproject are text/plain, others by extension, unknown ones binary. (MLflow's
# list spells the project file `mlproject`, so MLflow serves `MLproject` as binary, which
# ferroflow does not copy: see the test below.)
CONTENT_TYPES = {
    "a.txt": "text/plain",
    "model/MLmodel": "text/plain",
    "project/mlproject": "text/plain",
    "images/x.png": "image/png",
    "report.pdf": "application/pdf",
    "model/model.pkl": "application/octet-stream",
    "code.js": "text/plain",
    "page.html": "text/html",
    "conda.yaml": "text/plain",
}


def test_get_artifact_answers_with_mlflows_content_types_and_headers(server, client, tmp_path):
    run = client.create_run("0")
    files = {path: f"body of {path}".encode() for path in CONTENT_TYPES}
    log_files(run.info.run_id, files, tmp_path)
    for path, content_type in CONTENT_TYPES.items():
        for key in ("run_uuid", "run_id"):
            response = get_artifact(server, run.info.run_id, path, key=key)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["Content-Type"] == content_type, path
            disposition = response.headers["Content-Disposition"]
            assert disposition.startswith("attachment; filename="), disposition
            assert Path(path).name in disposition, disposition
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.content == files[path]


def test_mlproject_is_text(server, client, tmp_path):
    run = client.create_run("0")
    log_files(run.info.run_id, {"MLproject": b"name: demo\n"}, tmp_path)
    response = get_artifact(server, run.info.run_id, "MLproject")
    assert response.status_code == 200 and response.content == b"name: demo\n"
    # On purpose: MLflow's `_TEXT_EXTENSIONS` means the MLproject file but spells it
    # `mlproject`, so the real server answers application/octet-stream.
    expected = "text/plain" if COMPAT_SERVER == "ferroflow" else "application/octet-stream"
    assert response.headers["Content-Type"] == expected


def test_get_artifact_refuses_traversals_and_names_missing_files(server, client, tmp_path):
    run = client.create_run("0")
    log_files(run.info.run_id, {"images/a.png": PNG}, tmp_path)
    for bad in ("../secret.txt", "../../../../etc/passwd", "/etc/passwd", "%2e%2e/%2e%2e/secret",
                "images/../../../secret", "%252e%252e%252fsecret"):
        response = get_artifact(server, run.info.run_id, bad)
        assert response.status_code == 400, (bad, response.status_code, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert response.json()["message"].startswith("Invalid path"), response.text
    missing = get_artifact(server, run.info.run_id, "images/b.png")
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    folder = get_artifact(server, run.info.run_id, "images")
    assert folder.status_code == 400
    assert folder.json()["message"].startswith("Artifact path refers to a directory, not a file"), folder.text
    unknown = get_artifact(server, "0" * 32, "a.txt")
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # Served at the root only, not under the API prefixes.
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        params = {"run_uuid": run.info.run_id, "path": "images/a.png"}
        assert requests.get(f"{server.url}{prefix}/get-artifact", params=params, timeout=30).status_code == 404


def test_upload_artifact_round_trip(server, client):
    run = client.create_run("0")
    payload = b'{"columns": ["a"], "data": [[1]]}'
    response = upload(server, {"run_uuid": run.info.run_id, "path": "eval/table.json"}, payload)
    assert response.status_code == 200, response.text
    assert response.content == b""
    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="eval/table.json")
    assert Path(local).read_bytes() == payload
    assert entries(list_via_api(server, run.info.run_id, "eval")) == [("eval/table.json", False, len(payload))]
    assert get_artifact(server, run.info.run_id, "eval/table.json").content == payload


def test_upload_artifact_validates_as_mlflow_does(server, client):
    run_id = client.create_run("0").info.run_id

    def refused(params, data, status=400):
        response = upload(server, params, data)
        assert response.status_code == status, (params, response.status_code, response.text)
        return response.json()

    assert refused({"run_id": run_id, "path": "a.txt"}, b"x")["message"] == "Request must specify run_uuid."
    assert refused({"run_uuid": run_id}, b"x")["message"] == "Request must specify path."
    assert refused({"run_uuid": run_id, "path": "a.txt"}, b"")["message"] == "Request must specify data."
    assert refused({"run_uuid": run_id, "path": "../a.txt"}, b"x")["message"].startswith("Invalid path")
    too_large = refused({"run_uuid": run_id, "path": "big.bin"}, b"0" * (TEN_MB + 1))
    assert too_large["error_code"] == "INVALID_PARAMETER_VALUE"
    assert too_large["message"] == "Artifact size is too large. Max size is 10MB."
    assert refused({"run_uuid": "0" * 32, "path": "a.txt"}, b"x", 404)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert set(list_via_api(server, run_id)) == {"root_uri"}, "a refused upload stored something"
    assert upload(server, {"run_uuid": run_id, "path": "exact.bin"}, b"1" * TEN_MB).status_code == 200


def test_model_version_artifacts(server, client, tmp_path):
    run = client.create_run("0")
    log_files(run.info.run_id, {"model/MLmodel": b"flavors: {}\n", "model/model.pkl": b"\x80\x04."}, tmp_path)
    name = f"ui-model-{uuid.uuid4().hex}"
    client.create_registered_model(name)
    # The run's root URL, as MLflow 2's `register_model("runs:/…")` sends it; it is on the
    # host of the server's own default artifact root, so it is accepted.
    by_url = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    by_runs_uri = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    for version in (by_url.version, by_runs_uri.version):
        response = requests.get(f"{server.url}/model-versions/get-artifact",
                                params={"name": name, "version": version, "path": "MLmodel"}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "text/plain"
        assert response.content == b"flavors: {}\n"
    pkl = requests.get(f"{server.url}/model-versions/get-artifact",
                       params={"name": name, "version": by_url.version, "path": "model.pkl"}, timeout=30)
    assert pkl.headers["Content-Type"] == "application/octet-stream" and pkl.content == b"\x80\x04."
    for params, status in (({"name": name, "version": "99", "path": "MLmodel"}, 404),
                           ({"name": name, "version": "x", "path": "MLmodel"}, 400),
                           ({"name": name, "version": by_url.version, "path": "../MLmodel"}, 400)):
        response = requests.get(f"{server.url}/model-versions/get-artifact", params=params, timeout=30)
        assert response.status_code == status, (params, response.text)


@pytest.mark.skipif(not IS_MLFLOW3, reason="logged models are MLflow 3's")
def test_logged_model_files_and_directories(server, client, tmp_path):
    experiment_id = new_experiment(client)
    model = client.create_logged_model(experiment_id, name="ui-model")
    source = tmp_path / "model"
    (source / "data").mkdir(parents=True)
    (source / "MLmodel").write_bytes(b"flavors: {}\n")
    (source / "data" / "model.pkl").write_bytes(b"\x80\x04.")
    client.log_model_artifacts(model.model_id, str(source))

    base = f"{server.url}/ajax-api/2.0/mlflow/logged-models/{model.model_id}/artifacts"
    response = requests.get(f"{base}/files", params={"artifact_file_path": "MLmodel"}, timeout=30)
    assert response.status_code == 200 and response.content == b"flavors: {}\n"
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["Content-Disposition"].startswith("attachment")
    pkl = requests.get(f"{base}/files", params={"artifact_file_path": "data/model.pkl"}, timeout=30)
    assert pkl.headers["Content-Type"] == "application/octet-stream"
    missing = requests.get(f"{base}/files", timeout=30)
    assert missing.status_code == 400 and missing.json()["error_code"] == "BAD_REQUEST"
    traversal = requests.get(f"{base}/files", params={"artifact_file_path": "../../x"}, timeout=30)
    assert traversal.status_code == 400

    for listing_base in (base, f"{server.url}/api/2.0/mlflow/logged-models/{model.model_id}/artifacts"):
        top = requests.get(f"{listing_base}/directories", timeout=30).json()
        assert set(top) == {"root_uri", "files"}, top  # no next_page_token: one level is one page
        assert top["root_uri"] == model.artifact_location
        assert entries(top) == [("MLmodel", False, 12), ("data", True, None)]
        assert requests.get(f"{listing_base}/directories", params={"page_token": "x"}, timeout=30).json() == top
        sub = requests.get(f"{listing_base}/directories", params={"artifact_directory_path": "data"}, timeout=30)
        assert entries(sub.json()) == [("data/model.pkl", False, 3)]

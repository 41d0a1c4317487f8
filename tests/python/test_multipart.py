"""Proxied multipart upload (``mlflow-artifacts/mpu/*``) with the real MLflow client.

The client uses multipart upload for a file of at least
``MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`` bytes when the server says
``multipart_uploads_enabled`` in server-info (3.x clients) or when
``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true`` (any client).  The thresholds are
lowered here so that a few-MiB file goes out in several parallel parts.

Against real MLflow with a local artifact destination the server refuses
``mpu/create`` with "Multipart upload is not supported ..." and the client falls
back to a single PUT: the round trips still hold there, only the assertions that
multipart upload was really used are ferroflow-specific.
"""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

import conftest
from conftest import COMPAT_SERVER, IS_MLFLOW3

pytestmark = pytest.mark.usefixtures("compat_env")

CHUNK = 256 * 1024
FERROFLOW = COMPAT_SERVER == "ferroflow"


@pytest.fixture
def small_multipart_thresholds(monkeypatch):
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(1024 * 1024))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(CHUNK))
    if not IS_MLFLOW3:
        # 2.x clients never read server-info: multipart upload is opt-in only.
        monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")


@pytest.fixture
def mpu_calls(monkeypatch):
    """Records the client's multipart calls: create, each part PUT, complete, abort."""
    calls = {"create": [], "part": [], "complete": [], "abort": []}
    repo = HttpArtifactRepository
    original_create = repo.create_multipart_upload
    original_complete = repo.complete_multipart_upload
    original_abort = repo.abort_multipart_upload
    original_part = repo._upload_part

    def create(self, local_file, num_parts=1, artifact_path=None):
        response = original_create(self, local_file, num_parts, artifact_path)
        calls["create"].append((num_parts, response))
        return response

    def complete(self, local_file, upload_id, parts=None, artifact_path=None):
        calls["complete"].append((upload_id, parts))
        return original_complete(self, local_file, upload_id, parts, artifact_path)

    def abort(self, local_file, upload_id, artifact_path=None):
        calls["abort"].append(upload_id)
        return original_abort(self, local_file, upload_id, artifact_path)

    def upload_part(credential, local_file, size, start_byte):
        part = original_part(credential, local_file, size, start_byte)
        calls["part"].append(part)
        return part

    monkeypatch.setattr(repo, "create_multipart_upload", create)
    monkeypatch.setattr(repo, "complete_multipart_upload", complete)
    monkeypatch.setattr(repo, "abort_multipart_upload", abort)
    monkeypatch.setattr(repo, "_upload_part", staticmethod(upload_part))
    return calls


def _write_random(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def _server_log(*needles: str) -> list[str]:
    """The lines of the server's log that contain every one of ``needles``."""
    server = conftest._CURRENT_SERVER
    assert server is not None
    lines = server.stderr_path.read_text(errors="replace").splitlines()
    return [line for line in lines if all(n in line for n in needles)]


def _server_info(base_url: str) -> dict:
    resp = requests.get(base_url + "/api/3.0/mlflow/server-info", timeout=10)
    assert resp.status_code == 200
    return resp.json()


def test_server_info_advertises_multipart_upload(base_url):
    info = _server_info(base_url)
    if FERROFLOW:
        assert info["multipart_uploads_enabled"] is True
        # Downloads stay plain streamed GETs.
        assert info["multipart_downloads_enabled"] is False
    else:
        assert info["multipart_uploads_enabled"] is False


def test_large_artifact_goes_up_in_parts_and_comes_back_identical(
    base_url, experiment_id, tmp_path, small_multipart_thresholds, mpu_calls
):
    size = 5 * CHUNK * 4 + 12345  # 21 parts, the last one short
    big = _write_random(tmp_path / "src" / "weights.bin", size)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(big), artifact_path="model")
        mlflow.log_artifact(str(_write_random(tmp_path / "src" / "small.txt", 100)))

    if FERROFLOW:
        # One multipart upload for the big file (not for the small one), every part sent.
        assert len(mpu_calls["create"]) == 1, mpu_calls
        num_parts, created = mpu_calls["create"][0]
        assert num_parts == 21
        assert [c.part_number for c in created.credentials] == list(range(1, 22))
        assert all(c.url.startswith(base_url + "/api/2.0/mlflow-artifacts/mpu/part/") for c in created.credentials)
        assert sorted(p.part_number for p in mpu_calls["part"]) == list(range(1, 22))
        assert all(p.etag for p in mpu_calls["part"])
        assert len(mpu_calls["complete"]) == 1
        assert mpu_calls["abort"] == []
        # The server saw the same: one create, 21 part PUTs, one complete, all answered 200.
        upload_id = created.upload_id
        created_log = _server_log("multipart upload created", upload_id, "num_parts=21")
        parts_log = _server_log(f"method=PUT path=/api/2.0/mlflow-artifacts/mpu/part/{upload_id}/", "status=200")
        completed_log = _server_log("multipart upload completed", upload_id, f"size={size}")
        assert (len(created_log), len(parts_log), len(completed_log)) == (1, 21, 1)

    client = mlflow.MlflowClient()
    listing = {f.path: f for f in client.list_artifacts(run.info.run_id, "model")}
    assert listing["model/weights.bin"].file_size == size
    out = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=str(tmp_path / "dst")))
    assert filecmp.cmp(big, out / "model" / "weights.bin", shallow=False)
    assert (out / "small.txt").stat().st_size == 100
    # No trace of the staging area anywhere the client can look.
    top = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert top == {"model", "small.txt"}
    root = requests.get(base_url + "/api/2.0/mlflow-artifacts/artifacts", timeout=10).json()
    assert ".ferroflow-mpu" not in str(root)


@pytest.mark.skipif(not IS_MLFLOW3, reason="2.x clients have no server-info auto-detection")
def test_forcing_multipart_off_uses_a_single_put(
    base_url, experiment_id, tmp_path, small_multipart_thresholds, mpu_calls, monkeypatch
):
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "false")
    big = _write_random(tmp_path / "big.bin", 5 * CHUNK)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(big))
    assert mpu_calls["create"] == []
    out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="big.bin", dst_path=str(tmp_path / "d"))
    assert filecmp.cmp(big, out, shallow=False)


def test_log_artifacts_directory_with_forced_multipart(
    base_url, experiment_id, tmp_path, small_multipart_thresholds, mpu_calls, monkeypatch
):
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    src = tmp_path / "ckpt"
    files = [
        _write_random(src / "a.bin", 6 * CHUNK),  # exactly 6 parts
        _write_random(src / "nested" / "b.bin", 4 * CHUNK + 1),  # 5 parts, the last of 1 byte
        _write_random(src / "nested" / "c.json", 10),
    ]
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(src), artifact_path="ckpt")
    if FERROFLOW:
        assert sorted(n for n, _ in mpu_calls["create"]) == [5, 6]
        assert len(mpu_calls["complete"]) == 2
    out = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="ckpt", dst_path=str(tmp_path / "d")))
    for f in files:
        assert filecmp.cmp(f, out / f.relative_to(src), shallow=False), f


@pytest.mark.skipif(not FERROFLOW, reason="real MLflow refuses mpu/create for a local destination")
def test_a_failed_part_aborts_the_upload(base_url, experiment_id, tmp_path, small_multipart_thresholds, mpu_calls, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    original_part = HttpArtifactRepository._upload_part  # the recording wrapper

    def flaky(credential, local_file, size, start_byte):
        if credential.part_number == 2:
            raise requests.ConnectionError("simulated network failure")
        return original_part(credential, local_file, size, start_byte)

    monkeypatch.setattr(HttpArtifactRepository, "_upload_part", staticmethod(flaky))
    big = _write_random(tmp_path / "doomed.bin", 4 * CHUNK)
    with mlflow.start_run() as run:
        with pytest.raises(Exception, match="Failed to upload at least one part"):
            mlflow.log_artifact(str(big))
    assert len(mpu_calls["create"]) == 1
    upload_id = mpu_calls["create"][0][1].upload_id
    assert mpu_calls["abort"] == [upload_id]
    assert mpu_calls["complete"] == []
    assert mlflow.MlflowClient().list_artifacts(run.info.run_id) == []
    # The aborted upload is gone: its part URLs no longer accept bytes.
    url = mpu_calls["create"][0][1].credentials[0].url
    assert requests.put(url, data=b"late", timeout=10).status_code == 404


@pytest.mark.skipif(not IS_MLFLOW3, reason="2.x clients have no proxied multipart download")
def test_opt_in_multipart_download_fetches_ranges(base_url, experiment_id, tmp_path, monkeypatch):
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

    # Not advertised by server-info; a client can still ask for it.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE", str(100_000))
    used = []
    original = MlflowArtifactsRepository._multipart_download

    def spy(self, presigned_response, remote_file_path, local_path, file_size, chunk_size):
        used.append((presigned_response.url, file_size, chunk_size))
        return original(self, presigned_response, remote_file_path, local_path, file_size, chunk_size)

    monkeypatch.setattr(MlflowArtifactsRepository, "_multipart_download", spy)
    big = _write_random(tmp_path / "src" / "data bin.dat", 1_234_567)
    empty = _write_random(tmp_path / "src" / "empty.txt", 0)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(tmp_path / "src"), artifact_path="d")
    out = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="d", dst_path=str(tmp_path / "dst")))
    assert filecmp.cmp(big, out / "data bin.dat", shallow=False)
    assert filecmp.cmp(empty, out / "empty.txt", shallow=False)
    if FERROFLOW:
        sizes = sorted(size for _, size, _ in used)
        assert sizes == [0, 1_234_567], used
        assert all(url.startswith(base_url + "/api/2.0/mlflow-artifacts/mpd/") for url, _, _ in used)

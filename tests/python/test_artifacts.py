"""Proxied artifacts with the real MLflow client: files and folders, models, and the
``log_*`` helpers that write artifacts (images, figures, dicts, text, tables).

Every upload is read back through the client (list + download) and compared byte for
byte.  Runs against ferroflow (default) and real MLflow (``COMPAT_SERVER=mlflow``),
under both pinned clients; a test needing a package the mlflow-skinny 2.x venv lacks
is skipped there through ``pytest.importorskip``.
"""

from __future__ import annotations

import filecmp
import json
import logging
import os
import posixpath
import re
from pathlib import Path

import mlflow
import pytest
import requests
import yaml
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from conftest import COMPAT_SERVER, IS_MLFLOW3

pytestmark = pytest.mark.usefixtures("compat_env")

FERROFLOW_ONLY = pytest.mark.skipif(COMPAT_SERVER != "ferroflow", reason="ferroflow is stricter than MLflow here")

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


# ----------------------------------------------------------------------------- helpers


def make_tree(root: Path) -> dict[str, bytes]:
    """A nested folder of small files; returns {relative posix path: bytes}."""
    files = {
        "top.txt": b"top level\n",
        "data/values.csv": b"a,b\n1,2\n3,4\n",
        "data/raw/blob.bin": os.urandom(4096),
        "data/raw/deeper/deepest/leaf.json": b'{"leaf": true}',
        "empty.txt": b"",
        "unicode/h\u00e9llo w\u00f6rld.txt": "\u00e7a marche \u2713\n".encode(),
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def walk_listing(client, run_id: str, path: str | None = None) -> dict[str, int | None]:
    """Every file under ``path`` in a run, recursively, through ``list_artifacts``.

    An empty file's size is ``None``: MLflow's server leaves the field out for 0 bytes.
    """
    out = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            assert info.file_size is None, info
            out.update(walk_listing(client, run_id, info.path))
        else:
            out[info.path] = info.file_size
    return out


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def proxy_path(artifact_uri: str) -> str:
    """``mlflow-artifacts:/1/abc/artifacts`` -> ``1/abc/artifacts``."""
    assert artifact_uri.startswith("mlflow-artifacts:"), artifact_uri
    return re.sub(r"^mlflow-artifacts:(//[^/]*)?/", "", artifact_uri)


def training_data():
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 3] > 0).astype(int)
    return X, y


def trained_model():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    X, y = training_data()
    return LogisticRegression().fit(X, y), X


# ----------------------------------------------------------------------------- files and folders


def test_log_artifact_and_log_artifacts_round_trip(client, experiment_id, tmp_path):
    src = tmp_path / "src"
    files = make_tree(src)
    single = tmp_path / "model.bin"
    single.write_bytes(os.urandom(100_000))

    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifact(str(single), artifact_path="nested/copy")
        mlflow.log_artifacts(str(src), artifact_path="tree")
        mlflow.log_artifacts(str(src / "data"))  # into the root
    run_id = run.info.run_id
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/"), run.info.artifact_uri
    assert run.info.artifact_uri.endswith(f"/{run_id}/artifacts")

    # Listing: one level at a time, run-relative paths, sizes for files only.
    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [
        ("model.bin", False),
        ("nested", True),
        ("raw", True),
        ("tree", True),
        ("values.csv", False),
    ]
    assert {f.path: f.file_size for f in top if not f.is_dir} == {"model.bin": 100_000, "values.csv": 12}
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id, "tree/data")] == [
        ("tree/data/raw", True),
        ("tree/data/values.csv", False),
    ]
    expected_sizes = {f"tree/{rel}": len(data) or None for rel, data in files.items()}
    assert walk_listing(client, run_id, "tree") == expected_sizes
    assert walk_listing(client, run_id, "nested") == {"nested/copy/model.bin": 100_000}

    # Downloads: a whole folder, a nested folder, single files; bytes identical.
    dst = tmp_path / "dst"
    dst.mkdir()
    local = Path(client.download_artifacts(run_id, "tree", str(dst)))
    assert local == dst / "tree"
    assert read_tree(local) == files
    local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="tree/data/raw"))
    assert read_tree(local) == {k[len("data/raw/") :]: v for k, v in files.items() if k.startswith("data/raw/")}
    one = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="nested/copy/model.bin"))
    assert filecmp.cmp(one, single, shallow=False)
    whole = Path(mlflow.artifacts.download_artifacts(artifact_uri=run.info.artifact_uri, dst_path=str(tmp_path / "all")))
    assert read_tree(whole / "tree") == files
    assert (whole / "model.bin").read_bytes() == single.read_bytes()
    assert (whole / "raw" / "blob.bin").read_bytes() == files["data/raw/blob.bin"]


def test_listing_missing_and_file_paths(client, experiment_id, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with mlflow.start_run() as run:
        pass
    run_id = run.info.run_id
    assert client.list_artifacts(run_id) == []
    assert client.list_artifacts(run_id, "no/such/dir") == []
    client.log_artifact(run_id, str(tmp_path / "f.txt"), "d")
    assert [f.path for f in client.list_artifacts(run_id, "d")] == ["d/f.txt"]
    # Listing a file lists nothing.
    assert client.list_artifacts(run_id, "d/f.txt") == []


def test_overwrite_and_delete_through_the_repository(client, experiment_id, tmp_path):
    with mlflow.start_run() as run:
        mlflow.log_text("first", "dir/a.txt")
        mlflow.log_text("keep", "dir/sub/b.txt")
        mlflow.log_text("second", "dir/a.txt")
        mlflow.log_text("other", "other.txt")
    run_id = run.info.run_id
    path = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="dir/a.txt"))
    assert path.read_text() == "second"

    repo = get_artifact_repository(run.info.artifact_uri)
    repo.delete_artifacts("dir/sub")
    assert walk_listing(client, run_id) == {"dir/a.txt": 6, "other.txt": 5}
    repo.delete_artifacts("dir")
    assert walk_listing(client, run_id) == {"other.txt": 5}


def test_proxy_rest_surface(client, experiment_id, base_url):
    """The raw proxy as the client uses it: PUT raw bytes, GET with attachment headers,
    list by ``?path=`` with basenames, 404 JSON for a missing file."""
    with mlflow.start_run() as run:
        mlflow.log_text("hello proxy", "docs/readme.txt")
        mlflow.log_dict({"a": 1}, "docs/conf.json")
    root = proxy_path(run.info.artifact_uri)

    resp = requests.get(f"{base_url}{PROXY}/{root}/docs/readme.txt", timeout=30)
    assert resp.status_code == 200
    assert resp.content == b"hello proxy"
    assert resp.headers["Content-Type"].split(";")[0] == "text/plain"
    assert re.fullmatch(r'attachment; filename="?readme\.txt"?', resp.headers["Content-Disposition"])
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    resp = requests.get(f"{base_url}{PROXY}/{root}/docs/conf.json", timeout=30)
    assert resp.headers["Content-Type"].split(";")[0] == "text/plain"
    assert json.loads(resp.content) == {"a": 1}

    listing = requests.get(f"{base_url}{PROXY}", params={"path": f"{root}/docs"}, timeout=30).json()
    assert listing == {
        "files": [
            {"path": "conf.json", "is_dir": False, "file_size": len(resp.content)},
            {"path": "readme.txt", "is_dir": False, "file_size": 11},
        ]
    }
    assert requests.get(f"{base_url}{PROXY}", params={"path": f"{root}/nothing"}, timeout=30).json() == {}

    missing = requests.get(f"{base_url}{PROXY}/{root}/docs/missing.txt", timeout=30)
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    # A PUT body is stored as is, whatever its content type says.
    put = requests.put(
        f"{base_url}{PROXY}/{root}/raw/data.bin",
        data=b"\x00\x01binary\xff",
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert put.status_code == 200
    assert [f.path for f in client.list_artifacts(run.info.run_id, "raw")] == ["raw/data.bin"]

    # The run listing RPC: run-relative paths and the run's root.
    body = requests.get(
        f"{base_url}/api/2.0/mlflow/artifacts/list",
        params={"run_id": run.info.run_id, "path": "docs"},
        timeout=30,
    ).json()
    assert body["root_uri"] == run.info.artifact_uri
    assert [(f["path"], f["is_dir"]) for f in body["files"]] == [("docs/conf.json", False), ("docs/readme.txt", False)]


@pytest.mark.parametrize(
    "bad",
    [
        "../secret",
        "a/../../secret",
        "%2e%2e/secret",
        "%252e%252e/secret",
        "x%23y",
        # MLflow on Linux takes these (a leading `//` collapses, `\\` is no separator there,
        # control characters are escaped); ferroflow refuses them outright.
        pytest.param("/etc/passwd", marks=FERROFLOW_ONLY),
        pytest.param("a\\..\\b", marks=FERROFLOW_ONLY),
        pytest.param("a%00b", marks=FERROFLOW_ONLY),
    ],
)
def test_proxy_refuses_paths_that_leave_the_root(base_url, bad):
    """MLflow's `validate_path_is_safe`: 400 Invalid path (or 404), never the file.
    (crates/ferroflow-server/tests/security_paths.rs has the full set, sent raw.)"""
    for method in ("GET", "PUT", "DELETE"):
        resp = requests.request(method, f"{base_url}{PROXY}/{bad}", data=b"x", timeout=30)
        assert resp.status_code in (400, 404), (method, bad, resp.status_code, resp.text)
        assert "root:" not in resp.text
    resp = requests.get(f"{base_url}{PROXY}", params={"path": bad}, timeout=30)
    assert resp.status_code in (400, 404), (bad, resp.status_code, resp.text)


# ----------------------------------------------------------------------------- models


@pytest.mark.skipif(not IS_MLFLOW3, reason="`name=` and LoggedModels are MLflow 3 APIs")
def test_sklearn_log_model_and_load_by_run_and_model_uri(client, experiment_id, base_url, tmp_path):
    model, X = trained_model()
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model")
    run_id = run.info.run_id
    model_id = info.model_id
    assert model_id.startswith("m-")
    assert info.model_uri == f"models:/{model_id}"

    logged = mlflow.get_logged_model(model_id)
    assert logged.artifact_location.startswith("mlflow-artifacts:/")
    assert logged.artifact_location.endswith(f"/{experiment_id}/models/{model_id}/artifacts")
    assert logged.source_run_id == run_id
    # The files live under the LoggedModel, not the run's artifacts.
    assert "model" not in [f.path for f in client.list_artifacts(run_id)]

    expected = model.predict(X)
    by_run = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    by_model = mlflow.pyfunc.load_model(f"models:/{model_id}")
    assert list(by_run.predict(X)) == list(expected)
    assert list(by_model.predict(X)) == list(expected)
    assert list(mlflow.sklearn.load_model(f"models:/{model_id}").predict_proba(X)[:, 1]) == list(
        model.predict_proba(X)[:, 1]
    )

    # Listing the model's files: the client, and the REST endpoint the UI uses.
    names = {f.path for f in client.list_logged_model_artifacts(model_id)}
    # The serialized model is model.pkl or (3.x default) model.skops.
    assert "MLmodel" in names and "requirements.txt" in names, names
    assert names & {"model.pkl", "model.skops"}, names
    resp = requests.get(f"{base_url}/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories", timeout=30)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["root_uri"] == logged.artifact_location
    assert {f["path"] for f in body["files"]} == names

    # Downloading the model directory gives the same bytes as the proxy serves.
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{model_id}", dst_path=str(tmp_path)))
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    assert "sklearn" in mlmodel["flavors"] and "python_function" in mlmodel["flavors"]
    raw = requests.get(f"{base_url}{PROXY}/{proxy_path(logged.artifact_location)}/MLmodel", timeout=30)
    assert raw.content == (local / "MLmodel").read_bytes()


@pytest.mark.skipif(IS_MLFLOW3, reason="the run-artifact model layout of MLflow 2.x clients")
def test_sklearn_log_model_in_run_artifacts_mlflow2(client, experiment_id, tmp_path):
    model, X = trained_model()
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, artifact_path="model")
    run_id = run.info.run_id
    assert info.model_uri == f"runs:/{run_id}/model"
    listing = walk_listing(client, run_id, "model")
    assert "model/MLmodel" in listing and "model/model.pkl" in listing, listing
    loaded = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    assert list(loaded.predict(X)) == list(model.predict(X))
    local = Path(client.download_artifacts(run_id, "model", str(tmp_path)))
    assert yaml.safe_load((local / "MLmodel").read_text())["run_id"] == run_id


class Collected(logging.Handler):
    """Keeps the messages of a logger that does not propagate (MLflow's do not)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.skipif(IS_MLFLOW3, reason="MLflow 2.x clients record logged models with runs/log-model")
def test_mlflow2_log_model_records_the_history_tag(client, experiment_id):
    model, _ = trained_model()
    warnings_seen = Collected()
    logging.getLogger("mlflow").addHandler(warnings_seen)
    try:
        with mlflow.start_run() as run:
            mlflow.sklearn.log_model(model, artifact_path="model")
            mlflow.sklearn.log_model(model, artifact_path="second")
    finally:
        logging.getLogger("mlflow").removeHandler(warnings_seen)
    # The client warns when the server cannot record the model.
    assert not [m for m in warnings_seen.messages if "Logging model metadata to the tracking server" in m]
    history = json.loads(client.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])
    assert [entry["artifact_path"] for entry in history] == ["model", "second"]
    for entry in history:
        assert entry["run_id"] == run.info.run_id
        assert {"python_function", "sklearn"} <= set(entry["flavors"])
        assert all("config" not in flavor for flavor in entry["flavors"].values())
        assert entry["utc_time_created"]


# ----------------------------------------------------------------------------- log_* helpers


def test_log_image_numpy_round_trip(client, experiment_id):
    np = pytest.importorskip("numpy")
    pytest.importorskip("PIL")
    from PIL import Image

    image = (np.arange(16 * 24 * 3).reshape(16, 24, 3) % 256).astype(np.uint8)
    with mlflow.start_run() as run:
        mlflow.log_image(image, artifact_file="images/gradient.png")
    run_id = run.info.run_id
    assert [f.path for f in client.list_artifacts(run_id, "images")] == ["images/gradient.png"]
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="images/gradient.png")
    assert Path(local).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(np.asarray(Image.open(local)), image)


def test_log_figure_round_trip(client, experiment_id):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1, 2], [2, 0, 1])
    try:
        with mlflow.start_run() as run:
            mlflow.log_figure(fig, "figures/line.png")
            mlflow.log_figure(fig, "figures/line.svg")
    finally:
        plt.close(fig)
    run_id = run.info.run_id
    listing = {f.path: f.file_size for f in client.list_artifacts(run_id, "figures")}
    assert set(listing) == {"figures/line.png", "figures/line.svg"}
    assert all(size and size > 0 for size in listing.values())
    png = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="figures/line.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size == listing["figures/line.png"]
    svg = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="figures/line.svg"))
    assert "<svg" in svg.read_text()


def test_log_dict_and_log_text_round_trip(client, experiment_id):
    config = {"lr": 0.01, "layers": [64, 32], "name": "r\u00e9seau", "nested": {"ok": True, "none": None}}
    text = "line one\nligne deux \u2713\n\u65e5\u672c\u8a9e\n"
    with mlflow.start_run() as run:
        mlflow.log_dict(config, "config/params.json")
        mlflow.log_dict(config, "config/params.yaml")
        mlflow.log_text(text, "notes/readme.md")
        mlflow.log_text("", "notes/empty.txt")
    run_id = run.info.run_id
    assert walk_listing(client, run_id) == {
        "config/params.json": len(json.dumps(config, indent=2).encode()),
        "config/params.yaml": pytest.approx(len(yaml.safe_dump(config).encode()), abs=64),
        "notes/readme.md": len(text.encode()),
        "notes/empty.txt": None,
    }
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config/params.json") == config
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="config/params.yaml")
    assert yaml.safe_load(Path(path).read_text()) == config
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/readme.md") == text
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/empty.txt") == ""


def test_log_table_round_trip(client, experiment_id):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1, 2, 3], "label": ["a", "b", "\u00e7"], "score": [0.5, 0.25, 1.0]})
    with mlflow.start_run() as run:
        mlflow.log_table(data=df, artifact_file="tables/eval.json")
        mlflow.log_table(data={"k": ["v1", "v2"], "n": [1, 2]}, artifact_file="tables/dict.json")
    run_id = run.info.run_id
    assert {f.path for f in client.list_artifacts(run_id, "tables")} == {"tables/eval.json", "tables/dict.json"}
    stored = json.loads(Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="tables/eval.json")).read_text())
    assert stored["columns"] == ["x", "label", "score"]
    assert stored["data"] == [[1, "a", 0.5], [2, "b", 0.25], [3, "\u00e7", 1.0]]
    loaded = mlflow.load_table("tables/eval.json", run_ids=[run_id])
    loaded = loaded[[c for c in df.columns]]
    pd.testing.assert_frame_equal(loaded.reset_index(drop=True), df, check_dtype=False)
    # log_table records what it logged on the run.
    tag = client.get_run(run_id).data.tags.get("mlflow.loggedArtifacts")
    assert tag is not None and {e["path"] for e in json.loads(tag)} == {"tables/eval.json", "tables/dict.json"}


def test_artifact_paths_with_spaces_and_unicode(client, experiment_id, tmp_path):
    name = "r\u00e9sum\u00e9 final (v2).txt"
    f = tmp_path / name
    f.write_text("content \u2713")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(f), artifact_path="with space/\u00fcml\u00e4ut")
    run_id = run.info.run_id
    expected = posixpath.join("with space/\u00fcml\u00e4ut", name)
    assert walk_listing(client, run_id) == {expected: len("content \u2713".encode())}
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=expected)
    assert Path(local).read_text() == "content \u2713"

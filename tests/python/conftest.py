"""Fixtures for the ferroflow <-> MLflow client compatibility suite.

Every test module gets a fresh tracking server (fresh temp dir, fresh metadata
store, fresh artifact destination) on a free loopback port.  Which server is
started is chosen by the ``COMPAT_SERVER`` environment variable:

* ``ferroflow`` (default): ``$FERROFLOW_BIN`` (default
  ``<repo>/target/debug/ferroflow``)
* ``mlflow``: the real ``mlflow server`` from the pinned mlflow3 venv.  This is
  how the suite itself is validated: every test must pass against real MLflow.

The metadata store is chosen by ``COMPAT_BACKEND``:

* ``sqlite`` (default): a fresh SQLite file in the server's temp dir.
* ``postgres``: a fresh database per server on the PostgreSQL server at
  ``$FERROFLOW_TEST_POSTGRES_URL`` (run the suite inside
  ``scripts/with-postgres.sh``), created and dropped with ``psql``.  ferroflow
  only: the pinned venvs have no PostgreSQL driver for the real MLflow server.

The tests run under both pinned client venvs (``mlflow==3.17.2`` and
``mlflow-skinny==2.22.5``).
"""

from __future__ import annotations

import base64
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

# Fail fast on 5xx instead of retrying with backoff for minutes.  Set before
# the mlflow client is used; the client reads these on every request.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "30"
# Keep the output of the suite quiet / deterministic.
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

import mlflow  # noqa: E402
import mlflow.tracking._model_registry.utils as _registry_utils  # noqa: E402
import mlflow.tracking.fluent as _fluent  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
MLFLOW3_VENV_MLFLOW = REPO_ROOT / ".venv" / "mlflow3" / "bin" / "mlflow"

COMPAT_SERVER = os.environ.get("COMPAT_SERVER", "ferroflow").strip().lower() or "ferroflow"
if COMPAT_SERVER not in ("ferroflow", "mlflow"):
    raise RuntimeError(f"COMPAT_SERVER must be 'ferroflow' or 'mlflow', got {COMPAT_SERVER!r}")

COMPAT_BACKEND = os.environ.get("COMPAT_BACKEND", "sqlite").strip().lower() or "sqlite"
if COMPAT_BACKEND not in ("sqlite", "postgres"):
    raise RuntimeError(f"COMPAT_BACKEND must be 'sqlite' or 'postgres', got {COMPAT_BACKEND!r}")
if COMPAT_BACKEND == "postgres" and COMPAT_SERVER != "ferroflow":
    raise RuntimeError("COMPAT_BACKEND=postgres needs COMPAT_SERVER=ferroflow (no PostgreSQL driver in the venvs)")

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])
IS_MLFLOW3 = MLFLOW_MAJOR >= 3

# The server under test (only one at a time: modules run sequentially).
_CURRENT_SERVER: "ServerProcess | None" = None


def stop_process_group(proc: subprocess.Popen) -> None:
    """Stops a process started in its own session, and everything it started."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            pass


@contextmanager
def s3_server(bucket: str):
    """A loopback S3-protocol server (moto, from the mlflow3 venv) with an empty
    ``bucket``, started by scripts/start-s3.sh; yields its endpoint URL."""
    if not (REPO_ROOT / ".venv" / "mlflow3" / "bin" / "moto_server").exists():
        pytest.fail("moto_server is missing from .venv/mlflow3: run scripts/setup-python.sh", pytrace=False)
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        ["bash", str(REPO_ROOT / "scripts" / "start-s3.sh"), "--bucket", bucket],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        start_new_session=True,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()  # blocks until ready (or the script died)
        if not line.startswith("S3_ENDPOINT_URL="):
            proc.wait(timeout=10)
            log.seek(0)
            pytest.fail(f"start-s3.sh failed: {line!r}\n{log.read().decode(errors='replace')[-4000:]}", pytrace=False)
        yield line.split("=", 1)[1]
    finally:
        stop_process_group(proc)
        log.close()


def _psql() -> str:
    found = shutil.which("psql") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), reverse=True)), None)
    if not found:
        raise RuntimeError("COMPAT_BACKEND=postgres: psql not found (on PATH or in /usr/lib/postgresql/*/bin)")
    return found


def _postgres_admin(sql: str) -> None:
    server = os.environ.get("FERROFLOW_TEST_POSTGRES_URL")
    if not server:
        raise RuntimeError("COMPAT_BACKEND=postgres: FERROFLOW_TEST_POSTGRES_URL is unset (run inside scripts/with-postgres.sh)")
    done = subprocess.run(
        [_psql(), "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-q", "-d", server, "-c", sql],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"psql {sql!r} failed ({done.returncode}): {done.stderr.strip()}")


class BackendStore:
    """A fresh, empty metadata store for one server: an SQLite file in ``tmpdir``, or
    (``COMPAT_BACKEND=postgres``) a new database on the test PostgreSQL server."""

    def __init__(self, tmpdir: Path):
        self.database: str | None = None
        # Extra environment for a ferroflow server on this store.
        self.server_env: dict[str, str] = {}
        if COMPAT_BACKEND == "sqlite":
            self.uri = f"sqlite:///{tmpdir / 'db.sqlite'}"  # absolute path -> sqlite:////abs/...
            return
        name = f"compat_{uuid.uuid4().hex}"
        _postgres_admin(f"CREATE DATABASE {name}")
        self.database = name
        server = urllib.parse.urlsplit(os.environ["FERROFLOW_TEST_POSTGRES_URL"])
        # SQLAlchemy's psycopg2 spelling, as MLflow users write it: the real `mlflow server`
        # (the import test's source) needs a driver it has, and ferroflow accepts it too.
        self.uri = urllib.parse.urlunsplit(server._replace(scheme="postgresql+psycopg2", path=f"/{name}"))
        # On PostgreSQL, ferroflow seals webhook secrets only with a key from the
        # environment (replicas share it; it is never kept in the database).
        self.server_env["FERROFLOW_WEBHOOK_SECRET_KEY"] = base64.b64encode(os.urandom(32)).decode()

    def drop(self) -> None:
        """Drops the database (after the server stopped; FORCE ends any connection left)."""
        if self.database is not None:
            name, self.database = self.database, None
            try:
                _postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            except RuntimeError as exc:  # a leftover database must not fail the test
                print(f"compat: {exc}", file=sys.stderr)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mlflow_server_executable() -> str:
    override = os.environ.get("MLFLOW_SERVER_BIN")
    if override:
        return override
    # Only the full mlflow 3 package ships a usable `mlflow server`; the
    # mlflow-skinny 2.x venv must borrow the one from the mlflow3 venv.
    if IS_MLFLOW3:
        candidate = Path(sys.executable).parent / "mlflow"
        if candidate.exists():
            return str(candidate)
    return str(MLFLOW3_VENV_MLFLOW)


class ServerProcess:
    """A server on a free port. ``extra_args``/``extra_env`` add flags and environment;
    ``share_with`` runs a second replica on another server's store and artifacts."""

    def __init__(
        self,
        kind: str,
        extra_args: tuple[str, ...] = (),
        extra_env: dict[str, str] | None = None,
        share_with: "ServerProcess | None" = None,
    ):
        self.kind = kind
        self.extra_args = tuple(extra_args)
        self.extra_env = dict(extra_env or {})
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"compat-{kind}-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.owns_backend = share_with is None
        self.backend = BackendStore(self.tmpdir) if share_with is None else share_with.backend
        self.artifacts = self.tmpdir / "artifacts" if share_with is None else share_with.artifacts
        self.stdout_path = self.tmpdir / "server.stdout.log"
        self.stderr_path = self.tmpdir / "server.stderr.log"
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        args = [
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--backend-store-uri",
            self.backend.uri,
            "--artifacts-destination",
            str(self.artifacts),
            *self.extra_args,
        ]
        if self.kind == "ferroflow":
            binary = os.environ.get("FERROFLOW_BIN") or str(REPO_ROOT / "target" / "debug" / "ferroflow")
            if not Path(binary).exists():
                pytest.exit(
                    f"ferroflow binary not found at {binary} (set FERROFLOW_BIN or build it; "
                    "or use COMPAT_SERVER=mlflow)",
                    returncode=2,
                )
            return [binary, *args]
        exe = _mlflow_server_executable()
        if not Path(exe).exists():
            pytest.exit(f"mlflow server executable not found at {exe}", returncode=2)
        return [exe, *args]

    def stderr_tail(self, max_chars: int = 20000) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return "<no server stderr>"
        return text[-max_chars:]

    def start(self, timeout: float) -> None:
        env = dict(os.environ)
        # The server must not inherit client-side settings of the test process.
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
            env.pop(key, None)
        env.update(self.backend.server_env)
        env.update(self.extra_env)
        cmd = self.command()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.tmpdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # own process group: we kill the whole tree
            )
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} server exited early with code {self.proc.returncode}\n"
                    f"command: {' '.join(cmd)}\n--- server stderr ---\n{self.stderr_tail()}"
                )
            try:
                resp = requests.get(self.url + "/health", timeout=2)
                if resp.status_code == 200 and resp.text.strip() == "OK":
                    return
                last_error = f"HTTP {resp.status_code}: {resp.text[:200]!r}"
            except requests.RequestException as exc:  # not listening yet
                last_error = repr(exc)
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"{self.kind} server did not answer GET /health with OK within {timeout:.0f}s "
            f"(last: {last_error})\ncommand: {' '.join(cmd)}\n--- server stderr ---\n{self.stderr_tail()}"
        )

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        # Signal the process group we created (the server and any workers it
        # spawned), even if the leader already exited.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def cleanup(self) -> None:
        if self.owns_backend:
            self.backend.drop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def _startup_timeout() -> float:
    env = os.environ.get("COMPAT_STARTUP_TIMEOUT")
    if env:
        return float(env)
    # ferroflow must be up within 30 s; the real MLflow server (gunicorn/uvicorn
    # workers, job runner) is given more slack on a loaded machine.
    return 30.0 if COMPAT_SERVER == "ferroflow" else 120.0


def _reset_client_state() -> None:
    while mlflow.active_run() is not None:
        mlflow.end_run()
    _fluent._active_experiment_id = None
    # A registry URI set by one module must not send the next module's registry calls to
    # a server that is gone (it follows the tracking URI while unset).
    _registry_utils._registry_uri = None
    for key in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID", "MLFLOW_REGISTRY_URI"):
        os.environ.pop(key, None)


@pytest.fixture(scope="module")
def tracking_server():
    """A fresh server per test module; yields its base URL.

    Not autouse: modules of this suite opt in with
    ``pytestmark = pytest.mark.usefixtures("compat_env")`` so that other test
    modules in this directory that manage their own servers are unaffected.
    """
    global _CURRENT_SERVER
    server = ServerProcess(COMPAT_SERVER)
    try:
        server.start(_startup_timeout())
    except RuntimeError as exc:
        server.cleanup()
        pytest.fail(str(exc), pytrace=False)
    except BaseException:
        server.stop()
        server.cleanup()
        raise
    _CURRENT_SERVER = server
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    _reset_client_state()
    try:
        yield server.url
    finally:
        try:
            _reset_client_state()
        except Exception:
            pass
        mp.undo()
        _CURRENT_SERVER = None
        server.stop()
        server.cleanup()


@pytest.fixture
def compat_env(tracking_server):
    """Per-test: point the fluent API at this module's server, no active run/experiment."""
    _reset_client_state()
    mlflow.set_tracking_uri(tracking_server)
    yield
    _reset_client_state()


@pytest.fixture
def base_url(compat_env, tracking_server) -> str:
    return tracking_server


@pytest.fixture
def client(compat_env, tracking_server):
    return mlflow.MlflowClient(tracking_uri=tracking_server)


@pytest.fixture
def unique_name():
    def make(prefix: str = "compat") -> str:
        return f"{prefix}-{uuid.uuid4().hex}"

    return make


@pytest.fixture
def experiment_id(client, unique_name) -> str:
    """A fresh experiment, also made the active fluent experiment."""
    name = unique_name("exp")
    exp = mlflow.set_experiment(name)
    return exp.experiment_id


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _CURRENT_SERVER is not None:
        rep.sections.append((f"{_CURRENT_SERVER.kind} server stderr (tail)", _CURRENT_SERVER.stderr_tail(8000)))


def pytest_report_header(config):
    return [
        f"compat: server={COMPAT_SERVER} backend={COMPAT_BACKEND} client=mlflow {mlflow.__version__} python={sys.executable}",
    ]

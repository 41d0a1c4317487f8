"""`--app-name basic-auth`, driven by the real mlflow client (both pinned versions).

* A permission matrix: every endpoint group × every level (NO_PERMISSIONS, READ, USE,
  EDIT, MANAGE) granted to a user, plus the owner (creator, MANAGE) and an admin; each
  cell is allowed or refused (403 PERMISSION_DENIED) exactly as MLflow's table says.
* The leaks MLflow had, tried on purpose: a user with READ on experiment A and
  NO_PERMISSIONS on B gets nothing of B through searches, histories, artifacts
  (proxied, multipart), logged models, datasets, the registry or GraphQL.
* Bootstrap (no default password, a refusal to start, no sign-up), rate limiting,
  tokens and their revocation, and a password change seen at once by a second replica.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException

from conftest import COMPAT_SERVER, IS_MLFLOW3, ServerProcess, _startup_timeout

if COMPAT_SERVER != "ferroflow":
    pytest.skip("ferroflow's auth; MLflow's own differs in workspaces and roles", allow_module_level=True)

ADMIN = ("admin", "admin-" + uuid.uuid4().hex)
LEVELS = ["NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE"]
# What each level can do (MLflow's permissions.py).
CAN = {
    "NO_PERMISSIONS": set(),
    "READ": {"read"},
    "USE": {"read", "use"},
    "EDIT": {"read", "use", "update"},
    "MANAGE": {"read", "use", "update", "delete", "manage"},
}


def start_server(*, extra_args=(), extra_env=None, share_with=None) -> ServerProcess:
    env = {"FERROFLOW_ADMIN_PASSWORD": ADMIN[1], **(extra_env or {})}
    server = ServerProcess("ferroflow", ("--app-name", "basic-auth", *extra_args), env, share_with)
    server.start(_startup_timeout())
    return server


@pytest.fixture(scope="module")
def server():
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
        server.cleanup()


class As:
    """Credentials for the client's next calls (the client reads them on every request)."""

    def __init__(self, monkeypatch, url):
        self.monkeypatch, self.url = monkeypatch, url

    def __call__(self, username=None, password=None, token=None):
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
            self.monkeypatch.delenv(key, raising=False)
        if username is not None:
            self.monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
            self.monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        if token is not None:
            self.monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
        return mlflow.MlflowClient(tracking_uri=self.url, registry_uri=self.url)


@pytest.fixture
def as_user(server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    return As(monkeypatch, server.url)


class RestAuthClient:
    """The calls MLflow 2's `AuthServiceClient` makes, for the mlflow-skinny venv, which
    cannot import `mlflow.server` (no Flask): same endpoints, methods and bodies."""

    def __init__(self, url):
        self.url = url

    def _call(self, path, method, **kwargs):
        from mlflow.utils.rest_utils import MlflowHostCreds, http_request, verify_rest_response

        host = MlflowHostCreds(
            self.url,
            username=os.environ.get("MLFLOW_TRACKING_USERNAME"),
            password=os.environ.get("MLFLOW_TRACKING_PASSWORD"),
        )
        response = verify_rest_response(http_request(host, path, method, **kwargs), path)
        return response.json()

    def create_user(self, username, password):
        return self._call("/api/2.0/mlflow/users/create", "POST", json={"username": username, "password": password})

    def get_user(self, username):
        user = self._call("/api/2.0/mlflow/users/get", "GET", params={"username": username})["user"]
        return type("User", (), user)

    def update_user_password(self, username, password):
        self._call("/api/2.0/mlflow/users/update-password", "PATCH", json={"username": username, "password": password})

    def update_user_admin(self, username, is_admin):
        self._call("/api/2.0/mlflow/users/update-admin", "PATCH", json={"username": username, "is_admin": is_admin})

    def delete_user(self, username):
        self._call("/api/2.0/mlflow/users/delete", "DELETE", json={"username": username})

    def create_experiment_permission(self, experiment_id, username, permission):
        body = {"experiment_id": experiment_id, "username": username, "permission": permission}
        return self._call("/api/2.0/mlflow/experiments/permissions/create", "POST", json=body)

    def create_registered_model_permission(self, name, username, permission):
        body = {"name": name, "username": username, "permission": permission}
        return self._call("/api/2.0/mlflow/registered-models/permissions/create", "POST", json=body)


def auth_client(server):
    if IS_MLFLOW3:
        import mlflow.server

        return mlflow.server.get_app_client("basic-auth", tracking_uri=server.url)
    return RestAuthClient(server.url)


def new_user(as_user, server, prefix="u"):
    as_user(*ADMIN)
    name, password = f"{prefix}-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    auth_client(server).create_user(name, password)
    return name, password


def grant_experiment(as_user, server, experiment_id, username, level):
    as_user(*ADMIN)
    if IS_MLFLOW3:
        auth_client(server).grant_user_permission(username, "experiment", experiment_id, level)
    else:
        auth_client(server).create_experiment_permission(experiment_id, username, level)


def grant_model(as_user, server, name, username, level):
    as_user(*ADMIN)
    if IS_MLFLOW3:
        auth_client(server).grant_user_permission(username, "registered_model", name, level)
    else:
        auth_client(server).create_registered_model_permission(name, username, level)


def refused(call) -> bool:
    """True when the call was refused with 403 PERMISSION_DENIED; re-raises anything else."""
    try:
        call()
    except MlflowException as exc:
        # Some client methods wrap the server's answer in their own exception.
        cause = exc.__cause__ if isinstance(exc.__cause__, MlflowException) else exc
        if cause.error_code == "PERMISSION_DENIED":
            return True
        raise
    except requests.HTTPError as exc:  # the artifact repository's own calls
        if exc.response is not None and exc.response.status_code == 403:
            assert exc.response.json()["error_code"] == "PERMISSION_DENIED"
            return True
        raise
    return False


# ---------------------------------------------------------------- the matrix

def listed(found: bool) -> None:
    """A listing that left the resource out counts as refused."""
    if not found:
        from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

        raise MlflowException("left out of the listing", error_code=PERMISSION_DENIED)


def experiment_ops(tmp_path):
    """(capability, name, setup(admin) -> ctx, call(client, ctx)) per experiment-scoped endpoint."""

    def run_in(admin, experiment_id):
        run = admin.create_run(experiment_id)
        admin.log_metric(run.info.run_id, "m", 1.0)
        artifact = tmp_path / "a.txt"
        artifact.write_text("hello")
        admin.log_artifact(run.info.run_id, str(artifact))
        return run.info.run_id

    def interval(client, ctx):
        # get-history-bulk-interval through the client's REST helper.
        from mlflow.utils.rest_utils import http_request

        host = client._tracking_client.store.get_host_creds()
        response = http_request(
            host,
            "/api/2.0/mlflow/metrics/get-history-bulk-interval",
            "GET",
            params={"run_ids": [ctx["run"]], "metric_key": "m", "max_results": 10},
        )
        if response.status_code == 403:
            from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

            raise MlflowException("refused", error_code=PERMISSION_DENIED)
        assert response.status_code == 200, response.text

    ops = [
        ("read", "get_experiment", None, lambda c, x: c.get_experiment(x["exp"])),
        ("read", "get_experiment_by_name", None, lambda c, x: c.get_experiment_by_name(x["exp_name"])),
        ("read", "get_run", None, lambda c, x: c.get_run(x["run"])),
        ("read", "get_metric_history", None, lambda c, x: c.get_metric_history(x["run"], "m")),
        ("read", "list_artifacts", None, lambda c, x: c.list_artifacts(x["run"])),
        ("read", "download_artifacts", None, lambda c, x: c.download_artifacts(x["run"], "a.txt", str(x["dst"]))),
        ("read", "get_history_bulk_interval", None, interval),
        ("update", "create_run", None, lambda c, x: c.create_run(x["exp"])),
        ("update", "log_metric", None, lambda c, x: c.log_metric(x["run"], "m2", 2.0)),
        ("update", "log_param", None, lambda c, x: c.log_param(x["run"], f"p{uuid.uuid4().hex[:6]}", "1")),
        ("update", "log_batch", None, lambda c, x: c.log_batch(x["run"], metrics=[mlflow.entities.Metric("b", 1.0, 0, 0)])),
        ("update", "set_tag", None, lambda c, x: c.set_tag(x["run"], "t", "v")),
        ("update", "update_run", None, lambda c, x: c.update_run(x["run"], status="RUNNING")),
        ("update", "log_inputs", None, lambda c, x: c.log_inputs(x["run"], [x["dataset_input"]])),
        ("update", "set_experiment_tag", None, lambda c, x: c.set_experiment_tag(x["exp"], "k", "v")),
        ("update", "log_artifact", None, lambda c, x: c.log_artifact(x["run"], str(x["file"]))),
        ("delete", "delete_run", None, lambda c, x: c.delete_run(x["run"])),
        ("delete", "delete_experiment", None, lambda c, x: c.delete_experiment(x["exp"])),
    ]
    if IS_MLFLOW3:
        ops += [
            ("read", "get_logged_model", None, lambda c, x: c.get_logged_model(x["model"])),
            # A search is never refused; what the caller may not read is left out.
            ("read", "search_logged_models", None,
             lambda c, x: listed(x["model"] in {m.model_id for m in c.search_logged_models([x["exp"]])})),
            ("update", "create_logged_model", None, lambda c, x: c.create_logged_model(x["exp"])),
            ("update", "set_logged_model_tags", None, lambda c, x: c.set_logged_model_tags(x["model"], {"a": "b"})),
            ("delete", "delete_logged_model", None, lambda c, x: c.delete_logged_model(x["model"])),
        ]
    return ops, run_in


def fresh_experiment_context(as_user, owner_credentials, run_in, tmp_path):
    name = f"matrix-{uuid.uuid4().hex}"
    # The owner creates it, and so MANAGEs it. (Credentials are read from the environment
    # on each request, so each client is made just before its calls.)
    exp = as_user(*owner_credentials).create_experiment(name)
    admin = as_user(*ADMIN)
    run_id = run_in(admin, exp)
    from mlflow.entities import Dataset, DatasetInput

    ctx = {
        "exp": exp,
        "exp_name": name,
        "run": run_id,
        "dst": tmp_path / uuid.uuid4().hex,
        "file": tmp_path / "a.txt",
        "dataset_input": DatasetInput(Dataset(name="d", digest="abc", source_type="local", source="x")),
    }
    ctx["dst"].mkdir()
    if IS_MLFLOW3:
        ctx["model"] = admin.create_logged_model(exp).model_id
    return ctx


def test_experiment_matrix(server, as_user, tmp_path):
    owner_name, owner_password = new_user(as_user, server, "owner")
    users = {level: new_user(as_user, server, level.lower()) for level in LEVELS}
    ops, run_in = experiment_ops(tmp_path)
    mismatches = []
    for capability, op_name, _, call in ops:
        for who in [*LEVELS, "owner", "admin"]:
            ctx = fresh_experiment_context(as_user, (owner_name, owner_password), run_in, tmp_path)
            if who in LEVELS:
                grant_experiment(as_user, server, ctx["exp"], users[who][0], who)
                client = as_user(*users[who])
                expected = capability in CAN[who]
            else:
                client = as_user(*ADMIN) if who == "admin" else as_user(owner_name, owner_password)
                expected = True
            allowed = not refused(lambda: call(client, ctx))
            if allowed != expected:
                mismatches.append(f"{op_name} as {who}: {'allowed' if allowed else 'refused'}")
    assert not mismatches, "\n".join(mismatches)


def test_registry_matrix(server, as_user, tmp_path):
    owner_name, owner_password = new_user(as_user, server, "mowner")
    users = {level: new_user(as_user, server, "m" + level.lower()) for level in LEVELS}

    def setup():
        name = f"model-{uuid.uuid4().hex[:10]}"
        as_user(owner_name, owner_password).create_registered_model(name)
        admin = as_user(*ADMIN)
        exp = admin.create_experiment(f"src-{uuid.uuid4().hex}")
        run = admin.create_run(exp).info.run_id
        version = admin.create_model_version(name, f"runs:/{run}/model", run_id=run).version
        admin.set_registered_model_alias(name, "champion", version)
        admin.set_model_version_tag(name, version, "k", "v")
        return {"name": name, "version": version, "exp": exp, "run": run}

    ops = [
        ("read", "get_registered_model", lambda c, x: c.get_registered_model(x["name"])),
        ("read", "get_model_version", lambda c, x: c.get_model_version(x["name"], x["version"])),
        ("read", "get_model_version_by_alias", lambda c, x: c.get_model_version_by_alias(x["name"], "champion")),
        ("read", "get_model_version_download_uri", lambda c, x: c.get_model_version_download_uri(x["name"], x["version"])),
        ("update", "update_registered_model", lambda c, x: c.update_registered_model(x["name"], description="d")),
        ("update", "set_registered_model_tag", lambda c, x: c.set_registered_model_tag(x["name"], "t", "v")),
        ("update", "update_model_version", lambda c, x: c.update_model_version(x["name"], x["version"], "d")),
        ("update", "set_registered_model_alias", lambda c, x: c.set_registered_model_alias(x["name"], "b", x["version"])),
        ("update", "set_model_version_tag", lambda c, x: c.set_model_version_tag(x["name"], x["version"], "t", "v")),
        ("update", "create_model_version", lambda c, x: c.create_model_version(x["name"], f"runs:/{x['run']}/m", run_id=x["run"])),
        ("update", "rename_registered_model", lambda c, x: c.rename_registered_model(x["name"], x["name"] + "-r")),
        ("delete", "delete_registered_model_alias", lambda c, x: c.delete_registered_model_alias(x["name"], "champion")),
        ("delete", "delete_model_version_tag", lambda c, x: c.delete_model_version_tag(x["name"], x["version"], "k")),
        ("delete", "delete_model_version", lambda c, x: c.delete_model_version(x["name"], x["version"])),
        ("delete", "delete_registered_model", lambda c, x: c.delete_registered_model(x["name"])),
    ]
    mismatches = []
    for capability, op_name, call in ops:
        for who in [*LEVELS, "owner", "admin"]:
            ctx = setup()
            if who in LEVELS:
                grant_model(as_user, server, ctx["name"], users[who][0], who)
                # The version's source run must be readable to register from it.
                grant_experiment(as_user, server, ctx["exp"], users[who][0], "READ")
                client = as_user(*users[who])
                expected = capability in CAN[who]
            else:
                client = as_user(*ADMIN) if who == "admin" else as_user(owner_name, owner_password)
                if who == "owner":
                    grant_experiment(as_user, server, ctx["exp"], owner_name, "READ")
                    client = as_user(owner_name, owner_password)
                expected = True
            allowed = not refused(lambda: call(client, ctx))
            if allowed != expected:
                mismatches.append(f"{op_name} as {who}: {'allowed' if allowed else 'refused'}")
    assert not mismatches, "\n".join(mismatches)


def test_user_management_is_for_admins_and_oneself(server, as_user):
    name, password = new_user(as_user, server)
    other, _ = new_user(as_user, server)
    as_user(name, password)
    me = auth_client(server)
    assert me.get_user(name).username == name
    for call in (
        lambda: me.get_user(other),
        lambda: me.create_user(f"x-{uuid.uuid4().hex[:6]}", "pw"),
        lambda: me.update_user_admin(name, True),
        lambda: me.delete_user(other),
        lambda: me.update_user_password(other, "stolen"),
    ):
        assert refused(call)
    me.update_user_password(name, "new-" + password)
    as_user(name, "new-" + password)
    assert auth_client(server).get_user(name).is_admin is False
    as_user(*ADMIN)
    admin = auth_client(server)
    admin.update_user_admin(name, True)
    assert admin.get_user(name).is_admin is True
    admin.delete_user(other)
    with pytest.raises(MlflowException) as missing:
        admin.get_user(other)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as taken:
        admin.create_user(name, "pw")
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_unauthenticated_and_wrong_credentials_get_401(server, as_user):
    for auth in (None, ("admin", "password1234"), ("nobody", "x")):
        response = requests.post(
            server.url + "/api/2.0/mlflow/experiments/search", json={"max_results": 1}, auth=auth, timeout=10
        )
        assert response.status_code == 401, response.text
        assert response.json()["error_code"] == "UNAUTHENTICATED"
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert "password" not in response.text.lower() or "password1234" not in response.text
    # Public: health, version, server-info. No sign-up page or endpoint.
    assert requests.get(server.url + "/health", timeout=10).text == "OK"
    assert requests.get(server.url + "/version", timeout=10).status_code == 200
    signup = requests.post(
        server.url + "/api/2.0/mlflow/users/create", json={"username": "me", "password": "pw"}, timeout=10
    )
    assert signup.status_code == 401
    assert "signup" not in requests.get(server.url + "/signup", timeout=10).text.lower().split("<title>")[0]


# ---------------------------------------------------------------- leaks

def test_nothing_of_b_leaks_to_a_reader_of_a(server, as_user, tmp_path):
    name, password = new_user(as_user, server, "leak")
    admin = as_user(*ADMIN)
    exp_a = admin.create_experiment(f"a-{uuid.uuid4().hex}")
    exp_b = admin.create_experiment(f"b-{uuid.uuid4().hex}")
    grant_experiment(as_user, server, exp_a, name, "READ")
    grant_experiment(as_user, server, exp_b, name, "NO_PERMISSIONS")
    admin = as_user(*ADMIN)
    run_a = admin.create_run(exp_a).info.run_id
    run_b = admin.create_run(exp_b).info.run_id
    for run in (run_a, run_b):
        admin.log_metric(run, "loss", 0.5)
        f = tmp_path / "secret.txt"
        f.write_text("secret")
        admin.log_artifact(run, str(f))
    model_b = f"b-model-{uuid.uuid4().hex[:8]}"
    admin.create_registered_model(model_b)
    admin.create_model_version(model_b, f"runs:/{run_b}/m", run_id=run_b)
    grant_model(as_user, server, model_b, name, "NO_PERMISSIONS")
    mine = f"mine-{uuid.uuid4().hex[:8]}"
    user = as_user(name, password)
    user.create_registered_model(mine)

    found = user.search_runs([exp_a, exp_b])
    assert {r.info.run_id for r in found} == {run_a}
    assert exp_b not in {e.experiment_id for e in user.search_experiments()}
    assert exp_a in {e.experiment_id for e in user.search_experiments()}
    assert model_b not in {m.name for m in user.search_registered_models()}
    assert model_b not in {v.name for v in user.search_model_versions()}
    assert mine in {m.name for m in user.search_registered_models()}
    for call in (
        lambda: user.get_run(run_b),
        lambda: user.get_metric_history(run_b, "loss"),
        lambda: user.list_artifacts(run_b),
        lambda: user.download_artifacts(run_b, "secret.txt", str(tmp_path)),
        lambda: user.get_registered_model(model_b),
        # Registering B's run into one's own model would hand out B's artifacts.
        lambda: user.create_model_version(mine, f"runs:/{run_b}/m", run_id=run_b),
        lambda: user.create_model_version(mine, f"mlflow-artifacts:/{exp_b}/{run_b}/artifacts/m"),
    ):
        assert refused(call)
    assert not refused(lambda: user.get_run(run_a))

    creds = (name, password)
    base = server.url
    own_experiment = user.create_experiment(f"own-{uuid.uuid4().hex}")
    own_run = user.create_run(own_experiment).info.run_id
    raw = {
        "bulk interval": requests.get(
            base + "/api/2.0/mlflow/metrics/get-history-bulk-interval",
            params={"run_ids": [run_a, run_b], "metric_key": "loss"},
            auth=creds,
        ),
        "bulk": requests.get(
            base + "/ajax-api/2.0/mlflow/metrics/get-history-bulk", params={"run_id": run_b, "metric_key": "loss"}, auth=creds
        ),
        "proxied list": requests.get(
            base + "/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{exp_b}/{run_b}/artifacts"}, auth=creds
        ),
        "proxied root list": requests.get(base + "/api/2.0/mlflow-artifacts/artifacts", auth=creds),
        "proxied download": requests.get(
            base + f"/api/2.0/mlflow-artifacts/artifacts/{exp_b}/{run_b}/artifacts/secret.txt", auth=creds
        ),
        "encoded traversal": requests.get(
            base + f"/api/2.0/mlflow-artifacts/artifacts/{exp_a}/%2e%2e/{exp_b}/{run_b}/artifacts/secret.txt",
            auth=creds,
        ),
        "multipart create": requests.post(
            base + f"/api/2.0/mlflow-artifacts/mpu/create/{exp_b}/{run_b}/artifacts/x.bin",
            json={"path": "x.bin", "num_parts": 1},
            auth=creds,
        ),
        "presigned": requests.get(
            base + f"/api/2.0/mlflow-artifacts/presigned/{exp_b}/{run_b}/artifacts/secret.txt", auth=creds
        ),
        "ui download": requests.get(base + "/get-artifact", params={"run_id": run_b, "path": "secret.txt"}, auth=creds),
        # An empty run_id beside B's run_uuid: the guard reads fields as the handler does.
        "ui download, empty run_id": requests.get(
            base + "/get-artifact", params={"run_id": "", "run_uuid": run_b, "path": "secret.txt"}, auth=creds
        ),
        # The UI's upload names its run in the query string; a body naming one's own run is no key.
        "ui upload into B": requests.post(
            base + "/ajax-api/2.0/mlflow/upload-artifact",
            params={"run_uuid": run_b, "path": "planted.json"},
            data=json.dumps({"run_id": own_run, "run_uuid": own_run}),
            auth=creds,
        ),
        "camelCase log into B": requests.post(
            base + "/api/2.0/mlflow/runs/log-metric",
            json={"runId": run_b, "key": "k", "value": 1.0, "timestamp": 0},
            auth=creds,
        ),
        "nonexistent run": requests.get(
            base + "/api/2.0/mlflow/runs/get", params={"run_id": "0" * 32}, auth=creds
        ),
        "datasets": requests.post(
            base + "/ajax-api/2.0/mlflow/experiments/search-datasets", json={"experiment_ids": [exp_b]}, auth=creds
        ),
        "graphql": requests.post(base + "/graphql", json={"query": "{ __typename }"}, auth=creds),
        "charts": requests.post(
            base + "/ajax-api/ferroflow/v1/charts/series", json={"run_ids": [run_b], "metric_keys": ["loss"]}, auth=creds
        ),
        "webhooks": requests.get(base + "/api/2.0/mlflow/webhooks", auth=creds),
    }
    if IS_MLFLOW3:
        admin_model = as_user(*ADMIN).create_logged_model(exp_b).model_id
        user = as_user(name, password)
        assert not user.search_logged_models([exp_b, exp_a]), "B's logged models stay out of a search"
        assert refused(lambda: user.get_logged_model(admin_model))
    leaks = {what: (r.status_code, r.text[:200]) for what, r in raw.items() if r.status_code not in (400, 403)}
    assert not leaks, leaks
    assert all("secret" not in r.text for r in raw.values())


# ---------------------------------------------------------------- credentials

def test_tokens_work_with_the_client_and_stop_when_revoked(server, as_user):
    name, password = new_user(as_user, server, "ci")
    created = requests.post(
        server.url + "/api/ferroflow/v1/tokens", json={"name": "ci", "expires_in_days": 30}, auth=(name, password)
    )
    assert created.status_code == 200, created.text
    secret, token_id = created.json()["secret"], created.json()["token"]["id"]
    listed = requests.get(server.url + "/api/ferroflow/v1/tokens", auth=(name, password)).json()["tokens"]
    assert [t["id"] for t in listed] == [token_id] and secret not in str(listed)
    client = as_user(token=secret)
    exp = client.create_experiment(f"tok-{uuid.uuid4().hex}")
    client.log_metric(client.create_run(exp).info.run_id, "m", 1.0)
    revoked = requests.post(server.url + "/api/ferroflow/v1/tokens/revoke", json={"id": token_id}, auth=(name, password))
    assert revoked.status_code == 200, revoked.text
    with pytest.raises(MlflowException) as gone:
        as_user(token=secret).get_experiment(exp)
    assert gone.value.get_http_status_code() == 401
    # Another user cannot list or revoke someone's tokens.
    other, other_password = new_user(as_user, server)
    nosy = requests.get(server.url + "/api/ferroflow/v1/tokens", params={"username": name}, auth=(other, other_password))
    assert nosy.status_code == 403
    # No secret reached the server's log: not the token, nor any password.
    log = server.stderr_path.read_text(errors="replace") + server.stdout_path.read_text(errors="replace")
    for secret in (secret, password, other_password, ADMIN[1]):
        assert secret not in log


def test_failed_logins_are_rate_limited_per_user(server, as_user):
    name, password = new_user(as_user, server, "rl")
    url = server.url + "/api/2.0/mlflow/experiments/search"
    statuses = [requests.post(url, json={"max_results": 1}, auth=(name, "wrong")).status_code for _ in range(10)]
    assert statuses == [401] * 10
    limited = requests.post(url, json={"max_results": 1}, auth=(name, password))
    assert limited.status_code == 429 and limited.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert password not in limited.text


def wait_for_status(url, auth, status, within=None):
    """The first answer with `status`, polling for at most `within` seconds (at once on
    PostgreSQL, whose replicas are told; within the cache's second on SQLite)."""
    from conftest import COMPAT_BACKEND

    within = within if within is not None else (0.5 if COMPAT_BACKEND == "postgres" else 1.5)
    deadline = time.monotonic() + within
    while True:
        response = requests.post(url, json={"max_results": 1}, auth=auth)
        if response.status_code == status or time.monotonic() >= deadline:
            return response
        time.sleep(0.05)


def test_a_password_change_is_seen_at_once_by_a_second_replica(server, as_user):
    name, password = new_user(as_user, server, "rep")
    second = start_server(share_with=server)
    try:
        url = "/api/2.0/mlflow/experiments/search"
        for replica in (server, second):
            ok = requests.post(replica.url + url, json={"max_results": 1}, auth=(name, password))
            assert ok.status_code == 200, ok.text  # now cached as verified on both
        changed = requests.patch(
            server.url + "/api/2.0/mlflow/users/update-password",
            json={"username": name, "password": "changed-" + password},
            auth=(name, password),
        )
        assert changed.status_code == 200, changed.text
        # PostgreSQL replicas hear of it at once (NOTIFY); on SQLite, whose one database
        # file is meant for one server, the second process's cache lapses within a second.
        stale = wait_for_status(second.url + url, (name, password), 401)
        assert stale.status_code == 401
        fresh = requests.post(second.url + url, json={"max_results": 1}, auth=(name, "changed-" + password))
        assert fresh.status_code == 200
        as_user(*ADMIN)
        auth_client(server).delete_user(name)
        gone = wait_for_status(second.url + url, (name, "changed-" + password), 401)
        assert gone.status_code == 401
    finally:
        second.stop()
        second.cleanup()


def test_the_server_refuses_to_start_without_an_admin(tmp_path):
    binary = os.environ.get("FERROFLOW_BIN")
    done = subprocess.run(
        [binary, "server", "--auth", "--port", "0", "--backend-store-uri", f"sqlite:///{tmp_path / 'db.sqlite'}"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("FERROFLOW_ADMIN")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "no admin" in done.stderr and "users create-admin" in done.stderr
    # The shell bootstrap: the password from stdin, never an argument.
    made = subprocess.run(
        [binary, "users", "create-admin", "--username", "root", "--backend-store-uri", f"sqlite:///{tmp_path / 'db.sqlite'}"],
        input="root-password\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    assert "root-password" not in made.stdout + made.stderr

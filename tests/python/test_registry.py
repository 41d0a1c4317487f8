"""Model registry through the real client: registered models, versions, stages, aliases,
tags, search, copy, concurrency, error codes, and MLflow 3 webhooks (signed deliveries to
a local receiver).

Tests that need artifact serving (logging a real sklearn model, loading it back through
``models:/`` URIs) are marked ``artifacts``.
"""

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException

# Webhook receivers in these tests listen on 127.0.0.1 over plain HTTP. Both servers read
# MLflow's own settings for that; the server of this module inherits them when it starts.
os.environ["MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS"] = "true"
os.environ["MLFLOW_WEBHOOK_ALLOWED_SCHEMES"] = "http,https"

pytestmark = pytest.mark.usefixtures("compat_env")

IS_MLFLOW3 = int(mlflow.__version__.split(".")[0]) >= 3
PROMPT_TAG = "mlflow.prompt.is_prompt"
SOURCE = "s3://compat-bucket/models/churn"


def error_code(excinfo) -> str:
    return excinfo.value.error_code


def register(client, name, **kwargs):
    client.create_registered_model(name, **kwargs)
    return name


def new_version(client, name, source=SOURCE, **kwargs):
    return client.create_model_version(name, source, **kwargs)


# ---------------------------------------------------------------- webhooks
# First in the module: MLflow caches "who subscribes to this event" for 60 s, so events
# fired by other tests before the webhook exists would hide it from the real server.


class Receiver:
    """A local HTTP endpoint that records every delivery."""

    def __init__(self, status=200):
        self.deliveries = []
        self.status = status
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._cond:
                    receiver.deliveries.append((dict(self.headers.items()), body))
                    receiver._cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"received")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, predicate, timeout=30.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [d for d in self.deliveries if predicate(d)]
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    events = [json.loads(b).get("entity") + "." + json.loads(b).get("action") for _, b in self.deliveries]
                    raise AssertionError(f"no matching delivery within {timeout}s; got {events}")
                self._cond.wait(remaining)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def header(headers, name):
    return next(v for k, v in headers.items() if k.lower() == name.lower())


def verify_signature(secret, headers, body):
    delivery_id = header(headers, "X-MLflow-Delivery-Id")
    timestamp = header(headers, "X-MLflow-Timestamp")
    signature = header(headers, "X-MLflow-Signature")
    signed = f"{delivery_id}.{timestamp}.{body.decode('utf-8')}".encode("utf-8")
    expected = "v1," + base64.b64encode(hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(signature, expected), (signature, expected)
    assert abs(int(timestamp) - time.time()) < 300


def event_of(entity, action, **data):
    def matches(delivery):
        payload = json.loads(delivery[1])
        return (
            payload["entity"] == entity
            and payload["action"] == action
            and all(payload["data"].get(k) == v for k, v in data.items())
        )

    return matches


@pytest.mark.skipif(not IS_MLFLOW3, reason="webhooks are an MLflow 3 API")
def test_webhooks_deliver_signed_events_for_registry_actions(client, unique_name):
    secret = "s3cr3t-" + unique_name("k")
    receiver = Receiver()
    try:
        events = [
            "registered_model.created",
            "model_version.created",
            "model_version_tag.set",
            "model_version_tag.deleted",
            "model_version_alias.created",
            "model_version_alias.deleted",
        ]
        webhook = client.create_webhook(
            name="compat-ci", url=receiver.url, events=events, description="ci", secret=secret
        )
        assert webhook.webhook_id
        assert webhook.name == "compat-ci"
        assert webhook.url == receiver.url
        assert webhook.status == "ACTIVE"
        assert webhook.description == "ci"
        assert sorted(str(e) for e in webhook.events) == sorted(events)
        assert webhook.secret is None, "secrets are never sent back"
        assert client.get_webhook(webhook.webhook_id).secret is None
        assert webhook.webhook_id in [w.webhook_id for w in client.list_webhooks()]

        # The test endpoint sends an example payload (of the webhook's first event), signed.
        result = client.test_webhook(webhook.webhook_id)
        assert result.success, result
        assert result.response_status == 200
        assert result.response_body == "received"
        (test_delivery,) = receiver.wait_for(lambda d: json.loads(d[1])["data"].get("name") == "example_model")
        verify_signature(secret, *test_delivery)

        name = unique_name("hooked")
        client.create_registered_model(name, tags={"team": "ml"}, description="d")
        mv = new_version(client, name, tags={"k": "v"})
        client.set_model_version_tag(name, mv.version, "stage", "qa")
        client.delete_model_version_tag(name, mv.version, "stage")
        client.set_registered_model_alias(name, "champion", mv.version)
        client.delete_registered_model_alias(name, "champion")

        expectations = [
            event_of("registered_model", "created", name=name, tags={"team": "ml"}, description="d"),
            event_of("model_version", "created", name=name, version="1", source=SOURCE, tags={"k": "v"}),
            event_of("model_version_tag", "set", name=name, version="1", key="stage", value="qa"),
            event_of("model_version_tag", "deleted", name=name, version="1", key="stage"),
            event_of("model_version_alias", "created", name=name, alias="champion", version="1"),
            event_of("model_version_alias", "deleted", name=name, alias="champion"),
        ]
        for expectation in expectations:
            (delivery,) = receiver.wait_for(expectation)
            headers, body = delivery
            verify_signature(secret, headers, body)
            assert header(headers, "Content-Type").startswith("application/json")
            payload = json.loads(body)
            assert set(payload) >= {"entity", "action", "timestamp", "data"}
            assert payload["timestamp"].endswith("+00:00")
        # The secret itself never travels.
        assert all(secret.encode() not in body for _, body in receiver.deliveries)

        updated = client.update_webhook(webhook.webhook_id, description="updated", status="DISABLED")
        assert updated.description == "updated"
        assert updated.status == "DISABLED"
        client.delete_webhook(webhook.webhook_id)
        with pytest.raises(MlflowException) as excinfo:
            client.get_webhook(webhook.webhook_id)
        assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    finally:
        receiver.close()


@pytest.mark.skipif(not IS_MLFLOW3, reason="webhooks are an MLflow 3 API")
def test_webhook_validation_errors(client):
    with pytest.raises(MlflowException) as excinfo:
        client.create_webhook(name="-bad-", url="http://127.0.0.1:9/x", events=["model_version.created"])
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        client.create_webhook(name="ok", url="ftp://127.0.0.1:9/x", events=["model_version.created"])
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException):
        client.create_webhook(name="ok", url="http://127.0.0.1:9/x", events=["registered_model.deleted"])
    with pytest.raises(MlflowException) as excinfo:
        client.get_webhook("no-such-webhook")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


# ---------------------------------------------------------------- registered models


def test_create_get_and_duplicate_registered_model(client, unique_name):
    name = unique_name("churn")
    created = client.create_registered_model(name, tags={"team": "ml"}, description="churn model")
    assert created.name == name
    assert created.description == "churn model"
    assert created.tags == {"team": "ml"}
    fetched = client.get_registered_model(name)
    assert fetched.name == name
    assert fetched.creation_timestamp == created.creation_timestamp
    assert fetched.latest_versions == []
    assert fetched.tags == {"team": "ml"}

    with pytest.raises(MlflowException) as excinfo:
        client.create_registered_model(name)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"
    assert f"Registered Model (name={name}) already exists." in str(excinfo.value)

    with pytest.raises(MlflowException) as excinfo:
        client.get_registered_model(unique_name("missing"))
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"

    with pytest.raises(MlflowException) as excinfo:
        client.create_registered_model("bad/name")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_rename_update_and_delete(client, unique_name):
    name, new_name, taken = unique_name("old"), unique_name("new"), unique_name("taken")
    register(client, name)
    register(client, taken)
    new_version(client, name)
    client.set_registered_model_alias(name, "prod", "1")

    with pytest.raises(MlflowException) as excinfo:
        client.rename_registered_model(name, taken)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"

    client.rename_registered_model(name, new_name)
    renamed = client.get_registered_model(new_name)
    assert renamed.name == new_name
    assert renamed.latest_versions[0].name == new_name
    assert client.get_model_version_by_alias(new_name, "prod").version == "1"
    with pytest.raises(MlflowException) as excinfo:
        client.get_registered_model(name)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"

    assert client.update_registered_model(new_name, description="now described").description == "now described"
    assert client.get_registered_model(new_name).description == "now described"

    client.delete_registered_model(new_name)
    with pytest.raises(MlflowException) as excinfo:
        client.get_registered_model(new_name)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version(new_name, "1")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_registered_model_tags(client, unique_name):
    name = register(client, unique_name("tags"))
    client.set_registered_model_tag(name, "owner", "alice")
    client.set_registered_model_tag(name, "tier", "gold")
    client.set_registered_model_tag(name, "owner", "bob")
    assert client.get_registered_model(name).tags == {"owner": "bob", "tier": "gold"}
    client.delete_registered_model_tag(name, "owner")
    client.delete_registered_model_tag(name, "owner")  # absent: no error
    assert client.get_registered_model(name).tags == {"tier": "gold"}
    with pytest.raises(MlflowException) as excinfo:
        client.set_registered_model_tag(name, "bad*key", "v")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


# ---------------------------------------------------------------- versions


def test_versions_are_ready_numbered_and_never_reused(client, unique_name):
    name = register(client, unique_name("versions"))
    first = new_version(client, name, description="first", tags={"k": "v"})
    assert first.version == "1"
    assert first.status == "READY"
    assert first.current_stage == "None"
    assert first.source == SOURCE
    assert first.description == "first"
    assert first.tags == {"k": "v"}
    assert new_version(client, name).version == "2"
    assert new_version(client, name).version == "3"

    client.delete_model_version(name, "3")
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version(name, "3")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    assert new_version(client, name).version == "4"

    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version(name, "99")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        new_version(client, unique_name("no-such-model"))
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"

    updated = client.update_model_version(name, "1", description="edited")
    assert updated.description == "edited"
    assert client.get_model_version(name, "1").description == "edited"
    assert client.get_model_version_download_uri(name, "1") == SOURCE


def test_version_sources_are_checked_like_mlflow(client, unique_name):
    name = register(client, unique_name("sources"))
    for source in ["/tmp/not-in-a-run", "runs:/abc/model", "models:/m-0123456789abcdef", "s3://bucket/../escape"]:
        with pytest.raises(MlflowException) as excinfo:
            new_version(client, name, source=source)
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE", source
    run_source = new_version(client, name, source="runs:/abc123/model", run_id="abc123")
    assert (run_source.source, run_source.run_id) == ("runs:/abc123/model", "abc123")


def test_version_tags(client, unique_name):
    name = register(client, unique_name("vtags"))
    new_version(client, name)
    client.set_model_version_tag(name, "1", "validated", "yes")
    client.set_model_version_tag(name, "1", "owner", "ci")
    assert client.get_model_version(name, "1").tags == {"validated": "yes", "owner": "ci"}
    client.delete_model_version_tag(name, "1", "owner")
    assert client.get_model_version(name, "1").tags == {"validated": "yes"}
    with pytest.raises(MlflowException) as excinfo:
        client.set_model_version_tag(name, "7", "k", "v")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_stage_transitions_archive_and_latest_versions(client, unique_name):
    name = register(client, unique_name("stages"))
    for _ in range(3):
        new_version(client, name)
    assert client.transition_model_version_stage(name, "1", "staging").current_stage == "Staging"
    assert client.transition_model_version_stage(name, "1", "Production").current_stage == "Production"
    assert client.transition_model_version_stage(name, "2", "PRODUCTION").current_stage == "Production"

    latest = {mv.current_stage: mv.version for mv in client.get_latest_versions(name)}
    assert latest == {"Production": "2", "None": "3"}
    assert [mv.version for mv in client.get_latest_versions(name, stages=["Production"])] == ["2"]

    client.transition_model_version_stage(name, "3", "Production", archive_existing_versions=True)
    stages = {v: client.get_model_version(name, v).current_stage for v in ("1", "2", "3")}
    assert stages == {"1": "Archived", "2": "Archived", "3": "Production"}
    model = client.get_registered_model(name)
    assert {mv.current_stage: mv.version for mv in model.latest_versions} == {"Archived": "2", "Production": "3"}

    with pytest.raises(MlflowException) as excinfo:
        client.transition_model_version_stage(name, "1", "Bogus")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    assert "Invalid Model Version stage: Bogus" in str(excinfo.value)
    with pytest.raises(MlflowException) as excinfo:
        client.transition_model_version_stage(name, "42", "Staging")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.get_latest_versions(name, stages=["Bogus"])
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_aliases(client, unique_name):
    name = register(client, unique_name("aliases"))
    new_version(client, name)
    new_version(client, name)
    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", "2")
    champion = client.get_model_version_by_alias(name, "champion")
    assert champion.version == "1"
    assert champion.aliases == ["champion"]
    assert client.get_registered_model(name).aliases == {"champion": "1", "challenger": "2"}

    client.set_registered_model_alias(name, "champion", "2")
    assert sorted(client.get_model_version(name, "2").aliases) == ["challenger", "champion"]
    assert client.get_model_version(name, "1").aliases == []

    for reserved in ["latest", "LATEST", "v1"]:
        with pytest.raises(MlflowException) as excinfo:
            client.set_registered_model_alias(name, reserved, "1")
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE", reserved
    with pytest.raises(MlflowException) as excinfo:
        client.set_registered_model_alias(name, "bad alias", "1")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        client.set_registered_model_alias(name, "ghost", "9")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_by_alias(name, "nobody")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"

    # Deleting a version drops its aliases; deleting an alias is idempotent.
    client.delete_model_version(name, "2")
    assert client.get_registered_model(name).aliases == {}
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_by_alias(name, "champion")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    client.set_registered_model_alias(name, "temp", "1")
    client.delete_registered_model_alias(name, "temp")
    client.delete_registered_model_alias(name, "temp")
    assert client.get_registered_model(name).aliases == {}


def test_copy_model_version(client, unique_name):
    src, dst = unique_name("src"), unique_name("dst")
    register(client, src)
    new_version(client, src, description="original", tags={"k": "v"})
    client.set_registered_model_alias(src, "champion", "1")
    copy = client.copy_model_version(f"models:/{src}@champion", dst)
    assert copy.name == dst
    assert copy.version == "1"
    assert copy.source == f"models:/{src}/1"
    assert copy.status == "READY"
    assert copy.tags == {"k": "v"}
    assert client.get_registered_model(dst).latest_versions[0].version == "1"
    # The copy's artifacts are the original's.
    assert client.get_model_version_download_uri(dst, "1") == SOURCE
    again = client.copy_model_version(f"models:/{src}/1", dst)
    assert again.version == "2"


def test_concurrent_version_creation_gives_unique_numbers(client, unique_name):
    name = register(client, unique_name("race"))
    total = 48

    def create(_):
        return int(new_version(client, name).version)

    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(create, range(total)))
    assert sorted(versions) == list(range(1, total + 1))
    found = client.search_model_versions(f"name = '{name}'")
    assert sorted(int(mv.version) for mv in found) == list(range(1, total + 1))


# ---------------------------------------------------------------- search


def test_search_registered_models(client, base_url, unique_name):
    prefix = unique_name("search")
    names = [f"{prefix}-b", f"{prefix}-a", f"{prefix}-c"]
    for name in names:
        register(client, name)
    client.set_registered_model_tag(f"{prefix}-c", "team", "ml")
    # A prompt: a registered model carrying the prompt tag, hidden from model searches.
    response = requests.post(
        f"{base_url}/api/2.0/mlflow/registered-models/create",
        json={"name": f"{prefix}-prompt", "tags": [{"key": PROMPT_TAG, "value": "true"}]},
        timeout=30,
    )
    assert response.status_code == 200, response.text

    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}%'")
    assert [m.name for m in found] == sorted(names)
    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}%'", order_by=["name DESC"])
    assert [m.name for m in found] == sorted(names, reverse=True)
    found = client.search_registered_models(filter_string=f"name = '{prefix}-a'")
    assert [m.name for m in found] == [f"{prefix}-a"]
    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}%' AND tags.team = 'ml'")
    assert [m.name for m in found] == [f"{prefix}-c"]

    first = client.search_registered_models(filter_string=f"name LIKE '{prefix}%'", max_results=2)
    assert [m.name for m in first] == sorted(names)[:2]
    assert first.token
    second = client.search_registered_models(
        filter_string=f"name LIKE '{prefix}%'", max_results=2, page_token=first.token
    )
    assert [m.name for m in second] == sorted(names)[2:]
    assert not second.token

    with pytest.raises(MlflowException) as excinfo:
        # MLflow and ferroflow both reject this (OR would be a ferroflow extension).
        client.search_registered_models(filter_string=f"name > '{prefix}-a'")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        client.search_registered_models(order_by=["creation_timestamp"])
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_search_model_versions(client, unique_name):
    name, other = unique_name("mvsearch"), unique_name("mvother")
    register(client, name)
    register(client, other)
    new_version(client, name, source="runs:/r1/model", run_id="r1")
    new_version(client, name, source="runs:/r2/model", run_id="r2")
    new_version(client, other, source="runs:/r1/model", run_id="r1")
    client.set_model_version_tag(name, "2", "validated", "yes")

    found = client.search_model_versions(f"name = '{name}'")
    assert [mv.version for mv in found] == ["2", "1"]
    assert all(mv.status == "READY" for mv in found)
    found = client.search_model_versions(f"name = '{name}' AND version_number > 1")
    assert [mv.version for mv in found] == ["2"]
    found = client.search_model_versions(f"name IN ('{name}', '{other}') AND run_id = 'r1'", order_by=["name ASC"])
    assert [(mv.name, mv.version) for mv in found] == sorted([(name, "1"), (other, "1")])
    found = client.search_model_versions(f"name = '{name}' AND tags.validated = 'yes'")
    assert [mv.version for mv in found] == ["2"]
    found = client.search_model_versions(f"name = '{name}'", order_by=["version_number ASC"])
    assert [mv.version for mv in found] == ["1", "2"]

    for bad in [f"name > '{name}'", "bogus = 'x'", "version_number = 'one'"]:
        with pytest.raises(MlflowException) as excinfo:
            client.search_model_versions(bad)
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE", bad


# ---------------------------------------------------------------- artifacts


def _train():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    assert sklearn
    features = [[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]]
    labels = [0, 1, 0, 1]
    return LogisticRegression().fit(features, labels), features


@pytest.mark.artifacts
def test_register_logged_model_and_load_by_stage_and_alias(client, experiment_id, unique_name):
    model, features = _train()
    import mlflow.pyfunc
    import mlflow.sklearn

    name = unique_name("churn-predictor")
    with mlflow.start_run() as run:
        # MLflow 3 logs a LoggedModel (`name=`); 2.x stores it under the run's artifacts.
        if mlflow.__version__.startswith("2."):
            mlflow.sklearn.log_model(model, artifact_path="model")
        else:
            mlflow.sklearn.log_model(model, name="model")
    result = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    assert result.version == "1"
    assert result.status == "READY"

    client.transition_model_version_stage(name, result.version, "Staging")
    client.transition_model_version_stage(name, result.version, "Production")
    client.set_registered_model_alias(name, "champion", result.version)

    by_stage = mlflow.pyfunc.load_model(f"models:/{name}/Production")
    by_alias = mlflow.sklearn.load_model(f"models:/{name}@champion")
    expected = list(model.predict(features))
    assert list(by_stage.predict(features)) == expected
    assert list(by_alias.predict(features)) == expected

    # Registering the same run again makes version 2 (the name already exists).
    assert mlflow.register_model(f"runs:/{run.info.run_id}/model", name).version == "2"

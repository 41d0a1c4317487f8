"""Generates mlflow_oracle.json: what a real MLflow SQL store answers for a corpus of filters.

Run with an MLflow 3.x virtualenv (no network needed):
    python gen_oracle.py > mlflow_oracle.json
It seeds a throw-away SQLite store with known entities, runs every filter in CORPUS through
the store's real search method, and records either the error or the matching entity labels,
together with the seeded records (so the Rust test can rebuild them as eval::Record values).

Corpus lines are "entity|filter" ("entity@order|clause" for order_by). Prefix the line with
"ext:" for ferroflow extensions (MLflow rejects them, ferroflow must accept them; an
optional " ⇒ label,label" suffix gives the hand-computed expected matches), "dev:" for
documented deviations (the match set is not compared), "rej:" for inputs MLflow accepts
only by accident with a meaningless reading, which ferroflow rejects. `{run:NAME}`, `{exp:NAME}` and
`{lm:NAME}` are replaced by the seeded ids.
"""

import json
import math
import os
import sqlite3
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite://")

import logging

logging.disable(logging.CRITICAL)

import mlflow
from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LoggedModelParameter,
    LoggedModelStatus,
    LoggedModelTag,
    Metric,
    Param,
    RunStatus,
    RunTag,
    ViewType,
)
from mlflow.entities.model_registry import RegisteredModelTag, ModelVersionTag
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

tmp = tempfile.mkdtemp()
db = os.path.join(tmp, "db.sqlite")
uri = f"sqlite:///{db}"
ts = TrackingStore(uri, os.path.join(tmp, "art"))
rs = RegistryStore(uri)

records = {"run": {}, "experiment": {}, "registered_model": {}, "model_version": {}, "logged_model": {}}
ids = {}


def num(x):
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return str(x)
    return x


# ---- experiments -------------------------------------------------------------------------
exp_specs = [
    ("exp-runs", {}),
    ("exp-a", {"team": "core", "a b": "v"}),
    ("exp-b", {"team": "Ops"}),
    ("Exp_C%", {}),
    ("exp-lm", {}),
]
for name, tags in exp_specs:
    from mlflow.entities import ExperimentTag

    eid = ts.create_experiment(name, tags=[ExperimentTag(k, v) for k, v in tags.items()])
    ids[f"exp:{name}"] = eid
con = sqlite3.connect(db)
for row in con.execute("select experiment_id, name from experiments").fetchall():
    eid, name = row
    con.execute(
        "update experiments set creation_time=?, last_update_time=? where experiment_id=?",
        (1000 + 100 * eid, 5000 + 100 * eid if eid % 2 == 0 else 5000, eid),
    )
con.commit()
for row in con.execute("select experiment_id, name, creation_time, last_update_time from experiments"):
    eid, name, ct, lut = row
    tags = dict(con.execute("select key, value from experiment_tags where experiment_id=?", (eid,)).fetchall())
    records["experiment"][name] = {
        "attributes": {"experiment_id": eid, "name": name, "creation_time": ct, "last_update_time": lut},
        "tags": tags,
    }
exp_runs = ids["exp:exp-runs"]

# ---- runs --------------------------------------------------------------------------------
run_specs = [
    dict(
        label="r1", name="alpha", user="alice", start=1000, end=2000, status="FINISHED",
        metrics=[("acc", 0.9, 0), ("loss", 0.7, 0), ("loss", 0.5, 1), ("nanm", float("nan"), 0)],
        params={"lr": "0.01", "opt": "adam", "a b": "x y"},
        tags={"env": "prod", "team": "Core"},
        datasets=[("train", "d1", "training"), ("eval", "d2", "eval")],
    ),
    dict(
        label="r2", name="beta", user="bob", start=3000, end=None, status="RUNNING",
        metrics=[("acc", 0.7, 0), ("big", float("inf"), 0)],
        params={"lr": "0.1", "opt": "sgd"},
        tags={"env": "dev"},
        datasets=[("train", "d1", None)],
    ),
    dict(
        label="r3", name="Gamma_1", user="alice", start=5000, end=5500, status="FAILED",
        metrics=[("loss", 1.5, 0), ("nanm", 1.0, 0)],
        params={"lr": "0.01", "quote": "it's", "dq": 'say "hi"'},
        tags={"pct": "50%", "a.b c": "x"},
        datasets=[],
    ),
    dict(
        label="r4", name="delta", user="carol", start=1000, end=1500, status="KILLED",
        metrics=[("neg", -1.5, 0), ("zero", 0.0, 0)],
        params={},
        tags={"env": "PROD"},
        datasets=[("Train", "D1", "Training")],
    ),
]
for spec in run_specs:
    run = ts.create_run(exp_runs, spec["user"], spec["start"], [], spec["name"])
    rid = run.info.run_id
    ids[f"run:{spec['label']}"] = rid
    ts.log_batch(
        rid,
        metrics=[Metric(k, v, 1, step) for k, v, step in spec["metrics"]],
        params=[Param(k, v) for k, v in spec["params"].items()],
        tags=[RunTag(k, v) for k, v in spec["tags"].items()],
    )
    if spec["datasets"]:
        ts.log_inputs(
            rid,
            datasets=[
                DatasetInput(
                    Dataset(name=n, digest=d, source_type="local", source="x"),
                    [InputTag("mlflow.data.context", c)] if c else [],
                )
                for n, d, c in spec["datasets"]
            ],
        )
    if spec["status"] != "RUNNING":
        ts.update_run_info(rid, RunStatus.from_string(spec["status"]), spec["end"], None)
    run = ts.get_run(rid)
    attrs = {
        "run_id": rid,
        "status": run.info.status,
        "user_id": run.info.user_id,
        "artifact_uri": run.info.artifact_uri,
        "start_time": run.info.start_time,
    }
    if run.info.end_time is not None:
        attrs["end_time"] = run.info.end_time
    records["run"][spec["label"]] = {
        "attributes": attrs,
        "metrics": {k: [num(v)] for k, v in run.data.metrics.items()},
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "datasets": [
            {
                "name": di.dataset.name,
                "digest": di.dataset.digest,
                "context": next((t.value for t in di.tags if t.key == "mlflow.data.context"), None),
            }
            for di in run.inputs.dataset_inputs
        ],
    }

# ---- registered models and versions -------------------------------------------------------
P = "mlflow.prompt.is_prompt"
rm_specs = [
    ("model-a", {"stage": "prod"}),
    ("model-b", {"stage": "dev", "owner": "bob"}),
    ("Model_C", {}),
    ("prompt-1", {P: "true"}),
    ("shouty", {P: "TRUE"}),
    ("notprompt", {P: "false"}),
]
for name, tags in rm_specs:
    rs.create_registered_model(name, tags=[RegisteredModelTag(k, v) for k, v in tags.items()])
    records["registered_model"][name] = {"attributes": {"name": name}, "tags": tags}
mv_specs = [
    ("model-a", "s3://a/1", "r1", {"k": "v1"}),
    ("model-a", "s3://a/2", "r2", {}),
    ("model-b", "file:/b", None, {"k": "v2"}),
    ("prompt-1", "s3://p/1", None, {P: "true"}),
    ("notprompt", "s3://n/1", "r3", {}),
]
for name, source, run_label, tags in mv_specs:
    run_id = ids[f"run:{run_label}"] if run_label else None
    mv = rs.create_model_version(
        name, source, run_id=run_id, tags=[ModelVersionTag(k, v) for k, v in tags.items()]
    )
    attrs = {"name": name, "version_number": int(mv.version), "source_path": source}
    if run_id:
        attrs["run_id"] = run_id
    records["model_version"][f"{name}/{mv.version}"] = {"attributes": attrs, "tags": tags}

# ---- logged models --------------------------------------------------------------------------
# Their metrics are logged through a run in a separate experiment, so that logging them does
# not change what the run searches above see.
exp_lm = ids["exp:exp-lm"]
lm_logger = ts.create_run(exp_lm, "x", 0, [], "lm-logger").info.run_id
lm_specs = [
    dict(label="lm1", name="model", model_type="sklearn", run="r1", tags={"t": "1"},
         params={"lr": "0.01"}, metrics=[("acc", 0.9, "ds1"), ("acc", 0.5, "ds2"), ("nanm", float("nan"), None)],
         ready=True),
    dict(label="lm2", name="other", model_type=None, run=None, tags={}, params={"lr": "0.1"},
         metrics=[("acc", 0.7, None)], ready=False),
]
for spec in lm_specs:
    run_id = ids[f"run:{spec['run']}"] if spec["run"] else None
    lm = ts.create_logged_model(
        exp_lm,
        name=spec["name"],
        source_run_id=run_id,
        tags=[LoggedModelTag(k, v) for k, v in spec["tags"].items()],
        params=[LoggedModelParameter(k, v) for k, v in spec["params"].items()],
        model_type=spec["model_type"],
    )
    if spec["ready"]:
        ts.finalize_logged_model(lm.model_id, LoggedModelStatus.READY)
    ids[f"lm:{spec['label']}"] = lm.model_id
    if spec["metrics"]:
        ts.log_batch(
            lm_logger,
            metrics=[
                Metric(k, v, 1, step, model_id=lm.model_id, dataset_name=ds, dataset_digest="x" if ds else None)
                for step, (k, v, ds) in enumerate(spec["metrics"])
            ],
            params=[],
            tags=[],
        )
    lm = ts.get_logged_model(lm.model_id)
    attrs = {
        "name": lm.name,
        "model_id": lm.model_id,
        "status": str(lm.status),
        "creation_timestamp": lm.creation_timestamp,
        "last_updated_timestamp": lm.last_updated_timestamp,
    }
    if lm.model_type:
        attrs["model_type"] = lm.model_type
    if lm.source_run_id:
        attrs["source_run_id"] = lm.source_run_id
    metrics = {}
    for m in lm.metrics or []:
        metrics.setdefault(m.key, []).append(num(m.value))
    records["logged_model"][spec["label"]] = {
        "attributes": attrs,
        "metrics": metrics,
        "params": dict(lm.params),
        "tags": dict(lm.tags),
    }


def label_of(entity, obj):
    if entity == "run":
        return next(k for k, v in records["run"].items() if v["attributes"]["run_id"] == obj.info.run_id)
    if entity == "experiment":
        return obj.name
    if entity == "registered_model":
        return obj.name
    if entity == "model_version":
        return f"{obj.name}/{obj.version}"
    if entity == "logged_model":
        return next(k for k, v in records["logged_model"].items() if v["attributes"]["model_id"] == obj.model_id)


def search(entity, f):
    if entity == "run":
        return ts.search_runs([exp_runs], f, ViewType.ALL, max_results=1000)
    if entity == "experiment":
        return ts.search_experiments(view_type=ViewType.ALL, max_results=1000, filter_string=f)
    if entity == "registered_model":
        return rs.search_registered_models(filter_string=f, max_results=1000)
    if entity == "model_version":
        return rs.search_model_versions(filter_string=f, max_results=1000)
    if entity == "logged_model":
        return ts.search_logged_models([exp_lm], filter_string=f, max_results=1000)


def search_sorted(entity, clause):
    if entity == "run":
        return ts.search_runs([exp_runs], "", ViewType.ALL, max_results=1000, order_by=[clause])
    if entity == "experiment":
        return ts.search_experiments(view_type=ViewType.ALL, max_results=1000, order_by=[clause])
    if entity == "registered_model":
        return rs.search_registered_models(max_results=1000, order_by=[clause])
    if entity == "model_version":
        return rs.search_model_versions(max_results=1000, order_by=[clause])


def run_case(kind, entity, text, is_order):
    for k, v in ids.items():
        text = text.replace("{" + k + "}", str(v))
    out = {"kind": kind, "entity": entity, "text": text, "order_by": is_order}
    try:
        res = search_sorted(entity, text) if is_order else search(entity, text)
        out["ok"] = True
        labels = [label_of(entity, o) for o in res]
        out["matches"] = labels if is_order else sorted(labels)
    except mlflow.exceptions.MlflowException as e:
        out["ok"] = False
        out["error"] = f"{e.error_code}: {e.message}"[:300]
    except Exception as e:  # MLflow crashes (500) on some inputs: still a rejection
        out["ok"] = False
        out["error"] = f"INTERNAL_ERROR ({type(e).__name__}): {e}"[:300]
    return out


corpus_path = os.environ.get("ORACLE_CORPUS") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "corpus.txt"
)
cases = []
with open(corpus_path, encoding="utf-8") as fh:
    for line in fh:
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        kind = "mlflow"
        for prefix in ("ext:", "dev:", "rej:"):
            if line.startswith(prefix):
                kind = prefix[:-1]
                line = line[len(prefix):]
        expected = None
        if " ⇒ " in line:
            line, labels = line.split(" ⇒ ", 1)
            expected = sorted(x for x in labels.split(",") if x)
        entity, text = line.split("|", 1)
        is_order = entity.endswith("@order")
        entity = entity.removesuffix("@order")
        case = run_case(kind, entity, text, is_order)
        if expected is not None:
            case["expected"] = expected
        cases.append(case)

json.dump({"mlflow_version": mlflow.__version__, "records": records, "cases": cases}, sys.stdout,
          indent=1, ensure_ascii=False)

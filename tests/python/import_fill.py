"""Fills a tracking server (MLFLOW_TRACKING_URI) through the real mlflow client, for
test_import.py. Run with either venv's python: the MLflow 3-only parts (logged models)
are skipped under the 2.x client. Prints a JSON summary of what it made."""

import json
import math
import os
import sys
import tempfile
import time

import mlflow
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

IS_MLFLOW3 = int(mlflow.__version__.split(".")[0]) >= 3
POINTS = int(os.environ.get("IMPORT_FILL_POINTS", "5000"))
client = mlflow.MlflowClient()
tag = sys.argv[1] if len(sys.argv) > 1 else "fill"
made = {"experiments": [], "runs": [], "models": [], "logged_models": []}

for e in range(2):
    exp_id = client.create_experiment(f"{tag}-exp-{e}", tags={"team": f"t{e}", "note": "moved in"})
    made["experiments"].append(exp_id)
    for r in range(3):
        run = client.create_run(exp_id, run_name=f"{tag}-run-{e}-{r}", tags={"kind": "train", "r": str(r)})
        rid = run.info.run_id
        made["runs"].append(rid)
        client.log_batch(rid, params=[Param("lr", str(0.1 * (r + 1))), Param("layers", "3")])
        if r == 0:
            # A long history with awkward values: NaN, a tiny double, repeated steps.
            base = int(time.time() * 1000)
            values = [math.sin(i) / 3.0 for i in range(POINTS)]
            values[7] = float("nan")
            values[11] = 5e-324
            metrics = [Metric("loss", values[i], base + i, i) for i in range(POINTS)]
            metrics.append(Metric("loss", 0.5, base + POINTS, 3))
            for start in range(0, len(metrics), 1000):
                client.log_batch(rid, metrics=metrics[start : start + 1000])
        client.log_metric(rid, "acc", 0.25 * r, step=r)
        dataset = Dataset(
            name=f"data-{e}", digest=f"d{e}{r}", source_type="s3",
            source=json.dumps({"uri": f"s3://bucket/{e}.csv"}), schema='{"mlflow_colspec": []}',
            profile='{"num_rows": 10}',
        )
        client.log_inputs(rid, [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])])
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "sub"))
            with open(os.path.join(tmp, "notes.txt"), "w") as f:
                f.write(f"run {rid}\n")
            with open(os.path.join(tmp, "sub", "blob.bin"), "wb") as f:
                f.write(bytes(range(256)) * 40)
            client.log_artifacts(rid, tmp)
        status = "FINISHED" if r != 2 else "FAILED"
        client.set_terminated(rid, status)
    if e == 1:
        client.delete_run(made["runs"][-1])

if IS_MLFLOW3:
    source_run = made["runs"][0]
    model = client.create_logged_model(
        made["experiments"][0], name="net", source_run_id=source_run, params={"depth": "3"}, tags={"k": "v"},
        model_type="toy",
    )
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "MLmodel"), "w") as f:
            f.write("flavors: {}\n")
        client.log_model_artifacts(model.model_id, tmp)
    client.finalize_logged_model(model.model_id, "READY")
    made["logged_models"].append(model.model_id)

for m in range(2):
    name = f"{tag}-model-{m}"
    client.create_registered_model(name, tags={"owner": "bob"}, description=f"model {m}")
    made["models"].append(name)
    for v in range(3):
        run_id = made["runs"][v]
        version = client.create_model_version(name, f"runs:/{run_id}/sub", run_id=run_id, tags={"v": str(v)})
        if v == 1:
            client.transition_model_version_stage(name, version.version, "Staging")
        if v == 2:
            client.transition_model_version_stage(name, version.version, "Production")
    client.set_registered_model_alias(name, "champion", "2")
    client.set_model_version_tag(name, "1", "validated", "yes")
    # Deleted versions keep their number: the next one created after import must be 5.
    if m == 1:
        client.create_model_version(name, f"runs:/{made['runs'][0]}/sub", run_id=made["runs"][0])
        client.delete_model_version(name, "4")

print(json.dumps(made))

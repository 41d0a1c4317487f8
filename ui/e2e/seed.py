"""Creates the e2e tests' data through the real mlflow client; writes the ids as JSON to argv[1].

Run with the venv's python and MLFLOW_TRACKING_URI pointing at the ferroflow under test.
"""
import json
import os
import struct
import sys
import tempfile
import zlib

import mlflow
from mlflow import MlflowClient

HOSTILE = "<img src=x onerror=alert(1)>"


def png(path, width=32, height=16):
    """A small red/blue PNG written by hand (no imaging library needed)."""
    rows = b"".join(
        b"\x00" + b"".join(b"\xff\x20\x20" if x < width // 2 else b"\x20\x20\xff" for x in range(width))
        for _ in range(height)
    )

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def main():
    client = MlflowClient()
    exp_id = mlflow.create_experiment("ui-e2e")
    mlflow.set_experiment(experiment_id=exp_id)
    runs = {}
    # Four runs over two learning rates, with a loss curve each.
    for i, (lr, seed) in enumerate([("0.1", 1), ("0.1", 2), ("0.01", 1), ("0.01", 2)]):
        with mlflow.start_run(run_name=f"train-{i}") as run:
            mlflow.log_params({"lr": lr, "seed": seed})
            base = 1.0 if lr == "0.1" else 2.0
            for step in range(10):
                mlflow.log_metric("loss", base / (step + 1) + seed * 0.01, step=step)
            mlflow.log_metric("accuracy", 0.5 + i * 0.1)
            mlflow.set_tag("mlflow.source.git.commit", f"deadbeef{i}")
            runs[f"train-{i}"] = run.info.run_id
            if i == 0:
                with tempfile.TemporaryDirectory() as d:
                    p = os.path.join(d, "confusion.png")
                    png(p)
                    mlflow.log_artifact(p, artifact_path="plots")
                    t = os.path.join(d, "notes.txt")
                    with open(t, "w") as f:
                        f.write("hello from the e2e seed\n" + HOSTILE + "\n")
                    mlflow.log_artifact(t)
    # The hostile run: name, tag and markdown description carry markup.
    with mlflow.start_run(run_name=HOSTILE) as run:
        mlflow.set_tag("note", HOSTILE)
        mlflow.set_tag("mlflow.note.content", f"# Title\n\n{HOSTILE} **bold** <script>alert(2)</script>")
        mlflow.log_param("lr", "0.5")
        runs["hostile"] = run.info.run_id
    # A registered model with two versions.
    client.create_registered_model("ui-e2e-model")
    for key in ("train-0", "train-1"):
        client.create_model_version("ui-e2e-model", f"runs:/{runs[key]}/model", run_id=runs[key])
    with open(sys.argv[1], "w") as f:
        json.dump({"experiment_id": exp_id, "runs": runs, "model": "ui-e2e-model"}, f)




# ---- the run page (e2e/run-page.mjs): its own experiment, so the counts above stay.
RUN_PAGE_DESCRIPTION = """# Run notes

Trained with **bold** choices and _care_.

<script>alert('md-script')</script>

<img src=x onerror="alert('md-img')">

[click me](javascript:alert('md-link')) and [docs](https://mlflow.org/docs/latest/)

| metric | value |
| --- | --- |
| acc | 0.9 |
"""

RUN_PAGE_CSV = 'name,score,note\nalpha,1.5,"has, comma"\nbeta,2,"two\nlines"\n'


def seed_run_page(client, out_path):
    import mlflow.pyfunc
    from mlflow.entities import Dataset, DatasetInput, InputTag

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    exp_id = mlflow.create_experiment("ui-e2e-run-page")
    mlflow.set_experiment(experiment_id=exp_id)
    with mlflow.start_run(run_name="rp-parent") as parent:
        mlflow.log_params({"random_seed": "42", "epochs": "3"})
        mlflow.log_metric("loss", 0.25, step=3)
        mlflow.set_tags(
            {
                "mlflow.source.git.commit": "cafe1234feed",
                "mlflow.source.name": "train.py",
                "mlflow.source.type": "LOCAL",
                "mlflow.note.content": RUN_PAGE_DESCRIPTION,
                "team": "vision",
            }
        )
        client.log_inputs(
            parent.info.run_id,
            [
                DatasetInput(
                    Dataset(name="train-data", digest="d1g3st42", source_type="local", source="file:///data/train.csv"),
                    tags=[InputTag("mlflow.data.context", "training")],
                )
            ],
        )
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "metrics.json"), "w") as f:
                f.write('{"accuracy":0.9,"classes":["cat","dog"]}')
            with open(os.path.join(d, "table.csv"), "w") as f:
                f.write(RUN_PAGE_CSV)
            with open(os.path.join(d, "config.yaml"), "w") as f:
                f.write("lr: 0.1\nlayers: [64, 32]\n")
            mlflow.log_artifacts(d, artifact_path="data")
        mlflow.pyfunc.log_model(name="echo-model", python_model=Echo(), pip_requirements=["mlflow==3.17.2", "numpy"])
        with mlflow.start_run(run_name="rp-child", nested=True) as child:
            mlflow.log_param("fold", "1")
            mlflow.set_tag("stage", "cv")
    with open(out_path) as f:
        ids = json.load(f)
    ids["run_page"] = {"experiment_id": exp_id, "parent": parent.info.run_id, "child": child.info.run_id}
    with open(out_path, "w") as f:
        json.dump(ids, f)


def seed_charts(path):
    """The metric explorer's data, in an experiment of its own (the tests above count the
    runs of "ui-e2e"): two runs left RUNNING, for live points, with a loss curve, an lr
    param and a team tag each. Adds `live_experiment_id` and runs `live-0`, `live-1`."""
    client = MlflowClient()
    exp_id = client.create_experiment("ui-e2e-live")
    with open(path) as f:
        seeded = json.load(f)
    for i in range(2):
        run = client.create_run(exp_id, run_name=f"live-{i}", tags={"team": "ab"[i]})
        client.log_param(run.info.run_id, "lr", "0.1")
        for step in range(10):
            client.log_metric(run.info.run_id, "loss", 1.0 / (step + 1) + i * 0.05, step=step)
            client.log_metric(run.info.run_id, "epoch", step // 5, step=step)
        seeded["runs"][f"live-{i}"] = run.info.run_id
    seeded["live_experiment_id"] = exp_id
    with open(path, "w") as f:
        json.dump(seeded, f)




# ---- the runs table (e2e/runs-table.mjs): two experiments of their own, so the counts
# above stay: delete/restore, completion of keys, several experiments at once.
def seed_runs_table(client, out_path):
    ids = {}
    for name, runs in (
        ("ui-e2e-runs-table", [("rt-a1", "32"), ("rt-a2", "64"), ("rt-a3", "32"), ("rt-a4", "64")]),
        ("ui-e2e-runs-table-b", [("rt-b1", "32"), ("rt-b2", "128")]),
    ):
        exp_id = mlflow.create_experiment(name)
        mlflow.set_experiment(experiment_id=exp_id)
        ids[name] = {"experiment_id": exp_id, "runs": {}}
        for i, (run_name, batch) in enumerate(runs):
            with mlflow.start_run(run_name=run_name) as run:
                mlflow.log_params({"batch_size": batch, "dropout rate": "0.2"})
                mlflow.log_metric("val_acc", 0.6 + i * 0.05)
                mlflow.set_tags({"owner": "ana" if i % 2 else "bo", "team": "nlp"})
                ids[name]["runs"][run_name] = run.info.run_id
    with open(out_path) as f:
        out = json.load(f)
    out["runs_table"] = {"a": ids["ui-e2e-runs-table"], "b": ids["ui-e2e-runs-table-b"]}
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    # Each part adds its ids to the JSON file the first one writes.
    main()
    seed_run_page(MlflowClient(), sys.argv[1])
    seed_charts(sys.argv[1])
    seed_runs_table(MlflowClient(), sys.argv[1])

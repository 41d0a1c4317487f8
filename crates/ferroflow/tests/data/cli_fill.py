"""Fills a tracking server (MLFLOW_TRACKING_URI) for the client subcommands' tests, with the
real mlflow client: an experiment of runs with known metrics, a registered champion, and
a run logged from a git repository whose tree has uncommitted changes.

Usage: cli_fill.py GIT_DIR  — prints a JSON object: run name -> run id, and "repo_commit".
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression


def tiny_model():
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    return LogisticRegression().fit(x, [0, 0, 1, 1]), x


# A file large enough for the download's progress bar; the test rebuilds the same bytes.
BIG_FILE_BYTES = bytes(i % 251 for i in range(5_000_000))


def log_run(name, metrics, params, with_model=False, history=None, artifacts=False):
    with mlflow.start_run(run_name=name) as run:
        if artifacts:
            mlflow.log_text("f1 0.93\n", "reports/summary.txt")
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "big.bin")
                with open(path, "wb") as f:
                    f.write(BIG_FILE_BYTES)
                mlflow.log_artifact(path, "data")
        mlflow.log_params(params)
        for key, values in (history or {}).items():
            for step, value in enumerate(values):
                mlflow.log_metric(key, value, step=step)
        mlflow.log_metrics(metrics)
        if with_model:
            model, x = tiny_model()
            mlflow.sklearn.log_model(model, name="model", input_example=x[:1])
        return run.info.run_id


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout.strip()


def git_run(repo):
    """Runs a training script from a git repository with an uncommitted change, as a user would."""
    os.makedirs(repo, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ci@example.com")
    git(repo, "config", "user.name", "CI")
    script = os.path.join(repo, "train.py")
    with open(script, "w") as f:
        f.write(textwrap.dedent("""\
            import subprocess, sys
            import mlflow, numpy as np, pandas as pd
            from sklearn.linear_model import LogisticRegression

            dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
            mlflow.set_experiment("repro")
            with mlflow.start_run(run_name="from-git") as run:
                mlflow.set_tag("mlflow.source.git.dirty", "true" if dirty else "false")
                mlflow.log_params({"C": 0.5, "random_seed": 7})
                frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
                mlflow.log_input(mlflow.data.from_pandas(frame, name="train"), context="training")
                model = LogisticRegression(C=0.5).fit(frame[["x"]], frame["y"])
                mlflow.sklearn.log_model(model, name="model")
                mlflow.log_metric("f1", 0.8)
                print("RUN_ID=" + run.info.run_id)
            """))
    with open(os.path.join(repo, "README.md"), "w") as f:
        f.write("committed\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "train")
    commit = git(repo, "rev-parse", "HEAD")
    with open(os.path.join(repo, "README.md"), "a") as f:
        f.write("an uncommitted change\n")
    out = subprocess.run([sys.executable, script], cwd=repo, check=True, capture_output=True, text=True).stdout
    run_id = next(line[7:] for line in out.splitlines() if line.startswith("RUN_ID="))
    return run_id, commit


def main():
    repo = sys.argv[1]
    mlflow.set_experiment("churn")
    ids = {
        "baseline": log_run("baseline", {"f1": 0.90, "loss": 0.30}, {"C": "1.0", "seed": "42"}, with_model=True,
                            history={"val_loss": [0.9, 0.6, 0.4]}),
        "tied": log_run("tied", {"f1": 0.90, "loss": 0.30}, {"C": "1.0", "seed": "43"}, with_model=True),
        "good": log_run("good", {"f1": 0.93, "loss": 0.25}, {"C": "0.5", "seed": "42"}, with_model=True,
                        artifacts=True),
        "weak": log_run("weak", {"f1": 0.85, "loss": 0.40}, {"C": "2.0", "seed": "42"}),
        "no-f1": log_run("no-f1", {"loss": 0.20}, {"C": "0.1", "seed": "42"}, with_model=True),
    }
    client = MlflowClient()
    version = mlflow.register_model(f"runs:/{ids['baseline']}/model", "churn")
    client.set_registered_model_alias("churn", "champion", version.version)
    ids["git"], ids["repo_commit"] = git_run(repo)
    print(json.dumps(ids))


if __name__ == "__main__":
    main()

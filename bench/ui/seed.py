"""Fills a fresh MLflow 3 SQLite database for the UI benchmark (bench/ui.sh), fast: MLflow's
own store creates the schema and the experiments, then rows go in with sqlite3 in bulk
(MLflow's REST API would take an hour for 10M metric points). bench/ui.sh then imports
the same database into ferroflow (`ferroflow import`), so both UIs show identical data.

    python seed.py <db path> <artifact root> <runs in the table experiment>
        <chart runs> <points per chart run>

Prints one JSON line: the experiment ids, the chart's run ids, the newest table run's name.
"""
import json
import random
import sqlite3
import sys
import uuid

from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

START = 1_760_000_000_000  # ms; runs start a second apart from here


def columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def insert(db: sqlite3.Connection, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    names = list(rows[0])
    missing = set(names) - columns(db, table)
    if missing:
        raise SystemExit(f"seed: MLflow's {table} table has no column {sorted(missing)}")
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
    db.executemany(sql, [tuple(r[n] for n in names) for r in rows])


def run_row(experiment_id: str, artifact_root: str, index: int, name: str) -> dict:
    run_id = uuid.UUID(int=random.getrandbits(128)).hex
    return {
        "run_uuid": run_id,
        "name": name,
        "source_type": "LOCAL",
        "source_name": "train.py",
        "entry_point_name": "",
        "user_id": "bench",
        "status": "FINISHED",
        "start_time": START + index * 1000,
        "end_time": START + index * 1000 + 500,
        "source_version": "",
        "lifecycle_stage": "active",
        "artifact_uri": f"{artifact_root}/{experiment_id}/{run_id}/artifacts",
        "experiment_id": int(experiment_id),
    }


def tags_of(run: dict) -> list[dict]:
    return [
        {"key": "mlflow.runName", "value": run["name"], "run_uuid": run["run_uuid"]},
        {"key": "mlflow.user", "value": "bench", "run_uuid": run["run_uuid"]},
        {"key": "mlflow.source.name", "value": "train.py", "run_uuid": run["run_uuid"]},
        {"key": "mlflow.source.type", "value": "LOCAL", "run_uuid": run["run_uuid"]},
    ]


def main() -> None:
    db_path, artifact_root = sys.argv[1], sys.argv[2]
    table_runs, chart_runs, points = (int(a) for a in sys.argv[3:6])
    random.seed(7)
    store = SqlAlchemyStore(f"sqlite:///{db_path}", artifact_root)
    table_exp = store.create_experiment("ui-bench-table")
    chart_exp = store.create_experiment("ui-bench-chart")
    store.engine.dispose()

    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    with db:
        runs, params, metrics, tags = [], [], [], []
        for i in range(table_runs):
            run = run_row(table_exp, artifact_root, i, f"run-{i:05d}")
            runs.append(run)
            tags += tags_of(run)
            for p in range(10):
                params.append({"key": f"p{p}", "value": str(random.choice([0.1, 0.01, 0.001, 32, 64, "adam"])),
                               "run_uuid": run["run_uuid"]})
            for m in range(10):
                value = random.random()
                point = {"key": f"m{m}", "value": value, "timestamp": run["end_time"], "step": 0, "is_nan": 0,
                         "run_uuid": run["run_uuid"]}
                metrics.append(point)
        insert(db, "runs", runs)
        insert(db, "tags", tags)
        insert(db, "params", params)
        insert(db, "metrics", metrics)
        insert(db, "latest_metrics", metrics)

        chart = []
        for i in range(chart_runs):
            run = run_row(chart_exp, artifact_root, i, f"chart-{i:03d}")
            chart.append(run)
            insert(db, "runs", [run])
            insert(db, "tags", tags_of(run))
            insert(db, "params", [{"key": "seed", "value": str(i % 5), "run_uuid": run["run_uuid"]},
                                  {"key": "lr", "value": ["0.1", "0.01"][i % 2], "run_uuid": run["run_uuid"]}])
            # A noisy decaying loss with rare spikes (spikes must survive downsampling).
            base = 1.0 + (i % 2)
            rows = []
            for step in range(points):
                value = base / (1 + step / 1000) + random.random() * 0.05 + (5.0 if step % 9973 == 0 else 0.0)
                rows.append((
                    "loss", value, run["start_time"] + step, run["run_uuid"], step, 0))
            db.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)",
                [r[:5] for r in rows])
            last = rows[-1]
            insert(db, "latest_metrics", [{"key": "loss", "value": last[1], "timestamp": last[2], "step": last[4],
                                          "is_nan": 0, "run_uuid": run["run_uuid"]}])
    db.close()
    print(json.dumps({
        "table_experiment": table_exp,
        "chart_experiment": chart_exp,
        "chart_runs": [r["run_uuid"] for r in chart],
        "newest_table_run": f"run-{table_runs - 1:05d}",
    }))


if __name__ == "__main__":
    main()

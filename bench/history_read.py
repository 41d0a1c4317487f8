"""Workload 5: reads one metric's whole history back with the real MLflow Python client.

Usage: python history_read.py URL RUN_ID METRIC_KEY EXPECTED_POINTS REPETITIONS

Prints one JSON object: the seconds each MlflowClient.get_metric_history call took (the
client pages through the history itself), and whether every call returned every point.
The import of mlflow and the client's construction are outside the timing.
"""

import json
import sys
import time

from mlflow.tracking import MlflowClient


def main() -> int:
    url, run_id, key, expected, repetitions = sys.argv[1:6]
    expected, repetitions = int(expected), int(repetitions)
    client = MlflowClient(tracking_uri=url)
    seconds, counts = [], []
    for _ in range(repetitions):
        started = time.perf_counter()
        history = client.get_metric_history(run_id, key)
        seconds.append(time.perf_counter() - started)
        counts.append(len(history))
    ok = all(count == expected for count in counts)
    steps = sorted(m.step for m in history)
    ok = ok and steps == list(range(expected))
    print(json.dumps({"seconds": seconds, "points": counts, "complete": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Workload 5: reads one metric's whole history back with the real MLflow Python client.

Usage: python history_read.py URL RUN_ID METRIC_KEY EXPECTED_POINTS REPETITIONS

Prints one JSON object: the seconds each MlflowClient.get_metric_history call took (the
client pages through the history itself), and whether every call returned every point.
The import of mlflow and the client's construction are outside the timing.

It also times the same HTTP exchanges without the client's decoding ("http_seconds"):
the GETs of the client's 25,000-point pages, read to the last byte over one kept-alive
connection. What remains of the client's time is its own protobuf decoding, the same for
every server; "decode_seconds" times that decoding alone on the fetched pages.
"""

import json
import sys
import time
import urllib.parse

import requests
from mlflow.entities import Metric
from mlflow.protos.service_pb2 import GetMetricHistory
from mlflow.tracking import MlflowClient
from mlflow.utils.proto_json_utils import parse_dict

PAGE = 25_000  # the client's GET_METRIC_HISTORY_MAX_RESULTS


def fetch_pages(session: requests.Session, url: str, run_id: str, key: str) -> list[bytes]:
    pages, token = [], None
    while True:
        query = {"run_id": run_id, "run_uuid": run_id, "metric_key": key, "max_results": PAGE}
        if token:
            query["page_token"] = token
        answer = session.get(f"{url}/api/2.0/mlflow/metrics/get-history?{urllib.parse.urlencode(query)}")
        answer.raise_for_status()
        pages.append(answer.content)
        # Only the token is looked up here; the decoding is timed separately.
        tail = answer.content[-400:]
        token = json.loads(answer.content).get("next_page_token") if b"next_page_token" in tail else None
        if not token:
            return pages


def decode(pages: list[bytes]) -> int:
    count = 0
    for page in pages:
        message = GetMetricHistory.Response()
        parse_dict(js_dict=json.loads(page), message=message)
        count += len([Metric.from_proto(m) for m in message.metrics])
    return count


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
    session = requests.Session()
    http_seconds, decode_seconds = [], []
    for _ in range(repetitions):
        started = time.perf_counter()
        pages = fetch_pages(session, url, run_id, key)
        http_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        decoded = decode(pages)
        decode_seconds.append(time.perf_counter() - started)
        ok = ok and decoded == expected
    print(json.dumps({"seconds": seconds, "points": counts, "complete": ok, "http_seconds": http_seconds,
                      "decode_seconds": decode_seconds}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

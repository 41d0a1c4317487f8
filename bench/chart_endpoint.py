"""Times ferroflow's one-call chart endpoint (`/ajax-api/ferroflow/v1/charts/series`) on
SQLite: R runs x N points of one metric, the whole chart at 1,000 buckets, then a zoom on
1% of the steps.

    python3 bench/chart_endpoint.py target/release/ferroflow 100 100000

The runs are created through the REST API; their points are then written straight into
the SQLite file (the server stopped), in ferroflow's schema with the series summary a
regular series has, because logging 10 million points through the API would take most of
the run. Sinusoidal values with a spike every 9,973 steps.
"""
import json, os, shutil, sqlite3, subprocess, sys, tempfile, time, urllib.request, socket, statistics

bin_, R, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = tempfile.mkdtemp(prefix="ferroflow-chart-bench-")
db = f"{d}/ff.db"
def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
def start():
    p = port()
    proc = subprocess.Popen([bin_, "server", "--port", str(p), "--backend-store-uri", f"sqlite:///{db}",
                             "--artifacts-destination", f"{d}/a"], stdout=subprocess.DEVNULL, stderr=open(f"{d}/log", "a"))
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{p}/health"); return proc, f"http://127.0.0.1:{p}"
        except Exception: time.sleep(0.1)
    raise SystemExit("no start")
def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r: return r.read()
proc, base = start()
exp = json.loads(post(base, "/api/2.0/mlflow/experiments/create", {"name": "bench"}))["experiment_id"]
runs = [json.loads(post(base, "/api/2.0/mlflow/runs/create", {"experiment_id": exp}))["run"]["info"]["run_id"] for _ in range(R)]
post(base, "/api/2.0/mlflow/runs/log-metric", {"run_id": runs[0], "key": "loss", "value": 1, "timestamp": 0, "step": -1})
proc.terminate(); proc.wait()
t = time.time()
c = sqlite3.connect(db)
key_id = c.execute("SELECT key_id FROM metric_keys WHERE key='loss'").fetchone()[0]
c.execute("DELETE FROM metrics"); c.execute("DELETE FROM latest_metrics")
pks = [r[0] for r in c.execute("SELECT run_pk FROM runs")]
for pk in pks:
    c.execute("""WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM s WHERE i < ?)
                 INSERT INTO metrics SELECT ?, ?, i, 1700000000000 + i*10, abs(sin(i*0.001+?))+ (CASE WHEN i % 9973 = 0 THEN 50 ELSE 0 END), 0 FROM s""",
              (N - 1, pk, key_id, pk))
    c.execute("INSERT INTO latest_metrics VALUES (?, ?, ?, ?, 0.5, 0, ?, 0, 1, 1, 1)", (pk, key_id, N - 1, 1700000000000 + (N-1)*10, N))
c.commit(); c.close()
print(f"seeded {R} x {N} points in {time.time()-t:.1f}s", flush=True)
proc, base = start()
def timed(body):
    t = time.perf_counter(); out = post(base, "/ajax-api/ferroflow/v1/charts/series", body); return time.perf_counter() - t, out
body = {"run_ids": runs, "metric_keys": ["loss"], "buckets": 1000}
timed(body)  # warm the page cache
times = []
for _ in range(5):
    dt, out = timed(body); times.append(dt)
ans = json.loads(out)
pts = sum(len(s["steps"]) for s in ans["series"]); total = sum(s["total_points"] for s in ans["series"])
print(f"full chart: median {statistics.median(times)*1000:.0f} ms (min {min(times)*1000:.0f}), {len(out)/1e6:.1f} MB JSON, {pts} of {total} points")
zb = dict(body, start_step=N // 2, end_step=N // 2 + N // 100)
zt = []
for _ in range(5):
    dt, out = timed(zb); zt.append(dt)
ans = json.loads(out)
print(f"zoom (1% of steps): median {statistics.median(zt)*1000:.0f} ms, {sum(len(s['steps']) for s in ans['series'])} points")
proc.terminate(); proc.wait()
shutil.rmtree(d, ignore_errors=True) if not os.environ.get("KEEP") else print(d)

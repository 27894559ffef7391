"""Serving latency and throughput: this API against `mlflow models serve` of the same champion, in one run.

Both servers run on 127.0.0.1 and answer the Model Serving protocol (`dataframe_records`). Scenarios: one
loan and 100-loan batches, with 1 and 4 concurrent clients. Prints p50 / p95 / p99 latency and requests/s
per scenario, and the ratios against the goals (single-loan p50 <= 2 ms, p99 <= 10 ms, >= 10x the
requests/s of `mlflow models serve`). The API runs twice: with the inference log on (as deployed) and off,
so the log's latency cost is measured, not assumed. The reference loads the Spark pipeline (a JVM in the server) and
needs ~0.25 s per request here, so it gets fewer requests (`--reference-requests`) to keep the run short.
Usage: python bench/serve.py [--home PROJECT_HOME] [--requests 2000] [--reference-requests 200]
Needs a champion in the project's registry (`make run` makes one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

SCENARIOS = [("single", 1, 1), ("single", 1, 4), ("batch100", 100, 1), ("batch100", 100, 4)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout} s")


def drive(url: str, bodies: list[dict], requests: int, clients: int) -> dict[str, float]:
    """`requests` POSTs split over `clients` threads; latency percentiles (ms) and requests/s."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker(n: int, offset: int) -> None:
        mine = []
        with httpx.Client(timeout=120) as client:
            for i in range(n):
                start = time.perf_counter()
                response = client.post(url, json=bodies[(offset + i) % len(bodies)])
                mine.append(time.perf_counter() - start)
                if response.status_code != 200:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    share = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    threads = [threading.Thread(target=worker, args=(n, i * 7)) for i, n in enumerate(share)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {"requests": requests, "errors": errors[0], "p50": float(np.percentile(ms, 50)),
            "p95": float(np.percentile(ms, 95)), "p99": float(np.percentile(ms, 99)), "rps": requests / wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=os.environ.get("CREDIT_RISK_HOME", ""), help="project home with a champion")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--reference-requests", type=int, default=200)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    if args.home:
        os.environ["CREDIT_RISK_HOME"] = str(Path(args.home).absolute())

    import mlflow
    from mlflow import MlflowClient

    from credit_risk import features
    from credit_risk.runtime.config import load_config
    from credit_risk.runtime.lake import get_lake
    from credit_risk.serving.schema import applications_from_gold

    cfg = load_config()
    mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)
    champion = MlflowClient().get_model_version_by_alias(cfg.model_name, "champion")
    gold = get_lake(cfg).read("gold.loan_features").limit(400).toPandas()
    applications = [{k: v for k, v in a.items() if k != "loan_id"} for a in applications_from_gold(gold)]
    gold_records = gold[features.FEATURES].astype(object).where(gold[features.FEATURES].notna(), None).to_dict("records")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MLFLOW_TRACKING_URI": cfg.mlflow_tracking_uri}
    results = []

    def run_ours(label: str, scenarios: list, extra_env: dict[str, str], predict: bool) -> None:
        port = free_port()
        ours = subprocess.Popen([sys.executable, "-m", "credit_risk.cli", "serve", "--port", str(port), "--log-level",
                                 "warning"], env={**env, **extra_env}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_ready(f"http://127.0.0.1:{port}/ready", ours)
            url = f"http://127.0.0.1:{port}/serving-endpoints/credit-risk-pd/invocations"
            drive(url, [{"dataframe_records": applications[:1]}], 200, 1)  # warm-up
            for name, size, clients in scenarios:
                bodies = [{"dataframe_records": applications[i:i + size]} for i in range(0, 300, max(size // 4, 1))]
                results.append((label, name, clients, drive(url, bodies, args.requests, clients)))
            if predict:
                results.append((label + " /predict+reasons", "single", 1,
                                drive(f"http://127.0.0.1:{port}/predict", applications[:100], args.requests, 1)))
        finally:
            ours.terminate()
            ours.wait(timeout=30)

    log_dir = Path(tempfile.mkdtemp(prefix="bench-inference-log-"))
    run_ours("this API", SCENARIOS, {"CREDIT_RISK_INFERENCE_LOG": str(log_dir / "log")}, predict=True)
    run_ours("this API, no inference log", [s for s in SCENARIOS if s[2] == 1], {"CREDIT_RISK_INFERENCE_LOG": ""},
             predict=False)
    shutil.rmtree(log_dir, ignore_errors=True)

    if not args.skip_reference:
        port = free_port()
        reference = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                                      f"models:/{cfg.model_name}@champion", "--env-manager", "local", "-p", str(port),
                                      "-h", "127.0.0.1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_ready(f"http://127.0.0.1:{port}/ping", reference)
            url = f"http://127.0.0.1:{port}/invocations"
            drive(url, [{"dataframe_records": gold_records[:1]}], 5, 1)
            for name, size, clients in SCENARIOS:
                bodies = [{"dataframe_records": gold_records[i:i + size]} for i in range(0, 300, max(size // 4, 1))]
                results.append(("mlflow models serve", name, clients, drive(url, bodies, args.reference_requests, clients)))
        finally:
            reference.terminate()
            reference.wait(timeout=60)

    print(f"\nchampion: {cfg.model_name} v{champion.version}; {os.cpu_count()} cores; client and servers share them\n")
    print(f"{'server':36} {'scenario':9} {'clients':>7} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'req/s':>8}")
    for server, name, clients, r in results:
        print(f"{server:36} {name:9} {clients:>7} {r['requests']:>8} {r['errors']:>6} {r['p50']:>8.2f} {r['p95']:>8.2f} "
              f"{r['p99']:>8.2f} {r['rps']:>8.1f}")
    by = {(s, n, c): r for s, n, c, r in results}
    single = by[("this API", "single", 1)]
    print(f"\nsingle-loan p50 {single['p50']:.2f} ms (goal <= 2: {'met' if single['p50'] <= 2 else 'NOT met'}), "
          f"p99 {single['p99']:.2f} ms (goal <= 10: {'met' if single['p99'] <= 10 else 'NOT met'})")
    for name, _, clients in SCENARIOS:
        if clients == 1:
            on, off = by[("this API", name, 1)], by[("this API, no inference log", name, 1)]
            print(f"inference log cost {name}: p50 {on['p50'] / off['p50']:.2f}x, p99 {on['p99'] / off['p99']:.2f}x "
                  f"(log on / off)")
    for name, _, clients in SCENARIOS:
        if ("mlflow models serve", name, clients) in by:
            ratio = by[("this API", name, clients)]["rps"] / by[("mlflow models serve", name, clients)]["rps"]
            print(f"requests/s ratio {name} x{clients} clients: {ratio:.1f}x (goal >= 10x: {'met' if ratio >= 10 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

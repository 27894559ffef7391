"""Serving latency and throughput: this API against `mlflow models serve` of the same champion, in one run.

The reference is the registered champion version itself, the JVM-free pyfunc over the portable export that
a Databricks endpoint serves (`mlflow models serve -m models:/<name>@champion --env-manager local`), so both
servers run the same numpy replay of the same fit: what differs is the server around it. Both run on
127.0.0.1 with one worker and answer the Model Serving protocol (`dataframe_records`), for the same loans in
the same batches: as applications to this API (which derives the model inputs as gold does), as the model's
input columns to the pyfunc. Scenarios: one loan and 100-loan batches, with 1 and 4 concurrent clients, each
bounded by a request count and a time limit. Prints p50 / p95 / p99 latency and requests/s per scenario, the
goals (single-loan p50 <= 2 ms, p99 <= 10 ms) and the ratios against the reference. The API runs twice: with
the inference log on (as deployed) and off, so the log's latency cost is measured, not assumed.
Usage: python bench/serve.py [--home PROJECT_HOME] [--requests 2000] [--seconds 30]
Needs a champion in the project's registry (`make run` makes one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
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
            raise RuntimeError(
                f"server exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout} s")


def drive(url: str, bodies: list[dict], requests: int, clients: int, seconds: float = 60) -> dict[str, float]:
    """Up to `requests` POSTs split over `clients` threads, stopped after `seconds`; latency (ms) and requests/s."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(n: int, offset: int) -> None:
        mine = []
        with httpx.Client(timeout=120) as client:
            for i in range(n):
                if time.perf_counter() > deadline:
                    break
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
    return {
        "requests": len(ms),
        "errors": errors[0],
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "rps": len(ms) / wall,
    }


def read_gold(cfg, rows: int):
    """The first `rows` loans of gold, read with delta-rs (no Spark in the benchmark's own process)."""
    from deltalake import DeltaTable

    path = cfg.lake_path / cfg.catalog / f"{cfg.schema_prefix}gold" / "loan_features"
    return DeltaTable(str(path)).to_pandas().sort_values("loan_id").head(rows).reset_index(drop=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", default=os.environ.get("CREDIT_RISK_HOME", ""), help="project home with a champion"
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests per scenario and server (at most)"
    )
    parser.add_argument("--seconds", type=float, default=30, help="time limit per scenario and server")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    if args.home:
        os.environ["CREDIT_RISK_HOME"] = str(Path(args.home).absolute())

    import mlflow
    from mlflow import MlflowClient

    from credit_risk.runtime.config import load_config
    from credit_risk.serving.schema import applications_from_gold

    cfg = load_config()
    mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)
    champion = MlflowClient().get_model_version_by_alias(cfg.model_name, "champion")
    columns = [
        c.name
        for c in mlflow.models.get_model_info(
            f"models:/{cfg.model_name}/{champion.version}"
        ).signature.inputs.inputs
    ]  # the pyfunc's inputs, as the export reads them
    gold = read_gold(cfg, 400)
    applications = [{k: v for k, v in a.items() if k != "loan_id"} for a in applications_from_gold(gold)]
    gold_records = gold[columns].astype(object).where(gold[columns].notna(), None).to_dict("records")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": cfg.mlflow_tracking_uri,
    }
    results = []

    def run_ours(label: str, scenarios: list, extra_env: dict[str, str], predict: bool) -> None:
        port = free_port()
        ours = subprocess.Popen(
            [sys.executable, "-m", "credit_risk.cli", "serve", "--port", str(port), "--log-level", "warning"],
            env={**env, **extra_env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/ready", ours)
            url = f"http://127.0.0.1:{port}/serving-endpoints/credit-risk-pd/invocations"
            drive(url, [{"dataframe_records": applications[:1]}], 200, 1)  # warm-up
            for name, size, clients in scenarios:
                bodies = [
                    {"dataframe_records": applications[i : i + size]}
                    for i in range(0, 300, max(size // 4, 1))
                ]
                results.append(
                    (label, name, clients, drive(url, bodies, args.requests, clients, args.seconds))
                )
            if predict:
                results.append(
                    (
                        label + " /predict+reasons",
                        "single",
                        1,
                        drive(
                            f"http://127.0.0.1:{port}/predict",
                            applications[:100],
                            args.requests,
                            1,
                            args.seconds,
                        ),
                    )
                )
        finally:
            ours.terminate()
            ours.wait(timeout=30)

    log_dir = Path(tempfile.mkdtemp(prefix="bench-inference-log-"))
    run_ours("this API", SCENARIOS, {"CREDIT_RISK_INFERENCE_LOG": str(log_dir / "log")}, predict=True)
    run_ours(
        "this API, no inference log",
        [s for s in SCENARIOS if s[2] == 1],
        {"CREDIT_RISK_INFERENCE_LOG": ""},
        predict=False,
    )
    shutil.rmtree(log_dir, ignore_errors=True)

    if not args.skip_reference:
        port = free_port()
        uri = f"models:/{cfg.model_name}@champion"
        serve = [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri, "--env-manager", "local"]
        reference = subprocess.Popen(
            [*serve, "-p", str(port), "-h", "127.0.0.1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/ping", reference)
            url = f"http://127.0.0.1:{port}/invocations"
            drive(url, [{"dataframe_records": gold_records[:1]}], 200, 1)  # warm-up, as for this API
            for name, size, clients in SCENARIOS:
                bodies = [
                    {"dataframe_records": gold_records[i : i + size]}
                    for i in range(0, 300, max(size // 4, 1))
                ]
                results.append(
                    (
                        "mlflow models serve (pyfunc)",
                        name,
                        clients,
                        drive(url, bodies, args.requests, clients, args.seconds),
                    )
                )
        finally:  # the CLI starts uvicorn as a child: end the whole process group
            os.killpg(reference.pid, signal.SIGTERM)
            reference.wait(timeout=60)

    print(
        f"\nchampion: {cfg.model_name} v{champion.version}; {os.cpu_count()} cores; client and servers share them\n"
    )
    print(
        f"{'server':36} {'scenario':9} {'clients':>7} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'req/s':>8}"
    )
    for server, name, clients, r in results:
        print(
            f"{server:36} {name:9} {clients:>7} {r['requests']:>8} {r['errors']:>6} {r['p50']:>8.2f} {r['p95']:>8.2f} "
            f"{r['p99']:>8.2f} {r['rps']:>8.1f}"
        )
    by = {(s, n, c): r for s, n, c, r in results}
    single = by[("this API", "single", 1)]
    print(
        f"\nsingle-loan p50 {single['p50']:.2f} ms (goal <= 2: {'met' if single['p50'] <= 2 else 'NOT met'}), "
        f"p99 {single['p99']:.2f} ms (goal <= 10: {'met' if single['p99'] <= 10 else 'NOT met'})"
    )
    for name, _, clients in SCENARIOS:
        if clients == 1:
            on, off = by[("this API", name, 1)], by[("this API, no inference log", name, 1)]
            print(
                f"inference log cost {name}: p50 {on['p50'] / off['p50']:.2f}x, p99 {on['p99'] / off['p99']:.2f}x "
                f"(log on / off)"
            )
    for name, _, clients in SCENARIOS:
        if ("mlflow models serve (pyfunc)", name, clients) in by:
            ours, ref = by[("this API", name, clients)], by[("mlflow models serve (pyfunc)", name, clients)]
            print(
                f"this API / mlflow models serve, {name} x{clients} clients: requests/s {ours['rps'] / ref['rps']:.2f}x, "
                f"p50 {ours['p50'] / ref['p50']:.2f}x, p99 {ours['p99'] / ref['p99']:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

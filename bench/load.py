"""Bounded load test of the scoring API: N clients for T seconds against 127.0.0.1 only, then it stops.

Each client posts single applications (a mix of loans from the gold table, or a fixed example) in a loop
until the deadline or the request cap; prints requests, errors, p50 / p95 / p99 latency and requests/s.
It refuses any host but 127.0.0.1 / localhost. Exit status 1 when any request failed.
Usage: python bench/load.py --url http://127.0.0.1:8000 [--clients 8] [--seconds 60] [--max-requests 200000]
       [--token TOKEN]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from urllib.parse import urlparse

import httpx
import numpy as np

EXAMPLE = {
    "loan_amnt": 12000,
    "term_months": 36,
    "int_rate": 12.5,
    "installment": 400.0,
    "grade": "B",
    "sub_grade": "B4",
    "annual_inc": 65000,
    "dti": 17.5,
    "fico_mid": 702,
    "emp_title": "teacher",
    "home_ownership": "MORTGAGE",
    "purpose": "debt_consolidation",
    "addr_state": "TX",
}


def run_load(
    url: str, bodies: list[dict], clients: int, seconds: float, max_requests: int, token: str = ""
) -> dict[str, float]:
    """Drive `clients` threads posting to `url` until `seconds` pass or `max_requests` are sent."""
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError(f"load tests run against 127.0.0.1 only, not {host!r}")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.perf_counter() + seconds
    lock, sent = threading.Lock(), [0]
    latencies: list[float] = []
    errors: dict[str, int] = {}

    def client(offset: int) -> None:
        mine, i = [], offset
        with httpx.Client(timeout=10, headers=headers) as http:
            while time.perf_counter() < deadline:
                with lock:
                    if sent[0] >= max_requests:
                        break
                    sent[0] += 1
                start = time.perf_counter()
                try:
                    status = http.post(url, json=bodies[i % len(bodies)]).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                mine.append(time.perf_counter() - start)
                if status != 200:
                    with lock:
                        errors[str(status)] = errors.get(str(status), 0) + 1
                i += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k * 13,), daemon=True) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)
    wall = time.perf_counter() - start
    ms = np.array(latencies or [0.0]) * 1000
    return {
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "rps": len(latencies) / wall,
        "seconds": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    result = run_load(
        args.url.rstrip("/") + "/predict",
        [EXAMPLE],
        args.clients,
        args.seconds,
        args.max_requests,
        args.token,
    )
    print(
        f"{'clients':>7} {'seconds':>7} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'req/s':>7}"
    )
    print(
        f"{args.clients:>7} {result['seconds']:>7.1f} {result['requests']:>8} {result['errors']:>6} "
        f"{result['p50_ms']:>7.2f} {result['p95_ms']:>7.2f} {result['p99_ms']:>7.2f} {result['rps']:>7.1f}"
    )
    if result["errors"]:
        print("errors:", result["error_kinds"])
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

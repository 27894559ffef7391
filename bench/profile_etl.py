"""Raw-to-silver profile: where bronze and silver spend their time, from Spark's own status REST API.

Runs the same steps as bench/etl.py (bronze ingest, silver build, silver + quarantine writes) on the same cached
raw file, each step in its own Spark job group, with the Spark UI on so its REST API
(`<uiWebUrl>/api/v1/applications/<id>/...`) can be read afterwards. Prints per step: wall time, Spark jobs
(actions), stages, tasks, stages that scan files and what they read, shuffle bytes, executor CPU, the time in
Delta commits (delta-rs log work after Spark wrote the files) and the driver time no job covers (planning,
Python); then every job with its call site. Python UDFs would show as BatchEvalPython / ArrowEvalPython nodes.
Usage: python bench/profile_etl.py [--rows 200000] [--jobs]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from etl import raw_export  # noqa: E402

from credit_risk.lake import DeltaRsLake  # noqa: E402
from credit_risk.pipeline.bronze import ingest_files  # noqa: E402
from credit_risk.pipeline.silver import build_silver  # noqa: E402
from credit_risk.runtime import spark as runtime_spark  # noqa: E402
from credit_risk.tables import BRONZE_LOANS, SILVER_LOANS, SILVER_QUARANTINE  # noqa: E402

PYTHON_NODES = ("BatchEvalPython", "ArrowEvalPython", "FlatMapGroupsInPandas", "MapInPandas", "PythonUDF")


def _session():
    """The project's local session with the UI on (its REST API is the profile's source)."""
    builder = (
        runtime_spark._local_builder().config("spark.ui.enabled", "true").config("spark.ui.port", "4047")
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


class Rest:
    def __init__(self, spark):
        self.base = f"{spark.sparkContext.uiWebUrl}/api/v1/applications/{spark.sparkContext.applicationId}"

    def get(self, path: str):
        with urllib.request.urlopen(f"{self.base}/{path}", timeout=60) as resp:
            return json.load(resp)


def _ts(text: str | None) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%Z").timestamp() if text else 0.0


def _covered(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of (start, end) spans (jobs of one step can overlap)."""
    total, end = 0.0, float("-inf")
    for s, e in sorted(spans):
        if e > end:
            total += e - max(s, end)
            end = e
    return total


@contextmanager
def commit_timer(lake, totals: dict[str, float], step: list[str]):
    """Time spent in a lake write outside Spark's Parquet write: the Delta log work (delta-rs commit)."""
    stage, write = lake._stage, lake._write
    inner = {"stage": 0.0}

    def timed_stage(*a, **k):
        t = time.perf_counter()
        try:
            return stage(*a, **k)
        finally:
            inner["stage"] += time.perf_counter() - t

    def timed_write(*a, **k):
        t, inner["stage"] = time.perf_counter(), 0.0
        try:
            return write(*a, **k)
        finally:
            totals[step[0]] = totals.get(step[0], 0.0) + time.perf_counter() - t - inner["stage"]

    lake._stage, lake._write = timed_stage, timed_write
    try:
        yield
    finally:
        lake._stage, lake._write = stage, write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--jobs", action="store_true", help="also list every Spark job with its call site")
    args = parser.parse_args()
    raw = raw_export(args.rows)
    spark = _session()
    sc = spark.sparkContext
    work = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    lake = DeltaRsLake(spark, work / "lake", "bench")
    walls: dict[str, float] = {}
    commits: dict[str, float] = {}
    step = [""]

    @contextmanager
    def phase(name: str):
        step[0] = name
        sc.setJobGroup(name, name)
        t = time.perf_counter()
        yield
        walls[name] = time.perf_counter() - t

    with commit_timer(lake, commits, step):
        with phase("bronze: ingest_files"):
            ingest_files(spark, lake, [raw], work / "staging")
        with phase("silver: build_silver"):
            silver, quarantine, _ = build_silver(lake.read(BRONZE_LOANS), 2017)
        with phase("silver: write silver.loans"):
            lake.write(silver, SILVER_LOANS, partition_by=["issue_year"])
        with phase("silver: write quarantine"):
            lake.write(quarantine, SILVER_QUARANTINE)
    time.sleep(2)  # the status store's listener runs asynchronously
    rest = Rest(spark)
    jobs = rest.get("jobs")
    stages = {(s["stageId"], s["attemptId"]): s for s in rest.get("stages?details=false")}
    nodes: dict[str, Counter] = {}
    for ex in rest.get("sql?details=true&planDescription=false&length=10000"):
        group = next((j["jobGroup"] for j in jobs if j["jobId"] in ex.get("successJobIds", [])), None)
        if group:
            nodes.setdefault(group, Counter()).update(n["nodeName"].split(" ")[0] for n in ex["nodes"])
    print(
        f"\nRaw to silver profile, {args.rows:,} rows ({raw.stat().st_size / 1e6:.0f} MB CSV), {sc.defaultParallelism} cores, "
        f"shuffle partitions {spark.conf.get('spark.sql.shuffle.partitions')}, {datetime.now():%Y-%m-%d}\n"
    )
    print(
        "| step | wall s | Spark jobs | stages (skipped) | tasks | file scans (MB read) | shuffle write MB | "
        "executor CPU s | in jobs s | Delta commit s | driver only s | Python UDF nodes |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows_out = []
    for name, wall in walls.items():
        mine = [j for j in jobs if j.get("jobGroup") == name]
        done = [s for j in mine for sid in j["stageIds"] for (k, a), s in stages.items() if k == sid]
        run = [s for s in done if s["status"] == "COMPLETE"]
        scans = [s for s in run if s["inputBytes"] > 0]
        in_jobs = _covered([(_ts(j["submissionTime"]), _ts(j.get("completionTime"))) for j in mine])
        commit = commits.get(name, 0.0)
        py = sum(nodes.get(name, Counter())[n] for n in PYTHON_NODES)
        print(
            f"| {name} | {wall:.1f} | {len(mine)} | {len(run)} ({len(done) - len(run)}) | "
            f"{sum(s['numTasks'] for s in run)} | {len(scans)} ({sum(s['inputBytes'] for s in scans) / 1e6:,.0f}) | "
            f"{sum(s['shuffleWriteBytes'] for s in run) / 1e6:,.1f} | "
            f"{sum(s['executorCpuTime'] for s in run) / 1e9:.1f} | {in_jobs:.1f} | {commit:.1f} | "
            f"{max(0.0, wall - in_jobs - commit):.1f} | {py} |"
        )
        rows_out.append((name, mine))
    total = sum(walls.values())
    print(
        f"\ntotal {total:.1f} s; Exchange (shuffle) nodes per step: "
        + ", ".join(f"{k.split(': ')[1]} {v['Exchange']}" for k, v in nodes.items())
    )
    if args.jobs:
        print(
            "\n| step | job | call site | s | stages | MB read | shuffle write MB |\n|---|---:|---|---:|---:|---:|---:|"
        )
        for name, mine in rows_out:
            for j in sorted(mine, key=lambda j: j["jobId"]):
                st = [stages[(sid, a)] for sid in j["stageIds"] for (k, a) in stages if k == sid]
                st = [s for s in st if s["status"] == "COMPLETE"]
                secs = _ts(j.get("completionTime")) - _ts(j["submissionTime"])
                print(
                    f"| {name} | {j['jobId']} | {j['name'][:70]} | {secs:.1f} | {len(st)} | "
                    f"{sum(s['inputBytes'] for s in st) / 1e6:,.0f} | {sum(s['shuffleWriteBytes'] for s in st) / 1e6:,.1f} |"
                )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Training cost per model: fit time, training rows/s and peak RSS at each size, native BLAS against Java BLAS.

Gold features for N generated loans are built once with the real bronze -> silver -> gold code and cached
under bench/out/. Each (size, BLAS) pair runs in its own process so peak RSS (process + JVM, sampled) is its own:
native = the system BLAS through JNI (Debian's libopenblas0), java = MLlib's Java fallback
(CREDIT_RISK_BLAS=java; the class in use is read from the JVM and printed). Prints one table, the
java/native ratio per model and size, and a linear estimate for LendingClub's 2.9M loans.
Usage: python bench/train.py [--rows 100000,1000000] [--models logistic_regression,...] [--blas native,java]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
FULL_ROWS = 2_900_000


def gold_path(rows: int, seed: int = 42) -> Path:
    """Gold features of `rows` generated loans, built once and cached as Parquet."""
    path = OUT / f"gold_{rows}_seed{seed}.parquet"
    if path.exists():
        return path
    import tempfile

    from credit_risk.lake import DeltaRsLake
    from credit_risk.pipeline.bronze import ingest_files
    from credit_risk.pipeline.gold import build_features, top_titles
    from credit_risk.pipeline.silver import build_silver
    from credit_risk.runtime.spark import get_spark
    from credit_risk.synthetic.generate import generate_exports
    from credit_risk.tables import BRONZE_LOANS

    spark = get_spark()
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        lake = DeltaRsLake(spark, Path(tmp) / "lake", "bench")
        ingest_files(
            spark,
            lake,
            generate_exports(Path(tmp) / "raw", rows, seed, progress=False),
            Path(tmp) / "staging",
        )
        silver, _, _ = build_silver(lake.read(BRONZE_LOANS), 2017)
        build_features(silver, top_titles(silver, 2017)).write.mode("overwrite").parquet(str(path))
    return path


def tree_peak_rss(proc: subprocess.Popen) -> int:
    """Peak resident bytes of a process and its children (the JVM), sampled every 0.2 s until it exits."""
    import psutil

    peak, parent = 0, psutil.Process(proc.pid)
    while proc.poll() is None:
        total = 0
        try:
            for p in [parent, *parent.children(recursive=True)]:
                total += p.memory_info().rss
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.2)
    return peak


def worker(path: str, models: list[str]) -> None:
    """In a fresh process: fit each model on the temporal training split; print one JSON line per model."""
    from credit_risk.pipeline.split import make_splits
    from credit_risk.pipeline.train_supervised import fit_model
    from credit_risk.runtime.config import load_config
    from credit_risk.runtime.spark import get_spark

    spark = get_spark()
    blas = spark._jvm.dev.ludovic.netlib.blas.BLAS.getInstance().getClass().getSimpleName()
    train = make_splits(spark.read.parquet(path), load_config()).where("split = 'train'").cache()
    n = train.count()
    for name in models:
        start = time.perf_counter()
        fit_model(name, train, {}, seed=42)
        seconds = time.perf_counter() - start
        print(json.dumps({"model": name, "blas": blas, "train_rows": n, "seconds": seconds}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("--models", default="logistic_regression,random_forest,gbt,mlp")
    parser.add_argument("--blas", default="native,java")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1].split(","))
        return 0
    OUT.mkdir(exist_ok=True)
    results = []
    for rows in [int(r) for r in args.rows.split(",")]:
        path = gold_path(rows)
        for blas in args.blas.split(","):
            env = {**os.environ, "CREDIT_RISK_BLAS": blas}
            proc = subprocess.Popen(
                [sys.executable, __file__, "--worker", str(path), args.models],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            peak = tree_peak_rss(proc)  # polls the worker and its JVM until the worker exits
            stdout, stderr = proc.communicate()
            if proc.returncode != 0:
                print(stderr[-3000:], file=sys.stderr)
                return 1
            done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
            for line in done.stdout.splitlines():
                if line.startswith("{"):
                    results.append(
                        {**json.loads(line), "rows": rows, "mode": blas, "peak_rss_mb": peak / 2**20}
                    )
    print(
        f"\n{'loans':>9} {'train rows':>10} {'model':20} {'BLAS':12} {'fit s':>8} {'rows/s':>9} {'peak RSS MB':>11}  (of the whole run of that size and BLAS)"
    )
    for r in results:
        rss = f"{r['peak_rss_mb']:.0f}"
        print(
            f"{r['rows']:>9} {r['train_rows']:>10} {r['model']:20} {r['blas']:12} {r['seconds']:>8.1f} "
            f"{r['train_rows'] / r['seconds']:>9.0f} {rss:>11}"
        )
    by = {(r["rows"], r["model"], r["mode"]): r for r in results}
    print()
    for (rows, model, mode), r in sorted(by.items()):
        if mode == "java" and (rows, model, "native") in by:
            print(
                f"{rows:>9} {model:20} java / native BLAS time: {r['seconds'] / by[(rows, model, 'native')]['seconds']:.2f}x"
            )
    sizes = sorted({r["rows"] for r in results})
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        total = 0.0
        for model in args.models.split(","):
            a, b = by.get((lo, model, "native")), by.get((hi, model, "native"))
            if a and b:
                slope = (b["seconds"] - a["seconds"]) / (hi - lo)
                total += b["seconds"] + slope * (FULL_ROWS - hi)
        print(
            f"\nestimate (linear in loans from {lo:,} and {hi:,}, native BLAS): training all models on "
            f"{FULL_ROWS:,} loans takes about {total / 60:.0f} min"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

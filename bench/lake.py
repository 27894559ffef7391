"""Lake write/read throughput against plain Spark Parquet of the same DataFrame, in one run.

Prints a markdown table; the ratio column is what to compare across machines (timings are noisy).
Usage: python bench/lake.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from pyspark.sql import functions as F

from credit_risk.lake import DeltaRsLake, DeltaSparkLake
from credit_risk.runtime.spark import DELTA_RS, delta_mode, get_spark


def _frame(spark, rows: int):
    """A loan-shaped frame: ids, a vintage partition, 8 numbers and 6 strings."""
    cols = [
        F.col("id").cast("string").alias("loan_id"),
        (F.col("id") % 14 + 2007).cast("int").alias("issue_year"),
    ]
    cols += [(F.rand(i) * 1000).alias(f"num_{i}") for i in range(8)]
    cols += [F.concat(F.lit("v"), (F.col("id") % (i + 7)).cast("string")).alias(f"str_{i}") for i in range(6)]
    return spark.range(rows).select(*cols).cache()


def _timed(fn, repeats: int = 3) -> float:
    """Median of `repeats` runs (the JVM warms up on the first)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    spark = get_spark()
    df = _frame(spark, args.rows)
    df.count()
    df.write.mode("overwrite").parquet(tempfile.mkdtemp(prefix="bench-warmup-"))  # JIT warm-up for both sides
    root = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    lake = (DeltaRsLake if delta_mode() == DELTA_RS else DeltaSparkLake)(spark, root / "lake", "bench")
    parquet = str(root / "parquet")
    results = []
    for label, partition in (("unpartitioned", None), ("partitioned by issue_year", ["issue_year"])):
        writer = df.write.mode("overwrite")
        if partition:
            writer = writer.partitionBy(*partition)
        ref_w = _timed(lambda w=writer: w.parquet(parquet))
        lake_w = _timed(lambda p=partition: lake.write(df, "b.t", partition_by=p))
        ref_r = _timed(lambda: spark.read.parquet(parquet).agg(F.sum("num_0")).collect())
        lake_r = _timed(lambda: lake.read("b.t").agg(F.sum("num_0")).collect())
        results += [(f"write, {label}", lake_w, ref_w), (f"read + aggregate, {label}", lake_r, ref_r)]
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"\nLake ({delta_mode()}) vs plain Spark Parquet, {args.rows:,} rows x 16 columns, 2 cores\n")
    print("| operation | lake s | parquet s | lake rows/s | ratio lake/parquet |")
    print("|---|---:|---:|---:|---:|")
    for name, mine, ref in results:
        print(f"| {name} | {mine:.2f} | {ref:.2f} | {args.rows / mine:,.0f} | {mine / ref:.2f}x |")
    print(f"\npeak RSS of the Python driver process: {rss_gb:.2f} GB (the JVM is a separate process)")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Raw-to-silver: this pipeline (Spark + Delta) against DuckDB doing the same transformations in SQL.

Generates the raw file once (cached under bench/out/), then in one run times bronze + silver here and
the DuckDB equivalent (CSV as strings -> typed rates, term, emp_length, dates, dti markers, default_flag
-> Parquet) on the same file. Prints wall time, rows/s, CPU seconds, peak RSS and the ratios.
Usage: python bench/etl.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from credit_risk.lake import DeltaRsLake
from credit_risk.pipeline.bronze import ingest_files
from credit_risk.pipeline.silver import build_silver
from credit_risk.runtime.spark import get_spark
from credit_risk.synthetic.generate import generate_exports
from credit_risk.tables import BRONZE_LOANS, SILVER_LOANS, SILVER_QUARANTINE

DUCKDB_SQL = """
COPY (
  SELECT COALESCE(NULLIF(id, ''), sha256(concat_ws(chr(1), *COLUMNS(*)))) AS loan_id,
         TRY_CAST(loan_amnt AS DOUBLE) AS loan_amnt,
         TRY_CAST(regexp_extract(term, '(\\d+)', 1) AS INT) AS term_months,
         TRY_CAST(replace(trim(int_rate), '%', '') AS DOUBLE) AS int_rate,
         TRY_CAST(replace(trim(revol_util), '%', '') AS DOUBLE) AS revol_util,
         CASE WHEN trim(emp_length) LIKE '<%' THEN 0 ELSE TRY_CAST(regexp_extract(emp_length, '(\\d+)', 1) AS INT) END AS emp_length_years,
         CASE WHEN TRY_CAST(dti AS DOUBLE) > 100 OR TRY_CAST(dti AS DOUBLE) < 0 THEN NULL ELSE TRY_CAST(dti AS DOUBLE) END AS dti,
         CAST(TRY_STRPTIME(issue_d, '%b-%Y') AS DATE) AS issue_date,
         CAST(TRY_STRPTIME(earliest_cr_line, '%b-%Y') AS DATE) AS earliest_cr_line,
         TRY_CAST(annual_inc AS DOUBLE) AS annual_inc,
         replace(loan_status, 'Does not meet the credit policy. Status:', '') AS loan_status,
         CASE WHEN replace(loan_status, 'Does not meet the credit policy. Status:', '') IN ('Charged Off', 'Default') THEN 1
              WHEN replace(loan_status, 'Does not meet the credit policy. Status:', '') = 'Fully Paid' THEN 0 END AS default_flag,
         * EXCLUDE (id, loan_amnt, term, int_rate, revol_util, emp_length, dti, issue_d, earliest_cr_line, annual_inc, loan_status)
  FROM read_csv('{src}', all_varchar = true, header = true)
) TO '{dst}' (FORMAT parquet)
"""


def _peak_rss_gb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024**2


def _cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) of a process, this one by default: on shared cores, steadier than wall time."""
    if pid is None:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return own.ru_utime + own.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_export(rows: int) -> Path:
    """The generated Kaggle-layout CSV of `rows` loans (seed 11), generated once under bench/out/."""
    raw_dir = Path("bench/out") / f"raw_{rows}"
    if not (raw_dir / "_COMPLETE").exists():
        generate_exports(raw_dir, rows, 11, compress=False, progress=False)
        (raw_dir / "_COMPLETE").write_text("")
    (raw,) = sorted(raw_dir.glob("*.csv"))
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    raw = raw_export(args.rows)
    work = Path(tempfile.mkdtemp(prefix="bench-etl-"))
    spark = get_spark()
    lake = DeltaRsLake(spark, work / "lake", "bench")
    jvm = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    start, cpu0 = time.perf_counter(), _cpu_s(jvm) + _cpu_s()
    ingest_files(spark, lake, [raw], work / "staging")
    bronze_s, cpu1 = time.perf_counter() - start, _cpu_s(jvm) + _cpu_s()
    silver, quarantine, _ = build_silver(lake.read(BRONZE_LOANS), 2017)
    lake.write(silver, SILVER_LOANS, partition_by=["issue_year"])
    lake.write(quarantine, SILVER_QUARANTINE)
    ours, cpu2 = time.perf_counter() - start, _cpu_s(jvm) + _cpu_s()
    spark_rss = _peak_rss_gb()
    con = duckdb.connect()
    con.execute("SET threads = 2")
    start, duck_cpu = time.perf_counter(), _cpu_s()
    con.execute(DUCKDB_SQL.format(src=raw, dst=work / "duck.parquet"))
    duck, duck_cpu = time.perf_counter() - start, _cpu_s() - duck_cpu
    print(
        f"\nRaw to silver, {args.rows:,} Kaggle-layout rows ({raw.stat().st_size / 1e6:.0f} MB CSV), 2 cores\n"
    )
    print("| engine | wall s | rows/s | ratio to DuckDB | CPU s (JVM + driver) | CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| this pipeline: bronze (Delta) {bronze_s:.1f} s + silver (Delta) {ours - bronze_s:.1f} s | {ours:.1f} | "
        f"{args.rows / ours:,.0f} | {ours / duck:.1f}x | {cpu2 - cpu0:.1f} (bronze {cpu1 - cpu0:.1f}, "
        f"silver {cpu2 - cpu1:.1f}) | {(cpu2 - cpu0) / duck_cpu:.1f}x |"
    )
    print(
        f"| DuckDB SQL, CSV -> typed Parquet | {duck:.1f} | {args.rows / duck:,.0f} | 1.0x | {duck_cpu:.1f} | 1.0x |"
    )
    print(
        f"\npeak RSS: Python driver {spark_rss:.2f} GB (Spark's JVM is a child process and counted by the OS "
        f"separately); goal: within 2.0x of DuckDB"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

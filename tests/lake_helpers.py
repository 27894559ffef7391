"""The cross-engine table of tests/test_lake.py: the same four commits, written by either Delta mode's lake."""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import functions as F

# The commits, oldest first, as `lake.history()` names them (the operations of our commit metadata).
OPERATIONS = ["WRITE", "APPEND", "MERGE", "RESTORE"]


def _loans(spark, ids, amount=None):
    return spark.createDataFrame([(str(i),) for i in ids], "loan_id string").select(
        "loan_id",
        (F.col("loan_id").cast("int") % 3 + 2015).cast("int").alias("issue_year"),
        (F.col("loan_id").cast("double") * 1.5 if amount is None else F.lit(amount)).alias("loan_amnt"),
        F.to_date(F.lit("2015-06-01")).alias("issue_date"),
    )


def write_versions(lake, spark, name: str) -> None:
    """Version 0 a partitioned write, 1 an append, 2 a merge (two updates, two inserts), 3 a restore of 1."""
    assert lake.write(_loans(spark, range(6)), name, partition_by=["issue_year"]) == 0
    assert lake.write(_loans(spark, range(10, 13)), name, mode="append") == 1
    assert lake.merge(_loans(spark, [4, 5, 20, 21], amount=-1.0), name, keys=["loan_id"]) == 2
    assert lake.restore(name, 1) == 3


def rows(df) -> list[list[str]]:
    """A snapshot's rows as sorted lists of strings (the same for any two engines that read the same data)."""
    columns = ["loan_id", "issue_year", "loan_amnt", "issue_date"]
    return sorted([str(r[c]) for c in columns] for r in df.select(*columns).collect())


def engine(table: Path) -> str:
    """Which Delta mode wrote a table's first commit: 'delta-spark' or 'delta-rs' (its commitInfo's engineInfo)."""
    first = (table / "_delta_log" / f"{0:020d}.json").read_text().splitlines()
    info = next(json.loads(line)["commitInfo"] for line in first if '"commitInfo"' in line)
    return "delta-rs" if info.get("engineInfo", "").startswith("delta-rs") else "delta-spark"

"""Lake round trip on the active Delta mode, and cross-reader checks with delta-rs, DuckDB and Polars."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from pyspark.sql import functions as F

from credit_risk.runtime.lake import LakeError


def _loans(spark, n: int, start: int = 0):
    return spark.range(start, start + n).select(
        F.col("id").cast("string").alias("loan_id"),
        (F.col("id") % 3 + 2015).cast("int").alias("issue_year"),
        (F.col("id") * 1.5).alias("loan_amnt"),
        F.to_date(F.lit("2015-06-01")).alias("issue_date"),
        F.current_timestamp().alias("ingested_at"),
    )


def test_write_append_read_versions_history_restore(lake, spark):
    v0 = lake.write(_loans(spark, 10), "bronze.loans", partition_by=["issue_year"])
    time.sleep(1.1)
    v1 = lake.write(_loans(spark, 5, 100), "bronze.loans", mode="append")
    assert (v0, v1) == (0, 1)
    assert lake.read("bronze.loans", version=0).count() == 10
    assert lake.read("bronze.loans").count() == 15
    assert lake.read("bronze.loans", version=1).count() == 15
    first = lake.history("bronze.loans")[-1]
    assert lake.read("bronze.loans", timestamp=first["timestamp"] + dt.timedelta(milliseconds=500)).count() == 10
    hist = lake.history("bronze.loans")
    assert [h["version"] for h in hist] == [1, 0]
    assert [h["operation"] for h in hist] == ["APPEND", "WRITE"]
    assert {"job", "task", "git_sha"} <= set(hist[0]["metadata"])
    v2 = lake.restore("bronze.loans", 0)
    assert v2 == 2 and lake.read("bronze.loans").count() == 10
    assert lake.history("bronze.loans")[0]["operation"] == "RESTORE"


def test_schema_column_order_and_types_survive(lake, spark):
    df = _loans(spark, 4)
    lake.write(df, "silver.loans", partition_by=["issue_year"])
    back = lake.read("silver.loans")
    # Partition columns are stored last, as Spark and Hive lay them out; every other column keeps its place.
    assert back.columns == [c for c in df.columns if c != "issue_year"] + ["issue_year"]
    assert dict(back.dtypes) == dict(df.dtypes)


def test_merge_updates_matched_and_inserts_new(lake, spark):
    lake.write(_loans(spark, 6), "gold.scores", partition_by=["issue_year"])
    source = _loans(spark, 4, 4).withColumn("loan_amnt", F.lit(-1.0))  # ids 4,5 update; 6,7 insert
    v = lake.merge(source, "gold.scores", keys=["loan_id"])
    rows = {r["loan_id"]: r["loan_amnt"] for r in lake.read("gold.scores").collect()}
    assert v == 1 and len(rows) == 8
    assert rows["4"] == rows["7"] == -1.0 and rows["0"] == 0.0
    assert lake.history("gold.scores")[0]["operation"] == "MERGE"
    again = lake.merge(source, "gold.scores", keys=["loan_id"])  # idempotent
    assert lake.read("gold.scores").count() == 8 and again == 2


def test_merge_rejects_duplicate_source_keys(lake, spark):
    lake.write(_loans(spark, 2), "gold.dupes")
    dup = _loans(spark, 1).unionByName(_loans(spark, 1))
    with pytest.raises(LakeError, match="duplicate keys"):
        lake.merge(dup, "gold.dupes", keys=["loan_id"])


def test_clear_errors(lake, spark):
    with pytest.raises(LakeError, match="does not exist"):
        lake.read("bronze.nothing")
    with pytest.raises(LakeError, match="schema.table"):
        lake.name("justatable")
    lake.write(_loans(spark, 2), "bronze.typed")
    with pytest.raises(LakeError, match="schema differs"):
        lake.write(_loans(spark, 2).withColumn("extra", F.lit(1)), "bronze.typed", mode="append")
    with pytest.raises(LakeError, match="write mode"):
        lake.write(_loans(spark, 2), "bronze.typed", mode="upsert")


def test_empty_write_and_read(lake, spark):
    v = lake.write(_loans(spark, 3).limit(0), "bronze.empty", partition_by=["issue_year"])
    df = lake.read("bronze.empty", version=v)
    assert df.count() == 0 and "loan_id" in df.columns


def test_tables_are_readable_by_delta_rs_duckdb_and_polars(lake, spark):
    import duckdb
    import polars as pl
    from deltalake import DeltaTable

    lake.write(_loans(spark, 10), "gold.features", partition_by=["issue_year"])
    lake.write(_loans(spark, 5, 50), "gold.features", mode="append")
    path = str(lake.path("gold.features"))
    assert DeltaTable(path, version=0).to_pyarrow_table().num_rows == 10
    assert DeltaTable(path, version=1).to_pyarrow_table().num_rows == 15
    assert pl.read_delta(path, version=0).height == 10
    assert pl.read_delta(path).select(pl.col("issue_year").n_unique()).item() == 3
    con = duckdb.connect()
    con.execute(f"LOAD '{_duckdb_delta_extension(duckdb.__version__)}'")
    count, years = con.execute(f"select count(*), count(distinct issue_year) from delta_scan('{path}')").fetchone()
    assert (count, years) == (15, 3)


def _duckdb_delta_extension(version: str) -> str:
    """The delta extension shipped by the pinned duckdb-ext-delta wheel (no download at run time)."""
    import glob
    import importlib.util

    spec = importlib.util.find_spec("duckdb_ext")
    assert spec and spec.submodule_search_locations, "duckdb-ext-delta is not installed (see requirements.txt)"
    found = glob.glob(f"{list(spec.submodule_search_locations)[0]}/extensions/v{version}/*/delta.duckdb_extension")
    assert found, f"no delta extension for DuckDB {version} in duckdb-ext-delta"
    return found[0]

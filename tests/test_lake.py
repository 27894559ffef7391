"""Lake round trip on the active Delta mode, and cross-reader checks with delta-rs, DuckDB and Polars."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from pyspark.sql import functions as F

from credit_risk.lake import LakeError


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
    assert (
        lake.read("bronze.loans", timestamp=first["timestamp"] + dt.timedelta(milliseconds=500)).count() == 10
    )
    hist = lake.history("bronze.loans")
    assert [h["version"] for h in hist] == [1, 0]
    assert [h["operation"] for h in hist] == ["APPEND", "WRITE"]
    assert {"job", "task", "git_sha"} <= set(hist[0]["metadata"])
    v2 = lake.restore("bronze.loans", 0)
    assert v2 == 2 and lake.read("bronze.loans").count() == 10
    assert lake.history("bronze.loans")[0]["operation"] == "RESTORE"


def test_append_to_a_missing_table_creates_it_at_version_0(lake, spark):
    assert not lake.exists("bronze.appended")
    v0 = lake.write(_loans(spark, 6), "bronze.appended", mode="append", partition_by=["issue_year"])
    assert v0 == 0 and lake.version("bronze.appended") == 0
    assert lake.read("bronze.appended", version=0).count() == 6
    assert [h["operation"] for h in lake.history("bronze.appended")] == ["WRITE"]
    v1 = lake.write(_loans(spark, 3, 100), "bronze.appended", mode="append")
    assert v1 == 1 and lake.read("bronze.appended").count() == 9
    assert lake.read("bronze.appended", version=0).count() == 6


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
    count, years = con.execute(
        f"select count(*), count(distinct issue_year) from delta_scan('{path}')"
    ).fetchone()
    assert (count, years) == (15, 3)


def _duckdb_delta_extension(version: str) -> str:
    """The delta extension shipped by the pinned duckdb-ext-delta wheel (no download at run time)."""
    import glob
    import importlib.util

    spec = importlib.util.find_spec("duckdb_ext")
    assert spec and spec.submodule_search_locations, (
        "duckdb-ext-delta is not installed (see requirements.txt)"
    )
    found = glob.glob(
        f"{list(spec.submodule_search_locations)[0]}/extensions/v{version}/*/delta.duckdb_extension"
    )
    assert found, f"no delta extension for DuckDB {version} in duckdb-ext-delta"
    return found[0]


def test_commit_metadata_names_job_task_run_and_git_commit_on_every_commit(lake, spark, monkeypatch):
    """In the active Delta mode: each of write, append, merge and restore records who committed it."""
    from lake_helpers import OPERATIONS, write_versions

    from credit_risk.runtime.context import GIT_ENV, JOB_ENV, RUN_ENV, TASK_ENV

    who = {JOB_ENV: "credit_risk_pipeline", TASK_ENV: "silver_clean", RUN_ENV: "run-42", GIT_ENV: "abc1234"}
    for key, value in who.items():
        monkeypatch.setenv(key, value)
    write_versions(lake, spark, "gold.meta")
    history = lake.history("gold.meta")
    assert [h["operation"] for h in history] == OPERATIONS[::-1]
    for entry in history:
        assert {k: entry["metadata"][k] for k in ("job", "task", "run_id", "git_sha")} == {
            "job": "credit_risk_pipeline",
            "task": "silver_clean",
            "run_id": "run-42",
            "git_sha": "abc1234",
        }, entry
    assert history[0]["metadata"]["restored_version"] == 1 and history[1]["metadata"]["merge_keys"] == [
        "loan_id"
    ]


# Cross-engine: one extra process (and JVM) in the other Delta mode. It writes the same commits as this one, reads
# every version of this process's table, and this process reads every version of its table.
_OTHER_ENGINE = """
import json, sys
sys.path.insert(0, sys.argv[3])
from credit_risk.lake import open_lake
from credit_risk.runtime.spark import delta_mode, get_spark
from lake_helpers import rows, write_versions
assert delta_mode() == sys.argv[2], delta_mode()
spark = get_spark()
lake = open_lake(sys.argv[1], sys.argv[4], "")
write_versions(lake, spark, "s.theirs")
mine = {v: rows(lake.read("s.mine", version=v)) for v in range(lake.version("s.mine") + 1)}
print("RESULT=" + json.dumps({"mine": mine, "history": [h["metadata"] for h in lake.history("s.mine")]}))
"""


def test_each_mode_reads_every_version_the_other_wrote(lake, spark, monkeypatch):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from lake_helpers import OPERATIONS, engine, rows, write_versions

    from credit_risk.runtime.context import RUN_ENV
    from credit_risk.runtime.spark import DELTA_RS, DELTA_SPARK, MODE_ENV, delta_mode

    monkeypatch.setenv(RUN_ENV, "mine")
    write_versions(lake, spark, "s.mine")
    other = DELTA_RS if delta_mode() == DELTA_SPARK else DELTA_SPARK
    tests = str(Path(__file__).parent)
    env = {**os.environ, MODE_ENV: other, RUN_ENV: "theirs"}
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_ENGINE, str(lake.root), other, tests, lake.catalog],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    result = next((ln[7:] for ln in done.stdout.splitlines() if ln.startswith("RESULT=")), None)
    assert done.returncode == 0 and result, f"the {other} process failed:\n{done.stderr[-3000:]}"
    theirs = json.loads(result)
    assert (engine(lake.path("s.mine")), engine(lake.path("s.theirs"))) == (delta_mode(), other)
    mine = {str(v): rows(lake.read("s.mine", version=v)) for v in range(4)}
    assert theirs["mine"] == mine, f"{other} reads {delta_mode()}'s versions differently"
    assert {str(v): rows(lake.read("s.theirs", version=v)) for v in range(4)} == mine, (
        f"{delta_mode()} reads {other}'s versions differently from its own"
    )
    assert [m["operation"] for m in theirs["history"]] == OPERATIONS[::-1]
    assert {m["run_id"] for m in theirs["history"]} == {"mine"}
    assert [(h["operation"], h["metadata"]["run_id"]) for h in lake.history("s.theirs")] == [
        (op, "theirs") for op in OPERATIONS[::-1]
    ]
    assert len(mine["3"]) == 9 and mine["3"] == mine["1"] and len(mine["2"]) == 11

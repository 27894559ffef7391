"""Spark session settings, Delta mode selection, the delta-spark way (where jars exist), and the lake CLI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from credit_risk.cli import main
from credit_risk.runtime import spark as spark_mod

ROOT = Path(__file__).resolve().parents[1]


def test_session_is_shared_and_tuned(spark):
    assert spark_mod.get_spark() is spark
    conf = spark.conf
    assert conf.get("spark.sql.parquet.outputTimestampType") == "TIMESTAMP_MICROS"
    assert conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert conf.get("spark.ui.enabled") == "false"
    assert conf.get("spark.sql.session.timeZone") == "UTC"


def test_delta_mode_is_decided_once_and_logged_once(monkeypatch, caplog):
    spark_mod.delta_mode.cache_clear()
    monkeypatch.delenv(spark_mod.JARS_ENV, raising=False)
    monkeypatch.setenv(spark_mod.MODE_ENV, "delta-rs")
    with caplog.at_level(logging.INFO, logger="credit_risk.runtime.spark"):
        assert spark_mod.delta_mode() == "delta-rs"
        assert spark_mod.delta_mode() == "delta-rs"
    assert [r.message for r in caplog.records].count("Delta mode: delta-rs (CREDIT_RISK_LAKE_MODE=delta-rs)") == 1
    spark_mod.delta_mode.cache_clear()
    monkeypatch.setenv(spark_mod.MODE_ENV, "parquet")
    with pytest.raises(ValueError, match="CREDIT_RISK_LAKE_MODE"):
        spark_mod.delta_mode()
    spark_mod.delta_mode.cache_clear()
    monkeypatch.setenv(spark_mod.MODE_ENV, "auto")
    monkeypatch.setenv(spark_mod.REMOTE_ENV, "sc://127.0.0.1:15002")  # a Spark Connect server has no Delta jars here
    assert spark_mod.delta_mode() == "delta-rs"
    spark_mod.delta_mode.cache_clear()
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    assert spark_mod.delta_mode() == "delta-spark"
    spark_mod.delta_mode.cache_clear()


def _delta_jars_available() -> str | None:
    if os.environ.get(spark_mod.JARS_ENV):
        return f"{spark_mod.JARS_ENV}={os.environ[spark_mod.JARS_ENV]}"
    if spark_mod._ivy_has_delta():
        return "Ivy cache"
    return None


@pytest.mark.skipif(_delta_jars_available() is None,
                    reason="delta-spark jars are not available here (Maven is unreachable; set CREDIT_RISK_DELTA_JARS "
                           "to a folder with delta-spark_2.13 and delta-storage jars to run this test)")
def test_delta_spark_way_round_trip_and_reads_delta_rs_tables(tmp_path):
    """In its own process (one Spark session per process): the same lake API with delta-spark."""
    script = textwrap.dedent(f"""
        from pyspark.sql import functions as F
        from credit_risk.runtime.lake import DeltaRsLake, DeltaSparkLake
        from credit_risk.runtime.spark import delta_mode, get_spark
        assert delta_mode() == "delta-spark", delta_mode()
        spark = get_spark()
        lake = DeltaSparkLake(spark, r"{tmp_path}", "t")
        df = spark.range(10).select(F.col("id").cast("string").alias("loan_id"), (F.col("id") % 2).alias("y"))
        assert lake.write(df, "s.a", partition_by=["y"]) == 0
        assert lake.write(df.limit(3), "s.a", mode="append") == 1
        assert lake.read("s.a", version=0).count() == 10 and lake.read("s.a").count() == 13
        assert lake.merge(df.limit(2).withColumn("y", F.lit(5)), "s.b", ["loan_id"]) == 0
        assert lake.restore("s.a", 0) == 2 and lake.read("s.a").count() == 10
        assert lake.history("s.a")[0]["operation"] == "RESTORE"
        # a table whose log delta-rs keeps is an ordinary Delta table for delta-spark too
        from deltalake import write_deltalake
        import pyarrow as pa
        write_deltalake(r"{tmp_path}/rs", pa.table({{"x": [1, 2, 3]}}))
        assert spark.read.format("delta").load(r"{tmp_path}/rs").count() == 3
    """)
    env = {**os.environ, spark_mod.MODE_ENV: "delta-spark"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]


def test_lake_cli_history_show_and_errors(spark, lake, monkeypatch, capsys):
    from credit_risk.runtime import lake as lake_mod

    opened = []  # the Config each command opened its lake with
    monkeypatch.setattr(lake_mod, "get_lake", lambda cfg: opened.append(cfg) or lake)
    lake.write(spark.range(3).selectExpr("cast(id as string) as loan_id"), "bronze.cli")
    lake.write(spark.range(2).selectExpr("cast(id as string) as loan_id"), "bronze.cli", mode="append")
    assert main(["lake", "history", "bronze.cli", "--root", str(ROOT), "--var", "catalog=cli_cat"]) == 0
    assert (opened[-1].catalog, opened[-1].schema_prefix) == ("cli_cat", "")
    out = capsys.readouterr().out
    assert "APPEND" in out and "WRITE" in out
    assert main(["lake", "show", "bronze.cli", "--version", "0", "--limit", "5", "--root", str(ROOT)]) == 0
    assert "version 0" in capsys.readouterr().out
    assert main(["lake", "show", "bronze.nope", "--root", str(ROOT)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["lake", "show", "bronze.cli", "--version", "9", "--root", str(ROOT)]) == 2
    assert "version 9" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["lake", "show"])
    assert exit_info.value.code == 2
    assert "required: table" in capsys.readouterr().err

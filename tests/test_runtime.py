"""Spark session settings, Delta mode selection and the delta-spark jars it looks for, and the lake CLI."""

from __future__ import annotations

import logging
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
    assert [r.message for r in caplog.records].count(
        "Delta mode: delta-rs (CREDIT_RISK_LAKE_MODE=delta-rs)"
    ) == 1
    spark_mod.delta_mode.cache_clear()
    monkeypatch.setenv(spark_mod.MODE_ENV, "parquet")
    with pytest.raises(ValueError, match="CREDIT_RISK_LAKE_MODE"):
        spark_mod.delta_mode()
    spark_mod.delta_mode.cache_clear()
    monkeypatch.setenv(spark_mod.MODE_ENV, "auto")
    monkeypatch.setenv(
        spark_mod.REMOTE_ENV, "sc://127.0.0.1:15002"
    )  # a Spark Connect server has no Delta jars here
    assert spark_mod.delta_mode() == "delta-rs"
    spark_mod.delta_mode.cache_clear()
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    assert spark_mod.delta_mode() == "delta-spark"
    spark_mod.delta_mode.cache_clear()


def test_delta_jars_are_those_the_installed_packages_ask_for_and_pick_the_mode(monkeypatch, tmp_path, caplog):
    """The coordinate follows the installed delta-spark and pyspark's Scala; a folder's stamp must name it."""
    import json
    from importlib import metadata

    from credit_risk.runtime import delta_jars

    coord = delta_jars.coordinate()
    assert coord.startswith("io.delta:delta-spark_") and coord.endswith(
        f"_{delta_jars.scala_suffix()}:{metadata.version('delta-spark')}"
    )
    assert delta_jars._artifact("delta-storage-4.0.1.jar") == "delta-storage"
    assert delta_jars._artifact("io.delta_delta-spark_2.13-4.0.1.jar") == "delta-spark_2.13"
    assert delta_jars._artifact("zstd-jni-1.5.7-3.jar") == "zstd-jni"
    folder = tmp_path / "delta-jars"
    assert delta_jars.held_jars(folder) == [] and "run make install" in delta_jars.why_absent(folder)
    folder.mkdir()
    (folder / delta_jars.UNAVAILABLE).write_text(json.dumps({"coordinate": coord, "reason": "offline"}))
    assert delta_jars.why_absent(folder) == f"make install could not fetch the jars of {coord}: offline"
    (folder / delta_jars.UNAVAILABLE).unlink()  # a fetch leaves either that record or a stamp
    (folder / "delta-spark.jar").write_bytes(b"PK")
    (folder / delta_jars.STAMP).write_text(
        json.dumps({"coordinate": "io.delta:delta-spark_2.13:0.1", "jars": ["delta-spark.jar"]})
    )
    assert delta_jars.held_jars(folder) == [] and "another delta-spark" in delta_jars.why_absent(folder)
    (folder / delta_jars.STAMP).write_text(json.dumps({"coordinate": coord, "jars": ["delta-spark.jar"]}))
    assert delta_jars.held_jars(folder) == [folder / "delta-spark.jar"]
    # auto mode: the venv's folder decides, and the log says which jars or why none
    for key in (spark_mod.MODE_ENV, spark_mod.JARS_ENV, spark_mod.REMOTE_ENV, "DATABRICKS_RUNTIME_VERSION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(delta_jars, "JARS_DIR", folder)
    with caplog.at_level(logging.INFO, logger="credit_risk.runtime.spark"):
        spark_mod.delta_mode.cache_clear()
        assert spark_mod.delta_mode() == "delta-spark"
        assert spark_mod.delta_conf()["spark.jars"] == str(folder / "delta-spark.jar")
        (folder / delta_jars.STAMP).unlink()
        (folder / delta_jars.UNAVAILABLE).write_text(json.dumps({"coordinate": coord, "reason": "offline"}))
        spark_mod.delta_mode.cache_clear()
        assert spark_mod.delta_mode() == "delta-rs"
    spark_mod.delta_mode.cache_clear()
    assert f"Delta mode: delta-spark (jars of {coord} in {folder})" in caplog.messages
    assert (
        f"Delta mode: delta-rs (make install could not fetch the jars of {coord}: offline; "
        f"{spark_mod.JARS_ENV} can name a folder of the jars)"
    ) in caplog.messages


def test_lake_cli_history_show_and_errors(spark, lake, monkeypatch, capsys):
    from credit_risk import lake as lake_mod

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

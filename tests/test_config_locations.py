"""Each task writes where the Config it was given says: catalog, schema prefix, lake root, raw_dir, MLflow store.

The data tasks (bronze, silver, gold, split) run for real on a few hundred generated loans; the training tasks are checked more cheaply (they
open the configured lake and MLflow store before any fit). The whole job with `--var catalog=...` runs in
tests/reliability/test_real_data_job.py (the cohort job).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

CATALOG, PREFIX = "other_cat", "dev_me_"


def _config(tmp: Path, name: str):
    from credit_risk.runtime.config import load_config

    return dataclasses.replace(
        load_config(),
        catalog=CATALOG,
        schema_prefix=PREFIX,
        lake_root=str(tmp / name / "lake"),
        raw_dir=str(tmp / name / "raw"),
        rows=300,
        seed=5,
        experiment_name=f"/{name}/exp",
        tracking_uri=f"sqlite:///{tmp / name / 'mlflow.db'}",
    )


def _tables(root: Path) -> set[str]:
    """catalog/schema/table of every Delta table under a lake root."""
    return {str(log.parent.relative_to(root)) for log in root.rglob("_delta_log")}


def test_data_tasks_write_under_the_configured_catalog_prefix_and_lake_root(
    spark, project_home, tmp_path, monkeypatch
):
    from credit_risk.local.dbutils import RUN_DIR_ENV, LocalDbutils
    from credit_risk.pipeline.bronze import run_bronze
    from credit_risk.pipeline.gold import run_gold
    from credit_risk.pipeline.silver import run_silver
    from credit_risk.pipeline.split import run_split
    from credit_risk.runtime.context import TASK_ENV

    cfg = _config(tmp_path, "etl")
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path / "run"))
    dbutils = LocalDbutils()
    for key, task in (
        ("bronze_ingest", run_bronze),
        ("silver_clean", run_silver),
        ("gold_features", run_gold),
        ("split", run_split),
    ):  # validate_contracts only reads: the cohort job test runs it
        monkeypatch.setenv(TASK_ENV, key)
        task(cfg, dbutils)
    lake = cfg.lake_path
    expected = {
        f"{CATALOG}/{PREFIX}bronze/loans_raw",
        f"{CATALOG}/{PREFIX}silver/loans",
        f"{CATALOG}/{PREFIX}gold/loan_features",
        f"{CATALOG}/{PREFIX}gold/loan_splits",
    }
    tables = _tables(lake)
    assert expected <= tables, tables
    assert all(t.startswith(f"{CATALOG}/{PREFIX}") for t in tables), tables
    assert list((tmp_path / "etl" / "raw").glob("generated_*/_COMPLETE")), (
        "raw files not generated under raw_dir"
    )
    assert not (project_home / "lakehouse" / "credit_risk").exists() or not _tables(
        project_home / "lakehouse"
    )
    assert not list(project_home.glob("data/raw/generated_*_300_seed5"))


def test_training_tasks_open_the_configured_lake_and_mlflow_store(spark, project_home, tmp_path):
    """On an empty configured lake, each training task fails naming its configured table, with its experiment created
    in the configured MLflow store (the default store is left alone). One store for both: its creation costs seconds."""
    from mlflow import MlflowClient

    from credit_risk.lake import LakeError
    from credit_risk.local.dbutils import LocalDbutils
    from credit_risk.pipeline.segments import run_segments
    from credit_risk.pipeline.train_supervised import run_train_supervised
    from credit_risk.runtime.errors import TaskFailed

    base = _config(tmp_path, "train")
    path = base.lake_path / CATALOG / f"{PREFIX}gold" / "loan_splits"
    for task, run in (("train_supervised", run_train_supervised), ("train_segments", run_segments)):
        cfg = dataclasses.replace(base, experiment_name=f"/{task}/exp")
        with pytest.raises(
            TaskFailed,
            match=rf"^task {task} failed: LakeError: table {CATALOG}\.{PREFIX}gold\.loan_splits "
            "does not exist",
        ) as info:
            run(cfg, LocalDbutils())
        assert str(path) in str(info.value) and isinstance(info.value.__cause__, LakeError), task
        assert (
            MlflowClient(cfg.mlflow_tracking_uri).get_experiment_by_name(cfg.experiment_name) is not None
        ), task
        default_store = project_home / "mlflow.db"
        if default_store.exists():
            assert (
                MlflowClient(f"sqlite:///{default_store}").get_experiment_by_name(cfg.experiment_name) is None
            ), task


def test_get_lake_takes_the_tasks_config_only(spark, tmp_path):
    from credit_risk.lake import get_lake, open_lake

    cfg = _config(tmp_path, "lake")
    lake = get_lake(cfg)
    assert (lake.root, lake.catalog, lake.schema_prefix) == (cfg.lake_path, CATALOG, PREFIX)
    assert (
        lake is open_lake(cfg.lake_path, CATALOG, PREFIX)
        and lake.path("gold.t") == cfg.lake_path / CATALOG / "dev_me_gold" / "t"
    )
    with pytest.raises(TypeError, match="takes the task's Config"):
        get_lake(tmp_path)

"""Drift policy on shifted and unshifted generated loans; the monitoring task end to end on a small lake."""

from __future__ import annotations

import dataclasses
import json

import mlflow
import pytest

from credit_risk import features
from credit_risk.model.portable import PORTABLE_ARTIFACT, PortableModel
from credit_risk.pipeline.monitoring import (
    DriftPolicy,
    decide,
    drift_report,
    performance_by_vintage,
    run_monitor,
)
from credit_risk.tables import BRONZE_LOANS, GOLD_SPLITS, MONITORING_FEATURE_DRIFT, MONITORING_PERFORMANCE


def _gold(spark, tmp, rows: int, seed: int, shift: str | None = None):
    """Generated raw exports -> the real bronze, silver and gold code -> pandas (2016-2017 vintages only)."""
    from credit_risk.lake import DeltaRsLake
    from credit_risk.pipeline.bronze import ingest_files
    from credit_risk.pipeline.gold import build_features, top_titles
    from credit_risk.pipeline.silver import build_silver
    from credit_risk.synthetic.generate import generate_exports, parse_shift

    lake = DeltaRsLake(spark, tmp / "lake", "m")
    files = generate_exports(
        tmp / "raw",
        rows,
        seed,
        start="2016-01",
        end="2017-12",
        shift=parse_shift(shift) if shift else None,
        progress=False,
    )
    ingest_files(spark, lake, files, tmp / "staging")
    silver, _, _ = build_silver(lake.read(BRONZE_LOANS), 2017)
    return build_features(silver, top_titles(silver, 2017)).toPandas()


@pytest.fixture(scope="module")
def samples(spark, _trained_once, tmp_path_factory):
    cfg, result = _trained_once
    mlflow.set_tracking_uri(cfg.tracking_uri)
    run_id = result["models"]["logistic_regression"]["run_id"]
    model = PortableModel(mlflow.artifacts.load_dict(f"runs:/{run_id}/{PORTABLE_ARTIFACT}"))
    out = {}
    for name, seed, shift in (
        ("reference", 21, None),
        ("unshifted", 22, None),
        ("shifted", 23, "annual_inc=-0.2,dti=+5"),
    ):
        frame = _gold(spark, tmp_path_factory.mktemp(name), 2500, seed, shift)
        frame["pd"] = model.predict_pd(frame[features.FEATURES])
        out[name] = frame
    return out


def test_drift_job_flags_a_shifted_sample_and_not_another_seed(samples):
    policy = DriftPolicy()
    _, same = drift_report(samples["reference"], samples["unshifted"])
    retrain, reasons = decide(same, [], None, policy)
    assert not retrain and reasons == [] and same["drift_share"] <= policy.max_drift_share, same["drifted"]
    snapshot, moved = drift_report(samples["reference"], samples["shifted"])
    retrain, reasons = decide(moved, [], None, policy)
    assert retrain and {"annual_inc", "dti"} <= set(moved["drifted"]), moved["drifted"]
    assert moved["score_psi"] > same["score_psi"]
    assert any("drifted" in r or "PSI" in r for r in reasons)
    assert "metrics" in snapshot.dict()


def test_policy_thresholds_and_auc_drop():
    summary = {"drift_share": 0.05, "drifted": ["dti"], "score_psi": 0.02}
    policy = DriftPolicy(max_drift_share=0.1, max_score_psi=0.1, max_auc_drop=0.05)
    assert decide(summary, [], 0.70, policy) == (False, [])
    assert decide({**summary, "drift_share": 0.2}, [], None, policy)[0]
    assert "PSI 0.300" in decide({**summary, "score_psi": 0.3}, [], None, policy)[1][0]
    perf = [
        {"issue_year": 2019, "n": 500, "defaults": 90, "auc": 0.62},
        {"issue_year": 2020, "n": 50, "defaults": 5, "auc": 0.40},
    ]
    retrain, reasons = decide(summary, perf, 0.70, policy)
    assert retrain and "2019" in reasons[0]  # the 50-loan vintage is too small to judge


def test_performance_by_vintage_skips_open_loans():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "issue_year": [2019] * 4 + [2020] * 2,
            features.TARGET: [0, 1, 0, 1, None, None],
            "pd": [0.1, 0.9, 0.2, 0.8, 0.5, 0.5],
        }
    )
    assert performance_by_vintage(frame) == [{"issue_year": 2019, "n": 4, "defaults": 2, "auc": 1.0}]


def test_monitoring_task_appends_tables_reports_and_the_task_value(serving_registry, gold, spark, tmp_path):
    from credit_risk.lake import get_lake
    from credit_risk.local.dbutils import LocalDbutils
    from credit_risk.pipeline.split import make_splits

    cfg = dataclasses.replace(serving_registry["cfg"], lake_root=str(tmp_path / "lake"))
    lake = get_lake(cfg)
    lake.write(make_splits(gold, cfg), GOLD_SPLITS, partition_by=["split"])
    dbutils = LocalDbutils()
    first = run_monitor(cfg, dbutils)
    versions = (lake.version(MONITORING_FEATURE_DRIFT), lake.version(MONITORING_PERFORMANCE))
    second = run_monitor(cfg, dbutils)
    assert (lake.version(MONITORING_FEATURE_DRIFT), lake.version(MONITORING_PERFORMANCE)) == (
        versions[0] + 1,
        versions[1] + 1,
    )
    drift = lake.read(MONITORING_FEATURE_DRIFT)
    assert drift.count() == 2 * (len(features.FEATURES) + 1)  # every input and the PD, per run
    assert {r["reference_version"] for r in drift.select("reference_version").collect()} == {
        lake.version(GOLD_SPLITS)
    }
    assert "test split" in first["source"] and first["retrain"] == second["retrain"]
    assert dbutils.jobs.taskValues.get(taskKey="interactive", key="retrain", debugValue="?") in (
        "true",
        "false",
    )
    latest = json.loads((cfg.home / "reports" / "monitoring" / "latest.json").read_text())
    assert latest["retrain"] == second["retrain"] and latest["model_version"] == "1"
    assert len(list((cfg.home / "reports" / "monitoring").glob("*/drift_report.html"))) >= 1


def test_the_reference_sample_is_drawn_in_spark_before_anything_is_collected(spark, monkeypatch):
    """A split of millions of loans is sampled down in Spark: what reaches the driver is at most SAMPLE_ROWS rows."""
    from credit_risk.pipeline import monitoring

    monkeypatch.setattr(monitoring, "SAMPLE_ROWS", 300)
    collected: list[int] = []
    frame = type(spark.range(1))  # the session's DataFrame class (Spark 4: the classic one)
    to_pandas = frame.toPandas
    monkeypatch.setattr(frame, "toPandas", lambda self: collected.append(self.count()) or to_pandas(self))
    sample = monitoring._sample(spark.range(6000), seed=1)
    assert len(sample) == 300 and sample["id"].is_unique and collected == [300]
    assert len(monitoring._sample(spark.range(200), seed=1)) == 200  # a small split comes whole

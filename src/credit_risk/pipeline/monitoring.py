"""Monitoring: data drift, prediction drift and matured performance of the champion, and the retraining call.

The reference is the training split (at its pinned Delta version); the current window is the API's
inference log when it holds enough loans, else the newest vintages (the test split). Evidently measures
per-feature drift (Wasserstein / Jensen-Shannon on large samples, K-S / chi-squared on small ones); the shift
in missing values, the score's PSI and the AUC per vintage of loans whose outcome is known complete the picture.
A policy (bundle variables) turns that into `retrain` = true / false, a task value the monitoring job's
condition task reads before it runs the training pipeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from credit_risk import features, metrics
from credit_risk.runtime.errors import pipeline_task
from credit_risk.tables import (
    GOLD_SPLITS,
    MONITORING_FEATURE_DRIFT,
    MONITORING_INFERENCE_LOG,
    MONITORING_PERFORMANCE,
)

if TYPE_CHECKING:
    from evidently import DataDefinition
    from pyspark.sql import DataFrame

    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils

SAMPLE_ROWS = 20_000


@dataclass(frozen=True)
class DriftPolicy:
    """When to retrain: too many drifted features, a moved score distribution, or lost discrimination."""

    max_drift_share: float = 0.1
    max_score_psi: float = 0.1
    max_auc_drop: float = 0.05
    min_rows: int = 500

    @classmethod
    def from_config(cls, cfg: Config) -> DriftPolicy:
        extra, base = cfg.extra, cls()
        return cls(
            max_drift_share=float(extra.get("monitor_max_drift_share", base.max_drift_share)),
            max_score_psi=float(extra.get("monitor_max_score_psi", base.max_score_psi)),
            max_auc_drop=float(extra.get("monitor_max_auc_drop", base.max_auc_drop)),
            min_rows=int(extra.get("monitor_min_rows", base.min_rows)),
        )


def _definition(columns: list[str]) -> DataDefinition:
    from evidently import DataDefinition

    return DataDefinition(
        numerical_columns=[c for c in columns if c not in features.CATEGORICAL],
        categorical_columns=[c for c in columns if c in features.CATEGORICAL],
    )


def drift_report(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[Any, dict[str, Any]]:
    """Evidently data drift over the model inputs and the PD; returns (snapshot, summary).

    Drift only: Evidently's data summary preset (per-column statistics and their charts) doubled the cost of a
    report (15 -> 6.7 CPU s on 2,500 loans a side, almost all of it plotly figures) and fed no decision; the
    missing-value shift the decision uses is computed here.
    """
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = [*features.FEATURES, *(["pd"] if "pd" in reference and "pd" in current else [])]
    definition = _definition(columns)
    report = Report([DataDriftPreset(columns=columns)])
    snapshot = report.run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    rows = []
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            method, threshold, score = (
                config.get("method", ""),
                float(config.get("threshold", 0)),
                float(metric["value"]),
            )
            detected = score < threshold if "p_value" in method else score >= threshold
            rows.append(
                {
                    "feature": config["column"],
                    "method": method,
                    "threshold": threshold,
                    "drift_score": score,
                    "drift_detected": bool(detected),
                }
            )
    inputs = [r for r in rows if r["feature"] != "pd"]
    missing = {
        c: (float(reference[c].isna().mean()), float(current[c].isna().mean())) for c in features.FEATURES
    }
    summary = {
        "features": rows,
        "drift_share": sum(r["drift_detected"] for r in inputs) / max(len(inputs), 1),
        "drifted": sorted(r["feature"] for r in inputs if r["drift_detected"]),
        "pd_drift": next((r for r in rows if r["feature"] == "pd"), None),
        "score_psi": metrics.psi(reference["pd"].to_numpy(float), current["pd"].to_numpy(float))
        if "pd" in reference and "pd" in current
        else None,
        "missing_share_change": {c: round(b - a, 4) for c, (a, b) in missing.items() if abs(b - a) > 0.05},
        "reference_rows": len(reference),
        "current_rows": len(current),
    }
    return snapshot, summary


def performance_by_vintage(scored: pd.DataFrame) -> list[dict[str, Any]]:
    """AUC per issue year on loans whose outcome is known (both classes needed for an AUC)."""
    known = scored[scored[features.TARGET].notna()]
    out = []
    for year, group in known.groupby("issue_year"):
        y, p = group[features.TARGET].to_numpy(float), group["pd"].to_numpy(float)
        auc = metrics.auc(y, p) if 0 < y.sum() < len(y) else None
        year = cast(int, year)  # the key of an integer column
        out.append({"issue_year": int(year), "n": len(group), "defaults": int(y.sum()), "auc": auc})
    return out


def decide(
    summary: dict[str, Any],
    performance: list[dict[str, Any]],
    baseline_auc: float | None,
    policy: DriftPolicy,
) -> tuple[bool, list[str]]:
    """Retrain or not, with the reasons (empty when nothing crossed a threshold)."""
    reasons = []
    if summary["drift_share"] > policy.max_drift_share:
        reasons.append(
            f"{summary['drift_share']:.0%} of features drifted (> {policy.max_drift_share:.0%}): "
            f"{', '.join(summary['drifted'][:8])}"
        )
    psi = summary.get("score_psi")
    if psi is not None and psi > policy.max_score_psi:
        reasons.append(f"PD distribution moved: PSI {psi:.3f} > {policy.max_score_psi}")
    aucs = [p for p in performance if p["auc"] is not None and p["n"] >= 200]
    if baseline_auc is not None and aucs:
        worst = min(aucs, key=lambda p: p["auc"])
        if baseline_auc - worst["auc"] > policy.max_auc_drop:
            reasons.append(
                f"AUC {worst['auc']:.3f} on the {worst['issue_year']} vintage is "
                f"{baseline_auc - worst['auc']:.3f} below validation ({baseline_auc:.3f})"
            )
    return bool(reasons), reasons


def _sample(rows: DataFrame, seed: int) -> pd.DataFrame:
    """At most SAMPLE_ROWS rows of a Spark DataFrame, drawn in Spark (a seeded sample, then exactly the count):
    collecting a whole split first, 2.9M loans by 40 columns, to sample it in pandas does not fit a driver."""
    n = rows.count()
    if n > SAMPLE_ROWS:
        rows = rows.sample(fraction=min(1.0, 1.1 * SAMPLE_ROWS / n), seed=seed).limit(SAMPLE_ROWS)
    return rows.toPandas()


@pipeline_task("monitor_drift")
def run_monitor(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `monitor_drift`: reports, monitoring tables, latest.json for the API, and the `retrain` task value."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from pyspark.sql import functions as F

    from credit_risk.lake import get_lake
    from credit_risk.model.champion import load_champion
    from credit_risk.pipeline.register import CHAMPION, registered_name
    from credit_risk.runtime.spark import get_spark
    from credit_risk.runtime.tracking import configure_mlflow, start_task_run

    configure_mlflow(cfg)
    lake = get_lake(cfg)
    policy = DriftPolicy.from_config(cfg)
    try:
        champion = load_champion(registered_name(cfg), CHAMPION, cfg.decision_threshold)
    except MlflowException as exc:
        message = f"no {CHAMPION} of {registered_name(cfg)} to monitor yet ({exc.message.splitlines()[0]})"
        dbutils.jobs.taskValues.set(key="retrain", value="false")
        return {"retrain": False, "reasons": [message]}
    model = champion.scorer.model
    baseline_auc = MlflowClient().get_run(champion.run_id).data.metrics.get("val_auc")
    splits_version = lake.version(GOLD_SPLITS)
    splits = lake.read(GOLD_SPLITS, version=splits_version)
    keep = [features.KEY, "issue_year", features.TARGET, *features.FEATURES]
    reference = _sample(splits.where("split = 'train'").select(*keep), cfg.seed)
    reference["pd"] = model.predict_pd(reference[features.FEATURES])
    logged = lake.read(MONITORING_INFERENCE_LOG).count() if lake.exists(MONITORING_INFERENCE_LOG) else 0
    if logged >= policy.min_rows:
        window = lake.read(MONITORING_INFERENCE_LOG).orderBy(F.desc("scored_at")).limit(SAMPLE_ROWS)
        current = window.select(*features.FEATURES, "pd", F.year("scored_at").alias("issue_year")).toPandas()
        current[features.TARGET] = np.nan  # served applications have no outcome yet
        source = f"{MONITORING_INFERENCE_LOG}@v{lake.version(MONITORING_INFERENCE_LOG)} (newest {len(current)} predictions)"
    else:
        current = _sample(splits.where("split = 'test'").select(*keep), cfg.seed)
        current["pd"] = model.predict_pd(current[features.FEATURES])
        years = sorted(current["issue_year"].unique().tolist())
        source = (
            f"{GOLD_SPLITS}@v{splits_version} test split (vintages {years[0]}-{years[-1]})"
            if years
            else "empty"
        )
    if current.empty:
        raise ValueError(f"nothing to monitor: {source} has no rows")
    snapshot, summary = drift_report(reference, current)
    performance = performance_by_vintage(current)
    retrain, reasons = decide(summary, performance, baseline_auc, policy)

    run_ts = datetime.now(UTC)
    out = cfg.home / "reports" / "monitoring" / run_ts.strftime("%Y%m%dT%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out / "drift_report.html"))
    snapshot.save_json(str(out / "drift_report.json"))
    decision = {
        "run_ts": run_ts.isoformat(),
        "retrain": retrain,
        "reasons": reasons,
        "source": source,
        "reference": f"{GOLD_SPLITS}@v{splits_version} train split",
        "model_version": champion.version,
        "drift_share": summary["drift_share"],
        "score_psi": summary["score_psi"],
        "drifted": summary["drifted"],
        "performance": performance,
        "policy": policy.__dict__,
    }
    (out / "decision.json").write_text(json.dumps(decision, indent=2, default=str))
    (out.parent / "latest.json").write_text(json.dumps(decision, default=str))
    with start_task_run(
        "monitor_drift",
        {"model_version": champion.version, "source": source, "retrain": str(retrain).lower()},
    ):
        mlflow.log_metrics(
            {
                "drift_share": summary["drift_share"],
                "score_psi": summary["score_psi"] or 0.0,
                **{f"auc_{p['issue_year']}": p["auc"] for p in performance if p["auc"] is not None},
            }
        )
        mlflow.log_artifacts(str(out), "monitoring")

    spark = get_spark()
    ts = run_ts.replace(tzinfo=None)
    drift_rows = [
        (
            ts,
            source,
            r["feature"],
            r["drift_detected"],
            r["drift_score"],
            r["method"],
            r["threshold"],
            splits_version,
            int(champion.version),
        )
        for r in summary["features"]
    ]
    drift_version = lake.write(
        spark.createDataFrame(
            drift_rows,
            "run_ts timestamp, current_source string, "
            "feature string, drift_detected boolean, drift_score double, "
            "method string, threshold double, reference_version long, "
            "model_version int",
        ),
        MONITORING_FEATURE_DRIFT,
        mode="append",
    )
    perf_rows = [
        (ts, source, p["issue_year"], p["n"], p["defaults"], p["auc"], int(champion.version))
        for p in performance
    ] or [(ts, source, None, len(current), None, None, int(champion.version))]
    perf_version = lake.write(
        spark.createDataFrame(
            perf_rows,
            "run_ts timestamp, current_source string, "
            "issue_year int, n long, defaults long, auc double, "
            "model_version int",
        ),
        MONITORING_PERFORMANCE,
        mode="append",
    )
    dbutils.jobs.taskValues.set(key="retrain", value=str(retrain).lower())
    dbutils.jobs.taskValues.set(key="drift_share", value=summary["drift_share"])
    dbutils.jobs.taskValues.set(key="score_psi", value=summary["score_psi"])
    return {
        "retrain": retrain,
        "reasons": reasons,
        "drift_share": round(summary["drift_share"], 3),
        "score_psi": round(summary["score_psi"] or 0.0, 4),
        "drifted": summary["drifted"],
        "source": source,
        "report": str(out / "drift_report.html"),
        "feature_drift_version": drift_version,
        "model_performance_version": perf_version,
    }

"""Evaluation of the best model on the test split: ranking, calibration, lift, vintages and stability.

As the original `evaluate` step: load the model from MLflow and compute its AUC, then the rest (Gini, KS,
Brier, calibration curve and ECE before and after the run's calibration map, lift and gain by decile, AUC per vintage, PSI of the score between train
and test). Plots (PNG) and a Markdown report are logged to the model's run and written under reports/.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import mlflow
import numpy as np
import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from credit_risk import features, metrics
from credit_risk.calibration import Calibration, run_calibration
from credit_risk.pipeline._upstream import best_run, upstream_version
from credit_risk.pipeline.train_supervised import pd_column
from credit_risk.runtime.errors import pipeline_task
from credit_risk.tables import GOLD_FEATURES, GOLD_SPLITS

if TYPE_CHECKING:
    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils


def score(
    model: PipelineModel,
    df: DataFrame,
    odds_factor: float,
    calibration: Calibration | None = None,
    columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Outcome, vintage, PD and PD before calibration per loan, plus those of `columns` the split has, collected."""
    scored = pd_column(model.transform(df), odds_factor, calibration=calibration or {"method": "none"})
    keep = [features.TARGET, "issue_year", "pd", "pd_uncalibrated", *[c for c in columns if c in df.columns]]
    return scored.select(*dict.fromkeys(keep)).toPandas()


def _plots(test: pd.DataFrame, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y, p = test[features.TARGET].to_numpy(float), test["pd"].to_numpy(float)
    before = test["pd_uncalibrated"].to_numpy(float)
    fig, ax = plt.subplots(figsize=(5, 5))
    top = max(p.max(), before.max(), y.mean()) * 1.1
    ax.plot([0, top], [0, top], "k--", lw=1)
    for pds, label in ((before, "before calibration"), (p, "calibrated")):
        cal = metrics.calibration(y, pds)
        ax.plot([b["mean_pd"] for b in cal], [b["default_rate"] for b in cal], "o-", label=label)
    ax.legend()
    ax.set(xlabel="mean PD (decile)", ylabel="observed default rate", title="Calibration, test split")
    files = [out / "calibration.png"]
    fig.savefig(files[0], dpi=100, bbox_inches="tight")
    lift = metrics.lift_table(y, p)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar([r["decile"] for r in lift], [r["lift"] for r in lift], label="lift")
    ax2 = ax.twinx()
    ax2.plot([r["decile"] for r in lift], [r["gain"] for r in lift], "r-o", label="cumulative gain")
    ax.set(xlabel="PD decile (1 = riskiest)", ylabel="lift", title="Lift and gain, test split")
    files.append(out / "lift_gain.png")
    fig.savefig(files[1], dpi=100, bbox_inches="tight")
    plt.close("all")
    return files


def matured_by_vintage(gold: DataFrame) -> dict[int, float]:
    """Share of each vintage's loans with a known outcome (`default_flag` set): the rest are too young."""
    rows = gold.groupBy("issue_year").agg(F.avg(F.col(features.TARGET).isNotNull().cast("double")).alias("m"))
    return {int(r["issue_year"]): float(r["m"]) for r in rows.collect() if r["issue_year"] is not None}


def evaluate_model(
    model: PipelineModel,
    train: DataFrame,
    test: DataFrame,
    odds_factor: float,
    out: Path,
    calibration: Calibration | None = None,
    matured: dict[int, float] | None = None,
) -> dict[str, Any]:
    """Metrics, tables, plots and a Markdown report for one model on the test split (calibrated PDs; the ECE
    before calibration beside them).

    `matured`: the share of loans with a known outcome per vintage (`matured_by_vintage`), for the report.
    """
    out.mkdir(parents=True, exist_ok=True)
    tr, te = score(model, train, odds_factor, calibration), score(model, test, odds_factor, calibration)
    y, p = te[features.TARGET].to_numpy(float), te["pd"].to_numpy(float)
    summary = metrics.summary(y, p)
    summary["ece_uncalibrated"] = metrics.ece(y, te["pd_uncalibrated"].to_numpy(float))
    by_vintage = {  # keys of the integer column issue_year
        int(cast(int, v)): metrics.auc(g[features.TARGET].to_numpy(float), g["pd"].to_numpy(float))
        for v, g in te.groupby("issue_year")
    }
    report: dict[str, Any] = {
        **{f"test_{k}": v for k, v in summary.items()},
        "test_psi_train_vs_test": metrics.psi(tr["pd"].to_numpy(float), te["pd"].to_numpy(float)),
        "auc_by_vintage": by_vintage,
        "lift": metrics.lift_table(y, p),
        "calibration": metrics.calibration(y, p),
        "matured_by_vintage": matured or {},
    }
    plots = _plots(te, out)
    lines = [
        "# PD model evaluation, test split",
        "",
        f"{len(y):,} loans, default rate {y.mean():.3f}",
        "",
        "| metric | value |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v:.4f} |" for k, v in report.items() if isinstance(v, float)]
    lines += ["", "## AUC by vintage", "", "| issue year | AUC |", "|---|---:|"]
    lines += [f"| {v} | {a:.4f} |" for v, a in sorted(by_vintage.items())]
    if matured:
        lines += ["", "## Matured share by vintage", "", "| issue year | with an outcome |", "|---|---:|"]
        lines += [f"| {v} | {m:.1%} |" for v, m in sorted(matured.items())]
    lines += [
        "",
        "## Lift and gain by PD decile",
        "",
        "| decile | default rate | lift | gain |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['decile']} | {r['default_rate']:.3f} | {r['lift']:.2f} | {r['gain']:.2f} |"
        for r in report["lift"]
    ]
    lines += ["", "![calibration](calibration.png)", "![lift](lift_gain.png)", ""]
    (out / "evaluation.md").write_text("\n".join(lines))
    report["files"] = [str(f) for f in [*plots, out / "evaluation.md"]]
    return report


@pipeline_task("evaluate")
def run_evaluate(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `evaluate`: the best run's model on the pinned test split; metrics and report logged to that run."""
    from credit_risk.lake import get_lake
    from credit_risk.runtime.tracking import configure_mlflow

    configure_mlflow(cfg)
    lake = get_lake(cfg)
    run = best_run(dbutils)
    run_id = run.info.run_id
    version = upstream_version(dbutils, lake, GOLD_SPLITS, "split", "splits_version")
    splits = lake.read(GOLD_SPLITS, version=version)
    model = mlflow.spark.load_model(f"runs:/{run_id}/model")
    factor = float(run.data.params["pd_odds_factor"])
    out = cfg.home / "reports" / "evaluation" / run_id
    gold_version = upstream_version(dbutils, lake, GOLD_FEATURES, "split", "gold_version")
    report = evaluate_model(
        model,
        splits.where("split = 'train'"),
        splits.where("split = 'test'"),
        factor,
        out,
        run_calibration(run_id),
        matured=matured_by_vintage(lake.read(GOLD_FEATURES, version=gold_version)),
    )
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({k: v for k, v in report.items() if isinstance(v, float) and np.isfinite(v)})
        mlflow.log_artifacts(str(out), artifact_path="evaluation")
    dbutils.jobs.taskValues.set(key="test_auc", value=report["test_auc"])
    return {
        "run_id": run_id,
        "test_auc": round(report["test_auc"], 4),
        "test_ks": round(report["test_ks"], 4),
        "test_ece": round(report["test_ece"], 4),
        "test_ece_uncalibrated": round(report["test_ece_uncalibrated"], 4),
        "report": str(out / "evaluation.md"),
    }

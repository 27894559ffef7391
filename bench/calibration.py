"""Test-split ECE before and after calibration, for the selection fit and its refit on train + valid.

Gold features of N generated loans (bench/train.py's cache), the default temporal split and model settings,
`train_all` in a throwaway MLflow store (refit on, Platt). Then, on the test split: AUC and ECE of the
selected model's PDs uncalibrated, through the Platt and isotonic maps fitted on its validation PDs, and the
same maps applied to the refit's PDs (what the job publishes). Usage: python bench/calibration.py [--rows 30000]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=30000)  # the local target's rows (bundles/local.yml)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    import mlflow.spark
    from train import gold_path

    from credit_risk import calibration, features, metrics
    from credit_risk.pipeline.split import make_splits
    from credit_risk.pipeline.train_supervised import evaluate_pd, train_all
    from credit_risk.runtime.config import load_config
    from credit_risk.runtime.spark import get_spark
    from credit_risk.runtime.tracking import configure_mlflow

    spark = get_spark()
    gold = spark.read.parquet(str(gold_path(args.rows, args.seed)))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dataclasses.replace(
            load_config(), experiment_name="calibration-bench", tracking_uri=f"sqlite:///{tmp}/mlflow.db"
        )
        configure_mlflow(cfg)
        splits = make_splits(gold, cfg).cache()
        train, valid, test = (splits.where(f"split = '{s}'") for s in ("train", "valid", "test"))
        lineage = {"git_sha": "bench", "gold_version": 0, "splits_version": 0, "dataset": None}
        result = train_all(train, valid, cfg, lineage)
        best = result["best_model"]
        print(
            f"rows {args.rows}: train {train.count()}, valid {valid.count()}, test {test.count()}; best {best}"
        )
        print(
            "| model | fit | test AUC | ECE uncalibrated | ECE platt | ECE isotonic | val ECE platt (cross-fitted) |"
        )
        print("|---|---|---:|---:|---:|---:|---:|")
        for name, run in result["models"].items():
            model = mlflow.spark.load_model(f"runs:/{run['run_id']}/model")
            yv, pv = evaluate_pd(model, valid, run["odds_factor"])
            maps = {m: calibration.fit(m, yv, pv) for m in ("platt", "isotonic")}
            fits = [("selection", model, run["odds_factor"])]
            if name == best and result["refit"]:
                refit = result["refit"]
                fits.append(
                    ("refit", mlflow.spark.load_model(f"runs:/{refit['run_id']}/model"), refit["odds_factor"])
                )
            for fit, fitted, factor in fits:
                y, p = evaluate_pd(fitted, test, factor)
                eces = [metrics.ece(y, calibration.apply(maps[m], p)) for m in ("platt", "isotonic")]
                print(
                    f"| {name} | {fit} | {metrics.auc(y, p):.4f} | {metrics.ece(y, p):.4f} | {eces[0]:.4f} "
                    f"| {eces[1]:.4f} | {run['val_ece_calibrated']:.4f} |"
                )
        print(f"test default rate {test.agg({features.TARGET: 'mean'}).first()[0]:.4f}")


if __name__ == "__main__":
    main()

"""Step `train_sup`: the job's `train_supervised` task on the split `split` wrote.

gold.loan_splits -> the supervised models (one MLflow run each under the experiment), the best by
validation AUC published as `best_run_id` for `evaluate` and `register`.
"""

from __future__ import annotations

import sys

from credit_risk.tables import GOLD_SPLITS
from src.agents import _run


def _train(bundle) -> None:
    cfg = _run.config(bundle)
    _run.require_table(cfg, GOLD_SPLITS, "split")
    _run.run_tasks(bundle, ["train_supervised"])
    print(f"MLflow runs in {cfg.mlflow_tracking_uri}, experiment {cfg.experiment_name}")
    _run.report(bundle, ["train_supervised"], [], [])


def main(argv: list[str] | None = None) -> int:
    return _run.main_of("train_sup", __doc__, _train, argv)


if __name__ == "__main__":
    sys.exit(main())

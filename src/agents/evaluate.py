"""Step `evaluate`: the job's `evaluate` task: the best supervised run on the pinned test split.

The test metrics (AUC, KS, ECE, ...) are logged to that MLflow run, the report under reports/evaluation/.
"""

from __future__ import annotations

import sys

from credit_risk.tables import GOLD_SPLITS
from src.agents import _run


def _evaluate(bundle) -> None:
    cfg = _run.config(bundle)
    _run.require_table(cfg, GOLD_SPLITS, "split")
    run_id = _run.require_value(bundle, "train_supervised", "best_run_id", "trained model")
    _run.run_tasks(bundle, ["evaluate"])
    _run.report(bundle, ["evaluate"], [], [cfg.home / "reports" / "evaluation" / run_id / "evaluation.md"])


def main(argv: list[str] | None = None) -> int:
    return _run.main_of("evaluate", __doc__, _evaluate, argv)


if __name__ == "__main__":
    sys.exit(main())

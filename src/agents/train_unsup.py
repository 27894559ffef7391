"""Step `train_unsup`: the job's `train_segments` task (KMeans risk segments) on the split `split` wrote.

gold.loan_splits -> gold.risk_segments and an MLflow run with the segments' portable export.
"""

from __future__ import annotations

import sys

from credit_risk.tables import GOLD_SEGMENTS, GOLD_SPLITS
from src.agents import _run


def _train(bundle) -> None:
    cfg = _run.config(bundle)
    _run.require_table(cfg, GOLD_SPLITS, "split")
    _run.run_tasks(bundle, ["train_segments"])
    _run.report(bundle, ["train_segments"], [GOLD_SEGMENTS], [])


def main(argv: list[str] | None = None) -> int:
    return _run.main_of("train_unsup", __doc__, _train, argv)


if __name__ == "__main__":
    sys.exit(main())

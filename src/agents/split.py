"""Step `split`: the job's `split` task on the gold version `prep` wrote.

gold.loan_features -> gold.loan_splits (a `split` column: train, valid, test), exported as
data/processed/train.parquet and test.parquet at the split's Delta version. `split_kind=stratified` is the
design's 80/20 train/test with a fixed seed (validation drawn from the 80); `temporal` splits by vintage.
"""

from __future__ import annotations

import sys

from credit_risk.tables import GOLD_FEATURES, GOLD_SPLITS
from src.agents import _run


def _split(bundle) -> None:
    cfg = _run.config(bundle)
    _run.require_table(cfg, GOLD_FEATURES, "prep")
    _run.run_tasks(bundle, ["split"])
    processed = cfg.local_path("data/processed")
    _run.report(bundle, ["split"], [GOLD_SPLITS], [processed / "train.parquet", processed / "test.parquet"])


def main(argv: list[str] | None = None) -> int:
    return _run.main_of("split", __doc__, _split, argv)


if __name__ == "__main__":
    sys.exit(main())

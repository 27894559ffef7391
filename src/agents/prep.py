"""Step `prep`: the job's tasks bronze_ingest, silver_clean, gold_features and validate_contracts.

Raw exports -> bronze.loans_raw -> silver.loans -> gold.loan_features (exported to data/processed/M.parquet
and sample_M.parquet), then the data contracts. With the default `data_source=generated` the raw exports
are generated first if they are not there yet, as in a job run.
"""

from __future__ import annotations

import sys

from credit_risk import tables
from src.agents import _run

TASKS = ["bronze_ingest", "silver_clean", "gold_features", "validate_contracts"]
TABLES = [
    tables.BRONZE_LOANS,
    tables.BRONZE_QUARANTINE,
    tables.SILVER_LOANS,
    tables.SILVER_QUARANTINE,
    tables.GOLD_FEATURES,
]


def _prep(bundle) -> None:
    _run.run_tasks(bundle, TASKS)
    cfg = _run.config(bundle)
    processed = cfg.local_path("data/processed")
    _run.report(
        bundle, TASKS, TABLES, [processed / "M.parquet", processed / "sample_M.parquet", cfg.home / "gx"]
    )


def main(argv: list[str] | None = None) -> int:
    return _run.main_of("prep", __doc__, _prep, argv)


if __name__ == "__main__":
    sys.exit(main())

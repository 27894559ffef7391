"""One local run of the pipeline's data tasks (bronze -> silver -> gold -> split) in one process.

The crash tests start it as a subprocess with CREDIT_RISK_FAILPOINT set, so the lake kills it (SIGKILL)
mid-commit, then start it again, as an operator would rerun a failed job. Usage: etl_job.py RUN_DIR ROWS
"""

from __future__ import annotations

import os
import sys

from credit_risk.bronze import run_bronze
from credit_risk.gold import run_gold
from credit_risk.runtime.config import load_config
from credit_risk.runtime.context import TASK_ENV
from credit_risk.runtime.dbutils import RUN_DIR_ENV, get_dbutils
from credit_risk.silver import run_silver
from credit_risk.split import run_split

TASKS = [("bronze_ingest", run_bronze), ("silver_clean", run_silver), ("gold_features", run_gold), ("split", run_split)]


def main(run_dir: str, rows: str) -> None:
    os.environ[RUN_DIR_ENV] = run_dir
    cfg = load_config({"rows": rows, "seed": "11"})
    dbutils = get_dbutils()
    for key, task in TASKS:
        os.environ[TASK_ENV] = key
        print(key, task(cfg, dbutils), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])

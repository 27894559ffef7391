"""One local run of the pipeline's data tasks (bronze -> silver -> gold -> split) in one process.

The crash tests start it as a subprocess with CREDIT_RISK_FAILPOINT set, so the lake kills it (SIGKILL)
mid-commit, then start it again on the same run folder, as a repair run reruns the failed task and what
follows (task values of the finished tasks stay in the run folder). Usage: etl_job.py RUN_DIR ROWS
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from credit_risk.local.dbutils import RUN_DIR_ENV
from credit_risk.pipeline.bronze import run_bronze
from credit_risk.pipeline.gold import run_gold
from credit_risk.pipeline.silver import run_silver
from credit_risk.pipeline.split import run_split
from credit_risk.runtime.config import load_config
from credit_risk.runtime.context import TASK_ENV
from credit_risk.runtime.dbutils import get_dbutils

TASKS = [
    ("bronze_ingest", run_bronze),
    ("silver_clean", run_silver),
    ("gold_features", run_gold),
    ("split", run_split),
]


def main(run_dir: str, rows: str) -> None:
    """Run the tasks not yet done in this job run (a repair run after a crash reruns from the failed task)."""
    os.environ[RUN_DIR_ENV] = run_dir
    done_file = Path(run_dir) / "done.txt"
    done = done_file.read_text().split() if done_file.exists() else []
    cfg = load_config({"rows": rows, "seed": "11"})
    dbutils = get_dbutils()
    for key, task in TASKS:
        if key in done:
            continue
        os.environ[TASK_ENV] = key
        print(key, task(cfg, dbutils), flush=True)
        with done_file.open("a") as f:
            f.write(key + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])

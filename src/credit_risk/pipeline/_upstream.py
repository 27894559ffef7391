"""What a task reads from the tasks before it in the job run: pinned Delta versions and the best training run.

A task reads the table version its upstream task wrote, not whatever is newest when it starts, so one job
run sees one consistent set of tables. Run outside a job (a notebook by hand, a test), there is no upstream
value and the task reads the table's current version, or the best run in the experiment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.entities import Run

    from credit_risk.lake import Lake
    from credit_risk.runtime.dbutils import DBUtils

TRAINING_TASK = "train_supervised"


def upstream_version(dbutils: DBUtils, lake: Lake, table: str, task: str, key: str) -> int:
    """The version of `table` that task `task` published as `key`, else the table's current version."""
    return int(dbutils.jobs.taskValues.get(taskKey=task, key=key, debugValue=lake.version(table)))


def best_run(dbutils: DBUtils) -> Run:
    """The MLflow run `train_supervised` published as `best_run_id`, else the run with the best validation AUC."""
    import mlflow

    run_id = dbutils.jobs.taskValues.get(taskKey=TRAINING_TASK, key="best_run_id", debugValue="")
    if run_id:
        return mlflow.get_run(str(run_id))
    # a refit carries its selection run's val_auc and starts after it: the later run wins the tie
    best = mlflow.search_runs(
        filter_string="tags.model_type != ''",
        order_by=["metrics.val_auc DESC", "attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    if not best:
        raise ValueError(f"no training run found: run the {TRAINING_TASK} task first")
    return best[0]

"""Batch scoring: the champion scores a Delta table on Spark into `gold.loan_scores`, in the inference log's shape.

The champion version is a JVM-free pyfunc (for endpoints); batch scoring loads the Spark model of the same
fit from the version's training run (`register.spark_model_uri`), so the night's scores run on the cluster.

Idempotent: rows are merged by (loan_id, model_version), so re-running a night's job rewrites the same
rows instead of adding copies, and a new champion adds its own scores beside the old one's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from credit_risk import features
from credit_risk.calibration import Calibration, run_calibration
from credit_risk.pipeline._upstream import upstream_version
from credit_risk.pipeline.register import CHAMPION, registered_name, spark_model_uri, training_run_id
from credit_risk.pipeline.train_supervised import pd_column
from credit_risk.runtime.errors import pipeline_task
from credit_risk.tables import GOLD_FEATURES, GOLD_SCORES, GOLD_SEGMENTS, GOLD_SPLITS

if TYPE_CHECKING:
    from credit_risk.lake import Lake
    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils


def score_loans(
    model: PipelineModel,
    loans: DataFrame,
    odds_factor: float,
    model_name: str,
    model_version: int,
    threshold: float = 0.2,
    request_id: str = "batch",
    calibration: Calibration | None = None,
) -> DataFrame:
    """One row per loan in the inference log's shape (the API's predictions), plus loan_id and issue_year.

    Same column names and types as `monitoring.inference_log` (features for drift, PD, decision at the
    threshold, model name and version, scoring time, source "batch"), so the monitor and anyone comparing
    online with offline scores read both alike. `request_id` is the job run; `feature_hash` is Spark's
    xxhash64 of the features (the API hashes with pandas: a hash identifies repeats within one source).
    """
    from credit_risk.model.prediction_log import schema as log_schema

    spark_type = {
        "double": "double",
        "int32": "int",
        "string": "string",
        "timestamp[us, tz=UTC]": "timestamp",
    }
    scored = pd_column(model.transform(loans), odds_factor, calibration=calibration).withColumns(
        {
            "request_id": F.lit(request_id),
            "feature_hash": F.format_string("%016x", F.xxhash64(*features.FEATURES)),
            "decision": (F.col("pd") >= F.lit(threshold)).cast("int"),
            "model_name": F.lit(model_name),
            "model_version": F.lit(int(model_version)),
            "scored_at": F.lit(datetime.now(UTC).replace(tzinfo=None)),
            "source": F.lit("batch"),
        }
    )
    return scored.select(
        features.KEY, "issue_year", *[F.col(f.name).cast(spark_type[str(f.type)]) for f in log_schema()]
    )


@pipeline_task("batch_score")
def run_batch_score(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `batch_score`: the champion over the pinned gold version; a run without a champion scores nothing."""
    from credit_risk.lake import get_lake
    from credit_risk.runtime.context import commit_metadata
    from credit_risk.runtime.tracking import configure_mlflow

    configure_mlflow(cfg)
    lake = get_lake(cfg)
    name = registered_name(cfg)
    try:
        champion = MlflowClient().get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        message = f"no {CHAMPION} alias on {name}: no model passed the promotion gates yet, nothing scored"
        print(message)
        return {"scored": 0, "reason": message}
    gold_version = upstream_version(dbutils, lake, GOLD_FEATURES, "gold_features", "gold_version")
    model = mlflow.spark.load_model(spark_model_uri(champion))  # the version itself is the JVM-free pyfunc
    factor = float(mlflow.get_run(training_run_id(champion)).data.params["pd_odds_factor"])
    scores = score_loans(
        model,
        lake.read(GOLD_FEATURES, version=gold_version),
        factor,
        name,
        int(champion.version),
        threshold=cfg.decision_threshold,
        request_id=f"batch:{commit_metadata()['run_id'] or 'interactive'}",
        calibration=run_calibration(training_run_id(champion)),
    )
    version = lake.merge(
        scores,
        GOLD_SCORES,
        keys=[features.KEY, "model_version"],
        metadata={"gold_version": gold_version, "model_version": int(champion.version)},
    )
    dbutils.jobs.taskValues.set(key="scores_version", value=version)
    written = lake.read(GOLD_SCORES, version=version).where(F.col("model_version") == int(champion.version))
    segments_version = _fill_segment_pd(lake, dbutils, written)
    scored = written.count()
    return {
        "scores_version": version,
        "model": f"{name} v{champion.version}",
        "gold_version": gold_version,
        "scored": scored,
        "segments_version_with_mean_pd": segments_version,
    }


def _fill_segment_pd(lake: Lake, dbutils: DBUtils, scores: DataFrame) -> int | None:
    """Mean champion PD per risk segment into `gold.risk_segments` (None when no segments were trained)."""
    import ast

    from credit_risk.pipeline.segments import assign_segments, with_mean_pd

    runs = dbutils.jobs.taskValues.get(taskKey="train_segments", key="segment_runs", debugValue={}) or {}
    if not runs:
        found = mlflow.search_runs(
            filter_string="tags.model_type LIKE 'segments_%'",
            order_by=["attributes.start_time DESC"],
            max_results=2,
        )
        runs = {
            t.removeprefix("segments_"): r
            for t, r in zip(found.get("tags.model_type", []), found.get("run_id", []), strict=True)
        }
    if not runs or not lake.exists(GOLD_SEGMENTS):
        return None
    client = MlflowClient()
    models = {
        m: (
            mlflow.spark.load_model(f"runs:/{r}/model"),
            ast.literal_eval(client.get_run(r).data.params["segment_of_cluster"]),
        )
        for m, r in runs.items()
    }
    train = lake.read(GOLD_SPLITS).where("split = 'train'")
    scored = assign_segments(models, train).join(scores.select(features.KEY, "pd"), features.KEY)
    profile = lake.read(GOLD_SEGMENTS)
    return lake.write(with_mean_pd(profile, scored), GOLD_SEGMENTS, metadata={"mean_pd_from": "batch_score"})

"""Supervised PD models in Spark MLlib: logistic regression, random forest, GBT and MLP, tracked in MLflow.

Every model shares one feature pipeline (`feature_stages`) built only from stock stages (Imputer,
StringIndexer and OneHotEncoder that keep unseen categories, VectorAssembler, StandardScaler where the
model needs it), so the fitted pipeline can be exported for JVM-free serving. The rare default class gets balanced class
weights through `weightCol`; MultilayerPerceptronClassifier has none, so it trains on every loan with each
default repeated until the classes balance. Both shift the PD level, so the score is mapped back with the
standard prior correction (odds x `pd_odds_factor`), logged with each model and used wherever it scores.
A calibration map fitted on each model's validation PDs (`credit_risk.calibration`, `calibration`) follows it;
the model chosen by validation AUC is then refit on train + valid (`pipeline.refit`, `refit`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
from mlflow.data.spark_dataset import from_spark
from pyspark.ml import Pipeline, PipelineModel, Transformer
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from credit_risk import features, metrics
from credit_risk.calibration import CALIBRATION_ARTIFACT, Calibration, cross_fitted, spark_column
from credit_risk.calibration import fit as fit_calibration
from credit_risk.feature_screen import FeatureSet
from credit_risk.model.export import export_pipeline
from credit_risk.model.portable import PORTABLE_ARTIFACT
from credit_risk.pipeline._upstream import upstream_version
from credit_risk.pipeline.estimators import HYPERPARAMETERS as HYPERPARAMETERS
from credit_risk.pipeline.estimators import MODELS as MODELS
from credit_risk.pipeline.estimators import TEXT_MODELS, estimator, screen_inputs
from credit_risk.pipeline.feature_stages import (
    assembly_stages,
    fit_shared_stages,
    shared_stages,
    text_outputs,
    text_stages,
)
from credit_risk.pipeline.refit import refit_on_train_and_valid
from credit_risk.pipeline.split import forward_folds
from credit_risk.pipeline.target import describe_target
from credit_risk.runtime.errors import doing, pipeline_task
from credit_risk.runtime.tracking import spark_model_requirements, start_task_run
from credit_risk.tables import GOLD_FEATURES, GOLD_SPLITS
from credit_risk.weights import WEIGHT_COL, add_weight_column, compute_class_weights

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.ml._typing import PipelineStage

    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils

log = logging.getLogger(__name__)


def pd_column(
    model_output: DataFrame, odds_factor: float, col: str = "pd", calibration: Calibration | None = None
) -> DataFrame:
    """PD from the probability vector, prior-corrected for the class weighting or sampling used in training,
    then through the run's `calibration` map if given (the PD before it kept as `<col>_uncalibrated`)."""
    raw = F.least(F.greatest(vector_to_array(F.col("probability"))[1], F.lit(1e-12)), F.lit(1 - 1e-12))
    odds = raw / (1 - raw) * F.lit(odds_factor)
    out = model_output.withColumn(col, odds / (1 + odds))
    if calibration is None:
        return out
    uncalibrated = f"{col}_uncalibrated"
    out = out.withColumnRenamed(col, uncalibrated)
    return out.withColumn(col, spark_column(calibration, F.col(uncalibrated)))


def _balanced_sample(train: DataFrame) -> tuple[DataFrame, float]:
    """Every loan, with each default repeated k times (k = repaid / defaulted, for the MLP); returns it and 1/k.

    The copies are made in place (explode), so the sample keeps the partitions of `train`: a union of k - 1 copies
    of the defaults multiplied them, and with them the tasks of every L-BFGS iteration.
    """
    weights = compute_class_weights(train)
    copies = max(1, round(weights[1] / weights[0]))
    repeat = F.when(F.col(features.TARGET) == 1, F.lit(copies)).otherwise(F.lit(1))
    out = train.withColumn("_copy", F.explode(F.sequence(F.lit(1), repeat))).drop("_copy")
    return out, 1.0 / copies


def fit_model(
    name: str,
    train: DataFrame,
    params: dict[str, Any],
    seed: int,
    shared: list[Transformer] | None = None,
    selected: FeatureSet | None = None,
) -> tuple[PipelineModel, float, dict[str, str]]:
    """Fit one model's full pipeline on the `selected` features (screened on `train` if not given), reusing
    `shared` fitted stages if given; returns it, its PD odds factor and tags describing class balance."""
    selected = selected or screen_inputs(train, params)
    if name == "scorecard":  # its own stages (WoE bins): the shared imputation and one-hot do not apply
        from credit_risk.pipeline.scorecard import fit_scorecard

        return fit_scorecard(train, {**HYPERPARAMETERS, **params}, seed, selected)
    scale = name in {"logistic_regression", "mlp"}
    first: list[PipelineStage] = [*shared] if shared is not None else shared_stages(selected)
    settings = {**HYPERPARAMETERS, **params}
    buckets, orders = int(settings["text_features"]), int(settings["text_ngrams"])
    text = selected.text if name in TEXT_MODELS and buckets > 0 else []
    first += text_stages(text, buckets, orders)
    assembly = assembly_stages(scale, name != "mlp", selected, text_outputs(text, orders))
    prep = Pipeline(stages=[*first, *assembly]).fit(train)
    n_features = None  # only the MLP's input layer needs the vector size (a Spark job to read it off a row)
    if name == "mlp":
        n_features = prep.transform(train.limit(1)).head(1)[0]["features"].size
        data, factor = _balanced_sample(train)
        tags = {
            "class_balance": "oversampled defaults: each repeated to balance the classes (MLP has no weightCol)",
            "default_copies": str(round(1 / factor)),
        }
        # The balanced sample is cached, not the prepared vectors: given an uncached input the MLP keeps its own
        # stacked blocks for L-BFGS, given a cached one it restacks them every iteration (bench/RESULTS.md).
        cached = data.cache()
        model_input = prep.transform(cached)
    else:
        weights = compute_class_weights(train)
        data, factor = add_weight_column(train, weights), weights[1] / weights[0]
        factor = 1 / factor
        tags = {"class_balance": f"weightCol {WEIGHT_COL}: balanced class weights {weights}"}
        # LR's L-BFGS and the tree learners pass over their input once per iteration or level, each pass through
        # the uncached preparation; so they get the prepared input, cached (bench/RESULTS.md has the figures).
        cached = model_input = prep.transform(data).select("features", features.TARGET, WEIGHT_COL).cache()
    try:
        fitted = estimator(name, params, n_features, seed).fit(model_input)
    finally:
        cached.unpersist()
    return PipelineModel(stages=[*prep.stages, fitted]), factor, tags


def evaluate_pd(model: PipelineModel, df: DataFrame, odds_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """(outcomes, PDs) of `df` under the model, collected as two small arrays."""
    rows = pd_column(model.transform(df), odds_factor).select(features.TARGET, "pd").toPandas()
    return rows[features.TARGET].to_numpy(float), rows["pd"].to_numpy(float)


def train_all(
    train: DataFrame, valid: DataFrame, cfg: Config, lineage: dict[str, Any], models: tuple[str, ...] = MODELS
) -> dict[str, Any]:
    """One MLflow parent run; a child run per model with validation metrics, signature and lineage (autologged)."""
    mlflow.pyspark.ml.autolog(log_models=False, log_datasets=False, silent=True)
    try:
        return _train_and_log(train, valid, cfg, lineage, models)
    finally:  # the session may go on to other tasks (one kernel per local job run): their fits are not ours
        mlflow.pyspark.ml.autolog(disable=True, silent=True)


def _train_and_log(
    train: DataFrame, valid: DataFrame, cfg: Config, lineage: dict[str, Any], models: tuple[str, ...]
) -> dict[str, Any]:
    params = dict(cfg.extra)
    # column drift: what is null or constant in these training rows is left out
    selected = screen_inputs(train, params)
    example = train.select(*selected.inputs).limit(5).toPandas()
    results: dict[str, Any] = {}
    tags = {
        "git_sha": lineage["git_sha"],
        "data_source": cfg.data_source,
        "target_definition": describe_target(cfg.target_definition, cfg.performance_months),
        "gold_version": str(lineage["gold_version"]),
        "splits_version": str(lineage["splits_version"]),
        **selected.tags(),
    }
    with start_task_run("train_supervised", tags) as parent:
        if lineage.get("dataset") is not None:
            mlflow.log_input(lineage["dataset"], context="training")
        mlflow.log_dict(selected.to_dict(), "features.json")
        shared = fit_shared_stages(train, selected)
        # a stratified split's validation loans are not a later period: the fit on train alone scores them
        time_ordered = cfg.selection_folds > 1 and cfg.split_kind == "temporal"
        blocks = forward_folds(valid, cfg.selection_folds) if time_ordered else []
        choose_on = "val_auc_forward" if len(blocks) > 1 else "val_auc"  # one month in valid: one block
        mlflow.set_tag(
            "selection", f"{choose_on} ({len(blocks)} time-ordered folds)" if len(blocks) > 1 else choose_on
        )
        for name in models:
            with mlflow.start_run(run_name=name, nested=True, tags={**tags, "model_type": name}) as child:
                with doing(f"fitting {name} on {lineage.get('splits', 'the training split')}"):
                    model, factor, balance = fit_model(name, train, params, cfg.seed, shared, selected)
                with doing(f"scoring the validation split with {name}"):
                    y, p = evaluate_pd(model, valid, factor)
                scores = metrics.summary(y, p)
                calibration = fit_calibration(cfg.calibration, y, p)
                scores["ece_calibrated"] = metrics.ece(y, cross_fitted(cfg.calibration, y, p, seed=cfg.seed))
                if len(blocks) > 1:
                    folds = forward_aucs(name, model, factor, train, blocks, params, cfg.seed, selected)
                    scores.update({f"auc_fold{j}": a for j, a in enumerate(folds, start=1)})
                    scores["auc_forward"] = float(np.mean(folds))
                mlflow.set_tags(balance)
                mlflow.log_params({"pd_odds_factor": factor, "n_train": train.count(), "n_valid": len(y)})
                mlflow.log_metrics({f"val_{k}": v for k, v in scores.items()})
                log_fitted(model, factor, name, selected, example, calibration)
                results[name] = {
                    "run_id": child.info.run_id,
                    "odds_factor": factor,
                    "calibration": calibration,
                    **{f"val_{k}": v for k, v in scores.items()},
                }
                log.info(
                    "%s: validation AUC %.4f, KS %.4f, ECE %.4f",
                    name,
                    scores["auc"],
                    scores["ks"],
                    scores["ece"],
                )
        best = max(results, key=lambda n: results[n][choose_on])
        best_run_id = results[best]["run_id"]
        refit = None
        if (
            cfg.refit
        ):  # the champion's pipeline again, on train + valid (validation metrics: the selection fit's)
            refit = refit_on_train_and_valid(best, results[best], train, valid, cfg, tags, selected, example)
            best_run_id = refit["run_id"]
        mlflow.set_tags(
            {"best_model": best, "best_run_id": best_run_id, "selection_run_id": results[best]["run_id"]}
        )
    return {
        "parent_run_id": parent.info.run_id,
        "best_model": best,
        "best_run_id": best_run_id,
        "models": results,
        "refit": refit,
        "features_excluded": selected.excluded,
    }


def forward_aucs(
    name: str,
    first: PipelineModel,
    factor: float,
    train: DataFrame,
    blocks: list[DataFrame],
    params: dict[str, Any],
    seed: int,
    selected: FeatureSet,
) -> list[float]:
    """AUC of each time-ordered fold: block 1 scored by `first` (the fit on train), block j by a fit on train and
    blocks 1..j-1, each such fit in a nested run `<model>_fold<j>` (no `model_type` tag: never a candidate)."""
    aucs = [metrics.auc(*evaluate_pd(first, blocks[0], factor))]
    seen = train
    for j in range(2, len(blocks) + 1):
        seen = seen.unionByName(blocks[j - 2])
        with mlflow.start_run(
            run_name=f"{name}_fold{j}", nested=True, tags={"fold_of": name, "fold": str(j)}
        ):
            with doing(f"fitting {name} on train and validation blocks 1-{j - 1}"):
                model, fold_factor, _ = fit_model(name, seen, params, seed, None, selected)
            aucs.append(metrics.auc(*evaluate_pd(model, blocks[j - 1], fold_factor)))
            mlflow.log_metrics({"fold_auc": aucs[-1], "n_train": float(seen.count())})
    return aucs


def log_fitted(
    model: PipelineModel,
    factor: float,
    name: str,
    selected: FeatureSet,
    example: pd.DataFrame,
    calibration: Calibration,
) -> None:
    """The active run's Spark model, its portable export and its calibration map (what scoring needs)."""
    from mlflow.models import infer_signature

    mlflow.log_param("calibration", calibration["method"])
    mlflow.log_dict(calibration, CALIBRATION_ARTIFACT)
    mlflow.spark.log_model(
        model,
        "model",
        signature=infer_signature(example, np.zeros(len(example))),
        input_example=example,
        metadata={"pd_odds_factor": factor, "calibration": calibration["method"]},
        pip_requirements=spark_model_requirements(),
    )
    document = export_pipeline(
        model, factor, model_type=name, features_used=selected.used, features_excluded=selected.excluded
    )
    mlflow.log_dict({**document, "calibration": calibration}, PORTABLE_ARTIFACT)


@pipeline_task("train_supervised")
def run_train_supervised(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `train_supervised`: fit the four models on the pinned splits; publishes the best run."""
    from credit_risk.lake import get_lake
    from credit_risk.runtime.context import git_sha
    from credit_risk.runtime.tracking import configure_mlflow

    lake = get_lake(cfg)
    configure_mlflow(cfg)
    splits_version = upstream_version(dbutils, lake, GOLD_SPLITS, "split", "splits_version")
    gold_version = upstream_version(dbutils, lake, GOLD_FEATURES, "split", "gold_version")
    splits = lake.read(GOLD_SPLITS, version=splits_version)
    train = splits.where("split = 'train'").cache()
    valid = splits.where("split = 'valid'").cache()
    dataset = from_spark(
        lake.read(GOLD_FEATURES, version=gold_version).limit(1000),
        path=str(lake.path(GOLD_FEATURES)),
        name=f"{GOLD_FEATURES}@v{gold_version}",
    )
    lineage = {
        "git_sha": git_sha(),
        "gold_version": gold_version,
        "splits_version": splits_version,
        "dataset": dataset,
        "splits": f"{GOLD_SPLITS}@v{splits_version}",
    }
    result = train_all(train, valid, cfg, lineage)
    dbutils.jobs.taskValues.set(key="best_run_id", value=result["best_run_id"])
    dbutils.jobs.taskValues.set(key="best_model", value=result["best_model"])
    dbutils.jobs.taskValues.set(key="parent_run_id", value=result["parent_run_id"])
    return {
        "best_model": result["best_model"],
        "validation_auc": {n: round(m["val_auc"], 4) for n, m in result["models"].items()},
        **result,
    }

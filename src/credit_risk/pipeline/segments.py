"""Risk segments: KMeans and GaussianMixture on standardised origination risk features.

Clusters are ordered by their observed default rate in training, so segment 1 is the lowest-risk group and
the labels are monotone in risk. The profile (size, default rate, feature means) goes to `gold.risk_segments`.

Choosing k (`segment_k_min`..`segment_k_max`): each k is fitted `segment_restarts` times (seeds seed, seed+1,
...) and keeps its best fit by the method's own objective (KMeans: lowest cost; GMM: highest likelihood among
fits whose components all hold GMM_MIN_WEIGHT of the loans). Then the *smallest* k within a tolerance of the
best is chosen, not the argmax: KMeans the smallest k whose silhouette is within KMEANS_SILHOUETTE_TOL (0.01)
of the best, GMM the smallest whose BIC per loan is within GMM_BIC_TOL_PER_LOAN (0.05) of the lowest. Scores
that differ by less than that move with the seed; k should not.

The mixture sees only continuous inputs (GMM_MIN_DISTINCT), and fits on them with a little Gaussian jitter
(GMM_JITTER = 0.2 standard deviations): MLlib's GMM has full covariances only, and ties (revol_util 0, a common
income ratio) would let a component shrink onto identical rows with an unbounded likelihood, so BIC swung by
hundreds of thousands between k. The jitter is a variance floor for the fit only; assignment uses the loans as they are.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import mlflow
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.clustering import GaussianMixture, GaussianMixtureModel, KMeans, KMeansModel
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import Imputer, StandardScaler, VectorAssembler
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from credit_risk import features
from credit_risk.feature_screen import screen
from credit_risk.model.export import export_pipeline
from credit_risk.model.portable import PORTABLE_ARTIFACT
from credit_risk.pipeline._upstream import upstream_version
from credit_risk.runtime.errors import doing, pipeline_task
from credit_risk.tables import GOLD_SEGMENTS, GOLD_SPLITS

if TYPE_CHECKING:
    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils

RISK_FEATURES = [
    "fico_mid",
    "dti",
    "int_rate",
    "loan_to_income",
    "revol_util",
    "inq_last_6mths",
    "term_months",
]


def _prep(df: DataFrame, inputs: list[str]) -> PipelineModel:
    imputed = [f"{c}__imp" for c in inputs]
    return Pipeline(
        stages=[
            Imputer(inputCols=inputs, outputCols=imputed, strategy="median"),
            VectorAssembler(inputCols=imputed, outputCol="raw_features"),
            StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True),
        ]
    ).fit(df)


# Numbers of segments the k search tries; the bundle's segment_k_min / segment_k_max default to these (a test keeps them equal).
SEGMENT_KS = range(2, 7)


# The k rule's tolerances (module docstring): a score this close to the best is a tie, and ties go to fewer segments.
KMEANS_SILHOUETTE_TOL = 0.01
GMM_BIC_TOL_PER_LOAN = 0.05
# Fits per k, each from its own seed; the bundle's segment_restarts defaults to this.
SEGMENT_RESTARTS = 3


def smallest_within(scores: dict[int, float], tolerance: float, higher_is_better: bool) -> int:
    """The smallest k whose score is within `tolerance` of the best (NaN scores are never chosen)."""
    usable = {k: v for k, v in scores.items() if not math.isnan(v)}
    sign = 1 if higher_is_better else -1
    best = max(sign * v for v in usable.values())
    return min(k for k, v in usable.items() if sign * v >= best - tolerance)


def choose_kmeans(
    data: DataFrame, ks: range, seed: int, restarts: int = SEGMENT_RESTARTS
) -> tuple[KMeansModel, dict[int, float]]:
    """The KMeans model chosen by the k rule (module docstring), and every k's silhouette."""
    scores: dict[int, float] = {}
    models: dict[int, KMeansModel] = {}
    evaluator = ClusteringEvaluator(featuresCol="features", predictionCol="cluster", metricName="silhouette")
    for k in ks:
        fits = [
            KMeans(k=k, seed=seed + r, featuresCol="features", predictionCol="cluster").fit(data)
            for r in range(restarts)
        ]
        models[k] = min(fits, key=lambda m: m.summary.trainingCost)
        scores[k] = evaluator.evaluate(models[k].transform(data))
    return models[smallest_within(scores, KMEANS_SILHOUETTE_TOL, higher_is_better=True)], scores


# A mixture component must hold at least this share of the loans; a smaller one is a covariance collapsing
# onto a handful of identical rows, whose likelihood (and so BIC) is unbounded rather than informative.
GMM_MIN_WEIGHT = 0.01
# Inputs with fewer distinct values than this (a 36/60-month term, counts of recent inquiries) are left out
# of the mixture: a Gaussian fitted to a few spikes has a near-zero variance and the same unbounded likelihood.
GMM_MIN_DISTINCT = 20
# Standard deviations of the jitter added to the standardised inputs of the mixture's fit (a variance floor).
# 0.2, not less: FICO comes in 5-point bands (about 40 values, 0.15 sd apart); with 0.05 the lattice stayed and
# EM found seed-dependent optima (k 3 or 4 for seeds 1/7/23 on the test data), with 0.2 every seed chose k 3.
GMM_JITTER = 0.2
# EM stops at a change in total log-likelihood under 0.01 or at this many iterations (50 often stopped short).
GMM_MAX_ITER = 100


def jittered(data: DataFrame, seed: int, scale: float = GMM_JITTER) -> DataFrame:
    """`data` with N(0, scale^2) noise added to each coordinate of `features` (seeded, for the mixture's fit)."""
    d = len(data.head(1)[0]["features"])
    noise = F.array(*[F.randn(seed + i) for i in range(d)])
    shifted = F.zip_with(vector_to_array(F.col("features")), noise, lambda x, e: x + F.lit(scale) * e)
    return data.withColumn("features", array_to_vector(shifted))


def continuous_inputs(df: DataFrame, inputs: list[str], min_distinct: int = GMM_MIN_DISTINCT) -> list[str]:
    """The inputs with at least `min_distinct` distinct values in `df`: the ones a Gaussian can describe."""
    counts = df.agg(*[F.approx_count_distinct(c).alias(c) for c in inputs]).head(1)
    return [c for c in inputs if counts and counts[0][c] >= min_distinct]


def choose_gmm(
    data: DataFrame, ks: range, seed: int, restarts: int = SEGMENT_RESTARTS
) -> tuple[GaussianMixtureModel, dict[int, float]]:
    """The GaussianMixture chosen by the k rule (module docstring), and every k's BIC.

    BIC counts full covariances: k*(d + d(d+1)/2) + k - 1 parameters. A fit with a component below
    GMM_MIN_WEIGHT is never kept, and a k without another fit scores NaN: its likelihood is a collapsed
    covariance's, not structure in the data. `data` should already be jittered (see `jittered`).
    """
    n, d = data.count(), len(data.head(1)[0]["features"])
    scores: dict[int, float] = {}
    models: dict[int, GaussianMixtureModel] = {}
    for k in ks:
        params = k * (d + d * (d + 1) / 2) + k - 1
        for r in range(restarts):
            model = GaussianMixture(
                k=k, seed=seed + r, featuresCol="features", predictionCol="cluster", maxIter=GMM_MAX_ITER
            ).fit(data)
            bic = -2 * model.summary.logLikelihood + params * math.log(n)
            if min(model.weights) < GMM_MIN_WEIGHT or not math.isfinite(bic):
                continue
            if k not in models or bic < scores[k]:
                models[k], scores[k] = model, bic
        scores.setdefault(k, math.nan)
    if not models:
        raise ValueError(
            f"every GaussianMixture for k in {list(ks)} has a component under {GMM_MIN_WEIGHT:.0%} of the "
            f"loans: the segment inputs are too discrete for a mixture"
        )
    return models[smallest_within(scores, GMM_BIC_TOL_PER_LOAN * n, higher_is_better=False)], scores


def profile(assigned: DataFrame, method: str) -> tuple[DataFrame, dict[int, int]]:
    """Per cluster: size, default rate, feature means; segments numbered 1.. by rising default rate."""
    stats = assigned.groupBy("cluster").agg(
        F.count("*").alias("size"),
        F.avg(features.TARGET).alias("default_rate"),
        *[F.avg(c).alias(f"mean_{c}") for c in RISK_FEATURES],
    )
    order = {r["cluster"]: i + 1 for i, r in enumerate(stats.orderBy("default_rate", "cluster").collect())}
    mapping = F.create_map(*[x for c, s in order.items() for x in (F.lit(c), F.lit(s))])
    return (
        stats.withColumn("segment", mapping[F.col("cluster")])
        .withColumn("method", F.lit(method))
        .withColumn("mean_pd", F.lit(None).cast("double"))
        .orderBy("segment")
    ), order


def with_mean_pd(profile: DataFrame, scored: DataFrame) -> DataFrame:
    """The profile with `mean_pd` filled: the champion's average PD of the loans in each (method, segment).

    `scored` has one row per (loan, method) with `segment` and `pd`. Segments are trained in parallel with
    the classifiers, so this runs once a champion has scored the loans (the batch_score task).
    """
    means = scored.groupBy("method", "segment").agg(F.avg("pd").alias("mean_pd"))
    return profile.drop("mean_pd").join(means, ["method", "segment"], "left").select(*profile.columns)


def assign_segments(models: dict[str, tuple[PipelineModel, dict[int, int]]], loans: DataFrame) -> DataFrame:
    """(loan_id, method, segment) for every loan under each fitted segmentation."""
    parts = []
    for method, (model, order) in models.items():
        mapping = F.create_map(*[x for c, s in order.items() for x in (F.lit(int(c)), F.lit(int(s)))])
        parts.append(
            model.transform(loans).select(
                features.KEY, F.lit(method).alias("method"), mapping[F.col("cluster")].alias("segment")
            )
        )
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def build_segments(
    train: DataFrame,
    seed: int,
    ks: range = SEGMENT_KS,
    sample_rows: int = 200_000,
    restarts: int = SEGMENT_RESTARTS,
) -> dict[str, Any]:
    """Fit both clusterings on the training loans; return models, scores and the ordered profiles.

    The k search fits on a seeded sample of at most `sample_rows` loans: seven standardised features settle
    long before millions of rows, and ten fits plus silhouettes over every loan would cost more than the rest
    of training. Profiles (size, default rate, means) still count every training loan.
    """
    n = train.count()
    fit_on = train.sample(fraction=sample_rows / n, seed=seed) if n > sample_rows else train
    selected = screen(fit_on, numeric=RISK_FEATURES, flags=[], categorical=[])  # e.g. no FICO in an export
    inputs = {
        "kmeans": selected,
        "gmm": dataclasses.replace(selected, numeric=continuous_inputs(fit_on, selected.numeric)),
    }
    out = {}
    for method, chooser in (("kmeans", choose_kmeans), ("gmm", choose_gmm)):
        prep = _prep(fit_on, inputs[method].numeric)
        data = prep.transform(fit_on)
        data = (jittered(data, seed) if method == "gmm" else data).cache()
        fit_rows = data.count()
        model, scores = chooser(data, ks, seed, restarts)
        table, order = profile(model.transform(prep.transform(train)), method)
        out[method] = {
            "model": PipelineModel(stages=[*prep.stages, model]),
            "scores": scores,
            "k": len(order),
            "profile": table,
            "order": order,
            "fit_rows": fit_rows,
            "features": inputs[method],
        }
        data.unpersist()
    return out


@pipeline_task("train_segments")
def run_segments(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `train_segments`: both clusterings on the training split, logged to MLflow, profile to gold."""
    from credit_risk.lake import get_lake
    from credit_risk.runtime.tracking import configure_mlflow, spark_model_requirements, start_task_run

    configure_mlflow(cfg)
    lake = get_lake(cfg)
    version = upstream_version(dbutils, lake, GOLD_SPLITS, "split", "splits_version")
    train = lake.read(GOLD_SPLITS, version=version).where("split = 'train'")
    ks = range(
        int(cfg.extra.get("segment_k_min", SEGMENT_KS.start)),
        int(cfg.extra.get("segment_k_max", SEGMENT_KS.stop - 1)) + 1,
    )
    with doing(f"fitting segments on {GOLD_SPLITS}@v{version}"):
        built = build_segments(
            train,
            cfg.seed,
            ks,
            sample_rows=int(cfg.extra.get("segment_sample_rows", 200_000)),
            restarts=int(cfg.extra.get("segment_restarts", SEGMENT_RESTARTS)),
        )
    run_ids = {}
    with start_task_run("train_segments", {"splits_version": str(version)}):
        for method, item in built.items():
            with mlflow.start_run(
                run_name=method, nested=True, tags={"model_type": f"segments_{method}"}
            ) as child:
                run_ids[method] = child.info.run_id
                mlflow.log_metrics(
                    {
                        f"{'silhouette' if method == 'kmeans' else 'bic'}_k{k}": s
                        for k, s in item["scores"].items()
                    }
                )
                mlflow.log_params(
                    {
                        "k": item["k"],
                        "features": ",".join(item["features"].numeric),
                        "fit_rows": item["fit_rows"],
                        "restarts": int(cfg.extra.get("segment_restarts", SEGMENT_RESTARTS)),
                        "segment_of_cluster": str(item["order"]),
                    }
                )
                mlflow.set_tags(item["features"].tags())
                mlflow.spark.log_model(item["model"], "model", pip_requirements=spark_model_requirements())
                if method == "kmeans":  # the API assigns segments without Spark (nearest centre)
                    mlflow.log_dict(
                        export_pipeline(item["model"], 1.0, segment_of_cluster=item["order"]),
                        PORTABLE_ARTIFACT,
                    )
    table = built["kmeans"]["profile"].unionByName(built["gmm"]["profile"])
    table_version = lake.write(table, GOLD_SEGMENTS, metadata={"splits_version": version})
    dbutils.jobs.taskValues.set(key="segments_version", value=table_version)
    dbutils.jobs.taskValues.set(key="segment_runs", value=run_ids)
    rates = {m: [round(r["default_rate"], 3) for r in b["profile"].collect()] for m, b in built.items()}
    return {
        "segments_version": table_version,
        "k": {m: b["k"] for m, b in built.items()},
        "default_rate_by_segment": rates,
    }

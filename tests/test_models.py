"""Splits, class weights, metrics, the four models, segments, evaluation and the registry gates."""

from __future__ import annotations

import dataclasses
import math

import mlflow
import numpy as np
import pytest
from pyspark.sql import functions as F

from credit_risk import features, metrics
from credit_risk.pipeline.register import gate, register_run, spark_model_uri
from credit_risk.pipeline.segments import GMM_MIN_WEIGHT, build_segments
from credit_risk.pipeline.split import make_splits, stratified_split, temporal_split
from credit_risk.pipeline.train_supervised import MODELS
from credit_risk.runtime.config import load_config
from credit_risk.tables import GOLD_SCORES
from credit_risk.weights import add_weight_column, compute_class_weights


def test_metrics_against_hand_computed_values():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    assert metrics.auc(y, p) == pytest.approx(0.75)  # 3 of 4 (pos, neg) pairs ordered right
    assert metrics.gini(y, p) == pytest.approx(0.5)
    assert metrics.ks(y, p) == pytest.approx(0.5)
    assert metrics.brier(y, p) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert metrics.log_loss(y, p) == pytest.approx(-np.mean(np.log([0.9, 0.6, 0.35, 0.8])))
    assert metrics.pr_auc(y, p) == pytest.approx((1 + 2 / 3) / 2)
    assert metrics.ece(np.array([0, 1]), np.array([0.0, 1.0]), bins=2) == 0
    assert metrics.psi(np.arange(100.0), np.arange(100.0)) == pytest.approx(0, abs=1e-9)
    assert metrics.psi(np.arange(100.0), np.arange(100.0) + 50) > 1
    lift = metrics.lift_table(y, p, bins=2)
    assert [r["gain"] for r in lift] == [0.5, 1.0] and lift[0]["lift"] == pytest.approx(1.0)


def test_class_weights_on_a_toy_example(spark):
    df = spark.createDataFrame([(0,)] * 8 + [(1,)] * 2, f"{features.TARGET} int")
    weights = compute_class_weights(df)
    assert weights == {0: pytest.approx(10 / 16), 1: pytest.approx(10 / 4)}
    weighted = (
        add_weight_column(df, weights)
        .groupBy(features.TARGET)
        .agg(F.sum("class_weight").alias("w"))
        .collect()
    )
    assert {r[features.TARGET]: r["w"] for r in weighted} == {0: pytest.approx(5.0), 1: pytest.approx(5.0)}
    with pytest.raises(ValueError, match="single class"):
        compute_class_weights(df.where(f"{features.TARGET} = 0"))


def test_splits_are_deterministic_disjoint_and_final_outcomes_only(gold):
    cfg = load_config()
    a, b = make_splits(gold, cfg), make_splits(gold, cfg)
    assert sorted(r[0] for r in a.select(features.KEY).collect()) == sorted(
        r[0] for r in b.select(features.KEY).collect()
    )
    assert a.groupBy(features.KEY).count().where("count > 1").count() == 0
    assert a.where(F.col(features.TARGET).isNull()).count() == 0
    years = {
        r["split"]: (r["lo"], r["hi"])
        for r in a.groupBy("split")
        .agg(F.min("issue_year").alias("lo"), F.max("issue_year").alias("hi"))
        .collect()
    }
    assert years["train"][1] <= cfg.train_end_year and years["valid"] == (cfg.valid_year, cfg.valid_year)
    assert years["test"][0] > cfg.valid_year and years["test"][1] <= int(cfg.test_end[:4])
    strat = dataclasses.replace(cfg, split_kind="stratified")
    s1, s2 = make_splits(gold, strat), make_splits(gold, strat)
    assert (
        s1.where("split = 'test'").select(features.KEY).orderBy(features.KEY).collect()
        == s2.where("split = 'test'").select(features.KEY).orderBy(features.KEY).collect()
    )
    train, test = stratified_split(gold.where(f"{features.TARGET} IS NOT NULL"), [features.TARGET], 0.2, 7)
    share = test.count() / (train.count() + test.count())
    assert share == pytest.approx(0.2, abs=0.01)
    rates = [d.agg(F.avg(features.TARGET)).first()[0] for d in (train, test)]
    assert rates[0] == pytest.approx(rates[1], abs=0.02)
    with pytest.raises(ValueError, match="valid_year"):
        temporal_split(gold, 2018, 2018, "2020Q1")


def test_four_models_rank_better_than_chance(trained):
    """LR, RF and GBT clearly; the small MLP at least two standard errors above an AUC of 0.5."""
    _, result = trained
    assert set(result["models"]) == set(MODELS)
    run = mlflow.get_run(result["models"]["mlp"]["run_id"])
    n_valid = int(run.data.params["n_valid"])
    rate = 0.2  # about one validation loan in five defaults on the generated data (final status)
    se_null = np.sqrt((n_valid + 1) / (12 * n_valid * rate * n_valid * (1 - rate)))
    for name, scores in result["models"].items():
        floor = 0.5 + 2 * se_null if name == "mlp" else 0.62
        assert scores["val_auc"] > floor, (name, scores["val_auc"], floor)
    assert result["best_model"] == max(result["models"], key=lambda n: result["models"][n]["val_auc"])


def test_no_post_origination_column_in_any_model_signature(trained):
    _, result = trained
    for scores in result["models"].values():
        info = mlflow.models.get_model_info(f"runs:/{scores['run_id']}/model")
        inputs = [c.name for c in info.signature.inputs.inputs]
        assert inputs == features.FEATURES
        assert not [c for c in inputs if features.is_post_origination(c)]
    mlp = mlflow.get_run(result["models"]["mlp"]["run_id"])
    assert "oversampled defaults" in mlp.data.tags["class_balance"]
    assert mlp.data.tags["target_definition"].startswith("default_flag = 1")


def test_registry_gate_first_champion_promotion_and_refusal(trained):
    cfg, result = trained
    # a model name of its own: nothing else registered in the shared store can stand as its champion
    loose = dataclasses.replace(
        cfg, model_name="registry_gate_test", max_ece=1.0, min_auc=0.5, promotion_margin=0.0
    )
    runs = sorted(result["models"].values(), key=lambda m: m["val_auc"])
    first = register_run(loose, runs[-2]["run_id"])
    assert first["champion"] and first["previous_champion"] is None
    better = register_run(loose, runs[-1]["run_id"])
    assert better["champion"] and better["previous_champion"] == first["model_version"]
    worse = register_run(loose, runs[0]["run_id"])
    assert not worse["champion"] and "does not beat the champion" in worse["reasons"][0]
    client = mlflow.MlflowClient()
    assert (
        int(client.get_model_version_by_alias(loose.model_name, "champion").version)
        == better["model_version"]
    )
    assert (
        int(client.get_model_version_by_alias(loose.model_name, "challenger").version)
        == worse["model_version"]
    )
    tags = client.get_model_version(loose.model_name, str(worse["model_version"])).tags
    assert tags["promotion"] == "refused" and "champion" in tags["refusal_reasons"]
    # the version is the JVM-free pyfunc; the Spark model of the same fit stays on the run, for batch scoring
    assert set(mlflow.models.get_model_info(f"models:/{loose.model_name}@champion").flavors) == {
        "python_function"
    }
    champion = client.get_model_version_by_alias(loose.model_name, "champion")
    assert (
        champion.run_id == runs[-1]["run_id"]
        and spark_model_uri(champion) == f"runs:/{runs[-1]['run_id']}/model"
    )
    leak = gate({"val_auc": 0.95, "val_ece": 0.01}, None, cfg)
    assert leak and leak[0].startswith("leakage alarm")
    assert gate({"val_auc": 0.55, "val_ece": 0.5}, None, cfg) == [
        f"validation AUC 0.5500 < minimum {cfg.min_auc}",
        f"calibration error 0.5000 > maximum {cfg.max_ece}",
    ]


def test_segments_are_ordered_by_default_rate(gold):
    train = gold.where(f"{features.TARGET} IS NOT NULL")
    n = train.count()
    built = build_segments(
        train, seed=1, ks=range(2, 4), sample_rows=n // 2, restarts=1
    )  # fit on a sample, profile everyone (k stability across seeds and restarts: tests/test_segments.py)
    for method in ("kmeans", "gmm"):
        assert 0.3 * n < built[method]["fit_rows"] < 0.7 * n
        rows = built[method]["profile"].collect()
        rates = [r["default_rate"] for r in rows]
        assert [r["segment"] for r in rows] == list(range(1, len(rows) + 1))
        assert rates == sorted(rates) and sum(r["size"] for r in rows) == n
    # the mixture sees only inputs a Gaussian can describe, and every component it keeps holds real weight
    gmm = built["gmm"]
    assert {"term_months", "inq_last_6mths"}.isdisjoint(gmm["features"].numeric), gmm["features"].numeric
    assert set(gmm["features"].numeric) < set(built["kmeans"]["features"].numeric)
    assert min(gmm["model"].stages[-1].weights) >= GMM_MIN_WEIGHT
    assert all(math.isfinite(b) for b in gmm["scores"].values()), gmm["scores"]
    # mean PD per segment once a champion has scored the loans (here: a PD that is the fico score, to check sums)
    from credit_risk.pipeline.segments import assign_segments, with_mean_pd

    models = {m: (b["model"], b["order"]) for m, b in built.items()}
    assigned = assign_segments(models, train)
    scores = train.select(features.KEY, (F.col("fico_mid") / 1000).alias("pd"))
    profile = built["kmeans"]["profile"].unionByName(built["gmm"]["profile"])
    filled = with_mean_pd(profile, assigned.join(scores, features.KEY)).collect()
    expected = {
        (r["method"], r["segment"]): r["m"]
        for r in assigned.join(train, features.KEY)
        .groupBy("method", "segment")
        .agg(F.avg(F.col("fico_mid") / 1000).alias("m"))
        .collect()
    }
    assert len(filled) == len(expected) and all(
        r["mean_pd"] == pytest.approx(expected[(r["method"], r["segment"])]) for r in filled
    )
    kmeans_sizes = {r["segment"]: r["size"] for r in filled if r["method"] == "kmeans"}
    counted = {
        r["segment"]: r["count"]
        for r in assigned.where("method = 'kmeans'").groupBy("segment").count().collect()
    }
    assert kmeans_sizes == counted  # the fitted models re-assign the training loans to the same segments


def test_batch_scoring_is_idempotent(trained, gold, spark, tmp_path):
    import mlflow.spark

    from credit_risk.lake import DeltaRsLake
    from credit_risk.pipeline.batch_score import score_loans

    cfg, result = trained
    best = result["models"][result["best_model"]]
    model = mlflow.spark.load_model(f"runs:/{best['run_id']}/model")
    lake = DeltaRsLake(spark, tmp_path / "lake", "s")
    scores = score_loans(model, gold, best["odds_factor"], cfg.model_name, 7)
    first = lake.merge(scores, GOLD_SCORES, keys=["loan_id", "model_version"])
    second = lake.merge(
        score_loans(model, gold, best["odds_factor"], cfg.model_name, 7),
        GOLD_SCORES,
        keys=["loan_id", "model_version"],
    )
    table = lake.read(GOLD_SCORES)
    assert second == first + 1 and table.count() == gold.count()
    # the inference log's shape: same names and types as the API's predictions, plus loan_id and issue_year
    from credit_risk.model.prediction_log import schema as log_schema

    arrow = table.limit(5).toArrow().schema
    assert arrow.names == ["loan_id", "issue_year", *log_schema().names]
    assert all(arrow.field(f.name).type == f.type for f in log_schema()), arrow
    threshold_ok = table.where("(pd >= 0.2) != (decision = 1) OR source != 'batch'").count() == 0
    assert threshold_ok and table.select("feature_hash").distinct().count() > 0.99 * gold.count()
    assert table.where("pd < 0 OR pd > 1 OR pd IS NULL").count() == 0
    lake.merge(
        score_loans(model, gold.limit(10), best["odds_factor"], cfg.model_name, 8),
        GOLD_SCORES,
        keys=["loan_id", "model_version"],
    )
    assert lake.read(GOLD_SCORES).count() == gold.count() + 10


def test_a_feature_null_in_the_whole_training_split_is_left_out_with_its_reason(gold):
    """Column drift: an export without FICO and a field that holds one value. Both are left out of the models fitted
    on such rows, with the reason; the rest still fit, and the portable replay agrees with Spark without them."""
    from credit_risk.feature_screen import screen
    from credit_risk.model.export import export_pipeline
    from credit_risk.model.portable import PortableModel
    from credit_risk.pipeline.train_supervised import fit_model, pd_column

    era = (
        gold.where(f"{features.TARGET} IS NOT NULL")
        .withColumn("fico_mid", F.lit(None).cast("double"))
        .withColumn("initial_list_status", F.lit("f"))
    )
    train = era.limit(1500).cache()
    selected = screen(train)
    assert set(selected.excluded) == {"fico_mid", "initial_list_status"}, selected.excluded
    assert selected.excluded["fico_mid"] == "entirely null in the 1500 rows fitted on"
    assert selected.excluded["initial_list_status"].startswith("constant ('f'")
    assert (
        "tot_cur_bal_missing" in selected.flags and "tot_cur_bal" in selected.numeric
    )  # missing in early vintages only
    tags = selected.tags()
    assert "fico_mid" not in tags["features_used"].split(",") and "fico_mid" in tags["features_excluded"]
    model, factor, _ = fit_model(
        "logistic_regression", train, {"lr_max_iter": "20"}, seed=1, selected=selected
    )
    imputer = model.stages[0]
    assembled = [c for s in model.stages if type(s).__name__ == "VectorAssembler" for c in s.getInputCols()]
    assert "fico_mid" not in imputer.getInputCols() and "fico_mid__imp" not in assembled
    assert "initial_list_status__ohe" not in assembled and "grade__ohe" in assembled
    portable = PortableModel(export_pipeline(model, factor, features_used=selected.used))
    rows = train.limit(60)
    expected = pd_column(model.transform(rows), factor).select("pd").toPandas()["pd"].to_numpy()
    given = rows.toPandas().drop(
        columns=["fico_mid", "initial_list_status"]
    )  # what the model does not use need not come
    np.testing.assert_allclose(portable.predict_pd(given), expected, atol=1e-6)
    segments = build_segments(train, seed=1, ks=range(3, 4), restarts=1)
    assert "fico_mid" not in segments["kmeans"]["features"].numeric and segments["kmeans"]["k"] == 3
    train.unpersist()

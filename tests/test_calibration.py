"""Calibration maps (Platt, isotonic as MLlib's), their Spark/numpy parity, and the refit setting.

The refit itself is checked on the cohort job's run (tests/reliability/test_real_data_job.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from credit_risk import calibration, features, metrics
from credit_risk.runtime.config import load_config


def _miscalibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn from true PDs, and a score that overstates the spread and the level of those PDs."""
    rng = np.random.default_rng(seed)
    true = 1 / (1 + np.exp(-rng.normal(-2.0, 1.0, n)))
    y = (rng.random(n) < true).astype(float)
    z = np.log(true / (1 - true))
    return y, 1 / (1 + np.exp(-(1.8 * z + 1.2)))


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_a_map_fitted_on_one_half_removes_most_of_the_calibration_error_of_the_other(method):
    y, p = _miscalibrated(20_000, 1)
    fit_y, fit_p, held_y, held_p = y[:10_000], p[:10_000], y[10_000:], p[10_000:]
    cal = calibration.fit(method, fit_y, fit_p)
    before, after = metrics.ece(held_y, held_p), metrics.ece(held_y, calibration.apply(cal, held_p))
    assert before > 0.04 and after < before / 4, (before, after)
    if method == "platt":  # logit-linear miscalibration: Platt finds the inverse map (slope 1/1.8)
        assert cal["slope"] == pytest.approx(1 / 1.8, rel=0.1)
        assert metrics.auc(held_y, calibration.apply(cal, held_p)) == pytest.approx(
            metrics.auc(held_y, held_p)
        )
    # cross-fitted validation PDs are calibrated too, without any loan's own outcome in its map
    assert metrics.ece(fit_y, calibration.cross_fitted(method, fit_y, fit_p)) < before / 4


def test_platt_leaves_calibrated_pds_alone_and_none_is_the_identity():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.01, 0.5, 50_000)
    y = (rng.random(len(p)) < p).astype(float)
    cal = calibration.fit("platt", y, p)
    assert cal["slope"] == pytest.approx(1, abs=0.05) and cal["intercept"] == pytest.approx(0, abs=0.1)
    assert np.array_equal(calibration.apply(calibration.fit("none", y, p), p), p)
    with pytest.raises(ValueError, match="unknown calibration 'beta'"):
        calibration.fit("beta", y, p)
    with pytest.raises(ValueError, match="finished loans"):  # a loan still current has no outcome yet
        calibration.fit("platt", np.array([0.0, np.nan]), np.array([0.1, 0.2]))


def test_isotonic_equals_mllib_isotonic_regression(spark):
    from pyspark.ml.regression import IsotonicRegression

    y, p = _miscalibrated(3_000, 3)
    p = np.round(p, 3)  # ties: MLlib pools equal PDs before PAV
    frame = spark.createDataFrame([(float(a), float(b)) for a, b in zip(y, p, strict=True)], ["label", "pd"])
    mllib = IsotonicRegression(featuresCol="pd", labelCol="label").fit(frame.coalesce(1))
    ours = calibration.fit_isotonic(y, p)
    assert len(ours["boundaries"]) > 10
    np.testing.assert_allclose(ours["boundaries"], mllib.boundaries.toArray(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["predictions"], mllib.predictions.toArray(), rtol=0, atol=1e-12)
    grid = np.concatenate([np.linspace(-0.1, 1.1, 997), p[:500]])
    probe = spark.createDataFrame([(float(g),) for g in grid], ["pd"])
    theirs = mllib.transform(probe).toPandas()
    np.testing.assert_allclose(calibration.apply(ours, theirs["pd"]), theirs["prediction"], atol=1e-12)
    # the Spark column of the same map (what pd_column applies) gives the same numbers
    spark_col = probe.select(calibration.spark_column(ours, probe["pd"]).alias("c")).toPandas()["c"]
    np.testing.assert_allclose(spark_col, theirs["prediction"], atol=1e-12)


@pytest.mark.parametrize("name", ["gbt", "logistic_regression"])
def test_portable_scoring_with_an_isotonic_map_matches_spark(name, trained, gold, scoring_rows):
    """Spark's pd_column and the JVM-free scorer agree within 1e-6 with an isotonic map too (the shared models
    carry Platt's, held to the same bound by test_portable)."""
    import mlflow.spark

    from credit_risk.model.portable import PORTABLE_ARTIFACT, PortableModel
    from credit_risk.pipeline.train_supervised import evaluate_pd, pd_column

    _, result = trained
    run = result["models"][name]
    model = mlflow.spark.load_model(f"runs:/{run['run_id']}/model")
    y, p = evaluate_pd(model, gold.where(f"{features.TARGET} IS NOT NULL").limit(3000), run["odds_factor"])
    iso = calibration.fit_isotonic(y, p)
    scored = pd_column(model.transform(scoring_rows), run["odds_factor"], calibration=iso)
    spark_pd = scored.select(features.KEY, "pd", "pd_uncalibrated").toPandas().set_index(features.KEY)
    document = mlflow.artifacts.load_dict(f"runs:/{run['run_id']}/{PORTABLE_ARTIFACT}")
    portable = PortableModel({**document, "calibration": iso})
    frame = scoring_rows.toPandas()
    ours = dict(zip(frame[features.KEY], portable.predict_pd(frame), strict=True))
    diff = np.abs(spark_pd["pd"].to_numpy() - np.array([ours[k] for k in spark_pd.index]))
    assert diff.max() <= 1e-6 and spark_pd["pd"].std() > 0.01
    assert not np.allclose(spark_pd["pd"], spark_pd["pd_uncalibrated"])  # the map did something


def test_refit_is_a_strict_boolean_setting():
    assert load_config({"refit": "false"}).refit is False
    assert load_config({"refit": "True"}).refit is True
    assert dataclasses.replace(load_config(), refit=False).refit is False
    for bad in ("no", "0", "yes"):
        with pytest.raises(ValueError, match="refit must be true or false"):
            load_config({"refit": bad})

"""JVM-free scorer: the same 10,000 rows scored by Spark and by the exported pipeline agree within 1e-6."""

from __future__ import annotations

import json

import numpy as np
import pytest

from credit_risk import features
from credit_risk.calibration import run_calibration
from credit_risk.model.export import export_pipeline
from credit_risk.model.portable import PORTABLE_ARTIFACT, PortableModel
from credit_risk.pipeline.train_supervised import MODELS, pd_column


@pytest.mark.parametrize("name", MODELS)
def test_portable_scorer_matches_spark_within_1e6(name, trained, scoring_rows):
    import mlflow.spark

    _, result = trained
    run = result["models"][name]
    model, factor = mlflow.spark.load_model(f"runs:/{run['run_id']}/model"), run["odds_factor"]
    logged = mlflow.artifacts.load_dict(f"runs:/{run['run_id']}/{PORTABLE_ARTIFACT}")  # what training logged
    # the calibration map travels in the portable document, the one of the run's calibration.json
    calibration = logged.pop("calibration")
    assert calibration == run_calibration(run["run_id"]) and calibration["method"] == "platt"
    scored = pd_column(model.transform(scoring_rows), factor, calibration=calibration)
    spark_pd = scored.select(features.KEY, "pd").toPandas()
    info = logged[
        "info"
    ]  # the features the model was fitted on, and those left out, are part of what was logged
    assert info["model_type"] == name and "fico_mid" in info["features_used"]
    assert logged == json.loads(json.dumps(export_pipeline(model, factor, **info)))
    portable = PortableModel({**logged, "calibration": calibration})
    frame = scoring_rows.toPandas()
    ours = dict(zip(frame[features.KEY], portable.predict_pd(frame), strict=True))
    theirs = spark_pd.set_index(features.KEY)["pd"]
    diff = np.abs(theirs.to_numpy() - np.array([ours[k] for k in theirs.index]))
    assert len(diff) == 10_000 and theirs.std() > 0.01
    assert diff.max() <= 1e-6, f"{name}: max |PD difference| {diff.max():.3g}"
    assert portable.model_kind == name


def test_portable_document_refuses_other_formats():
    with pytest.raises(ValueError, match="not a portable credit-risk model"):
        PortableModel({"format": "pickle", "stages": []})


TEXT_ODDITIES = [  # never null: gold's text is empty when missing (Spark's tokenizer fails on null)
    "",
    "   ",
    "  Borrower added on 04/15/10 > Paying off my CREDIT cards<br>and the car loan.  ",
    "Ünïcödé café résumé naïve 日本語 emoji 😀 x",
    "a b c dd ee_ff 12 345 --- don't stop-me now!!",
]


@pytest.mark.parametrize("name", ["logistic_regression", "gbt"])
def test_text_features_replay_within_1e6(name, gold):
    """Hashed word n-grams (tokenizer, NGram, HashingTF, IDF) replayed without Spark: the same PDs within 1e-6,
    on gold's own text and on odd text (empty, blank, markup, non-ASCII, punctuation)."""
    from pyspark.ml.feature import HashingTF
    from pyspark.sql import functions as F

    from credit_risk.model.text import term_index
    from credit_risk.pipeline.train_supervised import fit_model

    train = gold.where("issue_year <= 2016 and default_flag is not null").limit(2500)
    params = {"text_features": "64", "text_ngrams": "2", "gbt_max_iter": "5", "lr_max_iter": "30"}
    model, factor, _ = fit_model(name, train, params, seed=1)
    document = export_pipeline(model, factor)
    kinds = [s["kind"] for s in document["stages"]]
    assert {"tokenizer", "ngram", "hashing_tf", "idf"} <= set(kinds)
    rows = gold.select(features.KEY, *features.FEATURES, *features.TEXT).limit(1500)
    odd = rows.withColumn(features.KEY, F.concat(F.col(features.KEY), F.lit("-odd")))
    for i, c in enumerate(features.TEXT):
        pick = (F.abs(F.hash(features.KEY, F.lit(i))) % len(TEXT_ODDITIES)).cast("int")
        odd = odd.withColumn(c, F.array(*[F.lit(t).cast("string") for t in TEXT_ODDITIES])[pick])
    rows = rows.unionByName(odd).cache()
    theirs = (
        pd_column(model.transform(rows), factor).select(features.KEY, "pd").toPandas().set_index(features.KEY)
    )
    frame = rows.toPandas()
    ours = dict(zip(frame[features.KEY], PortableModel(document).predict_pd(frame), strict=True))
    diff = np.abs(theirs["pd"].to_numpy() - np.array([ours[k] for k in theirs.index]))
    assert len(diff) == 3000 and theirs["pd"].std() > 0.01
    assert diff.max() <= 1e-6, f"{name} with text: max |PD difference| {diff.max():.3g}"
    hashing = HashingTF(numFeatures=1 << 18)
    for term in ["car", "credit card", "日本語", "😀", "résumé", "abcdefg"]:  # every tail length of murmur3
        assert term_index(term, 1 << 18) == hashing.indexOf(term)
    rows.unpersist()

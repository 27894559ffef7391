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

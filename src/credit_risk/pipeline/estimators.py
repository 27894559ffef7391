"""The candidates' model stages and their hyper-parameters: what `train_supervised.fit_model` fits.

Defaults sized for a 2-core machine. The job passes the bundle variables of the same names (databricks.yml),
whose defaults a test keeps equal to HYPERPARAMETERS; these serve direct calls (tests, an interactive session).
LR and GBT defaults were chosen on the real cohort's 2008 validation loans (bench/RESULTS.md), not on test.
"""

from __future__ import annotations

from typing import Any

from pyspark.ml.classification import (
    GBTClassifier,
    LogisticRegression,
    MultilayerPerceptronClassifier,
    RandomForestClassifier,
)
from pyspark.sql import DataFrame

from credit_risk import features
from credit_risk.feature_screen import FeatureSet, screen
from credit_risk.weights import WEIGHT_COL

# The model stage `estimator` builds, one of the first four MODELS.
Classifier = LogisticRegression | RandomForestClassifier | GBTClassifier | MultilayerPerceptronClassifier

# The WoE scorecard is the fifth candidate, fitted by pipeline/scorecard.py.
MODELS = ("logistic_regression", "random_forest", "gbt", "mlp", "scorecard")


HYPERPARAMETERS = {
    "lr_max_iter": "100",
    "lr_reg_param": "0.03",
    "rf_num_trees": "40",
    "rf_max_depth": "6",
    "gbt_max_iter": "100",
    "gbt_max_depth": "3",
    "gbt_step_size": "0.05",
    "mlp_hidden": "16",
    "mlp_max_iter": "150",
    "scorecard_sample_rows": "50000",
    "scorecard_min_iv": "0.02",
    "scorecard_max_corr": "0.8",
    "scorecard_max_iter": "100",
    "scorecard_reg_param": "0.001",
    "text_features": "0",
    "text_ngrams": "2",
}
# The candidates that read the hashed n-grams of the application's text, when `text_features` (columns per text
# field and n-gram order) is above 0: those whose vector keeps sparse blocks (the MLP drops them, the scorecard
# bins tabular characteristics).
TEXT_MODELS = ("logistic_regression", "random_forest", "gbt")


def screen_inputs(train: DataFrame, params: dict[str, Any]) -> FeatureSet:
    """`screen` of the training rows, the text fields included when `text_features` asks for them."""
    wanted = int({**HYPERPARAMETERS, **params}["text_features"]) > 0
    return screen(train, text=[c for c in features.TEXT if c in train.columns] if wanted else ())


def estimator(name: str, params: dict[str, Any], n_features: int | None, seed: int) -> Classifier:
    """The model stage with its hyper-parameters: `params` over HYPERPARAMETERS (`n_features`: the MLP's input size)."""
    common: dict[str, Any] = {"featuresCol": "features", "labelCol": features.TARGET}
    params = {**HYPERPARAMETERS, **params}
    if name == "logistic_regression":
        return LogisticRegression(
            **common,
            weightCol=WEIGHT_COL,
            maxIter=int(params["lr_max_iter"]),
            regParam=float(params["lr_reg_param"]),
            elasticNetParam=0.0,
            standardization=False,  # the numbers arrive standardised, the one-hot block 0/1 (feature_stages)
        )
    if name == "random_forest":
        return RandomForestClassifier(
            **common,
            weightCol=WEIGHT_COL,
            numTrees=int(params["rf_num_trees"]),
            maxDepth=int(params["rf_max_depth"]),
            subsamplingRate=0.8,
            seed=seed,
        )
    if name == "gbt":
        return GBTClassifier(
            **common,
            weightCol=WEIGHT_COL,
            maxIter=int(params["gbt_max_iter"]),
            maxDepth=int(params["gbt_max_depth"]),
            stepSize=float(params["gbt_step_size"]),
            seed=seed,
        )
    if name == "mlp":
        if not n_features:
            raise ValueError("the MLP needs n_features, the size of its input vector")
        hidden = [int(h) for h in str(params["mlp_hidden"]).split(",") if h]
        return MultilayerPerceptronClassifier(
            **common,
            layers=[n_features, *hidden, 2],
            maxIter=int(params["mlp_max_iter"]),
            seed=seed,
            blockSize=128,
        )
    raise ValueError(f"unknown model {name!r}: choose from {MODELS}")

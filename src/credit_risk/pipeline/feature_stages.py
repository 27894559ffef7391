"""The feature pipeline every supervised model shares, built only from stock MLlib stages.

Median imputation, category indexes that keep unseen values and one-hot encoding, then the model's vector
(scaled where the model needs it): stock stages only, so the fitted pipeline exports for JVM-free serving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.ml import Pipeline, Transformer
from pyspark.ml.feature import Imputer, OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
from pyspark.sql import DataFrame

from credit_risk.feature_screen import ALL_FEATURES, FeatureSet

if TYPE_CHECKING:
    from pyspark.ml._typing import PipelineStage


def shared_stages(selected: FeatureSet = ALL_FEATURES) -> list[PipelineStage]:
    """The data-dependent stages every model shares: median imputation, then categories indexed (unseen values
    kept) and one-hot encoded. Only the features `selected` for this training set take part."""
    stages: list[PipelineStage] = []
    if selected.numeric:
        stages.append(
            Imputer(
                inputCols=selected.numeric,
                outputCols=[f"{c}__imp" for c in selected.numeric],
                strategy="median",
            )
        )
    if selected.categorical:
        indexed = [f"{c}__idx" for c in selected.categorical]
        stages += [
            StringIndexer(
                inputCols=selected.categorical,
                outputCols=indexed,
                handleInvalid="keep",
                stringOrderType="frequencyDesc",
            ),
            OneHotEncoder(
                inputCols=indexed,
                outputCols=[f"{c}__ohe" for c in selected.categorical],
                handleInvalid="keep",
            ),
        ]
    return stages


def assembly_stages(
    scale: bool, one_hot: bool = True, selected: FeatureSet = ALL_FEATURES
) -> list[PipelineStage]:
    """Assembly of the model's vector, then scaling where the model needs it.

    The MLP leaves the one-hot block out (`one_hot=False`): a few hundred sparse inputs starve a small
    network trained on a few thousand loans, while grade and sub_grade already shape int_rate.
    """
    inputs = [f"{c}__imp" for c in selected.numeric] + selected.flags
    inputs += [f"{c}__ohe" for c in selected.categorical] if one_hot else []
    stages: list[PipelineStage] = [
        VectorAssembler(
            inputCols=inputs, outputCol="assembled" if scale else "features", handleInvalid="keep"
        )
    ]
    if scale:
        stages.append(StandardScaler(inputCol="assembled", outputCol="features", withMean=True, withStd=True))
    return stages


def fit_shared_stages(train: DataFrame, selected: FeatureSet = ALL_FEATURES) -> list[Transformer]:
    """The data-dependent stages every model shares (medians, category indexes), fitted once per training set.

    Refitting them per model cost four passes of median and category counting over the training split.
    """
    return Pipeline(stages=shared_stages(selected)).fit(train).stages

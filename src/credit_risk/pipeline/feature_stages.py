"""The feature pipeline every supervised model shares, built only from stock MLlib stages.

Median imputation, category indexes that keep unseen values and one-hot encoding, then the model's vector
(scaled where the model needs it): stock stages only, so the fitted pipeline exports for JVM-free serving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.ml import Pipeline, Transformer
from pyspark.ml.feature import (
    IDF,
    HashingTF,
    Imputer,
    NGram,
    OneHotEncoder,
    RegexTokenizer,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)
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


# Words: runs of two or more ASCII letters, digits or _ (Java's \W is ASCII); terms in fewer loans weigh 0.
TEXT_PATTERN, TEXT_MIN_TOKEN, TEXT_MIN_DOC_FREQ = "\\W+", 2, 5


def text_outputs(fields: list[str], ngrams: int) -> list[str]:
    """The tf-idf vector columns of `text_stages`: one per field and n-gram order."""
    return [f"{c}__tfidf{n}" for c in fields for n in range(1, ngrams + 1)]


def text_stages(fields: list[str], buckets: int, ngrams: int) -> list[PipelineStage]:
    """Hashed word n-grams (1..`ngrams`) of each text field, `buckets` columns per field and order, tf-idf
    weighted: stock stages the portable scorer replays (credit_risk.model.text)."""
    stages: list[PipelineStage] = []
    for c in fields:
        stages.append(
            RegexTokenizer(
                inputCol=c,
                outputCol=f"{c}__words1",
                pattern=TEXT_PATTERN,
                gaps=True,
                minTokenLength=TEXT_MIN_TOKEN,
                toLowercase=True,
            )
        )
        for n in range(1, ngrams + 1):
            if n > 1:
                stages.append(NGram(n=n, inputCol=f"{c}__words1", outputCol=f"{c}__words{n}"))
            stages += [
                HashingTF(inputCol=f"{c}__words{n}", outputCol=f"{c}__tf{n}", numFeatures=buckets),
                IDF(inputCol=f"{c}__tf{n}", outputCol=f"{c}__tfidf{n}", minDocFreq=TEXT_MIN_DOC_FREQ),
            ]
    return stages


def assembly_stages(
    scale: bool, one_hot: bool = True, selected: FeatureSet = ALL_FEATURES, text: list[str] | None = None
) -> list[PipelineStage]:
    """Assembly of the model's vector, with the numbers (and flags) standardised where the model needs it.

    Only the numeric block is scaled; the one-hot block stays 0/1. Scaled one-hot columns (and LR's own
    standardisation) give a rare category a column of large values and so almost no L2 shrinkage: on the
    real 2007-2009 cohort that cost LR 0.02-0.03 validation AUC (bench/RESULTS.md). The MLP leaves the
    one-hot block out (`one_hot=False`): a few hundred sparse inputs starve a small network trained on a few
    thousand loans, while grade and sub_grade already shape int_rate.
    """
    numbers = [f"{c}__imp" for c in selected.numeric] + selected.flags
    categories = [f"{c}__ohe" for c in selected.categorical] if one_hot else []
    categories += text or []  # tf-idf vectors (`text_outputs`): left as they are, like the one-hot block
    if not scale or not numbers:
        return [VectorAssembler(inputCols=numbers + categories, outputCol="features", handleInvalid="keep")]
    scaled = "numbers_scaled" if categories else "features"
    stages: list[PipelineStage] = [
        VectorAssembler(inputCols=numbers, outputCol="numbers", handleInvalid="keep"),
        StandardScaler(inputCol="numbers", outputCol=scaled, withMean=True, withStd=True),
    ]
    if categories:
        stages.append(VectorAssembler(inputCols=[scaled, *categories], outputCol="features"))
    return stages


def fit_shared_stages(train: DataFrame, selected: FeatureSet = ALL_FEATURES) -> list[Transformer]:
    """The data-dependent stages every model shares (medians, category indexes), fitted once per training set.

    Refitting them per model cost four passes of median and category counting over the training split.
    """
    return Pipeline(stages=shared_stages(selected)).fit(train).stages

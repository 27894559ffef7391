"""Class weights for the rare default class: balanced weights n / (classes * n_class)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from credit_risk import features

WEIGHT_COL = "class_weight"


def compute_class_weights(df: DataFrame, label: str = features.TARGET) -> dict[int, float]:
    """{class: weight} so that each class carries the same total weight."""
    counts = {int(r[label]): r["count"] for r in df.groupBy(label).count().collect() if r[label] is not None}
    if len(counts) < 2:
        raise ValueError(f"{label} has a single class {sorted(counts)}: cannot weight or train a classifier")
    total = sum(counts.values())
    return {c: total / (len(counts) * n) for c, n in sorted(counts.items())}


def add_weight_column(
    df: DataFrame, weights: dict[int, float], label: str = features.TARGET, col: str = WEIGHT_COL
) -> DataFrame:
    """Attach each row's class weight (used through `weightCol`)."""
    expr = F.lit(None).cast("double")
    for cls, weight in weights.items():
        expr = F.when(F.col(label) == cls, F.lit(float(weight))).otherwise(expr)
    return df.withColumn(col, expr)

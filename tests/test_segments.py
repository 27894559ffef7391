"""The segment k search is stable: the same k and the same risk-ordered segments whatever the seed."""

from __future__ import annotations

import math

from pyspark.sql import functions as F

from credit_risk import features
from credit_risk.pipeline.segments import (
    GMM_BIC_TOL_PER_LOAN,
    KMEANS_SILHOUETTE_TOL,
    assign_segments,
    build_segments,
    smallest_within,
)

SEEDS = (1, 7, 23)


def test_smallest_k_within_the_tolerance_of_the_best():
    silhouettes = {2: 0.415, 3: 0.42, 4: 0.40}
    assert smallest_within(silhouettes, KMEANS_SILHOUETTE_TOL, higher_is_better=True) == 2
    assert smallest_within({2: 0.30, 3: 0.42, 4: 0.425}, 0.01, higher_is_better=True) == 3
    n = 1000  # BIC within 0.05 per loan of the lowest: 50 here
    bics = {2: 10_060.0, 3: 10_040.0, 4: 10_000.0, 5: math.nan}
    assert smallest_within(bics, GMM_BIC_TOL_PER_LOAN * n, higher_is_better=False) == 3


def test_k_and_segment_order_agree_across_seeds(gold):
    train = gold.where(f"{features.TARGET} IS NOT NULL").cache()
    built = {seed: build_segments(train, seed=seed, ks=range(2, 5)) for seed in SEEDS}
    for method in ("kmeans", "gmm"):
        ks = {seed: b[method]["k"] for seed, b in built.items()}
        assert len(set(ks.values())) == 1, (method, ks, {s: b[method]["scores"] for s, b in built.items()})
        # the same loans in the same segment number: the segments, and their default-rate order, agree
        assigned = [
            assign_segments({method: (b[method]["model"], b[method]["order"])}, train).select(
                features.KEY, F.col("segment").alias(f"s{seed}")
            )
            for seed, b in built.items()
        ]
        joined = assigned[0].join(assigned[1], features.KEY).join(assigned[2], features.KEY)
        row = joined.agg(
            F.avg((F.col("s1") == F.col("s7")).cast("double")).alias("a"),
            F.avg((F.col("s1") == F.col("s23")).cast("double")).alias("b"),
        ).head()
        assert row["a"] > 0.9 and row["b"] > 0.9, (method, row)
        rates = [[r["default_rate"] for r in b[method]["profile"].collect()] for b in built.values()]
        for other in rates[1:]:
            assert max(abs(x - y) for x, y in zip(rates[0], other, strict=True)) < 0.02, (method, rates)
    train.unpersist()

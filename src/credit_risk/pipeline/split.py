"""Splits of the modelling population: temporal (by vintage) or stratified (seeded, by hash).

Only loans with a final outcome (`default_flag` not null) enter. Both splits are deterministic: the same
gold version and seed always give the same rows (the stratified split orders rows by a seeded hash of the
loan id, not by a random draw). The result is one Delta table, `gold.loan_splits`, with a `split` column.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from credit_risk import features
from credit_risk.pipeline._upstream import upstream_version
from credit_risk.runtime.errors import pipeline_task
from credit_risk.tables import GOLD_FEATURES, GOLD_SPLITS

if TYPE_CHECKING:
    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils


def forward_folds(valid: DataFrame, folds: int) -> list[DataFrame]:
    """The validation loans cut into `folds` consecutive blocks by issue month, each close to an equal share.

    The blocks of a time-ordered (expanding-window) selection: fold j is scored on block j by a fit on train and
    blocks 1..j-1, so the last folds judge each model nearer the amount of data its refit will have. A month is
    never cut; with fewer months than folds there are fewer blocks.
    """
    if folds < 1:
        raise ValueError(f"selection_folds must be at least 1, not {folds}")
    month = F.date_trunc("month", F.col("issue_date"))
    counts = sorted((r[0], r[1]) for r in valid.groupBy(month).count().collect())
    total, seen = sum(n for _, n in counts), 0
    cuts: list[datetime] = []  # the first month of blocks 2..k
    for start, n in counts:
        if seen >= total * (len(cuts) + 1) / folds:
            cuts.append(start)
        seen += n
    starts: list[datetime | None] = [None, *cuts]
    ends: list[datetime | None] = [*cuts, None]
    blocks = []
    for start, end in zip(starts, ends, strict=True):
        in_block = F.lit(True)
        if start is not None:
            in_block &= month >= F.lit(start)
        if end is not None:
            in_block &= month < F.lit(end)
        blocks.append(valid.where(in_block))
    return blocks


def modelling_population(gold: DataFrame, min_vintage: int = 0) -> DataFrame:
    """Loans with a final outcome, issued in or after `min_vintage` (0 keeps every vintage)."""
    df = gold.where(F.col(features.TARGET).isNotNull())
    return df.where(F.col("issue_year") >= min_vintage) if min_vintage else df


def stratified_split(
    df: DataFrame, strat_cols: list[str], test_frac: float, seed: int
) -> tuple[DataFrame, DataFrame]:
    """(train, test): exactly round(test_frac * n) of every stratum's n loans in test, chosen by a seeded hash
    of the loan id (so the shares are exact per stratum, and the same seed gives the same rows)."""
    if not 0 < test_frac < 1:
        raise ValueError(f"test_frac must be between 0 and 1, not {test_frac}")
    stratum = Window.partitionBy(*strat_cols)
    order = stratum.orderBy(F.xxhash64(F.col(features.KEY), F.lit(seed)), features.KEY)
    ranked = df.withColumn("_rank", F.row_number().over(order)).withColumn(
        "_test", F.round(F.count(F.lit(1)).over(stratum) * F.lit(test_frac))
    )
    is_test = F.col("_rank") <= F.col("_test")
    return ranked.where(~is_test).drop("_rank", "_test"), ranked.where(is_test).drop("_rank", "_test")


def temporal_split(df: DataFrame, train_end_year: int, valid_year: int, test_end: str) -> DataFrame:
    """Label each loan train (<= train_end_year), valid (valid_year) or test (after, up to test_end, e.g. 2020Q1)."""
    if valid_year <= train_end_year:
        raise ValueError(f"valid_year {valid_year} must come after train_end_year {train_end_year}")
    end_year, _, end_q = test_end.partition("Q")
    end_key = int(end_year) * 10 + int(end_q or 4)
    quarter_key = F.col("issue_year") * 10 + F.quarter("issue_date")
    split = (
        F.when(F.col("issue_year") <= train_end_year, "train")
        .when(F.col("issue_year") == valid_year, "valid")
        .when((F.col("issue_year") > valid_year) & (quarter_key <= end_key), "test")
    )
    return df.withColumn("split", split).where(F.col("split").isNotNull())


def make_splits(gold: DataFrame, cfg: Config) -> DataFrame:
    """The configured split of the modelling population, as one frame with a `split` column."""
    population = modelling_population(gold, cfg.min_vintage)
    if cfg.split_kind == "temporal":
        return temporal_split(population, cfg.train_end_year, cfg.valid_year, cfg.test_end)
    if cfg.split_kind != "stratified":
        raise ValueError(f"split_kind must be temporal or stratified, not {cfg.split_kind!r}")
    strata = [features.TARGET, "issue_year"]
    # The design's 80/20 train/test (test_frac 0.2); validation is drawn from the 80 the same way (test_frac of
    # it, another seed), so train/valid/test are 64/16/20 with test_frac 0.2: train + valid is the 80.
    rest, test = stratified_split(population, strata, cfg.test_frac, cfg.seed)
    train, valid = stratified_split(rest, strata, cfg.test_frac, cfg.seed + 1)
    return (
        train.withColumn("split", F.lit("train"))
        .unionByName(valid.withColumn("split", F.lit("valid")))
        .unionByName(test.withColumn("split", F.lit("test")))
    )


@pipeline_task("split")
def run_split(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `split`: splits of the pinned gold version; publishes `splits_version` and `gold_version`."""
    from credit_risk.lake import get_lake

    lake = get_lake(cfg)
    gold_version = upstream_version(dbutils, lake, GOLD_FEATURES, "gold_features", "gold_version")
    splits = make_splits(lake.read(GOLD_FEATURES, version=gold_version), cfg)
    version = lake.write(
        splits,
        GOLD_SPLITS,
        partition_by=["split"],
        metadata={"gold_version": gold_version, "split_kind": cfg.split_kind, "seed": cfg.seed},
    )
    counts = {
        r["split"]: (r["n"], r["rate"])
        for r in lake.read(GOLD_SPLITS, version=version)
        .groupBy("split")
        .agg(F.count("*").alias("n"), F.avg(features.TARGET).alias("rate"))
        .collect()
    }
    missing = [s for s in ("train", "valid", "test") if not counts.get(s, (0,))[0]]
    if missing:
        raise ValueError(f"{cfg.split_kind} split left {missing} empty: check the years and min_vintage")
    dbutils.jobs.taskValues.set(key="splits_version", value=version)
    dbutils.jobs.taskValues.set(key="gold_version", value=gold_version)
    # The design's files at this split version: train.parquet is the fitting rows (train + valid, the 80 of a
    # stratified split; `split` says which), test.parquet the held-out test rows.
    processed, pinned = cfg.local_path("data/processed"), lake.read(GOLD_SPLITS, version=version)
    pinned.where("split != 'test'").write.mode("overwrite").parquet(str(processed / "train.parquet"))
    pinned.where("split = 'test'").write.mode("overwrite").parquet(str(processed / "test.parquet"))
    return {
        "splits_version": version,
        "gold_version": gold_version,
        "rows": {k: v[0] for k, v in counts.items()},
        "default_rate": {k: round(v[1], 4) for k, v in counts.items()},
    }

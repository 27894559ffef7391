"""Gold: origination-time features only, from the allow-list in `credit_risk.features`.

The select is built from the allow-list, so payment behaviour, hardship, settlement and `last_*` /
`next_*` fields cannot reach gold whatever silver holds. `emp_title` is reduced to its `top_k` most
frequent normalised titles on training vintages (lower case, punctuation and spaces folded), the rest
`other`, a missing title `missing`: readable for reason codes, bounded for one-hot encoding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from credit_risk import features
from credit_risk.pipeline._upstream import upstream_version
from credit_risk.runtime.errors import pipeline_task
from credit_risk.tables import GOLD_FEATURES, SILVER_LOANS

if TYPE_CHECKING:
    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils

TOP_K_TITLES = 50


def emp_title_normalised(col: str = "emp_title") -> Column:
    """`  Sr. Manager ` -> `sr manager`; empty -> null."""
    text = F.trim(F.regexp_replace(F.regexp_replace(F.lower(F.col(col)), r"[^a-z0-9]+", " "), r"\s+", " "))
    return F.when(text != "", text)


def top_titles(silver: DataFrame, train_end_year: int, k: int = TOP_K_TITLES) -> list[str]:
    """The k most frequent normalised titles among training vintages (ties by name, so it is stable)."""
    counts = (
        silver.where(F.col("issue_year") <= train_end_year)
        .select(emp_title_normalised().alias("t"))
        .where("t IS NOT NULL")
        .groupBy("t")
        .count()
        .orderBy(F.desc("count"), "t")
        .limit(k)
    )
    return [r["t"] for r in counts.collect()]


def application_text(col: str) -> Column:
    """A free-text field as models read it: LendingClub's `Borrower added on 04/15/10 >` stamps and `<br>`
    markup replaced by spaces, trimmed, empty (never null) when missing."""
    stripped = F.regexp_replace(
        F.col(col).cast("string"), r"Borrower added on \d\d/\d\d/\d\d >|<br\s*/?>", " "
    )
    return F.coalesce(F.trim(stripped), F.lit(""))


def build_features(silver: DataFrame, titles: list[str]) -> DataFrame:
    """Silver -> gold columns (key, vintage, target, allow-listed features); rows need an issue date."""
    num = lambda c: F.col(c).cast("double")  # noqa: E731
    income = F.when(num("annual_inc") > 0, num("annual_inc"))
    title = emp_title_normalised()
    application = F.lower(F.trim("application_type"))
    derived = {
        "fico_mid": (num("fico_range_low") + num("fico_range_high")) / 2,
        "loan_to_income": num("loan_amnt") / income,
        "installment_to_income": num("installment") * 12 / income,
        "credit_age_months": F.months_between("issue_date", "earliest_cr_line").cast("double"),
        "tot_cur_bal_missing": F.col("tot_cur_bal").isNull().cast("int"),
        "bc_util_missing": F.col("bc_util").isNull().cast("int"),
        "mo_sin_old_rev_tl_op_missing": F.col("mo_sin_old_rev_tl_op").isNull().cast("int"),
        "dti_invalid": F.coalesce(F.col("dti_invalid"), F.lit(0)).cast("int"),
        "emp_title_clean": F.when(title.isNull(), "missing")
        .when(title.isin(*titles), title)
        .otherwise("other"),
        "application_type": F.when(application.startswith("joint"), "Joint App").when(
            application.isNotNull(), "Individual"
        ),
        "home_ownership": F.upper(F.trim("home_ownership")),
    }
    columns = []
    for c in features.NUMERIC:
        columns.append((derived[c] if c in derived else num(c)).cast("double").alias(c))
    for c in features.MISSING_FLAGS:
        columns.append(derived[c].alias(c))
    for c in features.CATEGORICAL:
        columns.append((derived[c] if c in derived else F.trim(F.col(c))).cast("string").alias(c))
    for c in features.TEXT:
        columns.append(application_text(c).alias(c))
    gold = silver.where(F.col("issue_date").isNotNull()).select(
        F.col(features.KEY),
        *[F.col(c) for c in features.VINTAGE],
        F.col(features.TARGET).cast("int"),
        *columns,
    )
    features.check_allow_list(
        [c for c in gold.columns if c not in (features.KEY, features.TARGET, *features.VINTAGE)]
    )
    return gold


@pipeline_task("gold_features")
def run_gold(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `gold_features`: gold from the pinned silver version; publishes `gold_version`; exports M.parquet."""
    from credit_risk.lake import get_lake

    lake = get_lake(cfg)
    silver_version = upstream_version(dbutils, lake, SILVER_LOANS, "silver_clean", "silver_version")
    silver = lake.read(SILVER_LOANS, version=silver_version)
    titles = top_titles(silver, cfg.train_end_year)
    gold = build_features(silver, titles)
    version = lake.write(
        gold,
        GOLD_FEATURES,
        partition_by=["issue_year"],
        metadata={"silver_version": silver_version, "emp_title_top_k": titles},
    )
    written = lake.read(GOLD_FEATURES, version=version)
    processed = cfg.local_path("data/processed")
    written.write.mode("overwrite").parquet(str(processed / "M.parquet"))
    written.sample(fraction=0.1, seed=cfg.seed).write.mode("overwrite").parquet(
        str(processed / "sample_M.parquet")
    )
    dbutils.jobs.taskValues.set(key="gold_version", value=version)
    return {
        "gold_version": version,
        "silver_version": silver_version,
        "rows": written.count(),
        "columns": len(written.columns),
        "M.parquet": str(processed / "M.parquet"),
    }

"""Silver: typed, unit-normalised, de-duplicated loans with `default_flag` (pipeline/target.py) and vintage columns.

Whatever form a value arrived in (` 10.49%`, `10.49`, `0.1049`; ` 36 months` or `36`; `Dec-2011`,
`2011-12-01`), silver holds one unit: rates in percent, term in months, emp_length in years (0-10),
dates as dates. `dti` of 999 or below 0 is an error marker, and above 100 it is not a ratio a lender
would have approved: all are set to null with `dti_invalid` = 1.
Skewed amounts are winsorized with bounds computed on training vintages only (stored in
`silver.winsor_bounds`). Rows that cannot be typed go to `silver.loans_quarantine` with a reason.
The table is rebuilt from a pinned bronze version on every run, so it is idempotent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from credit_risk.pipeline._upstream import upstream_version
from credit_risk.pipeline.target import DEFAULTED, REPAID, with_default_flag
from credit_risk.raw_schema import KAGGLE, MONTH_COLUMNS
from credit_risk.runtime.errors import pipeline_task
from credit_risk.tables import BRONZE_LOANS, SILVER_LOANS, SILVER_QUARANTINE, SILVER_WINSOR_BOUNDS

if TYPE_CHECKING:
    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils

POLICY_PREFIX = "Does not meet the credit policy. Status:"
KNOWN_STATUSES = (
    DEFAULTED | REPAID | {"Current", "In Grace Period", "Late (16-30 days)", "Late (31-120 days)", "Issued"}
)
# fmt: off
TEXT = {
    "id", "member_id", "grade", "sub_grade", "emp_title", "home_ownership", "verification_status",
    "loan_status", "pymnt_plan", "url", "desc", "purpose", "title", "zip_code", "addr_state",
    "initial_list_status", "application_type", "verification_status_joint", "hardship_flag", "hardship_type",
    "hardship_reason", "hardship_status", "hardship_loan_status", "disbursement_method",
    "debt_settlement_flag", "settlement_status",
}
# fmt: on
DATES = set(MONTH_COLUMNS)
PERCENTS = ("int_rate", "revol_util")
SPECIAL = {"term", "emp_length", "dti", *PERCENTS}
NUMBERS = [c for c in KAGGLE if c not in TEXT | DATES | SPECIAL]
WINSORIZED = ["annual_inc", "revol_bal", "tot_cur_bal", "total_rev_hi_lim", "annual_inc_joint"]
DATE_FORMATS = ("MMM-yyyy", "yyyy-MM-dd", "yyyy-MM", "MMM-yy", "MM/dd/yyyy", "yyyy-MM-dd HH:mm:ss")


def parse_date(col: str) -> Column:
    """`Dec-2011`, `2011-12-01`, `2011-12`, `Dec-11`, `12/01/2011` -> the first day of that month's date."""
    text = F.trim(F.col(col))
    parsed = F.coalesce(*[F.try_to_timestamp(text, F.lit(fmt)) for fmt in DATE_FORMATS])
    return F.to_date(F.date_trunc("month", parsed))


def parse_number(col: str) -> Column:
    """A plain number, tolerating spaces and thousands separators; null when empty or not a number.

    No regex: the cast trims whitespace itself, and a regex replace per value of the ~110 number columns was
    half of silver's typing CPU (bench/RESULTS.md, "Raw to silver: profile"); `translate` only where a comma is.
    """
    text = F.col(col)
    return F.when(text.contains(","), F.translate(text, ",", "")).otherwise(text).try_cast("double")


def parse_percent(col: str, fractions: Column) -> Column:
    """` 10.49%` or `10.49` -> 10.49; `0.1049` -> 10.49 when the file writes rates as fractions."""
    has_sign = F.col(col).contains("%")
    value = F.when(has_sign, F.translate(F.col(col), "%", "")).otherwise(F.col(col)).try_cast("double")
    return F.when(fractions & ~has_sign, value * 100).otherwise(value)


def emp_length_years(col: str) -> Column:
    """`< 1 year` -> 0, `10+ years` -> 10, `3 years` -> 3, `n/a` or empty -> null."""
    text = F.trim(F.col(col))  # no lower(): neither `<` nor the digits have a case, and ICU lower costs
    return F.when(text.startswith("<"), F.lit(0)).otherwise(
        F.regexp_extract(text, r"(\d+)", 1).try_cast("int")
    )


def normalise_status(col: str) -> tuple[Column, Column]:
    """(status without the credit-policy prefix, 1 when the prefix was there)."""
    text = F.trim(F.regexp_replace(F.col(col), r"\s+", " "))
    policy = text.startswith(POLICY_PREFIX)
    return F.trim(F.regexp_replace(text, "^" + POLICY_PREFIX.replace(".", r"\."), "")), policy.cast("int")


def _dti_invalid(dti: Column) -> Column:
    return (dti > 100) | (dti < 0)


def _row_hash() -> Column:
    return F.sha2(F.concat_ws("\u0001", *[F.coalesce(F.col(c), F.lit("")) for c in KAGGLE]), 256)


def _with_rate_form(bronze: DataFrame) -> DataFrame:
    """Flag files that write rates as fractions (every int_rate <= 1), from a small per-file aggregate."""
    per_file = bronze.groupBy("source_file").agg(
        (F.max(F.translate("int_rate", "%", "").try_cast("double")) <= 1.0).alias("_fractions")
    )
    return bronze.join(F.broadcast(per_file), "source_file", "left")


def type_loans(bronze: DataFrame) -> DataFrame:
    """Bronze strings -> typed columns (all raw columns kept), plus loan_id, flags and vintage."""
    bronze = _with_rate_form(bronze)
    fractions = F.coalesce(F.col("_fractions"), F.lit(False))
    status, policy = normalise_status("loan_status")
    typed = {c: parse_number(c) for c in NUMBERS}
    typed.update({c: parse_date(c) for c in DATES})
    typed.update({c: F.trim(F.col(c)) for c in TEXT if c not in {"loan_status"}})
    typed.update({c: parse_percent(c, fractions) for c in PERCENTS})
    raw_dti = parse_number("dti")
    typed.update(
        {
            "term": F.regexp_extract(F.col("term"), r"(\d+)", 1).try_cast("int"),
            "emp_length": emp_length_years("emp_length"),
            "dti": F.when(_dti_invalid(raw_dti), None).otherwise(raw_dti),
            "loan_status": status,
        }
    )
    out = bronze.select(
        *[typed[c].alias(c) for c in KAGGLE],
        F.when(F.trim("id") != "", F.trim("id")).otherwise(_row_hash()).alias("loan_id"),
        F.coalesce(_dti_invalid(raw_dti), F.lit(False)).cast("int").alias("dti_invalid"),
        policy.alias("credit_policy_excluded"),
        F.col("loan_status").alias("_raw_status"),
        F.col("issue_d").alias("_raw_issue_d"),
        F.col("int_rate").alias("_raw_int_rate"),
        F.col("loan_amnt").alias("_raw_loan_amnt"),
        "_rescued",
        "source_file",
        "batch_id",
        "line_number",
        "ingested_at",
    )
    return (
        out.withColumns(
            {
                "issue_date": F.col("issue_d"),
                "issue_year": F.year("issue_d"),
                "issue_quarter": F.concat(
                    F.year("issue_d").cast("string"), F.lit("Q"), F.quarter("issue_d").cast("string")
                ),
            }
        )
        .withColumnRenamed("term", "term_months")
        .withColumnRenamed("emp_length", "emp_length_years")
    )


def quarantine_reason() -> Column:
    """Why a typed row cannot stay in silver (null when it can)."""
    return (
        F.when(
            F.col("loan_amnt").isNull(),
            F.concat(F.lit("loan_amnt not a number: "), F.coalesce("_raw_loan_amnt", F.lit("<empty>"))),
        )
        .when((F.col("loan_amnt") <= 0) | (F.col("loan_amnt") > 100_000), F.lit("loan_amnt out of range"))
        .when(
            F.col("_raw_issue_d").isNotNull() & (F.trim("_raw_issue_d") != "") & F.col("issue_d").isNull(),
            F.concat(F.lit("issue_d not a date: "), F.col("_raw_issue_d")),
        )
        .when(
            F.col("_raw_int_rate").isNotNull() & (F.trim("_raw_int_rate") != "") & F.col("int_rate").isNull(),
            F.concat(F.lit("int_rate not a number: "), F.col("_raw_int_rate")),
        )
        .when(
            F.col("loan_status").isNotNull() & ~F.col("loan_status").isin(*KNOWN_STATUSES),
            F.concat(F.lit("unknown loan_status: "), F.col("_raw_status")),
        )
    )


def deduplicate(df: DataFrame) -> DataFrame:
    """One row per loan_id: the most recently ingested one (then the latest file line).

    The ranking runs on the narrow key columns of duplicated ids only; the wide rows are never sorted.
    """
    keys = df.select("loan_id", "ingested_at", "source_file", "line_number")
    dupes = keys.groupBy("loan_id").count().where("count > 1").select("loan_id")
    order = Window.partitionBy("loan_id").orderBy(
        F.col("ingested_at").desc(), F.col("source_file").desc(), F.col("line_number").desc()
    )
    losers = (
        keys.join(dupes, "loan_id", "left_semi")
        .withColumn("_rank", F.row_number().over(order))
        .where("_rank > 1")
        .select("source_file", "line_number", "ingested_at")
    )
    return df.join(losers, ["source_file", "line_number", "ingested_at"], "left_anti")


def winsor_bounds(
    df: DataFrame, cols: list[str], lower: float, upper: float
) -> dict[str, tuple[float, float]]:
    """Quantile bounds per column (approximate, 0.1 % relative error), from `df` (the training vintages)."""
    present = [c for c in cols if c in df.columns]
    quantiles = df.approxQuantile(present, [lower, upper], 0.001) if present else []
    return {c: (q[0], q[1]) for c, q in zip(present, quantiles, strict=True) if q}


def winsorize(
    df: DataFrame,
    cols: list[str],
    lower: float = 0.01,
    upper: float = 0.99,
    bounds: dict[str, tuple[float, float]] | None = None,
) -> DataFrame:
    """Clip `cols` to their [lower, upper] quantiles; pass `bounds` computed on training vintages."""
    bounds = bounds if bounds is not None else winsor_bounds(df, cols, lower, upper)
    return df.withColumns(
        {
            c: F.when(F.col(c) < lo, lo).when(F.col(c) > hi, hi).otherwise(F.col(c))
            for c, (lo, hi) in bounds.items()
        }
    )  # nulls stay null


def build_silver(
    bronze: DataFrame,
    train_end_year: int,
    lower: float = 0.01,
    upper: float = 0.99,
    target_definition: str = "performance_window",
    performance_months: int = 24,
) -> tuple[DataFrame, DataFrame, dict[str, tuple[float, float]]]:
    """(silver, quarantine, winsor bounds): the whole bronze -> silver step as DataFrames.

    `target_definition` and `performance_months`: how `default_flag` is set (pipeline/target.py).
    """
    typed = type_loans(bronze).withColumn("_reason", quarantine_reason()).cache()
    good = with_default_flag(
        deduplicate(typed.where("_reason IS NULL")), target_definition, performance_months
    )
    bounds = winsor_bounds(good.where(F.col("issue_year") <= train_end_year), WINSORIZED, lower, upper)
    silver = winsorize(good, WINSORIZED, bounds=bounds).drop(
        "_reason", "_raw_status", "_raw_issue_d", "_raw_int_rate", "_raw_loan_amnt"
    )
    quarantine = typed.where("_reason IS NOT NULL").select(
        "source_file",
        "batch_id",
        "line_number",
        F.col("_reason").alias("reason"),
        F.to_json(
            F.struct(
                F.col("_raw_loan_amnt").alias("loan_amnt"),
                F.col("_raw_issue_d").alias("issue_d"),
                F.col("_raw_int_rate").alias("int_rate"),
                F.col("_raw_status").alias("loan_status"),
            )
        ).alias("raw_values"),
    )
    return silver, quarantine, bounds


@pipeline_task("silver_clean")
def run_silver(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `silver_clean`: silver from the pinned bronze version; publishes `silver_version`."""
    from credit_risk.lake import get_lake
    from credit_risk.runtime.spark import get_spark

    lake = get_lake(cfg)
    bronze_version = upstream_version(dbutils, lake, BRONZE_LOANS, "bronze_ingest", "bronze_version")
    silver, quarantine, bounds = build_silver(
        lake.read(BRONZE_LOANS, version=bronze_version),
        cfg.train_end_year,
        target_definition=cfg.target_definition,
        performance_months=cfg.performance_months,
    )
    meta = {"bronze_version": bronze_version}
    version = lake.write(silver, SILVER_LOANS, partition_by=["issue_year"], metadata=meta)
    q_version = lake.write(quarantine, SILVER_QUARANTINE, metadata=meta)
    spark = get_spark()
    rows = [(c, lo, hi, cfg.train_end_year, version) for c, (lo, hi) in bounds.items()]
    lake.write(
        spark.createDataFrame(
            rows, "column string, lower double, upper double, train_end_year int, silver_version long"
        ),
        SILVER_WINSOR_BOUNDS,
        metadata=meta,
    )
    dbutils.jobs.taskValues.set(key="silver_version", value=version)
    result = {
        "silver_version": version,
        "quarantine_version": q_version,
        "bronze_version": bronze_version,
        "rows": lake.read(SILVER_LOANS, version=version).count(),
        "quarantined": lake.read(SILVER_QUARANTINE, version=q_version).count(),
        "winsor_bounds": bounds,
    }
    return result

"""The default flag: what counts as a default, and for which loans the outcome is known yet.

`performance_window` (the default): `default_flag` is 1 when the loan defaulted within
`performance_months` of issue, 0 when it did not, and null while that window is still open at the
export's as-of date. Every loan of a vintage is labelled, or none is, so young vintages do not keep only
their early defaults and early payoffs. A defaulted loan's default date is its charge-off, five months
after its last payment (LendingClub charges off at 150 days past due), or after issue if nothing was paid.
The cost: the newest `performance_months` of vintages have no labels at all.

`final_status`: 1 for Charged Off / Default, 0 for Fully Paid, null for loans still running. Every
finished loan counts, but a young vintage's finished loans are its early defaults and early payoffs,
which biases the default rate of recent vintages (and any model calibrated on them) upwards.

Silver keeps both flags (`final_status_flag` beside `default_flag`) and the `as_of_date` of each file.
docs/target.md has the trade-off with figures.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

DEFAULTED = {"Charged Off", "Default"}
REPAID = {"Fully Paid"}
DEFINITIONS = ("performance_window", "final_status")
CHARGE_OFF_MONTHS = 5  # from the last payment to the charge-off (150 days past due)


def final_status_flag(status: str = "loan_status") -> Column:
    """1 for a defaulted loan, 0 for a repaid one, null for one still running."""
    return F.when(F.col(status).isin(*DEFAULTED), 1).when(F.col(status).isin(*REPAID), 0).cast("int")


def as_of_dates(df: DataFrame) -> DataFrame:
    """(source_file, as_of_date): the latest month any loan in the file records, the date of its export."""
    latest = F.greatest("issue_date", "last_pymnt_d", "last_credit_pull_d")
    return df.groupBy("source_file").agg(F.max(latest).alias("as_of_date"))


def performance_flag(performance_months: int) -> Column:
    """1: defaulted within the window; 0: did not; null: window still open at `as_of_date`."""
    window_end = F.add_months("issue_date", performance_months)
    default_date = F.add_months(F.coalesce("last_pymnt_d", "issue_date"), CHARGE_OFF_MONTHS)
    return (
        F.when(F.col("issue_date").isNull() | (F.col("as_of_date") < window_end), None)
        .when(F.col("loan_status").isin(*DEFAULTED) & (default_date <= window_end), 1)
        .otherwise(0)
        .cast("int")
    )


def with_default_flag(df: DataFrame, definition: str, performance_months: int) -> DataFrame:
    """`df` (typed loans) with `default_flag` by `definition`, `final_status_flag` and `as_of_date`."""
    if definition not in DEFINITIONS:
        raise ValueError(f"target_definition must be one of {', '.join(DEFINITIONS)}, not {definition!r}")
    if performance_months < 1:
        raise ValueError(f"performance_months must be at least 1, not {performance_months}")
    out = df.join(F.broadcast(as_of_dates(df)), "source_file", "left").withColumn(
        "final_status_flag", final_status_flag()
    )
    flag = (
        F.col("final_status_flag") if definition == "final_status" else performance_flag(performance_months)
    )
    return out.withColumn("default_flag", flag)


def describe_target(definition: str, performance_months: int) -> str:
    """The definition in one sentence, for run tags, the report and the model card."""
    if definition == "final_status":
        return (
            "default_flag = 1 for Charged Off / Default, 0 for Fully Paid; loans still running are excluded"
        )
    return (
        f"default_flag = 1 if the loan was charged off within {performance_months} months of issue, else 0; "
        f"loans issued less than {performance_months} months before their export's as-of date are excluded"
    )

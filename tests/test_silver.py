"""Silver typing, units, flags, de-duplication, winsorizing and quarantine, on hand-made bronze rows.

All cases go through one `build_silver` call (one Spark job), each case a row with its own id.
"""

from __future__ import annotations

import datetime as dt

import pytest
from etl_helpers import bronze_frame
from pyspark.sql import functions as F

from credit_risk.pipeline.silver import build_silver, winsor_bounds, winsorize

CASES = {
    "pct": {"int_rate": " 10.49%"},
    "plain": {"int_rate": "10.49"},
    "whole_pct": {"int_rate": "7%"},
    "iso": {"issue_d": "2011-12-01"},
    "ym": {"issue_d": "2011-12"},
    "short_year": {"issue_d": "Dec-11"},
    "lt1": {"emp_length": "< 1 year"},
    "ten": {"emp_length": "10+ years"},
    "na": {"emp_length": "n/a"},
    "dti999": {"dti": "999"},
    "dti_neg": {"dti": "-1"},
    "dti_big": {"dti": "250"},
    "charged": {"loan_status": "Charged Off"},
    "default": {"loan_status": "Default"},
    "current": {"loan_status": "Current"},
    "late": {"loan_status": "Late (31-120 days)"},
    "policy_co": {"loan_status": "Does not meet the credit policy. Status:Charged Off"},
    "policy_fp": {"loan_status": "Does not meet the credit policy. Status:Fully Paid"},
    "term60": {"term": " 60 months"},
    "term_num": {"term": "36"},
    "bad_amount": {"loan_amnt": "lots"},
    "bad_date": {"issue_d": "someday"},
    "bad_rate": {"int_rate": "x%"},
    "bad_status": {"loan_status": "Paid-ish"},
    "dup_a": {"loan_amnt": "5000"},
    "dup_b": {"loan_amnt": "6000"},
}


@pytest.fixture(scope="module")
def built(spark):
    rows = [{"id": name if not name.startswith("dup") else "dup", **raw} for name, raw in CASES.items()]
    rows += [{"id": "", "emp_title": "same"}, {"id": "", "emp_title": "same"}]  # identical id-less rows
    silver, quarantine, bounds = build_silver(bronze_frame(spark, rows), train_end_year=2017)
    return {r["loan_id"]: r for r in silver.collect()}, quarantine.collect(), bounds


def test_int_rate_in_percent_whatever_the_form(built):
    rows, _, _ = built
    assert [rows[k]["int_rate"] for k in ("pct", "plain", "whole_pct")] == pytest.approx([10.49, 10.49, 7.0])


def test_fractions_are_detected_per_file(spark):
    silver, _, _ = build_silver(
        bronze_frame(
            spark,
            [{"int_rate": "0.1049", "revol_util": "0.5"}, {"int_rate": "0.2", "revol_util": "0.25"}],
            "retyped.csv",
        ),
        2017,
    )
    rows = sorted((r["int_rate"], r["revol_util"]) for r in silver.collect())
    assert rows == [pytest.approx((10.49, 50.0)), pytest.approx((20.0, 25.0))]


def test_dates_and_vintage_columns(built):
    rows, _, _ = built
    assert rows["plain"]["issue_date"] == dt.date(2016, 9, 1)  # `Sep-2016`
    for key in ("iso", "ym", "short_year"):
        assert rows[key]["issue_date"] == dt.date(2011, 12, 1), key
    assert (rows["iso"]["issue_year"], rows["iso"]["issue_quarter"]) == (2011, "2011Q4")
    assert rows["plain"]["earliest_cr_line"] == dt.date(1998, 8, 1)


def test_emp_length_years(built):
    rows, _, _ = built
    assert [rows[k]["emp_length_years"] for k in ("lt1", "ten", "na", "plain")] == [0, 10, None, 3]


def test_dti_markers_become_null_with_a_flag(built):
    rows, _, _ = built
    assert (rows["plain"]["dti"], rows["plain"]["dti_invalid"]) == (15.5, 0)
    for key in ("dti999", "dti_neg", "dti_big"):
        assert (rows[key]["dti"], rows[key]["dti_invalid"]) == (None, 1), key


def test_default_flag_and_credit_policy(spark):
    """final_status: the loan's status as the export has it (the seed's flag)."""
    keys = ("plain", "charged", "default", "current", "late", "policy_co", "policy_fp")
    silver, _, _ = build_silver(
        bronze_frame(spark, [{"id": k, **CASES[k]} for k in keys]), 2017, target_definition="final_status"
    )
    rows = {r["loan_id"]: r for r in silver.collect()}
    expected = {
        "plain": (0, 0),
        "charged": (1, 0),
        "default": (1, 0),
        "current": (None, 0),
        "late": (None, 0),
        "policy_co": (1, 1),
        "policy_fp": (0, 1),
    }
    assert {k: (rows[k]["default_flag"], rows[k]["credit_policy_excluded"]) for k in expected} == expected
    assert rows["policy_co"]["loan_status"] == "Charged Off"


def test_performance_window_flag(spark):
    """Defaulted within 24 months of issue: 1; later, repaid or still paying after the window: 0;
    window still open at the file's as-of date (its latest recorded month): excluded, defaults included."""
    cases = {
        "early_default": {"issue_d": "Jan-2016", "loan_status": "Charged Off", "last_pymnt_d": "Jun-2016"},
        "late_default": {"issue_d": "Jan-2016", "loan_status": "Charged Off", "last_pymnt_d": "Jun-2018"},
        "nothing_paid": {"issue_d": "Jan-2016", "loan_status": "Charged Off", "last_pymnt_d": ""},
        "repaid": {"issue_d": "Jan-2016", "loan_status": "Fully Paid", "last_pymnt_d": "Mar-2017"},
        "current": {"issue_d": "Jan-2016", "loan_status": "Current", "last_pymnt_d": "Sep-2019"},
        "young_default": {"issue_d": "Jan-2019", "loan_status": "Charged Off", "last_pymnt_d": "Mar-2019"},
        "young_repaid": {"issue_d": "Jan-2019", "loan_status": "Fully Paid", "last_pymnt_d": "Jun-2019"},
    }
    silver, _, _ = build_silver(bronze_frame(spark, [{"id": k, **v} for k, v in cases.items()]), 2017)
    rows = {r["loan_id"]: r for r in silver.collect()}
    assert {k: rows[k]["default_flag"] for k in cases} == {
        "early_default": 1,
        "late_default": 0,
        "nothing_paid": 1,
        "repaid": 0,
        "current": 0,
        "young_default": None,
        "young_repaid": None,
    }
    assert {r["as_of_date"] for r in rows.values()} == {dt.date(2019, 9, 1)}
    assert rows["late_default"]["final_status_flag"] == 1 and rows["young_repaid"]["final_status_flag"] == 0
    with pytest.raises(ValueError, match="target_definition"):
        build_silver(bronze_frame(spark, [{}]), 2017, target_definition="charged_off")


def test_term_months(built):
    rows, _, _ = built
    assert (rows["term60"]["term_months"], rows["term_num"]["term_months"]) == (60, 36)


def test_duplicates_removed_by_id_or_row_hash(built):
    rows, _, _ = built
    assert rows["dup"]["loan_amnt"] == 6000.0  # the later line of the same id wins
    hashed = [k for k in rows if len(k) == 64]
    assert len(hashed) == 1  # two identical id-less rows share one row hash


def test_untypable_rows_go_to_quarantine_with_a_reason(built):
    rows, quarantine, _ = built
    assert not {"bad_amount", "bad_date", "bad_rate", "bad_status"} & set(rows)
    reasons = sorted(r["reason"] for r in quarantine)
    assert len(reasons) == 4
    assert reasons[0].startswith("int_rate not a number: x%") and "issue_d not a date: someday" in reasons
    assert "loan_amnt not a number: lots" in reasons and "unknown loan_status: Paid-ish" in reasons


def test_winsorize_bounds_come_from_training_vintages_only(spark):
    rows = [{"annual_inc": str(v), "issue_d": "Jan-2015"} for v in range(1000, 101000, 1000)]
    rows += [{"annual_inc": "9000000", "issue_d": "Jan-2019"}]  # an outlier in a test vintage
    silver, _, bounds = build_silver(bronze_frame(spark, rows), train_end_year=2017)
    low, high = bounds["annual_inc"]
    assert 1000 <= low <= 3000 and 97000 <= high <= 100000
    assert silver.agg(F.max("annual_inc")).first()[0] == pytest.approx(high)
    df = spark.createDataFrame([(float(v),) for v in range(101)], "x double")
    assert winsor_bounds(df, ["x"], 0.1, 0.9)["x"] == (10.0, 90.0)
    assert [r["x"] for r in winsorize(df, ["x"], 0.1, 0.9).orderBy("x").collect()][::50] == [10.0, 50.0, 90.0]

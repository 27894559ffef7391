"""Gold holds origination-time features only, with the derived features computed as documented."""

from __future__ import annotations

import datetime as dt

import pytest
from etl_helpers import bronze_frame
from pyspark.sql import functions as F

from credit_risk import features
from credit_risk.pipeline.gold import build_features, emp_title_normalised, top_titles
from credit_risk.pipeline.silver import build_silver


@pytest.fixture(scope="module")
def silver(spark):
    rows = [
        {
            "emp_title": "  Sr. Teacher ",
            "annual_inc": "50000",
            "loan_amnt": "10000",
            "installment": "400",
            "issue_d": "Jan-2016",
            "earliest_cr_line": "Jan-2006",
        },
        {
            "emp_title": "SR TEACHER",
            "issue_d": "Jan-2015",
            "desc": "  Borrower added on 04/15/10 > Car loan<br>",
        },
        {"emp_title": "Pilot", "issue_d": "Jan-2015"},
        {"emp_title": None, "issue_d": "Jan-2019", "tot_cur_bal": None, "loan_status": "Current"},
        {"issue_d": ""},
    ]
    frame, _, _ = build_silver(bronze_frame(spark, rows), train_end_year=2017)
    return frame


def test_columns_are_exactly_the_allow_list(silver):
    gold = build_features(silver, ["sr teacher"])
    assert gold.columns == [
        features.KEY,
        *features.VINTAGE,
        features.TARGET,
        *features.FEATURES,
        *features.TEXT,
    ]


def test_application_text_is_stripped_of_markup_and_never_null(silver):
    """The text models read: LendingClub's date stamps and <br> gone, empty where the borrower wrote nothing."""
    rows = build_features(silver, []).select(*features.TEXT).collect()
    assert "Car loan" in [r["desc"] for r in rows]
    assert all(
        r[c] is not None and "<br>" not in r[c] and "Borrower added" not in r[c]
        for r in rows
        for c in features.TEXT
    )
    assert "sr teacher" in [r["emp_title"].lower() for r in rows]


def test_no_post_origination_column_reaches_gold(silver):
    """Every post-origination column is present upstream, with values; none comes through."""
    leaky = silver.withColumns({c: F.lit(1.0) for c in features.POST_ORIGINATION if c != "loan_status"})
    gold = build_features(leaky, [])
    assert not set(features.POST_ORIGINATION) & set(gold.columns)
    assert not [c for c in gold.columns if features.is_post_origination(c)]
    with pytest.raises(ValueError, match="post-origination"):
        features.check_allow_list([*features.FEATURES, "total_rec_prncp"])


def test_derived_features(silver):
    rows = build_features(silver, ["sr teacher"]).collect()
    gold = {r["emp_title_clean"]: r for r in rows}
    row = next(r for r in rows if r["loan_id"] == "1")
    assert row["loan_to_income"] == pytest.approx(0.2)
    assert row["installment_to_income"] == pytest.approx(400 * 12 / 50000)
    assert row["credit_age_months"] == 120 and row["fico_mid"] == 702.0
    assert row["issue_date"] == dt.date(2016, 1, 1) and row["tot_cur_bal_missing"] == 0
    assert set(gold) == {"sr teacher", "other", "missing"}
    assert gold["missing"]["tot_cur_bal_missing"] == 1 and gold["missing"]["default_flag"] is None


def test_rows_without_issue_date_are_left_out(silver):
    assert silver.count() == 5 and build_features(silver, []).count() == 4


def test_top_titles_use_training_vintages(spark, silver):
    assert top_titles(silver, 2017, k=1) == ["sr teacher"]  # two spellings of the same title
    assert top_titles(silver, 2014, k=5) == []
    df = spark.createDataFrame([("  Sr. Manager ",), ("",)], "emp_title string")
    assert [r[0] for r in df.select(emp_title_normalised()).collect()] == ["sr manager", None]

"""Small builders for ETL tests: bronze-shaped rows without going through files."""

from __future__ import annotations

import datetime as dt

from credit_risk.raw_schema import KAGGLE

BASE = {
    "id": "1",
    "loan_amnt": "10000.0",
    "funded_amnt": "10000.0",
    "term": " 36 months",
    "int_rate": "10.49",
    "installment": "325.0",
    "grade": "B",
    "sub_grade": "B3",
    "emp_title": "Teacher",
    "emp_length": "3 years",
    "home_ownership": "RENT",
    "annual_inc": "60000.0",
    "verification_status": "Verified",
    "issue_d": "Sep-2016",
    "loan_status": "Fully Paid",
    "purpose": "credit_card",
    "addr_state": "CA",
    "dti": "15.5",
    "earliest_cr_line": "Aug-1998",
    "fico_range_low": "700.0",
    "fico_range_high": "704.0",
    "revol_util": "45.0",
    "application_type": "Individual",
    "initial_list_status": "w",
    "tot_cur_bal": "50000.0",
    "total_rev_hi_lim": "20000.0",
    "mo_sin_old_rev_tl_op": "200.0",
    "total_pymnt": "11000.0",
    "recoveries": "0.0",
    "last_pymnt_d": "Sep-2019",
}


def bronze_frame(spark, rows: list[dict[str, str]], source_file: str = "test.csv"):
    """A bronze DataFrame: the canonical string columns plus metadata, from partial row dicts."""
    records = []
    for i, overrides in enumerate(rows):
        row = {**BASE, "id": str(i + 1), **overrides}
        records.append(
            tuple(row.get(c) for c in KAGGLE)
            + (None, i + 2, source_file, "sha", "batch", dt.datetime(2024, 1, 1))
        )
    schema = ", ".join(f"`{c}` string" for c in KAGGLE) + (
        ", _rescued string, line_number long, source_file string, source_sha256 string, batch_id string, ingested_at timestamp"
    )
    return spark.createDataFrame(records, schema)

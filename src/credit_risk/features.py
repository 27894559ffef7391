"""Origination-time features: the allow-list that gold, training and serving share.

A column reaches a model only if it is named here. Everything LendingClub learns after the loan is
issued (payments, recoveries, hardship, settlement, `last_*` / `next_*` fields) is listed in
`POST_ORIGINATION` and can never be added to the allow-list: `check_allow_list()` enforces it.
"""

from __future__ import annotations

# Keys and outcome carried through gold (never model inputs).
KEY = "loan_id"
TARGET = "default_flag"
VINTAGE = ["issue_date", "issue_year", "issue_quarter"]

# Numeric inputs: loan terms, applicant, credit history, co-applicant; then derived features.
NUMERIC = [
    # loan terms
    "loan_amnt",
    "term_months",
    "int_rate",
    "installment",
    # applicant and employment
    "annual_inc",
    "emp_length_years",
    "dti",
    # credit history at application
    "fico_mid",
    "delinq_2yrs",
    "inq_last_6mths",
    "open_acc",
    "pub_rec",
    "revol_bal",
    "revol_util",
    "total_acc",
    "mort_acc",
    "pub_rec_bankruptcies",
    "mths_since_last_delinq",
    # bureau attributes LendingClub added from 2012 on (missing before: see the *_missing flags)
    "tot_cur_bal",
    "total_rev_hi_lim",
    "bc_util",
    "num_actv_rev_tl",
    "acc_open_past_24mths",
    "mo_sin_old_rev_tl_op",
    "percent_bc_gt_75",
    # co-applicant (joint applications, from late 2015)
    "annual_inc_joint",
    "dti_joint",
    # derived
    "loan_to_income",
    "installment_to_income",
    "credit_age_months",
]

# Indicators for fields that only exist from 2012 (or 2015 for joint applications): 1 when missing.
MISSING_FLAGS = ["tot_cur_bal_missing", "bc_util_missing", "mo_sin_old_rev_tl_op_missing", "dti_invalid"]

# fmt: off
CATEGORICAL = [
    "grade", "sub_grade", "home_ownership", "verification_status", "purpose", "addr_state",
    "application_type", "initial_list_status", "emp_title_clean",
]
# fmt: on

FEATURES = NUMERIC + MISSING_FLAGS + CATEGORICAL

# Free text the borrower wrote on the application (desc until 2013), as gold carries it: markup stripped, empty
# when missing. Models read it only as hashed word n-grams, and only when `text_features` is set.
TEXT = ["desc", "title", "emp_title"]

# Raw columns known only after origination: they describe the outcome and would leak it.
# fmt: off
POST_ORIGINATION = [
    "loan_status", "out_prncp", "out_prncp_inv", "total_pymnt", "total_pymnt_inv", "total_rec_prncp",
    "total_rec_int", "total_rec_late_fee", "recoveries", "collection_recovery_fee", "last_pymnt_d",
    "last_pymnt_amnt", "next_pymnt_d", "last_credit_pull_d", "last_fico_range_high", "last_fico_range_low",
    "pymnt_plan", "funded_amnt_inv", "hardship_flag", "hardship_type", "hardship_reason", "hardship_status",
    "deferral_term", "hardship_amount", "hardship_start_date", "hardship_end_date",
    "payment_plan_start_date", "hardship_length", "hardship_dpd", "hardship_loan_status",
    "orig_projected_additional_accrued_interest", "hardship_payoff_balance_amount",
    "hardship_last_payment_amount", "debt_settlement_flag", "debt_settlement_flag_date", "settlement_status",
    "settlement_date", "settlement_amount", "settlement_percentage", "settlement_term",
    "collections_12_mths_ex_med",
]
# fmt: on


def is_post_origination(column: str) -> bool:
    """True for outcome-time columns, including any `last_*` / `next_*` / `hardship_*` / `settlement_*` name."""
    prefixes = ("last_", "next_", "hardship_", "settlement_", "total_rec_", "total_pymnt", "recoveries")
    return column in POST_ORIGINATION or column.startswith(prefixes)


def check_allow_list(columns: list[str]) -> None:
    """Refuse any post-origination column among model inputs (raises ValueError naming them)."""
    leaking = sorted(c for c in columns if is_post_origination(c))
    if leaking:
        raise ValueError(f"post-origination columns would leak the outcome: {leaking}")


check_allow_list(FEATURES + TEXT)

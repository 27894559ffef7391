"""The loan application the API accepts: origination fields only, typed, with LendingClub's ranges and enums.

Unknown fields are rejected (422 naming them), not ignored: a misspelt `anual_inc` silently dropped would be
scored as a missing income. Derived model inputs (loan-to-income, instalment-to-income, the missing-value
flags, the cleaned employment title) are computed here exactly as gold computes them, so a client sends
what an application form holds.
"""

from __future__ import annotations

import re
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from credit_risk import features

Count = Field(default=None, ge=0, le=1000)


class LoanApplication(BaseModel):
    """One application at origination. Rates and utilisations in percent; amounts in USD; income yearly."""

    model_config = ConfigDict(extra="forbid")

    loan_id: str | None = Field(default=None, max_length=64, description="Caller's reference, echoed back")
    loan_amnt: float = Field(gt=0, le=100_000)
    term_months: Literal[36, 60]
    int_rate: float = Field(ge=0, le=40, description="Interest rate, percent")
    installment: float = Field(gt=0, le=10_000)
    grade: Literal["A", "B", "C", "D", "E", "F", "G"]
    sub_grade: str = Field(pattern=r"^[A-G][1-5]$")
    annual_inc: float | None = Field(default=None, ge=0, le=100_000_000)
    emp_length_years: float | None = Field(default=None, ge=0, le=10)
    emp_title: str | None = Field(default=None, max_length=200)
    home_ownership: Literal["RENT", "OWN", "MORTGAGE", "OTHER", "NONE", "ANY"] | None = None
    verification_status: Literal["Not Verified", "Source Verified", "Verified"] | None = None
    purpose: str | None = Field(default=None, pattern=r"^[a-z_]{1,40}$")
    addr_state: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    application_type: Literal["Individual", "Joint App"] = "Individual"
    initial_list_status: Literal["w", "f"] | None = None
    dti: float | None = Field(default=None, ge=-1, le=999, description="Debt-to-income, percent; 999 or >100 is "
                              "LendingClub's invalid marker and is treated as in silver (null + dti_invalid)")
    fico_mid: float | None = Field(default=None, ge=300, le=850)
    delinq_2yrs: float | None = Count
    inq_last_6mths: float | None = Count
    open_acc: float | None = Count
    pub_rec: float | None = Count
    revol_bal: float | None = Field(default=None, ge=0, le=100_000_000)
    revol_util: float | None = Field(default=None, ge=0, le=1000)
    total_acc: float | None = Count
    mort_acc: float | None = Count
    pub_rec_bankruptcies: float | None = Count
    mths_since_last_delinq: float | None = Count
    tot_cur_bal: float | None = Field(default=None, ge=0, le=100_000_000)
    total_rev_hi_lim: float | None = Field(default=None, ge=0, le=100_000_000)
    bc_util: float | None = Field(default=None, ge=0, le=1000)
    num_actv_rev_tl: float | None = Count
    acc_open_past_24mths: float | None = Count
    mo_sin_old_rev_tl_op: float | None = Field(default=None, ge=0, le=1200)
    percent_bc_gt_75: float | None = Field(default=None, ge=0, le=100)
    annual_inc_joint: float | None = Field(default=None, ge=0, le=100_000_000)
    dti_joint: float | None = Field(default=None, ge=0, le=999)
    credit_age_months: float | None = Field(default=None, ge=0, le=1200, description="Months since the earliest credit line")


INPUT_FIELDS = [f for f in LoanApplication.model_fields if f != "loan_id"]
DERIVED = ["loan_to_income", "installment_to_income", *features.MISSING_FLAGS, "emp_title_clean"]


def normalise_title(title: str | None) -> str | None:
    """As gold's `emp_title_normalised`: lower case, non-alphanumerics folded to one space; empty -> None."""
    if title is None:
        return None
    text = re.sub(r"\s+", " ", re.sub(r"[^a-z0-9]+", " ", title.lower())).strip()
    return text or None


def to_features(records: list[dict], known_titles: list[str]) -> pd.DataFrame:
    """Application records (already validated) -> the gold feature frame the model was trained on."""
    frame = pd.DataFrame.from_records(records, columns=["loan_id", *INPUT_FIELDS])
    numeric = [c for c in INPUT_FIELDS if c in features.NUMERIC]
    out = frame[numeric].apply(pd.to_numeric, errors="coerce").astype("float64")
    dti = out["dti"]
    invalid = (dti > 100) | (dti < 0)
    out["dti"] = dti.where(~invalid)
    income = out["annual_inc"].where(out["annual_inc"] > 0)
    out["loan_to_income"] = out["loan_amnt"] / income
    out["installment_to_income"] = out["installment"] * 12 / income
    out["tot_cur_bal_missing"] = out["tot_cur_bal"].isna().astype("int32")
    out["bc_util_missing"] = out["bc_util"].isna().astype("int32")
    out["mo_sin_old_rev_tl_op_missing"] = out["mo_sin_old_rev_tl_op"].isna().astype("int32")
    out["dti_invalid"] = invalid.astype("int32")
    known = set(known_titles)
    titles = [normalise_title(t) for t in frame["emp_title"]]
    out["emp_title_clean"] = ["missing" if t is None else t if t in known else "other" for t in titles]
    for c in features.CATEGORICAL:
        if c != "emp_title_clean":
            out[c] = frame[c].astype(object).where(frame[c].notna(), None)
    out.insert(0, features.KEY, frame["loan_id"].astype(object).where(frame["loan_id"].notna(), None))
    return out[[features.KEY, *features.FEATURES]]

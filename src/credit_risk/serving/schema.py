"""The loan application the API accepts: origination fields only, typed, with LendingClub's ranges and enums.

Unknown fields are rejected (422 naming them), not ignored: a misspelt `anual_inc` silently dropped would be
scored as a missing income. Derived model inputs (loan-to-income, instalment-to-income, the missing-value
flags, the cleaned employment title) are computed here exactly as gold computes them, so a client sends
what an application form holds.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from credit_risk import features

if TYPE_CHECKING:
    import pandas as pd

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
    dti: float | None = Field(
        default=None,
        ge=-1,
        le=999,
        description="Debt-to-income, percent; 999 or >100 is "
        "LendingClub's invalid marker and is treated as in silver (null + dti_invalid)",
    )
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
    credit_age_months: float | None = Field(
        default=None, ge=0, le=1200, description="Months since the earliest credit line"
    )


INPUT_FIELDS = [f for f in LoanApplication.model_fields if f != "loan_id"]
DERIVED = ["loan_to_income", "installment_to_income", *features.MISSING_FLAGS, "emp_title_clean"]


def normalise_title(title: str | None) -> str | None:
    """As gold's `emp_title_normalised`: lower case, non-alphanumerics folded to one space; empty -> None."""
    if title is None:
        return None
    text = re.sub(r"\s+", " ", re.sub(r"[^a-z0-9]+", " ", title.lower())).strip()
    return text or None


def _ratio(amount: float, income: float | None) -> float | None:
    """amount / income; None (missing, so imputed) where income is absent or so small the ratio overflows."""
    if not income:
        return None
    value = amount / income
    return value if math.isfinite(value) else None


def to_features(records: list[dict[str, Any]], known_titles: list[str]) -> dict[str, list[Any]]:
    """Application records (already validated) -> gold feature columns (name -> values), as gold derives them.

    Plain lists, no pandas: a single application is scored in well under a millisecond this way.
    """
    cols: dict[str, list[Any]] = {c: [r.get(c) for r in records] for c in ["loan_id", *INPUT_FIELDS]}
    invalid = [d is not None and (d > 100 or d < 0) for d in cols["dti"]]
    cols["dti"] = [None if bad else d for d, bad in zip(cols["dti"], invalid, strict=True)]
    income = [i if i is not None and i > 0 else None for i in cols["annual_inc"]]
    cols["loan_to_income"] = [_ratio(a, i) for a, i in zip(cols["loan_amnt"], income, strict=True)]
    cols["installment_to_income"] = [
        _ratio(a * 12, i) for a, i in zip(cols["installment"], income, strict=True)
    ]
    cols["tot_cur_bal_missing"] = [int(v is None) for v in cols["tot_cur_bal"]]
    cols["bc_util_missing"] = [int(v is None) for v in cols["bc_util"]]
    cols["mo_sin_old_rev_tl_op_missing"] = [int(v is None) for v in cols["mo_sin_old_rev_tl_op"]]
    cols["dti_invalid"] = [int(bad) for bad in invalid]
    known = set(known_titles)
    titles = [normalise_title(t) for t in cols.pop("emp_title")]
    cols["emp_title_clean"] = ["missing" if t is None else t if t in known else "other" for t in titles]
    cols[features.KEY] = cols.pop("loan_id")
    return {c: cols[c] for c in [features.KEY, *features.FEATURES]}


def applications_from_gold(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Gold feature rows (a pandas DataFrame) back into application JSON: for tests, benches and load tests.

    The reverse of `to_features`: derived columns are dropped, an `other` title becomes an unknown title,
    `missing` none, and an invalid DTI LendingClub's 999 marker.
    """
    import pandas as pd

    out = []
    for record in rows.to_dict("records"):
        app: dict[str, Any] = {
            c: (None if pd.isna(record[c]) else record[c]) for c in INPUT_FIELDS if c in record
        }
        app["term_months"] = int(app["term_months"])
        app["emp_title"] = {"missing": None, "other": "Chief Unicorn Wrangler"}.get(
            record["emp_title_clean"], record["emp_title_clean"]
        )
        if record.get("dti_invalid") == 1:
            app["dti"] = 999.0
        if features.KEY in record:
            app["loan_id"] = record[features.KEY]
        out.append({k: (v.item() if hasattr(v, "item") else v) for k, v in app.items()})
    return out

"""Loans in trouble: hardship plans (from 2017, most of them in 2020) and debt settlements (from 2014).

Only a few loans take part; every other row has these columns empty.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from credit_risk.synthetic.constants import (
    FLAG,
    HARDSHIP_LOAN_STATUS_P,
    HARDSHIP_LOAN_STATUSES,
    HARDSHIP_REASON_P,
    HARDSHIP_REASONS,
    HARDSHIP_STATUSES,
    HARDSHIP_TYPES,
    SETTLEMENT_PERCENTAGES,
    SETTLEMENT_STATUS_P,
    SETTLEMENT_STATUSES,
    SETTLEMENT_TERMS,
    SNAPSHOT,
)
from credit_risk.synthetic.labels import labelled, nan_where


def hardship_columns(
    rng: np.random.Generator,
    hardship: np.ndarray,
    start: np.ndarray,
    installment: np.ndarray,
    out_prncp: np.ndarray,
) -> dict[str, np.ndarray | pa.Array]:
    """Hardship plans (from 2017, most of them in 2020): a few loans in trouble, all other rows empty."""
    n, none = len(start), ~hardship
    active = start + 3 > SNAPSHOT
    out: dict[str, np.ndarray | pa.Array] = {
        "hardship_flag": labelled(FLAG, hardship.astype(int)),
        "hardship_type": labelled(HARDSHIP_TYPES, np.zeros(n, int), none),
        "hardship_reason": labelled(
            HARDSHIP_REASONS, rng.choice(len(HARDSHIP_REASONS), n, p=HARDSHIP_REASON_P), none
        ),
        "hardship_status": labelled(
            HARDSHIP_STATUSES, np.where(active, 2, (rng.random(n) < 0.2).astype(int)), none
        ),
        "deferral_term": nan_where(np.full(n, 3.0), none),
        "hardship_length": nan_where(np.full(n, 3.0), none),
        "hardship_amount": nan_where(np.round(installment * rng.uniform(0.15, 0.45, n), 2), none),
        "hardship_start_date": nan_where(start.astype(float), none),
        "hardship_end_date": nan_where(start + 3.0, none),
        "payment_plan_start_date": nan_where(start.astype(float), none),
        "hardship_dpd": nan_where(rng.integers(0, 31, n).astype(float), none),
        "hardship_loan_status": labelled(
            HARDSHIP_LOAN_STATUSES,
            rng.choice(len(HARDSHIP_LOAN_STATUSES), n, p=HARDSHIP_LOAN_STATUS_P),
            none,
        ),
        "hardship_payoff_balance_amount": nan_where(
            np.round(np.maximum(out_prncp, installment) * rng.uniform(0.9, 1.05, n), 2), none
        ),
        "hardship_last_payment_amount": nan_where(np.round(installment * rng.uniform(0, 1, n), 2), none),
    }
    accrued = out["hardship_amount"] * 3 * rng.uniform(0.9, 1.1, n)
    out["orig_projected_additional_accrued_interest"] = nan_where(np.round(accrued, 2), none)
    return out


def settlement_columns(
    rng: np.random.Generator, settled: np.ndarray, chargeoff: np.ndarray, owed: np.ndarray
) -> dict[str, np.ndarray | pa.Array]:
    """Debt settlements: some charged-off loans since 2014 settle for part of what they owed."""
    n, none = len(settled), ~settled
    when = nan_where(np.minimum(chargeoff + rng.integers(0, 24, n), SNAPSHOT).astype(float), none)
    percentage = np.where(
        rng.random(n) < 0.7,
        rng.choice(SETTLEMENT_PERCENTAGES, n),
        np.round(rng.uniform(25, 75, n), 2),
    )
    return {
        "debt_settlement_flag": labelled(FLAG, settled.astype(int)),
        "debt_settlement_flag_date": when,
        "settlement_status": labelled(
            SETTLEMENT_STATUSES, rng.choice(len(SETTLEMENT_STATUSES), n, p=SETTLEMENT_STATUS_P), none
        ),
        "settlement_date": when,
        "settlement_amount": nan_where(np.round(owed * percentage / 100, 2), none),
        "settlement_percentage": nan_where(percentage, none),
        "settlement_term": nan_where(rng.choice(SETTLEMENT_TERMS, n), none),
    }

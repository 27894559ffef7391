"""The credit bureau's columns: the summary LendingClub added from 2012 and the second applicant's file.

Both are empty before their era (column drift across the exports), and drawn from the loan's own latent
risk and credit file so that they agree with the columns LendingClub always had.
"""

from __future__ import annotations

import numpy as np

from credit_risk.synthetic.constants import (
    BALANCES_FROM,
    BUREAU_COUNTS,
    BUREAU_FROM,
    NEW_BUREAU_COUNTS,
    NEW_BUREAU_FROM,
    SEC_APP_COUNTS,
)
from credit_risk.synthetic.labels import nan_where


def bureau_columns(
    rng: np.random.Generator,
    months: np.ndarray,
    q: np.ndarray,
    credit: dict[str, np.ndarray],
    credit_age: np.ndarray,
    home: np.ndarray,
    shift: dict[str, float],
) -> dict[str, np.ndarray]:
    """The bureau summary LendingClub added from 2012 (and Dec-2015): empty for older loans."""
    n = len(months)
    out: dict[str, np.ndarray] = {}
    old, old_balances, old_new = months < BUREAU_FROM, months < BALANCES_FROM, months < NEW_BUREAU_FROM
    for name, mean in BUREAU_COUNTS:
        out[name] = nan_where(rng.poisson(np.clip(mean * (1 + 0.12 * q), 0.0005, None)).astype(float), old)
    for name, mean in NEW_BUREAU_COUNTS:
        out[name] = nan_where(
            rng.poisson(np.clip(mean * (1 + 0.12 * q), 0.0005, None)).astype(float), old_new
        )
    tot_cur_bal = np.round(
        rng.lognormal(10.3 + 1.3 * (home == 0), 1.0, n) * (1 + shift.get("tot_cur_bal", 0.0))
    )
    revol_util = np.nan_to_num(credit["revol_util"], nan=50.0)
    out["tot_coll_amt"] = nan_where(
        np.where(rng.random(n) < 0.14, np.round(rng.lognormal(6.5, 1.2, n)), 0.0), old_balances
    )
    out["tot_cur_bal"] = nan_where(tot_cur_bal, old_balances)
    limit = (
        credit["revol_bal"] / np.clip(revol_util, 5, None) * 100 * (1 + shift.get("total_rev_hi_lim", 0.0))
    )
    out["total_rev_hi_lim"] = nan_where(np.round(limit, -2), old_balances)
    out["open_il_24m"] = out["open_il_12m"] + rng.poisson(0.9, n)
    out["open_rv_24m"] = out["open_rv_12m"] + rng.poisson(1.6, n)
    out["total_bal_il"] = nan_where(np.round(rng.lognormal(10, 1.3, n)), old_new)
    out["il_util"] = nan_where(
        np.round(np.clip(rng.normal(70, 23, n), 0, 180)), old_new | (rng.random(n) < 0.13)
    )
    out["max_bal_bc"] = nan_where(np.round(rng.lognormal(8.4, 1.0, n)), old_new)
    out["all_util"] = nan_where(np.round(np.clip(rng.normal(59, 20, n) + 5 * q, 0, 200)), old_new)
    out["inq_last_12m"] = nan_where(credit["inq_last_6mths"] + rng.poisson(1.3, n), old_new)
    out["avg_cur_bal"] = nan_where(np.round(tot_cur_bal / credit["open_acc"]), old)
    out["bc_open_to_buy"] = nan_where(np.round(rng.lognormal(8.5, 1.3, n)), old | (rng.random(n) < 0.01))
    out["bc_util"] = nan_where(
        np.round(np.clip(revol_util + rng.normal(5, 12, n), 0, 200), 1), old | (rng.random(n) < 0.01)
    )
    out["delinq_amnt"] = nan_where(
        np.where(rng.random(n) < 0.003, np.round(rng.lognormal(7, 1, n)), 0.0), old
    )
    out["mo_sin_old_il_acct"] = nan_where(
        np.maximum(credit_age - rng.integers(0, 60, n), 3), old | (rng.random(n) < 0.03)
    )
    out["mo_sin_old_rev_tl_op"] = nan_where(np.maximum(credit_age - rng.integers(0, 12, n), 3), old)
    out["mort_acc"] = nan_where(
        np.where(home == 0, 1 + rng.poisson(1.5, n), rng.poisson(0.3, n)).astype(float), old
    )
    out["mths_since_recent_bc_dlq"] = nan_where(
        rng.integers(0, 150, n).astype(float), old | (rng.random(n) < 0.77)
    )
    out["mths_since_recent_inq"] = nan_where(np.round(rng.exponential(7, n)), old | (rng.random(n) < 0.11))
    out["mths_since_recent_revol_delinq"] = nan_where(
        rng.integers(0, 150, n).astype(float), old | (rng.random(n) < 0.67)
    )
    out["num_sats"] = nan_where(credit["open_acc"], old)
    out["pct_tl_nvr_dlq"] = nan_where(np.round(100 - np.clip(rng.exponential(6, n), 0, 100), 1), old)
    out["percent_bc_gt_75"] = nan_where(
        np.round(np.clip(40 + 30 * rng.standard_normal(n) + 8 * q, 0, 100), 1), old
    )
    out["pub_rec_bankruptcies"] = nan_where(
        np.minimum(credit["pub_rec"], (rng.random(n) < 0.75)), rng.random(n) < 0.0005
    )
    out["tax_liens"] = rng.poisson(0.04, n).astype(float)
    out["tot_hi_cred_lim"] = nan_where(np.round(tot_cur_bal * rng.uniform(1.1, 1.6, n)), old)
    out["total_bal_ex_mort"] = nan_where(np.round(rng.lognormal(10.6, 1.0, n)), old)
    out["total_bc_limit"] = nan_where(np.round(rng.lognormal(9.8, 1.0, n), -2), old)
    out["total_il_high_credit_limit"] = nan_where(np.round(rng.lognormal(10.3, 1.2, n)), old)
    return out


def second_applicant_columns(
    rng: np.random.Generator,
    months: np.ndarray,
    sec: np.ndarray,
    fico: np.ndarray,
    revol_util: np.ndarray,
    revol_bal: np.ndarray,
    credit_age: np.ndarray,
) -> dict[str, np.ndarray]:
    """sec_app_* and revol_bal_joint: only joint applications from Mar-2017."""
    n = len(months)
    sec_fico = np.clip(np.round((fico + rng.normal(0, 30, n)) / 5) * 5, 660, 845)
    out = {name: nan_where(rng.poisson(mean, n).astype(float), ~sec) for name, mean in SEC_APP_COUNTS.items()}
    out["revol_bal_joint"] = nan_where(np.round(revol_bal * rng.uniform(1.2, 2, n)), ~sec)
    out["sec_app_fico_range_low"], out["sec_app_fico_range_high"] = (
        nan_where(sec_fico, ~sec),
        nan_where(sec_fico + 4, ~sec),
    )
    out["sec_app_earliest_cr_line"] = nan_where(
        months - np.clip(credit_age + rng.integers(-60, 60, n), 24, None), ~sec
    )
    out["sec_app_revol_util"] = nan_where(
        np.round(np.clip(revol_util + rng.normal(0, 20, n), 0, 150), 1), ~sec
    )
    out["sec_app_mths_since_last_major_derog"] = nan_where(
        rng.integers(0, 150, n).astype(float), ~sec | (rng.random(n) < 0.7)
    )
    return out

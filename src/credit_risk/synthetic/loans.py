"""The synthetic loan population: who borrows, how LendingClub prices them, and how each loan ends.

A latent credit risk `q` (standard normal, higher is riskier) is seen only through noisy views: FICO,
dti, income, inquiries, revolving utilisation, credit age and LendingClub's own sub_grade (which also
uses bureau data the file does not show). Default depends on `q`, on term, purpose, home ownership,
state, verification, employment and vintage, plus idiosyncratic noise, so a model on origination
features ranks risk with an AUC near 0.7 and no better. Each loan then gets a timeline against the
Sep-2020 snapshot (payoff, default month, charge-off five months later) from which its status and
every payment column follow, so that leakage from post-origination columns shows.

The draws are in `synthetic.population`; here they become the export's columns, group by group, in the
order of the draws: the generator's state after one group is the next group's start.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credit_risk.synthetic.bureau import bureau_columns, second_applicant_columns
from credit_risk.synthetic.constants import (
    APPLICATION_TYPES,
    DISBURSEMENT_METHODS,
    GRADES,
    HOME_OWNERSHIP,
    LIST_STATUSES,
    PAYMENT_PLAN,
    PURPOSES,
    SEC_APP_FROM,
    SNAPSHOT,
    STATES,
    STATUSES,
    SUB_GRADES,
    TERMS,
    VERIFICATION,
    VERIFICATION_JOINT_P,
)
from credit_risk.synthetic.hardship import hardship_columns, settlement_columns
from credit_risk.synthetic.labels import desc_entries, emp_titles, labelled, nan_where
from credit_risk.synthetic.population import (
    Borrower,
    CreditFile,
    Listing,
    Outcome,
    Payments,
    draw_borrower,
    draw_credit_file,
    draw_listing,
    draw_outcome,
    draw_payments,
)
from credit_risk.synthetic.vocabulary import DESC_TEXT, FREE_TITLES

Columns = dict[str, np.ndarray | pa.Array]


def draw_loans(
    rng: np.random.Generator, months: np.ndarray, first_id: int, shift: dict[str, float]
) -> Columns:
    """Loans issued in `months` (a month index per row): floats with NaN for missing, or text arrays."""
    n = len(months)
    q = rng.standard_normal(n)  # latent credit risk
    borrower = draw_borrower(rng, months, q, shift)
    credit = draw_credit_file(rng, q, shift)
    listing, credit = draw_listing(rng, months, q, borrower, credit, shift)
    outcome = draw_outcome(rng, months, q, borrower, credit, listing)
    pay = draw_payments(rng, months, borrower, credit, listing, outcome)

    ids = (first_id + np.arange(n)).astype(float)
    c = _loan_columns(rng, months, ids, borrower, listing, outcome, pay)
    hardship, hardship_start = _hardship_timing(rng, months, outcome)
    c["pymnt_plan"] = labelled(PAYMENT_PLAN, (hardship & (hardship_start + 3 > SNAPSHOT)).astype(int))
    c.update(_description_columns(rng, months, ids, borrower))
    credit_columns = _credit_columns(rng, months, q, credit)
    c.update(credit_columns)
    c.update(_payment_columns(rng, months, borrower, credit, outcome, pay))
    c.update(_joint_columns(rng, borrower, credit, listing))
    c.update(bureau_columns(rng, months, q, credit_columns, credit.credit_age, borrower.home, shift))
    second = listing.joint & (months >= SEC_APP_FROM)
    c.update(
        second_applicant_columns(
            rng, months, second, credit.fico, credit.revol_util, credit.revol_bal, credit.credit_age
        )
    )
    c.update(hardship_columns(rng, hardship, hardship_start, pay.installment, pay.out_prncp))
    settled = outcome.charged_off & (outcome.chargeoff >= 2014 * 12) & (rng.random(n) < 0.15)
    c.update(_disbursement_column(rng, months))
    c.update(settlement_columns(rng, settled, outcome.chargeoff, pay.owed))
    return c


def _loan_columns(
    rng: np.random.Generator,
    months: np.ndarray,
    ids: np.ndarray,
    borrower: Borrower,
    listing: Listing,
    outcome: Outcome,
    pay: Payments,
) -> Columns:
    """The loan and its borrower, as listed: id to loan_status."""
    n = len(months)
    c: Columns = {}
    c["id"] = ids
    c["member_id"] = pa.nulls(n, pa.string())
    c["loan_amnt"] = c["funded_amnt"] = borrower.loan_amnt
    c["funded_amnt_inv"] = pay.funded_inv
    c["term"] = labelled(TERMS, (borrower.term == 60).astype(int))
    c["int_rate"] = listing.int_rate
    c["installment"] = pay.installment
    c["grade"] = labelled(GRADES, listing.sub_grade // 5)
    c["sub_grade"] = labelled(SUB_GRADES, listing.sub_grade)
    c["emp_title"] = emp_titles(rng, months, borrower.emp_missing | (rng.random(n) < 0.02))
    c["emp_length"] = labelled("emp_length", borrower.emp_years, borrower.emp_missing)
    c["home_ownership"] = labelled(HOME_OWNERSHIP, borrower.home)
    c["annual_inc"] = borrower.income
    c["verification_status"] = labelled(VERIFICATION, listing.verified)
    c["issue_d"] = months.astype(float)
    c["loan_status"] = labelled(STATUSES, outcome.status)
    return c


def _hardship_timing(
    rng: np.random.Generator, months: np.ndarray, outcome: Outcome
) -> tuple[np.ndarray, np.ndarray]:
    """Which loans took a hardship plan (the program started in 2017), and the month it started."""
    n, finished, end = len(months), outcome.finished, outcome.end
    hardship = (months >= 2016 * 12) & np.where(
        finished,
        (end >= 2017 * 12 + 6) & (rng.random(n) < 0.005 + 0.02 * outcome.defaults),
        rng.random(n) < 0.05,
    )
    start = np.where(
        finished, np.maximum(end - rng.integers(1, 7, n), months + 1), SNAPSHOT - rng.integers(1, 8, n)
    )
    return hardship, np.maximum(start, months + 1)


def _description_columns(
    rng: np.random.Generator, months: np.ndarray, ids: np.ndarray, borrower: Borrower
) -> Columns:
    """What the listing page showed: url, the borrower's description and title, purpose, ZIP and state."""
    n, year = len(months), months // 12
    c: Columns = {}
    c["url"] = pc.binary_join_element_wise(
        "https://lendingclub.com/browse/loanDetail.action?loan_id=",
        pc.cast(pa.array(ids.astype(np.int64)), pa.string()),
        "",
    )
    has_desc = (months < 2014 * 12) & (rng.random(n) < np.where(year <= 2009, 0.8, 0.35))
    day = rng.integers(0, 28, n)
    desc_month = np.clip(months, 2007 * 12, 2014 * 12 - 1) - 2007 * 12
    desc_code = (desc_month * 28 + day) * len(DESC_TEXT) + rng.integers(0, len(DESC_TEXT), n)
    c["desc"] = pc.binary_repeat(labelled("desc", desc_code, ~has_desc), pa.array(desc_entries(desc_code)))
    c["purpose"] = labelled("purpose", borrower.purpose)
    free_title = (year <= 2012) & (rng.random(n) < 0.7)
    c["title"] = labelled(
        "title",
        np.where(free_title, len(PURPOSES) + rng.integers(0, len(FREE_TITLES), n), borrower.purpose),
        (year >= 2013) & (rng.random(n) < 0.01),
    )
    state = borrower.state
    low, high = np.array([st[2] for st in STATES])[state], np.array([st[3] for st in STATES])[state]
    c["zip_code"] = labelled("zip", low + np.floor(rng.random(n) * (high - low + 1)).astype(int))
    c["addr_state"] = labelled("state", state)
    return c


def _credit_columns(
    rng: np.random.Generator, months: np.ndarray, q: np.ndarray, credit: CreditFile
) -> dict[str, np.ndarray]:
    """The credit file as the export shows it: dti (with its error markers) to total_acc."""
    n = len(months)
    c: dict[str, np.ndarray] = {}
    marker = rng.random(n)
    c["dti"] = np.where(marker < 0.0008, 999.0, np.where(marker > 0.9997, -1.0, np.round(credit.dti, 2)))
    c["delinq_2yrs"] = np.where(credit.recent, 1 + rng.poisson(0.3 + 0.15 * np.maximum(q, 0)), 0).astype(
        float
    )
    c["earliest_cr_line"] = (months - credit.credit_age).astype(float)
    c["fico_range_low"], c["fico_range_high"] = credit.fico, credit.fico + 4
    c["inq_last_6mths"] = credit.inq.astype(float)
    c["mths_since_last_delinq"] = credit.since_delinq
    c["mths_since_last_record"] = nan_where(rng.integers(0, 120, n).astype(float), ~credit.record)
    c["open_acc"] = credit.open_acc.astype(float)
    c["pub_rec"] = np.where(credit.record, 1 + rng.poisson(0.15, n), 0).astype(float)
    c["revol_bal"] = credit.revol_bal
    c["revol_util"] = nan_where(credit.revol_util, rng.random(n) < 0.0008)
    c["total_acc"] = (credit.open_acc + rng.poisson(13, n)).astype(float)
    return c


def _payment_columns(
    rng: np.random.Generator,
    months: np.ndarray,
    borrower: Borrower,
    credit: CreditFile,
    outcome: Outcome,
    pay: Payments,
) -> Columns:
    """Payments and the account as of the snapshot: initial_list_status to policy_code."""
    n, paid, finished = len(months), outcome.paid, outcome.finished
    inv_share = pay.funded_inv / borrower.loan_amnt
    c: Columns = {}
    whole_loan = rng.random(n) < np.interp(months, [2012 * 12 + 8, 2014 * 12, 2017 * 12], [0, 0.6, 0.75])
    c["initial_list_status"] = labelled(LIST_STATUSES, whole_loan.astype(int))
    c["out_prncp"], c["out_prncp_inv"] = pay.out_prncp, np.round(pay.out_prncp * inv_share, 2)
    c["total_pymnt"], c["total_pymnt_inv"] = pay.total_pymnt, np.round(pay.total_pymnt * inv_share, 2)
    c["total_rec_prncp"], c["total_rec_int"] = np.round(pay.principal, 2), np.round(pay.interest, 2)
    c["total_rec_late_fee"], c["recoveries"] = pay.late_fee, pay.recoveries
    c["collection_recovery_fee"] = np.round(pay.recoveries * 0.18, 2)
    c["last_pymnt_d"] = nan_where((months + paid).astype(float), paid == 0)
    c["last_pymnt_amnt"] = np.where(paid == 0, 0.0, np.round(pay.installment + pay.prepaid * pay.owed_at, 2))
    c["next_pymnt_d"] = nan_where(np.where(outcome.issued, months + 1, SNAPSHOT + 1).astype(float), finished)
    c["last_credit_pull_d"] = pay.pull.astype(float)
    c["last_fico_range_high"], c["last_fico_range_low"] = pay.last_fico + 4, pay.last_fico
    c["collections_12_mths_ex_med"] = rng.poisson(0.02, n).astype(float)
    c["mths_since_last_major_derog"] = nan_where(
        rng.integers(0, 160, n).astype(float), rng.random(n) > 0.26 + 0.05 * credit.recent
    )
    c["policy_code"] = np.ones(n)
    return c


def _joint_columns(
    rng: np.random.Generator, borrower: Borrower, credit: CreditFile, listing: Listing
) -> Columns:
    """Joint applications (Oct-2015 on): the pair's income, dti and verification; empty otherwise."""
    n, joint = len(borrower.income), listing.joint
    dti_clean = np.clip(credit.dti, 0, 40)
    c: Columns = {}
    c["application_type"] = labelled(APPLICATION_TYPES, joint.astype(int))
    c["annual_inc_joint"] = nan_where(np.round(borrower.income * rng.uniform(1.3, 2.2, n), -2), ~joint)
    c["dti_joint"] = nan_where(np.round(dti_clean * rng.uniform(0.6, 0.95, n), 2), ~joint)
    c["verification_status_joint"] = labelled(
        VERIFICATION, rng.choice(len(VERIFICATION), n, p=VERIFICATION_JOINT_P), ~joint
    )
    c["acc_now_delinq"] = rng.poisson(0.005, n).astype(float)
    return c


def _disbursement_column(rng: np.random.Generator, months: np.ndarray) -> Columns:
    """DirectPay (LendingClub paying the borrower's creditors) from 2016, more common from 2018."""
    year = months // 12
    direct_pay = (months >= 2016 * 12) & (rng.random(len(months)) < np.where(year >= 2018, 0.07, 0.01))
    return {"disbursement_method": labelled(DISBURSEMENT_METHODS, direct_pay.astype(int))}

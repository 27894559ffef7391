"""Who borrows, how LendingClub prices them, and how each loan ends: the draws every column follows from.

Each step takes the latent risk `q` and what the steps before it drew; each draws from the generator in a
fixed order, so one seed gives one population.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from credit_risk.synthetic.constants import (
    EMP_LENGTH_P,
    HOME_EFFECT,
    JOINT_FROM,
    PURPOSES,
    SIXTY_FROM,
    SNAPSHOT,
    STATES,
    VERIFIED_EFFECT,
    YEAR_EFFECT,
)
from credit_risk.synthetic.labels import nan_where


@dataclass(frozen=True)
class Borrower:
    """The application: income, amount, employment, home, purpose, state and term (codes into the tables)."""

    income: np.ndarray
    loan_amnt: np.ndarray
    emp_years: np.ndarray
    emp_missing: np.ndarray
    home: np.ndarray
    purpose: np.ndarray
    state: np.ndarray
    term: np.ndarray


@dataclass(frozen=True)
class CreditFile:
    """The bureau's view of the borrower: each a noisy view of the latent risk."""

    fico: np.ndarray
    dti: np.ndarray
    inq: np.ndarray
    revol_util: np.ndarray
    revol_bal: np.ndarray
    credit_age: np.ndarray  # months since the earliest credit line
    since_delinq: np.ndarray
    recent: np.ndarray  # a delinquency in the last two years
    record: np.ndarray  # a public record
    open_acc: np.ndarray


@dataclass(frozen=True)
class Listing:
    """LendingClub's decision: the sub_grade and rate from what it knew, verification, joint application, and
    whether the loan was made outside the credit policy (2007-2010)."""

    sub_grade: np.ndarray
    int_rate: np.ndarray
    verified: np.ndarray
    joint: np.ndarray
    policy: np.ndarray


@dataclass(frozen=True)
class Outcome:
    """How the loan stands at the Sep-2020 snapshot."""

    issued: np.ndarray  # listed, not yet funded
    defaults: np.ndarray
    chargeoff: np.ndarray  # month of the charge-off, had it defaulted
    end: np.ndarray  # month of the payoff or charge-off
    finished: np.ndarray
    paid: np.ndarray  # installments paid
    status: np.ndarray  # codes into STATUSES
    charged_off: np.ndarray


@dataclass(frozen=True)
class Payments:
    """Money in and out, consistent with the outcome."""

    funded_inv: np.ndarray
    installment: np.ndarray
    owed_at: np.ndarray  # principal owed after the installments paid
    interest: np.ndarray
    prepaid: np.ndarray  # the last payment cleared the balance
    owed: np.ndarray
    principal: np.ndarray
    recoveries: np.ndarray
    late_fee: np.ndarray
    total_pymnt: np.ndarray
    out_prncp: np.ndarray
    last_fico: np.ndarray
    pull: np.ndarray  # month of the last credit pull


def draw_borrower(
    rng: np.random.Generator, months: np.ndarray, q: np.ndarray, shift: dict[str, float]
) -> Borrower:
    """Income log-normal, requested amounts in round numbers, caps by era."""
    n, year = len(months), months // 12
    base_income = np.exp(11.05 + 0.55 * rng.standard_normal(n) - 0.10 * q)
    income = base_income * (1 + shift.get("annual_inc", 0.0))
    income = np.maximum(np.where(rng.random(n) < 0.65, np.round(income, -3), np.round(income, 2)), 4000)
    amount = base_income * np.exp(-1.65 + 0.45 * rng.standard_normal(n)) * (1 + shift.get("loan_amnt", 0.0))
    step = np.where(rng.random(n) < 0.55, 1000, np.where(rng.random(n) < 0.45, 500, 25))
    cap = np.where(year <= 2010, 25000, np.where(year <= 2015, 35000, 40000))
    loan_amnt = np.clip(np.round(amount / step) * step, 1000, cap)
    emp_years = rng.choice(11, n, p=np.array(EMP_LENGTH_P) / sum(EMP_LENGTH_P))
    emp_years = np.clip(emp_years + np.round(shift.get("emp_length", 0.0)), 0, 10).astype(int)
    emp_missing = rng.random(n) < 0.065
    mortgage_p = np.clip(0.45 + 0.22 * np.log(base_income / 65000) + 0.02 * (emp_years - 5), 0.05, 0.92)
    u = rng.random(n)
    home = np.where(u < mortgage_p, 0, np.where(u < mortgage_p + 0.11, 1, 2))  # MORTGAGE, OWN, RENT
    rare = rng.random(n)
    home = np.where((year <= 2008) & (rare < 0.06), np.where(rare < 0.048, 3, 4), home)  # OTHER, NONE
    home = np.where((year >= 2016) & (rare > 0.999), 5, home)  # ANY
    purpose = rng.choice(len(PURPOSES), n, p=np.array([p[2] for p in PURPOSES]) / sum(p[2] for p in PURPOSES))
    state = rng.choice(len(STATES), n, p=np.array([st[1] for st in STATES]) / sum(st[1] for st in STATES))
    sixty_p = 1 / (1 + np.exp(-(-1.6 + 0.35 * q + 1.2 * (loan_amnt >= 20000) + 0.6 * (loan_amnt >= 30000))))
    term = np.where((months >= SIXTY_FROM) & (rng.random(n) < sixty_p), 60, 36)
    return Borrower(income, loan_amnt, emp_years, emp_missing, home, purpose, state, term)


def draw_credit_file(rng: np.random.Generator, q: np.ndarray, shift: dict[str, float]) -> CreditFile:
    """FICO, dti, inquiries, revolving use, credit age, delinquencies, records and open accounts."""
    n = len(q)
    fico = np.minimum(660 + 5 * np.floor(np.exp(3.35 - 0.4 * q + 0.55 * rng.standard_normal(n)) / 5), 845)
    dti = np.clip(18.5 + 2.2 * q + 8.0 * rng.standard_normal(n), 0, 39.99) + shift.get("dti", 0.0)
    inq = np.clip(rng.poisson(np.clip(0.62 + 0.28 * q + shift.get("inq_last_6mths", 0.0), 0.02, None)), 0, 8)
    revol_util = np.round(
        np.clip(52 + 22 * rng.standard_normal(n) + 7 * q + shift.get("revol_util", 0.0), 0, 150), 1
    )
    revol_bal = np.round(rng.lognormal(9.25, 1.0, n) * (1 + shift.get("revol_bal", 0.0)))
    credit_age = np.clip(np.round(np.exp(5.2 - 0.06 * q + 0.42 * rng.standard_normal(n))), 36, 720)
    delinq_history = rng.random(n) < np.clip(0.45 + 0.08 * q, 0.05, 0.95)
    since_delinq = nan_where(rng.integers(0, 150, n).astype(float), ~delinq_history)
    recent = delinq_history & (since_delinq < 24)
    record = rng.random(n) < np.clip(0.16 + 0.03 * q, 0.01, 0.5)
    open_acc = np.clip(rng.poisson(11.5, n), 1, 90)
    return CreditFile(
        fico, dti, inq, revol_util, revol_bal, credit_age, since_delinq, recent, record, open_acc
    )


def draw_listing(
    rng: np.random.Generator,
    months: np.ndarray,
    q: np.ndarray,
    borrower: Borrower,
    credit: CreditFile,
    shift: dict[str, float],
) -> tuple[Listing, CreditFile]:
    """LendingClub's price: sub_grade from what it knew about q, rate by grade and year. Loans outside the credit
    policy were made at lower FICO scores: the credit file comes back with those."""
    n, year = len(months), months // 12
    x = 0.8 * q + 0.6 * rng.standard_normal(n)
    sub_grade = np.clip(
        np.round(8.8 + 5.6 * x + 1.1 * np.maximum(x, 0) ** 2 + 1.8 * (borrower.term == 60)), 0, 34
    ).astype(int)
    base = np.interp(year, [2007, 2010, 2013, 2016, 2019, 2020], [7.4, 6.5, 6.0, 5.3, 6.0, 5.6])
    slope = np.interp(year, [2007, 2012, 2016, 2018], [0.5, 0.55, 0.68, 0.75])
    rate = np.clip(base + slope * sub_grade + 0.2 * rng.standard_normal(n), 5.31, 30.99)
    int_rate = np.round(rate + shift.get("int_rate", 0.0), 2)
    verified = np.where(
        rng.random(n) < np.clip(0.6 - borrower.loan_amnt / 60000 + 0.3 * (year <= 2009), 0.15, 0.9),
        0,
        np.where(rng.random(n) < 0.55, 1, 2),
    )  # Not Verified, Source Verified, Verified
    joint = (months >= JOINT_FROM) & (rng.random(n) < 0.07)
    policy = (year <= 2010) & (rng.random(n) < np.where(year <= 2008, 0.2, 0.1))
    fico = np.where(policy, np.maximum(credit.fico - 5 * rng.integers(0, 9, n), 610), credit.fico)
    listing = Listing(sub_grade, int_rate, verified, joint, policy)
    return listing, replace(credit, fico=fico + shift.get("fico", 0.0))


def draw_outcome(
    rng: np.random.Generator,
    months: np.ndarray,
    q: np.ndarray,
    borrower: Borrower,
    credit: CreditFile,
    listing: Listing,
) -> Outcome:
    """Default from the latent risk, what the file shows, vintage and idiosyncratic noise; then the timeline."""
    n, year, term = len(months), months // 12, borrower.term
    logit = (
        -2.1
        + 0.72 * q
        + 0.3 * (term == 60)
        + 0.01 * (np.clip(credit.dti, 0, 40) - 18)
        - 0.12 * np.log(borrower.income / 65000)
        + 0.05 * credit.inq
        + 0.003 * (credit.revol_util - 52)
        - 0.012 * (credit.credit_age / 12 - 15)
        - 0.012 * borrower.emp_years
        + 0.15 * borrower.emp_missing
        + np.array([p[3] for p in PURPOSES])[borrower.purpose]
        + np.array(HOME_EFFECT)[borrower.home]
        + np.array([st[4] for st in STATES])[borrower.state]
        + np.array(VERIFIED_EFFECT)[listing.verified]
        + 0.3 * listing.policy
        + YEAR_EFFECT[year - 2007]
        + 0.55 * rng.standard_normal(n)
    )
    issued = (months >= 2020 * 12) & (rng.random(n) < 0.01)  # listed, not yet funded: no payments, no outcome
    defaults = (rng.random(n) < 1 / (1 + np.exp(-logit))) & ~issued
    default_after = np.clip(np.round(rng.gamma(2.2, 6.5, n)), 1, term - 1).astype(int)  # installments paid
    payoff_after = np.where(rng.random(n) < 0.55, np.round(rng.uniform(3, term)), term).astype(int)
    chargeoff = months + default_after + 5  # 150 days past due
    end = np.where(defaults, chargeoff, months + payoff_after)
    finished = (end <= SNAPSHOT) & ~issued
    since_default = SNAPSHOT - (months + default_after)  # months behind at the snapshot
    late = defaults & ~finished & (since_default >= 0)
    paid = np.where(
        defaults & (finished | late),
        default_after,
        np.where(finished, payoff_after, np.clip(SNAPSHOT - months, 0, term)),
    )
    paid = np.where(issued, 0, paid)
    r = rng.random(n)
    status = np.select(  # codes into STATUSES; loans that are not behind can still be a few days late
        [
            issued,
            finished & defaults,
            finished,
            late & (since_default == 0),
            late & (since_default == 1),
            late & (since_default == 4) & (r < 0.3),
            late,
            r < 0.012,
            r > 0.993,
        ],
        [1, 2, 3, 4, 5, 6, 7, 4, 5],
        0,
    )
    status = np.where(
        listing.policy & finished, status + 6, status
    )  # all 2007-2010 loans have finished by 2020
    return Outcome(issued, defaults, chargeoff, end, finished, paid, status, finished & defaults)


def _amortised(
    principal: np.ndarray, rate_pct: np.ndarray, term: np.ndarray, paid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Monthly installment, and principal still owed after `paid` installments."""
    r = rate_pct / 1200
    growth = (1 + r) ** term
    installment = principal * r * growth / (growth - 1)
    owed = principal * (1 + r) ** paid - installment * ((1 + r) ** paid - 1) / r
    return installment, np.clip(owed, 0, None)


def draw_payments(
    rng: np.random.Generator,
    months: np.ndarray,
    borrower: Borrower,
    credit: CreditFile,
    listing: Listing,
    outcome: Outcome,
) -> Payments:
    """Investors' share, installments, interest, recoveries, fees, the balance left and the last credit pull."""
    n, year, loan_amnt, paid = len(months), months // 12, borrower.loan_amnt, outcome.paid
    finished, defaults = outcome.finished, outcome.defaults
    funded_inv = np.where(
        (year <= 2012) & (rng.random(n) < 0.3), loan_amnt - 25 * rng.integers(1, 40, n), loan_amnt
    )
    funded_inv = np.maximum(funded_inv, 0.5 * loan_amnt)
    installment, owed_at = _amortised(loan_amnt, listing.int_rate, borrower.term, paid)
    interest = np.maximum(installment * paid - (loan_amnt - owed_at), 0)
    prepaid = finished & ~defaults & (paid < borrower.term)  # the last payment clears the balance
    owed = np.where(finished & ~defaults, 0.0, owed_at)
    principal = loan_amnt - owed
    recoveries = np.where(
        outcome.charged_off & (rng.random(n) < 0.7), np.round(owed * rng.uniform(0, 0.2, n), 2), 0.0
    )
    fee_p = np.where(defaults, 0.3, 0.04)
    late_fee = np.where(rng.random(n) < fee_p, np.round(rng.uniform(15, 60, n), 2), 0.0)
    total_pymnt = principal + interest + recoveries + late_fee
    total_pymnt = np.where(rng.random(n) < 0.4, np.round(total_pymnt, 2), total_pymnt)
    out_prncp = np.where(finished, 0.0, np.round(owed, 2))
    fico = credit.fico
    last_fico = np.where(defaults, fico - rng.uniform(60, 180, n), fico + rng.normal(10, 25, n))
    last_fico = np.clip(np.round(last_fico / 5) * 5, 300, 845)
    pull = np.where(
        finished & (rng.random(n) < 0.15),
        np.minimum(outcome.end + rng.integers(0, 24, n), SNAPSHOT),
        SNAPSHOT - np.minimum(rng.geometric(0.6, n) - 1, 6),
    )
    return Payments(
        funded_inv,
        installment,
        owed_at,
        interest,
        prepaid,
        owed,
        principal,
        recoveries,
        late_fee,
        total_pymnt,
        out_prncp,
        last_fico,
        pull,
    )

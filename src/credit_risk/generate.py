"""Synthetic raw LendingClub exports: the project's embedded default dataset.

The files look like what users bring, quirks included, so that ingestion is exercised on every run:

| quirk | where |
|---|---|
| Kaggle layout: 151 columns, unquoted, `9.49`, `6000.0`, ` 36 months`, `Sep-2016`, `10+ years` | `layout="kaggle"` |
| website export: prospectus first line, every value quoted, ` 10.49%`, footer lines | `layout="loanstats"` |
| column drift: bureau fields from 2012, `open_acc_6m`..`il_util` from Dec 2015, joint applications from Oct 2015, `sec_app_*` / `revol_bal_joint` from 2017, hardship and `disbursement_method` details from 2018 | both |
| not-final statuses (Current, Late, In Grace Period, Issued) dominate 2019-2020; `Does not meet the credit policy. Status:` rows in 2007-2010 | both |
| `dti` 999 and negative markers, empty `emp_length`, free-text `emp_title` with noisy case and spacing, always-empty `member_id`, empty `id`/`url` in 2018+ website exports | both |
| post-origination columns (payments, recoveries, `last_*`, `next_pymnt_d`) consistent with the outcome, so leakage shows | both |

A latent credit quality drives sub_grade, int_rate and default; FICO, dti, income, emp_length, term, purpose,
home_ownership, state, credit age, inquiries and utilisation carry part of it, plus idiosyncratic noise, so an
honest model on origination features reaches an AUC near 0.70. Volumes follow LendingClub's yearly growth.
Output is byte-identical per seed: rows are drawn in fixed chunks, each from its own seeded generator.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credit_risk.raw_schema import KAGGLE, LOANSTATS, PROSPECTUS_LINE

YEARLY_VOLUME = {2007: 603, 2008: 2393, 2009: 5281, 2010: 12537, 2011: 21721, 2012: 53367, 2013: 134814,
                 2014: 235629, 2015: 421095, 2016: 434407, 2017: 443579, 2018: 495242, 2019: 518112, 2020: 127000}
SNAPSHOT = 2020 * 12 + 8  # data as of Sep-2020 (month index year*12 + month-1)
CHUNK = 20_000
LAYOUTS = ("kaggle", "loanstats")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# Shift semantics for simulated drift: amounts scale by (1 + x), everything else moves by + x.
SHIFT_RELATIVE = ("annual_inc", "loan_amnt", "revol_bal", "tot_cur_bal", "total_rev_hi_lim")
SHIFT_ADDITIVE = ("dti", "fico", "int_rate", "revol_util", "inq_last_6mths", "emp_length")
GRADES = "ABCDEFG"
PURPOSES = [("debt_consolidation", "Debt consolidation", .57, .10), ("credit_card", "Credit card refinancing", .22, -.15),
            ("home_improvement", "Home improvement", .065, -.05), ("other", "Other", .06, .15),
            ("major_purchase", "Major purchase", .02, 0.0), ("medical", "Medical expenses", .012, .15),
            ("small_business", "Business", .012, .55), ("car", "Car financing", .011, -.1),
            ("moving", "Moving and relocation", .007, .2), ("vacation", "Vacation", .006, .05),
            ("house", "Home buying", .005, .1), ("renewable_energy", "Green loan", .001, .1),
            ("wedding", "Wedding", .002, -.05), ("educational", "Learning and training", .001, .2)]
HOMES = [("MORTGAGE", .49, -.12), ("RENT", .40, .15), ("OWN", .107, 0.0), ("ANY", .002, 0.0), ("OTHER", .001, .3)]
STATES = ["CA", "NY", "TX", "FL", "IL", "NJ", "PA", "OH", "GA", "VA", "NC", "MI", "MD", "AZ", "MA", "WA", "CO",
          "MN", "MO", "IN", "CT", "TN", "NV", "WI", "AL", "OR", "SC", "LA", "KY", "OK", "KS", "AR", "UT", "NM",
          "HI", "MS", "NH", "RI", "WV", "NE", "DE", "MT", "DC", "AK", "WY", "VT", "SD", "ME", "ND", "ID"]
STATE_P = np.array([14, 8.3, 8.2, 7.1, 4, 3.6, 3.4, 3.3, 3.2, 2.9, 2.8, 2.6, 2.4, 2.4, 2.3, 2.1, 2.1, 1.8, 1.6,
                    1.6, 1.5, 1.5, 1.5, 1.3, 1.2, 1.2, 1.2, 1.1, 1, .9, .8, .8, .8, .6, .5, .5, .5, .4, .4, .4,
                    .3, .3, .3, .3, .2, .2, .2, .2, .2, .2])
JOBS = ["Teacher", "Manager", "Registered Nurse", "RN", "Driver", "Supervisor", "Sales", "Project Manager",
        "Owner", "Office Manager", "Engineer", "Truck Driver", "General Manager", "Director", "Analyst",
        "Software Engineer", "Technician", "Accountant", "Police Officer", "Operations Manager", "Mechanic",
        "Administrative Assistant", "Store Manager", "Customer Service", "Electrician", "Nurse", "Consultant",
        "Account Manager", "Paralegal", "Pharmacist", "Sales Manager", "Controller", "Welder", "Server",
        "Machine Operator", "Branch Manager", "Attorney", "Physician", "Executive Assistant", "Carpenter"]
SENIORITY = ["", "", "", "Senior ", "Sr. ", "Lead ", "Assistant ", "Chief ", "Junior ", "Staff "]
EMPLOYER_A = ["North", "Blue", "First", "United", "Pacific", "Summit", "River", "Metro", "Eagle", "Pioneer",
              "Liberty", "Golden", "Granite", "Harbor", "Valley", "Prairie", "Atlas", "Coastal", "Sierra", "Union"]
EMPLOYER_B = ["Logistics", "Health", "Foods", "Bank", "Motors", "Systems", "Energy", "Medical Center",
              "School District", "Construction", "Insurance", "Retail", "Airlines", "Labs", "Partners"]
EMP_LENGTHS = ["< 1 year", "1 year", "2 years", "3 years", "4 years", "5 years", "6 years", "7 years", "8 years",
               "9 years", "10+ years"]
# Columns that exist only from a month on (column drift); absent earlier even in the same file.
FROM_2012 = ("tot_coll_amt", "tot_cur_bal", "total_rev_hi_lim", "acc_open_past_24mths", "avg_cur_bal",
             "bc_open_to_buy", "bc_util", "chargeoff_within_12_mths", "delinq_amnt", "mo_sin_old_il_acct",
             "mo_sin_old_rev_tl_op", "mo_sin_rcnt_rev_tl_op", "mo_sin_rcnt_tl", "mort_acc", "mths_since_recent_bc",
             "mths_since_recent_inq", "num_accts_ever_120_pd", "num_actv_bc_tl", "num_actv_rev_tl", "num_bc_sats",
             "num_bc_tl", "num_il_tl", "num_op_rev_tl", "num_rev_accts", "num_rev_tl_bal_gt_0", "num_sats",
             "num_tl_120dpd_2m", "num_tl_30dpd", "num_tl_90g_dpd_24m", "num_tl_op_past_12m", "pct_tl_nvr_dlq",
             "percent_bc_gt_75", "tot_hi_cred_lim", "total_bal_ex_mort", "total_bc_limit", "total_il_high_credit_limit")
FROM_DEC_2015 = ("open_acc_6m", "open_act_il", "open_il_12m", "open_il_24m", "mths_since_rcnt_il", "total_bal_il",
                 "il_util", "open_rv_12m", "open_rv_24m", "max_bal_bc", "all_util", "inq_fi", "total_cu_tl",
                 "inq_last_12m")


@dataclass(frozen=True)
class GenerateSpec:
    """What to generate; validated once, so errors name the argument."""

    rows: int
    seed: int
    layout: str = "kaggle"
    start: str = "2007-01"
    end: str = "2020-03"
    shift: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.rows < 1:
            raise ValueError(f"rows must be at least 1, not {self.rows}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {self.layout!r}")
        if self.first_month > self.last_month:
            raise ValueError(f"start {self.start} is after end {self.end}")
        if self.first_month < 2007 * 12 or self.last_month > 2020 * 12 + 2:
            raise ValueError(f"{self.start}..{self.end} is outside the 2007-01..2020-03 range of LendingClub's data")

    @property
    def first_month(self) -> int:
        return _month_index(self.start)

    @property
    def last_month(self) -> int:
        return _month_index(self.end)


def _month_index(text: str) -> int:
    try:
        year, month = (int(p) for p in text.split("-"))
        if not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise ValueError(f"month {text!r} must look like 2007-01") from None
    return year * 12 + month - 1


def parse_shift(text: str | None) -> dict[str, float]:
    """`annual_inc=-0.2,dti=+5` -> {"annual_inc": -0.2, "dti": 5.0}; amounts scale by (1+x), others add x."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"shift {part!r} must look like column=number")
        name = name.strip()
        if name not in SHIFT_RELATIVE + SHIFT_ADDITIVE:
            raise ValueError(f"cannot shift {name!r}: choose from {', '.join(SHIFT_RELATIVE + SHIFT_ADDITIVE)}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"shift {part!r}: {value!r} is not a number") from None
        if name in SHIFT_RELATIVE and out[name] <= -1:
            raise ValueError(f"shift {part!r}: a relative shift must be above -1")
    return out


def monthly_counts(rows: int, first: int, last: int) -> np.ndarray:
    """Rows per month (index first..last) following LendingClub's yearly volumes, summing to `rows`."""
    months = np.arange(first, last + 1)
    weight = np.array([YEARLY_VOLUME[m // 12] / (3 if m // 12 == 2020 else 12) for m in months], dtype=float)
    weight *= 1 + 0.004 * (months % 12)  # volumes grew within each year too
    exact = rows * weight / weight.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts), kind="stable")[: rows - counts.sum()]] += 1
    return counts


def _fmt(values: np.ndarray, decimals: int | None = None, dot0: bool = False, mask: np.ndarray | None = None) -> pa.Array:
    """Numbers as LendingClub writes them (NaN or `mask` -> missing); `dot0` gives Kaggle's `6000.0`."""
    arr = pa.array(values, from_pandas=True, mask=mask)
    if decimals is not None:
        arr = pc.round(arr, decimals)
    text = pc.cast(arr, pa.string())
    if dot0:
        text = pc.if_else(pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, ".0", ""))
    return text


_FIRST_LABEL_YEAR = 1900
_MONTH_LABELS = pa.array([f"{MONTHS[m % 12]}-{m // 12}" for m in range(_FIRST_LABEL_YEAR * 12, 2031 * 12)], pa.string())


def _month_text(month_index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Month indexes as LendingClub's `Dec-2011` labels (a table lookup: no per-row formatting)."""
    labels = _MONTH_LABELS.take(pa.array(month_index - _FIRST_LABEL_YEAR * 12))
    return labels if mask is None else pc.if_else(pa.array(mask), pa.nulls(len(labels), pa.string()), labels)


def _choice(rng: np.random.Generator, options: list, p: np.ndarray | list, n: int) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=p / p.sum())]


def _emp_titles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Free text with tens of thousands of spellings: role, seniority, employer, casing and stray spaces."""
    role = np.asarray(JOBS, dtype=object)[np.minimum(rng.zipf(1.6, n) - 1, len(JOBS) - 1)]
    senior = np.asarray(SENIORITY, dtype=object)[rng.integers(0, len(SENIORITY), n)]
    employer = np.char.add(np.char.add(np.asarray(EMPLOYER_A)[rng.integers(0, len(EMPLOYER_A), n)], " "),
                           np.asarray(EMPLOYER_B)[rng.integers(0, len(EMPLOYER_B), n)]).astype(object)
    number = rng.integers(1, 400, n).astype(str).astype(object)
    kind = rng.random(n)
    title = np.where(kind < 0.55, senior + role, np.where(kind < 0.8, employer + " " + number, senior + role + ", " + employer))
    case = rng.random(n)
    title = np.where(case < 0.12, np.char.upper(title.astype(str)).astype(object),
                     np.where(case < 0.2, np.char.lower(title.astype(str)).astype(object), title))
    return np.where(rng.random(n) < 0.1, title + " ", title)


def _amortised(principal: np.ndarray, rate_pct: np.ndarray, term: np.ndarray, paid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Installment, and principal still owed after `paid` monthly payments."""
    r = rate_pct / 1200
    growth = (1 + r) ** term
    installment = principal * r * growth / (growth - 1)
    owed = principal * (1 + r) ** paid - installment * ((1 + r) ** paid - 1) / r
    return installment, np.clip(owed, 0, None)


def _chunk(spec: GenerateSpec, first_row: int, months: np.ndarray) -> dict[str, pa.Array]:
    """Loans first_row.. issued in `months` (month index per row), as formatted text columns."""
    rng = np.random.default_rng([spec.seed, first_row])
    shift = dict(spec.shift)
    n = len(months)
    year = months // 12
    kaggle = spec.layout == "kaggle"
    z = rng.standard_normal(n)  # latent credit risk: higher is riskier
    term = np.where(rng.random(n) < 0.18 + 0.1 * (year >= 2014) + 0.05 * (z > 0.5), 60, 36)
    fico_low = np.clip(np.round((697 - 28 * z + 22 * rng.standard_normal(n) + shift.get("fico", 0)) / 5) * 5, 660, 845)
    sub_grade = np.clip(np.round(9 + 5.5 * z + 3 * rng.standard_normal(n) + 2.0 * (term == 60)), 0, 34).astype(int)
    base_rate = np.interp(year, [2007, 2010, 2013, 2016, 2019, 2020], [7.5, 6.0, 6.5, 5.3, 6.0, 5.5])
    int_rate = np.round(np.clip(base_rate + 0.72 * sub_grade + 0.25 * rng.standard_normal(n) + shift.get("int_rate", 0), 5.31, 30.99), 2)
    income = np.exp(11.0 + 0.55 * rng.standard_normal(n) - 0.08 * z) * (1 + shift.get("annual_inc", 0))
    income = np.round(np.where(rng.random(n) < 0.6, np.round(income, -3), income), 2)
    cap = np.where(year >= 2016, 40000, 35000)
    loan_amnt = np.clip(np.round(income * rng.uniform(0.05, 0.35, n) * (1 + shift.get("loan_amnt", 0)) / 25) * 25, 1000, cap)
    installment, _ = _amortised(loan_amnt, int_rate, term, np.zeros(n))
    emp_idx = np.clip(np.round(rng.gamma(1.6, 3.2, n)), 0, 10).astype(int)
    emp_missing = rng.random(n) < 0.065
    dti = np.clip(17 + 8 * rng.standard_normal(n) + 2.5 * z + shift.get("dti", 0), 0, 39.99)
    dti = np.round(np.where(rng.random(n) < 0.0008, 999.0, np.where(rng.random(n) < 0.0004, -1.0, dti)), 2)
    inq = np.clip(rng.poisson(np.clip(0.55 + 0.3 * z + shift.get("inq_last_6mths", 0), 0.01, None)), 0, 8)
    revol_util = np.round(np.clip(52 + 22 * rng.standard_normal(n) + 6 * z + shift.get("revol_util", 0), 0, 150), 1)
    open_acc = np.clip(rng.poisson(11, n), 1, 60)
    total_acc = open_acc + rng.poisson(13, n)
    revol_bal = np.round(np.clip(rng.lognormal(9.2, 1.0, n), 0, 2e6) * (1 + shift.get("revol_bal", 0)))
    credit_age = np.clip(np.round(rng.lognormal(5.1, 0.45, n)), 24, 700).astype(int)
    purpose_i = rng.choice(len(PURPOSES), n, p=np.array([p[2] for p in PURPOSES]) / sum(p[2] for p in PURPOSES))
    home_i = rng.choice(len(HOMES), n, p=np.array([h[1] for h in HOMES]) / sum(h[1] for h in HOMES))
    state_i = rng.choice(len(STATES), n, p=STATE_P / STATE_P.sum())
    pub_rec = rng.poisson(0.2 + 0.1 * (z > 1), n)
    delinq = rng.poisson(np.clip(0.25 + 0.15 * z, 0.01, None))
    joint = (months >= 2015 * 12 + 9) & (rng.random(n) < 0.07)
    # Default: observed risk drivers, a part of z the features miss, and idiosyncratic noise.
    logit = (-1.95 + 0.085 * (sub_grade - 10) + 0.3 * (term == 60) + 0.010 * (dti.clip(0, 40) - 17)
             + 0.08 * (inq - 0.6) - 0.12 * np.log(income / 60000) + 0.07 * (emp_missing)
             + np.array([p[3] for p in PURPOSES])[purpose_i] + np.array([h[2] for h in HOMES])[home_i]
             + 0.004 * (revol_util - 52) - 0.003 * (credit_age - 170) / 12 + 0.35 * rng.standard_normal(n)
             + 0.08 * (year == 2016) - 0.05 * (year <= 2011))
    defaults = rng.random(n) < 1 / (1 + np.exp(-logit))
    # Timeline: default month (payments made before it) or payoff month (early repayment is common).
    default_after = np.clip(np.round(rng.gamma(2.2, 6.5, n)), 1, term - 1).astype(int)
    payoff_after = np.where(rng.random(n) < 0.55, np.clip(np.round(rng.uniform(6, term)), 3, term), term).astype(int)
    end = months + np.where(defaults, default_after + 5, payoff_after)
    finished = end <= SNAPSHOT
    paid = np.where(defaults, default_after, payoff_after)
    paid = np.where(finished, paid, np.clip(SNAPSHOT - months, 0, term))
    late_phase = defaults & ~finished & (months + default_after <= SNAPSHOT)
    status = np.where(finished, np.where(defaults, "Charged Off", "Fully Paid"), "Current").astype(object)
    r = rng.random(n)
    running = ~finished
    status = np.where(late_phase, np.where(r < 0.5, "Late (31-120 days)", np.where(r < 0.8, "Late (16-30 days)", "In Grace Period")), status)
    status = np.where(running & ~defaults & (r < 0.012), "In Grace Period", status)
    status = np.where(running & ~defaults & (r > 0.992), "Late (16-30 days)", status)
    status = np.where(defaults & finished & (end > SNAPSHOT - 2) & (r < 0.3), "Default", status)
    status = np.where((months >= SNAPSHOT - 7) & running & (r > 0.985), "Issued", status)
    policy = (year <= 2010) & (rng.random(n) < 0.035) & finished
    status = np.where(policy, "Does not meet the credit policy. Status:" + status, status)
    _, owed = _amortised(loan_amnt, int_rate, term, paid)
    principal_paid = np.where(finished & ~defaults, loan_amnt, loan_amnt - owed)
    interest = np.maximum(installment * paid - (loan_amnt - owed), 0)
    recoveries = np.where(defaults & finished, np.round(owed * rng.uniform(0, 0.15, n), 2), 0.0)
    late_fee = np.where(defaults & (rng.random(n) < 0.3), np.round(rng.uniform(10, 60, n), 2), 0.0)
    total_pymnt = principal_paid + interest + recoveries + late_fee
    out_prncp = np.where(finished, 0.0, np.round(owed, 2))
    last_fico = np.where(defaults, fico_low - rng.uniform(60, 180, n), fico_low + rng.normal(10, 25, n))
    last_fico = np.clip(np.round(last_fico / 5) * 5, 300, 845)
    ids = 1_000_000 + first_row + np.arange(n)
    bureau = months >= 2012 * 12
    new_bureau = months >= 2015 * 12 + 11
    sec_app = joint & (months >= 2017 * 12)
    late_era = months >= 2018 * 12
    hardship = late_era & (rng.random(n) < 0.006)
    settlement = defaults & finished & (rng.random(n) < 0.12)
    cols: dict[str, pa.Array] = {}
    no_id = late_era if not kaggle else np.zeros(n, bool)
    cols["id"] = _fmt(ids.astype(float), mask=no_id)
    cols["member_id"] = pa.nulls(n, pa.string())
    for name, value in (("loan_amnt", loan_amnt), ("funded_amnt", loan_amnt), ("funded_amnt_inv", loan_amnt - np.where(rng.random(n) < 0.1, 25, 0))):
        cols[name] = _fmt(value, 0, dot0=kaggle)
    cols["term"] = pa.array(np.where(term == 60, " 60 months", " 36 months").astype(object), pa.string())
    cols["int_rate"] = _fmt(int_rate, 2) if kaggle else pc.binary_join_element_wise(" ", _fmt(int_rate, 2), "%", "")
    cols["installment"] = _fmt(installment, 2)
    cols["grade"] = pa.array(np.asarray(list(GRADES), dtype=object)[sub_grade // 5], pa.string())
    cols["sub_grade"] = pa.array(np.asarray(list(GRADES), dtype=object)[sub_grade // 5] + (sub_grade % 5 + 1).astype(str).astype(object), pa.string())
    emp_titles = _emp_titles(rng, n)
    cols["emp_title"] = pa.array(emp_titles, mask=rng.random(n) < 0.065, type=pa.string())
    emp_length = np.asarray(EMP_LENGTHS, dtype=object)[emp_idx]
    cols["emp_length"] = pa.array(emp_length, mask=emp_missing, type=pa.string())
    cols["home_ownership"] = pa.array(np.asarray([h[0] for h in HOMES], dtype=object)[home_i], pa.string())
    cols["annual_inc"] = _fmt(income, 2, dot0=kaggle)
    verified = _choice(rng, ["Not Verified", "Source Verified", "Verified"], [0.33, 0.38, 0.29], n)
    cols["verification_status"] = pa.array(verified, pa.string())
    cols["issue_d"] = _month_text(months)
    cols["loan_status"] = pa.array(status, pa.string())
    cols["pymnt_plan"] = pa.array(np.where(hardship, "y", "n").astype(object), pa.string())
    cols["url"] = pc.binary_join_element_wise("https://lendingclub.com/browse/loanDetail.action?loan_id=", cols["id"], "")
    desc = np.where(rng.random(n) < 0.5, "Borrower added on 01/01/11 > consolidating my cards, lower rate", "  ")
    cols["desc"] = pa.array(desc.astype(object), mask=~((year <= 2013) & (rng.random(n) < 0.3)), type=pa.string())
    cols["purpose"] = pa.array(np.asarray([p[0] for p in PURPOSES], dtype=object)[purpose_i], pa.string())
    cols["title"] = pa.array(np.asarray([p[1] for p in PURPOSES], dtype=object)[purpose_i], pa.string())
    cols["zip_code"] = pa.array((rng.integers(10, 999, n).astype(str).astype(object)), pa.string())
    cols["zip_code"] = pc.binary_join_element_wise(pc.utf8_lpad(cols["zip_code"], 3, "0"), "xx", "")
    cols["addr_state"] = pa.array(np.asarray(STATES, dtype=object)[state_i], pa.string())
    cols["dti"] = _fmt(dti, 2)
    cols["delinq_2yrs"] = _fmt(delinq.astype(float), dot0=kaggle)
    cols["earliest_cr_line"] = _month_text(months - credit_age)
    cols["fico_range_low"] = _fmt(fico_low, dot0=True)
    cols["fico_range_high"] = _fmt(fico_low + 4, dot0=True)
    cols["inq_last_6mths"] = _fmt(inq.astype(float), dot0=kaggle)
    cols["mths_since_last_delinq"] = _fmt(rng.integers(0, 120, n).astype(float), dot0=kaggle, mask=rng.random(n) < 0.5)
    cols["mths_since_last_record"] = _fmt(rng.integers(0, 120, n).astype(float), dot0=kaggle, mask=rng.random(n) < 0.84)
    cols["open_acc"] = _fmt(open_acc.astype(float), dot0=kaggle)
    cols["pub_rec"] = _fmt(pub_rec.astype(float), dot0=kaggle)
    cols["revol_bal"] = _fmt(revol_bal, dot0=kaggle)
    cols["revol_util"] = _fmt(revol_util, 1, mask=rng.random(n) < 0.0008)
    if not kaggle:
        cols["revol_util"] = pc.binary_join_element_wise(cols["revol_util"], "%", "")
    cols["total_acc"] = _fmt(total_acc.astype(float), dot0=kaggle)
    cols["initial_list_status"] = pa.array(np.where(rng.random(n) < 0.65 * (year >= 2013), "w", "f").astype(object), pa.string())
    cols["out_prncp"] = _fmt(out_prncp, 2)
    cols["out_prncp_inv"] = _fmt(out_prncp, 2)
    cols["total_pymnt"] = _fmt(total_pymnt, 2)
    cols["total_pymnt_inv"] = _fmt(total_pymnt, 2)
    cols["total_rec_prncp"] = _fmt(principal_paid, 2)
    cols["total_rec_int"] = _fmt(interest, 2)
    cols["total_rec_late_fee"] = _fmt(late_fee, 2)
    cols["recoveries"] = _fmt(recoveries, 2)
    cols["collection_recovery_fee"] = _fmt(np.round(recoveries * 0.18, 2), 2)
    cols["last_pymnt_d"] = _month_text(np.minimum(months + np.maximum(paid, 1), SNAPSHOT), mask=paid == 0)
    cols["last_pymnt_amnt"] = _fmt(np.where(finished & ~defaults, installment + rng.uniform(0, 1, n) * owed, installment), 2)
    cols["next_pymnt_d"] = _month_text(np.full(n, SNAPSHOT + 1), mask=finished)
    cols["last_credit_pull_d"] = _month_text(np.minimum(end + 1, SNAPSHOT))
    cols["last_fico_range_high"] = _fmt(last_fico + 4, dot0=True)
    cols["last_fico_range_low"] = _fmt(last_fico, dot0=True)
    cols["collections_12_mths_ex_med"] = _fmt(rng.poisson(0.02, n).astype(float), dot0=kaggle)
    cols["mths_since_last_major_derog"] = _fmt(rng.integers(0, 150, n).astype(float), dot0=kaggle, mask=rng.random(n) < 0.74)
    cols["policy_code"] = _fmt(np.ones(n), dot0=kaggle)
    cols["application_type"] = pa.array(np.where(joint, "Joint App", "Individual").astype(object), pa.string())
    cols["annual_inc_joint"] = _fmt(np.round(income * rng.uniform(1.3, 2.2, n), 0), dot0=kaggle, mask=~joint)
    cols["dti_joint"] = _fmt(np.round(dti.clip(0, 40) * rng.uniform(0.6, 0.95, n), 2), mask=~joint)
    cols["verification_status_joint"] = pa.array(_choice(rng, ["Not Verified", "Source Verified", "Verified"], [.5, .3, .2], n), mask=~joint, type=pa.string())
    cols["acc_now_delinq"] = _fmt(rng.poisson(0.005, n).astype(float), dot0=kaggle)
    tot_cur_bal = np.round(rng.lognormal(10.8, 1.2, n) * (1 + shift.get("tot_cur_bal", 0)))
    total_rev_hi_lim = np.round(revol_bal / np.clip(revol_util, 5, None) * 100 * (1 + shift.get("total_rev_hi_lim", 0)))
    bureau_values = {
        "tot_cur_bal": tot_cur_bal, "total_rev_hi_lim": total_rev_hi_lim,
        "bc_util": np.round(np.clip(revol_util + rng.normal(5, 12, n), 0, 150), 1),
        "mo_sin_old_rev_tl_op": np.clip(credit_age + rng.integers(-12, 3, n), 3, None).astype(float),
        "percent_bc_gt_75": np.round(np.clip(40 + 30 * rng.standard_normal(n) + 8 * z, 0, 100), 1),
        "num_actv_rev_tl": np.clip(rng.poisson(5.5, n), 0, 40).astype(float),
        "acc_open_past_24mths": np.clip(rng.poisson(np.clip(4.5 + 0.6 * z, 0.1, None)), 0, 40).astype(float),
        "mort_acc": np.where(home_i == 0, rng.poisson(2.5, n), rng.poisson(0.3, n)).astype(float),
        "avg_cur_bal": np.round(tot_cur_bal / np.clip(open_acc, 1, None)),
    }
    for name in FROM_2012 + FROM_DEC_2015 + ("tot_coll_amt",):
        if name in cols:
            continue
        era = new_bureau if name in FROM_DEC_2015 else bureau
        value = bureau_values.get(name, np.round(rng.gamma(1.5, 6, n)))
        cols[name] = _fmt(value.astype(float), dot0=kaggle, mask=~era)
    cols["pub_rec_bankruptcies"] = _fmt(np.minimum(pub_rec, rng.poisson(0.12, n)).astype(float), dot0=kaggle, mask=rng.random(n) < 0.001)
    cols["tax_liens"] = _fmt(rng.poisson(0.04, n).astype(float), dot0=kaggle)
    cols["revol_bal_joint"] = _fmt(np.round(revol_bal * rng.uniform(1.2, 2, n)), dot0=kaggle, mask=~sec_app)
    sec_values = {"sec_app_fico_range_low": np.round((fico_low + rng.normal(0, 30, n)).clip(660, 845) / 5) * 5,
                  "sec_app_revol_util": np.round(np.clip(revol_util + rng.normal(0, 20, n), 0, 150), 1)}
    sec_values["sec_app_fico_range_high"] = sec_values["sec_app_fico_range_low"] + 4
    for name in KAGGLE:
        if name.startswith("sec_app_") and name not in cols:
            if name == "sec_app_earliest_cr_line":
                cols[name] = _month_text(months - np.clip(credit_age + rng.integers(-60, 60, n), 24, None), mask=~sec_app)
            else:
                cols[name] = _fmt(sec_values.get(name, rng.poisson(2.0, n).astype(float)), dot0=kaggle, mask=~sec_app)
    cols["hardship_flag"] = pa.array(np.where(hardship, "Y", "N").astype(object), mask=~(months >= 2017 * 12), type=pa.string())
    hardship_text = {"hardship_type": "INTEREST ONLY-3 MONTHS DEFERRAL", "hardship_reason": "NATURAL_DISASTER",
                     "hardship_status": "COMPLETED", "hardship_loan_status": "Late (16-30 days)"}
    for name in KAGGLE:
        if (name.startswith("hardship_") and name != "hardship_flag") or name in ("deferral_term", "payment_plan_start_date",
                                                                                   "orig_projected_additional_accrued_interest"):
            if name in hardship_text:
                cols[name] = pa.array(np.full(n, hardship_text[name], dtype=object), mask=~hardship, type=pa.string())
            elif name.endswith("_date"):
                cols[name] = _month_text(np.minimum(months + 12, SNAPSHOT), mask=~hardship)
            else:
                cols[name] = _fmt(np.round(rng.uniform(1, 300, n), 2), mask=~hardship)
    cols["disbursement_method"] = pa.array(np.where(rng.random(n) < 0.04, "DirectPay", "Cash").astype(object), pa.string())
    cols["debt_settlement_flag"] = pa.array(np.where(settlement, "Y", "N").astype(object), pa.string())
    cols["debt_settlement_flag_date"] = _month_text(np.minimum(end, SNAPSHOT), mask=~settlement)
    cols["settlement_status"] = pa.array(np.full(n, "COMPLETE", dtype=object), mask=~settlement, type=pa.string())
    cols["settlement_date"] = _month_text(np.minimum(end, SNAPSHOT), mask=~settlement)
    cols["settlement_amount"] = _fmt(np.round(owed * 0.45, 2), mask=~settlement)
    cols["settlement_percentage"] = _fmt(np.round(rng.uniform(30, 65, n), 2), mask=~settlement)
    cols["settlement_term"] = _fmt(rng.integers(0, 24, n).astype(float), dot0=kaggle, mask=~settlement)
    for name in ("mths_since_recent_bc_dlq", "mths_since_recent_revol_delinq"):  # sparse delinquency recency
        cols[name] = _fmt(rng.integers(0, 150, n).astype(float), dot0=kaggle, mask=~bureau | (rng.random(n) < 0.7))
    return cols


def _csv_field(text: pa.Array, quote_all: bool) -> pa.Array:
    """CSV quoting: every value (website export) or only values with a comma, quote or newline (Kaggle)."""
    text = pc.fill_null(text, "")
    escaped = pc.replace_substring(text, '"', '""')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    if quote_all:
        return quoted
    return pc.if_else(pc.match_substring_regex(text, '[,"\n]'), quoted, text)


def _lines(cols: dict[str, pa.Array], columns: tuple[str, ...], quote_all: bool) -> str:
    fields = [_csv_field(cols[c], quote_all) for c in columns]
    joined = pc.binary_join_element_wise(*fields, ",")
    return "\n".join(joined.to_pylist()) + "\n"


def _files(spec: GenerateSpec, counts: np.ndarray) -> list[tuple[str, int, int]]:
    """(file stem, first row, end row): one Kaggle file, or LendingClub's era files for the website export."""
    total = int(counts.sum())
    name = f"accepted_{spec.start}_to_{spec.end}"
    if spec.layout == "kaggle":
        return [(name, 0, total)]
    months = np.arange(spec.first_month, spec.last_month + 1)
    def era(m: int) -> str:
        y = m // 12
        return "LoanStats3a" if y <= 2011 else "LoanStats3b" if y <= 2013 else "LoanStats3c" if y == 2014 else \
            "LoanStats3d" if y == 2015 else f"LoanStats_{y}Q{(m % 12) // 3 + 1}"
    bounds = np.concatenate([[0], np.cumsum(counts)])
    files: list[tuple[str, int, int]] = []
    for i, m in enumerate(months):
        if files and files[-1][0] == era(m):
            files[-1] = (files[-1][0], files[-1][1], int(bounds[i + 1]))
        else:
            files.append((era(m), int(bounds[i]), int(bounds[i + 1])))
    return [f for f in files if f[2] > f[1]]


def _row_months(spec: GenerateSpec, counts: np.ndarray, first: int, end: int) -> np.ndarray:
    starts = np.concatenate([[0], np.cumsum(counts)])
    rows = np.arange(first, end)
    return spec.first_month + np.searchsorted(starts, rows, side="right") - 1


def iter_text(spec: GenerateSpec, first: int, end: int, counts: np.ndarray) -> Iterator[tuple[str, int]]:
    """CSV text of rows first..end in fixed chunks (chunk boundaries depend only on the row number)."""
    columns = KAGGLE if spec.layout == "kaggle" else LOANSTATS
    row = first
    while row < end:
        chunk_no = row // CHUNK
        stop = min(end, (chunk_no + 1) * CHUNK)
        months = _row_months(spec, counts, row, stop)
        yield _lines(_chunk(spec, row, months), columns, spec.layout == "loanstats"), stop - row
        row = stop


def generate_exports(out_dir: str | Path, rows: int, seed: int, layout: str = "kaggle", start: str = "2007-01",
                     end: str = "2020-03", compress: bool = True, shift: dict[str, float] | None = None,
                     progress: bool | None = None) -> list[Path]:
    """Write raw LendingClub-shaped CSV exports into `out_dir`; returns the files written."""
    spec = GenerateSpec(rows, seed, layout, start, end, tuple(sorted((shift or {}).items())))
    counts = monthly_counts(rows, spec.first_month, spec.last_month)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=rows, unit="rows", desc="generate")
    columns = KAGGLE if layout == "kaggle" else LOANSTATS
    written = []
    for stem, first, stop in _files(spec, counts):
        path = out / (f"{stem}.csv.gz" if compress else f"{stem}.csv")
        with open(path, "wb") as raw:
            stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=5) if compress else raw
            text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
            if layout == "loanstats":
                text.write(PROSPECTUS_LINE + "\n")
                text.write(",".join(f'"{c}"' for c in columns) + "\n")
            else:
                text.write(",".join(columns) + "\n")
            for chunk_text, n in iter_text(spec, first, stop, counts):
                text.write(chunk_text)
                if bar is not None:
                    bar.update(n)
            if layout == "loanstats":
                funded = 15_000 * (stop - first)
                text.write(f'\n"Total amount funded in policy code 1: {funded}"\n"Total amount funded in policy code 2: {funded // 9}"\n')
            text.flush()
            text.detach()
            if compress:
                stream.close()
        written.append(path)
    if bar is not None:
        bar.close()
    return written

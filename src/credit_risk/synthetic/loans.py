"""The synthetic loan population: who borrows, how LendingClub prices them, and how each loan ends.

A latent credit risk `q` (standard normal, higher is riskier) is seen only through noisy views: FICO,
dti, income, inquiries, revolving utilisation, credit age and LendingClub's own sub_grade (which also
uses bureau data the file does not show). Default depends on `q`, on term, purpose, home ownership,
state, verification, employment and vintage, plus idiosyncratic noise, so a model on origination
features ranks risk with an AUC near 0.7 and no better. Each loan then gets a timeline against the
Sep-2020 snapshot (payoff, default month, charge-off five months later) from which its status and
every payment column follow, so that leakage from post-origination columns shows.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SNAPSHOT = 2020 * 12 + 8  # the data are as of Sep-2020 (month index = year * 12 + month - 1)
POLICY_PREFIX = "Does not meet the credit policy. Status:"
# (purpose, title LendingClub shows for it, share, default log-odds effect)
PURPOSES = [
    ("debt_consolidation", "Debt consolidation", 0.57, 0.05),
    ("credit_card", "Credit card refinancing", 0.22, -0.15),
    ("home_improvement", "Home improvement", 0.065, -0.08),
    ("other", "Other", 0.06, 0.15),
    ("major_purchase", "Major purchase", 0.02, 0.0),
    ("medical", "Medical expenses", 0.012, 0.15),
    ("small_business", "Business", 0.012, 0.55),
    ("car", "Car financing", 0.011, -0.1),
    ("moving", "Moving and relocation", 0.007, 0.2),
    ("vacation", "Vacation", 0.006, 0.05),
    ("house", "Home buying", 0.005, 0.1),
    ("renewable_energy", "Green loan", 0.001, 0.1),
    ("wedding", "Wedding", 0.002, -0.05),
    ("educational", "Learning and training", 0.001, 0.2),
]
# (state, share %, first and last 3-digit ZIP prefix, default log-odds effect)
STATES = [
    ("CA", 14, 900, 961, 0),
    ("NY", 8.3, 100, 149, 0.06),
    ("TX", 8.2, 750, 799, 0),
    ("FL", 7.1, 320, 349, 0.08),
    ("IL", 4, 600, 629, 0),
    ("NJ", 3.6, 70, 89, 0.03),
    ("PA", 3.4, 150, 196, 0),
    ("OH", 3.3, 430, 459, 0),
    ("GA", 3.2, 300, 319, 0),
    ("VA", 2.9, 220, 246, 0),
    ("NC", 2.8, 270, 289, 0),
    ("MI", 2.6, 480, 499, 0.03),
    ("MD", 2.4, 206, 219, 0.04),
    ("AZ", 2.4, 850, 865, 0),
    ("MA", 2.3, 10, 27, -0.03),
    ("WA", 2.1, 980, 994, -0.08),
    ("CO", 2.1, 800, 816, -0.1),
    ("MN", 1.8, 550, 567, 0),
    ("MO", 1.6, 630, 658, 0.03),
    ("IN", 1.6, 460, 479, 0.03),
    ("CT", 1.5, 60, 69, -0.03),
    ("TN", 1.5, 370, 385, 0.05),
    ("NV", 1.5, 889, 898, 0.12),
    ("WI", 1.3, 530, 549, -0.02),
    ("AL", 1.2, 350, 369, 0.1),
    ("OR", 1.2, 970, 979, -0.08),
    ("SC", 1.2, 290, 299, -0.05),
    ("LA", 1.1, 700, 714, 0.1),
    ("KY", 1, 400, 427, 0.04),
    ("OK", 0.9, 730, 749, 0.08),
    ("KS", 0.8, 660, 679, -0.05),
    ("AR", 0.8, 716, 729, 0.08),
    ("UT", 0.8, 840, 847, -0.05),
    ("NM", 0.6, 870, 884, 0.05),
    ("HI", 0.5, 967, 968, 0.05),
    ("MS", 0.5, 386, 397, 0.1),
    ("NH", 0.5, 30, 38, -0.1),
    ("RI", 0.4, 28, 29, 0),
    ("WV", 0.4, 247, 268, -0.05),
    ("NE", 0.4, 680, 693, 0.1),
    ("DE", 0.3, 197, 199, 0),
    ("MT", 0.3, 590, 599, -0.05),
    ("DC", 0.3, 200, 205, -0.15),
    ("AK", 0.3, 995, 999, 0),
    ("WY", 0.2, 820, 831, -0.05),
    ("VT", 0.2, 50, 59, -0.12),
    ("SD", 0.2, 570, 577, 0.03),
    ("ME", 0.2, 39, 49, -0.12),
    ("ND", 0.2, 580, 588, 0),
    ("ID", 0.2, 832, 838, 0),
]
EMP_LENGTHS = [
    "< 1 year",
    "1 year",
    "2 years",
    "3 years",
    "4 years",
    "5 years",
    "6 years",
    "7 years",
    "8 years",
    "9 years",
    "10+ years",
]
EMP_LENGTH_P = [8, 6.5, 9, 8, 6, 6.2, 4.6, 4.4, 4.4, 3.8, 33]
# Job titles, most common first (the order sets their popularity).
ROLE_LIST = [
    "Teacher",
    "Manager",
    "Owner",
    "Registered Nurse",
    "Supervisor",
    "Driver",
    "Sales",
    "RN",
    "Project Manager",
    "Office Manager",
    "General Manager",
    "Director",
    "Truck Driver",
    "Engineer",
    "President",
    "Analyst",
    "Account Manager",
    "Technician",
    "Accountant",
    "Operations Manager",
    "Police Officer",
    "Store Manager",
    "Administrative Assistant",
    "Mechanic",
    "Software Engineer",
    "Customer Service",
    "Nurse",
    "Consultant",
    "Electrician",
    "Sales Manager",
    "Paralegal",
    "Controller",
    "Pharmacist",
    "Welder",
    "Server",
    "Machine Operator",
    "Branch Manager",
    "Attorney",
    "Physician",
    "Executive Assistant",
    "Carpenter",
    "Operator",
    "Clerk",
    "Foreman",
    "Cashier",
    "Vice President",
    "Program Manager",
    "Bartender",
    "Instructor",
    "Professor",
    "Firefighter",
    "Social Worker",
    "Dental Hygienist",
    "Plumber",
    "Medical Assistant",
    "LPN",
    "Maintenance",
    "Warehouse Associate",
    "Loan Officer",
    "Receptionist",
    "Designer",
    "Coordinator",
    "Specialist",
    "Security Officer",
    "Pilot",
    "Chef",
    "Cook",
    "Therapist",
    "Counselor",
    "Pastor",
    "Realtor",
    "Buyer",
    "Planner",
    "Auditor",
    "Underwriter",
    "Dispatcher",
    "Laborer",
    "Painter",
    "Mail Carrier",
    "Letter Carrier",
    "Correctional Officer",
    "Bus Driver",
    "Housekeeper",
    "Caregiver",
    "Bookkeeper",
    "Principal",
    "Librarian",
    "Scientist",
    "Developer",
    "Architect",
    "Estimator",
    "Inspector",
    "Installer",
    "Machinist",
    "Pharmacy Technician",
    "Respiratory Therapist",
    "Surgical Tech",
    "Paramedic",
    "Sergeant",
    "Soldier",
    "Business Analyst",
    "Data Analyst",
    "Systems Administrator",
    "Network Engineer",
    "Product Manager",
    "Recruiter",
    "Trainer",
]
PREFIXES = [
    "Senior ",
    "Sr. ",
    "Sr ",
    "Lead ",
    "Assistant ",
    "Associate ",
    "Chief ",
    "Junior ",
    "Staff ",
    "Principal ",
    "Head ",
    "Deputy ",
    "Regional ",
    "District ",
]
EMPLOYER_A = [
    "North",
    "Blue",
    "First",
    "United",
    "Pacific",
    "Summit",
    "River",
    "Metro",
    "Eagle",
    "Pioneer",
    "Liberty",
    "Golden",
    "Granite",
    "Harbor",
    "Valley",
    "Prairie",
    "Atlas",
    "Coastal",
    "Sierra",
    "Union",
    "American",
    "National",
    "Southern",
    "Western",
    "Central",
    "Atlantic",
    "Mountain",
    "Lake",
    "Capital",
    "Premier",
    "Allied",
    "Evergreen",
    "Heritage",
    "Frontier",
    "Keystone",
    "Midwest",
    "Cardinal",
    "Landmark",
    "Sterling",
    "Apex",
    "Horizon",
    "Pinnacle",
    "Redwood",
    "Silver",
    "Oak",
    "Maple",
    "Cedar",
    "Lincoln",
    "Franklin",
    "Washington",
    "Jefferson",
    "Madison",
    "Hamilton",
    "Clark",
    "Baker",
    "Miller",
    "Johnson",
    "Walker",
]
EMPLOYER_B = [
    "Logistics",
    "Health",
    "Foods",
    "Bank",
    "Motors",
    "Systems",
    "Energy",
    "Medical Center",
    "School District",
    "Construction",
    "Insurance",
    "Retail",
    "Airlines",
    "Labs",
    "Partners",
    "Hospital",
    "University",
    "County",
    "Electric",
    "Telecom",
    "Transport",
    "Manufacturing",
    "Pharmacy",
    "Realty",
    "Consulting",
    "Solutions",
    "Services",
    "Industries",
    "Steel",
    "Plastics",
    "Farms",
    "Dental",
    "Auto Parts",
    "Credit Union",
    "Church",
    "Security",
    "Staffing",
    "Software",
    "Marketing",
]
EMPLOYER_SUFFIX = ["", "", "", " Inc", " LLC", " Inc.", " Corp", " Co", " Group", ",  LLC"]
FREE_TITLES = [
    "Debt Consolidation Loan",
    "Credit Card Payoff",
    "consolidate",
    "Debt consolidation",
    "Personal Loan",
    "Home Improvement",
    "Car Loan",
    "Business Loan",
    "My Loan",
    "Wedding",
    "Consolidation",
    "Freedom",
    "Get out of debt",
    "Pay off credit cards",
    "Credit Card Refinance",
    "loan",
    "Medical",
    "Moving",
    "Debt Free, Finally",
    "Chase and Amex Pay-Off",
    "bills",
    "Summer 2011",
    "Starting fresh",
]
DESC_TEXT = [
    "I want to consolidate my credit cards into one payment.",
    "Paying off high interest cards, then closing them.",
    "Need to repair my car so I can get to work.",
    "Consolidating debt; I have never missed a payment.",
    'Lowering my "ridiculous" credit card rate.',
    "Home improvement: new roof and windows.",
    "Stable job for 8 years, want to be debt free in 3.",
    "Medical bills from last year.",
]
# Bureau fields LendingClub added from 2012 on: (name, draw, parameter); empty for earlier loans (column drift).
BUREAU_COUNTS = [
    ("acc_open_past_24mths", 4.5),
    ("mo_sin_rcnt_rev_tl_op", 13),
    ("mo_sin_rcnt_tl", 8),
    ("mths_since_recent_bc", 24),
    ("num_accts_ever_120_pd", 0.5),
    ("num_actv_bc_tl", 3.6),
    ("num_actv_rev_tl", 5.6),
    ("num_bc_sats", 4.7),
    ("num_bc_tl", 7.7),
    ("num_il_tl", 8.4),
    ("num_op_rev_tl", 8.2),
    ("num_rev_accts", 14),
    ("num_rev_tl_bal_gt_0", 5.5),
    ("num_tl_90g_dpd_24m", 0.08),
    ("num_tl_op_past_12m", 2.1),
    ("chargeoff_within_12_mths", 0.01),
    ("num_tl_120dpd_2m", 0.001),
    ("num_tl_30dpd", 0.003),
]
NEW_BUREAU_COUNTS = [
    ("open_acc_6m", 0.9),
    ("open_act_il", 2.8),
    ("open_il_12m", 0.7),
    ("open_rv_12m", 1.3),
    ("inq_fi", 1.0),
    ("total_cu_tl", 1.5),
    ("mths_since_rcnt_il", 20),
]
BUREAU_FROM = 2012 * 12 + 2  # Mar-2012
BALANCES_FROM = 2012 * 12 + 7  # Aug-2012: tot_coll_amt, tot_cur_bal, total_rev_hi_lim
NEW_BUREAU_FROM = 2015 * 12 + 11  # Dec-2015: open_acc_6m .. inq_last_12m
JOINT_FROM = 2015 * 12 + 9  # Oct-2015: joint applications
SEC_APP_FROM = 2017 * 12 + 2  # Mar-2017: second applicant's bureau data
SIXTY_FROM = 2010 * 12 + 4  # May-2010: 60-month loans
EMPLOYER_ERA_END = 2013 * 12 + 8  # until Sep-2013 the form asked for the employer, then for the job title
# Default log-odds by vintage, 2007..2020: the 2008 crisis, the tighter 2009-2010 book, looser 2015-2016, COVID.
YEAR_EFFECT = np.array([0.45, 0.3, -0.1, -0.2, -0.05, 0, 0, 0.05, 0.12, 0.2, 0.15, 0.05, 0.1, 0.3])
STATUSES = [
    "Current",
    "Issued",
    "Charged Off",
    "Fully Paid",
    "In Grace Period",
    "Late (16-30 days)",
    "Default",
    "Late (31-120 days)",
    POLICY_PREFIX + "Charged Off",
    POLICY_PREFIX + "Fully Paid",
]


@cache
def _labels(name: str) -> pa.Array:
    """Constant string tables, built once: categories are written by index (`take`), never per row."""
    if name == "titles":
        return pa.array([p + r for p in [""] + PREFIXES for r in ROLE_LIST])
    if name == "employers":
        return pa.array([f"{a} {b}{s}" for s in EMPLOYER_SUFFIX for a in EMPLOYER_A for b in EMPLOYER_B])
    if name == "desc":  # "  Borrower added on 04/15/10 > text<br>" for each month of 2007-2013 and day 1-28
        return pa.array(
            [
                f"  Borrower added on {m % 12 + 1:02d}/{d:02d}/{m // 12 % 100:02d} > {t}<br>"
                for m in range(2007 * 12, 2014 * 12)
                for d in range(1, 29)
                for t in DESC_TEXT
            ]
        )
    if name == "zip":
        return pa.array([f"{z:03d}xx" for z in range(1000)])
    tables = {
        "purpose": [p[0] for p in PURPOSES],
        "title": [p[1] for p in PURPOSES] + FREE_TITLES,
        "state": [s[0] for s in STATES],
        "emp_length": EMP_LENGTHS,
    }
    return pa.array(tables[name])


def _text(table: str | list[str], codes: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    labels = _labels(table) if isinstance(table, str) else pa.array(table)
    return labels.take(pa.array(codes, mask=missing if missing is not None and missing.any() else None))


DESC_MAX_ENTRIES = 44  # about 4,000 characters, the longest descriptions of the 2007-2011 exports


def desc_entries(code: np.ndarray) -> np.ndarray:
    """How many `Borrower added on` entries a description holds: 1 to 44, heavy-tailed (median 4; about 5 % of
    descriptions pass 1,000 characters and 1 % pass 2,000, as in LoanStats3a). Derived from the description's own
    code rather than a new draw, so every other column of a seed stays as it was."""
    uniform = (code.astype(np.uint64) * np.uint64(2654435761) % np.uint64(2**32)).astype(np.float64) / 2**32
    return np.clip(np.floor(3.0 * (1.0 - uniform) ** (-1 / 2.2)), 1, DESC_MAX_ENTRIES).astype(np.int64)


def _nan(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    return np.where(missing, np.nan, values)


def _emp_titles(rng: np.random.Generator, months: np.ndarray, missing: np.ndarray) -> pa.Array:
    """Free text: employer names until Sep-2013, job titles after; long tail, noisy case and spacing.

    Popularity follows a power law (Teacher ~2 %, as in the real files) and four in ten job titles name
    the employer too (`Sr. Analyst, Blue Logistics`): that tail gives the hundreds of thousands of
    distinct spellings a full-size file has.
    """
    n = len(months)
    titles, employers = _labels("titles"), _labels("employers")
    role = np.floor(len(ROLE_LIST) * rng.random(n) ** 1.7).astype(int)
    prefix = np.where(rng.random(n) < 0.7, 0, rng.integers(1, len(PREFIXES) + 1, n))
    employer = np.floor(len(employers) * rng.random(n) ** 1.5).astype(int)
    title = titles.take(pa.array(prefix * len(ROLE_LIST) + role))
    short_employer = employers.take(
        pa.array(employer % (len(EMPLOYER_A) * len(EMPLOYER_B)))
    )  # without Inc, LLC
    with_employer = pc.binary_join_element_wise(title, short_employer, ", ")
    as_employer = (months <= EMPLOYER_ERA_END) | (rng.random(n) < 0.08)
    text = pc.if_else(
        pa.array(as_employer),
        employers.take(pa.array(employer)),
        pc.if_else(pa.array(rng.random(n) < 0.4), with_employer, title),
    )
    case = rng.random(n)
    text = pc.if_else(
        pa.array(case < 0.1),
        pc.utf8_upper(text),
        pc.if_else(pa.array(case < 0.18), pc.utf8_lower(text), text),
    )
    text = pc.if_else(pa.array(rng.random(n) < 0.08), pc.binary_join_element_wise(text, " ", ""), text)
    return pc.if_else(pa.array(missing), pa.nulls(n, pa.string()), text)


def _amortised(
    principal: np.ndarray, rate_pct: np.ndarray, term: np.ndarray, paid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Monthly installment, and principal still owed after `paid` installments."""
    r = rate_pct / 1200
    growth = (1 + r) ** term
    installment = principal * r * growth / (growth - 1)
    owed = principal * (1 + r) ** paid - installment * ((1 + r) ** paid - 1) / r
    return installment, np.clip(owed, 0, None)


def draw_loans(
    rng: np.random.Generator, months: np.ndarray, first_id: int, shift: dict[str, float]
) -> dict[str, np.ndarray | pa.Array]:
    """Loans issued in `months` (a month index per row): floats with NaN for missing, or text arrays."""
    n = len(months)
    year = months // 12
    s = lambda name: shift.get(name, 0.0)  # noqa: E731
    normal = lambda: rng.standard_normal(n)  # noqa: E731
    q = normal()  # latent credit risk
    c: dict[str, np.ndarray | pa.Array] = {}

    # Borrower profile: income log-normal, requested amounts in round numbers, caps by era.
    base_income = np.exp(11.05 + 0.55 * normal() - 0.10 * q)
    income = base_income * (1 + s("annual_inc"))
    income = np.maximum(np.where(rng.random(n) < 0.65, np.round(income, -3), np.round(income, 2)), 4000)
    amount = base_income * np.exp(-1.65 + 0.45 * normal()) * (1 + s("loan_amnt"))
    step = np.where(rng.random(n) < 0.55, 1000, np.where(rng.random(n) < 0.45, 500, 25))
    cap = np.where(year <= 2010, 25000, np.where(year <= 2015, 35000, 40000))
    loan_amnt = np.clip(np.round(amount / step) * step, 1000, cap)
    emp_years = rng.choice(11, n, p=np.array(EMP_LENGTH_P) / sum(EMP_LENGTH_P))
    emp_years = np.clip(emp_years + np.round(s("emp_length")), 0, 10).astype(int)
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

    # Credit file: each a noisy view of q.
    fico = np.minimum(660 + 5 * np.floor(np.exp(3.35 - 0.4 * q + 0.55 * normal()) / 5), 845)
    dti = np.clip(18.5 + 2.2 * q + 8.0 * normal(), 0, 39.99) + s("dti")
    inq = np.clip(rng.poisson(np.clip(0.62 + 0.28 * q + s("inq_last_6mths"), 0.02, None)), 0, 8)
    revol_util = np.round(np.clip(52 + 22 * normal() + 7 * q + s("revol_util"), 0, 150), 1)
    revol_bal = np.round(rng.lognormal(9.25, 1.0, n) * (1 + s("revol_bal")))
    credit_age = np.clip(np.round(np.exp(5.2 - 0.06 * q + 0.42 * normal())), 36, 720)
    delinq_history = rng.random(n) < np.clip(0.45 + 0.08 * q, 0.05, 0.95)
    since_delinq = _nan(rng.integers(0, 150, n).astype(float), ~delinq_history)
    recent = delinq_history & (since_delinq < 24)
    record = rng.random(n) < np.clip(0.16 + 0.03 * q, 0.01, 0.5)
    open_acc = np.clip(rng.poisson(11.5, n), 1, 90)

    # LendingClub's price: sub_grade from what it knew about q, rate by grade and year.
    x = 0.8 * q + 0.6 * normal()
    sub_grade = np.clip(
        np.round(8.8 + 5.6 * x + 1.1 * np.maximum(x, 0) ** 2 + 1.8 * (term == 60)), 0, 34
    ).astype(int)
    base = np.interp(year, [2007, 2010, 2013, 2016, 2019, 2020], [7.4, 6.5, 6.0, 5.3, 6.0, 5.6])
    slope = np.interp(year, [2007, 2012, 2016, 2018], [0.5, 0.55, 0.68, 0.75])
    int_rate = np.round(np.clip(base + slope * sub_grade + 0.2 * normal(), 5.31, 30.99) + s("int_rate"), 2)
    verified = np.where(
        rng.random(n) < np.clip(0.6 - loan_amnt / 60000 + 0.3 * (year <= 2009), 0.15, 0.9),
        0,
        np.where(rng.random(n) < 0.55, 1, 2),
    )  # Not Verified, Source Verified, Verified
    joint = (months >= JOINT_FROM) & (rng.random(n) < 0.07)
    policy = (year <= 2010) & (rng.random(n) < np.where(year <= 2008, 0.2, 0.1))
    fico = np.where(policy, np.maximum(fico - 5 * rng.integers(0, 9, n), 610), fico) + s("fico")

    # Outcome: the latent risk, what the file shows, vintage and idiosyncratic noise.
    dti_clean = np.clip(dti, 0, 40)
    logit = (
        -2.1
        + 0.72 * q
        + 0.3 * (term == 60)
        + 0.01 * (dti_clean - 18)
        - 0.12 * np.log(income / 65000)
        + 0.05 * inq
        + 0.003 * (revol_util - 52)
        - 0.012 * (credit_age / 12 - 15)
        - 0.012 * emp_years
        + 0.15 * emp_missing
        + np.array([p[3] for p in PURPOSES])[purpose]
        + np.array([-0.12, 0, 0.12, 0.3, 0.3, 0])[home]
        + np.array([st[4] for st in STATES])[state]
        + np.array([0, 0.08, 0.15])[verified]
        + 0.3 * policy
        + YEAR_EFFECT[year - 2007]
        + 0.55 * normal()
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
    status = np.where(policy & finished, status + 6, status)  # all 2007-2010 loans have finished by 2020
    charged_off = finished & defaults

    # Payments, consistent with the outcome.
    funded_inv = np.where(
        (year <= 2012) & (rng.random(n) < 0.3), loan_amnt - 25 * rng.integers(1, 40, n), loan_amnt
    )
    funded_inv = np.maximum(funded_inv, 0.5 * loan_amnt)
    installment, owed_at = _amortised(loan_amnt, int_rate, term, paid)
    interest = np.maximum(installment * paid - (loan_amnt - owed_at), 0)
    prepaid = finished & ~defaults & (paid < term)  # the last payment clears the balance
    owed = np.where(finished & ~defaults, 0.0, owed_at)
    principal = loan_amnt - owed
    recoveries = np.where(
        charged_off & (rng.random(n) < 0.7), np.round(owed * rng.uniform(0, 0.2, n), 2), 0.0
    )
    fee_p = np.where(defaults, 0.3, 0.04)
    late_fee = np.where(rng.random(n) < fee_p, np.round(rng.uniform(15, 60, n), 2), 0.0)
    total_pymnt = principal + interest + recoveries + late_fee
    total_pymnt = np.where(rng.random(n) < 0.4, np.round(total_pymnt, 2), total_pymnt)
    inv_share = funded_inv / loan_amnt
    out_prncp = np.where(finished, 0.0, np.round(owed, 2))
    last_fico = np.where(defaults, fico - rng.uniform(60, 180, n), fico + rng.normal(10, 25, n))
    last_fico = np.clip(np.round(last_fico / 5) * 5, 300, 845)
    pull = np.where(
        finished & (rng.random(n) < 0.15),
        np.minimum(end + rng.integers(0, 24, n), SNAPSHOT),
        SNAPSHOT - np.minimum(rng.geometric(0.6, n) - 1, 6),
    )

    c["id"] = (first_id + np.arange(n)).astype(float)
    c["member_id"] = pa.nulls(n, pa.string())
    c["loan_amnt"] = c["funded_amnt"] = loan_amnt
    c["funded_amnt_inv"] = funded_inv
    c["term"] = _text([" 36 months", " 60 months"], (term == 60).astype(int))
    c["int_rate"] = int_rate
    c["installment"] = installment
    c["grade"] = _text(list("ABCDEFG"), sub_grade // 5)
    c["sub_grade"] = _text([g + str(i) for g in "ABCDEFG" for i in range(1, 6)], sub_grade)
    c["emp_title"] = _emp_titles(rng, months, emp_missing | (rng.random(n) < 0.02))
    c["emp_length"] = _text("emp_length", emp_years, emp_missing)
    c["home_ownership"] = _text(["MORTGAGE", "OWN", "RENT", "OTHER", "NONE", "ANY"], home)
    c["annual_inc"] = income
    c["verification_status"] = _text(["Not Verified", "Source Verified", "Verified"], verified)
    c["issue_d"] = months.astype(float)
    c["loan_status"] = _text(STATUSES, status)
    hardship = (months >= 2016 * 12) & np.where(
        finished, (end >= 2017 * 12 + 6) & (rng.random(n) < 0.005 + 0.02 * defaults), rng.random(n) < 0.05
    )  # the program started in 2017
    h_start = np.where(
        finished, np.maximum(end - rng.integers(1, 7, n), months + 1), SNAPSHOT - rng.integers(1, 8, n)
    )
    h_start = np.maximum(h_start, months + 1)
    h_active = hardship & (h_start + 3 > SNAPSHOT)
    c["pymnt_plan"] = _text(["n", "y"], h_active.astype(int))
    c["url"] = pc.binary_join_element_wise(
        "https://lendingclub.com/browse/loanDetail.action?loan_id=",
        pc.cast(pa.array(c["id"].astype(np.int64)), pa.string()),
        "",
    )
    has_desc = (months < 2014 * 12) & (rng.random(n) < np.where(year <= 2009, 0.8, 0.35))
    day = rng.integers(0, 28, n)
    desc_month = np.clip(months, 2007 * 12, 2014 * 12 - 1) - 2007 * 12
    desc_code = (desc_month * 28 + day) * len(DESC_TEXT) + rng.integers(0, len(DESC_TEXT), n)
    c["desc"] = pc.binary_repeat(_text("desc", desc_code, ~has_desc), pa.array(desc_entries(desc_code)))
    c["purpose"] = _text("purpose", purpose)
    free_title = (year <= 2012) & (rng.random(n) < 0.7)
    c["title"] = _text(
        "title",
        np.where(free_title, len(PURPOSES) + rng.integers(0, len(FREE_TITLES), n), purpose),
        (year >= 2013) & (rng.random(n) < 0.01),
    )
    low, high = np.array([st[2] for st in STATES])[state], np.array([st[3] for st in STATES])[state]
    c["zip_code"] = _text("zip", low + np.floor(rng.random(n) * (high - low + 1)).astype(int))
    c["addr_state"] = _text("state", state)
    marker = rng.random(n)
    c["dti"] = np.where(marker < 0.0008, 999.0, np.where(marker > 0.9997, -1.0, np.round(dti, 2)))
    c["delinq_2yrs"] = np.where(recent, 1 + rng.poisson(0.3 + 0.15 * np.maximum(q, 0)), 0).astype(float)
    c["earliest_cr_line"] = (months - credit_age).astype(float)
    c["fico_range_low"], c["fico_range_high"] = fico, fico + 4
    c["inq_last_6mths"] = inq.astype(float)
    c["mths_since_last_delinq"] = since_delinq
    c["mths_since_last_record"] = _nan(rng.integers(0, 120, n).astype(float), ~record)
    c["open_acc"] = open_acc.astype(float)
    c["pub_rec"] = np.where(record, 1 + rng.poisson(0.15, n), 0).astype(float)
    c["revol_bal"] = revol_bal
    c["revol_util"] = _nan(revol_util, rng.random(n) < 0.0008)
    c["total_acc"] = (open_acc + rng.poisson(13, n)).astype(float)
    whole_loan = rng.random(n) < np.interp(months, [2012 * 12 + 8, 2014 * 12, 2017 * 12], [0, 0.6, 0.75])
    c["initial_list_status"] = _text(["f", "w"], whole_loan.astype(int))
    c["out_prncp"], c["out_prncp_inv"] = out_prncp, np.round(out_prncp * inv_share, 2)
    c["total_pymnt"], c["total_pymnt_inv"] = total_pymnt, np.round(total_pymnt * inv_share, 2)
    c["total_rec_prncp"], c["total_rec_int"] = np.round(principal, 2), np.round(interest, 2)
    c["total_rec_late_fee"], c["recoveries"] = late_fee, recoveries
    c["collection_recovery_fee"] = np.round(recoveries * 0.18, 2)
    c["last_pymnt_d"] = _nan((months + paid).astype(float), paid == 0)
    c["last_pymnt_amnt"] = np.where(paid == 0, 0.0, np.round(installment + prepaid * owed_at, 2))
    c["next_pymnt_d"] = _nan(np.where(issued, months + 1, SNAPSHOT + 1).astype(float), finished)
    c["last_credit_pull_d"] = pull.astype(float)
    c["last_fico_range_high"], c["last_fico_range_low"] = last_fico + 4, last_fico
    c["collections_12_mths_ex_med"] = rng.poisson(0.02, n).astype(float)
    c["mths_since_last_major_derog"] = _nan(
        rng.integers(0, 160, n).astype(float), rng.random(n) > 0.26 + 0.05 * recent
    )
    c["policy_code"] = np.ones(n)
    c["application_type"] = _text(["Individual", "Joint App"], joint.astype(int))
    c["annual_inc_joint"] = _nan(np.round(income * rng.uniform(1.3, 2.2, n), -2), ~joint)
    c["dti_joint"] = _nan(np.round(dti_clean * rng.uniform(0.6, 0.95, n), 2), ~joint)
    c["verification_status_joint"] = _text(
        ["Not Verified", "Source Verified", "Verified"], rng.choice(3, n, p=[0.5, 0.3, 0.2]), ~joint
    )
    c["acc_now_delinq"] = rng.poisson(0.005, n).astype(float)
    c.update(_bureau(rng, months, q, c, credit_age, home, shift))
    c.update(
        _second_applicant(
            rng, months, joint & (months >= SEC_APP_FROM), fico, revol_util, revol_bal, credit_age
        )
    )
    c.update(_hardship(rng, hardship, h_start, installment, out_prncp))
    settled = charged_off & (chargeoff >= 2014 * 12) & (rng.random(n) < 0.15)
    direct_pay = (months >= 2016 * 12) & (rng.random(n) < np.where(year >= 2018, 0.07, 0.01))
    c["disbursement_method"] = _text(["Cash", "DirectPay"], direct_pay.astype(int))
    c.update(_settlement(rng, settled, chargeoff, owed))
    return c


def _bureau(
    rng: np.random.Generator,
    months: np.ndarray,
    q: np.ndarray,
    c: dict,
    credit_age: np.ndarray,
    home: np.ndarray,
    shift: dict[str, float],
) -> dict[str, np.ndarray]:
    """The bureau summary LendingClub added from 2012 (and Dec-2015): empty for older loans."""
    n = len(months)
    out: dict[str, np.ndarray] = {}
    old, old_balances, old_new = months < BUREAU_FROM, months < BALANCES_FROM, months < NEW_BUREAU_FROM
    for name, mean in BUREAU_COUNTS:
        out[name] = _nan(rng.poisson(np.clip(mean * (1 + 0.12 * q), 0.0005, None)).astype(float), old)
    for name, mean in NEW_BUREAU_COUNTS:
        out[name] = _nan(rng.poisson(np.clip(mean * (1 + 0.12 * q), 0.0005, None)).astype(float), old_new)
    tot_cur_bal = np.round(
        rng.lognormal(10.3 + 1.3 * (home == 0), 1.0, n) * (1 + shift.get("tot_cur_bal", 0.0))
    )
    revol_util = np.nan_to_num(c["revol_util"], nan=50.0)
    out["tot_coll_amt"] = _nan(
        np.where(rng.random(n) < 0.14, np.round(rng.lognormal(6.5, 1.2, n)), 0.0), old_balances
    )
    out["tot_cur_bal"] = _nan(tot_cur_bal, old_balances)
    limit = c["revol_bal"] / np.clip(revol_util, 5, None) * 100 * (1 + shift.get("total_rev_hi_lim", 0.0))
    out["total_rev_hi_lim"] = _nan(np.round(limit, -2), old_balances)
    out["open_il_24m"] = out["open_il_12m"] + rng.poisson(0.9, n)
    out["open_rv_24m"] = out["open_rv_12m"] + rng.poisson(1.6, n)
    out["total_bal_il"] = _nan(np.round(rng.lognormal(10, 1.3, n)), old_new)
    out["il_util"] = _nan(np.round(np.clip(rng.normal(70, 23, n), 0, 180)), old_new | (rng.random(n) < 0.13))
    out["max_bal_bc"] = _nan(np.round(rng.lognormal(8.4, 1.0, n)), old_new)
    out["all_util"] = _nan(np.round(np.clip(rng.normal(59, 20, n) + 5 * q, 0, 200)), old_new)
    out["inq_last_12m"] = _nan(c["inq_last_6mths"] + rng.poisson(1.3, n), old_new)
    out["avg_cur_bal"] = _nan(np.round(tot_cur_bal / c["open_acc"]), old)
    out["bc_open_to_buy"] = _nan(np.round(rng.lognormal(8.5, 1.3, n)), old | (rng.random(n) < 0.01))
    out["bc_util"] = _nan(
        np.round(np.clip(revol_util + rng.normal(5, 12, n), 0, 200), 1), old | (rng.random(n) < 0.01)
    )
    out["delinq_amnt"] = _nan(np.where(rng.random(n) < 0.003, np.round(rng.lognormal(7, 1, n)), 0.0), old)
    out["mo_sin_old_il_acct"] = _nan(
        np.maximum(credit_age - rng.integers(0, 60, n), 3), old | (rng.random(n) < 0.03)
    )
    out["mo_sin_old_rev_tl_op"] = _nan(np.maximum(credit_age - rng.integers(0, 12, n), 3), old)
    out["mort_acc"] = _nan(
        np.where(home == 0, 1 + rng.poisson(1.5, n), rng.poisson(0.3, n)).astype(float), old
    )
    out["mths_since_recent_bc_dlq"] = _nan(
        rng.integers(0, 150, n).astype(float), old | (rng.random(n) < 0.77)
    )
    out["mths_since_recent_inq"] = _nan(np.round(rng.exponential(7, n)), old | (rng.random(n) < 0.11))
    out["mths_since_recent_revol_delinq"] = _nan(
        rng.integers(0, 150, n).astype(float), old | (rng.random(n) < 0.67)
    )
    out["num_sats"] = _nan(c["open_acc"], old)
    out["pct_tl_nvr_dlq"] = _nan(np.round(100 - np.clip(rng.exponential(6, n), 0, 100), 1), old)
    out["percent_bc_gt_75"] = _nan(
        np.round(np.clip(40 + 30 * rng.standard_normal(n) + 8 * q, 0, 100), 1), old
    )
    out["pub_rec_bankruptcies"] = _nan(
        np.minimum(c["pub_rec"], (rng.random(n) < 0.75)), rng.random(n) < 0.0005
    )
    out["tax_liens"] = rng.poisson(0.04, n).astype(float)
    out["tot_hi_cred_lim"] = _nan(np.round(tot_cur_bal * rng.uniform(1.1, 1.6, n)), old)
    out["total_bal_ex_mort"] = _nan(np.round(rng.lognormal(10.6, 1.0, n)), old)
    out["total_bc_limit"] = _nan(np.round(rng.lognormal(9.8, 1.0, n), -2), old)
    out["total_il_high_credit_limit"] = _nan(np.round(rng.lognormal(10.3, 1.2, n)), old)
    return out


def _second_applicant(
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
    counts = {
        "sec_app_inq_last_6mths": 0.6,
        "sec_app_mort_acc": 1.5,
        "sec_app_open_acc": 11,
        "sec_app_open_act_il": 3,
        "sec_app_num_rev_accts": 13,
        "sec_app_chargeoff_within_12_mths": 0.05,
        "sec_app_collections_12_mths_ex_med": 0.07,
    }
    out = {name: _nan(rng.poisson(mean, n).astype(float), ~sec) for name, mean in counts.items()}
    out["revol_bal_joint"] = _nan(np.round(revol_bal * rng.uniform(1.2, 2, n)), ~sec)
    out["sec_app_fico_range_low"], out["sec_app_fico_range_high"] = (
        _nan(sec_fico, ~sec),
        _nan(sec_fico + 4, ~sec),
    )
    out["sec_app_earliest_cr_line"] = _nan(
        months - np.clip(credit_age + rng.integers(-60, 60, n), 24, None), ~sec
    )
    out["sec_app_revol_util"] = _nan(np.round(np.clip(revol_util + rng.normal(0, 20, n), 0, 150), 1), ~sec)
    out["sec_app_mths_since_last_major_derog"] = _nan(
        rng.integers(0, 150, n).astype(float), ~sec | (rng.random(n) < 0.7)
    )
    return out


def _hardship(
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
        "hardship_flag": _text(["N", "Y"], hardship.astype(int)),
        "hardship_type": _text(["INTEREST ONLY-3 MONTHS DEFERRAL"], np.zeros(n, int), none),
        "hardship_reason": _text(
            [
                "INCOME_CURTAILMENT",
                "UNEMPLOYMENT",
                "MEDICAL",
                "NATURAL_DISASTER",
                "EXCESSIVE_OBLIGATIONS",
                "REDUCED_HOURS",
                "DIVORCE",
                "FAMILY_DEATH",
            ],
            rng.choice(8, n, p=[0.3, 0.22, 0.12, 0.1, 0.1, 0.1, 0.03, 0.03]),
            none,
        ),
        "hardship_status": _text(
            ["COMPLETED", "BROKEN", "ACTIVE"], np.where(active, 2, (rng.random(n) < 0.2).astype(int)), none
        ),
        "deferral_term": _nan(np.full(n, 3.0), none),
        "hardship_length": _nan(np.full(n, 3.0), none),
        "hardship_amount": _nan(np.round(installment * rng.uniform(0.15, 0.45, n), 2), none),
        "hardship_start_date": _nan(start.astype(float), none),
        "hardship_end_date": _nan(start + 3.0, none),
        "payment_plan_start_date": _nan(start.astype(float), none),
        "hardship_dpd": _nan(rng.integers(0, 31, n).astype(float), none),
        "hardship_loan_status": _text(
            ["Current", "In Grace Period", "Late (16-30 days)", "Late (31-120 days)"],
            rng.choice(4, n, p=[0.35, 0.3, 0.25, 0.1]),
            none,
        ),
        "hardship_payoff_balance_amount": _nan(
            np.round(np.maximum(out_prncp, installment) * rng.uniform(0.9, 1.05, n), 2), none
        ),
        "hardship_last_payment_amount": _nan(np.round(installment * rng.uniform(0, 1, n), 2), none),
    }
    accrued = out["hardship_amount"] * 3 * rng.uniform(0.9, 1.1, n)
    out["orig_projected_additional_accrued_interest"] = _nan(np.round(accrued, 2), none)
    return out


def _settlement(
    rng: np.random.Generator, settled: np.ndarray, chargeoff: np.ndarray, owed: np.ndarray
) -> dict[str, np.ndarray | pa.Array]:
    """Debt settlements: some charged-off loans since 2014 settle for part of what they owed."""
    n, none = len(settled), ~settled
    when = _nan(np.minimum(chargeoff + rng.integers(0, 24, n), SNAPSHOT).astype(float), none)
    percentage = np.where(
        rng.random(n) < 0.7,
        rng.choice([40.0, 45.0, 50.0, 55.0, 60.0], n),
        np.round(rng.uniform(25, 75, n), 2),
    )
    return {
        "debt_settlement_flag": _text(["N", "Y"], settled.astype(int)),
        "debt_settlement_flag_date": when,
        "settlement_status": _text(
            ["ACTIVE", "COMPLETE", "BROKEN"], rng.choice(3, n, p=[0.45, 0.4, 0.15]), none
        ),
        "settlement_date": when,
        "settlement_amount": _nan(np.round(owed * percentage / 100, 2), none),
        "settlement_percentage": _nan(percentage, none),
        "settlement_term": _nan(rng.choice([0.0, 1.0, 6.0, 12.0, 18.0, 24.0], n), none),
    }

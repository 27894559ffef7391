"""The synthetic population's tables: what LendingClub offered and when, shares, risk effects and labels.

Month indexes are year * 12 + month - 1. Default log-odds effects are added to one latent logit per loan
(`synthetic.loans`); label lists are indexed by the codes the generator draws, so their order matters.
"""

from __future__ import annotations

import numpy as np

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
_STATE_TABLE = """
CA     14  900  961      0
NY    8.3  100  149   0.06
TX    8.2  750  799      0
FL    7.1  320  349   0.08
IL      4  600  629      0
NJ    3.6   70   89   0.03
PA    3.4  150  196      0
OH    3.3  430  459      0
GA    3.2  300  319      0
VA    2.9  220  246      0
NC    2.8  270  289      0
MI    2.6  480  499   0.03
MD    2.4  206  219   0.04
AZ    2.4  850  865      0
MA    2.3   10   27  -0.03
WA    2.1  980  994  -0.08
CO    2.1  800  816   -0.1
MN    1.8  550  567      0
MO    1.6  630  658   0.03
IN    1.6  460  479   0.03
CT    1.5   60   69  -0.03
TN    1.5  370  385   0.05
NV    1.5  889  898   0.12
WI    1.3  530  549  -0.02
AL    1.2  350  369    0.1
OR    1.2  970  979  -0.08
SC    1.2  290  299  -0.05
LA    1.1  700  714    0.1
KY      1  400  427   0.04
OK    0.9  730  749   0.08
KS    0.8  660  679  -0.05
AR    0.8  716  729   0.08
UT    0.8  840  847  -0.05
NM    0.6  870  884   0.05
HI    0.5  967  968   0.05
MS    0.5  386  397    0.1
NH    0.5   30   38   -0.1
RI    0.4   28   29      0
WV    0.4  247  268  -0.05
NE    0.4  680  693    0.1
DE    0.3  197  199      0
MT    0.3  590  599  -0.05
DC    0.3  200  205  -0.15
AK    0.3  995  999      0
WY    0.2  820  831  -0.05
VT    0.2   50   59  -0.12
SD    0.2  570  577   0.03
ME    0.2   39   49  -0.12
ND    0.2  580  588      0
ID    0.2  832  838      0
"""
STATES = [
    (code, float(share), int(zip_low), int(zip_high), float(effect))
    for code, share, zip_low, zip_high, effect in (line.split() for line in _STATE_TABLE.strip().splitlines())
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
# Bureau counts LendingClub added from 2012 on: (name, mean); empty for earlier loans (column drift).
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
# Default log-odds by vintage, 2007..2020: the 2008 crisis, a tighter 2009-2010 book, looser 2015-2016, COVID.
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

# Labels by code.
TERMS = [" 36 months", " 60 months"]
GRADES = list("ABCDEFG")
SUB_GRADES = [g + str(i) for g in "ABCDEFG" for i in range(1, 6)]
HOME_OWNERSHIP = ["MORTGAGE", "OWN", "RENT", "OTHER", "NONE", "ANY"]
VERIFICATION = ["Not Verified", "Source Verified", "Verified"]
VERIFICATION_JOINT_P = [0.5, 0.3, 0.2]
APPLICATION_TYPES = ["Individual", "Joint App"]
LIST_STATUSES = ["f", "w"]  # fractional, whole loan
PAYMENT_PLAN = ["n", "y"]
DISBURSEMENT_METHODS = ["Cash", "DirectPay"]
FLAG = ["N", "Y"]
# Default log-odds effect by code of home_ownership and of verification_status.
HOME_EFFECT = [-0.12, 0, 0.12, 0.3, 0.3, 0]
VERIFIED_EFFECT = [0, 0.08, 0.15]
# Second applicant's bureau counts (Mar-2017 on): mean of each.
SEC_APP_COUNTS = {
    "sec_app_inq_last_6mths": 0.6,
    "sec_app_mort_acc": 1.5,
    "sec_app_open_acc": 11,
    "sec_app_open_act_il": 3,
    "sec_app_num_rev_accts": 13,
    "sec_app_chargeoff_within_12_mths": 0.05,
    "sec_app_collections_12_mths_ex_med": 0.07,
}
HARDSHIP_TYPES = ["INTEREST ONLY-3 MONTHS DEFERRAL"]
HARDSHIP_REASONS = [
    "INCOME_CURTAILMENT",
    "UNEMPLOYMENT",
    "MEDICAL",
    "NATURAL_DISASTER",
    "EXCESSIVE_OBLIGATIONS",
    "REDUCED_HOURS",
    "DIVORCE",
    "FAMILY_DEATH",
]
HARDSHIP_REASON_P = [0.3, 0.22, 0.12, 0.1, 0.1, 0.1, 0.03, 0.03]
HARDSHIP_STATUSES = ["COMPLETED", "BROKEN", "ACTIVE"]
HARDSHIP_LOAN_STATUSES = ["Current", "In Grace Period", "Late (16-30 days)", "Late (31-120 days)"]
HARDSHIP_LOAN_STATUS_P = [0.35, 0.3, 0.25, 0.1]
SETTLEMENT_STATUSES = ["ACTIVE", "COMPLETE", "BROKEN"]
SETTLEMENT_STATUS_P = [0.45, 0.4, 0.15]
SETTLEMENT_PERCENTAGES = [40.0, 45.0, 50.0, 55.0, 60.0]  # the round offers most settlements take
SETTLEMENT_TERMS = [0.0, 1.0, 6.0, 12.0, 18.0, 24.0]

"""How drawn codes become columns: categories by index into constant string tables, NaN where missing.

Text is never built per row: each category table is made once, and a column is a `take` of its codes.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credit_risk.synthetic.constants import EMP_LENGTHS, EMPLOYER_ERA_END, PURPOSES, STATES
from credit_risk.synthetic.vocabulary import (
    DESC_TEXT,
    EMPLOYER_A,
    EMPLOYER_B,
    EMPLOYER_SUFFIX,
    FREE_TITLES,
    PREFIXES,
    ROLE_LIST,
)

DESC_MAX_ENTRIES = 44  # about 4,000 characters, the longest descriptions of the 2007-2011 exports


@cache
def label_table(name: str) -> pa.Array:
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


def labelled(table: str | list[str], codes: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """A text column: each code's label from a named table (`label_table`) or a list; null where `missing`."""
    labels = label_table(table) if isinstance(table, str) else pa.array(table)
    return labels.take(pa.array(codes, mask=missing if missing is not None and missing.any() else None))


def desc_entries(code: np.ndarray) -> np.ndarray:
    """How many `Borrower added on` entries a description holds: 1 to 44, heavy-tailed (median 4; about 5 % of
    descriptions pass 1,000 characters and 1 % pass 2,000, as in LoanStats3a). Derived from the description's own
    code rather than a new draw, so every other column of a seed stays as it was."""
    uniform = (code.astype(np.uint64) * np.uint64(2654435761) % np.uint64(2**32)).astype(np.float64) / 2**32
    return np.clip(np.floor(3.0 * (1.0 - uniform) ** (-1 / 2.2)), 1, DESC_MAX_ENTRIES).astype(np.int64)


def nan_where(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """A numeric column: NaN (an empty field in the export) where `missing`."""
    return np.where(missing, np.nan, values)


def emp_titles(rng: np.random.Generator, months: np.ndarray, missing: np.ndarray) -> pa.Array:
    """Free text: employer names until Sep-2013, job titles after; long tail, noisy case and spacing.

    Popularity follows a power law (Teacher ~2 %, as in the real files) and four in ten job titles name
    the employer too (`Sr. Analyst, Blue Logistics`): that tail gives the hundreds of thousands of
    distinct spellings a full-size file has.
    """
    n = len(months)
    titles, employers = label_table("titles"), label_table("employers")
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

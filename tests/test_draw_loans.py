"""`draw_loans` is a pure function of its generator: the same seed, months and shift give the same columns.

The digests pin its output (column names and order, types, every value), so a refactoring of the generator
that changes the draw order or any column fails here before it changes the embedded dataset.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pytest

from credit_risk.synthetic.loans import draw_loans

SHIFT = {
    "annual_inc": -0.1,
    "loan_amnt": 0.1,
    "tot_cur_bal": 0.2,
    "total_rev_hi_lim": -0.1,
    "dti": 2.0,
    "fico": -5.0,
    "emp_length": 1.0,
}


def _digest(columns: dict[str, np.ndarray | pa.Array]) -> str:
    h = hashlib.sha256()
    for name, values in columns.items():
        h.update(name.encode())
        if isinstance(values, pa.Array):
            h.update(str(values.type).encode())
            h.update(repr(values.to_pylist()).encode())
        else:
            h.update(str(values.dtype).encode())
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    ("shift", "expected"),
    [
        ({}, "812c61eca2c331762326771f483a97b61d95e3410d0c15a2cbe4f2b2d5665853"),
        (SHIFT, "ecddab47545ad9150413ad709c968aebf7f199876705e80030b442b624c0646d"),
    ],
    ids=["no-shift", "shifted"],
)
def test_draw_loans_output_is_pinned_per_seed(shift: dict[str, float], expected: str) -> None:
    months = np.sort(np.random.default_rng(1).integers(2007 * 12, 2020 * 12 + 3, 3000))
    loans = draw_loans(np.random.default_rng([7, 0]), months, 1_000_000, shift)
    assert _digest(loans) == expected

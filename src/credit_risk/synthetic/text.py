"""CSV text for the synthetic exports: numbers, dates and quoting exactly as each layout writes them.

Formatting is the generator's hot path, so no value goes through Python or a float-to-string cast:
numbers are split into integer parts and looked up in string tables (`take`), and rows are joined
column-wise by Arrow. A row chunk comes out as one contiguous buffer ready to write.

| kind | Kaggle (pandas float columns) | LendingClub website export |
|---|---|---|
| count (0 decimals) | `6000.0` | `6000` |
| dec2 / dec1 (up to 2 / 1 decimals) | `192.17`, `15.9`, `22.0` | `192.17`, `15.9`, `22` |
| money (payment columns) | `714.54`, `0.0` | `714.54`, `0.00` |
| rate (`int_rate`) | `9.49`, `10.0` | ` 9.49%`, ` 10.00%` |
| util (`revol_util`) | `18.1`, `43.0` | `18.1%`, `43%` |
| raw (`total_pymnt`, unrounded) | `6714.542203218` | `6714.542203218` |
| month | `Sep-2016` | `Sep-2016` |

The re-typed layout (LoanStats3a as an R package re-wrote it) writes plain numbers (`6000`, `192.17`), rates and
utilisations as fractions (`0.1122`, `0.537`), `term` as `36` and months as ISO dates (`2007-12-01`).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credit_risk.raw_schema import MONTH_COLUMNS

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FIRST_LABEL_MONTH = 1900 * 12  # earliest_cr_line reaches back to the 1940s; labels cover 1900..2030
_LABEL_MONTHS = 131 * 12
_TABLE_SIZE = 100_000  # integer parts below this come from a string table, larger ones from a cast
DECIMALS = {"count": 0, "dec1": 1, "util": 1, "dec2": 2, "money": 2, "rate": 2}
FREE_TEXT = ("emp_title", "desc", "title")  # the only columns that can hold a comma or a quote
# fmt: off
_DEC2 = (
    "installment", "annual_inc", "dti", "annual_inc_joint", "dti_joint", "hardship_amount",
    "orig_projected_additional_accrued_interest", "hardship_payoff_balance_amount",
    "hardship_last_payment_amount", "settlement_amount", "settlement_percentage",
)
# fmt: on
_DEC1 = ("bc_util", "pct_tl_nvr_dlq", "percent_bc_gt_75", "sec_app_revol_util")
# fmt: off
_MONEY = (
    "out_prncp", "out_prncp_inv", "total_pymnt_inv", "total_rec_prncp", "total_rec_int",
    "total_rec_late_fee", "recoveries", "collection_recovery_fee", "last_pymnt_amnt",
)
# fmt: on
# How each numeric column is written (see the table above); every other numeric column is a count.
KINDS = {
    "id": "int",
    "int_rate": "rate",
    "revol_util": "util",
    "total_pymnt": "raw",
    **dict.fromkeys(MONTH_COLUMNS, "month"),
    **dict.fromkeys(_DEC2, "dec2"),
    **dict.fromkeys(_DEC1, "dec1"),
    **dict.fromkeys(_MONEY, "money"),
}


@cache
def _month_labels() -> pa.Array:
    return pa.array(
        [f"{MONTHS[m % 12]}-{m // 12}" for m in range(FIRST_LABEL_MONTH, FIRST_LABEL_MONTH + _LABEL_MONTHS)]
    )


@cache
def _iso_month_labels() -> pa.Array:
    return pa.array(
        [
            f"{m // 12}-{m % 12 + 1:02d}-01"
            for m in range(FIRST_LABEL_MONTH, FIRST_LABEL_MONTH + _LABEL_MONTHS)
        ]
    )


@cache
def _int_labels(suffix: str) -> pa.Array:
    return pa.array([f"{i}{suffix}" for i in range(_TABLE_SIZE)])


@cache
def _fraction_labels(decimals: int, style: str) -> pa.Array:
    """Text after the integer part for each fraction 0..10**decimals-1 (`.17`, `.1`, `.0`, `.00` or empty)."""
    out = []
    for f in range(10**decimals):
        digits = f"{f:0{decimals}d}"
        shortest = digits.rstrip("0")
        if style == "fixed":
            out.append("." + digits)
        else:
            out.append("." + shortest if shortest else (".0" if style == "kaggle" else ""))
    return pa.array(out)


def _integers(values: np.ndarray, missing: np.ndarray | None, suffix: str = "") -> pa.Array:
    """Non-negative integers as text (+ `suffix`), null where `missing`."""
    mask = missing if missing is not None and missing.any() else None
    if values.size and values.max() >= _TABLE_SIZE:
        text = pc.cast(pa.array(values, mask=mask), pa.string())
        return pc.binary_join_element_wise(text, suffix, "") if suffix else text
    return _int_labels(suffix).take(pa.array(values, mask=mask))


def number_text(values: np.ndarray, decimals: int, style: str) -> pa.Array:
    """Floats (NaN = missing) rounded to `decimals` and written in `style`: kaggle, plain or fixed."""
    missing = np.isnan(values)
    scale = 10**decimals
    scaled = np.rint(np.where(missing, 0.0, values) * scale).astype(np.int64)
    negative = scaled < 0
    whole, fraction = np.divmod(np.abs(scaled), scale)
    if decimals == 0:
        text = _integers(whole, missing, ".0" if style == "kaggle" else "")
    else:
        text = pc.binary_join_element_wise(
            _integers(whole, missing), _fraction_labels(decimals, style).take(pa.array(fraction)), ""
        )
    if negative.any():
        text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
    return text


def raw_text(values: np.ndarray, kaggle: bool) -> pa.Array:
    """Unrounded floats as their shortest repr (`6714.542203218`); Kaggle writes whole numbers as `25547.0`."""
    text = pc.cast(pa.array(values, from_pandas=True), pa.string())
    if kaggle:
        text = pc.if_else(pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, ".0", ""))
    return text


def month_text(month_index: np.ndarray, iso: bool = False) -> pa.Array:
    """Month indexes (year * 12 + month - 1, NaN = missing) as `Dec-2011` labels (`2011-12-01` if `iso`)."""
    missing = np.isnan(month_index) if month_index.dtype.kind == "f" else None
    index = np.nan_to_num(month_index).astype(np.int64) - FIRST_LABEL_MONTH
    mask = missing if missing is not None and missing.any() else None
    return (_iso_month_labels() if iso else _month_labels()).take(pa.array(index, mask=mask))


def column_text(name: str, values: np.ndarray | pa.Array, layout: str) -> pa.Array:
    """One column in the layout's format (kaggle, loanstats or retyped); `values` are floats (NaN = missing)
    unless already text."""
    if isinstance(values, pa.Array):
        return values
    kind = KINDS.get(name, "count")
    kaggle = layout == "kaggle"
    if kind == "month":
        return month_text(values, iso=layout == "retyped")
    if kind == "raw":
        return raw_text(values, kaggle)
    if kind == "int":
        return _integers(np.nan_to_num(values).astype(np.int64), np.isnan(values))
    if layout == "retyped" and kind in ("rate", "util"):  # percent as a fraction: 11.22 -> 0.1122
        return number_text(values / 100, DECIMALS[kind] + 2, "plain")
    style = (
        "kaggle" if kaggle else ("fixed" if kind in ("money", "rate") and layout == "loanstats" else "plain")
    )
    text = number_text(values, DECIMALS[kind], style)
    if layout != "loanstats" or kind not in ("rate", "util"):
        return text
    return pc.binary_join_element_wise(" " if kind == "rate" else "", text, "%", "")


def csv_rows(columns: list[pa.Array], names: tuple[str, ...], quote_all: bool) -> pa.Buffer:
    """Rows joined into one buffer of CSV lines: Kaggle quotes only when needed, the website export always."""
    fields = []
    for name, text in zip(names, columns, strict=True):
        if name in FREE_TEXT:
            escaped = pc.replace_substring(text, '"', '""')
            if not quote_all:  # the website export quotes every field anyway
                quoted = pc.binary_join_element_wise('"', escaped, '"', "")
                escaped = pc.if_else(pc.match_substring_regex(text, '[,"\n]'), quoted, text)
            text = escaped
        fields.append(text)
    sep = '","' if quote_all else ","
    lines = pc.binary_join_element_wise(*fields, sep, null_handling="replace", null_replacement="")
    lines = pc.binary_join_element_wise('"' if quote_all else "", lines, '"\n' if quote_all else "\n", "")
    _, offsets, data = lines.buffers()  # a fresh array: its strings sit back to back from offset 0
    return data.slice(0, int(np.frombuffer(offsets, np.int32)[len(lines)]))

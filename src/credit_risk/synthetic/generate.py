"""Synthetic raw LendingClub exports: the project's embedded default dataset.

The files look like what users bring, quirks included, so that ingestion is exercised on every run.
The population and its outcomes are drawn in `synthetic.population` and become columns in `synthetic.loans`;
the text is in `synthetic.text`.

| quirk | where |
|---|---|
| Kaggle layout: 151 columns, quoted only when needed, `9.49`, `6000.0`, ` 36 months`, `Sep-2016`, `10+ years`, empty `member_id` | `layout="kaggle"` |
| website export: prospectus first line, every value quoted, ` 10.49%`, `83.7%`, `0.00`, `n/a` emp_length, footer lines; files per era (LoanStats3a 2007-2011, 3b 2012-2013, 3c 2014, 3d 2015, then LoanStats_2016Q1 ... per quarter) | `layout="loanstats"` |
| 60-month loans from May-2010; bureau summary (`tot_cur_bal`, `num_*`, `mo_sin_*`, ...) from Mar/Aug-2012; `open_acc_6m`..`inq_last_12m` (incl. `il_util`) from Dec-2015; joint applications from Oct-2015; `sec_app_*` and `revol_bal_joint` from Mar-2017; all empty before | both |
| hardship plans on ~5 % of loans issued 2016+ still running at the snapshot (a few finished ones too); debt settlements on ~15 % of loans charged off since 2014; empty otherwise | both |
| statuses against a Sep-2020 snapshot: Current, In Grace Period, Late (16-30 / 31-120 days), Default and Issued (rare) dominate 2019-2020 and are rare before 2016; `Does not meet the credit policy. Status:` on 10-20 % of 2007-2010 loans | both |
| `dti` 999 and -1 error markers; emp_title as employer name until Sep-2013 then job title, with noisy case and trailing spaces (`Manager `, `MANAGER`, `manager`); free-text `title` and `desc` until 2012-2013 | both |
| empty `id` and `url` from 2018 on | `layout="loanstats"` |
| LoanStats3a re-typed by an R package: the 145 columns without FICO, `36`, `0.1122`, `2007-12-01`, plain numbers, empty `id` / `member_id` / `url`; one file | `layout="retyped"` |
| `desc` of realistic length until 2013: one to 44 `Borrower added on ...` entries (up to about 4,000 characters, heavy-tailed), some with doubled quotes | both |
| post-origination columns (payments, recoveries, `last_*`, `next_pymnt_d`, hardship, settlement) follow the outcome, so leakage shows | both |

Volumes follow LendingClub's yearly growth. Output is byte-identical per seed: rows are drawn in fixed
chunks, each from a generator seeded by (seed, first row), and gzip headers carry no name or time.
"""

from __future__ import annotations

import gzip
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credit_risk.raw_schema import KAGGLE, LOANSTATS, PROSPECTUS_LINE
from credit_risk.synthetic.loans import draw_loans
from credit_risk.synthetic.text import column_text, csv_rows

YEARLY_VOLUME = {
    2007: 603,
    2008: 2393,
    2009: 5281,
    2010: 12537,
    2011: 21721,
    2012: 53367,
    2013: 134814,
    2014: 235629,
    2015: 421095,
    2016: 434407,
    2017: 443579,
    2018: 495242,
    2019: 518112,
    2020: 127000,
}
CHUNK = 20_000  # rows drawn together; chunk boundaries depend only on the row number
FIRST_MONTH, LAST_MONTH = 2007 * 12, 2020 * 12 + 2  # Jan-2007 .. Mar-2020
LAYOUTS = ("kaggle", "loanstats", "retyped")
# Shift semantics (simulated drift): amounts scale by (1 + x); rates, scores, ratios and counts move by + x.
SHIFT_RELATIVE = ("annual_inc", "loan_amnt", "revol_bal", "tot_cur_bal", "total_rev_hi_lim")
SHIFT_ADDITIVE = ("dti", "fico", "int_rate", "revol_util", "inq_last_6mths", "emp_length")
POLICY_CODE_2_SHARE = 0.05  # policy code 2 loans are not in the export, only their total in the footer


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
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {self.layout!r}")
        if self.first_month > self.last_month:
            raise ValueError(f"start {self.start} is after end {self.end}")
        if self.first_month < FIRST_MONTH or self.last_month > LAST_MONTH:
            raise ValueError(
                f"{self.start}..{self.end} is outside the 2007-01..2020-03 range of LendingClub's data"
            )

    @property
    def first_month(self) -> int:
        return _month_index(self.start)

    @property
    def last_month(self) -> int:
        return _month_index(self.end)


@dataclass(frozen=True)
class ExportFile:
    """One output file: its name without extension and the range of rows it holds."""

    stem: str
    first_row: int
    end_row: int

    @property
    def rows(self) -> int:
        return self.end_row - self.first_row


def _month_index(text: str) -> int:
    try:
        year, month = (int(p) for p in text.split("-"))
        if not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise ValueError(f"month {text!r} must look like 2007-01") from None
    return year * 12 + month - 1


def parse_shift(text: str | None) -> dict[str, float]:
    """`annual_inc=-0.2,dti=+5` -> {"annual_inc": -0.2, "dti": 5.0}.

    Amounts (annual_inc, loan_amnt, revol_bal, tot_cur_bal, total_rev_hi_lim) are multiplied by (1 + x);
    dti, fico, int_rate and revol_util (points), inq_last_6mths (mean count) and emp_length (years) move
    by + x. The shift applies to the drawn population before outcomes, so risk follows where the column
    drives default. Unknown columns, malformed parts and relative shifts of -100 % or less are errors.
    """
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"shift {part!r} must look like column=number, e.g. annual_inc=-0.2,dti=+5")
        if name not in SHIFT_RELATIVE + SHIFT_ADDITIVE:
            raise ValueError(
                f"cannot shift {name!r}: choose from {', '.join(SHIFT_RELATIVE + SHIFT_ADDITIVE)}"
            )
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"shift {part!r}: {value.strip()!r} is not a number") from None
        if not np.isfinite(out[name]) or (name in SHIFT_RELATIVE and out[name] <= -1):
            raise ValueError(f"shift {part!r}: a shift must be finite, and a relative shift above -1")
    return out


def monthly_counts(rows: int, first: int, last: int) -> np.ndarray:
    """Rows per month (index first..last) following LendingClub's yearly volumes, summing to `rows`."""
    months = np.arange(first, last + 1)
    in_year = np.where(months // 12 == 2020, 3, 12)  # the data stop at Mar-2020
    weight = np.array([YEARLY_VOLUME[int(m) // 12] for m in months], dtype=np.float64) / in_year
    weight *= 1 + 0.004 * (months % 12 - (in_year - 1) / 2)  # volumes grew within each year too
    exact = rows * weight / weight.sum()
    counts: np.ndarray = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts), kind="stable")[: rows - counts.sum()]] += 1
    return counts


def _era(month: int) -> str:
    year = month // 12
    if year <= 2015:
        return "LoanStats3" + ("a" if year <= 2011 else "b" if year <= 2013 else "c" if year == 2014 else "d")
    return f"LoanStats_{year}Q{month % 12 // 3 + 1}"


def plan_exports(spec: GenerateSpec) -> list[ExportFile]:
    """The files `spec` produces: one Kaggle file, or LendingClub's era files for the website export."""
    counts = monthly_counts(spec.rows, spec.first_month, spec.last_month)
    if spec.layout == "kaggle":
        return [ExportFile(f"accepted_{spec.start}_to_{spec.end}", 0, spec.rows)]
    if spec.layout == "retyped":
        return [ExportFile(f"LoanStats3a_retyped_{spec.start}_to_{spec.end}", 0, spec.rows)]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    files: list[ExportFile] = []
    for i, month in enumerate(range(spec.first_month, spec.last_month + 1)):
        if files and files[-1].stem == _era(month):
            files[-1] = ExportFile(files[-1].stem, files[-1].first_row, int(bounds[i + 1]))
        else:
            files.append(ExportFile(_era(month), int(bounds[i]), int(bounds[i + 1])))
    return [f for f in files if f.rows]


def _rows_text(spec: GenerateSpec, counts: np.ndarray, first: int, end: int) -> tuple[pa.Buffer, int]:
    """CSV lines for rows first..end, and their funded amount (for the website export's footer)."""
    starts = np.cumsum(counts) - counts
    months = spec.first_month + np.searchsorted(starts, np.arange(first, end), side="right") - 1
    loans = draw_loans(np.random.default_rng([spec.seed, first]), months, 1_000_000 + first, dict(spec.shift))
    layout = spec.layout
    if (
        layout == "loanstats"
    ):  # LendingClub's own exports dropped ids from 2018 and wrote `n/a` for unknown emp_length
        no_id = pa.array(months >= 2018 * 12)
        for name in ("id", "url"):
            loans[name] = pc.if_else(
                no_id, pa.nulls(len(months), pa.string()), column_text(name, loans[name], layout)
            )
        loans["emp_length"] = pc.fill_null(loans["emp_length"], "n/a")
    if layout == "retyped":  # the R package lost the ids and kept the term's number
        for name in ("id", "member_id", "url"):
            loans[name] = pa.nulls(len(months), pa.string())
        loans["term"] = pc.replace_substring_regex(loans["term"], r"\D", "")
    columns = KAGGLE if layout == "kaggle" else LOANSTATS
    text = [column_text(name, loans[name], layout) for name in columns]
    return csv_rows(text, columns, quote_all=layout == "loanstats"), int(loans["funded_amnt"].sum())


def _pieces(files: list[ExportFile]) -> Iterator[tuple[int, int]]:
    """(first, end) row ranges: the fixed chunk grid, cut at file boundaries."""
    for f in files:
        row = f.first_row
        while row < f.end_row:
            end = min(f.end_row, (row // CHUNK + 1) * CHUNK)
            yield row, end
            row = end


def _header(spec: GenerateSpec) -> bytes:
    if spec.layout != "loanstats":
        return (",".join(KAGGLE if spec.layout == "kaggle" else LOANSTATS) + "\n").encode()
    return (PROSPECTUS_LINE + "\n" + ",".join(f'"{c}"' for c in LOANSTATS) + "\n").encode()


def _drawn_ahead(
    pool: ThreadPoolExecutor, spec: GenerateSpec, counts: np.ndarray, pieces: Iterator[tuple[int, int]]
) -> Iterator[tuple[int, pa.Buffer, int]]:
    """(end row, CSV lines, funded amount) per piece, in order, the next piece drawn while this one is written."""
    pending: deque[tuple[int, Future[tuple[pa.Buffer, int]]]] = deque()
    for first, stop in pieces:
        pending.append((stop, pool.submit(_rows_text, spec, counts, first, stop)))
        if len(pending) == 2:
            stop, future = pending.popleft()
            yield stop, *future.result()
    for stop, future in pending:
        yield stop, *future.result()


def generate_exports(
    out_dir: str | Path,
    rows: int,
    seed: int,
    layout: str = "kaggle",
    start: str = "2007-01",
    end: str = "2020-03",
    compress: bool = True,
    shift: dict[str, float] | None = None,
    progress: bool | None = None,
) -> list[Path]:
    """Write raw LendingClub-shaped CSV exports into `out_dir`; returns the files written.

    A worker thread draws the next chunk while this one compresses and writes the last (zlib releases
    the GIL, so gzip costs little extra where a second core is free); at most two chunks are in flight.
    `progress` None shows a bar only when stderr is a terminal.
    """
    spec = GenerateSpec(rows, seed, layout, start, end, tuple(sorted((shift or {}).items())))
    counts = monthly_counts(rows, spec.first_month, spec.last_month)
    files = plan_exports(spec)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bar = None
    if sys.stderr.isatty() if progress is None else progress:
        from tqdm import tqdm

        bar = tqdm(total=rows, unit="rows", desc="generate", unit_scale=True)
    written = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate") as pool:
        chunks = _drawn_ahead(pool, spec, counts, _pieces(files))
        for f in files:
            path = out / (f"{f.stem}.csv.gz" if compress else f"{f.stem}.csv")
            funded, row = 0, f.first_row
            with open(path, "wb") as raw:
                sink = (
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1)
                    if compress
                    else raw
                )
                sink.write(_header(spec))
                while row < f.end_row:  # pieces never cross a file boundary
                    stop, lines, amount = next(chunks)
                    sink.write(lines)
                    funded += amount
                    if bar is not None:
                        bar.update(stop - row)
                    row = stop
                if layout == "loanstats":
                    sink.write(
                        f'\n"Total amount funded in policy code 1: {funded}"\n'
                        f'"Total amount funded in policy code 2: {round(funded * POLICY_CODE_2_SHARE)}"\n'.encode()
                    )
                if compress:
                    sink.close()
            written.append(path)
    if bar is not None:
        bar.close()
    return written

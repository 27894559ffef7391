"""The synthetic exports: determinism, layouts, every quirk, label rate, drift and CLI errors."""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

import numpy as np
import pytest

from credit_risk.cli import main
from credit_risk.generate import generate_exports, monthly_counts, parse_shift
from credit_risk.raw_schema import KAGGLE, LOANSTATS, PROSPECTUS_LINE

FINAL = {"Fully Paid", "Charged Off", "Default"}


def _rows(path: Path, skip_first: bool = False) -> list[dict[str, str]]:
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    lines = text.splitlines()
    if skip_first:
        lines = lines[1:]
    return [r for r in csv.DictReader(io.StringIO("\n".join(lines))) if r.get("loan_amnt")]


@pytest.fixture(scope="module")
def kaggle_rows(tmp_path_factory) -> list[dict[str, str]]:
    out = tmp_path_factory.mktemp("gen")
    (path,) = generate_exports(out, 20000, 7, progress=False)
    return _rows(path)


def test_same_seed_gives_byte_identical_files(tmp_path):
    for run in ("a", "b"):
        assert main(["generate", "--rows", "20000", "--seed", "7", "--out", str(tmp_path / run)]) == 0
    a, b = sorted((tmp_path / "a").iterdir()), sorted((tmp_path / "b").iterdir())
    assert [p.name for p in a] == [p.name for p in b] and a[0].read_bytes() == b[0].read_bytes()
    generate_exports(tmp_path / "c", 20000, 8, progress=False)
    assert next((tmp_path / "c").iterdir()).read_bytes() != a[0].read_bytes()


def test_kaggle_layout_columns_and_formats(kaggle_rows, shared_data):
    listed = [ln.split()[2] for ln in (shared_data / "columns.txt").read_text().splitlines() if re.match(r"\s*\d+ ", ln)]
    assert list(KAGGLE) == listed and len(kaggle_rows[0]) == 151
    row = kaggle_rows[-1]
    assert row["term"] in (" 36 months", " 60 months")
    assert re.fullmatch(r"\d+\.\d{1,2}", row["int_rate"]) and "%" not in row["int_rate"]
    assert re.fullmatch(r"\d+\.0", row["loan_amnt"]) and re.fullmatch(r"[A-Z][a-z]{2}-20\d\d", row["issue_d"])
    assert row["member_id"] == "" and row["url"].endswith(f"loan_id={row['id']}")


def test_quirks_are_present(kaggle_rows):
    rows = kaggle_rows
    statuses = {r["loan_status"] for r in rows}
    assert {"Current", "Late (31-120 days)", "Late (16-30 days)", "In Grace Period", "Charged Off", "Fully Paid"} <= statuses
    assert any(s.startswith("Does not meet the credit policy. Status:") for s in statuses)
    cells = sum(len(r) for r in rows)
    assert sum(v == "" for r in rows for v in r.values()) / cells > 0.25
    assert any(r["dti"] == "999" for r in rows) and any(r["dti"].startswith("-") for r in rows)
    assert {"10+ years", "< 1 year", ""} <= {r["emp_length"] for r in rows}
    titles = [r["emp_title"] for r in rows if r["emp_title"]]
    assert len(set(titles)) > 5000 and any(t != t.strip() for t in titles) and any(t.isupper() for t in titles)
    early = [r for r in rows if int(r["issue_d"][-4:]) < 2012]
    late = [r for r in rows if int(r["issue_d"][-4:]) >= 2016]
    assert all(r["tot_cur_bal"] == "" for r in early) and all(r["tot_cur_bal"] != "" for r in late)
    assert all(r["open_acc_6m"] == "" for r in rows if int(r["issue_d"][-4:]) < 2015)
    joint = [r for r in rows if r["application_type"] == "Joint App"]
    assert joint and all(r["annual_inc_joint"] for r in joint) and all(int(r["issue_d"][-4:]) >= 2015 for r in joint)


def test_outcome_columns_are_consistent_so_leakage_would_show(kaggle_rows):
    for r in kaggle_rows:
        if r["loan_status"] == "Fully Paid":
            assert float(r["total_rec_prncp"]) == pytest.approx(float(r["funded_amnt"]), abs=0.01)
            assert float(r["recoveries"]) == 0 and r["next_pymnt_d"] == ""
        if r["loan_status"] == "Current":
            assert float(r["out_prncp"]) > 0 and r["next_pymnt_d"]
        if float(r["recoveries"]) > 0:
            assert "Charged Off" in r["loan_status"] or r["loan_status"] == "Default"


def test_label_rate_and_vintage_maturity(kaggle_rows):
    status = [r["loan_status"].removeprefix("Does not meet the credit policy. Status:") for r in kaggle_rows]
    finished = [s for s in status if s in FINAL]
    share = sum(s != "Fully Paid" for s in finished) / len(finished)
    assert 0.18 <= share <= 0.22, share
    recent = [s for s, r in zip(status, kaggle_rows, strict=True) if r["issue_d"].endswith(("2019", "2020"))]
    early = [s for s, r in zip(status, kaggle_rows, strict=True) if int(r["issue_d"][-4:]) < 2016]
    assert sum(s not in FINAL for s in recent) / len(recent) > 0.6
    assert sum(s not in FINAL for s in early) / len(early) < 0.05


def test_volumes_follow_lendingclub_growth():
    counts = monthly_counts(2_900_000, 2007 * 12, 2020 * 12 + 2)
    assert counts.sum() == 2_900_000
    per_year = counts.reshape(-1, 1)[:, 0]
    assert per_year[:12].sum() < 1000 and per_year[-15:-3].sum() > 450_000  # 2007 vs 2019


def test_loanstats_layout(tmp_path):
    files = generate_exports(tmp_path, 3000, 3, layout="loanstats", progress=False)
    names = [f.name for f in files]
    assert names[0] == "LoanStats3a.csv.gz" and "LoanStats_2019Q1.csv.gz" in names
    text = gzip.decompress(files[-1].read_bytes()).decode()
    lines = text.splitlines()
    assert lines[0] == PROSPECTUS_LINE
    assert lines[1].split(",")[:2] == ['"id"', '"member_id"'] and len(lines[1].split(",")) == len(LOANSTATS) == 145
    assert lines[-1].startswith('"Total amount funded in policy code 2:') and lines[-3] == ""
    rows = _rows(files[-1], skip_first=True)
    assert all(re.fullmatch(r" \d+(\.\d+)?%", r["int_rate"]) for r in rows)
    assert all(r["id"] == "" and r["url"] == "" for r in rows)  # 2018+ website exports carry no ids
    assert lines[2].startswith('"') and '","' in lines[2]


def test_shift_moves_the_population(tmp_path):
    base = _rows(generate_exports(tmp_path / "a", 4000, 5, progress=False)[0])
    shifted = _rows(generate_exports(tmp_path / "b", 4000, 5, shift=parse_shift("annual_inc=-0.2,dti=+5"), progress=False)[0])
    inc = lambda rows: np.mean([float(r["annual_inc"]) for r in rows])  # noqa: E731
    dti = lambda rows: np.median([float(r["dti"]) for r in rows if 0 <= float(r["dti"]) < 100])  # noqa: E731
    assert inc(shifted) / inc(base) == pytest.approx(0.8, abs=0.03)
    assert dti(shifted) - dti(base) == pytest.approx(5, abs=1.0)


@pytest.mark.parametrize(("args", "message"), [
    (["--rows", "-5"], "rows must be at least 1"),
    (["--start", "2019-01", "--end", "2018-01"], "is after end"),
    (["--start", "2019-13"], "must look like 2007-01"),
    (["--shift", "annual_inc"], "must look like column=number"),
    (["--shift", "loan_status=1"], "cannot shift 'loan_status'"),
    (["--shift", "dti=lots"], "is not a number"),
])
def test_cli_rejects_bad_arguments(tmp_path, capsys, args, message):
    assert main(["generate", "--out", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_rejects_unknown_layout(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--layout", "parquet"])
    assert exit_info.value.code == 2 and "invalid choice: 'parquet'" in capsys.readouterr().err

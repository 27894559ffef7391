"""The synthetic exports: determinism, both layouts, every quirk, honest signal, drift and CLI errors."""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credit_risk.cli import main
from credit_risk.raw_schema import KAGGLE, LOANSTATS, PROSPECTUS_LINE
from credit_risk.synthetic.generate import YEARLY_VOLUME, generate_exports, monthly_counts, parse_shift

FINAL = {"Fully Paid", "Charged Off", "Default"}
RUNNING = {"Current", "In Grace Period", "Late (16-30 days)", "Late (31-120 days)", "Issued", "Default"}
POLICY = "Does not meet the credit policy. Status:"


def _read(path: Path, skip: int = 0) -> pd.DataFrame:
    """A raw file as strings (empty = missing), without the website export's prospectus and footer lines."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skiprows=skip)
    return frame[frame["loan_amnt"] != ""].reset_index(drop=True)


def _month(text: pd.Series) -> pd.Series:
    dates = pd.to_datetime(text.where(text != ""), format="%b-%Y")
    return dates.dt.year * 12 + dates.dt.month - 1


@pytest.fixture(scope="module")
def loans(tmp_path_factory) -> pd.DataFrame:
    (path,) = generate_exports(tmp_path_factory.mktemp("gen"), 40_000, 7, progress=False)
    frame = _read(path)
    frame["status"] = frame["loan_status"].str.removeprefix(POLICY)
    frame["year"] = frame["issue_d"].str[-4:].astype(int)
    frame["month"] = _month(frame["issue_d"])
    frame["finished"] = frame["status"].isin({"Fully Paid", "Charged Off"})
    frame["bad"] = (frame["status"] == "Charged Off").astype(int)
    return frame


def test_same_seed_gives_byte_identical_files(tmp_path, capsys):
    for run in ("a", "b"):
        assert main(["generate", "--rows", "20000", "--seed", "7", "--out", str(tmp_path / run)]) == 0
    out = capsys.readouterr().out
    assert "accepted_2007-01_to_2020-03.csv.gz\t20,000 rows" in out and "20,000 loans in 1 file(s)" in out
    a, b = (
        (tmp_path / "a" / "accepted_2007-01_to_2020-03.csv.gz"),
        (tmp_path / "b" / "accepted_2007-01_to_2020-03.csv.gz"),
    )
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime fixed
    other = generate_exports(tmp_path / "c", 20000, 8, progress=False)[0]
    assert other.read_bytes() != a.read_bytes()


def test_package_keeps_the_column_lists():
    assert len(KAGGLE) == len(set(KAGGLE)) == 151 and len(LOANSTATS) == 145
    assert [c for c in KAGGLE if c in LOANSTATS] == list(LOANSTATS)
    assert not any("fico" in c for c in LOANSTATS)


def test_kaggle_columns_match_the_real_file(shared_data, loans):
    listed = [
        ln.split()[2]
        for ln in (shared_data / "columns.txt").read_text().splitlines()
        if re.match(r"\s*\d+ ", ln)
    ]
    flagged = [
        ln.split()[2]
        for ln in (shared_data / "columns.txt").read_text().splitlines()
        if re.match(r"\s*\d+ +K", ln)
    ]
    assert list(KAGGLE) == listed and list(LOANSTATS) == flagged
    assert list(loans.columns[:151]) == listed


def test_kaggle_value_formats(loans):
    assert set(loans["term"]) == {" 36 months", " 60 months"}
    assert loans["int_rate"].str.fullmatch(r"\d+\.\d{1,2}").all()
    assert (
        loans["loan_amnt"].str.fullmatch(r"\d+\.0").all()
        and loans["annual_inc"].str.fullmatch(r"\d+\.\d{1,2}").all()
    )
    assert loans["revol_util"].str.fullmatch(r"(\d+\.\d)?").all()
    assert (
        loans["issue_d"].str.fullmatch(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-20[012]\d").all()
    )
    assert (loans["member_id"] == "").all() and loans["id"].str.fullmatch(r"\d+").all()
    assert (loans["url"] == "https://lendingclub.com/browse/loanDetail.action?loan_id=" + loans["id"]).all()
    fico_low, fico_high = loans["fico_range_low"].astype(float), loans["fico_range_high"].astype(float)
    assert ((fico_high - fico_low) == 4).all() and fico_low.between(600, 850).all()
    assert {"10+ years", "< 1 year", "", "1 year"} <= set(loans["emp_length"])
    assert loans["sub_grade"].str.fullmatch(r"[A-G][1-5]").all()
    assert (loans["sub_grade"].str[0] == loans["grade"]).all()


def test_status_mix_and_vintage_maturity(loans):
    statuses = set(loans["loan_status"])
    assert {
        "Current",
        "Fully Paid",
        "Charged Off",
        "Late (16-30 days)",
        "Late (31-120 days)",
        "In Grace Period",
        "Issued",
        "Default",
        POLICY + "Fully Paid",
        POLICY + "Charged Off",
    } <= statuses
    assert loans.loc[loans["loan_status"].str.startswith(POLICY), "year"].between(2007, 2010).all()
    running = loans["status"].isin(RUNNING - {"Default"})
    assert running[loans["year"] >= 2019].mean() > 0.6
    assert running[loans["year"] < 2016].mean() < 0.03


def test_charged_off_share_of_finished_loans(loans):
    share = loans.loc[loans["finished"], "bad"].mean()
    assert 0.18 <= share <= 0.22, share


def test_more_than_a_quarter_of_cells_missing(loans):
    assert (loans[list(KAGGLE)] == "").to_numpy().mean() > 0.25


def test_dti_markers_and_noisy_emp_title(loans):
    assert (loans["dti"] == "999.0").any() and loans["dti"].str.startswith("-").any()
    titles = loans.loc[loans["emp_title"] != "", "emp_title"]
    assert titles.nunique() > 5000
    assert {"Manager", "MANAGER", "manager", "Manager "} <= set(titles)
    assert titles.str.contains(",").any()  # quoted in the file, like the real one


def test_column_drift(loans):
    month = loans["month"]
    assert (loans.loc[month < 2012 * 12 + 2, ["tot_cur_bal", "num_sats", "bc_util"]] == "").all().all()
    assert (loans.loc[month >= 2016 * 12, ["tot_cur_bal", "num_sats", "open_acc_6m"]] != "").all().all()
    assert (loans.loc[month < 2015 * 12 + 11, ["open_acc_6m", "il_util", "inq_last_12m"]] == "").all().all()
    assert (loans.loc[month < 2010 * 12 + 4, "term"] == " 36 months").all()
    joint = loans["application_type"] == "Joint App"
    assert (
        joint.any()
        and (month[joint] >= 2015 * 12 + 9).all()
        and (loans.loc[joint, "annual_inc_joint"] != "").all()
    )
    sec_app = loans["sec_app_fico_range_low"] != ""
    assert sec_app.any() and (joint[sec_app]).all() and (month[sec_app] >= 2017 * 12 + 2).all()
    hardship = loans["hardship_type"] != ""
    assert 0 < hardship.mean() < 0.05 and (loans.loc[hardship, "year"] >= 2016).all()
    assert set(loans.loc[hardship, "hardship_flag"]) == {"Y"} and set(
        loans.loc[~hardship, "hardship_flag"]
    ) == {"N"}
    settled = loans["settlement_status"] != ""
    assert settled.any() and (loans.loc[settled, "status"] == "Charged Off").all()
    assert (loans.loc[settled, "debt_settlement_flag"] == "Y").all()


def test_outcome_columns_follow_the_outcome(loans):
    num = lambda col: pd.to_numeric(loans[col], errors="coerce")  # noqa: E731
    paid, charged = loans["status"] == "Fully Paid", loans["status"] == "Charged Off"
    running = loans["status"].isin(RUNNING)
    assert np.allclose(num("total_rec_prncp")[paid], num("funded_amnt")[paid], atol=0.01)
    assert (num("recoveries")[~charged] == 0).all() and (num("recoveries")[charged] > 0).mean() > 0.5
    assert (num("out_prncp")[~running] == 0).all() and (num("out_prncp")[running] > 0).all()
    assert (loans.loc[running, "next_pymnt_d"] != "").all() and (
        loans.loc[~running, "next_pymnt_d"] == ""
    ).all()
    assert (num("total_pymnt")[charged] < num("funded_amnt")[charged] * 1.5).all()
    assert num("last_fico_range_low")[charged].mean() < num("last_fico_range_low")[paid].mean() - 50
    assert (_month(loans["last_pymnt_d"]) >= loans["month"]).where(loans["last_pymnt_d"] != "", True).all()


def test_risk_drivers_matter_the_way_they_do_in_lending(loans):
    done = loans[loans["finished"]]
    by_grade = done.groupby("grade")["bad"].mean()
    assert by_grade.is_monotonic_increasing and by_grade["A"] < 0.12 and by_grade["E"] > 0.3
    assert loans.groupby("grade")["int_rate"].apply(lambda s: s.astype(float).mean()).is_monotonic_increasing
    assert (
        done.groupby("term")["bad"].mean()[" 60 months"]
        > 1.4 * done.groupby("term")["bad"].mean()[" 36 months"]
    )
    fico = done["fico_range_low"].astype(float)
    assert done["bad"][fico < 680].mean() > 2 * done["bad"][fico >= 760].mean()
    dti = pd.to_numeric(done["dti"])
    assert done["bad"][dti.between(25, 40)].mean() > done["bad"][dti.between(0, 10)].mean() + 0.05
    income = loans["annual_inc"].astype(float)
    assert income.median() < income.mean() and 50_000 < income.median() < 80_000


def test_origination_features_rank_risk_honestly(loans):
    """Out of time, a logistic regression on what was known at origination reaches 0.68-0.75, not more."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    numeric = [
        "loan_amnt",
        "int_rate",
        "annual_inc",
        "dti",
        "fico_range_low",
        "inq_last_6mths",
        "revol_util",
        "open_acc",
        "pub_rec",
        "revol_bal",
        "total_acc",
        "delinq_2yrs",
    ]
    x = pd.DataFrame({c: pd.to_numeric(loans[c], errors="coerce") for c in numeric})
    x["dti"] = x["dti"].where(x["dti"].between(0, 100))
    x[["annual_inc", "revol_bal"]] = np.log1p(x[["annual_inc", "revol_bal"]])
    x["term60"] = (loans["term"] == " 60 months").astype(int)
    x["credit_age"] = loans["month"] - _month(loans["earliest_cr_line"])
    x = pd.concat(
        [x, pd.get_dummies(loans[["grade", "purpose", "home_ownership", "emp_length"]], dtype=int)], axis=1
    )
    x = x.fillna(x.median())
    train = loans["finished"] & (loans["year"] <= 2016)
    test = loans["finished"] & loans["year"].isin([2017, 2018])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        x[train], loans["bad"][train]
    )
    auc = roc_auc_score(loans["bad"][test], model.predict_proba(x[test])[:, 1])
    assert 0.66 <= auc <= 0.77, auc


def test_volumes_follow_lendingclub_growth():
    counts = monthly_counts(2_900_000, 2007 * 12, 2020 * 12 + 2)
    assert counts.sum() == 2_900_000
    yearly = np.add.reduceat(counts, np.arange(0, len(counts), 12))
    expected = np.array(list(YEARLY_VOLUME.values()), dtype=float)
    assert np.allclose(yearly / yearly.sum(), expected / expected.sum(), atol=2e-4)
    some = monthly_counts(1000, 2016 * 12, 2016 * 12 + 5)
    assert some.sum() == 1000 and len(some) == 6


def _quoted(line: str) -> bool:
    return re.fullmatch(r'"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*', line) is not None


def test_loanstats_layout(tmp_path):
    files = generate_exports(tmp_path, 6000, 3, layout="loanstats", compress=False, progress=False)
    names = [f.stem for f in files]
    assert names[:4] == ["LoanStats3a", "LoanStats3b", "LoanStats3c", "LoanStats3d"]
    assert names[4:] == [f"LoanStats_{y}Q{q}" for y in range(2016, 2020) for q in range(1, 5)] + [
        "LoanStats_2020Q1"
    ]
    for path in (files[0], files[-1]):
        lines = path.read_text().split("\n")
        assert lines[0] == PROSPECTUS_LINE and lines[1] == ",".join(f'"{c}"' for c in LOANSTATS)
        assert lines[-4] == "" and lines[-1] == ""
        assert re.fullmatch(r'"Total amount funded in policy code 1: \d+"', lines[-3])
        assert re.fullmatch(r'"Total amount funded in policy code 2: \d+"', lines[-2])
        rows = lines[2:-4]
        assert all(_quoted(ln) for ln in rows)
        frame = pd.DataFrame(list(csv.reader(io.StringIO("\n".join(rows)))), columns=list(LOANSTATS))
        assert int(lines[-3].split(": ")[1].rstrip('"')) == frame["funded_amnt"].astype(int).sum()
        assert frame["int_rate"].str.fullmatch(r" \d+\.\d{1,2}%").all()
        assert frame["revol_util"].str.fullmatch(r"(\d+(\.\d)?%)?").all()
        assert (
            frame["out_prncp"].str.fullmatch(r"\d+\.\d\d").all()
            and frame["loan_amnt"].str.fullmatch(r"\d+").all()
        )
        assert (frame["member_id"] == "").all()
    early, late = _read(files[0], skip=1), _read(files[-1], skip=1)
    assert (early["id"] != "").all() and (early["url"] != "").all()
    assert (late["id"] == "").all() and (late["url"] == "").all()  # LendingClub dropped ids from 2018
    assert "n/a" in set(early["emp_length"]) | set(late["emp_length"])


def test_loanstats_gzip_is_readable_and_split_by_range(tmp_path):
    files = generate_exports(
        tmp_path, 500, 1, layout="loanstats", start="2016-02", end="2016-05", progress=False
    )
    assert [f.name for f in files] == ["LoanStats_2016Q1.csv.gz", "LoanStats_2016Q2.csv.gz"]
    assert gzip.decompress(files[0].read_bytes()).decode().startswith(PROSPECTUS_LINE)
    frames = [_read(f, skip=1) for f in files]
    assert set(frames[0]["issue_d"]) == {"Feb-2016", "Mar-2016"} and set(frames[1]["issue_d"]) == {
        "Apr-2016",
        "May-2016",
    }
    assert sum(len(f) for f in frames) == 500


def test_shift_moves_the_population_as_documented(tmp_path):
    base = _read(generate_exports(tmp_path / "a", 6000, 5, compress=False, progress=False)[0])
    shift = parse_shift("annual_inc=-0.2, dti=+5,fico=10")
    moved = _read(generate_exports(tmp_path / "b", 6000, 5, compress=False, shift=shift, progress=False)[0])
    mean = lambda frame, col: pd.to_numeric(frame[col], errors="coerce").mean()  # noqa: E731
    ok_dti = lambda frame: pd.to_numeric(frame["dti"]).where(lambda d: d.between(0, 100)).median()  # noqa: E731
    assert mean(moved, "annual_inc") / mean(base, "annual_inc") == pytest.approx(0.8, abs=0.01)
    assert ok_dti(moved) - ok_dti(base) == pytest.approx(5, abs=0.3)
    assert mean(moved, "fico_range_low") - mean(base, "fico_range_low") == pytest.approx(10, abs=0.01)
    assert mean(moved, "loan_amnt") == pytest.approx(
        mean(base, "loan_amnt"), rel=1e-9
    )  # only the named columns


def test_parse_shift():
    assert parse_shift("annual_inc=-0.2,dti=+5") == {"annual_inc": -0.2, "dti": 5.0}
    assert parse_shift("") == {} and parse_shift(None) == {}
    with pytest.raises(ValueError, match="relative shift above -1"):
        parse_shift("loan_amnt=-1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rows", "-5"], "rows must be at least 1"),
        (["--rows", "0"], "rows must be at least 1"),
        (["--start", "2019-01", "--end", "2018-01"], "start 2019-01 is after end 2018-01"),
        (["--start", "2019-13"], "must look like 2007-01"),
        (["--end", "2021-01"], "outside the 2007-01..2020-03 range"),
        (["--shift", "annual_inc"], "must look like column=number"),
        (["--shift", "loan_status=1"], "cannot shift 'loan_status'"),
        (["--shift", "dti=lots"], "'lots' is not a number"),
    ],
)
def test_cli_rejects_bad_arguments(tmp_path, capsys, args, message):
    assert main(["generate", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("credit-risk generate: error:") and message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_cli_rejects_unknown_layout(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--layout", "parquet"])
    assert exit_info.value.code == 2 and "invalid choice: 'parquet'" in capsys.readouterr().err

"""Bronze ingestion of every real layout, the generator's layouts, long and broken quoted fields, corrupted inputs."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from credit_risk.lake import open_lake
from credit_risk.pipeline.bronze import ingest_files
from credit_risk.pipeline.raw_files import list_raw_files
from credit_risk.synthetic.generate import generate_exports
from credit_risk.tables import BRONZE_LOANS, BRONZE_QUARANTINE

HEADER = "id,member_id,loan_amnt,int_rate,term,issue_d,loan_status"


def _ingest(spark, lake, paths, tmp_path):
    return ingest_files(spark, lake, [Path(p) for p in paths], tmp_path / "staging")


def _by_file(lake, table):
    if not lake.exists(table):
        return {}
    return {r["source_file"]: r["count"] for r in lake.read(table).groupBy("source_file").count().collect()}


@pytest.fixture(scope="module")
def real(spark, shared_data, tmp_path_factory):
    """The seven real extracts ingested once, for the bronze and the silver checks below."""
    tmp = tmp_path_factory.mktemp("real")
    lake, files = open_lake(tmp / "lake", catalog="test", schema_prefix=""), list_raw_files(shared_data)
    return {"lake": lake, "files": files, "tmp": tmp, "result": _ingest(spark, lake, files, tmp)}


def test_real_extracts_are_ingested_and_reconciled(spark, real):
    lake, files, result = real["lake"], real["files"], real["result"]
    assert len(files) == 7
    rows = _by_file(lake, BRONZE_LOANS)
    assert rows == {
        "JGFuentesC__lending_club_sample.csv.gz": 2000,
        "bbodami__lending_club_sample.csv.gz": 1000,
        "Raghav192__lending_club_sample.csv.gz": 999,
        "mshtelma__lendingclub_parquet_2016.csv.gz": 1000,
        "snehachada__2019loans.csv.gz": 12180,
        "snehachada__2020Q1loans.csv.gz": 4702,
        "kuhnrl30__LendingClubData_2007_2009.csv.gz": 8277,
    }
    assert result["quarantined"] == 0
    bronze = lake.read(BRONZE_LOANS)
    first = bronze.where((F.col("source_file").startswith("JGF")) & (F.col("line_number") == 2)).first()
    assert (first["id"], first["int_rate"], first["term"], first["issue_d"]) == (
        "90134693",
        "9.49",
        " 36 months",
        "Sep-2016",
    )
    msh = bronze.where(F.col("source_file").startswith("msh") & (F.col("line_number") == 2)).first()
    assert msh["int_rate"] == " 17.27%" and msh["revol_util"] == "92.7%" and msh["issue_d"] == "Mar-2016"
    assert msh["open_act_il"] is not None  # `open_il_6m` renamed to today's name
    sneha = bronze.where(F.col("source_file").startswith("snehachada__2019")).first()
    assert sneha["int_rate"].startswith("0.") and json.loads(sneha["_rescued"])["target"] in {
        "low_risk",
        "high_risk",
    }
    again = _ingest(spark, lake, files, real["tmp"])  # the same bytes: nothing new
    kuhn = bronze.where(
        F.col("source_file").startswith("kuhnrl30")
    )  # re-typed by R: 36, fractions, ISO dates
    first = kuhn.where(F.col("line_number") == 2).first()
    assert (first["term"], first["int_rate"], first["issue_d"], first["id"], first["fico_range_low"]) == (
        "36",
        "0.1122",
        "2007-12-01",
        None,
        None,
    )
    longest = kuhn.select(F.max(F.length("desc")).alias("n")).first()["n"]
    assert (
        longest == 3966
    )  # the longest real description, parsed whole (its quoted regex once overflowed Java's stack)
    again = _ingest(spark, lake, files, real["tmp"])  # the same bytes: nothing new
    assert again["files"] == 0 and len(again["skipped"]) == 7 and lake.read(BRONZE_LOANS).count() == 30158


def test_generated_layouts_and_rebatching(spark, lake, tmp_path):
    kaggle = generate_exports(tmp_path / "k", 600, 1, progress=False)
    stats = generate_exports(
        tmp_path / "s", 600, 1, layout="loanstats", start="2016-01", end="2016-06", progress=False
    )
    result = _ingest(spark, lake, kaggle + stats, tmp_path)
    assert len(stats) == 2 and result["rows"] == 1200
    assert result["quarantined"] == 4 * len(stats)  # per file: prospectus, blank, two footers
    reasons = {r["reason"] for r in lake.read(BRONZE_QUARANTINE).collect()}
    assert reasons == {"prospectus line", "blank line", "footer line"}
    changed = tmp_path / "k2" / kaggle[0].name
    changed.parent.mkdir()
    changed.write_bytes(gzip.compress(gzip.decompress(kaggle[0].read_bytes())[:-1] + b"\n"))  # a changed file
    assert _ingest(spark, lake, [changed], tmp_path)["files"] == 1
    assert lake.read(BRONZE_LOANS).select("batch_id").distinct().count() == 2


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_corrupted_inputs_lose_nothing(spark, lake, tmp_path):
    good = "1,,1000,10.5, 36 months,Jan-2015,Fully Paid\n"
    d = tmp_path / "bad"
    d.mkdir()
    full = (
        HEADER
        + "\n"
        + "".join(
            f"{i},,{1000 + i * 37},{5 + i % 20}.5, 36 months,Jan-2015,Fully Paid\n" for i in range(2000)
        )
    ).encode()
    packed = gzip.compress(full)
    files = [
        _write(d / "truncated.csv.gz", packed[: len(packed) // 2]),
        _write(d / "extra_and_missing.csv", (HEADER + "\n" + good + "2,,1,2,3,4,5,6\n3,,1000\n").encode()),
        _write(
            d / "broken_quotes.csv",
            (HEADER + '\n4,,"1000,10.5, 36 months,Jan-2015,Fully Paid\n' + good).encode(),
        ),
        _write(d / "bom.csv", ("\ufeff" + HEADER + "\n" + good).encode()),
        _write(
            d / "latin1.csv",
            (
                HEADER
                + "\n"
                + good.replace("Fully Paid", "Fully Paid")
                + "5,,1000,10.5, 36 months,Jan-2015,Paid é\n"
            ).encode("latin-1"),
        ),
        _write(d / "empty.csv", b""),
        _write(d / "header_only.csv", (HEADER + "\n").encode()),
        _write(d / "not_lending_club.csv", b"a,b\n1,2\n"),
    ]
    with zipfile.ZipFile(d / "zipped.zip", "w") as zf:
        zf.writestr("inner.csv", HEADER + "\n" + good * 3)
    files.append(d / "zipped.zip")
    result = _ingest(spark, lake, files, tmp_path)  # reconciliation inside raises if a line is lost
    rows, rejected = _by_file(lake, BRONZE_LOANS), _by_file(lake, BRONZE_QUARANTINE)
    assert 100 < rows["truncated.csv.gz"] < 2000 and rejected["truncated.csv.gz"] <= 1  # a cut last line
    assert rows["extra_and_missing.csv"] == 1 and rejected["extra_and_missing.csv"] == 2
    assert rows["broken_quotes.csv"] == 1 and rejected["broken_quotes.csv"] == 1
    assert rows["bom.csv"] == 1 and rows["latin1.csv"] == 2 and rows["zipped.zip"] == 3
    assert "empty.csv" not in rows and "header_only.csv" not in rows and rejected["not_lending_club.csv"] == 2
    reasons = {r["source_file"]: r["reason"] for r in lake.read(BRONZE_QUARANTINE).collect()}
    assert reasons["broken_quotes.csv"] == "unbalanced quotes"
    assert reasons["not_lending_club.csv"].startswith("no LendingClub header")
    bronze = lake.read(BRONZE_LOANS)
    assert bronze.where(F.col("loan_status") == "Paid é").count() == 1  # latin-1 decoded, not mangled
    assert bronze.where(F.col("source_file") == "bom.csv").first()["id"] == "1"
    assert result["files"] == 9


def test_long_quoted_fields_parse_and_quoted_line_breaks_are_quarantined(spark, lake, tmp_path):
    """A 100,000-character quoted field with doubled quotes and commas is one value; a quoted line break splits a
    record into two lines with odd quote counts, each quarantined with its raw text. No line is lost."""
    long_desc = ('I said "yes", then ' * 6000)[:100_000]
    quoted = '"' + long_desc.replace('"', '""') + '"'
    lines = [
        f"1,,1000,10.5, 36 months,Jan-2009,Fully Paid,{quoted}",
        '2,,2000,11.5, 36 months,Feb-2009,Charged Off,"first line',
        'second line, after the break"',
        "3,,3000,12.5, 60 months,Mar-2009,Fully Paid,short",
    ]
    path = _write(tmp_path / "long.csv", (HEADER + ",desc\n" + "\n".join(lines) + "\n").encode())
    result = _ingest(spark, lake, [path], tmp_path)
    assert (result["rows"], result["quarantined"]) == (2, 2)
    bronze = {r["id"]: r for r in lake.read(BRONZE_LOANS).collect()}
    assert bronze["1"]["desc"] == long_desc and len(bronze["1"]["desc"]) == 100_000
    assert bronze["1"]["loan_status"] == "Fully Paid" and bronze["3"]["desc"] == "short"
    rejected = sorted(
        (r["line_number"], r["reason"], r["raw_line"]) for r in lake.read(BRONZE_QUARANTINE).collect()
    )
    assert rejected == [(3, "unbalanced quotes", lines[1]), (4, "unbalanced quotes", lines[2])]


def test_generated_retyped_layout_with_long_descriptions(spark, lake, tmp_path):
    """The generator's LoanStats3a re-typed layout (no FICO, 36, fractions, ISO dates) and its early-vintage
    descriptions of up to ~4,000 characters with doubled quotes ingest without loss."""
    files = generate_exports(
        tmp_path / "r", 3000, 3, layout="retyped", start="2007-06", end="2011-12", progress=False
    )
    result = _ingest(spark, lake, files, tmp_path)
    assert (result["rows"], result["quarantined"]) == (3000, 0)
    bronze = lake.read(BRONZE_LOANS)
    stats = bronze.agg(
        F.max(F.length("desc")).alias("longest"),
        F.count("fico_range_low").alias("fico"),
        F.count("id").alias("ids"),
        F.sum(F.col("desc").contains('"').cast("int")).alias("quoted"),
        F.min("issue_d").alias("first"),
    ).first()
    assert 3000 < stats["longest"] <= 4000 and stats["quoted"] > 0 and (stats["fico"], stats["ids"]) == (0, 0)
    assert stats["first"] == "2007-06-01" and {
        r["term"] for r in bronze.select("term").distinct().collect()
    } <= {"36", "60"}
    assert bronze.where(F.col("desc").startswith("  Borrower added on ")).count() > 0


def test_wrong_field_count_reason_names_the_counts(spark, lake, tmp_path):
    path = _write(tmp_path / "short.csv", (HEADER + "\n3,,1000\n").encode())
    _ingest(spark, lake, [path], tmp_path)
    assert lake.read(BRONZE_QUARANTINE).first()["reason"] == "wrong field count: expected 7, got 3"


def test_missing_location_is_a_clear_error(tmp_path):
    from credit_risk.pipeline.raw_files import IngestError

    with pytest.raises(IngestError, match="does not exist"):
        list_raw_files(tmp_path / "nowhere")
    with pytest.raises(IngestError, match="no raw files"):
        list_raw_files(tmp_path)


def test_real_extracts_are_typed_in_silver(real):
    """Spot values of every real layout, typed, against the raw text they came from."""
    import datetime as dt

    from credit_risk.pipeline.silver import build_silver

    silver, quarantine, _ = build_silver(real["lake"].read(BRONZE_LOANS), train_end_year=2017)
    assert quarantine.count() == 0
    silver = silver.localCheckpoint()  # computed once for the lookups below, not once per lookup
    rows = {r["loan_id"]: r for r in silver.where(F.col("loan_id") == "90134693").collect()}
    jgf = rows["90134693"]  # raw: 9.49, ` 36 months`, Sep-2016, 10+ years, Aug-1998, dti 15.99
    assert (jgf["int_rate"], jgf["term_months"], jgf["issue_date"], jgf["emp_length_years"]) == (
        9.49,
        36,
        dt.date(2016, 9, 1),
        10,
    )
    assert (jgf["earliest_cr_line"], jgf["dti"], jgf["default_flag"]) == (dt.date(1998, 8, 1), 15.99, 0)
    msh = silver.where(F.col("source_file").startswith("msh") & (F.col("line_number") == 2)).first()
    assert (msh["int_rate"], msh["revol_util"], msh["issue_date"]) == (
        17.27,
        92.7,
        dt.date(2016, 3, 1),
    )  # ` 17.27%`, `92.7%`
    sneha = silver.where(
        F.col("source_file").startswith("snehachada__2019") & (F.col("line_number") == 2)
    ).first()
    assert (
        sneha["int_rate"] == pytest.approx(17.97) and sneha["issue_date"] is None
    )  # `0.1797`, no issue_d column
    kuhn = silver.where(F.col("source_file").startswith("kuhnrl30") & (F.col("line_number") == 2)).first()
    # raw: 36, 0.1122, 2007-12-01, revol_util 0.537, no FICO columns, empty id (the loan id is the row's hash)
    assert (kuhn["term_months"], kuhn["issue_date"]) == (36, dt.date(2007, 12, 1))
    assert (kuhn["int_rate"], kuhn["revol_util"]) == (pytest.approx(11.22), pytest.approx(53.7))
    assert kuhn["fico_range_low"] is None and len(kuhn["loan_id"]) == 64 and kuhn["default_flag"] == 0
    counts = {r["source_file"]: r["count"] for r in silver.groupBy("source_file").count().collect()}
    assert (
        counts["JGFuentesC__lending_club_sample.csv.gz"] == 2000
        and counts["snehachada__2019loans.csv.gz"] == 12180
    )

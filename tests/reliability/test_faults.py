"""Bad days for the lake: the same file twice, an unwritable or full disk, a corrupted commit.

The ingestion test runs on the active Delta mode's lake; the disk and corrupted-commit faults are injected into
the delta-rs lake, whose own steps (staging, its commit, `recover`) they test, in either mode's session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from deltalake import DeltaTable

from credit_risk.lake import DeltaRsLake, LakeError


def test_the_same_file_ingested_twice_lands_once(spark, lake, tmp_path):
    from credit_risk.pipeline.bronze import ingest_files
    from credit_risk.synthetic.generate import generate_exports
    from credit_risk.tables import BRONZE_LOANS

    files = generate_exports(tmp_path / "raw", 300, 5, progress=False)
    copy = tmp_path / "again" / files[0].name
    copy.parent.mkdir()
    copy.write_bytes(files[0].read_bytes())  # the same bytes under another folder
    first = ingest_files(spark, lake, files, tmp_path / "staging")
    version = lake.version(BRONZE_LOANS)
    second = ingest_files(spark, lake, [copy], tmp_path / "staging")
    assert second["files"] == 0 and second["skipped"] == [copy.name]
    assert lake.version(BRONZE_LOANS) == version and lake.read(BRONZE_LOANS).count() == first["rows"]


def test_lake_root_that_is_not_a_folder_gives_a_clear_error_and_no_table(spark, tmp_path):
    blocker = tmp_path / "lake"
    blocker.write_text("a file where the lake should be")
    lake = DeltaRsLake(spark, blocker, "c")
    with pytest.raises(LakeError, match=r"silver\.loans: cannot create .*nothing was committed"):
        lake.write(spark.range(5), "silver.loans")
    assert blocker.read_text() == "a file where the lake should be"


def test_full_disk_gives_a_clear_error_and_nothing_committed(tmp_path):
    """A file-size limit (RLIMIT_FSIZE) on the process and its JVM stands in for a full disk."""
    code = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))  # before the JVM starts: it inherits it
        from credit_risk.runtime.spark import get_spark
        from credit_risk.lake import DeltaRsLake, LakeError
        spark = get_spark()
        lake = DeltaRsLake(spark, {str(tmp_path / "lake")!r}, "c")
        lake.write(spark.range(10), "gold.t")
        big = spark.range(100_000).selectExpr("id", "uuid() AS u", "rand() AS r").coalesce(1)
        try:
            lake.write(big, "gold.t")
        except LakeError as exc:
            print("LAKE ERROR:", exc)
        print("VERSION", lake.version("gold.t"), "ROWS", lake.read("gold.t").count())
    """)
    # delta-rs mode in the subprocess: a delta-spark session copies its jars (megabytes) into its executor's folder
    # at start, past the limit; the fault is the delta-rs lake's staging anyway
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CREDIT_RISK_LAKE_MODE": "delta-rs"},
    )
    out = done.stdout
    assert "LAKE ERROR: gold.t: cannot write under" in out and "nothing was committed" in out, done.stderr[
        -3000:
    ]
    assert "VERSION 0 ROWS 10" in out
    assert not list((tmp_path / "lake").rglob("_staging/*/*.parquet"))


def test_corrupted_commit_names_table_and_version_and_recover_restores(spark, tmp_path):
    lake = DeltaRsLake(
        spark, tmp_path / "lake", "c"
    )  # `recover` is the delta-rs lake's (delta-spark: RESTORE)
    lake.write(spark.range(3), "silver.t")
    lake.write(spark.range(7), "silver.t", mode="append")
    lake.write(spark.range(100), "silver.t", mode="append")
    log = lake.path("silver.t") / "_delta_log" / f"{2:020d}.json"
    log.write_text(log.read_text()[:40] + "\n{garbage")
    with pytest.raises(
        LakeError, match=r"version 2 .*cannot be read.*credit-risk lake recover silver\.t.*version 1"
    ):
        lake.read("silver.t")
    result = lake.recover("silver.t")
    assert result["recovered"] and result["corrupt_version"] == 2 and result["version"] == 1
    assert lake.read("silver.t").count() == 10
    assert DeltaTable(str(lake.path("silver.t"))).to_pyarrow_table().num_rows == 10  # other readers agree
    bad = lake.write(spark.range(5), "silver.t", mode="append")  # the table takes new commits again ...
    assert bad == 2 and lake.read("silver.t").count() == 15
    assert lake.restore("silver.t", 1) == 3  # ... and a wrong one is undone with restore, as a new commit
    assert lake.read("silver.t").count() == 10 and lake.history("silver.t")[0]["operation"] == "RESTORE"

"""kill -9 at 10 points across the data tasks, repair after each crash, and end with the tables of a clean run.

In the active Delta mode: delta-rs reaches all 10 points, delta-spark the 5 after a commit (`REACHED`).

Each crash is a real SIGKILL from a lake failpoint (staged files, files half moved beside the log, commit
done but the task not), in a subprocess running the bronze -> silver -> gold -> split tasks. After every
crash, every table opens at a committed version, every file its log names exists, and a table killed
before its commit shows no new version (the staged files are invisible); after the last repair, every
table equals, row for row, the table of a run that never crashed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from net_helpers import free_port

from credit_risk.tables import (
    BRONZE_INGEST_LOG,
    BRONZE_LOANS,
    BRONZE_QUARANTINE,
    GOLD_FEATURES,
    GOLD_SPLITS,
    SILVER_LOANS,
)

JOB = Path(__file__).with_name("etl_job.py")
ROWS = "600"
# Spread over the four tasks and over the steps of a commit.
POINTS = [
    f"write:staged:{BRONZE_LOANS}",  # first commit of a table: files staged, no log yet
    f"write:committed:{BRONZE_LOANS}",  # rows committed; quarantine and ingest log not: a half batch
    f"write:committed:{BRONZE_QUARANTINE}",
    f"stage:moving:{BRONZE_INGEST_LOG}",  # files half moved beside the log
    f"write:staged:{SILVER_LOANS}",
    f"write:committed:{SILVER_LOANS}",
    f"stage:moving:{GOLD_FEATURES}",
    f"write:committed:{GOLD_FEATURES}",
    f"write:staged:{GOLD_SPLITS}",
    f"write:committed:{GOLD_SPLITS}",
]
# delta-spark writes a commit's files and its log entry in one JVM call: of these points it reaches the ones after
# a commit (the others are delta-rs's own steps inside a commit; see docs/lake-modes.md).
REACHED = {"delta-rs": POINTS, "delta-spark": [p for p in POINTS if p.startswith("write:committed:")]}
# Differ between any two runs by design: batch ids and times, and lineage pointers to versions a repair advanced.
VOLATILE = {"batch_id", "ingested_at", "silver_version"}


@pytest.fixture(scope="module")
def spark_remote(tmp_path_factory):
    """One Spark Connect server for the module's dozen job runs: each run is a fresh process with its own
    session, killed mid-commit, but none pays for starting and warming a JVM of its own."""
    from credit_risk.local.connect import start_connect_server

    port = free_port()
    server = start_connect_server(port, tmp_path_factory.mktemp("spark") / "connect.log")
    yield f"sc://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=60)


def run_job(home: Path, run_dir: Path, failpoint: str | None, remote: str) -> subprocess.CompletedProcess:
    from credit_risk.runtime.spark import MODE_ENV, delta_mode

    # the runs use this process's Delta mode: its Spark Connect server carries delta-spark in that mode
    env = {**os.environ, "CREDIT_RISK_HOME": str(home), "SPARK_REMOTE": remote, MODE_ENV: delta_mode()}
    env.pop("CREDIT_RISK_FAILPOINT", None)
    if failpoint:
        env["CREDIT_RISK_FAILPOINT"] = failpoint
    return subprocess.run(
        [sys.executable, str(JOB), str(run_dir), ROWS], env=env, capture_output=True, text=True, timeout=600
    )


def tables(home: Path) -> dict[str, Path]:
    lake = home / "lakehouse"
    return {f"{p.parent.parent.name}.{p.parent.name}": p.parent for p in lake.glob("*/*/*/_delta_log")}


def versions(home: Path) -> dict[str, int]:
    return {name: DeltaTable(str(path)).version() for name, path in tables(home).items()}


def check_readable(home: Path) -> None:
    """Every table opens at a committed version and holds exactly the rows its log declares."""
    for name, path in tables(home).items():
        table = DeltaTable(str(path))
        actions = pa.table(table.get_add_actions(flatten=True)).to_pandas()
        assert all((path / p).exists() for p in actions["path"]), f"{name}: a file in the log is missing"
        assert table.to_pyarrow_table().num_rows == int(actions["num_records"].sum()), name


def row_hashes(path: Path) -> pd.Series:
    frame = DeltaTable(str(path)).to_pandas()
    frame = frame[sorted(c for c in frame.columns if c not in VOLATILE)]
    return pd.util.hash_pandas_object(frame.astype(str), index=False).sort_values(ignore_index=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory, spark_remote):
    home = tmp_path_factory.mktemp("clean")
    from lake_helpers import engine

    from credit_risk.runtime.spark import delta_mode

    done = run_job(home, home / "run", None, spark_remote)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {name: engine(path) for name, path in tables(home).items()} == dict.fromkeys(
        tables(home), delta_mode()
    )
    return home


def test_kill_9_at_ten_points_then_repair_equals_a_clean_run(clean, spark_remote, tmp_path):
    from credit_risk.runtime.spark import delta_mode

    home, run_dir = tmp_path / "home", tmp_path / "run"
    for point in REACHED[delta_mode()]:
        before = versions(home)
        crashed = run_job(home, run_dir, point, spark_remote)
        assert crashed.returncode == -signal.SIGKILL, f"{point} was not reached: {crashed.stderr[-1500:]}"
        check_readable(home)
        after = versions(home)
        table = point.rsplit(":", 1)[1]
        if point.startswith("write:committed"):
            assert after[table] == before.get(table, -1) + 1, f"{point}: the commit before the kill is kept"
        else:
            assert after.get(table) == before.get(table), (
                f"{point}: a kill before the commit left a new version"
            )
    repaired = run_job(home, run_dir, None, spark_remote)
    assert repaired.returncode == 0, repaired.stderr[-2000:]
    check_readable(home)
    expected, got = tables(clean), tables(home)
    assert set(got) == set(expected)
    for name in expected:
        assert row_hashes(got[name]).equals(row_hashes(expected[name])), f"{name} differs from the clean run"

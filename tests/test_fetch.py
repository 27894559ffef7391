"""`credit-risk fetch` without network: clear one-line errors, bounded time, the key never printed."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from credit_risk.cli import main
from credit_risk.pipeline import fetch

KEY = "s3cr3t-key-value"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def home(monkeypatch, tmp_path):
    """A project folder without .env and no Kaggle variables in the environment."""
    monkeypatch.setenv("CREDIT_RISK_HOME", str(tmp_path))
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    return tmp_path


@pytest.fixture()
def offline(monkeypatch):
    """Every connection fails at once, as on a machine without network."""

    def refuse(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(socket, "create_connection", refuse)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("credit-risk fetch: error:") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_missing_credentials_say_how_to_go_on(home, capsys):
    assert main(["fetch"]) == 2
    err = _one_line_error(capsys)
    assert (
        "KAGGLE_USERNAME" in err and ".env" in err and "credit-risk generate" in err and "data_source=" in err
    )


def test_credentials_come_from_dotenv_and_the_environment_wins(home, monkeypatch):
    (home / ".env").write_text("KAGGLE_USERNAME=file-user\nKAGGLE_KEY=file-key\n")
    assert fetch.kaggle_credentials() == ("file-user", "file-key")
    monkeypatch.setenv("KAGGLE_KEY", "env-key")
    assert fetch.kaggle_credentials() == ("file-user", "env-key")
    (home / ".env").write_text("KAGGLE_USERNAME=file-user\n")
    monkeypatch.delenv("KAGGLE_KEY")
    with pytest.raises(fetch.FetchError, match="KAGGLE_KEY"):
        fetch.kaggle_credentials()


def test_no_network_is_a_clear_error_without_the_key(home, offline, monkeypatch, capsys):
    (home / ".env").write_text(f"KAGGLE_USERNAME=someone\nKAGGLE_KEY={KEY}\n")
    start = time.perf_counter()
    assert main(["fetch", "--out", str(home / "k")]) == 2
    assert time.perf_counter() - start < 3
    err = _one_line_error(capsys)
    assert "cannot be reached" in err and "credit-risk generate" in err and KEY not in err


def test_a_hanging_name_lookup_is_cut_off(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(30)
        raise OSError("name lookup timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    assert fetch.reachable(timeout=0.5) is False
    assert time.perf_counter() - start < 2


def test_download_failure_is_one_line_and_hides_the_key(home, monkeypatch, capsys):
    import kagglehub

    def fail(handle, output_dir=None):
        raise RuntimeError(f"401 Client Error: Unauthorized for key {KEY}\n<html>...</html>")

    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    monkeypatch.setattr(fetch, "reachable", lambda: True)
    monkeypatch.setattr(kagglehub, "dataset_download", fail)
    assert main(["fetch", "--out", str(home / "k")]) == 2
    err = _one_line_error(capsys)
    assert "download of ethon0426/lending-club-20072020q1 failed: RuntimeError: 401" in err and KEY not in err


@pytest.mark.parametrize("raw_dir", ["default", "absolute"])
def test_download_lands_in_raw_dir_kaggle_where_bronze_reads_with_credentials_set_only_meanwhile(
    raw_dir, home, monkeypatch, capsys
):
    """By default `<home>/data/raw/kaggle`; with `--var raw_dir=...` (a Volume on Databricks) under that folder.
    `data_source=kaggle` reads the same folder."""
    import dataclasses

    import kagglehub

    from credit_risk.pipeline.bronze import raw_location
    from credit_risk.runtime.config import Config

    seen = {}

    def download(handle, output_dir=None):
        seen.update(handle=handle, user=os.environ.get("KAGGLE_USERNAME"), key=os.environ.get("KAGGLE_KEY"))
        (Path(output_dir) / "Loan_status_2007-2020Q3.csv").write_text("id\n1\n")
        return output_dir

    (home / ".env").write_text(f"KAGGLE_USERNAME=someone\nKAGGLE_KEY={KEY}\n")
    monkeypatch.setattr(fetch, "reachable", lambda: True)
    monkeypatch.setattr(kagglehub, "dataset_download", download)
    folder = home / "data" / "raw" if raw_dir == "default" else home / "volume" / "raw"
    overrides = [] if raw_dir == "default" else ["--var", f"raw_dir={folder}"]
    assert main(["fetch", "--dataset", "someone/loans", "--root", str(ROOT), *overrides]) == 0
    assert seen == {"handle": "someone/loans", "user": "someone", "key": KEY}
    assert "KAGGLE_KEY" not in os.environ
    out = capsys.readouterr().out
    assert str(folder / "kaggle" / "Loan_status_2007-2020Q3.csv") in out and KEY not in out
    cfg = dataclasses.replace(
        Config(), data_source="kaggle", raw_dir="data/raw" if raw_dir == "default" else str(folder)
    )
    assert raw_location(cfg) == folder / "kaggle"


def test_malformed_dataset_is_rejected_before_anything_else(home, capsys):
    assert main(["fetch", "--dataset", "not a dataset"]) == 2
    assert "must look like OWNER/NAME" in _one_line_error(capsys)

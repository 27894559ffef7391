"""`credit-risk fetch` without network: clear errors, bounded time, the key never printed."""

from __future__ import annotations

from credit_risk import fetch
from credit_risk.cli import main


def test_missing_credentials_say_how_to_go_on(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("CREDIT_RISK_HOME", str(tmp_path))
    assert main(["fetch", "--out", str(tmp_path / "k")]) == 2
    err = capsys.readouterr().err
    assert "KAGGLE_USERNAME" in err and "credit-risk generate" in err and "Traceback" not in err


def test_credentials_come_from_dotenv_and_env_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("CREDIT_RISK_HOME", str(tmp_path))
    (tmp_path / ".env").write_text("KAGGLE_USERNAME=file-user\nKAGGLE_KEY=file-key\n")
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    assert fetch.kaggle_credentials() == ("file-user", "file-key")
    monkeypatch.setenv("KAGGLE_KEY", "env-key")
    assert fetch.kaggle_credentials() == ("file-user", "env-key")


def test_no_network_is_a_clear_error_without_the_key(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-key-value")
    monkeypatch.setattr(fetch, "_reachable", lambda *a, **k: False)  # as on a machine without network
    assert main(["fetch", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot be reached" in err and "s3cr3t" not in err


def test_reachability_probe_is_bounded():
    import time

    start = time.perf_counter()
    fetch._reachable("127.0.0.1", 9, timeout=2.0)  # the discard port: closed here, refused at once
    assert time.perf_counter() - start < 5

"""Secrets stay out of logs, notebooks and tables; models load without unpickling; .env is never committed."""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "tok-9f8e7d6c5b4a-never-log-me"


def test_env_file_is_git_ignored():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env must be listed in .gitignore"


def test_a_job_run_never_writes_the_secrets(tmp_path, monkeypatch):
    """Bronze and silver run through the local runner with tokens in the environment and in .env; then every
    file the run produced (executed notebooks, task values, Delta logs and data) is searched for them."""
    from credit_risk.bundle.runner import LocalJobRunner
    from credit_risk.bundle.validate import validate_bundle

    home = tmp_path / "home"
    home.mkdir()
    (home / ".env").write_text(f"KAGGLE_KEY={SECRET}-kaggle\nDATABRICKS_TOKEN={SECRET}-dbx\n")
    monkeypatch.setenv("CREDIT_RISK_HOME", str(home))
    monkeypatch.setenv("API_TOKEN", SECRET)
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    bundle = validate_bundle(ROOT, target="local", overrides={"rows": "300"})
    run = LocalJobRunner(bundle, echo=lambda _: None).run("credit_risk_pipeline", only="bronze_ingest",
                                                          run_dir=tmp_path / "run")
    assert run.ok, run.summary()
    produced = [p for p in [*home.rglob("*"), *(tmp_path / "run").rglob("*")] if p.is_file() and p.name != ".env"]
    assert any(p.suffix == ".ipynb" for p in produced) and any("_delta_log" in str(p) for p in produced)
    for path in produced:
        data = path.read_bytes()
        assert SECRET.encode() not in data, f"a secret leaked into {path}"


def test_models_load_without_unpickling(serving_registry, monkeypatch):
    """The API's model store reads JSON only: with pickle disabled, the champion still loads and scores."""
    from credit_risk.serving.model_store import load_champion

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading a model")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    loaded = load_champion(serving_registry["cfg"].model_name, "champion", 0.2)
    assert loaded.scorer.model.model_kind == "logistic_regression"


def test_a_portable_document_cannot_name_code(serving_registry):
    from credit_risk.serving.portable import FORMAT, PortableModel

    with pytest.raises(ValueError, match="unknown stage kind"):
        PortableModel({"format": FORMAT, "odds_factor": 1.0, "stages": [
            {"kind": "imputer", "inputs": ["a"], "outputs": ["b"], "surrogates": [0.0]},
            {"kind": "os.system", "input": "b"}, {"kind": "logistic_regression", "input": "b",
                                                 "coefficients": [1.0], "intercept": 0.0}]}).predict_pd({"a": [1.0]})

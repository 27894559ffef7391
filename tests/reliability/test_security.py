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


def test_the_whole_pipeline_job_runs_end_to_end_and_never_writes_the_secrets(tmp_path, monkeypatch):
    """The real bundle's pipeline job, every task, through the local runner on tiny generated data, with tokens
    in the environment and in .env; then every file the run produced (executed notebooks, task logs and values,
    Delta logs and data, MLflow store and artifacts, reports) is searched for them."""
    from deltalake import DeltaTable
    from mlflow import MlflowClient

    from credit_risk.bundle.runner import LocalJobRunner
    from credit_risk.bundle.validate import validate_bundle

    home = tmp_path / "home"
    home.mkdir()
    (home / ".env").write_text(f"KAGGLE_KEY={SECRET}-kaggle\nDATABRICKS_TOKEN={SECRET}-dbx\n")
    monkeypatch.setenv("CREDIT_RISK_HOME", str(home))
    monkeypatch.setenv("API_TOKEN", SECRET)
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    small = {"rf_num_trees": "10", "gbt_max_iter": "10", "mlp_max_iter": "50", "segment_k_max": "3"}  # tiny data
    bundle = validate_bundle(ROOT, target="local", overrides={"rows": "3000", **small})
    job = bundle.job("credit_risk_pipeline")
    run = LocalJobRunner(bundle, echo=lambda _: None).run("credit_risk_pipeline", run_dir=tmp_path / "run")
    assert run.ok, run.summary()
    assert [r.task_key for r in run.results if r.status == "SUCCESS"] == [t["task_key"] for t in job["tasks"]]
    lake = home / "lakehouse" / "credit_risk"
    for table in ("bronze/loans_raw", "silver/loans", "gold/loan_features", "gold/loan_splits", "gold/loan_scores"):
        assert DeltaTable(str(lake / table)).version() >= 0, table
    champion = MlflowClient(f"sqlite:///{home / 'mlflow.db'}").get_model_version_by_alias("credit_risk_pd", "champion")
    assert int(champion.version) >= 1
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

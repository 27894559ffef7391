"""The real bundle's pipeline job end to end through the local runner, and no secret in anything it wrote."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "tok-9f8e7d6c5b4a-never-log-me"


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
    small = {"rf_num_trees": "10", "gbt_max_iter": "10", "lr_max_iter": "30", "mlp_max_iter": "30",  # tiny data
             "segment_k_min": "3", "segment_k_max": "3"}
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

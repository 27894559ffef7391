"""The real bundle's pipeline job end to end, as `make run` runs it, and no secret in anything it printed or wrote."""

from __future__ import annotations

from job_helpers import ROOT, SMALL_MODELS, run_pipeline_job, succeeded_tasks

SECRET = "tok-9f8e7d6c5b4a-never-log-me"


def test_the_whole_pipeline_job_runs_end_to_end_and_never_writes_the_secrets(tmp_path):
    """The real bundle's pipeline job, every task, run as `make run` runs it (the CLI, in its own process) on tiny
    generated data, with tokens in the environment and in .env; then its output and every file the run produced
    (executed notebooks, task logs and values, Delta logs and data, MLflow store and artifacts, reports) are
    searched for them. It runs with a non-default catalog and schema prefix (`--var catalog=...`): every table
    must land under them, none under the default catalog."""
    from deltalake import DeltaTable
    from mlflow import MlflowClient

    from credit_risk.bundle.validate import validate_bundle

    home = tmp_path / "home"
    home.mkdir()
    (home / ".env").write_text(f"KAGGLE_KEY={SECRET}-kaggle\nDATABRICKS_TOKEN={SECRET}-dbx\n")
    variables = {"rows": "3000", "catalog": "job_cat", "schema_prefix": "ci_", **SMALL_MODELS}
    done = run_pipeline_job(home, variables, env={"API_TOKEN": SECRET, "KAGGLE_USERNAME": "someone"})
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    job = validate_bundle(ROOT, target="local", overrides=variables).job("credit_risk_pipeline")
    (summary,) = (home / "runs" / "credit_risk_pipeline").glob(
        "*/summary.txt"
    )  # the run's own record of its tasks
    assert succeeded_tasks(summary.read_text()) == [t["task_key"] for t in job["tasks"]], summary.read_text()
    assert SECRET not in done.stdout and SECRET not in done.stderr, "a secret leaked into the run's output"
    lake = home / "lakehouse"
    tables = {str(log.parent.relative_to(lake)) for log in lake.rglob("_delta_log")}
    for table in (
        "bronze/loans_raw",
        "silver/loans",
        "gold/loan_features",
        "gold/loan_splits",
        "gold/loan_scores",
    ):
        schema, name = table.split("/")
        assert DeltaTable(str(lake / "job_cat" / f"ci_{schema}" / name)).version() >= 0, table
    assert tables and all(t.startswith("job_cat/ci_") for t in tables), tables
    assert not (lake / "credit_risk").exists()
    champion = MlflowClient(f"sqlite:///{home / 'mlflow.db'}").get_model_version_by_alias(
        "credit_risk_pd", "champion"
    )
    assert int(champion.version) >= 1
    produced = [p for p in home.rglob("*") if p.is_file() and p.name != ".env"]
    assert any(p.suffix == ".ipynb" for p in produced) and any("_delta_log" in str(p) for p in produced)
    for path in produced:
        data = path.read_bytes()
        assert SECRET.encode() not in data, f"a secret leaked into {path}"

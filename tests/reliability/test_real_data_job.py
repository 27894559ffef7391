"""The whole pipeline job on real LendingClub data, run as `make run` runs it (the CLI, in its own process).

Two runs: the complete 2007-2009 cohort (8,277 loans, re-typed by R, no FICO, descriptions of up to 3,966
characters), with the README's real-data example split; and every extract of ../shared ingested in one batch
(seven files, four layouts). Each must end with every task succeeded, a champion registered, the evaluation
report written, and the API scoring loans of that data as the batch scoring did. make test runs the cohort job in the
default Delta mode and the batch of every extract in the other (the Makefile's NOTEBOOK_LANE_TESTS and
OTHER_MODE_ONLY_TESTS).
The cohort run is also the whole-job test of the job's environment: it runs with a non-default catalog and schema
prefix (every table must land under them) and with tokens in the environment and in .env, which nothing it printed
or wrote may contain.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from job_helpers import ROOT, SMALL_MODELS, run_pipeline_job, succeeded_tasks

SHARED_DATA = ROOT.parent / "shared" / "data" / "lendingclub"
COHORT = SHARED_DATA / "kuhnrl30__LendingClubData_2007_2009.csv.gz"
# The README's real-data example: train on 2007, validate on 2008, test on 2009.
COHORT_SPLIT = {"train_end_year": "2007", "valid_year": "2008", "test_end": "2009Q4"}
# Every shared extract: vintages 2007-2018 (the 2019-2020 extracts have no issue date, so gold drops them).
UNION_SPLIT = {"train_end_year": "2015", "valid_year": "2016", "test_end": "2018Q4"}

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.slow,
    pytest.mark.skipif(
        not SHARED_DATA.is_dir(), reason=f"real LendingClub extracts not found at {SHARED_DATA}"
    ),
]


SECRET = "tok-9f8e7d6c5b4a-never-log-me"
# The cohort job's lake location: not the default catalog, with a schema prefix.
COHORT_LOCATION = {"catalog": "job_cat", "schema_prefix": "ci_"}


def _run_job(
    home: Path, data_source: Path, split: dict[str, str], env: dict[str, str] | None = None, **variables: str
) -> subprocess.CompletedProcess:
    return run_pipeline_job(
        home, {"data_source": str(data_source), **split, **SMALL_MODELS, **variables}, env
    )


@pytest.fixture(scope="module")
def cohort_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The job on the cohort, once for this module's tests, with secrets in its environment and its .env."""
    home = tmp_path_factory.mktemp("cohort")
    (home / ".env").write_text(f"KAGGLE_KEY={SECRET}-kaggle\nDATABRICKS_TOKEN={SECRET}-dbx\n")
    env = {"API_TOKEN": SECRET, "KAGGLE_USERNAME": "someone"}
    return home, _run_job(home, COHORT, COHORT_SPLIT, env, **COHORT_LOCATION)


def _check_run(
    home: Path, done: subprocess.CompletedProcess, catalog: str = "credit_risk", schema_prefix: str = ""
) -> dict:
    """Every task succeeded; the champion, its evaluation report and the API agree with the batch scores."""
    import mlflow
    import numpy as np
    from deltalake import DeltaTable
    from fastapi.testclient import TestClient
    from mlflow import MlflowClient

    from credit_risk.bundle.validate import validate_bundle
    from credit_risk.serving.app import create_app
    from credit_risk.serving.schema import applications_from_gold
    from credit_risk.serving.settings import ServeSettings

    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    (summary,) = (home / "runs" / "credit_risk_pipeline").glob("*/summary.txt")
    job = validate_bundle(ROOT, target="local").job("credit_risk_pipeline")
    assert succeeded_tasks(summary.read_text()) == [t["task_key"] for t in job["tasks"]], summary.read_text()
    store = f"sqlite:///{home / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    client = MlflowClient(store, store)
    champion = client.get_model_version_by_alias("credit_risk_pd", "champion")
    run = client.get_run(champion.run_id)
    assert (home / "reports" / "evaluation" / champion.run_id / "evaluation.md").is_file()
    used, excluded = run.data.tags["features_used"].split(","), json.loads(run.data.tags["features_excluded"])
    signature = json.loads(
        mlflow.models.get_model_info(f"runs:/{champion.run_id}/model").signature.to_dict()["inputs"]
    )
    assert [field["name"] for field in signature] == used  # the signature names the features this model uses

    gold_schema = home / "lakehouse" / catalog / f"{schema_prefix}gold"
    gold = DeltaTable(str(gold_schema / "loan_features")).to_pandas()
    scores = DeltaTable(str(gold_schema / "loan_scores")).to_pandas()
    loans = gold[(gold["dti_invalid"] == 0) & gold["issue_year"].eq(gold["issue_year"].max())].head(25)
    expected = scores.set_index("loan_id").loc[loans["loan_id"], "pd"].to_numpy()
    settings = ServeSettings(reload_seconds=0, inference_log=str(home / "inference_log"))
    with TestClient(create_app(settings)) as api:
        answer = api.post("/predict", json=applications_from_gold(loans))
    assert answer.status_code == 200, answer.text
    served = np.array([p["pd"] for p in answer.json()["predictions"]])
    np.testing.assert_allclose(served, expected, atol=1e-6)  # the API scores these loans as the batch job did
    return {"used": used, "excluded": excluded, "metrics": run.data.metrics}


def test_the_job_runs_end_to_end_on_the_real_2007_2009_cohort(cohort_run):
    result = _check_run(*cohort_run, **COHORT_LOCATION)
    assert "fico_mid" not in result["used"] and "fico_mid" in result["excluded"]  # this export has no FICO
    assert "tot_cur_bal" in result["excluded"]  # a bureau field LendingClub added in 2012
    assert {"int_rate", "sub_grade", "annual_inc", "dti"} <= set(result["used"])
    assert 0.55 < result["metrics"]["test_auc"] < 0.80  # origination features; above ~0.8 would mean leakage


def test_the_job_runs_end_to_end_on_every_shared_extract_in_one_batch(tmp_path):
    done = _run_job(tmp_path, SHARED_DATA, UNION_SPLIT)
    result = _check_run(tmp_path, done)
    from deltalake import DeltaTable

    log = DeltaTable(str(tmp_path / "lakehouse" / "credit_risk" / "bronze" / "ingest_log")).to_pandas()
    assert (
        log["batch_id"].nunique() == 1 and len(log) == 7 and (log["data_lines"] == log["bronze_rows"]).all()
    )
    assert "fico_mid" in result["used"]  # most of these loans have FICO: the feature stays


def test_the_cohort_job_lands_under_its_catalog_and_never_writes_the_secrets(cohort_run):
    """Every table under the run's catalog and prefix (`--var catalog=job_cat --var schema_prefix=ci_`), none under
    the default catalog; no token of the environment or .env in the run's output or in any file it produced
    (executed notebooks, task logs and values, Delta logs and data, the MLflow store and artifacts, reports)."""
    from deltalake import DeltaTable

    home, done = cohort_run
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
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
    produced = [p for p in home.rglob("*") if p.is_file() and p.name != ".env"]
    assert any(p.suffix == ".ipynb" for p in produced) and any("_delta_log" in str(p) for p in produced)
    for path in produced:
        assert SECRET.encode() not in path.read_bytes(), f"a secret leaked into {path}"


def test_the_cohort_champion_is_the_refit_of_its_selection_run(cohort_run):
    """refit=true (the bundle's default): the registered champion is `<model>_refit`, fitted on train + valid in a
    child run of train_supervised, tagged with its selection run and carrying that run's validation metrics and
    calibration map; the selection fit stays on record beside it."""
    import mlflow
    from mlflow import MlflowClient

    from credit_risk import calibration

    home, done = cohort_run
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    store = f"sqlite:///{home / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    client = MlflowClient(store, store)
    refit = client.get_run(client.get_model_version_by_alias("credit_risk_pd", "champion").run_id)
    selection = client.get_run(refit.data.tags["refit_of"])
    name = selection.data.tags["model_type"]
    assert refit.info.run_name == f"{name}_refit" and refit.data.tags["model_type"] == name
    parent = client.get_run(refit.data.tags["mlflow.parentRunId"])
    assert selection.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.data.tags["best_run_id"] == refit.info.run_id
    assert parent.data.tags["selection_run_id"] == selection.info.run_id
    n_train, n_valid = (int(selection.data.params[k]) for k in ("n_train", "n_valid"))
    assert int(refit.data.params["n_train"]) == n_train + n_valid
    for key in ("val_auc", "val_ece", "val_ece_calibrated"):
        assert refit.data.metrics[key] == pytest.approx(selection.data.metrics[key])
    mapped = calibration.run_calibration(refit.info.run_id)
    assert mapped["method"] != "none" and mapped == calibration.run_calibration(selection.info.run_id)

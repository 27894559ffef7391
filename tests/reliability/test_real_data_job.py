"""The whole pipeline job on real LendingClub data, run as `make run` runs it (the CLI, in its own process).

Two runs: the complete 2007-2009 cohort (8,277 loans, re-typed by R, no FICO, descriptions of up to 3,966
characters), with the README's real-data example split; and every extract of ../shared ingested in one batch
(seven files, four layouts). Each must end with every task succeeded, a champion registered, the evaluation
report written, and the API scoring loans of that data as the batch scoring did. make test runs the cohort job in the
default Delta mode and the batch of every extract in the other (the Makefile's NOTEBOOK_LANE_TESTS and
OTHER_MODE_ONLY_TESTS).
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


def _run_job(home: Path, data_source: Path, split: dict[str, str]) -> subprocess.CompletedProcess:
    return run_pipeline_job(home, {"data_source": str(data_source), **split, **SMALL_MODELS})


def _check_run(home: Path, done: subprocess.CompletedProcess) -> dict:
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

    lake = home / "lakehouse" / "credit_risk"
    gold = DeltaTable(str(lake / "gold" / "loan_features")).to_pandas()
    scores = DeltaTable(str(lake / "gold" / "loan_scores")).to_pandas()
    loans = gold[(gold["dti_invalid"] == 0) & gold["issue_year"].eq(gold["issue_year"].max())].head(25)
    expected = scores.set_index("loan_id").loc[loans["loan_id"], "pd"].to_numpy()
    settings = ServeSettings(reload_seconds=0, inference_log=str(home / "inference_log"))
    with TestClient(create_app(settings)) as api:
        answer = api.post("/predict", json=applications_from_gold(loans))
    assert answer.status_code == 200, answer.text
    served = np.array([p["pd"] for p in answer.json()["predictions"]])
    np.testing.assert_allclose(served, expected, atol=1e-6)  # the API scores these loans as the batch job did
    return {"used": used, "excluded": excluded, "metrics": run.data.metrics}


def test_the_job_runs_end_to_end_on_the_real_2007_2009_cohort(tmp_path):
    done = _run_job(tmp_path, COHORT, COHORT_SPLIT)
    result = _check_run(tmp_path, done)
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

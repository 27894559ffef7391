"""The validation task between evaluate and register: checks that can fail, its modes, the job's condition on its
verdict, register's refusal of a failed run, and the model card of a registered version."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credit_risk import metrics
from credit_risk.model.model_card import SECTIONS
from credit_risk.pipeline.validate import (
    TAG_PREFIX,
    champion_check,
    record_verdict,
    segment_performance,
    validate_run,
)

ROOT = Path(__file__).resolve().parents[1]
MODEL = (
    "validate_test_pd"  # its own registered model in the shared store: the serving tests' aliases stay theirs
)


@pytest.fixture(scope="module")
def splits(gold):
    """The shared models' splits (stratified, as the `_trained_once` fixture made them)."""
    from credit_risk.pipeline.split import make_splits
    from credit_risk.runtime.config import load_config

    return make_splits(gold, dataclasses.replace(load_config(), split_kind="stratified")).cache()


@pytest.fixture()
def candidate(trained):
    """The best shared run and a Config for this test's model; its validation tags are removed afterwards, so
    the other tests that register the shared runs see them as training left them."""
    import mlflow
    from mlflow import MlflowClient

    cfg, result = trained
    run_id = result["models"][result["best_model"]]["run_id"]
    yield dataclasses.replace(cfg, model_name=MODEL), run_id, result
    client = MlflowClient()
    for run in mlflow.search_runs(
        experiment_names=[cfg.experiment_name],
        filter_string="tags.validation_mode != ''",
        output_format="list",
    ):
        for key in run.data.tags:
            if key.startswith(TAG_PREFIX):
                client.delete_tag(run.info.run_id, key)


def test_stability_indexes_see_a_moved_distribution():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=4000)
    assert metrics.csi(ref, rng.normal(size=4000)) < 0.02
    assert metrics.csi(ref, rng.normal(0.6, 1, size=4000)) > 0.25
    half_missing = np.where(rng.random(4000) < 0.5, np.nan, rng.normal(size=4000))
    assert metrics.csi(ref, half_missing) > 1  # a feature that starts arriving empty has moved
    grades = np.array(list("AABBBC") * 200, dtype=object)
    assert metrics.csi(grades, grades.copy()) == 0
    assert metrics.csi(grades, np.array(list("AABBBD") * 200, dtype=object)) > 1  # an unseen category


def test_a_segment_the_model_misprices_is_flagged_and_small_ones_are_not_judged(trained):
    cfg = dataclasses.replace(trained[0], validation_min_segment_rows=100)
    rng = np.random.default_rng(1)
    n = 3000
    grade = rng.choice(["A", "B", "C"], size=n, p=[0.45, 0.45, 0.1])
    pd_ = np.where(grade == "A", 0.05, np.where(grade == "B", 0.15, 0.30))
    truth = np.where(grade == "C", 0.60, pd_)  # grade C defaults twice as often as the model says
    test = pd.DataFrame(
        {"default_flag": (rng.random(n) < truth).astype(int), "pd": pd_, "grade": grade, "term_months": 36}
    )
    test.loc[:50, "term_months"] = 60  # 51 loans: below the minimum, not judged
    rows, failures = segment_performance(test, dataclasses.replace(cfg, validation_max_segment_auc_gap=1.0))
    flagged = {(r["segment"], r["value"]) for r in rows if r["flagged"]}
    assert flagged == {("grade", "C")}, rows
    assert len(failures) == 1 and "grade=C" in failures[0] and "default rate" in failures[0]
    assert ("term_months", "60") not in {(r["segment"], r["value"]) for r in rows}
    # one PD for a whole grade ranks nobody inside it: AUC 0.5, far below the portfolio's
    rows, failures = segment_performance(test, cfg)
    assert {r["value"] for r in rows if r["segment"] == "grade" and r["auc_gap"] > 0.15} == {"A", "B", "C"}
    assert sum("AUC 0.500" in f for f in failures) == 3


def test_an_impossible_threshold_fails_and_register_refuses_the_run(candidate, splits):
    from mlflow import MlflowClient

    from credit_risk.pipeline.register import register_run

    cfg, run_id, _ = candidate
    cfg = dataclasses.replace(cfg, validation_min_test_auc=0.999)
    verdict, report = validate_run(cfg, run_id, splits)
    assert not verdict.passed and verdict.mode == "enforced"
    assert any(f.startswith("test AUC") and "< minimum 0.999" in f for f in verdict.failures)
    assert 0.6 < report["summary"]["auc"] < 0.999 and report["rows_by_vintage"]["test"]
    record_verdict(run_id, verdict, report)
    tags = MlflowClient().get_run(run_id).data.tags
    assert tags["validation_passed"] == "false" and "0.999" in tags["validation_reason"]
    with pytest.raises(ValueError, match="failed validation, not registered"):
        register_run(cfg, run_id)
    assert not MlflowClient().search_model_versions(f"name = '{MODEL}' and run_id = '{run_id}'")


def test_dry_run_passes_and_logs_what_failed(candidate, splits, caplog, tmp_path):
    from credit_risk.pipeline.validate import run_validate
    from credit_risk.runtime.dbutils import get_dbutils
    from credit_risk.tables import GOLD_SPLITS

    cfg, run_id, _ = candidate
    cfg = dataclasses.replace(cfg, validation_dry_run=True, validation_max_test_ece=0.0)
    verdict, _ = validate_run(cfg, run_id, splits)
    assert verdict.passed and verdict.mode == "dry_run" and verdict.failures
    assert verdict.reason.startswith("dry run, not enforced: test calibration error")
    disabled, report = validate_run(dataclasses.replace(cfg, validation_enabled=False), run_id, splits)
    assert disabled.passed and disabled.reason == "disabled" and not disabled.failures and report == {}

    # the task itself: the experiment's best run, the split table of the task's lake, the task value
    from credit_risk.lake import get_lake

    lake_cfg = dataclasses.replace(cfg, lake_root=str(tmp_path / "lake"))
    get_lake(lake_cfg).write(splits, GOLD_SPLITS)
    dbutils = get_dbutils()
    with caplog.at_level(logging.WARNING, logger="credit_risk.pipeline.validate"):
        result = run_validate(lake_cfg, dbutils)
    assert result["passed"] and result["mode"] == "dry_run"
    assert dbutils.jobs.taskValues.get("interactive", "validation_passed") == "true"  # outside a job run
    assert any("(dry run)" in r.message and "calibration error" in r.message for r in caplog.records)


def test_a_tiny_disparity_bound_flags_segments_on_the_real_model(candidate, splits):
    cfg, run_id, _ = candidate
    verdict, report = validate_run(
        dataclasses.replace(cfg, validation_max_segment_default_rate_gap=1e-6), run_id, splits
    )
    flagged = [r for r in report["segments"] if r["flagged"]]
    assert flagged and not verdict.passed
    assert verdict.figures["flagged_segments"] != "none"
    assert any(f.startswith("segment ") for f in verdict.failures)
    loose = dataclasses.replace(
        cfg, validation_max_segment_default_rate_gap=1.0, validation_max_segment_auc_gap=1.0
    )
    _, report = validate_run(loose, run_id, splits)
    assert not any(r["flagged"] for r in report["segments"])


def test_a_candidate_worse_than_the_champion_fails_and_a_validated_version_has_its_card(candidate, splits):
    from mlflow import MlflowClient

    from credit_risk.pipeline.register import register_run

    cfg, best, result = candidate
    worst = min(result["models"].values(), key=lambda m: m["val_auc"])["run_id"]
    loose = dataclasses.replace(cfg, min_auc=0.0, max_ece=1.0, promotion_margin=-1.0, leakage_auc=1.0)
    verdict, report = validate_run(loose, best, splits)
    assert verdict.passed, verdict.failures  # the default thresholds pass the shared best model
    small = report["stability"]["not_judged"]  # vintages of this 5,000-loan sample are too small to judge
    assert small and all(n < cfg.validation_min_segment_rows for n in small.values()) and "test" not in small
    record_verdict(best, verdict, report)
    registered = register_run(loose, best)
    assert registered["champion"], registered["reasons"]
    client = MlflowClient()
    version = client.get_model_version(MODEL, str(registered["model_version"]))
    assert version.tags["validation_passed"] == "true"
    assert version.tags["validation_test_auc"] == f"{verdict.figures['test_auc']:.4f}"
    assert version.tags["model_card"].endswith("model_card.md")
    card = Path(registered["model_card"])
    assert card.parent == cfg.home / "reports" / "model_card" / MODEL / str(registered["model_version"])
    text = card.read_text()
    assert all(f"## {s}" in text for s in SECTIONS)
    assert f"splits v{client.get_run(best).data.tags['splits_version']}" in text
    assert "validation verdict: true (mode enforced): all checks passed" in text
    assert "below the validation AUC" in text and report["segments"]
    assert all(f"| {r['segment']} | {r['value']} | {r['rows']} |" in text for r in report["segments"])
    page = card.with_suffix(".html").read_text()
    assert "<table>" in page and "<h2>Monitoring plan</h2>" in page
    artifacts = [a.path for a in client.list_artifacts(best, f"model_card/v{registered['model_version']}")]
    assert sorted(Path(a).name for a in artifacts) == ["model_card.html", "model_card.md"]

    # another run against the champion just registered: scored on the same test loans, held to the margin
    strict = dataclasses.replace(cfg, validation_champion_margin=0.0)
    worse, _ = validate_run(strict, worst, splits)
    assert worse.figures["champion_version"] == str(registered["model_version"])
    assert worse.figures["champion_test_auc"] == pytest.approx(verdict.figures["test_auc"])
    behind = worse.figures["test_auc"] < verdict.figures["test_auc"]
    assert any("worse than champion" in f for f in worse.failures) == behind
    assert champion_check(0.70, 0.72, "3", strict) and not champion_check(0.70, 0.705, "3", cfg)


def test_the_validation_settings_are_bundle_variables_with_the_config_defaults():
    from credit_risk.bundle.loader import load_bundle
    from credit_risk.runtime.config import Config, load_config

    variables = load_bundle(ROOT, "local").variables
    names = [f.name for f in dataclasses.fields(Config) if f.name.startswith(TAG_PREFIX)]
    assert len(names) == 10
    for name in names:
        default = getattr(Config, name)
        assert str(variables[name]).lower() == (
            str(default).lower() if isinstance(default, bool) else str(default)
        )
    assert load_config({"validation_enabled": "false"}).validation_enabled is False
    with pytest.raises(ValueError, match="validation_dry_run must be true or false"):
        load_config({"validation_dry_run": "maybe"})


def test_register_runs_only_behind_a_true_verdict_and_batch_score_follows_it(tmp_path):
    """The real job: validate -> condition validation_passed -> register -> batch_score. A false verdict leaves
    register and what follows it out (skipped, as Databricks excludes them); the job run is still a success."""
    from credit_risk.bundle.validate import validate_bundle
    from credit_risk.local.runner import JobRun, LocalJobRunner, TaskResult, _condition

    job = validate_bundle(ROOT, "local").job("credit_risk_pipeline")
    tasks = {t["task_key"]: t for t in job["tasks"]}
    assert {d["task_key"] for d in tasks["validate"]["depends_on"]} == {"evaluate"}
    assert tasks["register"]["depends_on"] == [
        {"task_key": "validation_passed", "outcome": "true"},
        {"task_key": "train_segments"},
    ]
    assert [d["task_key"] for d in tasks["batch_score"]["depends_on"]] == ["register"]
    values = tmp_path / "task_values"
    values.mkdir()
    selected = set(tasks)
    for verdict in ("true", "false"):
        (values / "validate.json").write_text(json.dumps({"validation_passed": verdict}))
        outcome = _condition(tasks["validation_passed"], tmp_path)
        assert outcome == verdict
        status = {k: TaskResult(k, "SUCCESS") for k in ("evaluate", "validate", "train_segments")}
        status["validation_passed"] = TaskResult("validation_passed", "SUCCESS", outcome=outcome)
        blocked = LocalJobRunner._blocked(tasks["register"], status, selected)
        assert blocked == ("" if verdict == "true" else "condition validation_passed was false")
        status["register"] = TaskResult("register", "SKIPPED" if blocked else "SUCCESS", error=blocked)
        after = LocalJobRunner._blocked(tasks["batch_score"], status, selected)
        assert after == ("upstream register skipped" if blocked else "")
        run = JobRun("credit_risk_pipeline", "r", tmp_path)
        run.results = [*status.values()]
        assert run.ok

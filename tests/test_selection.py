"""Model selection on time-ordered folds of the validation vintage (`selection_folds`, `split.forward_folds`)."""

from __future__ import annotations

import dataclasses

import mlflow
import pytest
from pyspark.sql import functions as F

from credit_risk.pipeline.split import forward_folds, make_splits
from credit_risk.runtime.config import load_config


def test_time_ordered_folds_cut_the_validation_vintage_by_month_and_choose_on_their_mean(gold, tmp_path):
    """selection_folds=k: the validation loans in k consecutive month blocks of near-equal size; each model's fold j
    is fitted on train and blocks 1..j-1 (its own nested run) and scored on block j; the mean chooses."""
    from credit_risk.pipeline.train_supervised import train_all
    from credit_risk.runtime.tracking import configure_mlflow

    cfg = load_config()
    splits = make_splits(gold, cfg)
    valid = splits.where("split = 'valid'")
    month = F.date_trunc("month", "issue_date")
    blocks = forward_folds(valid, 3)
    spans = [b.agg(F.min(month), F.max(month), F.count(F.lit(1))).first() for b in blocks]
    n = valid.count()
    assert len(blocks) == 3 and sum(s[2] for s in spans) == n
    assert all(earlier[1] < later[0] for earlier, later in zip(spans, spans[1:], strict=False))
    assert all(abs(s[2] - n / 3) < n / 6 for s in spans), spans  # near-equal, whole months
    assert [b.count() for b in forward_folds(valid, 1)] == [n]
    with pytest.raises(ValueError, match="selection_folds must be at least 1"):
        forward_folds(valid, 0)

    cfg = dataclasses.replace(
        cfg,
        selection_folds=2,
        refit=False,
        experiment_name="folds-test",
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        extra={"lr_max_iter": "20", "rf_num_trees": "5"},
    )
    configure_mlflow(cfg)
    lineage = {"git_sha": "test", "gold_version": 0, "splits_version": 0, "dataset": None}
    models = ("logistic_regression", "random_forest")
    result = train_all(splits.where("split = 'train'"), valid, cfg, lineage, models)
    for name in models:
        scores = result["models"][name]
        assert scores["val_auc_forward"] == pytest.approx(
            (scores["val_auc_fold1"] + scores["val_auc_fold2"]) / 2
        )
        (fold_run,) = mlflow.search_runs(
            filter_string=f"tags.mlflow.parentRunId = '{scores['run_id']}'", output_format="list"
        )
        assert fold_run.info.run_name == f"{name}_fold2"
        assert fold_run.data.metrics["fold_auc"] == pytest.approx(scores["val_auc_fold2"])
        assert "model_type" not in fold_run.data.tags  # a fold fit is never a candidate
    assert result["best_model"] == max(models, key=lambda m: result["models"][m]["val_auc_forward"])
    parent = mlflow.get_run(result["parent_run_id"])
    assert parent.data.tags["selection"] == "val_auc_forward (2 time-ordered folds)"

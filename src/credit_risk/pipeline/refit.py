"""Refit after selection: the champion's pipeline fitted again, same settings, on train + valid.

Validation picks the model; the loans it held out are then worth more as training data, the youngest
vintage above all (the test vintages follow it). The refit is its own child run, `<model>_refit`, tagged
`refit_of=<selection run>`, with the selection fit's validation metrics copied (the refit has no held-out
validation of its own: it trained on it); `train_supervised` publishes it as the best run.

Calibration: the refit keeps the map fitted on the selection fit's validation PDs. The refit has no
out-of-sample PDs to fit one on (its validation PDs are in-sample, too confident for the trees), and an
out-of-fold map would cost a fit per fold. The selection map transfers to the refit because the refit only
adds one vintage to the same model; the test ECE of both (bench/RESULTS.md) says how well it does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mlflow

from credit_risk.runtime.errors import doing

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from credit_risk.feature_screen import FeatureSet
    from credit_risk.runtime.config import Config

REFIT_SUFFIX = "_refit"
REFIT_OF_TAG = "refit_of"


def refit_on_train_and_valid(
    name: str,
    selection: dict[str, Any],
    train: DataFrame,
    valid: DataFrame,
    cfg: Config,
    tags: dict[str, str],
    selected: FeatureSet,
    example: pd.DataFrame,
) -> dict[str, Any]:
    """Fit `name` on train + valid in a child run of the active run; its run id, odds factor and calibration.

    Every stage is fitted again (imputer surrogates, category labels, scaler, model) on the union, with the
    features screened on train and the hyper-parameters of the selection fit.
    """
    from credit_risk.pipeline.train_supervised import fit_model, log_fitted

    both = train.unionByName(valid)
    validation = {k: v for k, v in selection.items() if k.startswith("val_")}
    run_tags = {**tags, "model_type": name, REFIT_OF_TAG: selection["run_id"], "refit": "train+valid"}
    with mlflow.start_run(run_name=name + REFIT_SUFFIX, nested=True, tags=run_tags) as child:
        with doing(f"refitting {name} on the training and validation splits"):
            model, factor, balance = fit_model(name, both, dict(cfg.extra), cfg.seed, None, selected)
        mlflow.set_tags(balance)
        mlflow.log_params({"pd_odds_factor": factor, "n_train": both.count(), "refit": "true"})
        mlflow.log_metrics(validation)  # the selection fit's: the refit has no held-out validation
        log_fitted(model, factor, name, selected, example, selection["calibration"])
    return {
        "run_id": child.info.run_id,
        "refit_of": selection["run_id"],
        "odds_factor": factor,
        "calibration": selection["calibration"],
        **validation,
    }

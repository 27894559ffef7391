"""Registry: the best run becomes a model version, alias `challenger`; `champion` only through the gates.

Gates: validation AUC at least `min_auc`, calibration error of the calibrated PD at most `max_ece`, an AUC above `leakage_auc`
refused as suspicious (origination features do not predict default that well: something leaks), and a gain
of at least `promotion_margin` over the current champion. A refused version keeps its reasons as tags.
A run the `validate` task failed is not registered at all; a validated run's verdict tags are copied onto its
version, and every version gets a model card (`model.model_card`).

The model version is the JVM-free pyfunc over the run's portable export (`model.pyfunc_model`), logged
here on the training run: what the registry offers an endpoint needs no Spark. The Spark model of the same
fit stays on that run (`spark_model_uri`), for batch scoring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from credit_risk.pipeline._upstream import best_run
from credit_risk.pipeline.validate import REPORT_ARTIFACT, TAG_PREFIX
from credit_risk.runtime.errors import pipeline_task

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils

CHAMPION, CHALLENGER = "champion", "challenger"


def registered_name(cfg: Config) -> str:
    """Unity Catalog needs catalog.schema.model; the local registry takes the plain name."""
    if cfg.mlflow_registry_uri.startswith("databricks-uc"):
        return f"{cfg.catalog}.{cfg.schema_prefix}gold.{cfg.model_name}"
    return cfg.model_name


def training_run_id(version: ModelVersion) -> str:
    """The run that trained a registered version (every version here is registered from its run)."""
    if version.run_id is None:
        raise ValueError(f"model version {version.name} v{version.version} has no training run")
    return version.run_id


def spark_model_uri(version: ModelVersion) -> str:
    """Where the Spark model of a registered version is: the `model` of its training run."""
    from credit_risk.model.pyfunc_model import SPARK_MODEL_TAG

    return (version.tags or {}).get(SPARK_MODEL_TAG) or f"runs:/{version.run_id}/model"


def gate(candidate: dict[str, float], champion: dict[str, float] | None, cfg: Config) -> list[str]:
    """Reasons to refuse promotion (empty: promote)."""
    reasons = []
    # the calibrated PD's validation ECE (cross-fitted: each loan's PD through a map fitted without it), which
    # is what the version serves; runs from before calibration have only the raw PD's
    auc, ece = candidate["val_auc"], candidate.get("val_ece_calibrated", candidate["val_ece"])
    if auc > cfg.leakage_auc:
        reasons.append(
            f"leakage alarm: validation AUC {auc:.4f} > {cfg.leakage_auc} is not credible on origination features"
        )
    if auc < cfg.min_auc:
        reasons.append(f"validation AUC {auc:.4f} < minimum {cfg.min_auc}")
    if ece > cfg.max_ece:
        reasons.append(f"calibration error {ece:.4f} > maximum {cfg.max_ece}")
    if champion is not None and auc < champion["val_auc"] + cfg.promotion_margin:
        reasons.append(
            f"validation AUC {auc:.4f} does not beat the champion's {champion['val_auc']:.4f} "
            f"by {cfg.promotion_margin}"
        )
    return reasons


def _champion_metrics(client: MlflowClient, name: str) -> tuple[ModelVersion | None, dict[str, float] | None]:
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None, None
    return version, client.get_run(training_run_id(version)).data.metrics


def register_pyfunc(name: str, run_id: str, decision_threshold: float) -> str:
    """A new version of `name`: the training run's JVM-free pyfunc, tagged with where its Spark model is."""
    from credit_risk.model.pyfunc_model import SPARK_MODEL_TAG, log_pyfunc

    version = mlflow.register_model(log_pyfunc(run_id, decision_threshold).model_uri, name).version
    MlflowClient().set_model_version_tag(name, version, SPARK_MODEL_TAG, f"runs:/{run_id}/model")
    return str(version)


def register_run(cfg: Config, run_id: str) -> dict[str, Any]:
    """Register the run's model (as a JVM-free pyfunc) as challenger and promote it if it passes every gate."""
    client = MlflowClient()
    name = registered_name(cfg)
    run = client.get_run(run_id)
    verdict = {k: v for k, v in run.data.tags.items() if k.startswith(TAG_PREFIX)}
    if verdict.get(TAG_PREFIX + "passed") == "false":
        raise ValueError(
            f"run {run_id} failed validation, not registered: {verdict.get(TAG_PREFIX + 'reason', '?')}"
        )
    candidate = run.data.metrics
    version = register_pyfunc(name, run_id, cfg.decision_threshold)
    for key, value in verdict.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version)
    current, champion = _champion_metrics(client, name)
    reasons = gate(candidate, champion, cfg)
    if reasons:
        client.set_model_version_tag(name, version, "promotion", "refused")
        client.set_model_version_tag(name, version, "refusal_reasons", "; ".join(reasons))
        client.update_model_version(name, version, description="Not promoted: " + "; ".join(reasons))
    else:
        client.set_registered_model_alias(name, CHAMPION, version)
        client.set_model_version_tag(name, version, "promotion", "champion")
        if current is not None:
            client.set_model_version_tag(name, current.version, "replaced_by", str(version))
    result = {
        "model_name": name,
        "model_version": int(version),
        "champion": not reasons,
        "reasons": reasons,
        "previous_champion": int(current.version) if current is not None else None,
        "val_auc": candidate["val_auc"],
        "val_ece": candidate["val_ece"],
        "val_ece_calibrated": candidate.get("val_ece_calibrated"),
    }
    result["model_card"] = str(log_model_card(cfg, run_id, result)["markdown"])
    return result


def log_model_card(cfg: Config, run_id: str, registration: dict[str, Any]) -> dict[str, Any]:
    """The version's model card under reports/model_card/<model>/<version>/, logged on its training run."""
    import dataclasses

    from credit_risk.model.model_card import CardFacts, write_model_card
    from credit_risk.pipeline.monitoring import DriftPolicy

    client = MlflowClient()
    name, version = registration["model_name"], str(registration["model_version"])
    run = client.get_run(run_id)
    try:
        validation = mlflow.artifacts.load_dict(f"runs:/{run_id}/{REPORT_ARTIFACT}")
    except (MlflowException, OSError):  # validation disabled, or a run registered by hand before validate ran
        validation = {}
    facts = CardFacts(
        model_name=name,
        version=version,
        run_id=run_id,
        tags=dict(run.data.tags),
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        validation=validation,
        registration=registration,
        decision_threshold=cfg.decision_threshold,
        drift_policy=dataclasses.asdict(DriftPolicy.from_config(cfg)),
    )
    files = write_model_card(facts, cfg.home / "reports" / "model_card" / name / version)
    artifact_path = f"model_card/v{version}"
    client.log_artifact(run_id, str(files["markdown"]), artifact_path)
    client.log_artifact(run_id, str(files["html"]), artifact_path)
    client.set_model_version_tag(name, version, "model_card", f"runs:/{run_id}/{artifact_path}/model_card.md")
    return files


@pipeline_task("register")
def run_register(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `register`: the best run of `train_supervised`; publishes model_name / model_version / champion."""
    from credit_risk.runtime.tracking import configure_mlflow

    configure_mlflow(cfg)
    result = register_run(cfg, best_run(dbutils).info.run_id)
    for key in ("model_name", "model_version", "champion"):
        dbutils.jobs.taskValues.set(key=key, value=result[key])
    return result

"""MLflow wiring: tracking and registry URIs from the config, and the experiment to log into."""

from __future__ import annotations

import mlflow

from credit_risk.runtime.config import Config


def configure_mlflow(cfg: Config) -> str:
    """Point MLflow at this target's stores and make sure the experiment exists; returns its id.

    Locally the tracking store is `sqlite:///<home>/mlflow.db` (MLflow refuses a plain file store) and
    artifacts go to `<home>/mlartifacts`; on Databricks both are the workspace's (Unity Catalog registry).
    """
    mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)
    mlflow.set_registry_uri(cfg.mlflow_registry_uri)
    experiment = mlflow.get_experiment_by_name(cfg.experiment_name)
    if experiment is not None:
        mlflow.set_experiment(experiment_id=experiment.experiment_id)
        return experiment.experiment_id
    location = None if cfg.mlflow_tracking_uri == "databricks" else cfg.artifact_root.as_uri()
    experiment_id = mlflow.create_experiment(cfg.experiment_name, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id

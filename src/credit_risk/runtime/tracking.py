"""MLflow wiring: tracking and registry URIs from the config, and the experiment to log into."""

from __future__ import annotations

import os

import mlflow

from credit_risk.runtime.config import Config
from credit_risk.runtime.context import JOB_RUN_ENV


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


def start_task_run(run_name: str, tags: dict[str, str] | None = None) -> mlflow.ActiveRun:
    """A task's MLflow run: nested under the job run's parent run when the local runner opened one.

    On Databricks the job run itself groups its tasks (the variable is not set there).
    """
    parent = os.environ.get(JOB_RUN_ENV) or None
    return mlflow.start_run(run_name=run_name, tags=tags, parent_run_id=parent, nested=parent is not None)


def open_job_run(cfg: Config, job: str, run_id: str) -> str:
    """One MLflow parent run per local job run (its tasks' runs nest under it); returns its id.

    Through a client bound to the target's store, so the caller's own MLflow settings stay as they were.
    """
    from mlflow import MlflowClient

    client = MlflowClient(cfg.mlflow_tracking_uri)
    experiment = client.get_experiment_by_name(cfg.experiment_name)
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(cfg.experiment_name, artifact_location=cfg.artifact_root.as_uri())
    )
    run = client.create_run(
        experiment_id,
        run_name=f"{job} {run_id}",
        tags={"job": job, "job_run_id": run_id, "runner": "credit-risk bundle run"},
    )
    return str(run.info.run_id)


def close_job_run(tracking_uri: str, mlflow_run_id: str, ok: bool) -> None:
    from mlflow import MlflowClient

    MlflowClient(tracking_uri).set_terminated(mlflow_run_id, "FINISHED" if ok else "FAILED")


def spark_model_requirements() -> list[str]:
    """Pinned pip requirements of a logged Spark model: the versions this run used.

    Given explicitly because MLflow otherwise infers them by loading the model in a fresh process,
    which starts a second JVM: about 12 s per logged model on 2 cores, for the same answer.
    """
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("pyspark", "numpy", "pandas", "pyarrow")]

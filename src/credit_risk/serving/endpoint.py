"""The serving endpoint, deployed from a job task after `register` (never by `bundle deploy` itself).

Why a task: an endpoint needs a model version, and on a first `databricks bundle deploy` none exists yet
(the job has not trained anything), so an endpoint declared as a bundle resource would fail that deploy.
The `deploy_endpoint` task runs after registration instead: on Databricks it creates the endpoint or
points it at the current champion version with the SDK; on this machine, where the endpoint is the local
API, it loads the champion exactly as `credit-risk serve` does (portable export, no Spark), checks its PDs
against the Spark batch scores of the same version (max difference <= 1e-6) and records the endpoint.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np

PARITY_TOLERANCE = 1e-6


def _deploy_on_databricks(name: str, model_name: str, version: str) -> dict[str, Any]:
    """Create or update a Model Serving endpoint serving `model_name` at `version` (Databricks SDK)."""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound
    from databricks.sdk.service.serving import EndpointCoreConfigInput, ServedEntityInput

    w = WorkspaceClient()
    entity = ServedEntityInput(entity_name=model_name, entity_version=version, workload_size="Small",
                               scale_to_zero_enabled=True)
    try:
        w.serving_endpoints.get(name)
        w.serving_endpoints.update_config(name=name, served_entities=[entity])
        action = "updated"
    except NotFound:
        w.serving_endpoints.create(name=name, config=EndpointCoreConfigInput(name=name, served_entities=[entity]))
        action = "created"
    return {"endpoint": name, "action": action, "entity_name": model_name, "entity_version": version}


def check_local(cfg: Any, name: str) -> dict[str, Any]:
    """Load the champion as the API does and hold its PDs to the Spark batch scores of the same version."""
    import mlflow
    from deltalake import DeltaTable

    from credit_risk import features
    from credit_risk.batch_score import SCORES_TABLE
    from credit_risk.register import CHAMPION, registered_name
    from credit_risk.serving.model_store import load_champion

    mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)
    mlflow.set_registry_uri(cfg.mlflow_registry_uri)
    loaded = load_champion(registered_name(cfg), CHAMPION, cfg.decision_threshold)

    def table(qualified: str) -> Any:
        schema, tab = qualified.split(".")
        return DeltaTable(str(cfg.lake_path / cfg.catalog / f"{cfg.schema_prefix}{schema}" / tab))

    scores = table(SCORES_TABLE).to_pandas(filters=[("model_version", "=", int(loaded.version))])
    gold = table("gold.loan_features").to_pandas(columns=[features.KEY, *features.FEATURES])
    joined = gold.merge(scores[[features.KEY, "pd"]], on=features.KEY).head(10_000)
    if joined.empty:
        raise RuntimeError(f"no batch scores of {loaded.name} v{loaded.version} in {SCORES_TABLE}: run batch_score first")
    ours = loaded.scorer.model.predict_pd(joined[features.FEATURES])
    diff = float(np.abs(ours - joined["pd"].to_numpy()).max())
    if diff > PARITY_TOLERANCE:
        raise RuntimeError(f"portable scorer differs from the Spark batch scores by {diff:.3g} (> {PARITY_TOLERANCE})")
    return {"endpoint": name, "action": "checked locally", "entity_name": loaded.name,
            "entity_version": loaded.version, "model_type": loaded.model_type, "parity_rows": len(joined),
            "parity_max_abs_diff": diff}


def deploy_endpoint(cfg: Any, name: str) -> dict[str, Any]:
    """Point endpoint `name` at the champion; returns what was done (also written under <home>/serving/)."""
    from mlflow import MlflowClient

    from credit_risk.register import CHAMPION, registered_name
    from credit_risk.runtime.context import on_databricks

    if on_databricks():
        import mlflow

        mlflow.set_registry_uri(cfg.mlflow_registry_uri)
        model = registered_name(cfg)
        version = MlflowClient().get_model_version_by_alias(model, CHAMPION).version
        result = _deploy_on_databricks(name, model, str(version))
    else:
        result = check_local(cfg, name)
        out = cfg.home / "serving" / "endpoints" / f"{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**result, "deployed_at": datetime.now(UTC).isoformat()}, indent=2))
    return result

"""The serving endpoint, deployed from a job task after `register` (never by `bundle deploy` itself).

Why a task: an endpoint needs a model version, and on a first `databricks bundle deploy` none exists yet
(the job has not trained anything), so an endpoint declared as a bundle resource would fail that deploy.
The `deploy_endpoint` task runs after registration instead. On Databricks it makes the Model Serving
endpoint serve the champion version, which is the JVM-free pyfunc (`model.pyfunc_model`): one served
entity, scale-to-zero, requests and answers logged to an AI Gateway inference table in the target's
monitoring schema. It is idempotent: created when missing, its config or gateway updated only where they
differ from that, left alone when equal. On this machine, where the endpoint is the local API, it loads the
champion as `credit-risk serve` does (portable export, no Spark) and as an endpoint would (the registered
pyfunc), holds both to the Spark batch scores of the same version (max difference <= 1e-6) and records it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.serving import AiGatewayInferenceTableConfig, ServedEntityInput

    from credit_risk.runtime.config import Config

PARITY_TOLERANCE = 1e-6
PARITY_ROWS = 10_000  # batch-scored loans the local check replays
WORKLOAD_SIZE = "Small"  # the smallest CPU size; with scale-to-zero an idle endpoint costs nothing
WAIT = timedelta(minutes=20)  # an endpoint update takes minutes; the task's own timeout is 30


def served_entity(model_name: str, version: str) -> ServedEntityInput:
    """The one served entity: the registered pyfunc version, Small CPU, scale-to-zero."""
    from databricks.sdk.service.serving import ServedEntityInput

    return ServedEntityInput(
        name=f"{model_name.split('.')[-1]}-{version}",
        entity_name=model_name,
        entity_version=str(version),
        workload_size=WORKLOAD_SIZE,
        scale_to_zero_enabled=True,
    )


def inference_table(cfg: Config, endpoint: str) -> AiGatewayInferenceTableConfig:
    """AI Gateway payload logging into `<catalog>.<prefix>monitoring.<endpoint>_payload`."""
    from databricks.sdk.service.serving import AiGatewayInferenceTableConfig

    return AiGatewayInferenceTableConfig(
        catalog_name=cfg.catalog,
        schema_name=f"{cfg.schema_prefix}monitoring",
        table_name_prefix=endpoint.replace("-", "_"),
        enabled=True,
    )


_ENTITY_KEYS = ("name", "entity_name", "entity_version", "workload_size", "scale_to_zero_enabled")
_TABLE_KEYS = ("catalog_name", "schema_name", "table_name_prefix", "enabled")


def _entities(entities: list[Any] | None) -> list[dict[str, Any]]:
    return [{k: getattr(e, k) for k in _ENTITY_KEYS} for e in entities or []]


def _table(gateway: Any) -> dict[str, Any] | None:
    table = gateway.inference_table_config if gateway else None
    return {k: getattr(table, k) for k in _TABLE_KEYS} if table else None


def sync_endpoint(
    w: WorkspaceClient,
    name: str,
    entity: ServedEntityInput,
    table: AiGatewayInferenceTableConfig,
    wait: timedelta = WAIT,
) -> dict[str, Any]:
    """Make endpoint `name` serve `entity` and log to `table`; what was done: created, updated (what) or unchanged.

    An update already in progress is waited for first (the API refuses a second one). Changing where the
    inference table is needs it disabled first (the API's rule); the gateway's other settings are kept.
    """
    from databricks.sdk.errors import NotFound
    from databricks.sdk.service.serving import (
        AiGatewayConfig,
        AiGatewayInferenceTableConfig,
        EndpointCoreConfigInput,
        EndpointStateConfigUpdate,
    )

    try:
        current = w.serving_endpoints.get(name)
    except NotFound:
        w.serving_endpoints.create_and_wait(
            name=name,
            config=EndpointCoreConfigInput(name=name, served_entities=[entity]),
            ai_gateway=AiGatewayConfig(inference_table_config=table),
            timeout=wait,
        )
        return {"action": "created", "changed": ["config", "ai_gateway"]}
    if current.state is not None and current.state.config_update == EndpointStateConfigUpdate.IN_PROGRESS:
        current = w.serving_endpoints.wait_get_serving_endpoint_not_updating(name, timeout=wait)
    changed = []
    if _entities(current.config.served_entities if current.config else None) != _entities([entity]):
        w.serving_endpoints.update_config_and_wait(name=name, served_entities=[entity], timeout=wait)
        changed.append("config")
    have, want = _table(current.ai_gateway), {k: getattr(table, k) for k in _TABLE_KEYS}
    if have != want:
        gateway = current.ai_gateway or AiGatewayConfig()
        keep: dict[str, Any] = {  # the gateway's other settings, as they are
            k: v
            for k, v in (
                ("guardrails", gateway.guardrails),
                ("rate_limits", gateway.rate_limits),
                ("usage_tracking_config", gateway.usage_tracking_config),
                ("fallback_config", gateway.fallback_config),
            )
            if v
        }
        moved = have is not None and have["enabled"] and any(have[k] != want[k] for k in _TABLE_KEYS[:3])
        if moved:
            w.serving_endpoints.put_ai_gateway(
                name, inference_table_config=AiGatewayInferenceTableConfig(enabled=False), **keep
            )
        w.serving_endpoints.put_ai_gateway(name, inference_table_config=table, **keep)
        changed.append("ai_gateway")
    return {"action": "updated" if changed else "unchanged", "changed": changed}


def deploy_to_workspace(
    w: WorkspaceClient, cfg: Config, name: str, model_name: str, version: str
) -> dict[str, Any]:
    """Endpoint `name` serving `model_name` at `version` (a pyfunc: a Spark version would need a JVM to serve)."""
    import mlflow

    flavors = mlflow.models.get_model_info(f"models:/{model_name}/{version}").flavors
    if "spark" in flavors:
        raise RuntimeError(
            f"{model_name} v{version} is a Spark model, which Model Serving cannot run without a JVM: "
            "re-run the register task, which registers the JVM-free pyfunc"
        )
    result = sync_endpoint(w, name, served_entity(model_name, version), inference_table(cfg, name))
    return {
        "endpoint": name,
        **result,
        "entity_name": model_name,
        "entity_version": str(version),
        "inference_table": f"{cfg.catalog}.{cfg.schema_prefix}monitoring.{name.replace('-', '_')}_payload",
    }


def check_local(cfg: Config, name: str) -> dict[str, Any]:
    """Load the champion as the API does and as an endpoint does; hold both to the Spark batch scores of that version."""
    import mlflow
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    from credit_risk import features
    from credit_risk.model.champion import load_champion
    from credit_risk.pipeline.register import CHAMPION, registered_name
    from credit_risk.tables import GOLD_FEATURES, GOLD_SCORES

    mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)
    mlflow.set_registry_uri(cfg.mlflow_registry_uri)
    loaded = load_champion(registered_name(cfg), CHAMPION, cfg.decision_threshold)

    def table(qualified: str) -> Any:
        schema, tab = qualified.split(".")
        return DeltaTable(str(cfg.lake_path / cfg.catalog / f"{cfg.schema_prefix}{schema}" / tab))

    # At most PARITY_ROWS scored loans, and only their gold rows: the whole gold table (2.9M loans by 44 columns)
    # does not belong in this task's memory.
    scores = (
        table(GOLD_SCORES)
        .to_pyarrow_dataset()
        .head(
            PARITY_ROWS, columns=[features.KEY, "pd"], filter=pc.field("model_version") == int(loaded.version)
        )
        .to_pandas()
    )
    text = loaded.scorer.model.text_inputs  # the text fields a text-feature model reads
    gold = (
        table(GOLD_FEATURES)
        .to_pyarrow_dataset()
        .to_table(
            columns=[features.KEY, *features.FEATURES, *text],
            filter=pc.field(features.KEY).isin(scores[features.KEY].tolist()),
        )
    )
    joined = gold.to_pandas().merge(scores, on=features.KEY)
    if joined.empty:
        raise RuntimeError(
            f"no batch scores of {loaded.name} v{loaded.version} in {GOLD_SCORES}: run batch_score first"
        )
    served = mlflow.pyfunc.load_model(f"models:/{loaded.name}/{loaded.version}")
    columns = [c.name for c in served.metadata.get_input_schema().inputs]
    diffs = {}
    for label, ours in (
        ("API scorer", loaded.scorer.model.predict_pd(joined[[*features.FEATURES, *text]])),
        ("registered pyfunc", served.predict(joined[columns])["pd"].to_numpy()),
    ):
        diffs[label] = float(np.abs(ours - joined["pd"].to_numpy()).max())
        if diffs[label] > PARITY_TOLERANCE:
            raise RuntimeError(
                f"the {label} differs from the Spark batch scores by {diffs[label]:.3g} "
                f"(> {PARITY_TOLERANCE})"
            )
    return {
        "endpoint": name,
        "action": "checked locally",
        "entity_name": loaded.name,
        "entity_version": loaded.version,
        "model_type": loaded.model_type,
        "parity_rows": len(joined),
        "parity_max_abs_diff": max(diffs.values()),
        "pyfunc_max_abs_diff": diffs["registered pyfunc"],
    }


def deploy_endpoint(cfg: Config, name: str) -> dict[str, Any]:
    """Point endpoint `name` at the champion; returns what was done (also written under <home>/serving/)."""
    from mlflow import MlflowClient

    from credit_risk.pipeline.register import CHAMPION, registered_name
    from credit_risk.runtime.context import on_databricks

    if on_databricks():
        import mlflow
        from databricks.sdk import WorkspaceClient

        mlflow.set_registry_uri(cfg.mlflow_registry_uri)
        model = registered_name(cfg)
        version = MlflowClient().get_model_version_by_alias(model, CHAMPION).version
        result = deploy_to_workspace(WorkspaceClient(), cfg, name, model, str(version))
    else:
        result = check_local(cfg, name)
        out = cfg.home / "serving" / "endpoints" / f"{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**result, "deployed_at": datetime.now(UTC).isoformat()}, indent=2))
    return result

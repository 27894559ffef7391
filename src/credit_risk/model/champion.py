"""The registry's champion as a scorer: what the API serves, the monitor watches and the endpoint check replays.

Loading reads two JSON documents from MLflow (the champion run's portable pipeline and the latest KMeans
segments), never a pickle. The registered version is the pyfunc over that same document (what an endpoint
serves); its run is the training run, so the document is read there, without the pyfunc loader or the code
bundled with it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from credit_risk.model.portable import PORTABLE_ARTIFACT, PortableModel
from credit_risk.model.scoring import Scorer, Segmenter


@dataclass
class LoadedModel:
    scorer: Scorer
    name: str
    version: str
    alias: str
    run_id: str
    model_type: str
    loaded_at: float = field(default=0.0)

    def describe(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in ("name", "version", "alias", "model_type")}


def _json_artifact(run_id: str, path: str) -> dict[str, Any]:
    import mlflow

    document: dict[str, Any] = json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/{path}"))
    return document


def _latest_segmenter(experiment_ids: list[str]) -> Segmenter | None:
    """The newest finished KMeans segments run that carries a portable export (None if there is none)."""
    import mlflow

    runs = mlflow.search_runs(
        experiment_ids=experiment_ids,
        filter_string="tags.model_type = 'segments_kmeans'",
        order_by=["attributes.start_time DESC"],
        max_results=5,
    )
    for run_id in runs.get("run_id", []):
        try:
            document = _json_artifact(run_id, PORTABLE_ARTIFACT)
        except Exception:  # noqa: BLE001 - an older run without the export: try the next one
            continue
        order = {int(k): int(v) for k, v in document["info"]["segment_of_cluster"].items()}
        return Segmenter(PortableModel(document), order)
    return None


def load_champion(model_name: str, alias: str, threshold: float) -> LoadedModel:
    """Resolve `models:/<name>@<alias>` and build a scorer from its run's portable export."""
    from mlflow import MlflowClient

    client = MlflowClient()
    version = client.get_model_version_by_alias(model_name, alias)
    run_id = version.run_id
    if run_id is None:
        raise ValueError(f"{model_name}@{alias} (version {version.version}) names no training run")
    run = client.get_run(run_id)
    document = _json_artifact(run_id, PORTABLE_ARTIFACT)
    segmenter = _latest_segmenter([run.info.experiment_id])
    scorer = Scorer(PortableModel(document), threshold, segmenter)
    model_type = document.get("info", {}).get("model_type") or run.data.tags.get("model_type", "unknown")
    return LoadedModel(scorer, model_name, str(version.version), alias, run_id, model_type, time.time())

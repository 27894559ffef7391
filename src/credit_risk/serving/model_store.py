"""The model in service: the registry's `champion`, loaded at startup and swapped when the alias moves.

Loading reads two JSON documents from MLflow (the champion run's portable pipeline and the latest KMeans
segments), never a pickle. The registered version is the pyfunc over that same document (what an endpoint
serves); its run is the training run, so the API reads the document there and needs neither the pyfunc
loader nor the code bundled with it. A background thread polls the alias; a new version is loaded completely
before one reference assignment swaps it in, so requests in flight finish on the model they started with.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from credit_risk.serving.portable import PORTABLE_ARTIFACT, PortableModel
from credit_risk.serving.scoring import Scorer, Segmenter

log = logging.getLogger("credit_risk.serving")


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
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "model_type": self.model_type,
        }


def _json_artifact(run_id: str, path: str) -> dict[str, Any]:
    import mlflow

    return json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/{path}"))


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
    import time

    from mlflow import MlflowClient

    client = MlflowClient()
    version = client.get_model_version_by_alias(model_name, alias)
    run = client.get_run(version.run_id)
    document = _json_artifact(version.run_id, PORTABLE_ARTIFACT)
    segmenter = _latest_segmenter([run.info.experiment_id])
    scorer = Scorer(PortableModel(document), threshold, segmenter)
    model_type = document.get("info", {}).get("model_type") or run.data.tags.get("model_type", "unknown")
    return LoadedModel(
        scorer, model_name, str(version.version), alias, version.run_id, model_type, time.time()
    )


class ModelStore:
    """Holds the current model; `refresh()` swaps in a new version when the alias has moved."""

    def __init__(self, model_name: str, alias: str, threshold: float, on_change: Any = None) -> None:
        self.model_name, self.alias, self.threshold = model_name, alias, threshold
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self._on_change = on_change
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """Load the alias's version if it differs from the one in service; True when a new model went live."""
        from mlflow import MlflowClient

        with self._lock:
            try:
                target = MlflowClient().get_model_version_by_alias(self.model_name, self.alias).version
                if self.current is not None and str(target) == self.current.version:
                    return False
                loaded = load_champion(self.model_name, self.alias, self.threshold)
            except Exception as exc:  # noqa: BLE001 - keep serving the model we have; report why
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "model load failed", extra={"event": "model_load_failed", "error": self.last_error}
                )
                if self._on_change:
                    self._on_change(None, "error")
                return False
            previous, self.current, self.last_error = self.current, loaded, None
        log.info(
            "model loaded",
            extra={
                "event": "model_loaded",
                "model": loaded.describe(),
                "previous_version": previous.version if previous else None,
            },
        )
        if self._on_change:
            self._on_change(loaded, "loaded")
        return True

    def start_polling(self, interval_s: float) -> None:
        """Poll the alias every `interval_s` seconds in a daemon thread (0 disables)."""
        if interval_s <= 0:
            return

        def loop() -> None:
            while not self._stop.wait(interval_s):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="champion-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

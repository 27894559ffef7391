"""The model in service: the registry's `champion` (`model.champion`), loaded at startup and swapped when the alias moves.

A background thread polls the alias; a new version is loaded completely before one reference assignment
swaps it in, so requests in flight finish on the model they started with.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from credit_risk.model.champion import LoadedModel, load_champion

log = logging.getLogger("credit_risk.serving")
OnChange = Callable[[LoadedModel | None, str], None]  # (model now live or None, "loaded" | "error")


class ModelStore:
    """Holds the current model; `refresh()` swaps in a new version when the alias has moved."""

    def __init__(
        self, model_name: str, alias: str, threshold: float, on_change: OnChange | None = None
    ) -> None:
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

"""The scoring API: `create_app()` assembles the FastAPI app from the settings, the model store, the routes
and the middleware.

The app loads the registry's champion at startup (the original design's `load_model()`), serves it with
numpy only (no Spark, no JVM) and swaps in a new version when the alias moves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from credit_risk.model.champion import LoadedModel
from credit_risk.serving.inference_log import InferenceLog
from credit_risk.serving.metrics import ServiceMetrics
from credit_risk.serving.middleware import OpsMiddleware
from credit_risk.serving.model_store import ModelStore
from credit_risk.serving.routes import Service, add_routes
from credit_risk.serving.settings import ServeSettings


def create_app(settings: ServeSettings | None = None, store: ModelStore | None = None) -> FastAPI:
    """The FastAPI app; `store` lets tests pass a model store of their own."""
    settings = settings or ServeSettings.from_env()
    metrics = ServiceMetrics()

    def on_change(model: LoadedModel | None, outcome: str) -> None:
        metrics.reloads.labels(outcome).inc()
        if model is not None:
            metrics.model_info.clear()
            metrics.model_info.labels(model.name, model.version, model.alias, model.model_type).set(1)
            metrics.model_loaded.set(1)

    store = store or ModelStore(settings.model_name, settings.alias, settings.threshold)
    store._on_change = on_change
    service = Service(settings, store, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.refresh()
        store.start_polling(settings.reload_seconds)
        if settings.inference_log:
            service.inference_log = InferenceLog(settings.inference_log, metrics=metrics)
        yield
        store.stop()  # graceful shutdown: uvicorn has drained requests; write what the log still holds
        if service.inference_log is not None:
            service.inference_log.flush_and_stop()

    app = FastAPI(
        title="credit-risk PD service",
        version="1",
        lifespan=lifespan,
        description="Probability of default of LendingClub-style loan applications, from the registry's champion.",
    )
    app.state.store, app.state.metrics, app.state.settings = store, metrics, settings
    add_routes(app, service)
    app.add_middleware(OpsMiddleware, settings=settings, metrics=metrics)
    return app

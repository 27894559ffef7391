"""The API's routes: `/predict`, the Databricks Model Serving protocol (describe, invocations) and the
operations endpoints (health, readiness, Prometheus metrics)."""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import TypeAdapter, ValidationError

from credit_risk.model.champion import LoadedModel
from credit_risk.serving.inference_log import InferenceLog
from credit_risk.serving.metrics import ServiceMetrics
from credit_risk.serving.middleware import error_response
from credit_risk.serving.model_store import ModelStore
from credit_risk.serving.schema import LoanApplication, to_features
from credit_risk.serving.settings import ServeSettings

log = logging.getLogger("credit_risk.serving")
RECORDS = TypeAdapter(list[LoanApplication])
SERVING_FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")


@dataclass
class Service:
    """What the routes share: settings, the model store, metrics, and what the app's lifespan opens."""

    settings: ServeSettings
    store: ModelStore
    metrics: ServiceMetrics
    inference_log: InferenceLog | None = None
    drift_mtime: float | None = None


class Unavailable(Exception):
    """No model loaded yet: 503."""


class Unscorable(Exception):
    """The model gives a PD that is not a finite number: 422."""


def field_errors(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as `field` (dotted path) + message; values are not echoed (they may be personal data)."""
    out = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "body", "message": e.get("msg", ""), "type": e.get("type", "")})
    return out


def serving_records(body: Any) -> list[dict[str, Any]]:
    """Records from any of Model Serving's input formats: dataframe_split, dataframe_records, inputs, instances."""
    if not isinstance(body, dict):
        raise ValueError(
            "body must be a JSON object with dataframe_split, dataframe_records, inputs or instances"
        )
    keys = [k for k in SERVING_FORMATS if k in body]
    if len(keys) != 1:
        raise ValueError(
            f"exactly one of dataframe_split, dataframe_records, inputs, instances is required (got {keys or 'none'})"
        )
    data = body[keys[0]]
    if keys[0] == "dataframe_split":
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("columns"), list)
            or not isinstance(data.get("data"), list)
        ):
            raise ValueError("dataframe_split needs 'columns' (list) and 'data' (list of rows)")
        if any(not isinstance(row, list) or len(row) != len(data["columns"]) for row in data["data"]):
            raise ValueError("dataframe_split: every row of 'data' must have one value per column")
        return [dict(zip(data["columns"], row, strict=True)) for row in data["data"]]
    if isinstance(data, dict):  # columnar tensors: {"col": [v1, v2], ...}
        lengths = {len(v) if isinstance(v, list) else -1 for v in data.values()}
        if len(lengths) != 1 or -1 in lengths:
            raise ValueError(f"{keys[0]} as columns needs lists of one common length")
        n = lengths.pop()
        return [{k: v[i] for k, v in data.items()} for i in range(n)]
    if not isinstance(data, list) or any(not isinstance(r, dict) for r in data):
        raise ValueError(f"{keys[0]} must be a list of records (objects)")
    return data


def refresh_drift(service: Service) -> None:
    """Export the monitoring job's last summary as gauges (re-read when the file changes)."""
    path = service.settings.drift_summary
    try:
        mtime = os.path.getmtime(path) if path else None
    except OSError:
        return
    if mtime is None or mtime == service.drift_mtime:
        return
    try:
        summary = json.loads(open(path).read())  # noqa: SIM115
        service.metrics.drift_share.set(float(summary.get("drift_share", 0.0)))
        service.metrics.score_psi.set(float(summary.get("score_psi", 0.0)))
        service.drift_mtime = mtime
    except (OSError, ValueError, TypeError):
        log.warning("unreadable drift summary", extra={"event": "drift_summary_unreadable", "path": path})


def score(
    service: Service, records: list[dict[str, Any]], request: Request, explain: bool = True
) -> tuple[LoadedModel, list[dict[str, Any]]]:
    """Score validated applications with the model in service; count them and queue them for the log."""
    model = service.store.current
    if model is None:
        raise Unavailable
    if not records:  # an empty list is a valid request with an empty answer
        return model, []
    frame = to_features(records, model.scorer.known_titles)
    answers = model.scorer.score(frame, explain=explain)
    if not all(math.isfinite(a["pd"]) for a in answers):
        raise Unscorable
    for a in answers:
        service.metrics.pd.observe(a["pd"])
        service.metrics.predictions.labels(a["decision"]).inc()
    if service.inference_log is not None:  # rows are built on the writer thread, not here
        service.inference_log.record(
            frame, answers, request.scope["state"]["request_id"], model.name, model.version
        )
    return model, answers


def add_routes(app: FastAPI, service: Service) -> None:
    """The routes and error handlers of the API, over `service`."""
    settings, store = service.settings, service.store

    def no_such_endpoint(name: str) -> JSONResponse:
        return error_response(
            404, f"serving endpoint {name!r} does not exist (this one is {settings.endpoint_name!r})"
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc)
        return error_response(
            422, "invalid request: " + ", ".join(sorted({e["field"] for e in errors})), errors=errors
        )

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return error_response(503, f"no model loaded ({store.last_error or 'champion not found yet'})")

    @app.exception_handler(Unscorable)
    async def unscorable(request: Request, exc: Exception) -> JSONResponse:
        return error_response(422, "inputs outside what the model can score (the PD is not a finite number)")

    @app.get("/health", summary="Liveness: the process answers")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: a model is loaded")
    def ready() -> Response:
        model = store.current
        if model is None:
            return error_response(503, f"no model loaded ({store.last_error or 'loading'})")
        return JSONResponse({"status": "ready", "model": model.describe()})

    @app.get("/metrics", summary="Prometheus metrics")
    def prometheus() -> Response:
        refresh_drift(service)
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/predict",
        summary="PD, decision, score band, segment and reasons for one application or a list",
        response_model=dict[str, Any],
    )
    def predict(
        body: LoanApplication | list[LoanApplication], request: Request, explain: bool = True
    ) -> dict[str, Any] | JSONResponse:
        apps = body if isinstance(body, list) else [body]
        if len(apps) > settings.max_batch:
            return error_response(
                413, f"{len(apps)} applications in one request; the limit is {settings.max_batch}"
            )
        model, answers = score(service, [a.model_dump() for a in apps], request, explain)
        return {"predictions": answers, "model": model.describe(), "threshold": settings.threshold}

    @app.get("/api/2.0/serving-endpoints/{name}", summary="Databricks REST API: describe the endpoint")
    @app.get("/serving-endpoints/{name}", summary="Databricks Model Serving: describe the endpoint")
    def endpoint(name: str) -> Response:
        if name != settings.endpoint_name:
            return no_such_endpoint(name)
        model = store.current
        entity = {
            "name": f"{settings.model_name}-{model.version}" if model else settings.model_name,
            "entity_name": settings.model_name,
            "entity_version": model.version if model else None,
            "workload_size": "Small",
            "scale_to_zero_enabled": False,
        }
        return JSONResponse(
            {
                "name": name,
                "id": name,
                "creator": "credit-risk",
                "state": {"ready": "READY" if model else "NOT_READY", "config_update": "NOT_UPDATING"},
                "config": {"served_entities": [entity], "config_version": 1},
                "task": "llm/v1/none",
                "tags": [{"key": "alias", "value": settings.alias}],
            }
        )

    @app.post("/serving-endpoints/{name}/invocations", summary="Databricks Model Serving: score records")
    async def invocations(name: str, request: Request) -> Response:
        if name != settings.endpoint_name:
            return no_such_endpoint(name)
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            return error_response(400, f"body is not JSON: {exc}")
        try:
            apps = RECORDS.validate_python(serving_records(body))
        except ValidationError as exc:
            errors = field_errors(exc)
            return error_response(
                400, "invalid records: " + ", ".join(sorted({e["field"] for e in errors})), errors=errors
            )
        except ValueError as exc:
            return error_response(400, str(exc))
        if len(apps) > settings.max_batch:
            return error_response(
                413, f"{len(apps)} records in one request; the limit is {settings.max_batch}"
            )
        _, answers = score(service, [a.model_dump() for a in apps], request, explain=False)
        return JSONResponse({"predictions": [a["pd"] for a in answers]})

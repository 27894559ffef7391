"""The scoring API: `/predict`, the Databricks Model Serving protocol, and the operations endpoints.

`create_app()` loads the registry's champion at startup (the original design's `load_model()`), serves it
with numpy only (no Spark, no JVM) and swaps in a new version when the alias moves. Cross-cutting concerns
live in one small ASGI middleware: request id, bearer-token auth, body size limit, metrics and a JSON
access log that carries no applicant data.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import os
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import TypeAdapter, ValidationError

from credit_risk.serving.inference_log import InferenceLog
from credit_risk.serving.metrics import ServiceMetrics
from credit_risk.serving.model_store import LoadedModel, ModelStore
from credit_risk.serving.schema import LoanApplication, to_features
from credit_risk.tables import MONITORING_INFERENCE_LOG as INFERENCE_TABLE

log = logging.getLogger("credit_risk.serving")
OPEN_ROUTES = {"/health", "/ready", "/metrics", "/docs", "/openapi.json"}


@dataclass(frozen=True)
class ServeSettings:
    """What the service is configured with (environment variables, so a container needs no file)."""

    model_name: str = "credit_risk_pd"
    alias: str = "champion"
    endpoint_name: str = "credit-risk-pd"
    threshold: float = 0.2
    api_token: str = field(default="", repr=False)
    max_body_bytes: int = 1_000_000
    max_batch: int = 1000
    reload_seconds: float = 30.0
    inference_log: str = ""  # Delta table folder; empty: no inference log
    drift_summary: str = ""  # latest.json written by the monitoring job

    @classmethod
    def from_env(cls) -> ServeSettings:
        import mlflow

        from credit_risk.runtime.config import load_config

        cfg = load_config()
        mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)  # read only: no experiment is created
        mlflow.set_registry_uri(cfg.mlflow_registry_uri)
        lake_table = (
            cfg.lake_path / cfg.catalog / f"{cfg.schema_prefix}monitoring" / INFERENCE_TABLE.split(".")[1]
        )
        env = os.environ.get
        return cls(
            model_name=env("CREDIT_RISK_MODEL_NAME", cfg.model_name),
            alias=env("CREDIT_RISK_MODEL_ALIAS", "champion"),
            endpoint_name=env("CREDIT_RISK_ENDPOINT_NAME", "credit-risk-pd"),
            threshold=float(env("CREDIT_RISK_DECISION_THRESHOLD", cfg.decision_threshold)),
            api_token=env("API_TOKEN", ""),
            max_body_bytes=int(env("CREDIT_RISK_MAX_BODY_BYTES", 1_000_000)),
            max_batch=int(env("CREDIT_RISK_MAX_BATCH", 1000)),
            reload_seconds=float(env("CREDIT_RISK_RELOAD_SECONDS", 30)),
            inference_log=env("CREDIT_RISK_INFERENCE_LOG", str(lake_table)),
            drift_summary=env("CREDIT_RISK_DRIFT_SUMMARY", str(cfg.home / "reports/monitoring/latest.json")),
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `extra=` fields become keys."""

    SKIP = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update({k: v for k, v in record.__dict__.items() if k not in self.SKIP})
        return json.dumps(doc, default=str)


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {
            "error_code": {
                400: "BAD_REQUEST",
                401: "UNAUTHENTICATED",
                404: "NOT_FOUND",
                413: "REQUEST_TOO_LARGE",
                422: "INVALID_PARAMETER_VALUE",
                503: "SERVICE_UNAVAILABLE",
            }.get(status, "ERROR"),
            "message": message,
            **extra,
        },
        status_code=status,
    )


class OpsMiddleware:
    """Request id, auth, body limit, metrics and access log around every request (pure ASGI: cheap)."""

    def __init__(self, app: Any, settings: ServeSettings, metrics: ServiceMetrics) -> None:
        self.app, self.settings, self.metrics = app, settings, metrics
        self.token = f"Bearer {settings.api_token}".encode() if settings.api_token else b""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        path = scope["path"]
        route = (
            path
            if path in OPEN_ROUTES or path == "/predict"
            else (
                "/serving-endpoints/{name}/invocations"
                if path.endswith("/invocations")
                else "/serving-endpoints/{name}"
                if path.startswith(("/serving-endpoints/", "/api/2.0/serving-endpoints/"))
                else "other"
            )
        )
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode()[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500}

        async def send_wrapped(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            if (
                self.token
                and path not in OPEN_ROUTES
                and not hmac.compare_digest(headers.get(b"authorization", b""), self.token)
            ):
                return await _error(401, "missing or invalid bearer token")(scope, receive, send_wrapped)
            length = headers.get(b"content-length")
            too_large = _error(413, f"request body over {self.settings.max_body_bytes} bytes")
            if length is not None and (not length.isdigit() or int(length) > self.settings.max_body_bytes):
                return await too_large(scope, receive, send_wrapped)
            if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
                receive = await self._buffered(receive)  # chunked: no length to check up front
                if receive is None:
                    return await too_large(scope, _empty_receive, send_wrapped)
            await self.app(scope, receive, send_wrapped)
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.requests.labels(route, scope["method"], str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            if route != "/metrics":
                log.info(
                    "request",
                    extra={
                        "event": "request",
                        "request_id": request_id,
                        "route": route,
                        "method": scope["method"],
                        "status": status["code"],
                        "ms": round(elapsed * 1000, 3),
                    },
                )

    async def _buffered(self, receive: Any) -> Any:
        """Read a chunked body up to the limit; a replaying receive(), or None when it is too large."""
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.settings.max_body_bytes:
                return None
        replay = [{"type": "http.request", "body": bytes(body), "more_body": False}]

        async def replaying() -> dict:
            return replay.pop() if replay else await receive()

        return replaying


async def _empty_receive() -> dict:
    return {"type": "http.disconnect"}


def _field_errors(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as `field` (dotted path) + message; values are not echoed (they may be personal data)."""
    out = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "body", "message": e.get("msg", ""), "type": e.get("type", "")})
    return out


APPLICATIONS = TypeAdapter(LoanApplication | list[LoanApplication])
RECORDS = TypeAdapter(list[LoanApplication])


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
    state: dict[str, Any] = {"inference_log": None, "drift_mtime": None}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store.refresh()
        store.start_polling(settings.reload_seconds)
        if settings.inference_log:
            state["inference_log"] = InferenceLog(settings.inference_log, metrics=metrics)
        yield
        store.stop()  # graceful shutdown: uvicorn has drained requests; write what the log still holds
        if state["inference_log"] is not None:
            state["inference_log"].flush_and_stop()

    app = FastAPI(
        title="credit-risk PD service",
        version="1",
        lifespan=lifespan,
        description="Probability of default of LendingClub-style loan applications, from the registry's champion.",
    )
    app.state.store, app.state.metrics, app.state.settings = store, metrics, settings

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        return _error(
            422, "invalid request: " + ", ".join(sorted({e["field"] for e in errors})), errors=errors
        )

    def _model() -> LoadedModel | None:
        return store.current

    def _refresh_drift() -> None:
        """Export the monitoring job's last summary as gauges (re-read when the file changes)."""
        path = settings.drift_summary
        try:
            mtime = os.path.getmtime(path) if path else None
        except OSError:
            return
        if mtime is None or mtime == state["drift_mtime"]:
            return
        try:
            summary = json.loads(open(path).read())  # noqa: SIM115
            metrics.drift_share.set(float(summary.get("drift_share", 0.0)))
            metrics.score_psi.set(float(summary.get("score_psi", 0.0)))
            state["drift_mtime"] = mtime
        except (OSError, ValueError, TypeError):
            log.warning("unreadable drift summary", extra={"event": "drift_summary_unreadable", "path": path})

    def _score(
        records: list[dict[str, Any]], request: Request, explain: bool = True
    ) -> tuple[LoadedModel, list[dict]]:
        model = _model()
        if model is None:
            raise _Unavailable
        if not records:  # an empty list is a valid request with an empty answer
            return model, []
        frame = to_features(records, model.scorer.known_titles)
        answers = model.scorer.score(frame, explain=explain)
        if not all(math.isfinite(a["pd"]) for a in answers):
            raise _Unscorable
        for a in answers:
            metrics.pd.observe(a["pd"])
            metrics.predictions.labels(a["decision"]).inc()
        if state["inference_log"] is not None:  # rows are built on the writer thread, not here
            state["inference_log"].record(
                frame, answers, request.scope["state"]["request_id"], model.name, model.version
            )
        return model, answers

    @app.exception_handler(_Unavailable)
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return _error(503, f"no model loaded ({store.last_error or 'champion not found yet'})")

    @app.exception_handler(_Unscorable)
    async def unscorable(request: Request, exc: Exception) -> JSONResponse:
        return _error(422, "inputs outside what the model can score (the PD is not a finite number)")

    @app.get("/health", summary="Liveness: the process answers")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: a model is loaded")
    def ready() -> Response:
        model = _model()
        if model is None:
            return _error(503, f"no model loaded ({store.last_error or 'loading'})")
        return JSONResponse({"status": "ready", "model": model.describe()})

    @app.get("/metrics", summary="Prometheus metrics")
    def prometheus() -> Response:
        _refresh_drift()
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/predict", summary="PD, decision, score band, segment and reasons for one application or a list"
    )
    def predict(
        body: LoanApplication | list[LoanApplication], request: Request, explain: bool = True
    ) -> dict:
        apps = body if isinstance(body, list) else [body]
        if len(apps) > settings.max_batch:
            return _error(413, f"{len(apps)} applications in one request; the limit is {settings.max_batch}")
        model, answers = _score([a.model_dump() for a in apps], request, explain)
        return {"predictions": answers, "model": model.describe(), "threshold": settings.threshold}

    @app.get("/api/2.0/serving-endpoints/{name}", summary="Databricks REST API: describe the endpoint")
    @app.get("/serving-endpoints/{name}", summary="Databricks Model Serving: describe the endpoint")
    def endpoint(name: str) -> Response:
        if name != settings.endpoint_name:
            return _error(
                404, f"serving endpoint {name!r} does not exist (this one is {settings.endpoint_name!r})"
            )
        model = _model()
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
            return _error(
                404, f"serving endpoint {name!r} does not exist (this one is {settings.endpoint_name!r})"
            )
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            return _error(400, f"body is not JSON: {exc}")
        try:
            records = _serving_records(body)
            apps = RECORDS.validate_python(records)
        except ValidationError as exc:
            errors = _field_errors(exc)
            return _error(
                400, "invalid records: " + ", ".join(sorted({e["field"] for e in errors})), errors=errors
            )
        except ValueError as exc:
            return _error(400, str(exc))
        if len(apps) > settings.max_batch:
            return _error(413, f"{len(apps)} records in one request; the limit is {settings.max_batch}")
        _, answers = _score([a.model_dump() for a in apps], request, explain=False)
        return JSONResponse({"predictions": [a["pd"] for a in answers]})

    app.add_middleware(OpsMiddleware, settings=settings, metrics=metrics)
    return app


class _Unavailable(Exception):
    pass


class _Unscorable(Exception):
    pass


def _serving_records(body: Any) -> list[dict[str, Any]]:
    """Records from any of Model Serving's input formats: dataframe_split, dataframe_records, inputs, instances."""
    if not isinstance(body, dict):
        raise ValueError(
            "body must be a JSON object with dataframe_split, dataframe_records, inputs or instances"
        )
    keys = [k for k in ("dataframe_split", "dataframe_records", "inputs", "instances") if k in body]
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

"""Cross-cutting concerns of the scoring API in one small ASGI middleware: request id, bearer-token auth,
body size limit, metrics and a JSON access log that carries no applicant data."""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credit_risk.serving.metrics import ServiceMetrics
from credit_risk.serving.settings import ServeSettings

log = logging.getLogger("credit_risk.serving")
OPEN_ROUTES = {"/health", "/ready", "/metrics", "/docs", "/openapi.json"}  # no token needed
ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    413: "REQUEST_TOO_LARGE",
    422: "INVALID_PARAMETER_VALUE",
    503: "SERVICE_UNAVAILABLE",
}


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


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    """An error in Databricks' shape (`error_code`, `message`), so Model Serving clients read it as theirs."""
    return JSONResponse(
        {"error_code": ERROR_CODES.get(status, "ERROR"), "message": message, **extra},
        status_code=status,
    )


def route_label(path: str) -> str:
    """The metrics label of a path: the route template, so endpoint names do not multiply the series."""
    if path in OPEN_ROUTES or path == "/predict":
        return path
    if path.endswith("/invocations"):
        return "/serving-endpoints/{name}/invocations"
    if path.startswith(("/serving-endpoints/", "/api/2.0/serving-endpoints/")):
        return "/serving-endpoints/{name}"
    return "other"


class OpsMiddleware:
    """Request id, auth, body limit, metrics and access log around every request (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp, settings: ServeSettings, metrics: ServiceMetrics) -> None:
        self.app, self.settings, self.metrics = app, settings, metrics
        self.token = f"Bearer {settings.api_token}".encode() if settings.api_token else b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope["path"]
        route = route_label(path)
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode()[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500}

        async def send_wrapped(message: Message) -> None:
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
                await error_response(401, "missing or invalid bearer token")(scope, receive, send_wrapped)
                return
            length = headers.get(b"content-length")
            too_large = error_response(413, f"request body over {self.settings.max_body_bytes} bytes")
            if length is not None and (not length.isdigit() or int(length) > self.settings.max_body_bytes):
                await too_large(scope, receive, send_wrapped)
                return
            if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
                buffered = await self._buffered(receive)  # chunked: no length to check up front
                if buffered is None:
                    await too_large(scope, _empty_receive, send_wrapped)
                    return
                receive = buffered
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

    async def _buffered(self, receive: Receive) -> Receive | None:
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
        replay: list[Message] = [{"type": "http.request", "body": bytes(body), "more_body": False}]

        async def replaying() -> Message:
            return replay.pop() if replay else await receive()

        return replaying


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}

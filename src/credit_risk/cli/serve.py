"""`credit-risk serve`: the scoring API (FastAPI under uvicorn) over the registry's champion."""

from __future__ import annotations

import argparse
import logging


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="serve the champion model: /predict and the Model Serving protocol on :8000"
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0 in a container)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from credit_risk.serving.middleware import JsonFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(args.log_level.upper())
    # uvicorn drains in-flight requests on SIGTERM (graceful shutdown), then the app's lifespan flushes the log.
    uvicorn.run(
        "credit_risk.serving.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    return 0

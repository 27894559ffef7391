"""`credit-risk ui`: the MLflow UI over the local store, on 127.0.0.1."""

from __future__ import annotations

import argparse
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="MLflow UI on http://127.0.0.1:5000 over the local sqlite store")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from credit_risk.runtime.config import load_config

    cfg = load_config()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        cfg.mlflow_tracking_uri,
        "--default-artifact-root",
        cfg.artifact_root.as_uri(),
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    print(f"MLflow UI on http://{args.host}:{args.port} ({cfg.mlflow_tracking_uri})", flush=True)
    os.execv(sys.executable, command)
    return 0

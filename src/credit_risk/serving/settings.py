"""What the scoring service is configured with: environment variables over the project config, so a container
needs no file."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from credit_risk.tables import MONITORING_INFERENCE_LOG


@dataclass(frozen=True)
class ServeSettings:
    """The service's settings; `from_env()` reads them, tests build them directly."""

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
            cfg.lake_path
            / cfg.catalog
            / f"{cfg.schema_prefix}monitoring"
            / MONITORING_INFERENCE_LOG.split(".")[1]
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

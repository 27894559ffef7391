"""Prometheus metrics of the scoring service: one registry per app, so tests can run several apps side by side.

The names here are a contract: `docker/prometheus/alerts.yml` and the Grafana dashboard query them, and a
test checks that every dashboard and alert query names a metric this module exports.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PD_BUCKETS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0)


class ServiceMetrics:
    """Requests, latency, the PD distribution, the model in service and the last drift summary."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "credit_risk_requests_total",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "credit_risk_request_latency_seconds",
            "Request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.pd = Histogram(
            "credit_risk_pd", "Probability of default of every scored loan", buckets=PD_BUCKETS, registry=r
        )
        self.predictions = Counter(
            "credit_risk_predictions_total", "Scored loans by decision", ["decision"], registry=r
        )
        self.model_info = Gauge(
            "credit_risk_model_info",
            "The model in service (value 1)",
            ["model_name", "model_version", "alias", "model_type"],
            registry=r,
        )
        self.model_loaded = Gauge(
            "credit_risk_model_loaded", "1 when a model is loaded and serving", registry=r
        )
        self.reloads = Counter(
            "credit_risk_model_reloads_total", "Model reload attempts by outcome", ["outcome"], registry=r
        )
        self.drift_share = Gauge(
            "credit_risk_feature_drift_share",
            "Share of drifted features in the last monitoring run",
            registry=r,
        )
        self.score_psi = Gauge(
            "credit_risk_score_psi",
            "PSI of the PD between reference and the last monitored window",
            registry=r,
        )
        self.inference_rows = Counter(
            "credit_risk_inference_log_rows_total", "Predictions written to the inference log", registry=r
        )
        self.inference_dropped = Counter(
            "credit_risk_inference_log_dropped_total",
            "Predictions the inference log could not keep (queue full or write error)",
            registry=r,
        )

    def names(self) -> set[str]:
        """Every sample name this registry exposes (histogram _bucket/_sum/_count and counter _total included)."""
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
        return {m.name + s for m in self.registry.collect() for s in suffixes.get(m.type, ("",))}

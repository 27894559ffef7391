"""`deploy_endpoint` on Databricks: the real databricks-sdk against a stub of the serving-endpoints API on 127.0.0.1.

The stub keeps endpoints in memory, answers as the REST API does (404 RESOURCE_DOES_NOT_EXIST, output-only
fields such as state and creator in GET answers) and records every request, so the test asserts the exact
bodies the SDK sends: create when missing, nothing when equal, a config update for a new version, and a
gateway update (disable, then re-enable elsewhere) when the inference table moves.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from credit_risk.runtime.config import Config
from credit_risk.serving.endpoint import inference_table, served_entity, sync_endpoint

ENDPOINT = "credit-risk-pd"
MODEL = "credit_risk_dev.jane_gold.credit_risk_pd"


class _ServingApi(BaseHTTPRequestHandler):
    """GET/POST /api/2.0/serving-endpoints[/{name}], PUT .../{name}/config and .../{name}/ai-gateway."""

    endpoints: dict[str, dict[str, Any]]
    requests: list[tuple[str, str, Any]]

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append((self.command, self.path, body))
        match = re.fullmatch(r"/api/2\.0/serving-endpoints(?:/([^/]+))?(?:/(config|ai-gateway))?", self.path)
        if not match:
            return self._answer(
                404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"no API at {self.path}"}
            )
        name, part = match.groups()
        if self.command == "POST" and name is None:
            entities = [
                {**e, "state": {"deployment": "DEPLOYMENT_READY"}, "creator": "jane@example.com"}
                for e in body["config"]["served_entities"]
            ]
            self.endpoints[body["name"]] = {
                "name": body["name"],
                "creator": "jane@example.com",
                "id": "e1",
                "config": {"served_entities": entities, "config_version": 1},
                "ai_gateway": body.get("ai_gateway", {}),
                "state": {"ready": "READY", "config_update": "NOT_UPDATING"},
            }
            return self._answer(200, self.endpoints[body["name"]])
        if name not in self.endpoints:
            return self._answer(
                404,
                {
                    "error_code": "RESOURCE_DOES_NOT_EXIST",
                    "message": f"Endpoint with name '{name}' does not exist.",
                },
            )
        endpoint = self.endpoints[name]
        if self.command == "GET" and part is None:
            return self._answer(200, endpoint)
        if self.command == "PUT" and part == "config":
            endpoint["config"] = {
                "served_entities": body["served_entities"],
                "config_version": endpoint["config"]["config_version"] + 1,
            }
            return self._answer(200, endpoint)
        if self.command == "PUT" and part == "ai-gateway":
            endpoint["ai_gateway"] = body
            return self._answer(200, body)
        return self._answer(405, {"error_code": "BAD_REQUEST", "message": f"{self.command} {self.path}"})

    do_GET = do_POST = do_PUT = _handle  # noqa: N815 - http.server's names


@pytest.fixture()
def workspace():
    """A WorkspaceClient (token auth) pointed at the stub; yields (client, stub state)."""
    from databricks.sdk import WorkspaceClient

    state = {"endpoints": {}, "requests": []}
    handler = type("Api", (_ServingApi,), state)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WorkspaceClient(host=f"http://127.0.0.1:{server.server_port}", token="dapi-test-token"), state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _writes(state: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """The requests that change something (the SDK's GETs and waits are reads)."""
    writes = [r for r in state["requests"] if r[0] != "GET"]
    state["requests"].clear()
    return writes


def test_deploy_creates_then_leaves_alone_then_updates_the_endpoint(workspace):
    w, state = workspace
    cfg = Config(catalog="credit_risk_dev", schema_prefix="jane_")
    entity = {
        "name": "credit_risk_pd-3",
        "entity_name": MODEL,
        "entity_version": "3",
        "workload_size": "Small",
        "scale_to_zero_enabled": True,
    }
    table = {
        "catalog_name": "credit_risk_dev",
        "schema_name": "jane_monitoring",
        "table_name_prefix": "credit_risk_pd",
        "enabled": True,
    }

    first = sync_endpoint(w, ENDPOINT, served_entity(MODEL, "3"), inference_table(cfg, ENDPOINT))
    assert first["action"] == "created"
    assert _writes(state) == [
        (
            "POST",
            "/api/2.0/serving-endpoints",
            {
                "name": ENDPOINT,
                "config": {"name": ENDPOINT, "served_entities": [entity]},
                "ai_gateway": {"inference_table_config": table},
            },
        )
    ]

    again = sync_endpoint(w, ENDPOINT, served_entity(MODEL, "3"), inference_table(cfg, ENDPOINT))
    assert again == {"action": "unchanged", "changed": []} and _writes(state) == []

    newer = sync_endpoint(w, ENDPOINT, served_entity(MODEL, "4"), inference_table(cfg, ENDPOINT))
    assert newer == {"action": "updated", "changed": ["config"]}
    assert _writes(state) == [
        (
            "PUT",
            f"/api/2.0/serving-endpoints/{ENDPOINT}/config",
            {"served_entities": [{**entity, "name": "credit_risk_pd-4", "entity_version": "4"}]},
        )
    ]

    # someone turned on usage tracking in the workspace: moving the inference table keeps it
    state["endpoints"][ENDPOINT]["ai_gateway"]["usage_tracking_config"] = {"enabled": True}
    moved = dataclasses.replace(cfg, schema_prefix="ops_")
    elsewhere = sync_endpoint(w, ENDPOINT, served_entity(MODEL, "4"), inference_table(moved, ENDPOINT))
    assert elsewhere == {"action": "updated", "changed": ["ai_gateway"]}
    assert _writes(state) == [
        (
            "PUT",
            f"/api/2.0/serving-endpoints/{ENDPOINT}/ai-gateway",
            {"inference_table_config": {"enabled": False}, "usage_tracking_config": {"enabled": True}},
        ),
        (
            "PUT",
            f"/api/2.0/serving-endpoints/{ENDPOINT}/ai-gateway",
            {
                "inference_table_config": {**table, "schema_name": "ops_monitoring"},
                "usage_tracking_config": {"enabled": True},
            },
        ),
    ]
    assert (
        sync_endpoint(w, ENDPOINT, served_entity(MODEL, "4"), inference_table(moved, ENDPOINT))["action"]
        == "unchanged"
    )


def test_deploy_refuses_a_spark_version(serving_registry, trained, workspace):
    """A version registered the old way (the Spark model) cannot be served without a JVM: a clear error, no request."""
    import mlflow

    from credit_risk.serving.endpoint import deploy_to_workspace

    w, state = workspace
    _, result = trained
    version = mlflow.register_model(
        f"runs:/{result['models']['gbt']['run_id']}/model", "spark_version_test"
    ).version
    with pytest.raises(RuntimeError, match="is a Spark model"):
        deploy_to_workspace(w, serving_registry["cfg"], ENDPOINT, "spark_version_test", str(version))
    assert not [r for r in state["requests"] if "serving-endpoints" in r[1]]
    champion = serving_registry["versions"]["logistic_regression"]
    done = deploy_to_workspace(
        w, serving_registry["cfg"], ENDPOINT, serving_registry["cfg"].model_name, champion
    )
    assert done["action"] == "created" and done["entity_version"] == champion

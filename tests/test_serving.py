"""The scoring API: predictions equal the portable model's, schema errors, auth, limits, metrics, reload,
the Model Serving protocol through the real databricks-sdk, reason codes, the inference log, the CLI."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from net_helpers import free_port

from credit_risk import features
from credit_risk.pipeline.register import CHAMPION
from credit_risk.serving.app import create_app
from credit_risk.serving.schema import applications_from_gold
from credit_risk.serving.settings import ServeSettings

MODEL = "serving_test_pd"
DOCKERFILE = Path(__file__).resolve().parents[1] / "docker" / "Dockerfile"


@pytest.fixture()
def registry(serving_registry):
    return serving_registry


def settings(tmp_path: Path, **kw) -> ServeSettings:
    base = {
        "model_name": MODEL,
        "reload_seconds": 0,
        "inference_log": str(tmp_path / "inference_log"),
        "drift_summary": str(tmp_path / "latest.json"),
    }
    return ServeSettings(**{**base, **kw})


@pytest.fixture()
def client(registry, tmp_path):
    with TestClient(create_app(settings(tmp_path))) as c:
        yield c


@pytest.fixture(scope="module")
def applications(gold):
    """Gold loans turned back into application JSON (the reverse of the API's derivations)."""
    rows = gold.where("dti_invalid = 0").limit(40).toPandas()
    rows = pd.concat([rows, gold.where("dti_invalid = 1").limit(2).toPandas()])
    out = applications_from_gold(rows)
    return out, rows


def test_predict_matches_the_portable_model_on_gold_rows(client, applications, registry):
    apps, rows = applications
    response = client.post("/predict", json=apps)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {
        "name": MODEL,
        "version": str(registry["versions"]["logistic_regression"]),
        "alias": "champion",
        "model_type": "logistic_regression",
    }
    expected = client.app.state.store.current.scorer.model.predict_pd(rows[features.FEATURES])
    got = np.array([p["pd"] for p in body["predictions"]])
    assert np.abs(got - expected).max() < 1e-9  # the API's derivations equal gold's
    first = body["predictions"][0]
    assert first["loan_id"] == apps[0]["loan_id"] and first["decision"] in ("approve", "decline")
    assert (
        first["score_band"] in "ABCDEF" and first["risk_segment"] in (1, 2, 3) and 300 < first["score"] < 900
    )
    assert all((p["decision"] == "decline") == (p["pd"] >= 0.2) for p in body["predictions"])
    single = client.post("/predict", json=apps[0]).json()["predictions"]
    assert len(single) == 1 and single[0]["pd"] == pytest.approx(first["pd"], abs=1e-12)


def test_reason_codes_move_the_pd_the_way_they_claim(client, applications):
    apps, _ = applications
    scorer = client.app.state.store.current.scorer
    checked = 0
    for answer, app in zip(
        client.post("/predict", json=apps[:20]).json()["predictions"], apps[:20], strict=True
    ):
        from credit_risk.model.scoring import _reference_row
        from credit_risk.serving.schema import LoanApplication, to_features

        cols = to_features([LoanApplication(**app).model_dump()], scorer.known_titles)
        reference = _reference_row(scorer.model).iloc[0]
        for reason in answer["reason_codes"]:
            assert reason["pd_added"] > 0
            changed = {**cols, reason["feature"]: [reference[reason["feature"]]]}
            pd_without = scorer.model.predict_pd(changed)[0]
            assert answer["pd"] - pd_without == pytest.approx(reason["pd_added"], abs=1e-6)
            checked += 1
        if answer["reason_codes"]:
            adds = [r["pd_added"] for r in answer["reason_codes"]]
            assert adds == sorted(adds, reverse=True)
    assert checked >= 10


def test_schema_errors_name_the_fields(client, applications):
    good = dict(applications[0][0])
    bad = {**good, "anual_inc": 5}
    r = client.post("/predict", json=bad)
    assert r.status_code == 422 and "anual_inc" in r.json()["message"]
    r = client.post("/predict", json={**good, "int_rate": 95, "term_months": 48, "grade": "Z"})
    fields = {e["field"] for e in r.json()["errors"]}
    assert r.status_code == 422 and {"int_rate", "term_months", "grade"} <= {f.split(".")[-1] for f in fields}
    assert "95" not in r.text  # values are not echoed back
    r = client.post("/predict", json={k: v for k, v in good.items() if k != "loan_amnt"})
    assert r.status_code == 422 and "loan_amnt" in r.text
    assert (
        client.post(
            "/predict", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )


def test_auth_limits_and_open_routes(registry, applications, tmp_path):
    good = applications[0][0]
    app = create_app(settings(tmp_path, api_token="s3cret-token", max_body_bytes=20_000, max_batch=5))
    with TestClient(app) as c:
        assert c.post("/predict", json=good).status_code == 401
        assert c.post("/predict", json=good, headers={"Authorization": "Bearer wrong"}).status_code == 401
        auth = {"Authorization": "Bearer s3cret-token"}
        assert c.post("/predict", json=good, headers=auth).status_code == 200
        assert c.get("/health").status_code == 200 and c.get("/metrics").status_code == 200
        assert c.post("/predict", json=[good] * 6, headers=auth).status_code == 413  # batch limit
        big = c.post(
            "/predict",
            content=b"[" + b" " * 30_000 + b"]",
            headers={**auth, "content-type": "application/json"},
        )
        assert big.status_code == 413 and "20000" in big.json()["message"]

        def chunks():
            yield b"["
            for _ in range(100):
                yield b" " * 1000
            yield b"]"

        chunked = c.post("/predict", content=chunks(), headers={**auth, "content-type": "application/json"})
        assert chunked.status_code == 413


def test_metrics_count_requests_and_describe_the_model(client, applications, tmp_path):
    apps, _ = applications
    client.post("/predict", json=apps[:5])
    client.post("/predict", json={"bad": 1})
    (tmp_path / "latest.json").write_text('{"drift_share": 0.25, "score_psi": 0.07}')
    text = client.get("/metrics").text
    assert 'credit_risk_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'credit_risk_requests_total{method="POST",route="/predict",status="422"} 1.0' in text
    assert "credit_risk_pd_count 5.0" in text and "credit_risk_model_loaded 1.0" in text
    assert 'credit_risk_model_info{alias="champion",model_name="serving_test_pd"' in text
    assert "credit_risk_feature_drift_share 0.25" in text and "credit_risk_score_psi 0.07" in text
    assert 'credit_risk_request_latency_seconds_bucket{le="0.005",route="/predict"}' in text


def test_hot_reload_when_the_alias_moves_without_failing_requests(registry, applications, tmp_path):
    from mlflow import MlflowClient

    apps, _ = applications
    versions = registry["versions"]
    app = create_app(settings(tmp_path, reload_seconds=0.2))
    statuses, seen, stop = [], set(), threading.Event()
    try:
        with TestClient(app) as c:

            def hammer():
                while not stop.is_set():
                    r = c.post("/predict", json=apps[:3])
                    statuses.append(r.status_code)
                    seen.add(r.json()["model"]["version"] if r.status_code == 200 else None)

            threads = [threading.Thread(target=hammer) for _ in range(3)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            MlflowClient().set_registered_model_alias(MODEL, CHAMPION, versions["gbt"])
            deadline = time.time() + 20
            while (
                c.get("/ready").json()["model"]["version"] != str(versions["gbt"]) and time.time() < deadline
            ):
                time.sleep(0.1)
            time.sleep(0.5)
            stop.set()
            for t in threads:
                t.join()
            assert c.get("/ready").json()["model"]["model_type"] == "gbt"
            assert 'credit_risk_model_reloads_total{outcome="loaded"} 2.0' in c.get("/metrics").text
    finally:
        stop.set()
        MlflowClient().set_registered_model_alias(MODEL, CHAMPION, versions["logistic_regression"])
    assert statuses and set(statuses) == {200}
    assert seen == {str(versions["logistic_regression"]), str(versions["gbt"])}


def test_not_ready_without_a_champion(registry, tmp_path):
    with TestClient(create_app(settings(tmp_path, model_name="no_such_model"))) as c:
        assert c.get("/health").status_code == 200
        ready = c.get("/ready")
        assert ready.status_code == 503 and "no_such_model" in ready.json()["message"]
        assert c.post("/predict", json={}).status_code in (422, 503)
        assert "credit_risk_model_loaded 0.0" in c.get("/metrics").text


def test_serving_protocol_formats(client, applications):
    apps, _ = applications
    records = [{k: v for k, v in a.items() if k != "loan_id"} for a in apps[:4]]
    expected = [p["pd"] for p in client.post("/predict", json=records).json()["predictions"]]
    columns = sorted({k for r in records for k in r})
    split = {"dataframe_split": {"columns": columns, "data": [[r.get(c) for c in columns] for r in records]}}
    for body in (
        {"dataframe_records": records},
        split,
        {"inputs": records},
        {"inputs": {c: [r.get(c) for r in records] for c in columns}},
    ):
        r = client.post("/serving-endpoints/credit-risk-pd/invocations", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == pytest.approx(expected, abs=1e-12)
    bad = client.post("/serving-endpoints/credit-risk-pd/invocations", json={"dataframe_records": [{"x": 1}]})
    assert bad.status_code == 400 and "x" in bad.json()["message"]
    both = client.post(
        "/serving-endpoints/credit-risk-pd/invocations", json={"dataframe_records": [], "inputs": []}
    )
    assert both.status_code == 400 and "exactly one" in both.json()["message"]
    assert client.post("/serving-endpoints/other/invocations", json={"inputs": records}).status_code == 404
    assert client.get("/serving-endpoints/credit-risk-pd").json()["state"]["ready"] == "READY"


def test_databricks_sdk_queries_the_endpoint(registry, applications, tmp_path):
    import uvicorn
    from databricks.sdk import WorkspaceClient

    apps, _ = applications
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings(tmp_path, api_token="sdk-token")),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        w = WorkspaceClient(host=f"http://127.0.0.1:{port}", token="sdk-token", auth_type="pat")
        records = [{k: v for k, v in a.items() if k != "loan_id"} for a in apps[:3]]
        answer = w.serving_endpoints.query("credit-risk-pd", dataframe_records=records)
        assert len(answer.predictions) == 3 and all(0 < p < 1 for p in answer.predictions)
        endpoint = w.serving_endpoints.get("credit-risk-pd")
        assert endpoint.name == "credit-risk-pd" and endpoint.state.ready.value == "READY"
        assert endpoint.config.served_entities[0].entity_name == MODEL
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_inference_log_lands_in_delta_and_logs_hold_no_applicant_data(
    registry, applications, tmp_path, caplog
):
    from deltalake import DeltaTable

    apps, _ = applications
    caplog.set_level(logging.INFO, logger="credit_risk.serving")
    with TestClient(create_app(settings(tmp_path))) as c:
        for i in range(0, 12, 3):
            assert c.post("/predict", json=apps[i : i + 3]).status_code == 200
    table = DeltaTable(str(tmp_path / "inference_log")).to_pandas()  # flushed on shutdown
    assert len(table) == 12 and table["model_version"].nunique() == 1 and (table["source"] == "api").all()
    assert features.KEY not in table.columns and table["feature_hash"].str.len().eq(16).all()
    assert set(features.FEATURES) <= set(table.columns)
    logged = " ".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "request" in logged
    for secret in (apps[0]["loan_id"], str(apps[0]["annual_inc"])):
        assert secret not in logged


def test_serving_needs_no_spark():
    """The API and the CLI import with pyspark made unimportable: the image ships without Spark or Java."""
    code = (
        "import sys; sys.modules['pyspark'] = None; sys.modules['delta'] = None\n"
        "from credit_risk.serving.app import create_app\nfrom credit_risk.cli import build_parser\nbuild_parser()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_credit_risk_serve_command_starts_answers_and_stops_gracefully(registry, applications, tmp_path):
    apps, _ = applications
    port = free_port()
    env = {
        **os.environ,
        "CREDIT_RISK_TRACKING_URI": registry["cfg"].tracking_uri,
        "CREDIT_RISK_MODEL_NAME": MODEL,
        "API_TOKEN": "cli-token",
        "CREDIT_RISK_INFERENCE_LOG": str(tmp_path / "log"),
    }
    # the image's own entry command (docker/Dockerfile CMD), run outside docker on a free port
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), re.M).group(1))
    assert cmd[:2] == ["credit-risk", "serve"]
    cmd = [str(Path(sys.executable).parent / cmd[0]), *cmd[1:]]
    cmd[cmd.index("--port") + 1] = str(port)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, ready = time.time() + 60, None
        while time.time() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200
        r = httpx.post(
            f"http://127.0.0.1:{port}/predict", json=apps[0], headers={"Authorization": "Bearer cli-token"}
        )
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    # uvicorn drains requests, runs the app's shutdown, then re-raises SIGTERM (exit status -15)
    assert proc.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in out, out
    from deltalake import DeltaTable

    assert (
        len(DeltaTable(str(tmp_path / "log")).to_pandas()) == 1
    )  # the inference log was flushed on the way out
    assert "cli-token" not in out  # the token is never logged
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines and all(line.endswith("}") for line in lines)  # structured JSON logs


def test_prometheus_scrapes_the_api_and_answers_a_query(registry, applications, tmp_path):
    """The real Prometheus (Debian package) on 127.0.0.1 scrapes the running API; the metric comes back."""
    import shutil

    import uvicorn

    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip(
            "prometheus not installed (Debian: apt-get install prometheus; `make test` does it when root)"
        )
    apps, _ = applications
    api_port, prom_port = free_port(), free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings(tmp_path)), host="127.0.0.1", port=api_port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: credit-risk-api
    static_configs: [{{targets: ["127.0.0.1:{api_port}"]}}]
""")
    prom = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        assert httpx.post(f"http://127.0.0.1:{api_port}/predict", json=apps[:7]).status_code == 200
        value = None
        while time.time() < deadline and value is None:
            time.sleep(0.5)
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{prom_port}/api/v1/query",
                    params={"query": "credit_risk_pd_count"},
                    timeout=2,
                ).json()
            except (httpx.TransportError, ValueError):
                continue
            if answer.get("data", {}).get("result"):
                value = float(answer["data"]["result"][0]["value"][1])
        assert value == 7.0
        up = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/query", params={"query": "up"}).json()
        assert up["data"]["result"][0]["value"][1] == "1"
    finally:
        prom.terminate()
        prom.wait(timeout=20)
        server.should_exit = True
        thread.join(timeout=10)

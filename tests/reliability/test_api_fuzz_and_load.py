"""API fuzz (10,000 generated requests from the OpenAPI schema, zero 5xx) and a bounded load test."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from net_helpers import free_port

from credit_risk.serving.app import create_app
from credit_risk.serving.settings import ServeSettings

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
SENT = {"n": 0}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def client(_serving_registry_once, tmp_path_factory):
    from credit_risk.runtime.tracking import configure_mlflow

    configure_mlflow(_serving_registry_once["cfg"])  # the app loads its champion from the current store
    tmp = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        ServeSettings(
            model_name=_serving_registry_once["cfg"].model_name,
            reload_seconds=0,
            inference_log=str(tmp / "log"),
            drift_summary="",
            max_batch=50,
        )
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def schema(client):
    return client.app.openapi()["components"]["schemas"]["LoanApplication"]


def valid_value(prop: dict) -> st.SearchStrategy:
    """Values the schema allows for one property (anyOf / enum / const / number bounds / string pattern)."""
    if "anyOf" in prop:
        return st.one_of([valid_value(p) for p in prop["anyOf"]])
    if "enum" in prop:
        return st.sampled_from(prop["enum"])
    if "const" in prop:
        return st.just(prop["const"])
    kind = prop.get("type")
    if kind == "null":
        return st.none()
    if kind in ("number", "integer"):
        lo = prop.get("minimum", prop.get("exclusiveMinimum", -1e6))
        hi = prop.get("maximum", prop.get("exclusiveMaximum", 1e6))
        return st.floats(
            lo, hi, exclude_min="exclusiveMinimum" in prop, exclude_max="exclusiveMaximum" in prop
        )
    if kind == "string":
        if "pattern" in prop:
            return st.from_regex(prop["pattern"], fullmatch=True)
        return st.text(max_size=prop.get("maxLength", 50))
    return JSON


EDGE = st.sampled_from([0, -1, 1e308, -1e308, 10**40, -0.0, True, "", "NaN", "1e999", 5e-324])


VARIANTS = 4  # requests per drawn application: a full draw of every field costs more than sending a request


def applications(schema: dict) -> tuple[st.SearchStrategy, Callable[[dict], st.SearchStrategy]]:
    """A schema-valid application, and its variants: 0-3 mutations (a field dropped, junk, an edge number, another
    valid value, an unknown key) of a given one.

    The strategies are built once per schema: built per example they cost as much as the requests.
    """
    props, required = schema["properties"], set(schema.get("required", []))
    names = sorted(props)
    fields = {n: valid_value(props[n]) for n in names}
    valid = st.fixed_dictionaries(
        {n: fields[n] for n in names if n in required},
        optional={n: fields[n] for n in names if n not in required},
    )

    @st.composite
    def variant(draw, base: dict) -> dict:
        app = dict(base)
        for _ in range(draw(st.integers(0, 3))):
            name = draw(st.sampled_from(names))
            op = draw(st.sampled_from(["drop", "junk", "edge", "valid", "extra"]))
            if op == "drop":
                app.pop(name, None)
            elif op == "junk":
                app[name] = draw(JSON)
            elif op == "edge":
                app[name] = draw(EDGE)
            elif op == "valid":
                app[name] = draw(fields[name])
            else:
                app[draw(st.text(min_size=1, max_size=12))] = draw(JSON)
        return app

    return valid, variant


def post(client: TestClient, url: str, **kw) -> httpx.Response:
    if "json" in kw:  # Python's encoder: NaN and Infinity go out as bare tokens, as some clients send them
        kw = {"content": json.dumps(kw.pop("json")), "headers": {"content-type": "application/json"}, **kw}
    SENT["n"] += 1
    response = client.post(url, **kw)
    assert response.status_code < 500, (url, kw, response.text)
    return response


def test_fuzz_predict(client, schema):
    valid, variant = applications(schema)

    @settings(FUZZ, max_examples=1050)
    @given(valid, st.data())
    def run(base, data):
        for _ in range(VARIANTS):
            one = variant(base)
            body = data.draw(st.one_of(one, st.lists(one, max_size=4), JSON))
            response = post(client, "/predict", json=body)
            if response.status_code == 200:
                for answer in response.json()["predictions"]:
                    assert 0 <= answer["pd"] <= 1 and math.isfinite(answer["pd"])

    run()


def test_fuzz_serving_protocol(client, schema):
    valid, variant = applications(schema)

    @st.composite
    def bodies(draw, base: dict):
        shape = draw(
            st.sampled_from(
                ["records", "split", "inputs", "inputs_columns", "junk_split", "junk_instances", "junk"]
            )
        )
        if shape.startswith("junk"):
            junk = draw(JSON)
            return {"junk_split": {"dataframe_split": junk}, "junk_instances": {"instances": junk}}.get(
                shape, junk
            )
        rows = draw(st.lists(variant(base), max_size=3))
        columns = sorted({k for r in rows for k in r})
        if shape == "records":
            return {"dataframe_records": rows}
        if shape == "split":
            return {
                "dataframe_split": {"columns": columns, "data": [[r.get(c) for c in columns] for r in rows]}
            }
        if shape == "inputs":
            return {"inputs": rows}
        return {"inputs": {c: [r.get(c) for r in rows] for c in columns}}

    @settings(FUZZ, max_examples=800)
    @given(valid, st.data())
    def run(base, data):
        for _ in range(VARIANTS):
            response = post(
                client, "/serving-endpoints/credit-risk-pd/invocations", json=data.draw(bodies(base))
            )
            if response.status_code == 200:
                assert all(0 <= p <= 1 for p in response.json()["predictions"])

    run()


def test_fuzz_raw_bodies_paths_and_headers(client):
    @settings(FUZZ, max_examples=3000)
    @given(
        st.binary(max_size=300),
        st.sampled_from(
            [
                "/predict",
                "/serving-endpoints/credit-risk-pd/invocations",
                "/serving-endpoints/x%00y/invocations",
                "/predict?explain=maybe",
            ]
        ),
        st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]),
    )
    def run(raw, url, content_type):
        post(client, url, content=raw, headers={"content-type": content_type} if content_type else {})

    run()


def test_fuzz_sent_at_least_10000_requests():
    assert SENT["n"] >= 10_000, SENT["n"]


def test_bounded_load_against_127_0_0_1(serving_registry, tmp_path):
    """8 clients for a few seconds (60 with LOAD_SECONDS=60; `make load-test`): zero errors, it stops itself."""
    sys.path.insert(0, str(ROOT / "bench"))
    from load import EXAMPLE, run_load

    with pytest.raises(ValueError, match="127.0.0.1 only"):
        run_load("http://example.com/predict", [EXAMPLE], 1, 1, 1)
    port = free_port()
    env = {
        **os.environ,
        "CREDIT_RISK_TRACKING_URI": serving_registry["cfg"].tracking_uri,
        "CREDIT_RISK_MODEL_NAME": serving_registry["cfg"].model_name,
        "CREDIT_RISK_INFERENCE_LOG": str(tmp_path / "log"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "credit_risk.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        seconds = float(os.environ.get("LOAD_SECONDS", "5"))
        started = time.perf_counter()
        result = run_load(
            f"http://127.0.0.1:{port}/predict", [EXAMPLE], clients=8, seconds=seconds, max_requests=100_000
        )
        assert time.perf_counter() - started < seconds + 15  # it stops by itself
        assert result["errors"] == 0 and result["requests"] > 50, result
        print(
            f"\nload: 8 clients, {result['seconds']:.1f} s, {result['requests']} requests, "
            f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, {result['rps']:.0f} req/s"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)

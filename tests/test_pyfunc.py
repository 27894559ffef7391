"""The registered version is a JVM-free pyfunc: `mlflow models serve` answers without Java, PDs within 1e-6 of Spark.

Reuses the shared trained models and the 10,000 parity rows of the portable tests (nothing is trained here);
one `mlflow models serve` process on 127.0.0.1, bounded in time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from net_helpers import free_port, jvm_free_env

from credit_risk import features
from credit_risk.calibration import run_calibration
from credit_risk.model.portable import PORTABLE_ARTIFACT
from credit_risk.model.pyfunc_model import input_columns, log_pyfunc
from credit_risk.pipeline.train_supervised import MODELS, pd_column

TOLERANCE = 1e-6


def spark_pds(run: dict, rows) -> pd.Series:
    """Spark's PDs of the parity rows under a training run's Spark model, by loan id."""
    model = mlflow.spark.load_model(f"runs:/{run['run_id']}/model")
    return (
        pd_column(model.transform(rows), run["odds_factor"], calibration=run_calibration(run["run_id"]))
        .select(features.KEY, "pd")
        .toPandas()
        .set_index(features.KEY)["pd"]
    )


def json_records(frame: pd.DataFrame) -> list[list]:
    """Rows as JSON-ready lists, NaN as null, floats as Python floats (json.dumps writes them exactly)."""
    return frame.astype(object).where(frame.notna(), None).to_numpy().tolist()


@pytest.mark.parametrize("name", MODELS)
def test_pyfunc_of_every_model_kind_matches_spark_and_has_no_spark_dependency(
    name, trained, scoring_rows, tmp_path
):
    _, result = trained
    run = result["models"][name]
    info = log_pyfunc(run["run_id"], decision_threshold=0.2)
    document = mlflow.artifacts.load_dict(f"runs:/{run['run_id']}/{PORTABLE_ARTIFACT}")
    columns = list(input_columns(document))
    assert [
        c.name for c in info.signature.inputs.inputs
    ] == columns  # read from the export, not from a constant
    assert set(columns) <= set(features.FEATURES) and [c.name for c in info.signature.outputs.inputs] == [
        "pd",
        "decision",
        "score",
    ]
    local = mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path))
    assert set(info.flavors) == {"python_function"}
    requirements = Path(local, "requirements.txt").read_text().split()
    assert sorted(r.split("==")[0] for r in requirements) == ["mlflow", "numpy", "pandas"]
    assert Path(local, "code", "credit_risk", "model", "portable.py").is_file()

    frame = scoring_rows.toPandas()
    answer = mlflow.pyfunc.load_model(info.model_uri).predict(frame[columns])
    theirs = spark_pds(run, scoring_rows)
    ours = pd.Series(answer["pd"].to_numpy(), index=frame[features.KEY]).loc[theirs.index]
    diff = np.abs(ours.to_numpy() - theirs.to_numpy())
    assert len(diff) == 10_000 and theirs.std() > 0.01
    assert diff.max() <= TOLERANCE, f"{name}: max |PD difference| {diff.max():.3g}"
    assert ((answer["pd"] >= 0.2) == (answer["decision"] == "decline")).all()
    by_pd = np.argsort(answer["pd"].to_numpy())
    assert np.all(np.diff(answer["score"].to_numpy()[by_pd]) <= 0)  # a higher PD never scores more points


def test_mlflow_models_serve_of_the_champion_answers_without_java(
    serving_registry, trained, scoring_rows, tmp_path
):
    """`mlflow models serve -m models:/<name>@champion`, Java off PATH, pyspark and the installed package blocked."""
    cfg = serving_registry["cfg"]
    _, result = trained
    env = jvm_free_env({**os.environ, "MLFLOW_TRACKING_URI": cfg.mlflow_tracking_uri}, tmp_path)
    assert shutil.which("java", path=env["PATH"]) is None and "JAVA_HOME" not in env
    port = free_port()
    with open(tmp_path / "serve.log", "w") as log:
        uri = f"models:/{cfg.model_name}@champion"
        serve = [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri, "--env-manager", "local"]
        server = subprocess.Popen(
            [*serve, "-p", str(port), "-h", "127.0.0.1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.time() + 180
        while True:
            assert server.poll() is None, "server exited: " + (tmp_path / "serve.log").read_text()[-3000:]
            assert time.time() < deadline, (
                "server not ready after 180 s: " + (tmp_path / "serve.log").read_text()[-3000:]
            )
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        frame = scoring_rows.toPandas()
        columns = [c for c in features.FEATURES if c in frame.columns]
        body = json.dumps({"dataframe_split": {"columns": columns, "data": json_records(frame[columns])}})
        response = httpx.post(
            f"http://127.0.0.1:{port}/invocations",
            content=body,
            headers={"content-type": "application/json"},
            timeout=120,
        )
        assert response.status_code == 200, response.text[:2000]
        predictions = pd.DataFrame(response.json()["predictions"])
        theirs = spark_pds(result["models"]["logistic_regression"], scoring_rows)
        ours = pd.Series(predictions["pd"].to_numpy(), index=frame[features.KEY]).loc[theirs.index]
        diff = np.abs(ours.to_numpy() - theirs.to_numpy())
        assert len(diff) == 10_000 and diff.max() <= TOLERANCE, (
            f"served PDs differ from Spark's by {diff.max():.3g}"
        )
        assert set(predictions["decision"]) <= {"approve", "decline"}
        # a request without a column the model reads is refused, and the answer names it
        short = httpx.post(
            f"http://127.0.0.1:{port}/invocations",
            timeout=30,
            json={
                "dataframe_records": [
                    {
                        c: v
                        for c, v in zip(columns, json_records(frame[columns])[0], strict=True)
                        if c != "int_rate"
                    }
                ]
            },
        )
        assert short.status_code == 400 and "int_rate" in short.text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    assert "blocked" not in (tmp_path / "serve.log").read_text()  # nothing tried to import pyspark

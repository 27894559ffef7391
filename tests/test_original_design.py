"""The original design's interface beside the bundle (issue 23): `python -m src.agents.*`, its files, `src/api.py`,
`src/utils`, the workflows, `pytest --nbmake`, `make notebook`, the compose stack's served artifacts.

The step test runs the job's tasks through the real runner (a notebook kernel with its own JVM): make test runs
this file in the other Delta mode's lane only (OTHER_MODE_ONLY_TESTS), as that mode's run of the tasks from bronze
to register; the default mode runs them in the notebooks and the cohort job.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from job_helpers import SMALL_MODELS, own_store_env

from credit_risk.tables import GOLD_FEATURES, GOLD_SPLITS

ROOT = Path(__file__).resolve().parents[1]
# The notebooks' 3,000 loans (the local target's default is 30,000, `make run`'s size) and small models.
SMALL = [arg for k, v in {"rows": "3000", **SMALL_MODELS}.items() for arg in ("--var", f"{k}={v}")]


# --- the stratified split as the design states it ------------------------------------------------------------


def test_stratified_split_shares_are_exact_per_stratum_and_seeded(spark):
    """80/20 train/test: round(0.2 * n) of each stratum's n loans in test; validation is 0.2 of the 80."""
    import dataclasses

    from pyspark.sql import functions as F

    from credit_risk.pipeline.split import make_splits, stratified_split
    from credit_risk.runtime.config import load_config

    sizes = {(0, 2015): 7, (1, 2015): 13, (0, 2016): 52, (1, 2016): 3, (0, 2017): 1}
    rows = [(f"{flag}-{year}-{i}", flag, year) for (flag, year), n in sizes.items() for i in range(n)]
    df = spark.createDataFrame(rows, "loan_id string, default_flag int, issue_year int")
    train, test = stratified_split(df, ["default_flag", "issue_year"], 0.2, 42)
    counts = {(r[0], r[1]): r[2] for r in test.groupBy("default_flag", "issue_year").count().collect()}
    assert counts == {
        k: round(0.2 * n) for k, n in sizes.items() if round(0.2 * n)
    }  # (1, 2017) rounds to none
    assert train.count() + test.count() == len(rows)
    assert not {r[0] for r in train.select("loan_id").collect()} & {
        r[0] for r in test.select("loan_id").collect()
    }
    again = {
        r[0]
        for r in stratified_split(df, ["default_flag", "issue_year"], 0.2, 42)[1].select("loan_id").collect()
    }
    other = {
        r[0]
        for r in stratified_split(df, ["default_flag", "issue_year"], 0.2, 43)[1].select("loan_id").collect()
    }
    assert again == {r[0] for r in test.select("loan_id").collect()} and other != again
    # the job's stratified split: test 0.2 of each (default_flag, issue_year) stratum, valid 0.2 of the rest
    splits = make_splits(
        df, dataclasses.replace(load_config(), split_kind="stratified", test_frac=0.2, seed=42)
    )
    got = {
        (r[0], r[1], r[2]): r[3]
        for r in splits.groupBy("default_flag", "issue_year", "split").count().collect()
    }
    for (flag, year), n in sizes.items():
        n_test = round(0.2 * n)
        n_valid = round(0.2 * (n - n_test))
        assert got.get((flag, year, "test"), 0) == n_test and got.get((flag, year, "valid"), 0) == n_valid
        assert got.get((flag, year, "train"), 0) == n - n_test - n_valid
    assert splits.where(F.col("split").isNull()).count() == 0


# --- the seven steps ---------------------------------------------------------------------------------------------


def _delta_rows(path: Path, version: int):
    from deltalake import DeltaTable

    return DeltaTable(str(path), version=version).to_pyarrow_table()


@pytest.fixture(scope="module")
def design_run(tmp_path_factory):
    """The steps' `main()` in one process and one kernel (as one job run shares one), on the embedded default.

    First the upstream messages on an empty project, then `prep` with nothing generated (the bronze task writes
    the default exports), then the design's order: fetch (the same exports), prep again, split, train_sup,
    train_unsup, evaluate, register. Yields the project home and everything the steps printed.
    """
    import contextlib
    import io

    from src.agents import _run, evaluate, fetch, prep, register, split, train_sup, train_unsup

    home = tmp_path_factory.mktemp("design") / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("CREDIT_RISK_HOME", str(home))
    mp.delenv("CREDIT_RISK_EXTRA", raising=False)
    out, err, codes = io.StringIO(), io.StringIO(), {}
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        codes["split before prep"] = split.main([])
        codes["evaluate before split"] = evaluate.main([])
        generated_before = (home / "data").exists()
        with _run.one_kernel():
            codes["prep on nothing"] = prep.main(SMALL)
            for step in (fetch, prep, split, train_sup, train_unsup, evaluate, register):
                codes[step.__name__.rsplit(".", 1)[1]] = step.main(SMALL)
                if codes[step.__name__.rsplit(".", 1)[1]]:
                    break
    sys.stdout.write(out.getvalue()[-4000:])
    yield {
        "home": home,
        "out": out.getvalue(),
        "err": err.getvalue(),
        "codes": codes,
        "generated_before": generated_before,
    }
    mp.undo()


@pytest.mark.slow
def test_the_seven_steps_in_order_write_the_tables_runs_files_and_models(design_run):
    import pyarrow.parquet as pq
    from mlflow import MlflowClient

    home, codes, out, err = design_run["home"], design_run["codes"], design_run["out"], design_run["err"]
    assert codes.pop("split before prep") == 2 and codes.pop("evaluate before split") == 2
    assert (
        f"python -m src.agents.split: error: no {GOLD_FEATURES}: run `python -m src.agents.prep` first" in err
    )
    assert (
        f"python -m src.agents.evaluate: error: no {GOLD_SPLITS}: run `python -m src.agents.split` first"
        in err
    )
    assert not design_run["generated_before"]
    assert codes == {
        "prep on nothing": 0,
        "fetch": 0,
        "prep": 0,
        "split": 0,
        "train_sup": 0,
        "train_unsup": 0,
        "evaluate": 0,
        "register": 0,
    }, err[-3000:]
    raw = sorted((home / "data" / "raw").glob("generated_kaggle_3000_seed42/*.csv*"))
    assert raw and all(
        f"file   {p}" in out for p in raw
    )  # the exports the bronze task generated, named by fetch
    assert re.search(
        r"champion: credit_risk_pd version \d+ \(\w+\), test AUC 0\.\d{4}, KS 0\.\d{4}, ECE 0\.\d{4}", out
    )
    assert f"table  credit_risk.{GOLD_SPLITS}" in out and "[train_supervised] succeeded" in out

    lake = home / "lakehouse" / "credit_risk"
    for table in (
        "bronze/loans_raw",
        "silver/loans",
        "gold/loan_features",
        "gold/loan_splits",
        "gold/risk_segments",
    ):
        assert (lake / table / "_delta_log").is_dir(), table
    values = {
        t: json.loads((home / "runs/credit_risk_pipeline/agents/task_values" / f"{t}.json").read_text())
        for t in ("gold_features", "split", "train_supervised", "evaluate", "register")
    }
    assert values["register"]["champion"] is True

    # data/processed: the gold table and the split, read back, against the Delta versions the tasks published
    processed = home / "data" / "processed"
    gold = _delta_rows(lake / "gold/loan_features", values["gold_features"]["gold_version"])
    m = pq.read_table(processed / "M.parquet")
    assert m.num_rows == gold.num_rows and set(m.column("loan_id").to_pylist()) == set(
        gold.column("loan_id").to_pylist()
    )
    sample = pq.read_table(processed / "sample_M.parquet")
    assert 0 < sample.num_rows < m.num_rows and set(sample.column("loan_id").to_pylist()) <= set(
        m.column("loan_id").to_pylist()
    )
    splits = _delta_rows(lake / "gold/loan_splits", values["split"]["splits_version"]).to_pandas()
    train = pq.read_table(processed / "train.parquet").to_pandas()
    test = pq.read_table(processed / "test.parquet").to_pandas()
    assert sorted(test["loan_id"]) == sorted(splits.loc[splits["split"] == "test", "loan_id"])
    assert sorted(train["loan_id"]) == sorted(splits.loc[splits["split"] != "test", "loan_id"])
    assert set(train["split"]) == {"train", "valid"} and not set(train["loan_id"]) & set(test["loan_id"])

    # the MLflow champion and its export in models/
    client = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    champion = client.get_model_version_by_alias("credit_risk_pd", "champion")
    assert champion.run_id == values["train_supervised"]["best_run_id"]
    meta = json.loads((home / "models/champion/metadata.json").read_text())
    assert (meta["name"], meta["version"], meta["alias"], meta["run_id"]) == (
        "credit_risk_pd",
        int(champion.version),
        "champion",
        champion.run_id,
    )
    assert meta["metrics"]["test_auc"] == pytest.approx(values["evaluate"]["test_auc"])
    assert {"test_ks", "test_ece", "val_auc"} <= set(meta["metrics"])
    assert meta["delta_versions"] == {
        GOLD_FEATURES: values["gold_features"]["gold_version"],
        GOLD_SPLITS: values["split"]["splits_version"],
    }

    # `make run`'s last lines read the same champion back
    from credit_risk.cli.bundle import champion_lines
    from credit_risk.runtime.config import load_config

    lines = champion_lines(load_config())
    assert lines[0].startswith(f"champion:      credit_risk_pd version {champion.version} (")
    assert f"AUC {meta['metrics']['test_auc']:.4f}, KS {meta['metrics']['test_ks']:.4f}" in lines[0]
    assert "credit-risk ui" in lines[1] and "credit-risk serve" in lines[2]
    assert (
        lines[3].endswith(f"{champion.run_id}/evaluation.md")
        and Path(lines[3].split("report: ")[1]).is_file()
    )

    # src.api scores with the registry's champion as the exported document does
    import pandas as pd

    import src.api as api
    from credit_risk.model.portable import PortableModel
    from credit_risk.serving.schema import applications_from_gold, to_features

    loaded = api.load_model()
    assert loaded.version == str(champion.version)
    applications = applications_from_gold(test.head(20))
    answers = api.predict(applications, model=loaded)
    exported = PortableModel.load(home / "models/champion/model.json")
    expected = exported.predict_pd(pd.DataFrame(to_features(applications, loaded.scorer.known_titles)))
    assert [a["pd"] for a in answers] == pytest.approx(list(expected), rel=1e-4, abs=1e-6)


# --- the compose stack's MLflow server: served artifacts, and the API's model URI through it -------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_argv(command: list[str], tmp: Path, port: int) -> list[str]:
    """The compose file's `mlflow server` command with this machine's host, port and folders in place of the
    container's (every other option kept as written)."""
    local = {
        "--host": "127.0.0.1",
        "--port": str(port),
        "--backend-store-uri": f"sqlite:///{tmp / 'mlflow.db'}",
        "--artifacts-destination": str(tmp / "artifacts"),
    }
    argv, i = [str(Path(sys.executable).parent / "mlflow"), "server"], 2
    while i < len(command):
        option = command[i]
        takes_value = i + 1 < len(command) and not str(command[i + 1]).startswith("--")
        argv.append(option)
        if takes_value:
            argv.append(local.get(option, str(command[i + 1])))
            i += 1
        i += 1
    return argv


@pytest.mark.slow
def test_compose_mlflow_serves_artifacts_and_the_api_loads_the_champion_through_it(design_run, tmp_path):
    import urllib.request

    import mlflow
    import pandas as pd
    import pyarrow.parquet as pq
    import yaml
    from mlflow import MlflowClient

    from credit_risk.model.portable import PORTABLE_ARTIFACT, PortableModel
    from credit_risk.serving.model_store import ModelStore
    from credit_risk.serving.schema import applications_from_gold, to_features

    assert yaml.safe_load((ROOT / "compose.yaml").read_text())["include"] == ["docker/docker-compose.yml"]
    services = yaml.safe_load((ROOT / "docker" / "docker-compose.yml").read_text())["services"]
    command = services["mlflow"]["command"]
    assert (
        command[:2] == ["mlflow", "server"]
        and "--serve-artifacts" in command
        and "--artifacts-destination" in command
    )
    assert services["api"]["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert not any("model" in str(v) for v in services["api"].get("volumes", []))  # no host path to a model

    port = _free_port()
    argv = _server_argv(command, tmp_path, port)
    assert "0.0.0.0" not in argv and "--serve-artifacts" in argv
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path
    )
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if urllib.request.urlopen(f"{url}/health", timeout=3).status == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "mlflow server did not answer /health in 180 s"
            time.sleep(1)
        # register the champion's portable export through the server, as a training run with
        # MLFLOW_TRACKING_URI=http://localhost:5000 logs it
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        run = client.create_run(client.create_experiment("compose-check"))
        assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri
        client.log_artifact(
            run.info.run_id,
            str(design_run["home"] / "models/champion/model.json"),
            artifact_path=str(Path(PORTABLE_ARTIFACT).parent),
        )
        client.set_terminated(run.info.run_id)
        client.create_registered_model("compose_pd")
        version = client.create_model_version(
            "compose_pd", f"{run.info.artifact_uri}/portable", run.info.run_id
        )
        client.set_registered_model_alias("compose_pd", "champion", version.version)
        assert list((tmp_path / "artifacts").rglob("model.json")), (
            "the artifact did not land in the server's store"
        )
        # the API's model store, pointed at the server only, resolves and downloads the champion through it
        shutil.copy(design_run["home"] / "models/champion/model.json", tmp_path / "expected.json")
        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        store = ModelStore("compose_pd", "champion", 0.2)
        assert store.refresh(), store.last_error
        assert store.current.version == str(version.version) and store.current.run_id == run.info.run_id
        rows = pq.read_table(design_run["home"] / "data/processed/test.parquet").to_pandas().head(10)
        applications = applications_from_gold(rows)
        frame = to_features(applications, store.current.scorer.known_titles)
        answers = store.current.scorer.score(frame, explain=False)
        expected = PortableModel.load(tmp_path / "expected.json").predict_pd(pd.DataFrame(frame))
        assert [a["pd"] for a in answers] == pytest.approx(list(expected), rel=1e-4, abs=1e-6)
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
        try:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, 9)
            server.wait(timeout=10)
        log.close()


# --- the workflows, the design's modules, pytest --nbmake, make notebook -----------------------------------------


def _workflow(name: str) -> tuple[str, dict]:
    import yaml

    text = (ROOT / ".github" / "workflows" / name).read_text()
    doc = yaml.safe_load(text)
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return text, doc


def test_workflows_parse_run_the_readme_test_command_and_name_no_secret_in_clear():
    readme = (ROOT / "README.md").read_text()
    test_command = re.search(r"^(make test)\b", readme, re.M).group(1)
    ci_text, ci = _workflow("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    steps = ci["jobs"]["test"]["steps"]
    assert test_command in [s.get("run", "").strip() for s in steps]
    cached = "\n".join(
        str(s["with"]["path"]) for s in steps if s.get("uses", "").startswith("actions/cache@")
    )
    assert ".venv" in cached and "~/.m2" in cached and "~/.ivy2" in cached
    deploy_text, deploy = _workflow("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"] and deploy["on"]["push"]["tags"] == ["v*"]
    for job, target, condition in (
        ("staging", "staging", "refs/heads/main"),
        ("prod", "prod", "refs/tags/v"),
    ):
        runs = [s.get("run", "") for s in deploy["jobs"][job]["steps"]]
        assert (
            f"databricks bundle validate -t {target}" in runs
            and f"databricks bundle deploy -t {target}" in runs
        )
        assert condition in deploy["jobs"][job]["if"]
        assert any(
            s.get("uses", "").startswith("databricks/setup-cli@") for s in deploy["jobs"][job]["steps"]
        )
        env = deploy["jobs"][job]["env"]
        assert set(env) == {"DATABRICKS_HOST", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"}
        assert all(v == f"${{{{ secrets.{k} }}}}" for k, v in env.items())
    for text in (ci_text, deploy_text):  # nothing that looks like a credential, outside `${{ secrets.* }}`
        bare = re.sub(r"\$\{\{\s*secrets\.\w+\s*\}\}", "", text)
        assert not re.search(
            r"dapi[0-9a-f]{16,}|dose[0-9a-f]{16,}|https://[\w.-]+\.(cloud\.)?databricks\.com", bare
        )
        assert not re.search(r"(?i)(token|secret|password|client_id)[ \t]*[:=][ \t]*['\"]?[\w-]{8,}", bare)


def test_the_design_utils_and_api_are_the_package_own_functions():
    import src.api
    import src.utils.balancing
    import src.utils.spark
    from credit_risk import weights
    from credit_risk.runtime import spark

    assert src.utils.balancing.compute_class_weights is weights.compute_class_weights
    assert src.utils.balancing.add_weight_column is weights.add_weight_column
    assert src.utils.spark.get_spark is spark.get_spark
    assert callable(src.api.load_model) and callable(src.api.predict)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        src.api.nothing  # noqa: B018


def test_uvicorn_src_api_app_is_the_serving_app(monkeypatch, tmp_path):
    """`uvicorn src.api:app` gets `credit_risk.serving.app.create_app()`: the same routes as `credit-risk serve`."""
    import importlib

    import src.api
    from credit_risk.serving.app import create_app

    monkeypatch.setenv("CREDIT_RISK_HOME", str(tmp_path))
    api = importlib.reload(src.api)
    app = api.app
    assert app is api.app and app.title == create_app().title
    paths = {r.path for r in app.routes}
    assert {"/health", "/ready", "/predict", "/metrics"} <= paths and paths == {
        r.path for r in create_app().routes
    }
    # and the design's command starts it: /health answers, /ready says no champion in this empty project
    import urllib.error
    import urllib.request

    port = _free_port()
    env = {**own_store_env(), "CREDIT_RISK_HOME": str(tmp_path), "CREDIT_RISK_INFERENCE_LOG": ""}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "src.api:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                assert json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3)) == {
                    "status": "ok"
                }
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (
                    "uvicorn src.api:app did not start"
                )
                time.sleep(0.5)
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5)
        assert not_ready.value.code == 503
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_bare_pytest_nbmake_collects_the_twelve_notebooks():
    import tomllib

    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert ini["testpaths"] == ["tests", "notebooks"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", "--collect-only", "-q", "notebooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    collected = sorted(line.split("::")[0] for line in done.stdout.splitlines() if line.endswith(".ipynb"))
    assert collected == sorted(f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert len(collected) == 12, done.stdout[-2000:]


def test_make_notebook_starts_jupyterlab_on_localhost_over_the_notebooks():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(["make", "-n", "notebook"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.replace("\\\n", " ").splitlines()
    lab = next(line.split() for line in lines if "jupyter lab" in line)
    assert lab[0].endswith(".venv/bin/jupyter") and lab[1] == "lab"
    assert "--ip=127.0.0.1" in lab and "--ServerApp.root_dir=notebooks" in lab and "--no-browser" in lab
    # JupyterLab is a pinned dev dependency, in the hash-checked lock make install installs; nothing installs it ad hoc
    assert not [line for line in lines if "install" in line and "jupyterlab" in line], lines
    import tomllib

    from lock_helpers import lock_pins
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dev = {
        (req := Requirement(text)).name: str(req.specifier)
        for text in pyproject["project"]["optional-dependencies"]["dev"]
    }
    assert re.fullmatch(r"==\d+\.\d+\.\d+", dev["jupyterlab"]), dev
    assert lock_pins()["jupyterlab"] == dev["jupyterlab"][2:]

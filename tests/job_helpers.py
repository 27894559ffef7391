"""Running the real bundle's pipeline job as `make run` runs it (the CLI, in its own process), for the job tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL_MODELS_FILE = ROOT / "tests" / "small_models.env"


def read_settings(path: Path, separator: str = "=") -> dict[str, str]:
    """`name=value` lines (or `name==version` pins, with separator "=="), comments and blank lines aside, as a dict."""
    settings = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, sep, value = line.partition(separator)
            assert sep and name.strip(), f"{path.name}: not name{separator}value: {raw!r}"
            settings[name.strip()] = value.strip()
    return settings


# The small models of tests/small_models.env, and a looser calibration gate: on 3,000 generated loans the
# validation vintage holds a few hundred finished loans, mostly early defaults, where even the calibrated PD's
# cross-fitted ECE of a small model can exceed the bundle's 0.15 (the GBT's and MLP's Platt maps: 0.24-0.33).
# One fit per candidate (selection_folds=1): the time-ordered folds have their own test (tests/test_selection.py).
SMALL_MODELS = {**read_settings(SMALL_MODELS_FILE), "max_ece": "0.3", "selection_folds": "1"}


def own_store_env() -> dict[str, str]:
    """This process's environment without the MLflow URIs that an earlier test's mlflow.set_tracking_uri left in
    it: a child process then uses its own project home's store."""
    return {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}


def run_pipeline_job(
    home: Path, variables: dict[str, str], env: dict[str, str] | None = None, timeout: int = 1500
) -> subprocess.CompletedProcess:
    """`credit-risk bundle run credit_risk_pipeline -t local --var ...` with `home` as the project home."""
    command = [
        sys.executable,
        "-m",
        "credit_risk.cli",
        "bundle",
        "run",
        "credit_risk_pipeline",
        "-t",
        "local",
        "--root",
        str(ROOT),
        *[arg for k, v in variables.items() for arg in ("--var", f"{k}={v}")],
    ]
    return subprocess.run(
        command,
        env={**own_store_env(), **(env or {}), "CREDIT_RISK_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def succeeded_tasks(summary: str) -> list[str]:
    """The tasks a run's summary table (`JobRun.summary`, below its rule) lists as SUCCESS, in order."""
    lines = summary.splitlines()
    rows = [line.split() for line in lines[lines.index("-" * 78) + 1 :]]
    return [row[0] for row in rows if len(row) > 1 and row[1] == "SUCCESS"]

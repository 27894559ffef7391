"""Running the real bundle's pipeline job as `make run` runs it (the CLI, in its own process), for the job tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Model settings for tiny data, so a whole job run stays cheap (the bundle's defaults are for real volumes). The
# calibration gate too: on 3,000 generated loans the validation vintage holds a few hundred finished loans, mostly
# early defaults, and the small models' ECE there lands at 0.20-0.22 on Spark 4.0 against the bundle's 0.2.
SMALL_MODELS = {
    "rf_num_trees": "10",
    "gbt_max_iter": "10",
    "lr_max_iter": "30",
    "mlp_max_iter": "30",
    "segment_k_min": "3",
    "segment_k_max": "3",
    "max_ece": "0.3",
}


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

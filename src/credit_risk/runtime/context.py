"""Who is writing: job, task, run and git commit, recorded with every Delta commit and MLflow run."""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

# Set by the local job runner (and by job parameters on Databricks).
JOB_ENV = "CREDIT_RISK_JOB"
TASK_ENV = "CREDIT_RISK_TASK_KEY"
RUN_ENV = "CREDIT_RISK_RUN_ID"
GIT_ENV = "CREDIT_RISK_GIT_SHA"
HOME_ENV = "CREDIT_RISK_HOME"
JOB_RUN_ENV = (
    "CREDIT_RISK_MLFLOW_JOB_RUN"  # MLflow run id of the job run (the local runner sets it for its tasks)
)


def on_databricks() -> bool:
    """True inside a Databricks runtime (notebook, job or serverless)."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def project_home() -> Path:
    """The project folder: $CREDIT_RISK_HOME, else the nearest parent holding databricks.yml, else cwd."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).absolute()
    here = Path.cwd().absolute()
    for folder in (here, *here.parents):
        if (folder / "databricks.yml").exists():
            return folder
    return here


def git_sha() -> str:
    """The commit the code runs from ($CREDIT_RISK_GIT_SHA on clusters, where there is no .git)."""
    return os.environ.get(GIT_ENV) or _git_head()


@lru_cache(maxsize=1)
def _git_head() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_home(), capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def commit_metadata() -> dict[str, str]:
    """Job, task, run id and git sha of the current process."""
    return {
        "job": os.environ.get(JOB_ENV, "interactive"),
        "task": os.environ.get(TASK_ENV, "interactive"),
        "run_id": os.environ.get(RUN_ENV, ""),
        "git_sha": git_sha(),
    }

"""What every step shares: the bundle's local target, `--var`, the upstream check, one runner call per task.

The steps of one project share a run folder (`runs/credit_risk_pipeline/agents/`), so a task's values (the
Delta versions it wrote, the best training run) reach the next step as they reach the next task of a job run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from credit_risk.bundle.loader import Bundle
    from credit_risk.local.runner import TaskResult
    from credit_risk.runtime.config import Config

ROOT = Path(__file__).resolve().parents[2]  # the repository: databricks.yml and the notebooks
JOB = "credit_risk_pipeline"
TARGET = "local"
RUN_ID = "agents"

# The step each pipeline task belongs to, for the "run ... first" messages.
STEP_OF_TASK = {
    "bronze_ingest": "prep",
    "silver_clean": "prep",
    "gold_features": "prep",
    "validate_contracts": "prep",
    "split": "split",
    "train_supervised": "train_sup",
    "train_segments": "train_unsup",
    "evaluate": "evaluate",
    "validate": "register",
    "register": "register",
}

_shared: dict[str, Any] = {}  # the kernel kept across steps inside `one_kernel()`


class StepError(Exception):
    """A step that cannot run: printed as one line naming what is missing, exit status 2."""


def parse_args(step: str, argv: list[str] | None, doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m src.agents.{step}", description=doc)
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a bundle variable, as `credit-risk bundle run --var` does",
    )
    return parser.parse_args(argv)


def variables(pairs: list[str]) -> dict[str, str]:
    from credit_risk.cli import CliError
    from credit_risk.cli.bundle import _vars

    try:
        return _vars(pairs)
    except CliError as exc:
        raise StepError(str(exc)) from exc


def load_bundle(overrides: dict[str, str]) -> Bundle:
    """The bundle resolved for the local target with the overrides, validated as `bundle run` validates it."""
    from credit_risk.bundle.loader import BundleError
    from credit_risk.bundle.validate import validate_bundle

    try:
        return validate_bundle(str(ROOT), TARGET, overrides)
    except BundleError as exc:
        raise StepError(str(exc)) from exc


def config(bundle: Bundle) -> Config:
    """The typed configuration the tasks build from the same variables."""
    from credit_risk.runtime.config import load_config

    return load_config({k: v for k, v in bundle.variables.items() if isinstance(v, str | int | float)})


def home(bundle: Bundle) -> Path:
    from credit_risk.runtime.context import HOME_ENV

    return Path(os.environ.get(HOME_ENV) or bundle.root).absolute()


def run_dir(bundle: Bundle) -> Path:
    return home(bundle) / "runs" / JOB / RUN_ID


def task_values(bundle: Bundle, task: str) -> dict[str, Any]:
    f = run_dir(bundle) / "task_values" / f"{task}.json"
    return json.loads(f.read_text()) if f.exists() else {}


def table_exists(cfg: Config, name: str) -> bool:
    """A Delta table of the local lake (`schema.table`), by its transaction log: no Spark needed to ask."""
    schema, table = name.split(".")
    return (cfg.lake_path / cfg.catalog / f"{cfg.schema_prefix}{schema}" / table / "_delta_log").is_dir()


def require_table(cfg: Config, name: str, step: str) -> None:
    if not table_exists(cfg, name):
        raise StepError(f"no {name}: run `python -m src.agents.{step}` first")


def require_value(bundle: Bundle, task: str, key: str, what: str) -> Any:
    value = task_values(bundle, task).get(key)
    if value in (None, ""):
        raise StepError(f"no {what}: run `python -m src.agents.{STEP_OF_TASK[task]}` first")
    return value


@contextlib.contextmanager
def one_kernel() -> Iterator[None]:
    """Steps called inside share one notebook kernel (one Spark session), as the tasks of one job run do."""
    _shared["keep"] = True
    try:
        yield
    finally:
        kernel = _shared.pop("kernel", None)
        _shared.pop("keep", None)
        if kernel is not None:
            kernel.close()


def run_tasks(bundle: Bundle, tasks: list[str]) -> list[TaskResult]:
    """Each task with `LocalJobRunner.run(job, only=task)` in one kernel; stops at the first that fails."""
    from credit_risk.local.kernel import SharedKernel
    from credit_risk.local.runner import LocalJobRunner
    from credit_risk.runtime.context import HOME_ENV

    runner = LocalJobRunner(bundle, echo=lambda m: print(m, flush=True))
    kernel = _shared.get("kernel") or SharedKernel({**os.environ, HOME_ENV: str(home(bundle))})
    if _shared.get("keep"):
        _shared["kernel"] = kernel
    runner.kernel = kernel  # the runner then runs in it and leaves it open
    results = []
    try:
        for task in tasks:
            run = runner.run(JOB, only=task, run_dir=run_dir(bundle))
            result = next(r for r in run.results if r.task_key == task)
            results.append(result)
            if result.status != "SUCCESS":
                raise StepError(
                    f"task {task} {result.status.lower()}: {result.error} "
                    f"(notebook: {run.run_dir / 'notebooks' / (task + '.ipynb')})"
                )
    finally:
        if not _shared.get("keep"):
            kernel.close()
    return results


def report(bundle: Bundle, tasks: list[str], tables: list[str], files: list[Path]) -> None:
    """What the step wrote: each task's published values, the tables with their folders, the files."""
    cfg = config(bundle)
    for task in tasks:
        print(f"{task}: {json.dumps(task_values(bundle, task), default=str)}")
    for name in tables:
        schema, table = name.split(".")
        print(
            f"table  {cfg.catalog}.{cfg.schema_prefix}{schema}.{table}  "
            f"{cfg.lake_path / cfg.catalog / (cfg.schema_prefix + schema) / table}"
        )
    for path in files:
        print(f"file   {path}")


def main_of(step: str, doc: str, body: Callable[[Bundle], None], argv: list[str] | None) -> int:
    """Parse, run `body(bundle)`, turn a `StepError` into one line on stderr and exit status 2."""
    try:
        args = parse_args(step, argv, doc)
        body(load_bundle(variables(args.var)))
    except StepError as exc:
        print(f"python -m src.agents.{step}: error: {exc}", file=sys.stderr)
        return 2
    return 0

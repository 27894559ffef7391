"""Run a bundle job on this machine: its tasks in dependency order, notebooks on a real Jupyter kernel.

The notebook tasks of a job run share one kernel, so one Python process and one Spark session, as the
tasks of a run share a job cluster's driver (see `credit_risk.local.kernel`); each task still sees only
its own widgets: the job parameters plus its base_parameters. Task values travel through files under the
run folder (`runs/<job>/<run id>/` in the project home), where every executed notebook is saved with its
outputs. Tasks run one after another: a 2-core machine gains nothing from running two Spark jobs at once.
Jobs that name an MLflow experiment get one MLflow parent run per job run; the tasks' runs nest under it.
Python wheel tasks run the installed package's entry point and Spark Python tasks their file, each in its
own process. Condition tasks (`{{tasks.<key>.values.<name>}} == "true"`) and run-job tasks are honoured;
a run-job task's notebooks run in the same kernel.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from credit_risk.bundle.loader import Bundle, BundleError
from credit_risk.bundle.validate import task_order
from credit_risk.local.dbutils import RUN_DIR_ENV, WIDGETS_ENV
from credit_risk.local.kernel import SharedKernel
from credit_risk.runtime.context import GIT_ENV, HOME_ENV, JOB_ENV, JOB_RUN_ENV, RUN_ENV, TASK_ENV
from credit_risk.runtime.errors import TaskFailed, root_cause

VALUE_REF = re.compile(r"\{\{\s*tasks\.([a-zA-Z0-9_]+)\.values\.([a-zA-Z0-9_]+)\s*\}\}")
PARAM_REF = re.compile(r"\{\{\s*job\.parameters\.([a-zA-Z0-9_]+)\s*\}\}")
MAX_LOCAL_RETRY_WAIT_S = 2.0


@dataclass
class TaskResult:
    task_key: str
    status: str  # SUCCESS | FAILED | SKIPPED | EXCLUDED
    seconds: float = 0.0
    attempts: int = 0
    error: str = ""
    outcome: str | None = None  # condition tasks: "true" / "false"


@dataclass
class JobRun:
    job: str
    run_id: str
    run_dir: Path
    results: list[TaskResult] = field(default_factory=list)
    mlflow_run_id: str | None = None  # the parent run of the tasks' MLflow runs
    mlflow_tracking_uri: str = ""  # the store that parent run lives in

    @property
    def ok(self) -> bool:
        return all(r.status in {"SUCCESS", "SKIPPED", "EXCLUDED"} for r in self.results)

    def summary(self) -> str:
        lines = [
            f"job {self.job}, run {self.run_id} ({self.run_dir})",
            "",
            f"{'task':24} {'status':9} {'seconds':>8} {'tries':>5}  error",
            "-" * 78,
        ]
        for r in self.results:
            lines.append(f"{r.task_key:24} {r.status:9} {r.seconds:8.1f} {r.attempts:5d}  {r.error[:160]}")
        return "\n".join(lines)


def _task_values(run_dir: Path, task: str) -> dict[str, Any]:
    f = run_dir / "task_values" / f"{task}.json"
    return json.loads(f.read_text()) if f.exists() else {}


def _substitute(text: str, run_dir: Path, params: dict[str, Any] | None = None) -> str:
    """Dynamic value references: `{{tasks.<key>.values.<name>}}` and `{{job.parameters.<name>}}`."""
    text = VALUE_REF.sub(lambda m: str(_task_values(run_dir, m.group(1)).get(m.group(2), "")), text)
    return PARAM_REF.sub(lambda m: str((params or {}).get(m.group(1), "")), text)


def _run_process(argv: list[str], env: dict[str, str], timeout: int | None, log: Path) -> None:
    """A Python wheel / Spark Python task: its own process (as on a cluster's driver), output kept in the run."""
    import subprocess

    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        done = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout or None)
    if done.returncode != 0:
        text = log.read_text(errors="replace")
        cause = root_cause(None, text[-200_000:]) if text.strip() else "(no output)"
        raise RuntimeError(f"exit status {done.returncode}: {cause} (log: {log})")


def _wheel_entry_point(package: str, name: str) -> list[str]:
    """The command of a wheel's entry point, as Databricks resolves `python_wheel_task.entry_point`."""
    import sys
    from importlib.metadata import entry_points

    for ep in entry_points(group="console_scripts"):
        if ep.name == name and (
            ep.dist is None or ep.dist.name.replace("-", "_") == package.replace("-", "_")
        ):
            module, _, func = ep.value.partition(":")
            return [sys.executable, "-c", f"import sys; from {module} import {func} as f; sys.exit(f())"]
    raise BundleError(
        f"python_wheel_task: package {package} has no entry point {name!r} (is the project installed?)"
    )


def _condition(task: dict[str, Any], run_dir: Path) -> str:
    cond = task["condition_task"]
    left, right = _substitute(str(cond["left"]), run_dir), _substitute(str(cond["right"]), run_dir)
    ops = {"EQUAL_TO": left == right, "NOT_EQUAL": left != right}
    if cond["op"] in ops:
        return str(ops[cond["op"]]).lower()
    a, b = float(left), float(right)
    return str(
        {
            "GREATER_THAN": a > b,
            "GREATER_THAN_OR_EQUAL": a >= b,
            "LESS_THAN": a < b,
            "LESS_THAN_OR_EQUAL": a <= b,
        }[cond["op"]]
    ).lower()


def _error_text(exc: BaseException, jvm_logs: Path, since: float) -> str:
    """One line naming why a task failed: a pipeline task's own `TaskFailed` line, else the root cause read from
    the notebook cell's traceback or the exception (with the newest driver JVM log, should the JVM have died)."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename == TaskFailed.__name__ and evalue:
        return str(evalue).strip().splitlines()[0]
    text = None
    if ename is not None:  # nbclient's CellExecutionError: the cell's exception class, message and traceback
        text = "\n".join([f"{ename}: {evalue}", *(getattr(exc, "traceback", None) or [])])
    logs = [p for p in jvm_logs.glob("jvm-*.log") if p.stat().st_mtime >= since]
    newest = max(logs, key=lambda p: p.stat().st_mtime) if logs else None
    if type(exc).__name__ == "DeadKernelError":
        return "the notebook's Python process died (killed, or out of memory)"
    return root_cause(exc if text is None else None, text, jvm_log=newest or jvm_logs / "(no JVM log)")


class LocalJobRunner:
    """Runs the jobs of one resolved bundle."""

    def __init__(
        self, bundle: Bundle, echo: Callable[[str], object] = print, kernel_per_task: bool = False
    ) -> None:
        self.bundle = bundle
        self.echo = echo
        self.kernel_per_task = kernel_per_task
        self.kernel: SharedKernel | None = None  # the notebook tasks' kernel while a job runs

    def _home(self) -> str:
        """The project home the tasks write under (lake, MLflow store, run folders): the bundle's folder by default."""
        return os.environ.get(HOME_ENV) or str(self.bundle.root)

    def _base_env(self) -> dict[str, str]:
        """Every task's environment: this process's, with the project home."""
        return {**os.environ, HOME_ENV: self._home()}

    def _context(
        self, job_key: str, run: JobRun, task: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, str]:
        """What a task knows of its run: its widgets (job parameters, then base_parameters), keys, folder, MLflow parent."""
        widgets = {**params, **((task.get("notebook_task") or {}).get("base_parameters") or {})}
        context = {
            WIDGETS_ENV: json.dumps({k: str(v) for k, v in widgets.items()}),
            RUN_DIR_ENV: str(run.run_dir),
            TASK_ENV: task["task_key"],
            JOB_ENV: job_key,
            RUN_ENV: run.run_id,
        }
        if run.mlflow_run_id:
            context[JOB_RUN_ENV] = run.mlflow_run_id
        if params.get("git_sha"):
            context[GIT_ENV] = str(params["git_sha"])
        return context

    def run(
        self, job_key: str, only: str | None = None, from_task: str | None = None, run_dir: Path | None = None
    ) -> JobRun:
        """Run the job's selected tasks; a run-job task's job runs nested, in the same kernel."""
        if self.kernel is not None:
            return self._run(job_key, only, from_task, run_dir)
        self.kernel = SharedKernel(self._base_env(), per_task=self.kernel_per_task)
        try:
            return self._run(job_key, only, from_task, run_dir)
        finally:
            self.kernel.close()
            self.kernel = None

    def _run(self, job_key: str, only: str | None, from_task: str | None, run_dir: Path | None) -> JobRun:
        job = self.bundle.job(job_key)
        order = task_order(job, f"resources.jobs.{job_key}")
        for name, value in (("--only", only), ("--from", from_task)):
            if value and value not in order:
                raise BundleError(
                    f"{name} {value}: job {job_key} has no such task (tasks: {', '.join(order)})"
                )
        selected = {only} if only else set(order[order.index(from_task) :]) if from_task else set(order)
        run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        run = JobRun(job_key, run_id, run_dir or Path(self._home()) / "runs" / job_key / run_id)
        run.run_dir.mkdir(parents=True, exist_ok=True)
        params = {p["name"]: p.get("default", "") for p in job.get("parameters") or []}
        tasks = {t["task_key"]: t for t in job["tasks"]}
        status: dict[str, TaskResult] = {}
        self._open_mlflow_run(run, params)
        for key in order:
            task = tasks[key]
            if key not in selected:
                status[key] = TaskResult(key, "EXCLUDED")
                run.results.append(status[key])
                continue
            blocked = self._blocked(task, status, selected)
            if blocked:
                status[key] = TaskResult(key, "SKIPPED", error=blocked)
                self.echo(f"[{key}] skipped: {blocked}")
            else:
                status[key] = self._run_task(job_key, run, task, params)
            run.results.append(status[key])
        if run.mlflow_run_id:
            from credit_risk.runtime.tracking import close_job_run

            close_job_run(run.mlflow_tracking_uri, run.mlflow_run_id, run.ok)
        (run.run_dir / "summary.txt").write_text(run.summary() + "\n")
        return run

    def _open_mlflow_run(self, run: JobRun, params: dict[str, Any]) -> None:
        """The job run's MLflow parent run, for jobs that name an experiment; tasks nest their runs under it."""
        if "experiment_name" not in params:
            return
        from credit_risk.runtime.config import load_config
        from credit_risk.runtime.tracking import open_job_run

        home = os.environ.get(HOME_ENV)
        os.environ.setdefault(HOME_ENV, str(self.bundle.root))  # the tasks' home, so the same local store
        try:
            cfg = load_config(params)
            run.mlflow_tracking_uri = cfg.mlflow_tracking_uri
            run.mlflow_run_id = open_job_run(cfg, run.job, run.run_id)
        finally:
            if home is None:
                os.environ.pop(HOME_ENV, None)

    @staticmethod
    def _blocked(task: dict[str, Any], status: dict[str, TaskResult], selected: set[str]) -> str:
        for dep in task.get("depends_on") or []:
            upstream = status[dep["task_key"]]
            if upstream.status in {"FAILED", "SKIPPED"} and dep["task_key"] in selected:
                return f"upstream {dep['task_key']} {upstream.status.lower()}"
            if (
                "outcome" in dep
                and upstream.outcome is not None
                and upstream.outcome != str(dep["outcome"]).lower()
            ):
                return f"condition {dep['task_key']} was {upstream.outcome}"
        return ""

    def _run_task(
        self, job_key: str, run: JobRun, task: dict[str, Any], params: dict[str, Any]
    ) -> TaskResult:
        key = task["task_key"]
        context = self._context(job_key, run, task, params)
        result = TaskResult(key, "FAILED")
        retries = int(task.get("max_retries", 0) or 0)
        wait = min(MAX_LOCAL_RETRY_WAIT_S, int(task.get("min_retry_interval_millis", 0) or 0) / 1000)
        start, started_at = time.perf_counter(), time.time()
        for attempt in range(1, retries + 2):
            result.attempts = attempt
            self.echo(f"[{key}] started (attempt {attempt}/{retries + 1})")
            try:
                if "condition_task" in task:
                    result.outcome = _condition(task, run.run_dir)
                elif "run_job_task" in task:
                    inner = task["run_job_task"]["job_id"]
                    inner_key = (
                        inner.split(".")[2] if str(inner).startswith("${resources.jobs.") else str(inner)
                    )
                    nested = self.run(inner_key, run_dir=run.run_dir / f"job_{inner_key}")
                    if not nested.ok:
                        raise RuntimeError(f"job {inner_key} failed")
                elif "notebook_task" in task:
                    source = self.bundle.sources[("jobs", job_key)]
                    path = (source.parent / task["notebook_task"]["notebook_path"]).resolve()
                    assert self.kernel is not None
                    self.kernel.run_notebook(
                        path, context, task.get("timeout_seconds"), run.run_dir / "notebooks" / f"{key}.ipynb"
                    )
                elif "python_wheel_task" in task:
                    spec = task["python_wheel_task"]
                    argv = _wheel_entry_point(spec["package_name"], spec["entry_point"])
                    args = [_substitute(str(a), run.run_dir, params) for a in spec.get("parameters") or []]
                    args += [
                        f"--{k}={_substitute(str(v), run.run_dir, params)}"
                        for k, v in (spec.get("named_parameters") or {}).items()
                    ]
                    _run_process(
                        [*argv, *args],
                        {**self._base_env(), **context},
                        task.get("timeout_seconds"),
                        run.run_dir / "logs" / f"{key}.log",
                    )
                elif "spark_python_task" in task:
                    import sys

                    spec = task["spark_python_task"]
                    source = self.bundle.sources[("jobs", job_key)]
                    script = (source.parent / spec["python_file"]).resolve()
                    args = [_substitute(str(a), run.run_dir, params) for a in spec.get("parameters") or []]
                    _run_process(
                        [sys.executable, str(script), *args],
                        {**self._base_env(), **context},
                        task.get("timeout_seconds"),
                        run.run_dir / "logs" / f"{key}.log",
                    )
                else:
                    kinds = sorted(k for k in task if k.endswith("_task"))
                    raise BundleError(
                        f"task {key}: {kinds} does not run locally (notebook, python_wheel, "
                        "spark_python, condition and run_job tasks do)"
                    )
                result.status, result.error = "SUCCESS", ""
                break
            except BundleError:
                raise
            except Exception as exc:  # a task failure of any kind: recorded, retried, then reported
                result.error = _error_text(exc, Path(self._home()) / "logs", started_at)
                self.echo(f"[{key}] failed: {result.error}")
                if attempt <= retries:
                    time.sleep(wait)
        result.seconds = time.perf_counter() - start
        if result.status == "SUCCESS":
            extra = f" -> {result.outcome}" if result.outcome else ""
            self.echo(f"[{key}] succeeded in {result.seconds:.1f} s{extra}")
        return result

"""`credit-risk bundle`: validate the Databricks Asset Bundle offline and run its jobs on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from credit_risk.cli import CliError, add_bundle_arguments

if TYPE_CHECKING:
    from credit_risk.runtime.config import Config


def _vars(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--var {pair!r} must look like name=value")
        out[key] = value
    return out


def bundle_config(root: str | Path, target: str | None, overrides: dict[str, str]) -> Config:
    """The Config a job run of `target` with `overrides` gives its tasks (the bundle's resolved variables)."""
    from credit_risk.bundle.loader import BundleError
    from credit_risk.bundle.validate import validate_bundle
    from credit_risk.runtime.config import load_config

    try:
        bundle = validate_bundle(root, target, overrides)
    except BundleError as exc:
        raise CliError(str(exc)) from exc
    return load_config({k: v for k, v in bundle.variables.items() if isinstance(v, str | int | float)})


def register(sub: argparse._SubParsersAction) -> None:
    bundle = sub.add_parser("bundle", help="validate the bundle, run its jobs locally")
    cmds = bundle.add_subparsers(dest="bundle_command", metavar="SUBCOMMAND", required=True)
    val = cmds.add_parser("validate", help="check databricks.yml, its includes and resources offline")
    run = cmds.add_parser("run", help="run a job's tasks in dependency order on this machine")
    run.add_argument("job", help="job key, e.g. credit_risk_pipeline")
    group = run.add_mutually_exclusive_group()
    group.add_argument("--only", help="run just this task")
    group.add_argument("--from", dest="from_task", help="run this task and everything after it")
    run.add_argument(
        "--kernel-per-task",
        action="store_true",
        help="a fresh kernel (and Spark session) for every notebook task instead of one per job run",
    )
    for p in (val, run):
        add_bundle_arguments(
            p, "bundle target (default: the default target, local)", "override a bundle variable"
        )
    val.set_defaults(func=_validate)
    run.set_defaults(func=_run)


def _validate(args: argparse.Namespace) -> int:
    from credit_risk.bundle.loader import BundleError
    from credit_risk.bundle.validate import validate_bundle

    try:
        bundle = validate_bundle(args.root, args.target, _vars(args.var))
    except BundleError as exc:
        raise CliError(str(exc)) from exc
    counts = ", ".join(f"{len(v)} {k}" for k, v in sorted(bundle.resources.items()))
    print(
        f"bundle {bundle.name}, target {bundle.target}: valid ({counts}; targets: {', '.join(bundle.targets)})"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from credit_risk.bundle.loader import BundleError
    from credit_risk.bundle.validate import validate_bundle
    from credit_risk.local.runner import LocalJobRunner

    try:
        bundle = validate_bundle(args.root, args.target, _vars(args.var))
        runner = LocalJobRunner(
            bundle, echo=lambda m: print(m, flush=True), kernel_per_task=args.kernel_per_task
        )
        run = runner.run(args.job, args.only, args.from_task)
    except BundleError as exc:
        raise CliError(str(exc)) from exc
    print("\n" + run.summary())
    if run.ok:
        from credit_risk.runtime.config import load_config

        cfg = load_config({k: v for k, v in bundle.variables.items() if isinstance(v, str | int | float)})
        lake_vars = [v for v in args.var if v.partition("=")[0] in ("catalog", "schema_prefix", "lake_root")]
        lake_args = " ".join([f"-t {bundle.target}", *(f"--var {v}" for v in lake_vars)])
        print(
            f"\ntables:        {cfg.lake_path / cfg.catalog} (credit-risk lake history silver.loans {lake_args})"
            f"\nMLflow runs:   {cfg.mlflow_tracking_uri} (credit-risk ui -> http://127.0.0.1:5000)"
            f"\nnotebooks:     {run.run_dir / 'notebooks'}\ndata docs:     {cfg.home / 'gx'}"
            f"\nreports:       {cfg.home / 'reports'}"
        )
        if any(r.task_key == "register" and r.status == "SUCCESS" for r in run.results):
            print("\n" + "\n".join(champion_lines(cfg)))
    return 0 if run.ok else 1


def champion_lines(cfg: Config) -> list[str]:
    """The answer of a pipeline run, read back from its MLflow registry: the champion, its test metrics, how to open it."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from credit_risk.pipeline.register import CHAMPION, registered_name, training_run_id

    client = MlflowClient(tracking_uri=cfg.mlflow_tracking_uri, registry_uri=cfg.mlflow_registry_uri)
    name = registered_name(cfg)
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return [
            f"champion:      none: no version of {name} passed the promotion gates (see its refusal_reasons tag)",
            "open it:       credit-risk ui (MLflow, http://127.0.0.1:5000)",
        ]
    run_id = training_run_id(version)
    run = client.get_run(run_id)
    m, kind = run.data.metrics, run.data.tags.get("model_type", "")
    report = cfg.home / "reports" / "evaluation" / run_id / "evaluation.md"
    figures = ", ".join(
        f"{label} {m[key]:.4f}"
        for label, key in (("AUC", "test_auc"), ("KS", "test_ks"), ("ECE", "test_ece"))
        if key in m
    )
    return [
        f"champion:      {name} version {version.version} ({kind}), test {figures or 'metrics not logged'}",
        "open it:       credit-risk ui     (MLflow runs and registry, http://127.0.0.1:5000)",
        "               credit-risk serve  (the API on the champion, http://127.0.0.1:8000/docs)",
        f"               report: {report if report.exists() else report.parent.parent}",
    ]

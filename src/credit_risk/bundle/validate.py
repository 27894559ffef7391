"""Offline `bundle validate`: official resource types, paths, task graph, and variables in every target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from credit_risk.bundle.loader import Bundle, BundleError, load_bundle


def _resource_types() -> dict[str, Any]:
    """The databricks-bundles classes of the resource kinds this project uses (they reject unknown keys)."""
    from databricks.bundles.experiments import MlflowExperiment
    from databricks.bundles.jobs import Job
    from databricks.bundles.model_serving_endpoints import ModelServingEndpoint
    from databricks.bundles.registered_models import RegisteredModel
    from databricks.bundles.schemas import Schema
    from databricks.bundles.volumes import Volume

    return {
        "jobs": Job,
        "experiments": MlflowExperiment,
        "registered_models": RegisteredModel,
        "model_serving_endpoints": ModelServingEndpoint,
        "schemas": Schema,
        "volumes": Volume,
    }


def task_order(job: dict[str, Any], where: str = "job") -> list[str]:
    """Task keys in dependency order (stable: file order among ready tasks); errors name unknown deps and cycles."""
    tasks = {t["task_key"]: t for t in job.get("tasks") or []}
    deps = {k: [d["task_key"] for d in t.get("depends_on") or []] for k, t in tasks.items()}
    for key, needs in deps.items():
        for need in needs:
            if need not in tasks:
                raise BundleError(f"{where}.tasks[{key}].depends_on: unknown task {need!r}")
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(tasks):
        ready = [k for k in tasks if k not in done and all(d in done for d in deps[k])]
        if not ready:
            cycle = sorted(k for k in tasks if k not in done)
            raise BundleError(f"{where}.tasks: dependency cycle among {cycle}")
        for k in ready:
            order.append(k)
            done.add(k)
    return order


def _check_paths(bundle: Bundle, kind: str, key: str, body: dict[str, Any]) -> list[str]:
    source = bundle.sources.get((kind, key), bundle.root / "databricks.yml")
    errors = []
    for i, task in enumerate(body.get("tasks") or []):
        for field, path_key in (("notebook_task", "notebook_path"), ("spark_python_task", "python_file")):
            raw = (task.get(field) or {}).get(path_key)
            if raw and not raw.startswith(("/Workspace", "/Volumes", "dbfs:")):
                path = (source.parent / raw).resolve()
                if not path.exists():
                    errors.append(
                        f"{source}: resources.{kind}.{key}.tasks[{i}].{field}.{path_key}: {raw} does not exist"
                    )
    return errors


def validate_bundle(
    root: str | Path = ".", target: str | None = None, overrides: dict[str, str] | None = None
) -> Bundle:
    """Load and check a bundle; raises BundleError listing every problem found."""
    bundle = load_bundle(root, target, overrides)
    errors: list[str] = []
    types = _resource_types()
    for kind, items in bundle.resources.items():
        cls = types.get(kind)
        for key, body in items.items():
            where = (
                f"{bundle.sources.get((kind, key), bundle.root / 'databricks.yml')}: resources.{kind}.{key}"
            )
            if cls is None:
                errors.append(f"{where}: resource kind {kind!r} is not checked by this validator")
                continue
            try:
                cls.from_dict(body)
            except (ValueError, TypeError, KeyError) as exc:
                errors.append(f"{where}: {exc}")
            if kind == "jobs":
                errors += _check_paths(bundle, kind, key, body)
                try:
                    task_order(body, where)
                except BundleError as exc:
                    errors.append(str(exc))
    for name in bundle.targets:  # every variable must have a value in every target
        try:
            load_bundle(root, name, overrides)
        except BundleError as exc:
            errors.append(f"target {name}: {exc}")
    if errors:
        raise BundleError("bundle is not valid:\n  " + "\n  ".join(dict.fromkeys(errors)))
    return bundle

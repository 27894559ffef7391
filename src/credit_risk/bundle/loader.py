"""Load a Databricks Asset Bundle the way the Databricks CLI does: includes, a target, variables resolved.

Only what this project needs offline: `include` globs, `variables` with defaults, target overrides
(`variables`, `resources`, `mode`, `workspace`, `run_as`, `permissions`), `--var` overrides, and the
`${var.*}`, `${bundle.*}`, `${workspace.*}` references, and `${resources.<kind>.<key>.<field>}` of a field the
configuration sets (a schema's name); other `${resources.*}` references (ids that exist only after a deploy) are
left as they are. Development mode's name prefixes are not applied: locally every resource keeps its plain name. Every resource remembers the file it came from.
"""

from __future__ import annotations

import copy
import getpass
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REF = re.compile(r"\$\{([a-zA-Z0-9_.\-]+)\}")


class BundleError(ValueError):
    """A bundle that cannot be loaded or is not valid; the message names the file and key path."""


@dataclass
class Bundle:
    """A bundle resolved for one target."""

    root: Path
    name: str
    target: str
    variables: dict[str, Any]
    resources: dict[str, dict[str, dict[str, Any]]]
    sources: dict[tuple[str, str], Path] = field(default_factory=dict)  # (kind, key) -> defining file
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)  # variable declarations

    def job(self, key: str) -> dict[str, Any]:
        jobs = self.resources.get("jobs", {})
        if key not in jobs:
            raise BundleError(
                f"no job {key!r} in bundle {self.name} (jobs: {', '.join(sorted(jobs)) or 'none'})"
            )
        return jobs[key]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BundleError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path}: the top level must be a mapping")
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep merge as the CLI does for target overrides (maps merge, lists and scalars replace)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _git_commit(root: Path) -> str:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _resolve(value: Any, context: dict[str, Any], where: str) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, context, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, context, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    for _ in range(10):  # references may point at values that hold references
        refs = REF.findall(value)
        if not refs:
            return value
        for ref in refs:
            if ref.startswith("resources.") and ref not in context:
                return value  # a deploy-time value (an id): kept for the CLI
            if ref not in context:
                raise BundleError(f"{where}: unknown reference ${{{ref}}}")
            replacement = context[ref]
            if value == f"${{{ref}}}":
                value = replacement
                if not isinstance(value, str):
                    return value
            else:
                value = value.replace(f"${{{ref}}}", str(replacement))
    raise BundleError(f"{where}: references do not resolve (a cycle?)")


def load_bundle(
    root: str | Path = ".", target: str | None = None, overrides: dict[str, str] | None = None
) -> Bundle:
    """Read databricks.yml and its includes, pick a target, resolve every reference."""
    root = Path(root).absolute()
    main = root / "databricks.yml"
    if not main.exists():
        raise BundleError(f"{main}: not found (run from the project folder)")
    config = _read(main)
    resources: dict[str, dict[str, Any]] = {}
    sources: dict[tuple[str, str], Path] = {}
    declared = dict(config.get("variables") or {})
    targets = dict(config.get("targets") or {})
    files = [main] + [p for pattern in config.get("include") or [] for p in sorted(root.glob(pattern))]
    for path in files:
        data = config if path == main else _read(path)
        for kind, items in (data.get("resources") or {}).items():
            for key, body in (items or {}).items():
                if (kind, key) in sources:
                    raise BundleError(
                        f"{path}: resources.{kind}.{key} is already defined in {sources[kind, key]}"
                    )
                resources.setdefault(kind, {})[key] = body
                sources[kind, key] = path
        if path != main:
            for name, body in (data.get("variables") or {}).items():
                declared[name] = body
            for name, body in (data.get("targets") or {}).items():
                targets[name] = _merge(targets.get(name, {}), body or {})
    if not targets:
        raise BundleError(f"{main}: targets: at least one target is required")
    if target is None:
        target = next((t for t, body in targets.items() if (body or {}).get("default")), next(iter(targets)))
    if target not in targets:
        raise BundleError(f"{main}: targets: no target {target!r} (targets: {', '.join(targets)})")
    chosen = targets[target] or {}
    unknown = sorted(set(overrides or {}) - set(declared))
    if unknown:
        raise BundleError(f"--var {', '.join(unknown)}: not a variable of this bundle")
    for kind, items in (chosen.get("resources") or {}).items():
        for key, body in (items or {}).items():
            resources.setdefault(kind, {})[key] = _merge(resources.get(kind, {}).get(key, {}), body or {})
    user = getpass.getuser()
    context: dict[str, Any] = {
        "bundle.name": config.get("bundle", {}).get("name", root.name),
        "bundle.target": target,
        "bundle.git.commit": _git_commit(root),
        "workspace.current_user.short_name": user,
        "workspace.current_user.userName": f"{user}@localhost",
        "workspace.host": (chosen.get("workspace") or {}).get("host", ""),
    }
    context["workspace.root_path"] = _resolve(
        (chosen.get("workspace") or {}).get(
            "root_path", f"/Workspace/Users/{user}@localhost/.bundle/{context['bundle.name']}/{target}"
        ),
        context,
        f"targets.{target}.workspace.root_path",
    )
    context["workspace.file_path"] = f"{context['workspace.root_path']}/files"
    values: dict[str, Any] = {}
    for name, body in declared.items():
        body = body or {}
        if overrides and name in overrides:
            values[name] = overrides[name]
        elif name in (chosen.get("variables") or {}):
            values[name] = chosen["variables"][name]
        elif "default" in body:
            values[name] = body["default"]
        else:
            raise BundleError(f"{main}: variables.{name} has no default and target {target!r} sets no value")
    context.update({f"var.{k}": v for k, v in values.items()})
    resolved_vars = {k: _resolve(v, context, f"variables.{k}") for k, v in values.items()}
    context.update({f"var.{k}": v for k, v in resolved_vars.items()})
    for kind, items in resources.items():  # `${resources.<kind>.<key>.<field>}` of a field the config sets
        for key, body in items.items():
            context.update(
                {
                    f"resources.{kind}.{key}.{f}": v
                    for f, v in (body or {}).items()
                    if isinstance(v, str | int | float) and not isinstance(v, bool)
                }
            )
    resolved = {
        kind: {
            key: _resolve(body, context, f"{sources.get((kind, key), main).name}: resources.{kind}.{key}")
            for key, body in items.items()
        }
        for kind, items in resources.items()
    }
    return Bundle(root, context["bundle.name"], target, resolved_vars, resolved, sources, targets, declared)

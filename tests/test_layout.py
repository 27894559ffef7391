"""The package's layout, as a newcomer reads it: every job task leads by folder names alone to its pipeline
step, and the lake, the model, the serving API and the local emulation each have a room of their own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "credit_risk"
ROOMS = {
    "pipeline": "the job's steps, one module per task",
    "lake": "Delta tables: the interface and its delta-rs and delta-spark implementations",
    "model": "the portable model: exported at training, replayed by serving",
    "serving": "the FastAPI service",
    "local": "what stands in for a workspace on a laptop",
    "runtime": "configuration, Spark, dbutils, tracking, errors",
    "bundle": "the bundle's loader and offline validator",
    "synthetic": "the generated default data",
}
MAX_MODULE_LINES = 350


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def _job_tasks() -> list[dict]:
    tasks = []
    for path in (ROOT / "resources").glob("*.yml"):
        for job in ((yaml.safe_load(path.read_text()) or {}).get("resources", {}).get("jobs") or {}).values():
            tasks += job.get("tasks") or []
    return tasks


def test_each_room_is_a_package_that_says_what_it_holds():
    for room in ROOMS:
        init = PACKAGE / room / "__init__.py"
        assert init.is_file(), f"src/credit_risk/{room}/ is not a package"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init.relative_to(ROOT)} has no docstring"


def test_every_notebook_task_runs_one_step_of_the_pipeline_folder():
    """Task -> notebook -> `from credit_risk.pipeline.<step> import run_<...>` -> pipeline/<step>.py."""
    notebook_tasks = [t for t in _job_tasks() if "notebook_task" in t]
    assert len(notebook_tasks) >= 11
    for task in notebook_tasks:
        path = (ROOT / "resources" / task["notebook_task"]["notebook_path"]).resolve()
        code = "\n".join(
            c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"
        )
        steps = re.findall(r"from credit_risk\.pipeline\.(\w+) import (run_\w+)", code)
        assert len(steps) == 1, (
            f"{task['task_key']}: {path.name} should call one pipeline step, found {steps}"
        )
        module, function = steps[0]
        source = PACKAGE / "pipeline" / f"{module}.py"
        assert source.is_file(), f"{task['task_key']}: no src/credit_risk/pipeline/{module}.py"
        assert f"def {function}(" in source.read_text(), f"{function} is not defined in {source.name}"


def test_rooms_depend_downwards_only():
    """Training does not import serving; the steps, the lake and the model never import the local emulation."""
    for folder in ("pipeline", "model", "lake", "runtime"):
        for path in _modules(PACKAGE / folder):
            bad = {m for m in _imports(path) if m.startswith("credit_risk.serving")}
            assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
    for folder in ("pipeline", "model", "lake", "serving"):
        for path in _modules(PACKAGE / folder):
            bad = {m for m in _imports(path) if m.startswith("credit_risk.local")}
            assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_modules_are_small_and_table_names_have_one_home():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules(PACKAGE)
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"
    table = re.compile(r"""["'](bronze|silver|gold|monitoring)\.[a-z_]+["']""")
    written = {
        str(p.relative_to(ROOT)): table.findall(p.read_text())
        for p in _modules(PACKAGE)
        if p.name != "tables.py" and table.search(p.read_text())
    }
    assert not written, f"table names outside credit_risk/tables.py: {written}"


def test_seams_are_typed():
    """No `Any` (or no annotation) for a task's configuration, lake or dbutils anywhere under src/ (the design's doors too)."""
    loose = []
    for path in _modules(ROOT / "src"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for arg in node.args.args + node.args.kwonlyargs:
                    if arg.arg in {"cfg", "lake", "dbutils"}:
                        hint = ast.unparse(arg.annotation) if arg.annotation else ""
                        if hint in {"", "Any"}:
                            loose.append(
                                f"{path.relative_to(ROOT)}:{node.lineno} {node.name}({arg.arg}: {hint or '?'})"
                            )
    assert not loose, loose


def test_the_readme_is_a_short_start_and_links_the_rest():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 160
    assert readme.index("make run") < readme.index("make test") < 1500
    for doc in (
        "docs/architecture.md",
        "docs/lake-modes.md",
        "docs/operations.md",
        "docs/reliability.md",
        "AGENTS.md",
    ):
        assert doc in readme and (ROOT / doc).is_file(), doc
    for room in ROOMS:
        assert f"{room}/" in readme, f"the README's layout does not name {room}/"
